"""Validated keyword arguments and per-family instrument presets of the environments.

Every environment checks its keyword arguments here, in its constructor, so that a bad value fails at
``gymnasium.make`` with a message that names the argument, its constraint and units, the value
received, and, for names, a did-you-mean hint and the valid choices.

The per-family presets mirror the instrument settings that suit each sample family (2-D materials at
80 kV below the C knock-on threshold, the perovskite at 200 kV). They are defined here rather than
imported from ``stemtwin.scenarios``, because ``envs`` must not depend on ``scenarios``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from stemtwin.twin import Optics, ScanNoise, Spectrometer
from stemtwin.twin.detectors import DiffractionCamera
from stemtwin.twin.errors import ConfigurationError, UnknownNameError
from stemtwin.twin.samples import SAMPLE_BUILDERS
from stemtwin.twin.samples.ferroelectric import PEROVSKITE_A
from stemtwin.twin.samples.graphene import GRAPHENE_LATTICE_CONSTANT
from stemtwin.twin.samples.mos2_res2 import MOS2_LATTICE_CONSTANT
from stemtwin.twin.validation import (
    require_choice,
    require_int,
    require_positive,
    suggest,
)

__all__ = [
    "UnknownArgumentError",
    "FamilyPreset",
    "FAMILY_PRESETS",
    "SAMPLE_FAMILIES",
    "ENGINES",
    "SCAN_NOISE_SETTINGS",
    "PROBES",
    "check_unknown_kwargs",
    "check_sample",
    "check_sample_params",
    "check_engine",
    "check_scan_noise",
    "check_bool",
    "check_int",
    "check_optional_positive",
    "check_positive",
    "check_render_mode",
    "check_range_pair",
]

#: Sample families the environments can build.
SAMPLE_FAMILIES: tuple[str, ...] = tuple(SAMPLE_BUILDERS)
#: Signal engines.
ENGINES: tuple[str, ...] = ("fast", "abtem")
#: Scan-distortion settings: the typical instrument of PHYSICS.md, or an ideal scan.
SCAN_NOISE_SETTINGS: dict[str, Callable[[], ScanNoise]] = {"typical": ScanNoise.typical, "none": ScanNoise.none}
#: Probes of ``DiffractionExplore``: atomic-resolution (overlapping disks, CoM) or nano-beam (separate disks, strain).
PROBES: tuple[str, ...] = ("atomic", "nanobeam")


class UnknownArgumentError(UnknownNameError, TypeError):
    """An environment received a keyword argument it does not have.

    It is a :class:`TypeError`, as Python raises for an unexpected keyword, and a
    :class:`~stemtwin.twin.errors.UnknownNameError` (so also a ``ValueError``), so callers can catch
    either.
    """


@dataclass(frozen=True)
class FamilyPreset:
    """Instrument settings and defaults that suit one sample family.

    Parameters
    ----------
    sample_params
        Builder parameters of the default sample (``sample_params`` overrides them key by key).
    optics
        Atomic-resolution probe for the HAADF image, EELS and atomic-resolution 4D-STEM.
    spectrometer
        Spectrometer covering the family's edges.
    spectrum_dwell
        Default exposure of one spectrum [s].
    camera
        Pixelated camera for atomic-resolution 4D-STEM (overlapping disks).
    nanobeam_optics, nanobeam_camera
        Nano-beam probe whose disks do not overlap (α < λ/2d), and a camera fine enough to centre them.
    lattice_basis
        Real-space lattice vectors, columns a1 and a2 [Å] (the guess of the strain reference).
    d_spacing
        Largest in-plane lattice-plane spacing [Å], for the disk-overlap test.
    symmetry
        Rotational order of the local fragments, by site class (``"*"`` for every other class).
    fov
        Default field-of-view side of ``BeamDynamics`` [Å].
    eels_scalarizer, diffraction_scalarizer
        Default scalarizer (name, parameters) of each Explore modality.
    """

    sample_params: Mapping[str, Any]
    optics: Optics
    spectrometer: Spectrometer
    spectrum_dwell: float
    camera: DiffractionCamera
    nanobeam_optics: Optics
    nanobeam_camera: DiffractionCamera
    lattice_basis: np.ndarray
    d_spacing: float
    symmetry: Mapping[str, int]
    fov: float
    eels_scalarizer: tuple[str, Mapping[str, Any]]
    diffraction_scalarizer: tuple[str, Mapping[str, Any]] = ("com_magnitude", MappingProxyType({}))
    extra: Mapping[str, Any] = field(default_factory=dict)


def _hexagonal(a: float) -> np.ndarray:
    """Columns a1 = (a, 0) and a2 = (a/2, a√3/2) [Å]: the zigzag direction along x."""
    return np.array([[a, a / 2.0], [0.0, a * math.sqrt(3.0) / 2.0]])


def _camera(pixels: int, mrad_per_pixel: float) -> DiffractionCamera:
    """A camera of ``pixels`` with 150 µm pixels at the camera length giving ``mrad_per_pixel``."""
    return DiffractionCamera(pixels=pixels, pixel_size=150.0, camera_length=150.0 / mrad_per_pixel)


#: Per-family presets. The HAADF optics are the calibrated settings of the fast engine's shipped table.
FAMILY_PRESETS: Mapping[str, FamilyPreset] = MappingProxyType(
    {
        "graphene": FamilyPreset(
            sample_params=MappingProxyType(
                {"extent": (30.0, 30.0), "n_si_3fold": 2, "n_si_4fold": 2, "n_monovacancies": 2, "n_divacancies": 1}
            ),
            optics=Optics(energy=80e3, semiangle_cutoff=30.0),
            spectrometer=Spectrometer(),
            spectrum_dwell=0.5,
            camera=_camera(32, 3.0),  # ±48 mrad: BF 0–30, ABF 15–30, ADF 30–48 mrad
            nanobeam_optics=Optics(energy=80e3, semiangle_cutoff=3.0),  # α < λ/2d = 9.8 mrad
            nanobeam_camera=_camera(96, 0.6),  # ±28.8 mrad: the six {100} disks at 19.6 mrad
            lattice_basis=_hexagonal(GRAPHENE_LATTICE_CONSTANT),
            d_spacing=GRAPHENE_LATTICE_CONSTANT * math.sqrt(3.0) / 2.0,
            symmetry=MappingProxyType({"Si_4fold": 4, "*": 3}),
            fov=16.0,
            eels_scalarizer=("si_fourfold", MappingProxyType({})),
        ),
        "mos2-res2": FamilyPreset(
            sample_params=MappingProxyType({"extent": (30.0, 30.0), "re_fraction": 0.3, "w1": 1.0, "n_s_vacancies": 3}),
            optics=Optics(energy=80e3, semiangle_cutoff=30.0),
            spectrometer=Spectrometer(),
            spectrum_dwell=0.5,
            camera=_camera(32, 3.0),
            nanobeam_optics=Optics(energy=80e3, semiangle_cutoff=3.0),  # α < λ/2d = 7.6 mrad
            nanobeam_camera=_camera(96, 0.6),  # ±28.8 mrad: the six {100} disks at 15.3 mrad
            lattice_basis=_hexagonal(MOS2_LATTICE_CONSTANT),
            d_spacing=MOS2_LATTICE_CONSTANT * math.sqrt(3.0) / 2.0,
            symmetry=MappingProxyType({"*": 3}),
            fov=16.0,
            eels_scalarizer=("edge_signal", MappingProxyType({"signal_window": (227.0, 250.0), "fit_window": (195.0, 222.0)})),
        ),
        "ferroelectric": FamilyPreset(
            sample_params=MappingProxyType({"extent": (39.0, 39.0), "initial": "stripes"}),
            optics=Optics(energy=200e3, semiangle_cutoff=25.0),
            spectrometer=Spectrometer(offset=420.0, dispersion=0.1, channels=2048),
            spectrum_dwell=5.0,  # the slab is one unit cell thick
            camera=_camera(32, 2.5),  # ±40 mrad: BF 0–25, ABF 12.5–25, ADF 25–40 mrad
            nanobeam_optics=Optics(energy=200e3, semiangle_cutoff=2.0),  # α < λ/2d = 3.2 mrad
            nanobeam_camera=_camera(96, 0.3),  # ±14.4 mrad: {100} disks at 6.4 mrad, {110} at 9.1 mrad
            lattice_basis=np.array([[PEROVSKITE_A, 0.0], [0.0, PEROVSKITE_A]]),
            d_spacing=PEROVSKITE_A,
            symmetry=MappingProxyType({"*": 4}),
            fov=20.0,
            eels_scalarizer=("edge_signal", MappingProxyType({"signal_window": (455.0, 470.0), "fit_window": (425.0, 453.0)})),
        ),
    }
)


# ---------------------------------------------------------------------------------------------
# Validators
# ---------------------------------------------------------------------------------------------
def check_unknown_kwargs(env_id: str, unknown: Mapping[str, Any], valid: Iterable[str]) -> None:
    """Raise :class:`UnknownArgumentError` for the first unknown keyword, with a did-you-mean hint."""
    if not unknown:
        return
    valid = sorted(valid)
    name = sorted(unknown)[0]
    raise UnknownArgumentError(
        f"Unknown argument {name!r} for {env_id}.{suggest(name, valid)} Valid arguments: {valid}"
    )


def check_sample(sample: Any) -> str:
    """Return the sample family name, or raise with a did-you-mean hint."""
    return require_choice("sample", sample, SAMPLE_FAMILIES)


def check_sample_params(family: str, sample_params: Any) -> dict[str, Any]:
    """Merge ``sample_params`` over the family's defaults; unknown builder parameters fail here."""
    if sample_params is None:
        sample_params = {}
    if not isinstance(sample_params, Mapping):
        raise ConfigurationError(
            f"`sample_params` must be a dict of {family} builder parameters, got {type(sample_params).__name__}."
        )
    builder = SAMPLE_BUILDERS[family]
    accepted = [p for p in inspect.signature(builder).parameters if p != "rng"]
    for key in sample_params:
        if key == "rng":
            raise ConfigurationError(
                "`sample_params` must not hold 'rng': the environment seeds the sample from reset(seed=...)."
            )
        if key not in accepted:
            raise UnknownNameError(
                f"Unknown {family} builder parameter {key!r} in `sample_params`.{suggest(str(key), accepted)} "
                f"Available: {sorted(accepted)}"
            )
    return {**FAMILY_PRESETS[family].sample_params, **dict(sample_params)}


def check_engine(engine: Any) -> str:
    """Return the engine name, or raise with a did-you-mean hint."""
    return require_choice("engine", engine, ENGINES)


def check_scan_noise(scan_noise: Any) -> ScanNoise:
    """A :class:`ScanNoise` from ``"typical"`` or ``"none"`` (or a ScanNoise passed through)."""
    if isinstance(scan_noise, ScanNoise):
        return scan_noise
    return SCAN_NOISE_SETTINGS[require_choice("scan_noise", scan_noise, SCAN_NOISE_SETTINGS)]()


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool; otherwise raise naming the argument."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigurationError(f"`{name}` must be True or False, got {value!r}.")
    return bool(value)


def check_int(name: str, value: Any, minimum: int, maximum: int) -> int:
    """Return ``value`` as an int within [minimum, maximum]."""
    return require_int(name, value, minimum=minimum, maximum=maximum)


def check_positive(name: str, value: Any, units: str) -> float:
    """Return ``value`` as a finite float > 0."""
    return require_positive(name, value, units)


def check_optional_positive(name: str, value: Any, units: str) -> float | None:
    """Return None, or ``value`` as a finite float > 0."""
    return None if value is None else require_positive(name, value, units)


def check_range_pair(name: str, value: Any, units: str) -> tuple[float, float]:
    """A pair (low, high) of positive numbers with low <= high."""
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        raise ConfigurationError(f"`{name}` must be a pair (low, high) [{units}], got {value!r}.")
    low = require_positive(f"{name}[0]", value[0], units)
    high = require_positive(f"{name}[1]", value[1], units)
    if high < low:
        raise ConfigurationError(f"`{name}` must have low <= high [{units}], got {value!r}.")
    return (low, high)


def check_render_mode(render_mode: Any, modes: Iterable[str]) -> str | None:
    """Return ``render_mode`` (None or one of ``modes``), or raise with a did-you-mean hint."""
    if render_mode is None:
        return None
    return require_choice("render_mode", render_mode, modes)
