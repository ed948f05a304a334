"""Ground truth: what the twin knows and the detectors do not record."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dynamics.base import Event
from .samples.sample import Sample

__all__ = ["AcquisitionTruth", "DoseMap", "Truth"]


@dataclass(frozen=True, eq=False)
class AcquisitionTruth:
    """The noise-free signal and the real probe path of one acquisition.

    Parameters
    ----------
    kind
        ``"image"``, ``"spectrum"`` or ``"spectrum_image"``.
    noise_free
        Expected signal at each position (fraction of the beam; per channel for spectra).
    nominal_positions, actual_positions
        Where the probe was sent and where it landed, shape (..., 2) [Å].
    times
        Start time of each position [s].
    """

    kind: str
    noise_free: np.ndarray
    nominal_positions: np.ndarray
    actual_positions: np.ndarray
    times: np.ndarray

    @property
    def distortion(self) -> np.ndarray:
        """Probe position error ``actual − nominal``, shape (..., 2) [Å]."""
        return self.actual_positions - self.nominal_positions


@dataclass(frozen=True, eq=False)
class DoseMap:
    """Electron dose delivered to the sample, per area.

    Parameters
    ----------
    array
        Dose, ndarray of shape (nx, ny) over the periodic cell [e/Å²].
    sampling
        Grid spacing (dx, dy) [Å].
    """

    array: np.ndarray
    sampling: tuple[float, float]

    @property
    def total_electrons(self) -> float:
        """Electrons delivered in all [e⁻]."""
        return float(self.array.sum() * self.sampling[0] * self.sampling[1])


@dataclass(frozen=True, eq=False)
class Truth:
    """The full ground truth at one instant.

    Parameters
    ----------
    sample
        The sample as it is now (positions, species, site classes).
    time
        Instrument clock [s].
    events
        Every event so far, in time order.
    dose_map
        Dose delivered so far.
    last_acquisition
        Noise-free signal and real probe path of the latest acquisition, if any.
    snapshots
        ``(time [s], sample)`` at the start and after every change, oldest first; the most
        recent ``MAX_SNAPSHOTS`` are kept (the event log keeps every event).
    """

    sample: Sample
    time: float
    events: tuple[Event, ...]
    dose_map: DoseMap
    last_acquisition: AcquisitionTruth | None
    snapshots: tuple[tuple[float, Sample], ...] = ()
