"""Electron-optical descriptions: the probe-forming optics and the relativistic wavelength."""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import constants as _c

from .validation import require_finite, require_positive

__all__ = ["Optics", "electron_wavelength"]


def electron_wavelength(energy: float) -> float:
    """Relativistic electron wavelength.

    Parameters
    ----------
    energy
        Beam energy [eV] (the accelerating voltage times e).

    Returns
    -------
    float
        Wavelength [Å]. For example 4.18 pm (0.0418 Å) at 80 keV and 1.97 pm at 300 keV.
    """
    energy = require_positive("energy", energy, "eV")
    e_joule = energy * _c.e
    m0c2 = _c.m_e * _c.c**2
    momentum = math.sqrt(2.0 * _c.m_e * e_joule * (1.0 + e_joule / (2.0 * m0c2)))
    return _c.h / momentum * 1e10


@dataclass(frozen=True)
class Optics:
    """The probe-forming optics, with abTEM's keyword names.

    Parameters
    ----------
    energy
        Beam energy [eV]. 60–100 keV for 2-D materials (below the knock-on threshold of C),
        200–300 keV for oxides.
    semiangle_cutoff
        Convergence semi-angle of the probe-forming aperture [mrad]. About 20–30 mrad for atomic
        resolution.
    defocus
        Defocus [Å], abTEM's convention (positive defocus is underfocus, ``defocus = -C10``).
    Cs
        Third-order spherical aberration C30 [Å] (1 mm = 1e7 Å). Zero for a corrected probe.
    """

    energy: float = 80e3
    semiangle_cutoff: float = 30.0
    defocus: float = 0.0
    Cs: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "energy", require_positive("energy", self.energy, "eV"))
        object.__setattr__(
            self, "semiangle_cutoff", require_positive("semiangle_cutoff", self.semiangle_cutoff, "mrad")
        )
        object.__setattr__(self, "defocus", require_finite("defocus", self.defocus, "Å"))
        object.__setattr__(self, "Cs", require_finite("Cs", self.Cs, "Å"))

    @property
    def wavelength(self) -> float:
        """Relativistic electron wavelength [Å]."""
        return electron_wavelength(self.energy)

    @property
    def nyquist_sampling(self) -> float:
        """Largest scan step that samples the incoherent image without aliasing [Å].

        The probe intensity is band-limited at ``2 α / λ``, so the Nyquist step is ``λ / (4 α)``.
        """
        return self.wavelength / (4.0 * self.semiangle_cutoff * 1e-3)
