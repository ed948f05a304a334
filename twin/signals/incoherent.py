"""Incoherent linear imaging: ``I(r) = Σ_atoms w_Z · (P ⊗ G_Z)(r − r_atom)``.

``P`` is the probe intensity computed from the optics, ``w_Z`` is the integrated detector signal
of one atom of element Z (its detector cross-section [Å²]) and ``G_Z`` is a Gaussian of standard
deviation ``blur_Z`` [Å] that stands for the finite width of the atom's scattering (its
potential and thermal smearing). Both are calibrated per element against abTEM
(:mod:`.calibration`). The result is the fraction of incident electrons the detector collects.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..optics import Optics
from .probe import probe_intensity_otf

__all__ = ["incoherent_image", "deposit_bilinear"]


def deposit_bilinear(
    xy: np.ndarray,
    gpts: tuple[int, int],
    sampling: tuple[float, float],
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Spread ``weights`` (default 1) at ``xy`` (n, 2) [Å] onto a periodic grid (cloud-in-cell)."""
    base = np.ones(len(xy)) if weights is None else np.asarray(weights, dtype=np.float64)
    fx = xy[:, 0] / sampling[0]
    fy = xy[:, 1] / sampling[1]
    ix = np.floor(fx).astype(np.int64)
    iy = np.floor(fy).astype(np.int64)
    tx = fx - ix
    ty = fy - iy
    grid = np.zeros(gpts[0] * gpts[1], dtype=np.float64)
    for dx, wx in ((0, 1 - tx), (1, tx)):
        for dy, wy in ((0, 1 - ty), (1, ty)):
            flat = ((ix + dx) % gpts[0]) * gpts[1] + (iy + dy) % gpts[1]
            grid += np.bincount(flat, weights=base * wx * wy, minlength=grid.size)
    return grid.reshape(gpts)


def point_spectrum(xy: np.ndarray, gpts: tuple[int, int], sampling: tuple[float, float]) -> np.ndarray:
    """Fourier transform of a sum of unit point sources at ``xy`` (n, 2) [Å] on a periodic grid.

    The points are deposited bilinearly and the deposition's low-pass (sinc² per axis) is divided
    out, so the result approximates ``Σ_j exp(−2πi k·r_j)`` at the grid's frequencies.
    """
    kx = np.fft.fftfreq(gpts[0], d=sampling[0])[:, None]
    ky = np.fft.fftfreq(gpts[1], d=sampling[1])[None, :]
    deposit_tf = (np.sinc(kx * sampling[0]) * np.sinc(ky * sampling[1])) ** 2
    return np.fft.fft2(deposit_bilinear(np.asarray(xy, dtype=np.float64), gpts, sampling)) / np.maximum(deposit_tf, 1e-6)


def squared_frequencies(gpts: tuple[int, int], sampling: tuple[float, float]) -> np.ndarray:
    """|k|² on the FFT grid [1/Å²], ndarray of shape gpts."""
    kx = np.fft.fftfreq(gpts[0], d=sampling[0])[:, None]
    ky = np.fft.fftfreq(gpts[1], d=sampling[1])[None, :]
    return kx**2 + ky**2


def incoherent_image(
    groups: Sequence[np.ndarray],
    weights: Sequence[float],
    blurs: Sequence[float],
    optics: Optics,
    gpts: tuple[int, int],
    sampling: tuple[float, float],
) -> np.ndarray:
    """Render an incoherent (HAADF-like) image of point scatterers on a periodic grid.

    Parameters
    ----------
    groups
        One ndarray of shape (n_g, 2) of in-plane atom positions [Å] per element.
    weights
        Detector cross-section per group [Å²].
    blurs
        Gaussian object width per group [Å].
    optics
        Probe-forming optics.
    gpts
        Grid (nx, ny) covering the periodic cell.
    sampling
        Grid spacing (dx, dy) [Å].

    Returns
    -------
    ndarray of shape gpts, float64
        Fraction of the incident beam collected, for a probe at each grid point.
    """
    # The image is real: work on the half spectrum of the real FFT (rfft2), half the cost of the
    # full complex transforms, and return to real space with irfft2.
    half = gpts[1] // 2 + 1
    k2 = squared_frequencies(gpts, sampling)[:, :half]
    kx = np.fft.fftfreq(gpts[0], d=sampling[0])[:, None]
    ky = np.fft.rfftfreq(gpts[1], d=sampling[1])[None, :]
    deposit_tf = np.maximum((np.sinc(kx * sampling[0]) * np.sinc(ky * sampling[1])) ** 2, 1e-6)
    spectrum = np.zeros((gpts[0], half), dtype=np.complex128)
    for xy, weight, blur in zip(groups, weights, blurs, strict=True):
        if len(xy):
            deposit = deposit_bilinear(np.asarray(xy, dtype=np.float64), gpts, sampling)
            spectrum += np.fft.rfft2(deposit) * (weight * np.exp(-2.0 * np.pi**2 * blur**2 * k2) / deposit_tf)
    otf = probe_intensity_otf(optics, gpts, sampling)[:, :half]
    return np.fft.irfft2(spectrum * otf, s=gpts) / (sampling[0] * sampling[1])
