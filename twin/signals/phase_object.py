"""Phase-object approximation: projected potential, transmission function and centre of mass.

For a thin sample the exit wave is ``ψ(r − r0) · exp(iσV_p(r))``, with ``V_p`` the projected
potential [V·Å] and ``σ`` the interaction parameter [rad/(V·Å)]. This is a single multislice
slice without propagation, accurate for 2-D materials at 60–300 kV.

Its centre of mass follows exactly from Ehrenfest's theorem: the mean transverse wave vector is
``⟨k⟩ = (1/2π) ∫ |ψ(r − r0)|² ∇φ(r) dr`` with ``φ = σV_p``, so the CoM map over every probe position is
one FFT: the probe intensity correlated with the phase gradient (PHYSICS.md: "the CoM shift is
proportional to the probe-averaged gradient of the projected potential").

``V_p`` is built in Fourier space from abTEM's Lobato parametrisation of each element's projected
scattering factor (the exact 2-D Fourier transform of its projected potential).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..optics import Optics
from ..samples.sample import Sample
from .field import PeriodicField
from .incoherent import point_spectrum, squared_frequencies
from .probe import probe_intensity_otf

__all__ = ["interaction_parameter", "projected_potential_spectrum", "PhaseObject"]


def interaction_parameter(energy: float) -> float:
    """Interaction parameter σ [rad/(V·Å)] at beam energy ``energy`` [eV] (abTEM's ``energy2sigma``)."""
    from .abtem_engine import import_abtem

    import_abtem()
    from abtem.core.energy import energy2sigma

    return float(energy2sigma(energy))


@lru_cache(maxsize=64)
def _scattering_factor(element: str):  # noqa: ANN202 - a callable of |k|² [1/Å²] -> [V·Å³]
    from .abtem_engine import import_abtem

    import_abtem()
    from abtem.parametrizations import LobatoParametrization

    return LobatoParametrization().projected_scattering_factor(element)


def projected_potential_spectrum(
    sample: Sample, gpts: tuple[int, int], sampling: tuple[float, float], k_cutoff: float
) -> np.ndarray:
    """DFT of the projected potential sampled on a periodic grid, band-limited at ``k_cutoff`` [1/Å].

    Returns
    -------
    ndarray of shape gpts, complex128
        ``np.fft.fft2`` of ``V_p`` [V·Å] on the grid.
    """
    k2 = squared_frequencies(gpts, sampling)
    spectrum = np.zeros(gpts, dtype=np.complex128)
    elements = sample.elements
    xy = sample.positions[:, :2]
    for element in np.unique(elements):
        factor = _scattering_factor(str(element))(k2)
        spectrum += factor * point_spectrum(xy[elements == element], gpts, sampling)
    spectrum /= sampling[0] * sampling[1]
    spectrum[k2 > k_cutoff**2] = 0.0
    return spectrum


@dataclass(frozen=True, eq=False)
class PhaseObject:
    """The phase-object description of one sample state on a periodic grid.

    Parameters
    ----------
    potential_spectrum
        DFT of ``V_p`` [V·Å] on the grid.
    sampling
        Grid spacing (dx, dy) [Å].
    optics
        The probe-forming optics (for σ, λ and the probe).
    """

    potential_spectrum: np.ndarray
    sampling: tuple[float, float]
    optics: Optics

    @property
    def gpts(self) -> tuple[int, int]:
        """Grid size (nx, ny)."""
        return self.potential_spectrum.shape  # type: ignore[return-value]

    def potential(self) -> PeriodicField:
        """Projected potential ``V_p`` [V·Å] as a field."""
        return PeriodicField(np.fft.ifft2(self.potential_spectrum).real, self.sampling, units="V·Å")

    def phase(self) -> PeriodicField:
        """Transmission phase ``σ V_p`` [rad] as a field."""
        sigma = interaction_parameter(self.optics.energy)
        return PeriodicField(sigma * np.fft.ifft2(self.potential_spectrum).real, self.sampling, units="rad")

    def _gradient_spectra(self) -> tuple[np.ndarray, np.ndarray]:
        kx = np.fft.fftfreq(self.gpts[0], d=self.sampling[0])[:, None]
        ky = np.fft.fftfreq(self.gpts[1], d=self.sampling[1])[None, :]
        sigma = interaction_parameter(self.optics.energy)
        return 2j * np.pi * kx * sigma * self.potential_spectrum, 2j * np.pi * ky * sigma * self.potential_spectrum

    def center_of_mass(self) -> tuple[PeriodicField, PeriodicField, PeriodicField, PeriodicField]:
        """CoM deflection maps and their per-electron variances, for a probe at any position.

        Returns
        -------
        com_x, com_y
            Mean deflection angle along x and y [mrad].
        var_x, var_y
            Variance of one electron's deflection angle along x and y [mrad²]: the probe's own
            angular spread plus the spread of the phase gradient under it. (The cross term
            between them vanishes for an aberration-free probe and is neglected otherwise.)
        """
        wavelength = self.optics.wavelength
        # Correlation with the probe intensity P(r − r0): multiply by conj(FFT(P)).
        otf = np.conj(probe_intensity_otf(self.optics, self.gpts, self.sampling))
        out = []
        alpha = self.optics.semiangle_cutoff
        probe_spread = alpha**2 / 4.0  # second moment of a uniform disk of radius α, per axis [mrad²]
        for grad_spectrum in self._gradient_spectra():
            gradient = np.fft.ifft2(grad_spectrum).real  # ∂φ [rad/Å]
            mean = np.fft.ifft2(grad_spectrum * otf).real * wavelength / (2 * np.pi) * 1e3
            second = np.fft.ifft2(np.fft.fft2(gradient**2) * otf).real * (wavelength / (2 * np.pi) * 1e3) ** 2
            variance = np.maximum(probe_spread + second - mean**2, 0.0)
            out.append((PeriodicField(mean, self.sampling, "mrad"), PeriodicField(variance, self.sampling, "mrad²")))
        (mx, vx), (my, vy) = out
        return mx, my, vx, vy
