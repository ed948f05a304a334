"""What the detectors record: arrays with sampling, units and metadata, and no ground truth."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = ["Image", "Spectrum", "SpectrumImage"]


def _freeze(record: object, *arrays: str) -> None:
    """Make a frozen record's arrays read-only and its metadata an immutable mapping."""
    for name in arrays:
        array = np.asarray(getattr(record, name))
        array.setflags(write=False)
        object.__setattr__(record, name, array)
    object.__setattr__(record, "metadata", MappingProxyType(dict(record.metadata)))  # type: ignore[attr-defined]


@dataclass(frozen=True, eq=False)
class Image:
    """A recorded scan image.

    Parameters
    ----------
    array
        Detector counts, ndarray of shape (nx, ny), float32; x is the fast scan axis.
    sampling
        Nominal scan step (dx, dy) [Å].
    origin
        Nominal position of pixel (0, 0) in the sample [Å].
    units
        Units of ``array`` (``"counts"``).
    metadata
        Acquisition settings: detector, dose, engine, start and end time [s], ...
    """

    array: np.ndarray
    sampling: tuple[float, float]
    origin: tuple[float, float]
    units: str = "counts"
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze(self, "array")

    @property
    def extent(self) -> tuple[float, float]:
        """Nominal field of view (x, y) [Å]."""
        return (self.array.shape[0] * self.sampling[0], self.array.shape[1] * self.sampling[1])


@dataclass(frozen=True, eq=False)
class Spectrum:
    """A recorded EELS spectrum.

    Parameters
    ----------
    array
        Counts per channel, ndarray of shape (channels,), float32.
    energy
        Energy loss per channel, ndarray of shape (channels,) [eV].
    position
        Nominal probe position (x, y) [Å].
    metadata
        Acquisition settings: dwell time [s], electrons, start and end time [s], ...
    """

    array: np.ndarray
    energy: np.ndarray
    position: tuple[float, float]
    units: str = "counts"
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze(self, "array", "energy")


@dataclass(frozen=True, eq=False)
class SpectrumImage:
    """A recorded EELS spectrum image.

    Parameters
    ----------
    array
        Counts, ndarray of shape (nx, ny, channels), float32.
    energy
        Energy loss per channel [eV].
    sampling, origin
        Nominal scan step and position of pixel (0, 0) [Å].
    """

    array: np.ndarray
    energy: np.ndarray
    sampling: tuple[float, float]
    origin: tuple[float, float]
    units: str = "counts"
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze(self, "array", "energy")
