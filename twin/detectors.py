"""Annular detector descriptions (HAADF, ABF)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .errors import ConfigurationError
from .validation import require_choice, require_non_negative, require_positive

__all__ = ["AnnularDetector", "HAADFDetector", "ABFDetector", "DETECTORS", "get_detector"]


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
