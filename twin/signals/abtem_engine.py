"""The ``abtem`` imaging engine: PRISM (abTEM ``SMatrix``) scans of the sample's potential.

abTEM is the reference physics. Its image of a periodic cell is computed once on a regular scan
grid finer than the Nyquist step (the incoherent image is band-limited by the probe at
``2α/λ``), cached on disk, and evaluated at the probe's real positions by interpolation, like
the fast engine. ``import abtem`` costs seconds, so it is imported on first use only.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..cache import cache_key, cached_array
from ..detectors import AnnularDetector
from ..optics import Optics
from ..samples.sample import Sample
from .field import PeriodicField
from .probe import fft_friendly

__all__ = ["AbtemEngine", "abtem_scan_image", "potential_gpts", "import_abtem"]

#: Bumped whenever the way abTEM is called changes, so old cache entries are not reused.
ABTEM_METHOD_VERSION = 1
#: Cells at least this long [Å] in both directions use PRISM interpolation 2 (the probe window is
#: half the cell); smaller cells use interpolation 1 so the probe is not truncated.
PRISM_INTERPOLATION_MIN_CELL = 20.0
#: Scan step relative to the Nyquist step ``λ/(4α)`` of the incoherent image.
SCAN_OVERSAMPLING = 2.0

_ABTEM: Any = None


def import_abtem() -> Any:
    """Import abTEM once per process, configured for CPU without progress bars."""
    global _ABTEM
    if _ABTEM is None:
        os.environ.setdefault("TQDM_DISABLE", "1")
        import abtem

        abtem.config.set({"device": "cpu", "diagnostics.progress_bar": False, "precision": "float32"})
        _ABTEM = abtem
    return _ABTEM


def potential_gpts(extent: tuple[float, float], optics: Optics, detector: AnnularDetector) -> tuple[int, int]:
    """FFT-friendly, even grid sizes fine enough for the detector's outer angle.

    abTEM band-limits the wave to 2/3 of the grid's Nyquist frequency, so the largest simulated
    angle is ``λ / (3 dx)``; the grid spacing must satisfy ``dx <= λ / (3 θ_outer)``.
    """
    dx_max = optics.wavelength / (3.0 * detector.outer * 1e-3) * 0.98
    out = []
    for length in extent:
        n = fft_friendly(math.ceil(length / dx_max))
        while n % 2:
            n = fft_friendly(n + 1)
        out.append(n)
    return (out[0], out[1])


def abtem_scan_image(
    sample: Sample,
    optics: Optics,
    detector: AnnularDetector,
    scan_gpts: tuple[int, int],
    interpolation: int | None = None,
    slice_thickness: float = 1.0,
) -> np.ndarray:
    """Scan the whole periodic cell with abTEM PRISM and an annular detector.

    Parameters
    ----------
    sample
        The sample; its cell is periodic in x and y.
    optics, detector
        Probe and detector descriptions.
    scan_gpts
        Scan grid (nx, ny); positions ``(i Lx/nx, j Ly/ny)``, endpoint excluded.
    interpolation
        PRISM interpolation factor; by default 2 for cells of at least 20 Å, else 1.
    slice_thickness
        Multislice slice thickness [Å].

    Returns
    -------
    ndarray of shape scan_gpts, float64
        Fraction of the incident electrons collected by the detector.
    """
    abtem = import_abtem()
    extent = sample.extent
    if interpolation is None:
        interpolation = 2 if min(extent) >= PRISM_INTERPOLATION_MIN_CELL else 1
    gpts = potential_gpts(extent, optics, detector)
    gpts = tuple(fft_friendly(g) if g % interpolation == 0 else g + (interpolation - g % interpolation) for g in gpts)
    potential = abtem.Potential(
        sample.atoms,
        gpts=gpts,
        slice_thickness=slice_thickness,
        projection="infinite",
        parametrization="lobato",
    )
    s_matrix = abtem.SMatrix(
        potential=potential,
        energy=optics.energy,
        semiangle_cutoff=optics.semiangle_cutoff,
        interpolation=interpolation,
    )
    ctf = abtem.CTF(
        semiangle_cutoff=optics.semiangle_cutoff,
        energy=optics.energy,
        aberration_coefficients={"C10": -optics.defocus, "C30": optics.Cs},
    )
    scan = abtem.GridScan(start=(0.0, 0.0), end=extent, gpts=scan_gpts, endpoint=False)
    detector_ = abtem.AnnularDetector(inner=detector.inner, outer=detector.outer)
    image = s_matrix.scan(scan=scan, detectors=detector_, ctf=ctf).compute()
    return np.asarray(image.array, dtype=np.float64)


class AbtemEngine:
    """Imaging engine backed by abTEM PRISM; gives HAADF and ABF (any annular detector)."""

    name = "abtem"

    def scan_gpts(self, sample: Sample, optics: Optics) -> tuple[int, int]:
        """Scan grid over the cell, ``SCAN_OVERSAMPLING`` times finer than the Nyquist step."""
        step = optics.nyquist_sampling / SCAN_OVERSAMPLING
        return (math.ceil(sample.extent[0] / step), math.ceil(sample.extent[1] / step))

    def intensity_field(self, sample: Sample, optics: Optics, detector: AnnularDetector) -> PeriodicField:
        """The noise-free detector signal over the whole cell, cached on disk by content hash."""
        scan_gpts = self.scan_gpts(sample, optics)
        key = cache_key(
            "abtem-image",
            {
                "sample": sample.content_hash(),
                "optics": [optics.energy, optics.semiangle_cutoff, optics.defocus, optics.Cs],
                "detector": [detector.inner, detector.outer],
                "scan_gpts": scan_gpts,
                "method": ABTEM_METHOD_VERSION,
            },
        )
        array = cached_array(key, lambda: abtem_scan_image(sample, optics, detector, scan_gpts))
        sampling = (sample.extent[0] / scan_gpts[0], sample.extent[1] / scan_gpts[1])
        return PeriodicField(array, sampling)
