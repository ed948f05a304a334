"""What the detectors record: arrays with sampling, units and metadata, and no ground truth."""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = ["Image", "Spectrum", "SpectrumImage", "DiffractionPattern", "FourDSTEM", "CenterOfMassMap"]


def _reduce(record: Any) -> tuple[Any, tuple[()], dict[str, Any]]:
    """Pickle a frozen record through its fields, with the metadata view as a plain dict."""
    state = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    state["metadata"] = dict(state["metadata"])
    return (_rebuild, (type(record), state), {})  # type: ignore[return-value]


def _rebuild(cls: type, state: dict[str, Any]) -> Any:
    return cls(**state)


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

    def __reduce__(self):  # noqa: ANN204 - see _reduce
        return _reduce(self)[:2]

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

    def __reduce__(self):  # noqa: ANN204 - see _reduce
        return _reduce(self)[:2]


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

    def __reduce__(self):  # noqa: ANN204 - see _reduce
        return _reduce(self)[:2]


@dataclass(frozen=True, eq=False)
class DiffractionPattern:
    """A recorded convergent-beam diffraction pattern.

    Parameters
    ----------
    array
        Counts, ndarray of shape (pixels, pixels), float32; axes (θx, θy), beam on pixel ``pixels // 2``.
    angular_sampling
        Angle per camera pixel [mrad].
    position
        Nominal probe position (x, y) [Å].
    """

    array: np.ndarray
    angular_sampling: float
    position: tuple[float, float]
    units: str = "counts"
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze(self, "array")

    def __reduce__(self):  # noqa: ANN204 - see _reduce
        return _reduce(self)[:2]


@dataclass(frozen=True, eq=False)
class FourDSTEM:
    """A recorded 4D-STEM data set: one diffraction pattern per scan position.

    Parameters
    ----------
    array
        Counts, ndarray of shape (nx, ny, pixels, pixels), float32.
    angular_sampling
        Angle per camera pixel [mrad].
    sampling, origin
        Nominal scan step and position of scan pixel (0, 0) [Å].
    """

    array: np.ndarray
    angular_sampling: float
    sampling: tuple[float, float]
    origin: tuple[float, float]
    units: str = "counts"
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze(self, "array")

    def __reduce__(self):  # noqa: ANN204 - see _reduce
        return _reduce(self)[:2]


@dataclass(frozen=True, eq=False)
class CenterOfMassMap:
    """A recorded centre-of-mass (DPC) map: the mean deflection at each scan position.

    Parameters
    ----------
    array
        Deflection (θx, θy), ndarray of shape (nx, ny, 2), float32 [mrad], with shot noise.
    sampling, origin
        Nominal scan step and position of scan pixel (0, 0) [Å].
    """

    array: np.ndarray
    sampling: tuple[float, float]
    origin: tuple[float, float]
    units: str = "mrad"
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _freeze(self, "array")

    def __reduce__(self):  # noqa: ANN204 - see _reduce
        return _reduce(self)[:2]

    @property
    def magnitude(self) -> np.ndarray:
        """|CoM| [mrad], shape (nx, ny)."""
        return np.hypot(self.array[..., 0], self.array[..., 1])

    @property
    def angle(self) -> np.ndarray:
        """CoM direction [rad], shape (nx, ny)."""
        return np.arctan2(self.array[..., 1], self.array[..., 0])
