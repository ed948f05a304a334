"""Per-element EELS tables: edge onsets, core-loss edge shapes with ELNES, and valence-loss spectra.

Everything the EELS model knows about an element lives in one :class:`ElementEELS` entry of
:data:`ELEMENT_TABLE`. Adding an element (Mo, S, Re, Ti, O, ...) means adding one entry; the model in
:mod:`.eels` needs no change.

Units
-----
Energies [eV], cross sections [b] (1 b = 1e-8 Å²), differential cross sections [b/eV], angles [mrad].

Reference conditions
--------------------
Every cross section in the table is quoted for a 80 keV beam and a 30 mrad collection semi-angle
*(est.: the conditions the cross sections below were chosen for, not a measurement)*. The model
rescales them to its own beam energy and collection angle with the Bethe small-angle form
``σ ∝ (1/v²) ln(1 + β²/θ_E²)``, ``θ_E = E/(γ m₀ v²)`` (Egerton, *Electron Energy-Loss Spectroscopy in
the Electron Microscope*, 3rd ed., Springer 2011, §3.2 and §4.5); see :func:`bethe_scale`.

What is measured and what is estimated
--------------------------------------
- Edge onsets are the tabulated values in PHYSICS.md ("EELS").
- The C K π* (≈285 eV) and σ* (≈292 eV) positions are from PHYSICS.md.
- The graphene π (4.7 eV) and π+σ (14.6 eV) plasmon positions are the free-standing monolayer values
  of Eberlein et al., Phys. Rev. B 77, 233406 (2008); PHYSICS.md gives "near 5 eV and near 15 eV".
- The cross-section magnitudes follow PHYSICS.md ("K-edge ionisation about 10⁴ b, plasmon about
  10⁶ b" for C); all other magnitudes, widths and ELNES amplitudes are *(est.)*.
- The Si L2,3 ELNES of 3-fold and 4-fold Si: Ramasse et al., Nano Lett. 13, 4989 (2013), and Zhou et
  al., Phys. Rev. Lett. 109, 206803 (2012), report that the two differ (sp³-like 3-fold Si, sp²d-like
  hybridised 4-fold Si). The peak positions and strengths below were *not* read from their figures:
  they are an *(est.)* stand-in with one clear, documented difference (see :data:`SI_L23_3FOLD` and
  :data:`SI_L23_4FOLD`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from scipy import constants as _c
from scipy.special import erf

from ..errors import ConfigurationError
from ..validation import require_non_negative, require_positive

__all__ = [
    "BARN",
    "REFERENCE_BEAM_ENERGY",
    "REFERENCE_COLLECTION_ANGLE",
    "EDGE_ONSETS",
    "ELNESPeak",
    "EdgeSpec",
    "PlasmonPeak",
    "ValenceSpec",
    "ElementEELS",
    "ELEMENT_TABLE",
    "C_K",
    "C_K_BONDED_SI",
    "SI_L23_3FOLD",
    "SI_L23_4FOLD",
    "GRAPHENE_VALENCE",
    "bethe_scale",
    "characteristic_angle",
]

#: One barn [Å²].
BARN = 1e-8

#: Beam energy the tabulated cross sections refer to [eV] *(est.)*.
REFERENCE_BEAM_ENERGY = 80e3
#: Collection semi-angle the tabulated cross sections refer to [mrad] *(est.)*.
REFERENCE_COLLECTION_ANGLE = 30.0

_FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))

#: Tabulated edge onsets [eV], by element and edge (PHYSICS.md, "EELS"). Only C and Si have full
#: templates in :data:`ELEMENT_TABLE` so far; the others are kept for the elements still to come.
EDGE_ONSETS: dict[str, dict[str, float]] = {
    "C": {"K": 284.0},
    "Si": {"L2,3": 99.0},
    "S": {"L2,3": 165.0},
    "Mo": {"M4,5": 227.0},
    "Ti": {"L3": 456.0, "L2": 462.0},
    "O": {"K": 532.0},
    "Re": {"M5": 1883.0},
}


# ---------------------------------------------------------------------------------------------
# Relativistic kinematics for the Bethe scaling
# ---------------------------------------------------------------------------------------------
def _beta2_gamma(beam_energy: float) -> tuple[float, float]:
    m0c2 = _c.m_e * _c.c**2 / _c.e  # [eV]
    gamma = 1.0 + beam_energy / m0c2
    return 1.0 - 1.0 / gamma**2, gamma


def characteristic_angle(energy_loss: float, beam_energy: float) -> float:
    """Characteristic scattering angle ``θ_E = E/(γ m₀ v²)`` (Egerton 2011, Eq. 3.28).

    Parameters
    ----------
    energy_loss
        Energy loss [eV].
    beam_energy
        Beam energy [eV].

    Returns
    -------
    float
        θ_E [mrad]. For example about 1.9 mrad for C K (284 eV) at 80 keV.
    """
    beta2, gamma = _beta2_gamma(beam_energy)
    m0c2 = _c.m_e * _c.c**2 / _c.e
    return 1e3 * energy_loss / (gamma * m0c2 * beta2)


def bethe_scale(energy_loss: float, beam_energy: float, collection_angle: float) -> float:
    """Factor that rescales a cross section from the reference conditions to other conditions.

    Uses the Bethe small-angle form ``σ ∝ (1/v²) ln(1 + β²/θ_E²)`` (Egerton 2011, §3.2):
    slower electrons scatter more and a wider aperture collects more.

    Parameters
    ----------
    energy_loss
        Representative energy loss of the process [eV].
    beam_energy
        Beam energy [eV].
    collection_angle
        Collection semi-angle β [mrad].

    Returns
    -------
    float
        ``σ(beam_energy, β) / σ(REFERENCE_BEAM_ENERGY, REFERENCE_COLLECTION_ANGLE)``; 1 at the
        reference conditions.
    """
    beta2, _ = _beta2_gamma(beam_energy)
    beta2_ref, _ = _beta2_gamma(REFERENCE_BEAM_ENERGY)
    th = characteristic_angle(energy_loss, beam_energy)
    th_ref = characteristic_angle(energy_loss, REFERENCE_BEAM_ENERGY)
    num = math.log1p((collection_angle / th) ** 2) / beta2
    den = math.log1p((REFERENCE_COLLECTION_ANGLE / th_ref) ** 2) / beta2_ref
    return num / den


# ---------------------------------------------------------------------------------------------
# Core-loss edges
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ELNESPeak:
    """A Gaussian near-edge (ELNES) peak on top of an edge's continuum.

    Parameters
    ----------
    energy
        Peak centre [eV].
    fwhm
        Intrinsic full width at half maximum [eV]; the model adds the energy resolution in
        quadrature. The peak *area* is kept when it is broadened.
    amplitude
        Intrinsic peak height relative to the height of the continuum step at the onset
        (dimensionless).
    """

    energy: float
    fwhm: float
    amplitude: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "energy", require_positive("energy", self.energy, "eV"))
        object.__setattr__(self, "fwhm", require_positive("fwhm", self.fwhm, "eV"))
        object.__setattr__(self, "amplitude", require_non_negative("amplitude", self.amplitude))

    @property
    def area(self) -> float:
        """Peak area in units of (continuum height at onset) × eV [eV]."""
        return self.amplitude * self.fwhm * _FWHM_TO_SIGMA * math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class EdgeSpec:
    """One ionisation edge: a power-law continuum behind a smoothed step, plus ELNES peaks.

    The differential cross section is
    ``dσ/dE = K [Σ_k w_k Φ((E − E_k)/s) (E/E_k)^−r + Φ((E − onset)/s) Σ_p G_p(E)]``,
    where ``E_k = onset + offset_k`` are the spin–orbit components (for example L3 and L2), ``Φ`` is
    the normal CDF with ``s`` the energy-resolution σ, ``G_p`` are the ELNES Gaussians (cut at the
    threshold: no final states below it), and the constant ``K`` makes the unbroadened spectrum
    integrate to ``cross_section`` over ``[onset, onset + window]``.

    Parameters
    ----------
    element
        Chemical symbol.
    name
        Edge name, for example ``"K"`` or ``"L2,3"``.
    onset
        Onset energy [eV] (PHYSICS.md).
    cross_section
        Partial cross section integrated over ``window`` above the onset, at the reference
        conditions (80 keV, 30 mrad) [b].
    exponent
        Power-law exponent ``r`` of the continuum (PHYSICS.md: r ≈ 2–5).
    window
        Integration window of ``cross_section`` [eV].
    components
        ``(offset [eV], weight)`` of each step, for example ``((0.0, 2/3), (0.61, 1/3))`` for
        L3 and L2. Weights must sum to 1.
    peaks
        ELNES peaks.
    """

    element: str
    name: str
    onset: float
    cross_section: float
    exponent: float = 3.0
    window: float = 50.0
    components: tuple[tuple[float, float], ...] = ((0.0, 1.0),)
    peaks: tuple[ELNESPeak, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "onset", require_positive("onset", self.onset, "eV"))
        object.__setattr__(self, "cross_section", require_positive("cross_section", self.cross_section, "b"))
        exponent = require_positive("exponent", self.exponent)
        if exponent <= 1.0:
            raise ConfigurationError(f"`exponent` must be > 1 so the edge tail is integrable, got {self.exponent!r}.")
        object.__setattr__(self, "exponent", exponent)
        object.__setattr__(self, "window", require_positive("window", self.window, "eV"))
        comps = tuple((float(o), float(w)) for o, w in self.components)
        if not comps or any(w < 0 or o < 0 for o, w in comps) or abs(sum(w for _, w in comps) - 1.0) > 1e-9:
            raise ConfigurationError(
                f"`components` must be (offset >= 0 [eV], weight >= 0) pairs with weights summing to 1, "
                f"got {self.components!r}."
            )
        object.__setattr__(self, "components", comps)
        object.__setattr__(self, "peaks", tuple(self.peaks))

    def _norm(self) -> float:
        """Integral of the unbroadened shape over ``[onset, onset + window]`` [eV]."""
        r = self.exponent
        hi = self.onset + self.window
        total = 0.0
        for offset, weight in self.components:
            ek = self.onset + offset
            if ek < hi:
                total += weight * ek / (r - 1.0) * (1.0 - (hi / ek) ** (1.0 - r))
        for p in self.peaks:
            s = p.fwhm * _FWHM_TO_SIGMA
            root2s = s * math.sqrt(2.0)
            inside = 0.5 * (erf((hi - p.energy) / root2s) - erf((self.onset - p.energy) / root2s))
            total += p.area * inside
        return total

    def differential_cross_section(self, energy: np.ndarray, resolution: float) -> np.ndarray:
        """Energy-differential cross section at the reference conditions.

        Parameters
        ----------
        energy
            Energy losses, ndarray of any shape [eV].
        resolution
            Energy resolution (FWHM) that smooths the steps and broadens the peaks [eV].

        Returns
        -------
        ndarray
            dσ/dE with the shape of ``energy`` [b/eV].
        """
        energy = np.asarray(energy, dtype=np.float64)
        s_res = max(float(resolution), 1e-6) * _FWHM_TO_SIGMA
        r = self.exponent
        shape = np.zeros_like(energy)
        for offset, weight in self.components:
            ek = self.onset + offset
            step = 0.5 * (1.0 + erf((energy - ek) / (s_res * math.sqrt(2.0))))
            shape += weight * step * (np.maximum(energy, ek) / ek) ** (-r)
        if self.peaks:
            # No final states below the threshold: the peaks sit on the (smoothed) onset step.
            threshold = 0.5 * (1.0 + erf((energy - self.onset) / (s_res * math.sqrt(2.0))))
            for p in self.peaks:
                s = math.hypot(p.fwhm * _FWHM_TO_SIGMA, s_res)
                gauss = np.exp(-0.5 * ((energy - p.energy) / s) ** 2) / (s * math.sqrt(2.0 * math.pi))
                shape += p.area * threshold * gauss
        return self.cross_section / self._norm() * shape


# ---------------------------------------------------------------------------------------------
# Valence (low-loss) spectra
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlasmonPeak:
    """A Drude–Lorentz valence-loss peak, ``Im(−1/ε) ∝ E Γ E_p² / ((E² − E_p²)² + (E Γ)²)``.

    Its high-energy tail falls as E^−3, the usual background exponent.

    Parameters
    ----------
    energy
        Peak energy E_p [eV].
    width
        Damping Γ [eV]; must be below 2 E_p.
    cross_section
        Integrated cross section of the peak per atom, at the reference conditions [b].
    """

    energy: float
    width: float
    cross_section: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "energy", require_positive("energy", self.energy, "eV"))
        width = require_positive("width", self.width, "eV")
        if width >= 2.0 * self.energy:
            raise ConfigurationError(
                f"`width` must be below 2 × energy = {2 * self.energy} [eV], got {self.width!r}."
            )
        object.__setattr__(self, "width", width)
        object.__setattr__(self, "cross_section", require_non_negative("cross_section", self.cross_section, "b"))

    def _norm(self) -> float:
        # ∫_0^∞ E Γ Ep² / ((E² − Ep²)² + E²Γ²) dE, in closed form (substitute u = E²).
        ep, g = self.energy, self.width
        b = g * g - 2.0 * ep * ep
        root = math.sqrt(g * g * (4.0 * ep * ep - g * g))
        return 0.5 * g * ep * ep * (2.0 / root) * (0.5 * math.pi - math.atan(b / root))

    def differential_cross_section(self, energy: np.ndarray) -> np.ndarray:
        """dσ/dE of the peak [b/eV] at ``energy`` [eV] (zero for E <= 0)."""
        e = np.maximum(np.asarray(energy, dtype=np.float64), 0.0)
        ep, g = self.energy, self.width
        shape = e * g * ep * ep / ((e * e - ep * ep) ** 2 + (e * g) ** 2)
        return self.cross_section / self._norm() * shape


@dataclass(frozen=True)
class ValenceSpec:
    """Single-scattering valence-loss spectrum of one atom: plasmon peaks plus a power-law tail.

    The tail is ``A (E/100 eV)^−r [1 − exp(−(E/E_c)^(r+2))]``: the power-law background ``A·E^−r``
    under the core-loss edges, switched off smoothly below ``E_c``.

    Parameters
    ----------
    peaks
        Drude–Lorentz peaks.
    tail_amplitude
        ``A``: dσ/dE of the tail at 100 eV, at the reference conditions [b/eV].
    tail_exponent
        ``r`` of the tail (PHYSICS.md: r ≈ 2–5).
    tail_onset
        ``E_c`` below which the tail switches off [eV].
    """

    peaks: tuple[PlasmonPeak, ...]
    tail_amplitude: float
    tail_exponent: float = 3.0
    tail_onset: float = 40.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "peaks", tuple(self.peaks))
        amplitude = require_non_negative("tail_amplitude", self.tail_amplitude, "b/eV")
        object.__setattr__(self, "tail_amplitude", amplitude)
        exponent = require_positive("tail_exponent", self.tail_exponent)
        if exponent <= 1.0:
            raise ConfigurationError(f"`tail_exponent` must be > 1, got {self.tail_exponent!r}.")
        object.__setattr__(self, "tail_exponent", exponent)
        object.__setattr__(self, "tail_onset", require_positive("tail_onset", self.tail_onset, "eV"))

    def tail(self, energy: np.ndarray) -> np.ndarray:
        """dσ/dE of the power-law tail [b/eV] at ``energy`` [eV] (zero for E <= 0)."""
        e = np.maximum(np.asarray(energy, dtype=np.float64), 1e-12)
        r = self.tail_exponent
        out = self.tail_amplitude * (e / 100.0) ** (-r) * -np.expm1(-((e / self.tail_onset) ** (r + 2.0)))
        return np.where(np.asarray(energy) > 0, out, 0.0)

    def tail_cross_section(self) -> float:
        """Integral of the tail over all energies [b]."""
        # log grid: the integrand is smooth in log E and vanishes at both ends.
        e = np.geomspace(1e-3 * self.tail_onset, 1e5 * self.tail_onset, 20001)
        return float(np.trapezoid(self.tail(e), e))


# ---------------------------------------------------------------------------------------------
# Element entries
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ElementEELS:
    """Everything the EELS model needs for one element.

    Parameters
    ----------
    symbol
        Chemical symbol.
    edges
        Core-loss edges of the element in its default environment.
    valence
        Valence-loss spectrum per atom.
    site_edges
        Site-class-specific replacements of ``edges``: ``((site_class_name, edges), ...)``. A site
        class not listed uses ``edges``.
    """

    symbol: str
    edges: tuple[EdgeSpec, ...]
    valence: ValenceSpec
    site_edges: tuple[tuple[str, tuple[EdgeSpec, ...]], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "edges", tuple(self.edges))
        object.__setattr__(self, "site_edges", tuple((str(k), tuple(v)) for k, v in self.site_edges))
        for e in self.edges + tuple(x for _, v in self.site_edges for x in v):
            if e.element != self.symbol:
                raise ConfigurationError(f"Edge {e.element} {e.name} listed under element {self.symbol!r}.")

    def edges_for(self, site_class: str) -> tuple[EdgeSpec, ...]:
        """Edges of this element on a site of class ``site_class``."""
        for name, edges in self.site_edges:
            if name == site_class:
                return edges
        return self.edges


#: C K edge of graphene (sp² C). Onset 284 eV and π*/σ* near 285/292 eV: PHYSICS.md. Cross section
#: 1.0e4 b over 50 eV: PHYSICS.md ("K-edge ionisation about 10⁴ b"). Exponent 3, the π* (FWHM 1.0 eV,
#: height 1.5) and σ* (FWHM 3.0 eV, height 1.2) shapes: *(est.)*, chosen so that both peaks stand
#: clearly above the continuum, as in graphene C K spectra.
C_K = EdgeSpec(
    element="C",
    name="K",
    onset=EDGE_ONSETS["C"]["K"],
    cross_section=1.0e4,
    exponent=3.0,
    peaks=(ELNESPeak(285.0, 1.0, 1.5), ELNESPeak(292.0, 3.0, 1.2)),
)

#: C K of C bonded to Si: π* lowered to 1.1 *(est.)*, a placeholder for the partial loss of
#: π-conjugation next to a dopant; no measurement here sets its size.
C_K_BONDED_SI = EdgeSpec(
    element="C",
    name="K",
    onset=EDGE_ONSETS["C"]["K"],
    cross_section=1.0e4,
    exponent=3.0,
    peaks=(ELNESPeak(285.0, 1.0, 1.1), ELNESPeak(292.0, 3.0, 1.2)),
)

#: Si 2p spin–orbit splitting (L2 above L3) [eV], ≈0.6 eV as in Si 2p photoemission *(est.)*; the
#: L3:L2 weights 2:1 are the statistical 2p3/2 : 2p1/2 occupancies.
_SI_L23_COMPONENTS = ((0.0, 2.0 / 3.0), (0.61, 1.0 / 3.0))
#: Si L2,3 partial cross section over 50 eV [b] *(est.)*: 6× the C K value, a rough Bethe scaling
#: (Egerton 2011, §3.6) of 3× the electrons (six 2p against two 1s) and about 2× from the lower edge
#: energy; not checked against a Hartree–Slater or hydrogenic (SIGMAL) calculation.
_SI_L23_CROSS_SECTION = 6.0e4


def _si_l23(*peaks: ELNESPeak) -> EdgeSpec:
    """The Si L2,3 edge with the given ELNES peaks; both Si variants share everything else."""
    return EdgeSpec(
        element="Si",
        name="L2,3",
        onset=EDGE_ONSETS["Si"]["L2,3"],
        cross_section=_SI_L23_CROSS_SECTION,
        exponent=3.0,
        components=_SI_L23_COMPONENTS,
        peaks=peaks,
    )

#: Si L2,3 of 3-fold (substitutional, sp³-like) Si — the default for Si on any other site.
#: *(est.)*: a weak shoulder at 101.5 eV (FWHM 2 eV, height 0.3) and a strong, broad *delayed
#: maximum* at 106 eV (FWHM 5 eV, height 2.0): an sp³-like edge whose weight lies above the onset.
SI_L23_3FOLD = _si_l23(ELNESPeak(101.5, 2.0, 0.3), ELNESPeak(106.0, 5.0, 2.0))

#: Si L2,3 of 4-fold (divacancy, planar sp²d-like) Si. *(est.)*: a strong, sharp *near-onset peak* at
#: 100.3 eV (FWHM 1.2 eV, height 3.0) from low-lying empty states of the planar hybrid, and a weak
#: delayed maximum at 107 eV (FWHM 6 eV, height 0.4). The documented difference from 3-fold Si is
#: the weight near the onset (99–102 eV) relative to the delayed maximum (103–110 eV), measured by
#: :func:`stemtwin.twin.signals.eels.si_l23_fine_structure_ratio`. Both variants share one cross
#: section over 50 eV, so only the shape differs.
SI_L23_4FOLD = _si_l23(ELNESPeak(100.3, 1.2, 3.0), ELNESPeak(107.0, 6.0, 0.4))

#: Valence loss per C atom of monolayer graphene. Peak energies 4.7 and 14.6 eV: Eberlein et al.,
#: PRB 77, 233406 (2008) (PHYSICS.md: near 5 and 15 eV). Total plasmon cross section 1.0e6 b per C:
#: PHYSICS.md ("plasmon about 10⁶ b"). *(est.)*: the π : π+σ split 0.25 : 0.75 (the π+σ peak
#: dominates in free-standing graphene); the widths Γ = 2.5 and 6 eV (so the π+σ peak is the taller);
#: and the tail A = 1.0e3 b/eV at 100 eV with r = 3, switched on above E_c = 40 eV, chosen so that the
#: edge of a single Si atom roughly doubles the graphene background just above 99 eV and the C K
#: jump ratio of graphene is about 5–10. The tail integrates to ≈ 0.47e6 b per atom, so t/λ ≈ 0.0055
#: for graphene: 0.335 nm over a valence mean free path of about 60 nm, against about 80 nm from
#: Egerton's mean-free-path formula (Egerton 2011, ch. 5) for C at 80 keV and 30 mrad.
GRAPHENE_VALENCE = ValenceSpec(
    peaks=(PlasmonPeak(4.7, 2.5, 0.25e6), PlasmonPeak(14.6, 6.0, 0.75e6)),
    tail_amplitude=1.0e3,
    tail_exponent=3.0,
    tail_onset=40.0,
)

#: The element table. Si uses the graphene valence spectrum too *(est.)*: it has the same four
#: valence electrons as C.
ELEMENT_TABLE: Mapping[str, ElementEELS] = MappingProxyType(
    {
        "C": ElementEELS(
            symbol="C",
            edges=(C_K,),
            valence=GRAPHENE_VALENCE,
            site_edges=(("C_bonded_Si", (C_K_BONDED_SI,)),),
        ),
        "Si": ElementEELS(
            symbol="Si",
            edges=(SI_L23_3FOLD,),
            valence=GRAPHENE_VALENCE,
            site_edges=(("Si_3fold", (SI_L23_3FOLD,)), ("Si_4fold", (SI_L23_4FOLD,))),
        ),
    }
)
