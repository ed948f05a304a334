"""The ``fast`` diffraction engine: phase-object CBED patterns and analytic CoM maps.

A pattern at probe position r0 is ``|FFT[ψ(r − r0) · exp(iσV_p(r))]|²`` on a window whose
reciprocal sampling equals the camera's (window side ``L = λ / Δθ``). The potential is band-limited
at 2/3 of the window's Nyquist frequency, as multislice codes do, so the camera (the central 2/3
of the transform) sees no aliasing. Diffraction disks sit at the reciprocal lattice with
structure-factor intensities and overlap or not according to α against λ/(2d); strain and local
fields move them because they are in the atom positions and the potential.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from scipy import ndimage

from ..detectors import DiffractionCamera
from ..optics import Optics
from ..samples.sample import Sample
from .field import PeriodicField
from .phase_object import PhaseObject, projected_potential_spectrum
from .probe import fft_friendly

__all__ = ["FastDiffractionEngine", "DiffractionWindow"]

#: Patterns computed per vectorised batch.
BATCH = 16


@dataclass(frozen=True)
class DiffractionWindow:
    """The real-space window whose Fourier transform lands on the camera pixels.

    Parameters
    ----------
    gpts
        Window side [pixels], at least 1.5× the camera so the camera lies within the band limit.
    sampling
        Window pixel size [Å].
    """

    gpts: int
    sampling: float

    @classmethod
    def for_camera(cls, optics: Optics, camera: DiffractionCamera) -> DiffractionWindow:
        """The window matched to ``camera``: side ``λ/Δθ`` and ``≥ 1.5 ×`` its pixels."""
        n = fft_friendly(math.ceil(1.5 * camera.pixels))
        while n % 2:
            n = fft_friendly(n + 1)
        side = optics.wavelength / (camera.angular_sampling * 1e-3)
        return cls(n, side / n)

    @property
    def k_cutoff(self) -> float:
        """Band limit of the potential [1/Å]: 2/3 of the window's Nyquist frequency."""
        return (2.0 / 3.0) / (2.0 * self.sampling)

    @cached_property
    def _offsets(self) -> np.ndarray:
        axis = (np.arange(self.gpts) - self.gpts // 2) * self.sampling
        grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1)
        grid.setflags(write=False)
        return grid

    def offsets(self) -> np.ndarray:
        """Window pixel positions relative to the probe, ndarray of shape (n, n, 2) [Å] (read-only)."""
        return self._offsets


@lru_cache(maxsize=8)
def centred_probe(optics: Optics, window: DiffractionWindow) -> np.ndarray:
    """Probe wave function on the window, centred on pixel ``n // 2``, with unit total intensity."""
    n = window.gpts
    k = np.fft.fftfreq(n, d=window.sampling)
    alpha = np.sqrt(k[:, None] ** 2 + k[None, :] ** 2) * optics.wavelength
    cutoff = optics.semiangle_cutoff * 1e-3
    dk = optics.wavelength / (n * window.sampling)
    aperture = np.clip((cutoff - alpha) / dk + 0.5, 0.0, 1.0)
    chi = 2 * np.pi / optics.wavelength * (0.5 * (-optics.defocus) * alpha**2 + 0.25 * optics.Cs * alpha**4)
    psi = np.fft.fftshift(np.fft.ifft2(aperture * np.exp(-1j * chi)))
    psi = psi / np.sqrt(np.sum(np.abs(psi) ** 2))
    psi.setflags(write=False)
    return psi


class FastDiffractionEngine:
    """Phase-object diffraction engine: patterns in milliseconds, CoM maps in one FFT."""

    name = "fast"

    def __init__(self, cache_size: int = 4) -> None:
        self._cache: OrderedDict[tuple, tuple[PhaseObject, PeriodicField]] = OrderedDict()
        self._cache_size = cache_size

    def phase_object(self, sample: Sample, optics: Optics, camera: DiffractionCamera) -> PhaseObject:
        """The sample's phase object, band-limited for ``camera`` (cached per sample state)."""
        return self._state(sample, optics, camera)[0]

    def _state(self, sample: Sample, optics: Optics, camera: DiffractionCamera) -> tuple[PhaseObject, PeriodicField]:
        window = DiffractionWindow.for_camera(optics, camera)
        key = (sample.content_hash(), optics, window)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        step = min(window.sampling / 2.0, 0.1)
        extent = sample.extent
        gpts = (fft_friendly(math.ceil(extent[0] / step)), fft_friendly(math.ceil(extent[1] / step)))
        sampling = (extent[0] / gpts[0], extent[1] / gpts[1])
        phase_object = PhaseObject(projected_potential_spectrum(sample, gpts, sampling, window.k_cutoff), sampling, optics)
        state = (phase_object, phase_object.phase())
        self._cache[key] = state
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return state

    def center_of_mass(self, sample: Sample, optics: Optics, camera: DiffractionCamera):  # noqa: ANN201
        """CoM maps and per-electron variances [mrad, mrad²]; see :meth:`PhaseObject.center_of_mass`."""
        return self.phase_object(sample, optics, camera).center_of_mass()

    def patterns(
        self, sample: Sample, optics: Optics, camera: DiffractionCamera, positions: np.ndarray
    ) -> np.ndarray:
        """Noise-free diffraction patterns at probe positions.

        Parameters
        ----------
        positions
            Probe positions, ndarray of shape (..., 2) [Å].

        Returns
        -------
        ndarray of shape positions.shape[:-1] + (pixels, pixels), float64
            Fraction of the incident electrons on each camera pixel; axes (θx, θy), the beam on
            pixel ``pixels // 2``.
        """
        positions = np.asarray(positions, dtype=np.float64)
        flat = positions.reshape(-1, 2)
        window = DiffractionWindow.for_camera(optics, camera)
        _, phase = self._state(sample, optics, camera)
        psi = centred_probe(optics, window)
        offsets = window.offsets()
        n, m = window.gpts, camera.pixels
        lo = n // 2 - m // 2
        out = np.empty((len(flat), m, m))
        coords_scale = np.array(phase.sampling)
        for start in range(0, len(flat), BATCH):
            batch = flat[start : start + BATCH]
            points = batch[:, None, None, :] + offsets[None]
            coords = np.moveaxis(points / coords_scale, -1, 0).reshape(2, -1)
            phi = ndimage.map_coordinates(phase._coefficients, coords, order=3, mode="grid-wrap", prefilter=False)
            exit_wave = psi[None] * np.exp(1j * phi.reshape(len(batch), n, n))
            amplitude = np.fft.fftshift(np.fft.fft2(exit_wave), axes=(-2, -1))
            out[start : start + len(batch)] = np.abs(amplitude[:, lo : lo + m, lo : lo + m]) ** 2 / (n * n)
        return out.reshape(positions.shape[:-1] + (m, m))


