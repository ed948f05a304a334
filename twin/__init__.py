"""stemtwin.twin: the physics of the digital twin (sample, beam, microscope, ground truth).

``twin`` imports nothing from ``stemtwin.agents``, ``stemtwin.envs`` or ``stemtwin.scenarios``.

Example
-------
>>> from stemtwin.twin import Microscope, build_graphene
>>> sample = build_graphene((30, 30), n_si_3fold=2, n_si_4fold=2, rng=0)
>>> scope = Microscope(sample, rng=1)
>>> image = scope.acquire_image(pixels=128)
>>> spectrum = scope.acquire_spectrum((15.0, 15.0))
"""

from __future__ import annotations

from .detectors import ABFDetector, AnnularDetector, HAADFDetector
from .dose import Dose
from .dynamics import BeamDynamics, Event, Exposure
from .errors import (
    CalibrationError,
    ConfigurationError,
    FieldOfViewError,
    StructureFileError,
    TwinError,
    UnknownNameError,
    UnsupportedError,
)
from .microscope import FieldOfView, Microscope
from .observations import Image, Spectrum, SpectrumImage
from .optics import Optics, electron_wavelength
from .samples import SAMPLE_BUILDERS, Sample, build_graphene, build_sample
from .scan import ScanNoise
from .spectrometer import Spectrometer
from .truth import AcquisitionTruth, DoseMap, Truth

__all__ = [
    "ABFDetector",
    "AcquisitionTruth",
    "AnnularDetector",
    "BeamDynamics",
    "CalibrationError",
    "ConfigurationError",
    "Dose",
    "DoseMap",
    "Event",
    "Exposure",
    "FieldOfView",
    "FieldOfViewError",
    "HAADFDetector",
    "Image",
    "Microscope",
    "Optics",
    "SAMPLE_BUILDERS",
    "Sample",
    "ScanNoise",
    "Spectrometer",
    "Spectrum",
    "SpectrumImage",
    "StructureFileError",
    "Truth",
    "TwinError",
    "UnknownNameError",
    "UnsupportedError",
    "build_graphene",
    "build_sample",
    "electron_wavelength",
]
