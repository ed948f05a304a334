"""EELS spectrometer description."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import require_finite, require_int, require_positive

__all__ = ["Spectrometer"]


@dataclass(frozen=True)
class Spectrometer:
    """An electron energy-loss spectrometer and its camera.

    Parameters
    ----------
    dispersion
        Energy per channel [eV/channel].
    offset
        Energy loss of the first channel [eV]. Negative values include the zero-loss peak.
    channels
        Number of channels.
    energy_resolution
        FWHM of the zero-loss peak [eV]: 0.3–0.5 eV for a cold FEG, about 0.8 eV for a Schottky
        source (PHYSICS.md).
    collection_angle
        Collection semi-angle of the spectrometer entrance aperture [mrad].
    exposure
        Default dwell time for one spectrum [s], used when an acquisition does not give its own.
        Single-atom core-loss spectra need milliseconds to seconds.
    """

    dispersion: float = 0.2
    offset: float = -10.0
    channels: int = 2048
    energy_resolution: float = 0.35
    collection_angle: float = 30.0
    exposure: float = 0.05

    def __post_init__(self) -> None:
        object.__setattr__(self, "dispersion", require_positive("dispersion", self.dispersion, "eV/channel"))
        object.__setattr__(self, "offset", require_finite("offset", self.offset, "eV"))
        object.__setattr__(self, "channels", require_int("channels", self.channels, minimum=2))
        object.__setattr__(
            self, "energy_resolution", require_positive("energy_resolution", self.energy_resolution, "eV")
        )
        object.__setattr__(
            self, "collection_angle", require_positive("collection_angle", self.collection_angle, "mrad")
        )
        object.__setattr__(self, "exposure", require_positive("exposure", self.exposure, "s"))

    @property
    def energy_axis(self) -> np.ndarray:
        """Energy loss at the centre of each channel, ndarray of shape (channels,) [eV]."""
        return self.offset + self.dispersion * np.arange(self.channels, dtype=np.float64)

    @property
    def energy_range(self) -> tuple[float, float]:
        """First and last channel energy [eV]."""
        return (self.offset, self.offset + self.dispersion * (self.channels - 1))
