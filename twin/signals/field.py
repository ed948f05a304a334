"""Noise-free signals on a periodic grid, evaluated at arbitrary probe positions."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

__all__ = ["PeriodicField"]


@dataclass(frozen=True, eq=False)
class PeriodicField:
    """A scalar signal sampled on a regular grid over one periodic cell.

    The signals a STEM records are band-limited by the probe, so a field sampled finer than the
    Nyquist step can be evaluated anywhere by interpolation. :meth:`at` evaluates it at the
    probe's real (distorted) positions with a periodic cubic spline; this is how every frame is
    rendered along the acquisition path, rather than by warping a finished image.

    Parameters
    ----------
    array
        Values on the grid, ndarray of shape (nx, ny); grid point (i, j) sits at
        ``(i * sampling[0], j * sampling[1])``.
    sampling
        Grid spacing (dx, dy) [Å].
    units
        Units of the values, e.g. ``"fraction"`` (of the incident beam).
    """

    array: np.ndarray
    sampling: tuple[float, float]
    units: str = "fraction"
    _coefficients: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        array = np.ascontiguousarray(self.array, dtype=np.float64)
        array.setflags(write=False)
        object.__setattr__(self, "array", array)
        coeffs = ndimage.spline_filter(array, order=3, mode="grid-wrap")
        object.__setattr__(self, "_coefficients", coeffs)

    @property
    def coefficients(self) -> np.ndarray:
        """Periodic cubic B-spline coefficients of :attr:`array` (read-only, same shape)."""
        view = self._coefficients.view()
        view.setflags(write=False)
        return view

    @property
    def extent(self) -> tuple[float, float]:
        """Cell size (x, y) [Å]."""
        return (self.array.shape[0] * self.sampling[0], self.array.shape[1] * self.sampling[1])

    def at(self, positions: np.ndarray) -> np.ndarray:
        """Evaluate the field at probe positions.

        Parameters
        ----------
        positions
            ndarray of shape (..., 2) [Å]; positions outside the cell wrap periodically.

        Returns
        -------
        ndarray of shape positions.shape[:-1], float64
        """
        positions = np.asarray(positions, dtype=np.float64)
        coords = np.stack(
            [positions[..., 0].ravel() / self.sampling[0], positions[..., 1].ravel() / self.sampling[1]]
        )
        values = ndimage.map_coordinates(self._coefficients, coords, order=3, mode="grid-wrap", prefilter=False)
        return values.reshape(positions.shape[:-1])
