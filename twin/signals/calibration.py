"""Per-element HAADF column weights for the fast engine, calibrated against abTEM.

For each element, optics and detector, abTEM PRISM scans one isolated atom in a periodic box.
The integral of that image over the cell is the atom's detector cross-section ``weight`` [Å²],
and ``blur`` [Å] is the Gaussian object width that makes the fast engine's image of the atom
match abTEM's in a least-squares sense (:mod:`.incoherent`).

Why not Z^n: at 80 kV and 70–200 mrad abTEM gives a Re/Mo column ratio of 1.9 where Z^1.7
predicts 2.7 (PHYSICS.md), so the fast engine uses calibrated weights. Z^n is only the documented
fallback (``method="zn"``) for elements or settings that have not been calibrated.

Results are looked up in this order: the table shipped with the package
(``twin/data/haadf_calibration.json``, made by :func:`write_shipped_table`), the user cache, then a
fresh abTEM calculation (a few seconds per element), which is stored in the cache.
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
    """

    element: str
    weight: float
    blur: float
    source: str


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


def _shipped(element: str, settings: dict[str, float]) -> ElementCalibration | None:
    for entry in _shipped_entries():
        if entry["element"] == element and all(
            math.isclose(entry[k], v, rel_tol=1e-9, abs_tol=1e-9) for k, v in settings.items()
        ):
            return ElementCalibration(element, float(entry["weight"]), float(entry["blur"]), "shipped")
    return None


def element_calibrations(
    elements: Iterable[str],
    optics: Optics,
    detector: AnnularDetector,
    method: str = "abtem",
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
    """
    require_choice("calibration method", method, CALIBRATION_METHODS)
    out: dict[str, ElementCalibration] = {}
    settings = _settings(optics, detector)
    for element in sorted(set(elements)):
        validate_element(element)
        if method == "zn":
            out[element] = zn_calibration(element)
            continue
        shipped = _shipped(element, settings)
        if shipped is not None:
            out[element] = shipped
            continue
        key = cache_key("haadf-calibration", {"element": element, **settings, "version": CALIBRATION_VERSION})
        record = cached_json(key, lambda e=element: asdict(calibrate_element(e, optics, detector)))
        out[element] = ElementCalibration(element, record["weight"], record["blur"], "abtem")
    return out


def write_shipped_table(
    path: str | Path,
    elements: Iterable[str],
    energies: Iterable[float],
    semiangle_cutoff: float = 30.0,
    detector: AnnularDetector | None = None,
) -> dict[str, Any]:
    """Compute calibrations with abTEM and write them as the package's shipped table."""
    from .abtem_engine import import_abtem

    detector = detector or HAADFDetector()
    entries = []
    for energy in energies:
        optics = Optics(energy=energy, semiangle_cutoff=semiangle_cutoff)
        for element in elements:
            cal = calibrate_element(element, optics, detector)
            entries.append({"element": element, **_settings(optics, detector), "weight": cal.weight, "blur": cal.blur})
    table = {
        "version": CALIBRATION_VERSION,
        "abtem": import_abtem().__version__,
        "method": "isolated atom in a 10 Å periodic box, PRISM interpolation 1, Lobato potential, "
        "scan step 0.1 Å; weight = integrated image [Å²], blur = least-squares Gaussian width [Å]",
        "entries": entries,
    }
    Path(path).write_text(json.dumps(table, indent=1) + "\n")
    _shipped_entries.cache_clear()
    return table


if __name__ == "__main__":  # python -m stemtwin.twin.signals.calibration OUT.json
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else "twin/data/haadf_calibration.json"
    write_shipped_table(target, elements=["C", "Si"], energies=[60e3, 80e3, 100e3])
    print(f"wrote {target}")
