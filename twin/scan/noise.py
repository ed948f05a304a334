"""Detector shot noise and read noise (PHYSICS.md, "Dose and shot noise").

Recorded counts are ``Poisson(N·f)``, where N is the number of electrons delivered at a probe position
(``Dose.electrons_per_position``) and f the fraction of them the detector collects, plus Gaussian read
noise for analogue detectors. abTEM's ``poisson_noise`` works on its ``Measurement`` objects with a
dose per area; this function works on plain arrays with electrons per position.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from ..errors import ConfigurationError
from ..rng import RNGLike, as_generator
from ..validation import require_non_negative

__all__ = ["detector_counts"]

# numpy's Poisson sampler refuses larger means; far above any STEM count anyway.
_MAX_POISSON_MEAN = 1e15


def _non_negative_array(name: str, value: Any, units: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigurationError(f"`{name}` must be a number or an array of numbers{units}, got {value!r}.") from None
    if arr.size == 0 or (float(arr.min()) >= 0.0 and float(arr.max()) < math.inf):  # NaN fails the first test
        return arr
    bad = ~np.isfinite(arr) | (arr < 0)
    if np.any(bad):
        idx = tuple(int(k) for k in np.argwhere(bad)[0]) if arr.ndim else ()
        where = f" at index {idx}" if arr.ndim else ""
        raise ConfigurationError(
            f"`{name}` must be finite and >= 0{units}, got {float(arr[idx])!r}{where} "
            f"({int(bad.sum())} bad value(s))."
        )
    return arr


def detector_counts(
    fraction: np.ndarray,
    electrons: float | np.ndarray,
    rng: RNGLike,
    read_noise: float = 0.0,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Noisy detector counts for a given collected fraction and electron dose.

    ``counts = Poisson(electrons·fraction) + Normal(0, read_noise)``.

    Parameters
    ----------
    fraction
        Fraction of the incident electrons the detector collects at each position, any shape, >= 0.
    electrons
        Mean electrons delivered per position [e⁻], a scalar or an array broadcastable against
        ``fraction``, >= 0; for example ``Dose.electrons_per_position`` (30 pA × 16 µs ≈ 3000 e⁻).
    rng
        Generator or seed. Draws the Poisson counts first, then the read noise (only when
        ``read_noise > 0``).
    read_noise
        Standard deviation of Gaussian read noise [counts]; 0 for a counting detector.
    out
        C-contiguous float32 array of the result's shape to write the counts into (e.g. a row of a
        preallocated stack); a new array if None.

    Returns
    -------
    ndarray of float32, shape broadcast(fraction, electrons)
        Recorded counts [counts] (``out`` when given). Zero electrons give zeros plus read noise.
    """
    rng = as_generator(rng)
    f = _non_negative_array("fraction", fraction, "")
    n = _non_negative_array("electrons", electrons, " [e⁻]")
    read_noise = require_non_negative("read_noise", read_noise, "counts")
    try:
        lam = f * n
    except ValueError:
        raise ConfigurationError(
            f"`electrons` of shape {n.shape} does not broadcast against `fraction` of shape {f.shape}."
        ) from None
    if lam.size and float(lam.max()) > _MAX_POISSON_MEAN:
        raise ConfigurationError(
            f"`electrons`·`fraction` must be <= {_MAX_POISSON_MEAN:g} [e⁻] per position, got {float(lam.max())!r}."
        )
    lam = np.ascontiguousarray(lam, dtype=np.float64)
    if out is None:
        counts = np.empty(lam.shape, dtype=np.float32)
    elif not (
        isinstance(out, np.ndarray)
        and out.dtype == np.float32
        and out.shape == lam.shape
        and out.flags.c_contiguous
        and out.flags.writeable
    ):
        got = f"{out.dtype} {out.shape}" if isinstance(out, np.ndarray) else type(out).__name__
        raise ConfigurationError(f"`out` must be a writable C-contiguous float32 array of shape {lam.shape}, got {got}.")
    else:
        counts = out
    _counts_kernel(rng, lam.reshape(-1), float(read_noise), counts.reshape(-1))
    return counts


@numba.njit(cache=True, nogil=True)
def _counts_kernel(rng, lam, read_noise, out):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN202
    """``out = float32(Poisson(lam) + Normal(0, read_noise))``, all Poisson draws first.

    The same draws, in the same order, as ``rng.poisson(lam)`` followed by ``rng.normal(0,
    read_noise, size)`` (numba's Generator methods are ports of numpy's; the tests compare them
    byte for byte), without numpy's per-element call overhead and temporaries.
    """
    tmp = np.empty(lam.size)
    for k in range(lam.size):
        tmp[k] = rng.poisson(lam[k])
    if read_noise > 0.0:
        for k in range(lam.size):
            tmp[k] += rng.normal(0.0, read_noise)
    for k in range(lam.size):
        out[k] = tmp[k]
