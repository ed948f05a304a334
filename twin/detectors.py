"""Detector descriptions: annular detectors (HAADF, ABF) and the pixelated diffraction camera."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .errors import ConfigurationError
from .validation import require_choice, require_int, require_non_negative, require_positive

__all__ = ["AnnularDetector", "HAADFDetector", "ABFDetector", "DiffractionCamera", "DETECTORS", "get_detector"]


@dataclass(frozen=True)
class AnnularDetector:
    """An annular detector integrating the diffraction pattern between two scattering angles.

    Parameters
    ----------
    inner
        Inner collection semi-angle [mrad].
    outer
        Outer collection semi-angle [mrad].
    """

    inner: float
    outer: float
    kind: ClassVar[str] = "annular"

    def __post_init__(self) -> None:
        inner = require_non_negative("inner", self.inner, "mrad")
        outer = require_positive("outer", self.outer, "mrad")
        if outer <= inner:
            raise ConfigurationError(
                f"`outer` must exceed `inner` [mrad], got inner={self.inner!r}, outer={self.outer!r}."
            )
        object.__setattr__(self, "inner", inner)
        object.__setattr__(self, "outer", outer)


@dataclass(frozen=True)
class HAADFDetector(AnnularDetector):
    """High-angle annular dark field: about 60–80 mrad inner and 200 mrad outer (PHYSICS.md)."""

    inner: float = 70.0
    outer: float = 200.0
    kind: ClassVar[str] = "haadf"


@dataclass(frozen=True)
class ABFDetector(AnnularDetector):
    """Annular bright field: 11–22 mrad at 22 mrad convergence (PHYSICS.md).

    The annulus lies inside the bright-field disk, so ``outer`` should not exceed the probe's
    convergence semi-angle.
    """

    inner: float = 11.0
    outer: float = 22.0
    kind: ClassVar[str] = "abf"


DETECTORS: dict[str, type[AnnularDetector]] = {"haadf": HAADFDetector, "abf": ABFDetector}


def get_detector(detector: str | AnnularDetector) -> AnnularDetector:
    """Return a detector description from a name (``"haadf"``, ``"abf"``) or pass one through."""
    if isinstance(detector, AnnularDetector):
        return detector
    return DETECTORS[require_choice("detector", detector, DETECTORS)]()


@dataclass(frozen=True)
class DiffractionCamera:
    """A pixelated diffraction camera (4D-STEM), described as on the instrument.

    Parameters
    ----------
    pixels
        Camera side [pixels]; the pattern is ``pixels × pixels``.
    pixel_size
        Physical pixel pitch [µm] (150 µm for an EMPAD-like camera).
    camera_length
        Effective camera length [mm]. The angle per pixel is ``pixel_size / camera_length``
        [mrad/pixel], since µm/mm = mrad.
    exposure
        Frame time per probe position [s] (about 1 ms for a fast pixelated camera).
    """

    pixels: int = 64
    pixel_size: float = 150.0
    camera_length: float = 75.0
    exposure: float = 1e-3

    def __post_init__(self) -> None:
        object.__setattr__(self, "pixels", require_int("pixels", self.pixels, minimum=8, maximum=1024))
        if self.pixels % 2:
            raise ConfigurationError(f"`pixels` must be even (the central pixel holds the beam), got {self.pixels}.")
        object.__setattr__(self, "pixel_size", require_positive("pixel_size", self.pixel_size, "µm"))
        object.__setattr__(self, "camera_length", require_positive("camera_length", self.camera_length, "mm"))
        object.__setattr__(self, "exposure", require_positive("exposure", self.exposure, "s"))

    @property
    def angular_sampling(self) -> float:
        """Scattering angle per pixel [mrad]."""
        return self.pixel_size / self.camera_length

    @property
    def max_angle(self) -> float:
        """Largest angle on the camera along x or y, from its centre to its edge [mrad]."""
        return self.pixels / 2 * self.angular_sampling

    def angles(self) -> tuple[np.ndarray, np.ndarray]:
        """Scattering angles (θx, θy) of the pixel centres [mrad], each of shape (pixels,).

        The beam (zero angle) falls on pixel ``pixels // 2``, as with ``np.fft.fftshift``.
        """
        axis = (np.arange(self.pixels) - self.pixels // 2) * self.angular_sampling
        return axis, axis.copy()

    def check_fits(self, semiangle_cutoff: float) -> None:
        """Raise if the bright-field disk of a probe with this convergence would not fit on the camera."""
        if semiangle_cutoff >= self.max_angle:
            raise ConfigurationError(
                f"The bright-field disk ({semiangle_cutoff:g} mrad) does not fit on the camera: its edge is at "
                f"{self.max_angle:g} mrad ({self.pixels} px × {self.angular_sampling:g} mrad/px, `pixel_size` "
                f"{self.pixel_size:g} µm over `camera_length` {self.camera_length:g} mm). Shorten `camera_length` "
                "or lower `semiangle_cutoff`."
            )
