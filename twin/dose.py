"""Beam dose descriptions: probe current and timing."""

from __future__ import annotations

from dataclasses import dataclass

from scipy import constants as _c

from .validation import require_non_negative, require_positive

__all__ = ["Dose", "electrons_per_position"]


def electrons_per_position(current: float, dwell_time: float) -> float:
    """Mean number of electrons delivered at one probe position, ``N = I τ / e``.

    Parameters
    ----------
    current
        Probe current [pA].
    dwell_time
        Dwell time [s].

    Returns
    -------
    float
        Electrons per position [e⁻]. For example 30 pA × 16 µs ≈ 3000 e⁻.
    """
    return require_non_negative("current", current, "pA") * 1e-12 * require_non_negative(
        "dwell_time", dwell_time, "s"
    ) / _c.e


@dataclass(frozen=True)
class Dose:
    """Probe current and scan timing.

    Parameters
    ----------
    current
        Probe current [pA]. Typical 10–50 pA.
    dwell_time
        Dwell time per probe position [s]. Typical 1–32 µs for imaging.
    flyback_time
        Time for the probe to return to the start of the next scan line [s]. Typical 60 µs.
    """

    current: float = 30.0
    dwell_time: float = 16e-6
    flyback_time: float = 60e-6

    def __post_init__(self) -> None:
        object.__setattr__(self, "current", require_positive("current", self.current, "pA"))
        object.__setattr__(self, "dwell_time", require_positive("dwell_time", self.dwell_time, "s"))
        object.__setattr__(self, "flyback_time", require_non_negative("flyback_time", self.flyback_time, "s"))

    @property
    def electrons_per_position(self) -> float:
        """Mean electrons per probe position ``I τ / e`` [e⁻]."""
        return electrons_per_position(self.current, self.dwell_time)
