"""The imaging-engine interface and registry: two engines behind one interface."""

from __future__ import annotations

from typing import Protocol

from ..detectors import AnnularDetector
from ..optics import Optics
from ..samples.sample import Sample
from ..validation import require_choice
from .abtem_engine import AbtemEngine
from .fast_engine import FastEngine
from .field import PeriodicField

__all__ = ["ImagingEngine", "IMAGING_ENGINES", "get_imaging_engine"]


class ImagingEngine(Protocol):
    """What the microscope needs from an imaging engine."""

    name: str

    def intensity_field(self, sample: Sample, optics: Optics, detector: AnnularDetector) -> PeriodicField:
        """Noise-free detector signal over the sample's periodic cell [fraction of the beam]."""
        ...


#: Engine names and their one-line descriptions.
IMAGING_ENGINES: dict[str, str] = {
    "fast": "incoherent linear imaging with abTEM-calibrated element weights (milliseconds; HAADF only)",
    "abtem": "abTEM PRISM multislice, the reference physics (seconds to minutes; HAADF and ABF)",
}


def get_imaging_engine(engine: str | ImagingEngine, calibration: str = "abtem") -> ImagingEngine:
    """Return an engine instance from its name (``"fast"`` or ``"abtem"``), or pass one through."""
    if not isinstance(engine, str):
        return engine
    require_choice("engine", engine, IMAGING_ENGINES)
    return FastEngine(calibration=calibration) if engine == "fast" else AbtemEngine()
