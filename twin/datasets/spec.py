"""Dataset specs: TOML descriptions of a labelled synthetic data set, loaded and validated field by field.

A spec says which samples to build, how to image them and which labels to keep. It is data only
(read with :mod:`tomllib`, never executed). Every field is checked on load; a bad one raises
:class:`DatasetSpecError` naming it::

    graphene-haadf.toml: [instrument].pixels: expected an integer in 8..4096, got 0 (int)

Layout (unknown keys are errors, with a did-you-mean hint)::

    [dataset]    name, description, samples_per_chunk (int, default 32: the chunk and batch size)
    [sample]     family ("graphene" | "mos2-res2" | "ferroelectric"),
                 frames_per_structure (int, default 8: consecutive sample indices that share one
                 built structure, each with its own field of view, dose, distortion and noise)
    [sample.params]  fixed builder keyword arguments (stemtwin.twin.samples.build_*)
    [sample.ranges]  builder arguments drawn uniformly from [low, high] per structure (integers
                 when both bounds are integers); a name may not be in both tables
    [instrument] engine ("fast" | "abtem"), modality ("haadf" | "abf" | "eels" | "4dstem"),
                 pixels (scan side), fov [Å] (scan side), energy [eV], semiangle_cutoff [mrad],
                 defocus [Å], Cs [Å] (family defaults), calibration ("abtem" | "zn", fast engine),
                 dose [e⁻/Å²] (number or [low, high], log-uniform),
                 dwell_time [s] (number or [low, high], log-uniform),
                 distortion (number or [low, high], uniform: multiplier of ScanNoise.typical(); 0 = ideal),
                 read_noise [counts] (number or [low, high], uniform);
                 eels: channels, offset [eV], dispersion [eV], energy_resolution [eV];
                 4dstem: output ("derived" | "patterns"), camera_pixels, camera_sampling [mrad/px]
    [labels]     store: a subset of ["atoms", "masks", "polarization", "noise_free", "distortion"]
                 ("polarization" only for the ferroelectric family); mask_radius [Å] (default 0.7)

Defaults that depend on the family (optics, spectrometer, camera, the cell size) are filled in on
load, so :meth:`DatasetSpec.to_dict` is the complete, canonical description of the data and
:meth:`DatasetSpec.fingerprint` changes whenever anything that changes the data does.

The cell of each structure is ``[sample.params].extent`` (or a range of it); by default it is
twice the field of view per axis, so that the fields of view of one structure differ. Each frame's
field-of-view origin is drawn uniformly inside the cell; the probe wraps periodically when the
scan distortions carry it over the cell edge.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import json
import math
import re
from collections.abc import Mapping
from functools import partial
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .. import toml_fields
from ..errors import ConfigurationError
from ..samples import SAMPLE_BUILDERS

__all__ = [
    "DatasetSpec",
    "DatasetSpecError",
    "FamilyDefaults",
    "FAMILY_DEFAULTS",
    "MODALITIES",
    "ENGINES",
    "LABELS",
    "SPEC_VERSION",
    "examples_dir",
    "list_examples",
    "load_spec",
    "parse_spec",
]

#: Version of the spec format (part of the canonical dict, so of the fingerprint).
SPEC_VERSION = 1
#: Signal engines.
ENGINES: tuple[str, ...] = ("fast", "abtem")
#: Recorded signals.
MODALITIES: tuple[str, ...] = ("haadf", "abf", "eels", "4dstem")
#: Label groups that can be stored.
LABELS: tuple[str, ...] = ("atoms", "masks", "polarization", "noise_free", "distortion")
#: 4D-STEM outputs: the full 4D array, or CoM and virtual BF/ADF images.
FOURD_OUTPUTS: tuple[str, ...] = ("derived", "patterns")
#: Largest scan side [pixels] (the microscope's limit).
MAX_PIXELS = 4096
#: Largest number of values of one sample's main array (keeps a chunk of 32 within a few GiB).
MAX_VALUES_PER_SAMPLE = 1 << 26
#: Smallest margin of a user-given cell over the field of view [Å]: builders round the cell to whole
#: unit cells (up to half a cell, < 3 Å for every family), and the field of view must stay inside it.
CELL_MARGIN = 4.0
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class DatasetSpecError(ConfigurationError):
    """A dataset spec that cannot be used; the message starts with ``FILE: [section].field:``."""


@dataclass(frozen=True)
class FamilyDefaults:
    """Instrument defaults that suit one sample family (the same settings as the envs' presets).

    Attributes
    ----------
    energy, semiangle_cutoff
        Probe [eV, mrad]; the HAADF calibration table ships weights for these.
    spectrometer
        ``channels``, ``offset`` [eV], ``dispersion`` [eV/channel] covering the family's edges.
    camera_pixels, camera_sampling
        Diffraction camera side [pixels] and angle per pixel [mrad] (overlapping disks, CoM).
    """

    energy: float
    semiangle_cutoff: float
    spectrometer: Mapping[str, float]
    camera_pixels: int
    camera_sampling: float


#: Per-family instrument defaults (kept in line with ``stemtwin.envs.config.FAMILY_PRESETS``; the
#: twin may not import the envs).
FAMILY_DEFAULTS: Mapping[str, FamilyDefaults] = MappingProxyType(
    {
        "graphene": FamilyDefaults(80e3, 30.0, MappingProxyType({"channels": 1024, "offset": 80.0, "dispersion": 0.25}), 32, 3.0),
        "mos2-res2": FamilyDefaults(80e3, 30.0, MappingProxyType({"channels": 1024, "offset": 120.0, "dispersion": 0.25}), 32, 3.0),
        "ferroelectric": FamilyDefaults(
            200e3, 25.0, MappingProxyType({"channels": 1024, "offset": 420.0, "dispersion": 0.1}), 32, 2.5
        ),
    }
)

#: Default dwell time per probe position [s] by modality.
DEFAULT_DWELL: Mapping[str, float] = MappingProxyType({"haadf": 4e-6, "abf": 4e-6, "eels": 2e-3, "4dstem": 1e-3})
#: Default dose [e⁻/Å²] by modality.
DEFAULT_DOSE: Mapping[str, float] = MappingProxyType({"haadf": 1e5, "abf": 1e5, "eels": 1e7, "4dstem": 1e6})


# -- the spec ------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class DatasetSpec:
    """A validated dataset spec (see the module docstring for the file layout).

    Scalar instrument settings that may vary are stored as ``(low, high)`` pairs (equal bounds for a
    fixed value). ``params`` and ``ranges`` hold the builder arguments (pairs for the ranges).
    """

    name: str
    description: str
    samples_per_chunk: int
    family: str
    frames_per_structure: int
    params: Mapping[str, Any]
    ranges: Mapping[str, tuple[Any, Any]]
    engine: str
    modality: str
    pixels: int
    fov: float
    energy: float
    semiangle_cutoff: float
    defocus: float
    Cs: float
    calibration: str
    dose: tuple[float, float]
    dwell_time: tuple[float, float]
    distortion: tuple[float, float]
    read_noise: tuple[float, float]
    spectrometer: Mapping[str, float] = field(default_factory=dict)
    output: str = "derived"
    camera_pixels: int = 32
    camera_sampling: float = 3.0
    labels: tuple[str, ...] = ()
    mask_radius: float = 0.7
    source: str = "<spec>"

    def __post_init__(self) -> None:
        for name in ("params", "ranges", "spectrometer"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle through plain dicts (read-only mapping views do not pickle), e.g. for Dask workers."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("params", "ranges", "spectrometer"):
            values[name] = dict(values[name])
        return (_rebuild_spec, (values,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DatasetSpec) and self.fingerprint() == other.fingerprint()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    # -- derived views -------------------------------------------------------------------------
    @property
    def extent_range(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Requested cell size per axis as ``((x_low, x_high), (y_low, y_high))`` [Å]."""
        value = self.ranges.get("extent", self.params.get("extent"))
        if value is None:
            side = 2.0 * self.fov
            return ((side, side), (side, side))
        if "extent" in self.ranges:  # the side of a square cell
            low, high = value
            return ((float(low), float(high)), (float(low), float(high)))
        if isinstance(value, (tuple, list)):
            return ((float(value[0]),) * 2, (float(value[1]),) * 2)
        return ((float(value),) * 2, (float(value),) * 2)

    def store(self, label: str) -> bool:
        """Whether the label group ``label`` is stored."""
        return label in self.labels

    def to_dict(self) -> dict[str, Any]:
        """The canonical spec: JSON-serialisable, defaults filled in, independent of the file's key order."""
        inst: dict[str, Any] = {
            "engine": self.engine,
            "modality": self.modality,
            "pixels": self.pixels,
            "fov": self.fov,
            "energy": self.energy,
            "semiangle_cutoff": self.semiangle_cutoff,
            "defocus": self.defocus,
            "Cs": self.Cs,
            "calibration": self.calibration,
            "dose": list(self.dose),
            "dwell_time": list(self.dwell_time),
            "distortion": list(self.distortion),
            "read_noise": list(self.read_noise),
        }
        if self.modality == "eels":
            inst.update({k: self.spectrometer[k] for k in sorted(self.spectrometer)})
        if self.modality == "4dstem":
            inst.update({"output": self.output, "camera_pixels": self.camera_pixels, "camera_sampling": self.camera_sampling})
        return {
            "spec_version": SPEC_VERSION,
            "dataset": {"name": self.name, "description": self.description, "samples_per_chunk": self.samples_per_chunk},
            "sample": {
                "family": self.family,
                "frames_per_structure": self.frames_per_structure,
                "params": {k: toml_fields.plain(self.params[k]) for k in sorted(self.params)},
                "ranges": {k: toml_fields.plain(self.ranges[k]) for k in sorted(self.ranges)},
            },
            "instrument": inst,
            "labels": {"store": sorted(self.labels), "mask_radius": self.mask_radius},
        }

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the canonical JSON of :meth:`to_dict`: the same spec gives the same value."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
        return hashlib.sha256(text.encode("ascii")).hexdigest()


def _rebuild_spec(values: dict[str, Any]) -> DatasetSpec:
    return DatasetSpec(**values)


# -- examples ------------------------------------------------------------------------------------------
def examples_dir() -> Path:
    """Folder of the shipped example specs."""
    return Path(str(resources.files("stemtwin.twin.datasets") / "examples"))


def list_examples() -> dict[str, Path]:
    """Shipped example spec names → files, sorted by name."""
    return {p.stem: p for p in sorted(examples_dir().glob("*.toml"))}


def load_spec(path: str | Path) -> DatasetSpec:
    """Load and validate a spec file, or a shipped example by name (:func:`list_examples`).

    Raises
    ------
    DatasetSpecError
        Unknown name, unreadable file, bad TOML or a bad field.
    """
    data, p = toml_fields.read_named_toml(DatasetSpecError, path, list_examples(), "dataset spec")
    return parse_spec(data, source=str(p))


# -- field checks --------------------------------------------------------------------------------------
_fail = partial(toml_fields.fail, DatasetSpecError)
_got = toml_fields.got
_str = partial(toml_fields.check_str, DatasetSpecError)
_int = partial(toml_fields.check_int, DatasetSpecError)
_table = partial(toml_fields.check_table, DatasetSpecError)
_keys = partial(toml_fields.check_keys, DatasetSpecError)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _number(source: str, where: str, value: Any, units: str, *, low: float = -math.inf, positive: bool = False) -> float:
    ok = _is_number(value) and (value > low if positive else value >= low)
    if not ok:
        bound = f"> {low:g}" if positive else (f">= {low:g}" if low > -math.inf else "finite")
        raise _fail(source, where, f"expected a number {bound} [{units}], got {_got(value)}")
    return float(value)


def _range(source: str, where: str, value: Any, units: str, *, low: float, positive: bool) -> tuple[float, float]:
    """A number (fixed) or a pair [low, high] → (low, high)."""
    if isinstance(value, list):
        if len(value) != 2:
            raise _fail(source, where, f"expected a number or a pair [low, high] [{units}], got {_got(value)}")
        a = _number(source, f"{where}[0]", value[0], units, low=low, positive=positive)
        b = _number(source, f"{where}[1]", value[1], units, low=low, positive=positive)
        if b < a:
            raise _fail(source, where, f"expected low <= high [{units}], got {value!r}")
        return (a, b)
    x = _number(source, where, value, units, low=low, positive=positive)
    return (x, x)


_SECTIONS: Mapping[str, tuple[str, ...]] = {
    "dataset": ("name", "description", "samples_per_chunk"),
    "sample": ("family", "frames_per_structure", "params", "ranges"),
    "instrument": (
        "engine", "modality", "pixels", "fov", "energy", "semiangle_cutoff", "defocus", "Cs", "calibration",
        "dose", "dwell_time", "distortion", "read_noise",
        "channels", "offset", "dispersion", "energy_resolution",
        "output", "camera_pixels", "camera_sampling",
    ),
    "labels": ("store", "mask_radius"),
}
_EELS_ONLY = ("channels", "offset", "dispersion", "energy_resolution")
_FOURD_ONLY = ("output", "camera_pixels", "camera_sampling")
#: Builder arguments a spec may not set: the generator supplies the rng.
_RESERVED_PARAMS = ("rng",)


def _builder_params(family: str) -> dict[str, inspect.Parameter]:
    sig = inspect.signature(SAMPLE_BUILDERS[family])
    return {n: p for n, p in sig.parameters.items() if n not in _RESERVED_PARAMS}


def _param_value(source: str, where: str, value: Any) -> Any:
    """A fixed builder argument: number, string, bool or a list of numbers (→ tuple)."""
    if isinstance(value, list):
        if not value or not all(_is_number(v) for v in value):
            raise _fail(source, where, f"expected a number, string, boolean or a list of numbers, got {_got(value)}")
        return tuple(value)
    if isinstance(value, (str, bool)) or _is_number(value):
        return value
    raise _fail(source, where, f"expected a number, string, boolean or a list of numbers, got {_got(value)}")


def parse_spec(data: Mapping[str, Any], source: str = "<spec>") -> DatasetSpec:
    """Validate parsed TOML and build a :class:`DatasetSpec` (see the module docstring for the layout).

    Raises
    ------
    DatasetSpecError
        ``FILE: [section].field: expected …, got …`` for the first bad field.
    """
    if not isinstance(data, Mapping):
        raise _fail(source, "top level", f"expected a table, got {_got(data)}")
    _keys(source, "top level", data, _SECTIONS)
    for section in ("dataset", "sample", "instrument"):
        if section not in data:
            raise _fail(source, f"[{section}]", "missing section")
    tables = {s: _table(source, f"[{s}]", data.get(s, {})) for s in _SECTIONS}

    # [dataset]
    head = tables["dataset"]
    _keys(source, "dataset", head, _SECTIONS["dataset"])
    if "name" not in head:
        raise _fail(source, "[dataset].name", "missing field")
    name = _str(source, "[dataset].name", head["name"])
    if not _NAME.match(name):
        raise _fail(source, "[dataset].name", f"expected lower-case letters, digits, '.', '_' or '-', got {name!r}")
    description = head.get("description", "")
    if not isinstance(description, str):
        raise _fail(source, "[dataset].description", f"expected a string, got {_got(description)}")
    per_chunk = _int(source, "[dataset].samples_per_chunk", head.get("samples_per_chunk", 32), 1, 65536)

    # [sample]
    sample = tables["sample"]
    _keys(source, "sample", sample, _SECTIONS["sample"])
    if "family" not in sample:
        raise _fail(source, "[sample].family", "missing field")
    family = _str(source, "[sample].family", sample["family"], SAMPLE_BUILDERS)
    frames = _int(source, "[sample].frames_per_structure", sample.get("frames_per_structure", 8), 1, 1_000_000)
    accepted = _builder_params(family)
    params: dict[str, Any] = {}
    for key, value in _table(source, "[sample.params]", sample.get("params", {})).items():
        if key not in accepted:
            hint = difflib.get_close_matches(key, list(accepted), n=1, cutoff=0.5)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise _fail(source, f"[sample.params].{key}", f"unknown {family} builder parameter{extra}; expected one of {sorted(accepted)}")
        params[key] = _param_value(source, f"[sample.params].{key}", value)
    ranges: dict[str, tuple[Any, Any]] = {}
    for key, value in _table(source, "[sample.ranges]", sample.get("ranges", {})).items():
        where = f"[sample.ranges].{key}"
        if key not in accepted:
            hint = difflib.get_close_matches(key, list(accepted), n=1, cutoff=0.5)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise _fail(source, where, f"unknown {family} builder parameter{extra}; expected one of {sorted(accepted)}")
        if key in params:
            raise _fail(source, where, f"{key!r} is also fixed in [sample.params]; give it in one table only")
        if not isinstance(value, list) or len(value) != 2 or not all(_is_number(v) for v in value):
            raise _fail(source, where, f"expected a pair of numbers [low, high], got {_got(value)}")
        if value[1] < value[0]:
            raise _fail(source, where, f"expected low <= high, got {value!r}")
        if all(isinstance(v, int) for v in value):
            ranges[key] = (int(value[0]), int(value[1]))
        else:
            ranges[key] = (float(value[0]), float(value[1]))

    # [instrument]
    inst = tables["instrument"]
    _keys(source, "instrument", inst, _SECTIONS["instrument"])
    for required in ("modality", "pixels", "fov"):
        if required not in inst:
            raise _fail(source, f"[instrument].{required}", "missing field")
    engine = _str(source, "[instrument].engine", inst.get("engine", "fast"), ENGINES)
    modality = _str(source, "[instrument].modality", inst["modality"], MODALITIES)
    if modality == "abf" and engine == "fast":
        raise _fail(source, "[instrument].modality", "ABF needs engine = \"abtem\" (the fast engine models dark-field imaging only)")
    for key in _EELS_ONLY:
        if key in inst and modality != "eels":
            raise _fail(source, f"[instrument].{key}", f"only eels specs have this field, not {modality!r}")
    for key in _FOURD_ONLY:
        if key in inst and modality != "4dstem":
            raise _fail(source, f"[instrument].{key}", f"only 4dstem specs have this field, not {modality!r}")
    if "calibration" in inst and engine != "fast":
        raise _fail(source, "[instrument].calibration", "only the fast engine has element calibrations")
    pixels = _int(source, "[instrument].pixels", inst["pixels"], 8, MAX_PIXELS)
    fov = _number(source, "[instrument].fov", inst["fov"], "Å", low=0.0, positive=True)
    defaults = FAMILY_DEFAULTS[family]
    energy = _number(source, "[instrument].energy", inst.get("energy", defaults.energy), "eV", low=0.0, positive=True)
    semiangle = _number(
        source, "[instrument].semiangle_cutoff", inst.get("semiangle_cutoff", defaults.semiangle_cutoff), "mrad", low=0.0, positive=True
    )
    defocus = _number(source, "[instrument].defocus", inst.get("defocus", 0.0), "Å")
    cs = _number(source, "[instrument].Cs", inst.get("Cs", 0.0), "Å")
    calibration = _str(source, "[instrument].calibration", inst.get("calibration", "abtem"), ("abtem", "zn"))
    dose = _range(source, "[instrument].dose", inst.get("dose", DEFAULT_DOSE[modality]), "e⁻/Å²", low=0.0, positive=True)
    dwell = _range(source, "[instrument].dwell_time", inst.get("dwell_time", DEFAULT_DWELL[modality]), "s", low=0.0, positive=True)
    distortion = _range(source, "[instrument].distortion", inst.get("distortion", 0.0), "× typical", low=0.0, positive=False)
    if distortion[1] > 10.0:
        raise _fail(source, "[instrument].distortion", f"expected multipliers of ScanNoise.typical() within 0..10, got {inst['distortion']!r}")
    read_noise = _range(source, "[instrument].read_noise", inst.get("read_noise", 0.0), "counts", low=0.0, positive=False)
    spectrometer: dict[str, float] = {}
    output, camera_pixels, camera_sampling = "derived", defaults.camera_pixels, defaults.camera_sampling
    if modality == "eels":
        spectrometer = {
            "channels": _int(source, "[instrument].channels", inst.get("channels", defaults.spectrometer["channels"]), 1, 16384),
            "offset": _number(source, "[instrument].offset", inst.get("offset", defaults.spectrometer["offset"]), "eV"),
            "dispersion": _number(
                source, "[instrument].dispersion", inst.get("dispersion", defaults.spectrometer["dispersion"]), "eV", low=0.0, positive=True
            ),
            "energy_resolution": _number(
                source, "[instrument].energy_resolution", inst.get("energy_resolution", 0.35), "eV", low=0.0, positive=True
            ),
        }
    if modality == "4dstem":
        output = _str(source, "[instrument].output", inst.get("output", "derived"), FOURD_OUTPUTS)
        camera_pixels = _int(source, "[instrument].camera_pixels", inst.get("camera_pixels", camera_pixels), 8, 1024)
        if camera_pixels % 2:
            raise _fail(source, "[instrument].camera_pixels", f"expected an even number (the beam sits on the central pixel), got {camera_pixels}")
        camera_sampling = _number(
            source, "[instrument].camera_sampling", inst.get("camera_sampling", camera_sampling), "mrad/px", low=0.0, positive=True
        )
        if semiangle >= camera_pixels / 2 * camera_sampling:
            raise _fail(
                source,
                "[instrument].camera_sampling",
                f"expected a camera whose edge ({camera_pixels // 2} × {camera_sampling:g} mrad) lies beyond the "
                f"bright-field disk ({semiangle:g} mrad), got {camera_sampling!r}",
            )
    per_sample = pixels * pixels * {
        "eels": spectrometer.get("channels", 1),
        "4dstem": camera_pixels**2 if output == "patterns" else 1,
    }.get(modality, 1)
    if per_sample > MAX_VALUES_PER_SAMPLE:
        raise _fail(
            source, "[instrument].pixels", f"expected at most {MAX_VALUES_PER_SAMPLE:,} values per sample, got {per_sample:,} for {pixels}² pixels"
        )

    # the cell must hold the field of view
    extent_value = ranges.get("extent", params.get("extent"))
    if extent_value is not None:
        where = "[sample.ranges].extent" if "extent" in ranges else "[sample.params].extent"
        values = list(extent_value) if isinstance(extent_value, (tuple, list)) else [extent_value]
        if "extent" not in ranges and len(values) not in (1, 2):
            raise _fail(source, where, f"expected a number or a pair [x, y] [Å], got {extent_value!r}")
        if min(values) < fov + CELL_MARGIN:
            raise _fail(
                source, where, f"expected a cell of at least fov + {CELL_MARGIN:g} Å = {fov + CELL_MARGIN:g} Å per axis, got {extent_value!r}"
            )
    elif engine == "abtem":
        raise _fail(
            source, "[sample.params].extent", "the abtem engine simulates the whole cell: set the cell size explicitly (fov + a few Å)"
        )

    # [labels]
    labels_table = tables["labels"]
    _keys(source, "labels", labels_table, _SECTIONS["labels"])
    store = labels_table.get("store", [])
    if not isinstance(store, list):
        raise _fail(source, "[labels].store", f"expected a list of label names from {list(LABELS)}, got {_got(store)}")
    for i, label in enumerate(store):
        _str(source, f"[labels].store[{i}]", label, LABELS)
    if len(set(store)) != len(store):
        raise _fail(source, "[labels].store", f"expected distinct label names, got {store!r}")
    if "polarization" in store and family != "ferroelectric":
        raise _fail(source, "[labels].store", f"'polarization' is a label of the ferroelectric family only, not {family!r}")
    mask_radius = _number(source, "[labels].mask_radius", labels_table.get("mask_radius", 0.7), "Å", low=0.0, positive=True)
    if mask_radius > 3.0:
        raise _fail(source, "[labels].mask_radius", f"expected a radius within (0, 3] [Å], got {mask_radius!r}")

    return DatasetSpec(
        name=name,
        description=description.strip(),
        samples_per_chunk=per_chunk,
        family=family,
        frames_per_structure=frames,
        params=MappingProxyType(params),
        ranges=MappingProxyType(ranges),
        engine=engine,
        modality=modality,
        pixels=pixels,
        fov=fov,
        energy=energy,
        semiangle_cutoff=semiangle,
        defocus=defocus,
        Cs=cs,
        calibration=calibration,
        dose=dose,
        dwell_time=dwell,
        distortion=distortion,
        read_noise=read_noise,
        spectrometer=MappingProxyType(spectrometer),
        output=output,
        camera_pixels=camera_pixels,
        camera_sampling=camera_sampling,
        labels=tuple(label for label in LABELS if label in store),
        mask_radius=mask_radius,
        source=source,
    )
