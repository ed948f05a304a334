"""The probe: its wave function and intensity from the optics, on a periodic grid."""

from __future__ import annotations

import functools

import numpy as np

from ..optics import Optics

__all__ = ["probe_intensity", "probe_intensity_otf", "fft_friendly"]


def fft_friendly(n: int) -> int:
    """Smallest integer >= ``n`` whose only prime factors are 2, 3 and 5 (fast FFT sizes)."""
    n = max(int(n), 1)
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _spatial_frequencies(gpts: tuple[int, int], sampling: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    kx = np.fft.fftfreq(gpts[0], d=sampling[0])
    ky = np.fft.fftfreq(gpts[1], d=sampling[1])
    return kx[:, None], ky[None, :]


def probe_intensity_otf(optics: Optics, gpts: tuple[int, int], sampling: tuple[float, float]) -> np.ndarray:
    """Fourier transform of the probe intensity, normalised to 1 at zero frequency (cached, read-only).

    The last few (optics, grid) combinations are kept: a data-generation run or an env renders many
    structures on the same grid, and the two FFTs cost tens of milliseconds on a 256² grid.

    The probe is ``ψ(r) = F⁻¹[A(k) exp(−iχ(k))]`` with a soft-edged aperture A of semi-angle
    ``optics.semiangle_cutoff`` and the aberration phase
    ``χ(k) = (2π/λ) [½ C10 (λk)² + ¼ C30 (λk)⁴]``, ``C10 = −defocus`` (abTEM's convention).

    Parameters
    ----------
    optics
        Probe-forming optics.
    gpts
        Grid points (nx, ny) of the periodic cell.
    sampling
        Grid spacing (dx, dy) [Å].

    Returns
    -------
    ndarray of shape (nx, ny), complex128
        ``FFT(|ψ|²)`` scaled so that element [0, 0] is 1.
    """
    return _probe_intensity_otf(optics, (int(gpts[0]), int(gpts[1])), (float(sampling[0]), float(sampling[1])))


@functools.lru_cache(maxsize=8)
def _probe_intensity_otf(optics: Optics, gpts: tuple[int, int], sampling: tuple[float, float]) -> np.ndarray:
    wavelength = optics.wavelength
    kx, ky = _spatial_frequencies(gpts, sampling)
    k2 = kx**2 + ky**2
    alpha = np.sqrt(k2) * wavelength  # scattering angle [rad]
    cutoff = optics.semiangle_cutoff * 1e-3
    # Soft aperture edge one reciprocal pixel wide, as abTEM's soft aperture.
    dk = max(1.0 / (gpts[0] * sampling[0]), 1.0 / (gpts[1] * sampling[1])) * wavelength
    aperture = np.clip((cutoff - alpha) / dk + 0.5, 0.0, 1.0)
    chi = 2 * np.pi / wavelength * (0.5 * (-optics.defocus) * alpha**2 + 0.25 * optics.Cs * alpha**4)
    psi = np.fft.ifft2(aperture * np.exp(-1j * chi))
    intensity = np.abs(psi) ** 2
    otf = np.fft.fft2(intensity)
    otf /= otf[0, 0]
    otf.flags.writeable = False
    return otf


def probe_intensity(optics: Optics, gpts: tuple[int, int], sampling: tuple[float, float]) -> np.ndarray:
    """Probe intensity centred at the origin of a periodic grid, normalised to unit integral [1/Å²].

    Returns
    -------
    ndarray of shape (nx, ny), float64
    """
    otf = probe_intensity_otf(optics, gpts, sampling)
    return np.fft.ifft2(otf).real / (sampling[0] * sampling[1])
