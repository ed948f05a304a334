"""Raster scan timing: when the probe sits on each pixel.

The probe scans x fast (index ``i``) and y slow (index ``j``). After each line it flies back to the
start of the next line, which takes ``Dose.flyback_time``. See PHYSICS.md, "Scan distortions":

    t(i, j) = t0 + j·(nx·τ + τ_flyback) + i·τ
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..dose import Dose
from ..errors import ConfigurationError
from ..validation import require_finite, require_int

__all__ = ["pixel_times", "frame_time", "line_time"]


def _require_pixels(name: str, value: Any) -> tuple[int, int]:
    """Return ``value`` as a pair of integers >= 1 ``(nx, ny)``, or raise :class:`ConfigurationError`."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ConfigurationError(f"`{name}` must be a pair of integers (nx, ny) >= 1, got {value!r}.")
    return (require_int(f"{name}[0]", value[0], minimum=1), require_int(f"{name}[1]", value[1], minimum=1))


def _require_dose(value: Any) -> Dose:
    if not isinstance(value, Dose):
        raise ConfigurationError(f"`dose` must be a stemtwin Dose, got {type(value).__name__}: {value!r}.")
    return value


def line_time(nx: int, dose: Dose) -> float:
    """Duration of one scan line including its flyback, ``nx·τ + τ_flyback`` [s].

    Parameters
    ----------
    nx
        Pixels per line (fast axis).
    dose
        Beam dose; supplies ``dwell_time`` τ [s] and ``flyback_time`` [s].

    Returns
    -------
    float
        Line period [s].
    """
    nx = require_int("nx", nx, minimum=1)
    dose = _require_dose(dose)
    return nx * dose.dwell_time + dose.flyback_time


def pixel_times(pixels: tuple[int, int], dose: Dose, t0: float = 0.0) -> np.ndarray:
    """Time at which the probe arrives at each pixel of a raster frame.

    ``t(i, j) = t0 + j·(nx·τ + τ_flyback) + i·τ`` (PHYSICS.md, "Scan distortions").

    Parameters
    ----------
    pixels
        Frame size ``(nx, ny)``; x is the fast scan axis.
    dose
        Beam dose; supplies the dwell time τ [s] and the flyback time τ_flyback [s].
    t0
        Instrument time at which the frame starts [s].

    Returns
    -------
    ndarray of shape (nx, ny)
        Arrival time of the probe at pixel ``(i, j)`` [s], float64.
    """
    nx, ny = _require_pixels("pixels", pixels)
    dose = _require_dose(dose)
    t0 = require_finite("t0", t0, "s")
    tau = dose.dwell_time
    line = nx * tau + dose.flyback_time
    i = np.arange(nx, dtype=np.float64)[:, None]
    j = np.arange(ny, dtype=np.float64)[None, :]
    return t0 + j * line + i * tau


def frame_time(pixels: tuple[int, int], dose: Dose) -> float:
    """Duration of a raster frame including every line's flyback, ``ny·(nx·τ + τ_flyback)`` [s].

    Parameters
    ----------
    pixels
        Frame size ``(nx, ny)``; x is the fast scan axis.
    dose
        Beam dose; supplies the dwell time τ [s] and the flyback time τ_flyback [s].

    Returns
    -------
    float
        Frame duration [s]. A frame started at ``t0`` ends at ``t0 + frame_time``, when the next
        frame may start.
    """
    nx, ny = _require_pixels("pixels", pixels)
    return ny * line_time(nx, dose)
