"""Noise-free signal models: HAADF/ABF imaging (two engines) and EELS."""

from __future__ import annotations

from .abtem_engine import AbtemEngine
from .calibration import CALIBRATION_METHODS, ElementCalibration, element_calibrations
from .eels import EELSModel
from .fast_engine import FastEngine
from .field import PeriodicField
from .imaging import IMAGING_ENGINES, ImagingEngine, get_imaging_engine
from .probe import probe_intensity

__all__ = [
    "AbtemEngine",
    "CALIBRATION_METHODS",
    "EELSModel",
    "ElementCalibration",
    "FastEngine",
    "IMAGING_ENGINES",
    "ImagingEngine",
    "PeriodicField",
    "element_calibrations",
    "get_imaging_engine",
    "probe_intensity",
]
