"""The imaging-engine interface and registry: two engines behind one interface."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..detectors import AnnularDetector
from ..optics import Optics
from ..samples.sample import Sample
from ..validation import require_choice
from ..detectors import DiffractionCamera
from .abtem_engine import AbtemEngine
from .diffraction_abtem import AbtemDiffractionEngine
from .diffraction_fast import FastDiffractionEngine
from .fast_engine import FastEngine
from .field import PeriodicField

__all__ = [
    "ImagingEngine",
    "DiffractionEngine",
    "IMAGING_ENGINES",
    "get_imaging_engine",
    "get_diffraction_engine",
]


class ImagingEngine(Protocol):
    """What the microscope needs from an imaging engine."""

    name: str

    def intensity_field(self, sample: Sample, optics: Optics, detector: AnnularDetector) -> PeriodicField:
        """Noise-free detector signal over the sample's periodic cell [fraction of the beam]."""
        ...


class DiffractionEngine(Protocol):
    """What the microscope needs from a diffraction (4D-STEM) engine."""

    name: str

    def patterns(self, sample: Sample, optics: Optics, camera: DiffractionCamera, positions: np.ndarray) -> np.ndarray:
        """Noise-free patterns at probe positions (..., 2) [Å] [fraction of the beam per pixel]."""
        ...


#: Engine names and their one-line descriptions.
IMAGING_ENGINES: dict[str, str] = {
    "fast": "incoherent imaging with abTEM-calibrated element weights (HAADF), and phase-object "
    "diffraction with exact CoM maps (4D-STEM); milliseconds",
    "abtem": "abTEM multislice, the reference physics: PRISM images (HAADF, ABF) and CBED patterns; seconds",
}


def get_imaging_engine(engine: str | ImagingEngine, calibration: str = "abtem") -> ImagingEngine:
    """Return an engine instance from its name (``"fast"`` or ``"abtem"``), or pass one through."""
    if not isinstance(engine, str):
        return engine
    require_choice("engine", engine, IMAGING_ENGINES)
    return FastEngine(calibration=calibration) if engine == "fast" else AbtemEngine()


def get_diffraction_engine(engine: str) -> FastDiffractionEngine | AbtemDiffractionEngine:
    """Return a diffraction engine from its name (``"fast"`` or ``"abtem"``)."""
    require_choice("engine", engine, IMAGING_ENGINES)
    return FastDiffractionEngine() if engine == "fast" else AbtemDiffractionEngine()
