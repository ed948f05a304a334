"""Scan distortions applied along the real acquisition path (PHYSICS.md, "Scan distortions").

The probe meant for position ``r`` lands at ``r' + d(t)``, where

* ``r'`` is ``r`` after the static errors of the scan coils: a calibration (scale) error along each
  axis, a shear of the slow axis, and the flyback transient at the start of every line;
* ``d(t)`` is a time-dependent probe-position error: linear drift, a slow random walk
  (Ornstein–Uhlenbeck process) and mains/mechanical sinusoids. It is evaluated at the absolute
  instrument time of every pixel, so it distorts the image the way a real scan does, and consecutive
  frames see a continuous ``d(t)``.

:class:`ScanNoise` describes the distortions; :class:`ProbePositionError` is the stateful realisation
of ``d(t)``; :func:`scan_path` gives the nominal and actual probe positions of one raster frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..dose import Dose
from ..errors import ConfigurationError
from ..rng import RNGLike, as_generator
from ..validation import require_finite, require_in_range, require_non_negative, require_pair, require_positive
from .timing import _require_dose, _require_pixels, frame_time, pixel_times

__all__ = ["ScanNoise", "ProbePositionError", "ScanPath", "scan_path"]

# Longest stretch (in units of the OU correlation time) handled by one closed-form block of the
# Ornstein–Uhlenbeck recursion; keeps exp(+s) far from overflow and the cumulative sum well conditioned.
_OU_BLOCK = 20.0


def _float_tuple(name: str, value: Any, units: str, check: Any) -> tuple[float, ...]:
    """Return a 1-D sequence of numbers as a tuple of floats, each validated with ``check``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ConfigurationError(f"`{name}` must be a sequence of numbers [{units}], got {value!r}.")
    if isinstance(value, np.ndarray) and value.ndim != 1:
        raise ConfigurationError(f"`{name}` must be a 1-D sequence of numbers [{units}], got shape {value.shape}.")
    return tuple(check(f"{name}[{k}]", v, units) for k, v in enumerate(value))


@dataclass(frozen=True)
class ScanNoise:
    """Description of the scan distortions of one instrument.

    Defaults describe a perfect scan except for the random-walk corner frequency and the flyback time
    constant, which only matter once their amplitudes are non-zero. :meth:`typical` gives the values of
    PHYSICS.md, "Scan distortions".

    Parameters
    ----------
    drift
        Linear drift velocity ``(vx, vy)`` of the sample relative to the probe [Å/s]. PHYSICS.md gives
        0.1–0.5 nm/min, i.e. about 0.017–0.083 Å/s. A scalar is used for both axes.
    random_walk_amplitude
        Stationary RMS of a slow random walk along each axis [Å], modelled as an independent
        Ornstein–Uhlenbeck process per axis.
    random_walk_frequency
        Corner frequency of the random walk [Hz]; its correlation time is ``1/(2π f)``. PHYSICS.md:
        about 0.08 Hz.
    sinusoid_frequencies
        Frequencies of mains and mechanical vibrations [Hz].
    sinusoid_amplitudes
        Amplitudes of those vibrations [Å], one per frequency. Each vibration has a random phase and a
        random in-plane direction drawn by :class:`ProbePositionError`.
    flyback_amplitude
        Displacement along +x of the first pixel of each line, ``A·exp(−t/τc)`` with ``t`` the time
        since the line started [pixels]. PHYSICS.md: about 1–5 px.
    flyback_time_constant
        Decay time τc of the flyback transient [s]. PHYSICS.md: about the flyback time, typically 60 µs.
    scale_error
        Fractional calibration error ``(sx, sy)`` along the fast and the slow axis; the probe moves
        ``(1 + s)`` times the nominal distance from the origin of the field of view. Each must be > −1;
        a scalar is used for both axes.
    shear
        Shear of the slow axis [degrees]: a step ``Δy`` along the slow axis also moves the probe by
        ``Δy·tan(shear)`` along x. Must lie within [−45, 45].
    """

    drift: tuple[float, float] = (0.0, 0.0)
    random_walk_amplitude: float = 0.0
    random_walk_frequency: float = 0.08
    sinusoid_frequencies: tuple[float, ...] = ()
    sinusoid_amplitudes: tuple[float, ...] = ()
    flyback_amplitude: float = 0.0
    flyback_time_constant: float = 60e-6
    scale_error: tuple[float, float] = (0.0, 0.0)
    shear: float = 0.0

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("drift", require_pair("drift", self.drift, "Å/s", positive=False))
        put(
            "random_walk_amplitude",
            require_non_negative("random_walk_amplitude", self.random_walk_amplitude, "Å"),
        )
        put(
            "random_walk_frequency",
            require_positive("random_walk_frequency", self.random_walk_frequency, "Hz"),
        )
        freqs = _float_tuple("sinusoid_frequencies", self.sinusoid_frequencies, "Hz", require_positive)
        amps = _float_tuple("sinusoid_amplitudes", self.sinusoid_amplitudes, "Å", require_non_negative)
        if len(freqs) != len(amps):
            raise ConfigurationError(
                f"`sinusoid_frequencies` and `sinusoid_amplitudes` must have the same length, got "
                f"{len(freqs)} frequencies [Hz] and {len(amps)} amplitudes [Å]: "
                f"sinusoid_frequencies={freqs!r}, sinusoid_amplitudes={amps!r}."
            )
        put("sinusoid_frequencies", freqs)
        put("sinusoid_amplitudes", amps)
        put("flyback_amplitude", require_non_negative("flyback_amplitude", self.flyback_amplitude, "pixels"))
        put(
            "flyback_time_constant",
            require_positive("flyback_time_constant", self.flyback_time_constant, "s"),
        )
        scale = require_pair("scale_error", self.scale_error, "fraction", positive=False)
        for k, s in enumerate(scale):
            if s <= -1.0:
                raise ConfigurationError(
                    f"`scale_error[{k}]` must be > -1 [fraction] (0.01 means the scan is 1 % too large), "
                    f"got {s!r}."
                )
        put("scale_error", scale)
        put("shear", require_in_range("shear", self.shear, -45.0, 45.0, "degrees"))

    @classmethod
    def none(cls) -> ScanNoise:
        """A perfect scan: no drift, random walk, vibration, flyback or calibration error."""
        return cls()

    @classmethod
    def typical(cls) -> ScanNoise:
        """Distortions typical of an aberration-corrected STEM, from PHYSICS.md "Scan distortions".

        * drift (0.04, 0.03) Å/s, i.e. 0.3 nm/min, mid-range of the quoted 0.1–0.5 nm/min; the
          direction is an arbitrary choice;
        * random walk of 2 Å RMS at 0.08 Hz — the amplitude is an estimate *(est.)* from "a few Å";
        * sinusoids at 30, 120, 160, 430, 1000 and 2725 Hz with amplitudes 15, 10, 7, 4, 4 and 4 pm,
          the set measured on one instrument;
        * flyback of 2 px *(est.)*, within the quoted 1–5 px, decaying with τc = 60 µs (the typical
          flyback time);
        * scale errors of 0.8 % (fast axis) and 3 % (slow axis) and a shear of 0.9°, mid-range of the
          quoted 0.4–1.2 %, 2.7–3.6 % and 0.6–1.2°.
        """
        return cls(
            drift=(0.04, 0.03),
            random_walk_amplitude=2.0,
            random_walk_frequency=0.08,
            sinusoid_frequencies=(30.0, 120.0, 160.0, 430.0, 1000.0, 2725.0),
            sinusoid_amplitudes=(0.15, 0.10, 0.07, 0.04, 0.04, 0.04),
            flyback_amplitude=2.0,
            flyback_time_constant=60e-6,
            scale_error=(0.008, 0.03),
            shear=0.9,
        )

    @property
    def random_walk_time(self) -> float:
        """Correlation time of the random walk, ``1/(2π f)`` [s]."""
        return 1.0 / (2.0 * math.pi * self.random_walk_frequency)

    @property
    def has_time_dependence(self) -> bool:
        """True when ``d(t)`` (drift, random walk or a vibration) is not identically zero."""
        return (
            self.drift != (0.0, 0.0)
            or self.random_walk_amplitude > 0.0
            or any(a > 0.0 for a in self.sinusoid_amplitudes)
        )

    @property
    def is_zero(self) -> bool:
        """True when nothing distorts the scan."""
        return (
            not self.has_time_dependence
            and self.flyback_amplitude == 0.0
            and self.scale_error == (0.0, 0.0)
            and self.shear == 0.0
        )


class ProbePositionError:
    """A realisation of the time-dependent probe-position error ``d(t)`` [Å].

    ``d(t) = drift·t + w(t) + Σ_k a_k cos(2π f_k t + φ_k) u_k``, where ``w`` is an Ornstein–Uhlenbeck
    random walk per axis with stationary RMS ``noise.random_walk_amplitude`` and correlation time
    ``1/(2π noise.random_walk_frequency)``, and each vibration k has a random phase ``φ_k`` and a random
    in-plane unit direction ``u_k``.

    The object is stateful: the random walk continues from one :meth:`displacement` call to the next,
    so successive frames see one continuous ``d(t)``. Times must therefore never go backwards between
    calls. It is picklable, and a pickled copy continues exactly as the original would.

    Parameters
    ----------
    noise
        The distortion description; only its time-dependent part (drift, random walk, sinusoids) is
        used here.
    rng
        Generator or seed. At construction it draws, in this order, the phases and directions of the
        sinusoids and the initial random-walk state (from its stationary distribution); it is then kept
        and used for the random-walk increments (one N(0, 1) pair per sample, in time order, and
        none when the random-walk amplitude is zero). A Generator is used as is, not copied, so
        draws made from it elsewhere between calls change the walk.
    """

    def __init__(self, noise: ScanNoise, rng: RNGLike) -> None:
        if not isinstance(noise, ScanNoise):
            raise ConfigurationError(f"`noise` must be a ScanNoise, got {type(noise).__name__}: {noise!r}.")
        self._noise = noise
        self._rng = as_generator(rng)
        n = len(noise.sinusoid_frequencies)
        phases = self._rng.uniform(0.0, 2.0 * math.pi, size=n)
        angles = self._rng.uniform(0.0, 2.0 * math.pi, size=n)
        self._omega = 2.0 * math.pi * np.asarray(noise.sinusoid_frequencies, dtype=np.float64)
        self._phases = phases
        self._directions = np.stack([np.cos(angles), np.sin(angles)], axis=-1)  # (n, 2) unit vectors
        amps = np.asarray(noise.sinusoid_amplitudes, dtype=np.float64)
        self._sin_vectors = amps[:, None] * self._directions  # (n, 2): amplitude times direction
        self._drift = np.asarray(noise.drift, dtype=np.float64)
        self._sigma = noise.random_walk_amplitude
        self._tau = noise.random_walk_time
        self._state = self._sigma * self._rng.standard_normal(2)
        self._last_time: float | None = None

    @property
    def noise(self) -> ScanNoise:
        """The distortion description."""
        return self._noise

    @property
    def last_time(self) -> float | None:
        """Latest instrument time evaluated so far [s]; None before the first call."""
        return self._last_time

    @property
    def phases(self) -> np.ndarray:
        """Phases ``φ_k`` of the sinusoids [rad], ndarray of shape (n_sinusoids,)."""
        return self._phases.copy()

    @property
    def directions(self) -> np.ndarray:
        """Unit directions ``u_k`` of the sinusoids, ndarray of shape (n_sinusoids, 2)."""
        return self._directions.copy()

    def __repr__(self) -> str:
        return f"ProbePositionError(noise={self._noise!r}, last_time={self._last_time!r})"

    def displacement(self, times: np.ndarray) -> np.ndarray:
        """Probe-position error ``d(t)`` at absolute instrument times.

        Parameters
        ----------
        times
            Instrument times [s], any shape and any order within one call; the earliest must not be
            before the latest time of the previous call.

        Returns
        -------
        ndarray of shape times.shape + (2,)
            ``(dx, dy)`` displacement of the probe [Å], float64.

        Raises
        ------
        ConfigurationError
            If a time is not finite, or if the times go back before an earlier call's latest time.
        """
        t = np.asarray(times, dtype=np.float64)
        if t.size == 0:
            return np.zeros(t.shape + (2,), dtype=np.float64)
        flat = t.ravel()
        t_min = float(flat.min())
        t_max = float(flat.max())
        if not (math.isfinite(t_min) and math.isfinite(t_max)):
            raise ConfigurationError("`times` must be finite [s]; got NaN or infinite values.")
        if self._last_time is not None and t_min < self._last_time:
            raise ConfigurationError(
                f"`times` must not go backwards between calls [s]: earliest time {t_min!r} is before the "
                f"latest time of the previous call, {self._last_time!r}. Use a new ProbePositionError "
                f"to start again."
            )
        if self._drift[0] != 0.0 or self._drift[1] != 0.0:
            out = t[..., None] * self._drift
        else:
            out = np.zeros(t.shape + (2,), dtype=np.float64)
        if self._omega.size and np.any(self._sin_vectors):
            out += self._vibrations(t)
        if self._sigma > 0.0:
            out += self._random_walk(t)
        self._last_time = t_max
        return out

    def _vibrations(self, t: np.ndarray) -> np.ndarray:
        """Sum of the sinusoids at times ``t``; returns shape t.shape + (2,) [Å].

        A raster's times are separable, ``t[i, j] = a[i] + b[j]``; then :meth:`raster_vibrations`
        evaluates them with one small matrix product. Other time arrays are evaluated directly.
        """
        if t.ndim == 2 and min(t.shape) > 1:
            a = t[:, 0]
            b = t[0, :] - t[0, 0]
            scale = float(np.abs(t).max())
            if float(np.abs((a[:, None] + b[None, :]) - t).max()) <= 16.0 * np.finfo(np.float64).eps * scale:
                return self.raster_vibrations(a, b)
        return np.cos(np.multiply.outer(t, self._omega) + self._phases) @ self._sin_vectors

    def raster_vibrations(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The sinusoidal vibrations alone at the separable times ``t[i, j] = a[i] + b[j]`` [s].

        The angle-addition formula turns the evaluation into one small matrix product instead of a
        cosine per pixel and sinusoid. Unlike :meth:`displacement` this neither advances the random
        walk nor checks the time order: it is the vibration term of ``d(t)`` only.

        Parameters
        ----------
        a, b
            1-D time arrays [s], e.g. the line start times and the times within a line.

        Returns
        -------
        ndarray of shape (len(a), len(b), 2)
            Vibration displacement [Å], float64.
        """
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if a.ndim != 1 or b.ndim != 1:
            raise ConfigurationError(f"`a` and `b` must be 1-D time arrays [s], got shapes {a.shape} and {b.shape}.")
        pa = np.multiply.outer(a, self._omega) + self._phases  # (nx, K)
        pb = np.multiply.outer(b, self._omega)  # (ny, K)
        # cos(pa + pb) = cos pa cos pb − sin pa sin pb: one product over the 2K terms per component
        right = np.concatenate([np.cos(pb), -np.sin(pb)], axis=1).T  # (2K, ny)
        ca, sa = np.cos(pa), np.sin(pa)
        parts = [np.concatenate([ca * v, sa * v], axis=1) @ right for v in self._sin_vectors.T]
        return np.stack(parts, axis=-1)

    def _random_walk(self, t: np.ndarray) -> np.ndarray:
        """Advance the OU random walk through the times ``t`` (any order); returns shape t.shape + (2,).

        The samples are visited in time order (ties in the order of ``t.ravel()``), drawing one
        N(0, 1) pair per sample, so splitting a time series over several calls gives the same walk
        as one call. Uses the exact discretisation
        ``x_k = x_{k-1}·e^{−Δt/τ} + σ·sqrt(1 − e^{−2Δt/τ})·N(0, 1)`` for any spacing of the times.
        """
        kind, order = _time_order(t)
        if kind == "C":
            ts = t.ravel()
        elif kind == "F":
            ts = t.ravel(order="F")
        else:
            ts = t.ravel()[order]
        n = ts.size
        # Axis-major layout (2, n): the cumulative sums run along contiguous memory.
        x = self._rng.standard_normal((n, 2)).T.copy()
        prev = ts[0] if self._last_time is None else self._last_time
        u = np.diff(ts, prepend=prev)
        u /= self._tau  # steps in units of the correlation time, >= 0
        b = np.expm1(-2.0 * u)
        np.negative(b, out=b)
        np.sqrt(b, out=b)
        b *= self._sigma  # exact OU innovation std per step
        x *= b  # x holds the innovations w_k, overwritten below by the walk itself
        cum = np.cumsum(u)
        state = self._state
        start = 0
        while start < n:
            # First sample of a block: one explicit step (its own gap may be arbitrarily long).
            state = state * math.exp(-u[start]) + x[:, start]
            x[:, start] = state
            stop = max(int(np.searchsorted(cum, cum[start] + _OU_BLOCK, side="right")), start + 1)
            if stop > start + 1:
                # Closed form of x_k = a_k x_{k-1} + w_k within the block:
                # x_k = P_k (x_start + Σ_{start<m<=k} w_m / P_m),  P_k = exp(-(cum_k - cum_start)).
                inv_p = np.exp(cum[start + 1 : stop] - cum[start])
                block = x[:, start + 1 : stop]
                block *= inv_p
                np.cumsum(block, axis=1, out=block)
                block += state[:, None]
                block /= inv_p
                state = block[:, -1].copy()
            start = stop
        self._state = state
        if kind == "C":
            return x.T.reshape(t.shape + (2,))
        if kind == "F":
            return x.reshape((2,) + t.shape[::-1]).transpose(2, 1, 0)
        result = np.empty((n, 2), dtype=np.float64)
        result[order] = x.T
        return result.reshape(t.shape + (2,))


def _is_sorted(values: np.ndarray) -> bool:
    return values.size < 2 or bool(np.all(values[1:] >= values[:-1]))


def _time_order(t: np.ndarray) -> tuple[str, np.ndarray | None]:
    """How to visit ``t`` in stable time order (ties in the order of ``t.ravel()``).

    Returns ``("C", None)`` when ``t.ravel()`` is already in order, ``("F", None)`` for a raster
    frame of shape (nx, ny) with x fast (in order column by column, without ties), and otherwise
    ``("sort", indices)`` into ``t.ravel()``.
    """
    if _is_sorted(t.ravel()):
        return "C", None
    if t.ndim == 2:
        fortran = t.ravel(order="F")
        if fortran.size < 2 or bool(np.all(fortran[1:] > fortran[:-1])):
            return "F", None
    return "sort", np.argsort(t.ravel(), kind="stable")


@dataclass(frozen=True, eq=False)
class ScanPath:
    """Nominal and actual probe positions of one raster frame.

    The arrays are read-only.

    Parameters
    ----------
    nominal
        Positions the scan was asked for, ndarray of shape (nx, ny, 2) [Å].
    actual
        Positions where the probe really landed, ndarray of shape (nx, ny, 2) [Å].
    times
        Arrival time of the probe at each pixel, ndarray of shape (nx, ny) [s].
    end_time
        Instrument time after the last line's flyback, ``t0 + frame_time`` [s]; the next frame can
        start then.
    """

    nominal: np.ndarray
    actual: np.ndarray
    times: np.ndarray
    end_time: float

    def __post_init__(self) -> None:
        nominal = np.array(self.nominal, dtype=np.float64)
        actual = np.array(self.actual, dtype=np.float64)
        times = np.array(self.times, dtype=np.float64)
        if nominal.ndim != 3 or nominal.shape[-1] != 2:
            raise ConfigurationError(f"`nominal` must have shape (nx, ny, 2) [Å], got shape {nominal.shape}.")
        if actual.shape != nominal.shape:
            raise ConfigurationError(
                f"`actual` must have the shape of `nominal` {nominal.shape} [Å], got shape {actual.shape}."
            )
        if times.shape != nominal.shape[:2]:
            raise ConfigurationError(f"`times` must have shape {nominal.shape[:2]} [s], got shape {times.shape}.")
        for name, arr in (("nominal", nominal), ("actual", actual), ("times", times)):
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "end_time", require_finite("end_time", self.end_time, "s"))

    @property
    def pixels(self) -> tuple[int, int]:
        """Frame size ``(nx, ny)``."""
        return (int(self.nominal.shape[0]), int(self.nominal.shape[1]))

    @property
    def start_time(self) -> float:
        """Arrival time at the first pixel [s]."""
        return float(self.times[0, 0])

    @property
    def displacement(self) -> np.ndarray:
        """``actual − nominal``, ndarray of shape (nx, ny, 2) [Å]."""
        return self.actual - self.nominal


def scan_path(
    origin: tuple[float, float],
    extent: tuple[float, float],
    pixels: tuple[int, int],
    dose: Dose,
    error: ProbePositionError | None,
    noise: ScanNoise,
    t0: float = 0.0,
) -> ScanPath:
    """Probe positions of one raster frame, nominal and as actually reached.

    Nominal pixel ``(i, j)`` sits at ``(x0 + i·extent_x/nx, y0 + j·extent_y/ny)`` (end point excluded).
    The actual position applies, in order:

    1. the calibration errors of ``noise`` relative to the field-of-view origin:
       ``x' = x0 + (x − x0)(1 + sx) + (y − y0)·tan(shear)``, ``y' = y0 + (y − y0)(1 + sy)``;
    2. the flyback transient ``flyback_amplitude·(extent_x/nx)·exp(−i·τ/τc)`` along +x;
    3. ``error.displacement(times)`` when ``error`` is given (this advances ``error``).

    With ``ScanNoise.none()`` and ``error=None`` the actual positions equal the nominal ones exactly.

    Parameters
    ----------
    origin
        Corner ``(x0, y0)`` of the field of view [Å].
    extent
        Size of the field of view ``(Lx, Ly)`` [Å].
    pixels
        Frame size ``(nx, ny)``; x is the fast scan axis.
    dose
        Beam dose; supplies the dwell and flyback times [s].
    error
        Time-dependent probe-position error ``d(t)``, or None for none. Its own ``noise`` governs
        drift, random walk and vibrations.
    noise
        Supplies the static distortions: ``scale_error``, ``shear`` and the flyback transient.
    t0
        Instrument time at which the frame starts [s]; pass the previous frame's ``end_time`` for
        back-to-back frames.

    Returns
    -------
    ScanPath
        Nominal and actual positions, pixel times and the frame's end time.
    """
    x0, y0 = require_pair("origin", origin, "Å", positive=False)
    lx, ly = require_pair("extent", extent, "Å")
    nx, ny = _require_pixels("pixels", pixels)
    dose = _require_dose(dose)
    if error is not None and not isinstance(error, ProbePositionError):
        raise ConfigurationError(
            f"`error` must be a ProbePositionError or None, got {type(error).__name__}: {error!r}."
        )
    if not isinstance(noise, ScanNoise):
        raise ConfigurationError(f"`noise` must be a ScanNoise, got {type(noise).__name__}: {noise!r}.")
    t0 = require_finite("t0", t0, "s")

    times = pixel_times((nx, ny), dose, t0)
    px, py = lx / nx, ly / ny
    rel_x = np.arange(nx, dtype=np.float64) * px  # (nx,)
    rel_y = np.arange(ny, dtype=np.float64) * py  # (ny,)

    nominal = np.empty((nx, ny, 2), dtype=np.float64)
    nominal[..., 0] = (x0 + rel_x)[:, None]
    nominal[..., 1] = (y0 + rel_y)[None, :]

    sx, sy = noise.scale_error
    shear = math.tan(math.radians(noise.shear))
    actual = np.empty_like(nominal)
    # Relative coordinates first, so that zero errors reproduce the nominal positions bit for bit.
    actual[..., 0] = x0 + (rel_x * (1.0 + sx))[:, None] + (rel_y * shear)[None, :]
    actual[..., 1] = (y0 + rel_y * (1.0 + sy))[None, :]
    if noise.flyback_amplitude != 0.0:
        since_line_start = np.arange(nx, dtype=np.float64) * dose.dwell_time
        kick = noise.flyback_amplitude * px * np.exp(-since_line_start / noise.flyback_time_constant)
        actual[..., 0] += kick[:, None]
    if error is not None:
        actual += error.displacement(times)
    return ScanPath(nominal=nominal, actual=actual, times=times, end_time=t0 + frame_time((nx, ny), dose))
