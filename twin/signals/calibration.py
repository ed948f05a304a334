"""Per-element HAADF column weights for the fast engine, calibrated against abTEM.

For each element, optics and detector, abTEM PRISM scans one isolated atom in a periodic box.
The integral of that image over the cell is the atom's detector cross-section ``weight`` [Å²],
and ``blur`` [Å] is the Gaussian object width that makes the fast engine's image of the atom
match abTEM's in a least-squares sense (:mod:`.incoherent`).

Why not Z^n: at 80 kV and 70–200 mrad abTEM gives a Re/Mo column ratio of 1.9 where Z^1.7
predicts 2.7 (PHYSICS.md), so the fast engine uses calibrated weights. Z^n is only the documented
fallback (``method="zn"``) for elements or settings that have not been calibrated.

Lattice context: in a crystal, channelling and the neighbours' tails change a column's contrast,
so isolated atoms are not enough everywhere. On Mo(1−x)Re(x)S2, isolated-atom weights give a Re/Mo
column ratio of 1.93 where abTEM gives 2.14. For sample families listed in
:data:`LATTICE_REFERENCES`, the weights are therefore fitted by linear least squares to an abTEM
image of a fixed reference cell of that family (the blurs stay those of the isolated atoms). The
test compares with abTEM on a *different* cell of the family.

Results are looked up in this order: the table shipped with the package
(``twin/data/haadf_calibration.json``, made by :func:`write_shipped_table`), the user cache, then a
fresh abTEM calculation (seconds per element; about 20 s for a lattice reference), which is stored
in the cache.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from collections.abc import Callable

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers
from scipy.optimize import minimize_scalar

from ..cache import cache_key, cached_json
from ..detectors import AnnularDetector, HAADFDetector
from ..errors import CalibrationError
from ..optics import Optics
from ..samples.sample import Sample, validate_element
from ..validation import require_choice
from .incoherent import incoherent_image

__all__ = [
    "ElementCalibration",
    "LATTICE_REFERENCES",
    "calibrate_on_lattice",
    "calibrate_element",
    "element_calibrations",
    "zn_calibration",
    "write_shipped_table",
    "CALIBRATION_METHODS",
    "ZN_EXPONENT",
]

#: Methods for obtaining the fast engine's per-element weights.
CALIBRATION_METHODS = ("abtem", "zn")
#: Bumped when the calibration procedure changes, which invalidates cached and shipped entries.
CALIBRATION_VERSION = 1
#: Side of the periodic box around the isolated atom [Å].
CALIBRATION_CELL = 10.0
#: Scan step of the calibration image [Å].
CALIBRATION_SCAN_STEP = 0.1

#: Sample families whose weights are fitted on a reference lattice, and how to build that cell.
def _mos2_res2_reference() -> Sample:
    from ..samples.mos2_res2 import build_mos2_res2

    return build_mos2_res2((19.0, 16.4), re_fraction=0.3, rng=0)


LATTICE_REFERENCES: dict[str, Callable[[], Sample]] = {"mos2-res2": _mos2_res2_reference}

#: Exponent of the Z^n fallback, the usual default (PHYSICS.md: n = 1.4–2.0, 1.7 typical).
ZN_EXPONENT = 1.7
#: Cross-section of C [Å²] anchoring the Z^n fallback, ``w = ZN_CARBON_WEIGHT (Z/6)^n``.
#: Measured here with abTEM for one C atom at 80 kV, 30 mrad, HAADF 70–200 mrad (see the shipped table).
ZN_CARBON_WEIGHT = 6.4e-4
#: Object blur of the Z^n fallback [Å], the value calibrated for C at 80 kV.
ZN_BLUR = 0.10


@dataclass(frozen=True)
class ElementCalibration:
    """Fast-engine parameters of one element for one optics and detector.

    Parameters
    ----------
    element
        Chemical symbol.
    weight
        Detector cross-section of one atom [Å²]: the image integrated over probe positions.
    blur
        Gaussian object width [Å].
    source
        ``"abtem"`` (computed or cached), ``"shipped"`` (from the package table) or ``"zn"``.
    context
        ``"isolated"`` (one atom in vacuum) or the sample family whose reference lattice the
        weight was fitted on.
    """

    element: str
    weight: float
    blur: float
    source: str
    context: str = "isolated"


def _settings(optics: Optics, detector: AnnularDetector) -> dict[str, float]:
    return {
        "energy": float(optics.energy),
        "semiangle_cutoff": float(optics.semiangle_cutoff),
        "defocus": float(optics.defocus),
        "Cs": float(optics.Cs),
        "inner": float(detector.inner),
        "outer": float(detector.outer),
    }


def zn_calibration(element: str, exponent: float = ZN_EXPONENT) -> ElementCalibration:
    """The Z^n fallback: ``w = ZN_CARBON_WEIGHT (Z/6)^n`` and ``blur = ZN_BLUR``."""
    z = atomic_numbers[validate_element(element)]
    return ElementCalibration(element, ZN_CARBON_WEIGHT * (z / 6.0) ** exponent, ZN_BLUR, "zn")


def calibrate_element(element: str, optics: Optics, detector: AnnularDetector) -> ElementCalibration:
    """Calibrate one element against abTEM (a PRISM scan of an isolated atom; seconds).

    Raises
    ------
    CalibrationError
        If the abTEM image carries no signal (for example a detector beyond the simulated angles).
    """
    from .abtem_engine import abtem_scan_image

    validate_element(element)
    length = CALIBRATION_CELL
    atoms = Atoms(element, positions=[(length / 2, length / 2, 2.0)], cell=[length, length, 4.0], pbc=True)
    sample = Sample.from_atoms(atoms, name=f"calibration-{element}")
    n = int(round(length / CALIBRATION_SCAN_STEP))
    gpts = (n, n)
    sampling = (length / n, length / n)
    reference = abtem_scan_image(sample, optics, detector, gpts, interpolation=1)
    weight = float(reference.sum() * sampling[0] * sampling[1])
    if not math.isfinite(weight) or weight <= 0:
        raise CalibrationError(f"abTEM gave no {detector.kind} signal for {element}; weight {weight!r}.")
    xy = atoms.positions[:, :2]

    def misfit(blur: float) -> float:
        model = incoherent_image([xy], [weight], [blur], optics, gpts, sampling)
        return float(np.sum((model - reference) ** 2))

    best = minimize_scalar(misfit, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-3})
    return ElementCalibration(element, weight, float(best.x), "abtem")


def calibrate_on_lattice(
    reference: Sample,
    optics: Optics,
    detector: AnnularDetector,
    isolated: dict[str, ElementCalibration],
    context: str,
) -> dict[str, ElementCalibration]:
    """Fit per-element weights to an abTEM image of ``reference`` by linear least squares.

    The fast image is linear in the weights, ``I = Σ_e w_e B_e`` with ``B_e`` the image of the
    element's atoms at unit weight and their isolated-atom blur, so the best weights solve one
    least-squares problem over every scan pixel.
    """
    from .abtem_engine import AbtemEngine

    field = AbtemEngine().intensity_field(reference, optics, detector)
    elements = sorted(isolated)
    xy = reference.positions[:, :2]
    symbols = reference.elements
    basis = np.stack(
        [
            incoherent_image([xy[symbols == e]], [1.0], [isolated[e].blur], optics, field.array.shape, field.sampling).ravel()
            for e in elements
        ],
        axis=1,
    )
    weights, *_ = np.linalg.lstsq(basis, field.array.ravel(), rcond=None)
    if np.any(weights <= 0):
        raise CalibrationError(f"Lattice calibration on {context!r} gave non-positive weights {weights!r}.")
    return {
        e: ElementCalibration(e, float(w), isolated[e].blur, "abtem", context)
        for e, w in zip(elements, weights, strict=True)
    }


@lru_cache(maxsize=1)
def _shipped_entries() -> tuple[dict[str, Any], ...]:
    path = resources.files("stemtwin.twin").joinpath("data/haadf_calibration.json")
    try:
        table = json.loads(path.read_text())
    except FileNotFoundError:
        return ()
    if table.get("version") != CALIBRATION_VERSION:
        return ()
    return tuple(table["entries"])


def _shipped(element: str, settings: dict[str, float], context: str = "isolated") -> ElementCalibration | None:
    for entry in _shipped_entries():
        if (
            entry["element"] == element
            and entry.get("context", "isolated") == context
            and all(math.isclose(entry[k], v, rel_tol=1e-9, abs_tol=1e-9) for k, v in settings.items())
        ):
            return ElementCalibration(element, float(entry["weight"]), float(entry["blur"]), "shipped", context)
    return None


def _isolated_calibrations(elements: list[str], optics: Optics, detector: AnnularDetector) -> dict[str, ElementCalibration]:
    settings = _settings(optics, detector)
    out: dict[str, ElementCalibration] = {}
    for element in elements:
        shipped = _shipped(element, settings)
        if shipped is not None:
            out[element] = shipped
            continue
        key = cache_key("haadf-calibration", {"element": element, **settings, "version": CALIBRATION_VERSION})
        record = cached_json(key, lambda e=element: asdict(calibrate_element(e, optics, detector)))
        out[element] = ElementCalibration(element, record["weight"], record["blur"], "abtem")
    return out


def _lattice_calibrations(context: str, optics: Optics, detector: AnnularDetector) -> dict[str, ElementCalibration]:
    reference = LATTICE_REFERENCES[context]()
    elements = sorted(set(reference.elements))
    settings = _settings(optics, detector)
    shipped = {e: _shipped(e, settings, context) for e in elements}
    if all(shipped.values()):
        return shipped  # type: ignore[return-value]
    key = cache_key("haadf-lattice-calibration", {"context": context, **settings, "version": CALIBRATION_VERSION})

    def compute() -> dict[str, Any]:
        isolated = _isolated_calibrations(elements, optics, detector)
        fitted = calibrate_on_lattice(reference, optics, detector, isolated, context)
        return {e: asdict(c) for e, c in fitted.items()}

    record = cached_json(key, compute)
    return {e: ElementCalibration(**{**record[e], "source": "abtem"}) for e in elements}


def element_calibrations(
    elements: Iterable[str],
    optics: Optics,
    detector: AnnularDetector,
    method: str = "abtem",
    context: str | None = None,
) -> dict[str, ElementCalibration]:
    """Fast-engine parameters for each element.

    Parameters
    ----------
    elements
        Chemical symbols.
    optics, detector
        The settings to calibrate for.
    method
        ``"abtem"``: shipped table, then user cache, then a fresh abTEM calibration (cached).
        ``"zn"``: the documented Z^n fallback, no abTEM.
    context
        The sample family. Families in :data:`LATTICE_REFERENCES` take weights fitted on their
        reference lattice for the elements it holds; every other element is calibrated isolated.
    """
    require_choice("calibration method", method, CALIBRATION_METHODS)
    wanted = sorted(set(elements))
    for element in wanted:
        validate_element(element)
    if method == "zn":
        return {e: zn_calibration(e) for e in wanted}
    out: dict[str, ElementCalibration] = {}
    if context in LATTICE_REFERENCES:
        lattice = _lattice_calibrations(context, optics, detector)
        out.update({e: c for e, c in lattice.items() if e in wanted})
    rest = [e for e in wanted if e not in out]
    out.update(_isolated_calibrations(rest, optics, detector))
    return out


def write_shipped_table(
    path: str | Path,
    elements: Iterable[str],
    energies: Iterable[float],
    semiangle_cutoff: float = 30.0,
    detector: AnnularDetector | None = None,
    lattice_contexts: Iterable[str] = (),
) -> dict[str, Any]:
    """Compute calibrations with abTEM and write them as the package's shipped table."""
    from .abtem_engine import import_abtem

    detector = detector or HAADFDetector()
    entries = []
    for energy in energies:
        optics = Optics(energy=energy, semiangle_cutoff=semiangle_cutoff)
        isolated = {element: calibrate_element(element, optics, detector) for element in elements}
        for cal in isolated.values():
            entries.append({"element": cal.element, **_settings(optics, detector), "weight": cal.weight, "blur": cal.blur})
        for context in lattice_contexts:
            reference = LATTICE_REFERENCES[context]()
            needed = {e: isolated.get(e) or calibrate_element(e, optics, detector) for e in set(reference.elements)}
            for cal in calibrate_on_lattice(reference, optics, detector, needed, context).values():
                entries.append(
                    {"element": cal.element, "context": context, **_settings(optics, detector), "weight": cal.weight, "blur": cal.blur}
                )
    table = {
        "version": CALIBRATION_VERSION,
        "abtem": import_abtem().__version__,
        "method": "isolated atom in a 10 Å periodic box, PRISM interpolation 1, Lobato potential, "
        "scan step 0.1 Å; weight = integrated image [Å²], blur = least-squares Gaussian width [Å]; "
        "entries with a context: weights fitted by least squares to abTEM on that family's reference cell",
        "entries": entries,
    }
    Path(path).write_text(json.dumps(table, indent=1) + "\n")
    _shipped_entries.cache_clear()
    return table


if __name__ == "__main__":  # python -m stemtwin.twin.signals.calibration OUT.json
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else "twin/data/haadf_calibration.json"
    tables = [
        # 2-D materials at 60–100 kV and 30 mrad; oxides at 200 and 300 kV and 25 mrad (PHYSICS.md).
        write_shipped_table(target, ["C", "Si", "Mo", "S", "Re"], [60e3, 80e3, 100e3], 30.0, lattice_contexts=["mos2-res2"]),
        write_shipped_table(target, ["Pb", "Ti", "O"], [200e3, 300e3], 25.0),
    ]
    tables[0]["entries"] += tables[1]["entries"]
    Path(target).write_text(json.dumps(tables[0], indent=1) + "\n")
    print(f"wrote {target} with {len(tables[0]['entries'])} entries")
