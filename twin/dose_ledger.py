"""The dose ledger: electrons delivered to each part of the sample."""

from __future__ import annotations

import math

import numpy as np

from .optics import Optics
from .signals.incoherent import deposit_bilinear
from .signals.probe import probe_intensity_otf
from .truth import DoseMap

__all__ = ["DoseLedger"]


class DoseLedger:
    """Accumulates the electrons delivered at probe positions on a grid over the periodic cell.

    Electrons are binned at the real probe positions; :meth:`dose_map` spreads them with the
    probe's intensity profile, so the map is the dose the sample really received.

    Parameters
    ----------
    extent
        Cell size (x, y) [Å].
    optics
        Probe-forming optics (for the probe profile).
    sampling
        Requested grid spacing [Å].
    """

    def __init__(self, extent: tuple[float, float], optics: Optics, sampling: float = 0.2) -> None:
        self.gpts = (max(1, math.ceil(extent[0] / sampling)), max(1, math.ceil(extent[1] / sampling)))
        self.sampling = (extent[0] / self.gpts[0], extent[1] / self.gpts[1])
        self.optics = optics
        self._electrons = np.zeros(self.gpts, dtype=np.float64)

    @property
    def total_electrons(self) -> float:
        """Electrons delivered in all [e⁻]."""
        return float(self._electrons.sum())

    def add(self, positions: np.ndarray, electrons: np.ndarray | float) -> None:
        """Record ``electrons`` [e⁻] delivered at each of ``positions`` (n, 2) [Å]."""
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 2)
        weights = np.broadcast_to(np.asarray(electrons, dtype=np.float64), (len(positions),))
        extent = np.array([self.gpts[0] * self.sampling[0], self.gpts[1] * self.sampling[1]])
        wrapped = np.mod(positions, extent)
        self._electrons += deposit_bilinear(wrapped, self.gpts, self.sampling, weights)

    def dose_map(self) -> DoseMap:
        """Dose per area over the cell, spread by the probe profile [e/Å²]."""
        otf = probe_intensity_otf(self.optics, self.gpts, self.sampling)
        spread = np.fft.ifft2(np.fft.fft2(self._electrons) * otf).real
        area = self.sampling[0] * self.sampling[1]
        return DoseMap(np.maximum(spread, 0.0) / area, self.sampling)

