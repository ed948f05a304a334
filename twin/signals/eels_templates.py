"""Per-element EELS tables: edge onsets, core-loss edge shapes with ELNES, and valence-loss spectra.

Everything the EELS model knows about an element lives in one :class:`ElementEELS` entry of
:data:`ELEMENT_TABLE`, which holds C and Si (graphene), Mo, S and Re (MoS2 and Re-doped MoS2) and
Pb, Ti and O (PbTiO3). Adding an element means adding one entry; the model in :mod:`.eels` needs no
change. An entry may make its edges follow a continuous per-atom label (:class:`LabelDependence`):
Ti L2,3 follows the Ti off-centring.

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
- Elements beyond C and Si: cross sections from one documented scaling rule
  (:func:`scaled_cross_section`, *est.*), valence spectra from one rule scaled from graphene
  (:func:`compound_valence`, *est.*), plasmon energies from free-electron estimates (*est.*), onsets
  from PHYSICS.md and the Gatan EELS Atlas. Ti L2,3 has t2g/eg peaks 2 eV apart (PHYSICS.md) whose
  splitting and eg width follow the off-centring by *(est.)* linear laws
  (:func:`ti_crystal_field_splitting`, :func:`ti_eg_fwhm`). Edges the table leaves out: S L1
  (229 eV, minor, under Mo M4,5), Mo M2,3 (392/410 eV, minor), Ti L1 (564 eV, minor), and shallow
  edges below 100 eV, which are folded into the valence spectra.
- The Si L2,3 ELNES of 3-fold and 4-fold Si: Ramasse et al., Nano Lett. 13, 4989 (2013), and Zhou et
  al., Phys. Rev. Lett. 109, 206803 (2012), report that the two differ (sp³-like 3-fold Si, sp²d-like
  hybridised 4-fold Si). The peak positions and strengths below were *not* read from their figures:
  they are an *(est.)* stand-in with one clear, documented difference (see :data:`SI_L23_3FOLD` and
  :data:`SI_L23_4FOLD`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from scipy import constants as _c
from scipy.special import erf

from ..errors import ConfigurationError
from ..validation import require_finite, require_non_negative, require_positive

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
    "LabelDependence",
    "ELEMENT_TABLE",
    "C_K",
    "C_K_BONDED_SI",
    "SI_L23_3FOLD",
    "SI_L23_4FOLD",
    "GRAPHENE_VALENCE",
    "CROSS_SECTION_WINDOW",
    "DELAYED_EDGE_FACTOR",
    "C_K_REFERENCE",
    "SI_L23_REFERENCE",
    "PLASMON_DAMPING_FRACTION",
    "scaled_cross_section",
    "compound_valence",
    "LOW_LOSS_ELECTRONS",
    "MOS2_PLASMON_ENERGY",
    "MOS2_VALENCE_MO",
    "MOS2_VALENCE_S",
    "MOS2_VALENCE_RE",
    "S_L23",
    "MO_M45",
    "RE_M45",
    "PBTIO3_PLASMON_ENERGY",
    "PBTIO3_VALENCE_PB",
    "PBTIO3_VALENCE_TI",
    "PBTIO3_VALENCE_O",
    "OFF_CENTRING_LABEL",
    "TI_SPLITTING_CENTRED",
    "TI_SPLITTING_SLOPE",
    "TI_EG_FWHM_CENTRED",
    "TI_EG_BROADENING",
    "TI_OFF_CENTRING_LIMITS",
    "TI_OFF_CENTRING_SPACING",
    "TI_L23_CENTRED",
    "TI_OFF_CENTRING",
    "O_K",
    "PB_M45",
    "ti_crystal_field_splitting",
    "ti_eg_fwhm",
    "ti_l23",
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

#: Tabulated edge onsets [eV], by element and edge. PHYSICS.md ("EELS") gives C K, Si L2,3, S L2,3,
#: Mo M4,5 (227/228), Ti L3 and L2, O K and Re M5; Re M4 (1949 eV) and Pb M5/M4 (2484/2586 eV) are
#: from the Gatan EELS Atlas (https://eels.info/atlas, as tabulated in exspy's ``elements`` table).
#: A combined edge (``"M4,5"``, ``"L2,3"``) starts at the threshold of its lower component.
EDGE_ONSETS: dict[str, dict[str, float]] = {
    "C": {"K": 284.0},
    "Si": {"L2,3": 99.0},
    "S": {"L2,3": 165.0},
    "Mo": {"M4,5": 227.0, "M5": 227.0, "M4": 228.0},
    "Ti": {"L2,3": 456.0, "L3": 456.0, "L2": 462.0},
    "O": {"K": 532.0},
    "Re": {"M4,5": 1883.0, "M5": 1883.0, "M4": 1949.0},
    "Pb": {"M4,5": 2484.0, "M5": 2484.0, "M4": 2586.0},
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
class LabelDependence:
    """Edges of an element that change with a continuous per-atom label of the sample.

    The EELS model tabulates ``edges(value)`` on equally spaced nodes across ``limits`` and gives
    each atom the linear interpolation between the two nodes around its label value, so a spectrum
    is still one matrix product (see :class:`~stemtwin.twin.signals.eels.EELSModel`).

    Parameters
    ----------
    label
        Key of :attr:`Sample.atom_labels <stemtwin.twin.samples.sample.Sample.atom_labels>`, for
        example ``"off_centring"``.
    edges
        Function from a label value to the edges of the element at that value.
    spacing
        Largest spacing of the interpolation nodes [label unit].
    limits
        (low, high) label values the edges are defined for [label unit]; the model rejects values
        outside.
    default
        Label value of every atom of a sample that has no such label [label unit].
    unit
        Unit of the label, for messages, for example ``"Å"``.
    """

    label: str
    edges: Callable[[float], tuple[EdgeSpec, ...]]
    spacing: float
    limits: tuple[float, float]
    default: float = 0.0
    unit: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label:
            raise ConfigurationError(f"`label` must be a non-empty string, got {self.label!r}.")
        if not callable(self.edges):
            raise ConfigurationError(f"`edges` must be a function of the label value, got {self.edges!r}.")
        object.__setattr__(self, "spacing", require_positive("spacing", self.spacing, self.unit))
        if len(self.limits) != 2:
            raise ConfigurationError(f"`limits` must be a (low, high) pair, got {self.limits!r}.")
        low = require_finite("limits[0]", self.limits[0], self.unit)
        high = require_finite("limits[1]", self.limits[1], self.unit)
        if not low < high:
            raise ConfigurationError(f"`limits` must have low < high, got {self.limits!r}.")
        object.__setattr__(self, "limits", (low, high))
        default = require_finite("default", self.default, self.unit)
        if not low <= default <= high:
            raise ConfigurationError(f"`default` must lie within `limits` {self.limits}, got {self.default!r}.")
        object.__setattr__(self, "default", default)

    @property
    def nodes(self) -> np.ndarray:
        """Interpolation nodes: equally spaced from low to high, at most ``spacing`` apart."""
        low, high = self.limits
        n = max(1, math.ceil((high - low) / self.spacing - 1e-9))
        return np.linspace(low, high, n + 1)


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
    label_dependence
        Edges that follow a continuous per-atom label (for example Ti L2,3 with the Ti
        off-centring). It applies to every site class not listed in ``site_edges``; ``edges`` should
        then be ``label_dependence.edges(label_dependence.default)``.
    """

    symbol: str
    edges: tuple[EdgeSpec, ...]
    valence: ValenceSpec
    site_edges: tuple[tuple[str, tuple[EdgeSpec, ...]], ...] = ()
    label_dependence: LabelDependence | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "edges", tuple(self.edges))
        object.__setattr__(self, "site_edges", tuple((str(k), tuple(v)) for k, v in self.site_edges))
        checked = self.edges + tuple(x for _, v in self.site_edges for x in v)
        if self.label_dependence is not None:
            if not isinstance(self.label_dependence, LabelDependence):
                raise ConfigurationError(
                    f"`label_dependence` must be a LabelDependence, got {type(self.label_dependence).__name__}."
                )
            checked += tuple(self.label_dependence.edges(self.label_dependence.default))
        for e in checked:
            if e.element != self.symbol:
                raise ConfigurationError(f"Edge {e.element} {e.name} listed under element {self.symbol!r}.")

    def uses_label(self, site_class: str) -> bool:
        """Whether atoms of class ``site_class`` take their edges from :attr:`label_dependence`."""
        return self.label_dependence is not None and all(name != site_class for name, _ in self.site_edges)

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

# ---------------------------------------------------------------------------------------------
# Cross-section and valence scaling rules for the elements beyond C and Si
# ---------------------------------------------------------------------------------------------
#: Width of the integration window every tabulated core-loss cross section refers to [eV].
CROSS_SECTION_WINDOW = 50.0
#: Factor for *delayed* edges (Mo M4,5, Re M4,5, Pb M4,5) *(est.)*: their maximum lies tens of eV
#: above the threshold (the centrifugal barrier of d→f transitions; Egerton 2011, ch. 3), so a 50 eV
#: window holds about half of what a prompt edge of the same shell strength holds.
DELAYED_EDGE_FACTOR = 0.5


def _window_fraction(onset: float, window: float = CROSS_SECTION_WINDOW, exponent: float = 3.0) -> float:
    """Fraction of an ``E^−r`` edge (r = 3) that falls in ``[onset, onset + window]``."""
    return 1.0 - (1.0 + window / onset) ** (1.0 - exponent)


def scaled_cross_section(
    reference: tuple[float, int, float],
    electrons: int,
    onset: float,
    *,
    delayed: bool = False,
    share: float = 1.0,
) -> float:
    """50 eV partial cross section of an edge, scaled from a reference edge *(est.)*.

    ``σ = σ_ref · (N/N_ref) · (E_ref/E) · F(E)/F(E_ref) · η · share``: the Bethe asymptote of a
    shell, whose total cross section scales as (number of electrons N)/(threshold E) (Egerton 2011,
    ch. 3), times the fraction ``F(E) = 1 − (1 + 50 eV/E)^−2`` of an ``E^−3`` edge that lies in the
    50 eV window. ``η`` is :data:`DELAYED_EDGE_FACTOR` for delayed edges, else 1; ``share`` is the
    fraction of the shell's electrons whose threshold lies in the window (for example 6/10 for
    M5 alone when M4 lies more than 50 eV higher). A rough, documented estimate, not a
    Hartree–Slater or hydrogenic (SIGMAK/SIGMAL) calculation.

    Parameters
    ----------
    reference
        ``(σ_ref [b], N_ref, E_ref [eV])`` of a tabulated edge of the same shell type:
        :data:`C_K_REFERENCE` for K shells, :data:`SI_L23_REFERENCE` for L2,3 and M4,5 shells.
    electrons
        Electrons in the shell (2 for K, 6 for L2,3, 10 for M4,5).
    onset
        Threshold [eV].
    delayed
        Whether the edge has a delayed maximum.
    share
        Fraction of the shell's electrons whose threshold lies inside the window.

    Returns
    -------
    float
        Partial cross section over 50 eV at 80 keV and 30 mrad [b].
    """
    sigma_ref, n_ref, e_ref = reference
    sigma = sigma_ref * (electrons / n_ref) * (e_ref / onset) * _window_fraction(onset) / _window_fraction(e_ref)
    return sigma * (DELAYED_EDGE_FACTOR if delayed else 1.0) * share


#: Reference K shell: C K, 1.0e4 b over 50 eV (PHYSICS.md), 2 electrons, 284 eV.
C_K_REFERENCE: tuple[float, int, float] = (1.0e4, 2, EDGE_ONSETS["C"]["K"])
#: Reference L2,3 shell: Si L2,3, 6.0e4 b over 50 eV *(est., see above)*, 6 electrons, 99 eV. Also
#: used for M4,5 shells, for which PHYSICS.md gives no reference.
SI_L23_REFERENCE: tuple[float, int, float] = (_SI_L23_CROSS_SECTION, 6, EDGE_ONSETS["Si"]["L2,3"])

#: Graphene π+σ plasmon energy, the reference energy of :func:`compound_valence` [eV].
_REFERENCE_PLASMON_ENERGY = 14.6
#: Plasmon damping as a fraction of the plasmon energy, Γ = 0.4 E_p *(est.)*: graphene's π+σ peak
#: has Γ/E_p = 6/14.6 ≈ 0.4.
PLASMON_DAMPING_FRACTION = 0.4


def compound_valence(valence_electrons: int, plasmon_energy: float) -> ValenceSpec:
    """Valence-loss spectrum per atom of an element in a compound, scaled from graphene *(est.)*.

    The Bethe sum rule ties the oscillator strength of the low-loss region to the number N of
    electrons bound by less than about 50 eV (valence electrons plus shallow core shells such as
    Ti 3p, Mo 4p, Pb 5d), and the Bethe cross section goes as strength/energy (Egerton 2011, ch. 3), so

    - one Drude–Lorentz peak at the compound's ``plasmon_energy`` with Γ = 0.4 E_p
      (:data:`PLASMON_DAMPING_FRACTION`) and cross section ``1e6 b · (N/4) · (14.6 eV/E_p)``:
      graphene's 1e6 b per 4-electron C atom (PHYSICS.md), moved from its π+σ energy;
    - the power-law tail ``A = 1e3 b/eV · N/4`` at 100 eV with r = 3 (graphene's value per
      electron), switched on above ``E_c = 2.6 E_p`` (graphene: 40 eV ≈ 2.7 × 14.6 eV).

    Interband peaks and the shallow edges below 50 eV (Mo N2,3, Ti M2,3, Pb O4,5, Re N6,7 and O2,3)
    are not modelled separately: their electrons are counted in N, so their oscillator strength is
    part of this valence spectrum. With these N, t/λ comes out ≈ 0.0058 for monolayer MoS2 and
    ≈ 0.005 per 4.15 Å PbTiO3 cell (λ ≈ 80 nm at 80 keV and 30 mrad), within a factor 2 of Malis-type
    mean-free-path estimates (Egerton 2011, ch. 5).

    Parameters
    ----------
    valence_electrons
        N, the electrons of the atom bound by less than about 50 eV.
    plasmon_energy
        Plasmon energy of the compound [eV].

    Returns
    -------
    ValenceSpec
    """
    scale = valence_electrons / 4.0
    return ValenceSpec(
        peaks=(
            PlasmonPeak(
                plasmon_energy,
                PLASMON_DAMPING_FRACTION * plasmon_energy,
                1.0e6 * scale * _REFERENCE_PLASMON_ENERGY / plasmon_energy,
            ),
        ),
        tail_amplitude=1.0e3 * scale,
        tail_exponent=3.0,
        tail_onset=2.6 * plasmon_energy,
    )


# ---------------------------------------------------------------------------------------------
# MoS2 (and Re in MoS2)
# ---------------------------------------------------------------------------------------------
#: Plasmon energy of MoS2 [eV] *(est.)*: the free-electron value ħ(ne²/ε₀m)^½ (Egerton 2011, ch. 3)
#: for 18 valence electrons (Mo 4d⁵5s¹ + 2 × S 3s²3p⁴) per 53.2 Å³ of bulk 2H-MoS2 (a = 3.16 Å,
#: c = 12.3 Å) is 21.6 eV; 23 eV allows for the usual upward shift by interband transitions.
MOS2_PLASMON_ENERGY = 23.0
#: Electrons bound by less than 50 eV, per atom, for :func:`compound_valence` *(est.: the shell
#: counts are exact, the 50 eV cut is the choice)*. Shallow-shell binding energies from the X-ray Data
#: Booklet (Thompson et al., LBNL 2009, Table 1-1) and, for Ti M2,3 (35 eV), the Gatan EELS Atlas:
#: Mo 4p⁶5s¹4d⁵ (4p ≈ 35–38 eV) → 12; S 3s²3p⁴ → 6; Re 4f¹⁴5p⁶5d⁵6s² (4f ≈ 40–43 eV, 5p ≈ 35–46 eV)
#: → 27; Ti 3p⁶3d²4s² (3p ≈ 33 eV) → 10; O 2s²2p⁴ → 6; Pb 5d¹⁰6s²6p² (5d ≈ 18–21 eV) → 14.
LOW_LOSS_ELECTRONS: Mapping[str, int] = MappingProxyType(
    {"Mo": 12, "S": 6, "Re": 27, "Ti": 10, "O": 6, "Pb": 14}
)
#: Valence loss per Mo atom of MoS2 *(est., see compound_valence and LOW_LOSS_ELECTRONS)*.
MOS2_VALENCE_MO = compound_valence(LOW_LOSS_ELECTRONS["Mo"], MOS2_PLASMON_ENERGY)
#: Valence loss per S atom of MoS2 *(est.)*.
MOS2_VALENCE_S = compound_valence(LOW_LOSS_ELECTRONS["S"], MOS2_PLASMON_ENERGY)
#: Valence loss per Re atom substituted in MoS2, with the host's plasmon energy *(est.)*.
MOS2_VALENCE_RE = compound_valence(LOW_LOSS_ELECTRONS["Re"], MOS2_PLASMON_ENERGY)

#: S L2,3 edge. Onset 165 eV: PHYSICS.md and the Gatan EELS Atlas (via exspy's ``elements`` table),
#: which calls it a delayed maximum. L2 1.1 eV above L3: the S 2p1/2–2p3/2 binding energies (163.6 and
#: 162.5 eV) of the X-ray Data Booklet (Thompson et al., LBNL 2009, Table 1-1); statistical 2:1
#: weights. Cross section 2.65e4 b over 50 eV: :func:`scaled_cross_section` from Si L2,3 (6
#: electrons at 165 eV). *(est.)*: a near-onset peak at 166 eV (FWHM 1.5 eV, height 1.0), a peak at
#: 171 eV (FWHM 4 eV, height 1.0) and the delayed maximum at 180 eV (FWHM 10 eV, height 1.5), a
#: stand-in for the S L2,3 near edge of MoS2 (S 3p–Mo 4d hybrid states, then S 3d-like states);
#: nothing of it is left by 200 eV, below the Mo M4,5 edge.
S_L23 = EdgeSpec(
    element="S",
    name="L2,3",
    onset=EDGE_ONSETS["S"]["L2,3"],
    cross_section=scaled_cross_section(SI_L23_REFERENCE, 6, EDGE_ONSETS["S"]["L2,3"]),
    exponent=3.0,
    components=((0.0, 2.0 / 3.0), (1.1, 1.0 / 3.0)),
    peaks=(ELNESPeak(166.0, 1.5, 1.0), ELNESPeak(171.0, 4.0, 1.0), ELNESPeak(180.0, 10.0, 1.5)),
)

#: Mo M4,5 edge: M5 at 227 eV and M4 at 228 eV (PHYSICS.md "227/228"; the Gatan EELS Atlas lists
#: both as delayed maxima), with the statistical 3d5/2 : 3d3/2 weights 6 : 4. Cross section 1.28e4 b
#: over 50 eV: :func:`scaled_cross_section` from Si L2,3 for 10 electrons at 227 eV, halved as a
#: delayed edge. *(est.)*: the delayed maximum at 245 eV, FWHM 20 eV, 1.5 × the step height: a broad
#: maximum some 20 eV above a weak, sharp threshold, so the onset itself stays visible.
MO_M45 = EdgeSpec(
    element="Mo",
    name="M4,5",
    onset=EDGE_ONSETS["Mo"]["M4,5"],
    cross_section=scaled_cross_section(SI_L23_REFERENCE, 10, EDGE_ONSETS["Mo"]["M4,5"], delayed=True),
    exponent=3.0,
    components=((0.0, 0.6), (EDGE_ONSETS["Mo"]["M4"] - EDGE_ONSETS["Mo"]["M4,5"], 0.4)),
    peaks=(ELNESPeak(245.0, 20.0, 1.5),),
)

#: Re M4,5 edge: M5 at 1883 eV (PHYSICS.md) and M4 at 1949 eV (Gatan EELS Atlas; both delayed
#: maxima), weights 6 : 4. Only M5 lies within 50 eV of the threshold, so the cross section,
#: 144 b over 50 eV, is :func:`scaled_cross_section` for 10 electrons at 1883 eV, delayed, times the
#: M5 share 0.6. *(est.)*: the delayed maximum at 1910 eV, FWHM 40 eV, 1.5 × the step height. The
#: Atlas lists no Re edge between the valence region and 1883 eV, so below that Re contributes only
#: its valence loss and power-law background (:data:`MOS2_VALENCE_RE`).
RE_M45 = EdgeSpec(
    element="Re",
    name="M4,5",
    onset=EDGE_ONSETS["Re"]["M4,5"],
    cross_section=scaled_cross_section(SI_L23_REFERENCE, 10, EDGE_ONSETS["Re"]["M5"], delayed=True, share=0.6),
    exponent=3.0,
    components=((0.0, 0.6), (EDGE_ONSETS["Re"]["M4"] - EDGE_ONSETS["Re"]["M5"], 0.4)),
    peaks=(ELNESPeak(1910.0, 40.0, 1.5),),
)


# ---------------------------------------------------------------------------------------------
# PbTiO3: Ti L2,3 with crystal-field peaks that follow the Ti off-centring, O K, Pb
# ---------------------------------------------------------------------------------------------
#: Plasmon energy of PbTiO3 [eV] *(est.)*: the free-electron value for 26 valence electrons per
#: 63.1 Å³ (Pb 6s²6p² + Ti 3d²4s² + 3 × O 2s²2p⁴; a = 3.90 Å, c = 4.15 Å) is 23.8 eV, and 28 eV
#: if the Pb 5d¹⁰ shell joins in; 25 eV lies between.
PBTIO3_PLASMON_ENERGY = 25.0
#: Valence loss per Pb atom of PbTiO3 *(est., see compound_valence and LOW_LOSS_ELECTRONS)*.
PBTIO3_VALENCE_PB = compound_valence(LOW_LOSS_ELECTRONS["Pb"], PBTIO3_PLASMON_ENERGY)
#: Valence loss per Ti atom of PbTiO3 *(est.)*.
PBTIO3_VALENCE_TI = compound_valence(LOW_LOSS_ELECTRONS["Ti"], PBTIO3_PLASMON_ENERGY)
#: Valence loss per O atom of PbTiO3 *(est.)*.
PBTIO3_VALENCE_O = compound_valence(LOW_LOSS_ELECTRONS["O"], PBTIO3_PLASMON_ENERGY)

#: Name of the per-atom label (:attr:`Sample.atom_labels`) that holds the Ti off-centring |u| [Å].
OFF_CENTRING_LABEL = "off_centring"
#: t2g–eg crystal-field splitting of Ti L3 and L2 at zero off-centring [eV]: PHYSICS.md ("t2g/eg
#: crystal-field peaks about 2 eV apart").
TI_SPLITTING_CENTRED = 2.0
#: Decrease of the t2g–eg splitting per Å of off-centring [eV/Å] *(est.)*: PHYSICS.md says only that
#: the splitting shifts with off-centring. The sign is a modelling choice (an off-centred Ti has three
#: long Ti–O bonds, which weakens the mean ligand field felt by the eg orbitals); the size makes the
#: 0–0.4 Å range of a ferroelectric span 0.4 eV, two channels at 0.2 eV/channel.
TI_SPLITTING_SLOPE = 1.0
#: Intrinsic FWHM of the L3 and L2 eg peaks at zero off-centring [eV] *(est.)*: the eg peaks are
#: broader than the t2g peaks (stronger σ hybridisation with O 2p), and L2 broader than L3
#: (Coster–Kronig decay).
TI_EG_FWHM_CENTRED = (1.2, 2.0)
#: Broadening of the eg peaks per Å of off-centring [eV/Å] *(est.)*: off-centring lowers the
#: octahedral site symmetry and splits the eg level (dz², dx²−y²) by an amount below the
#: resolution, seen as a broader eg peak of unchanged area; at 0.4 Å the L3 eg peak is 1.6 eV wide
#: instead of 1.2 eV and its height relative to t2g falls by about a quarter.
TI_EG_BROADENING = 1.0
#: Valid range of the off-centring label [Å]: 0 to 1 Å (PbTiO3: about 0.3 Å), so that the
#: splitting stays positive.
TI_OFF_CENTRING_LIMITS = (0.0, 1.0)
#: Node spacing for the interpolation in off-centring [Å]: 0.05 Å moves the eg peaks by 0.05 eV
#: between nodes, a tenth of their width, so the linear interpolation is exact to well below 1 %.
TI_OFF_CENTRING_SPACING = 0.05
#: Ti L2,3 cross section over 50 eV [b]: :func:`scaled_cross_section` from Si L2,3 for 6
#: electrons at 456 eV (4.4e3 b); the white lines are part of it, not added to it.
_TI_L23_CROSS_SECTION = scaled_cross_section(SI_L23_REFERENCE, 6, EDGE_ONSETS["Ti"]["L3"])
#: t2g peak positions: 1.0 eV above the L3 (456 eV) and L2 (462 eV) onsets of PHYSICS.md *(est.)*.
_TI_T2G_ENERGY = (EDGE_ONSETS["Ti"]["L3"] + 1.0, EDGE_ONSETS["Ti"]["L2"] + 1.0)
#: t2g intrinsic FWHM [eV] and heights relative to the L3 continuum step (t2g, eg at zero
#: off-centring) *(est.)*: white lines 4–6 × the step, with an L3 : L2 area ratio of 0.86, close to
#: the non-statistical ≈0.8 of Ti⁴⁺ (de Groot et al., Phys. Rev. B 41, 928 (1990)).
_TI_T2G_FWHM = (0.7, 1.2)
_TI_HEIGHTS = ((6.0, 5.0), (4.0, 3.5))


def ti_crystal_field_splitting(off_centring: float) -> float:
    """t2g–eg splitting of the Ti L3 (and L2) peaks in the model, ``Δ(u) = Δ0 − k·u`` [eV].

    Δ0 = :data:`TI_SPLITTING_CENTRED` (2.0 eV, PHYSICS.md) and k = :data:`TI_SPLITTING_SLOPE`
    (1.0 eV/Å, *est.*): 2.0 eV at u = 0, 1.6 eV at u = 0.4 Å.

    Parameters
    ----------
    off_centring
        |u|, displacement of the Ti from the centre of its O octahedron [Å], within
        :data:`TI_OFF_CENTRING_LIMITS`.
    """
    u = _off_centring(off_centring)
    return TI_SPLITTING_CENTRED - TI_SPLITTING_SLOPE * u


def ti_eg_fwhm(off_centring: float) -> tuple[float, float]:
    """Intrinsic FWHM of the L3 and L2 eg peaks, ``w(u) = w0 + b·u`` [eV] (b = :data:`TI_EG_BROADENING`)."""
    u = _off_centring(off_centring)
    return (TI_EG_FWHM_CENTRED[0] + TI_EG_BROADENING * u, TI_EG_FWHM_CENTRED[1] + TI_EG_BROADENING * u)


def _off_centring(value: float) -> float:
    low, high = TI_OFF_CENTRING_LIMITS
    u = require_finite("off_centring", value, "Å")
    if not low <= u <= high:
        raise ConfigurationError(f"`off_centring` must be within [{low}, {high}] [Å], got {value!r}.")
    return u


def ti_l23(off_centring: float = 0.0) -> EdgeSpec:
    """Ti L2,3 edge of a Ti⁴⁺ in an O octahedron, displaced by ``off_centring`` from its centre.

    Steps at L3 = 456 eV and L2 = 462 eV (PHYSICS.md; the Gatan EELS Atlas lists both as sharp
    peaks with delayed maxima) with statistical 2 : 1 weights, and four white-line peaks: t2g at
    457 and 463 eV and eg :func:`ti_crystal_field_splitting` above them, with the eg widths of
    :func:`ti_eg_fwhm`. The eg peaks keep their area when they broaden, so the 50 eV cross section
    (4.4e3 b) and the total white-line intensity do not depend on the off-centring; the splitting and
    the eg/t2g height ratio do.

    Parameters
    ----------
    off_centring
        |u| [Å], within :data:`TI_OFF_CENTRING_LIMITS`.

    Returns
    -------
    EdgeSpec
    """
    split = ti_crystal_field_splitting(off_centring)
    eg_fwhm = ti_eg_fwhm(off_centring)
    peaks = []
    for j in range(2):  # L3, L2
        t2g_height, eg_height = _TI_HEIGHTS[j]
        peaks.append(ELNESPeak(_TI_T2G_ENERGY[j], _TI_T2G_FWHM[j], t2g_height))
        peaks.append(ELNESPeak(_TI_T2G_ENERGY[j] + split, eg_fwhm[j], eg_height * TI_EG_FWHM_CENTRED[j] / eg_fwhm[j]))
    return EdgeSpec(
        element="Ti",
        name="L2,3",
        onset=EDGE_ONSETS["Ti"]["L2,3"],
        cross_section=_TI_L23_CROSS_SECTION,
        exponent=3.0,
        components=((0.0, 2.0 / 3.0), (EDGE_ONSETS["Ti"]["L2"] - EDGE_ONSETS["Ti"]["L3"], 1.0 / 3.0)),
        peaks=tuple(peaks),
    )


#: Ti L2,3 at zero off-centring.
TI_L23_CENTRED = ti_l23(0.0)

def _ti_edges(u: float) -> tuple[EdgeSpec, ...]:
    """The Ti edges at off-centring ``u`` [Å] (a module-level function, so the table pickles)."""
    return (ti_l23(u),)


#: The Ti off-centring dependence used by :data:`ELEMENT_TABLE`.
TI_OFF_CENTRING = LabelDependence(
    label=OFF_CENTRING_LABEL,
    edges=_ti_edges,
    spacing=TI_OFF_CENTRING_SPACING,
    limits=TI_OFF_CENTRING_LIMITS,
    default=0.0,
    unit="Å",
)

#: O K edge. Onset 532 eV: PHYSICS.md and the Gatan EELS Atlas (abrupt onset). Cross section
#: 3.2e3 b over 50 eV: :func:`scaled_cross_section` from C K (2 electrons at 532 eV). *(est.)*: the
#: perovskite O K near edge as O 2p hybridised with Ti 3d t2g (533 eV, FWHM 1.0 eV, height 1.5) and eg
#: (535.5 eV, FWHM 1.5 eV, height 1.2), then with Pb 6sp/Ti 4sp states (545 eV, FWHM 6 eV, height 1.0).
O_K = EdgeSpec(
    element="O",
    name="K",
    onset=EDGE_ONSETS["O"]["K"],
    cross_section=scaled_cross_section(C_K_REFERENCE, 2, EDGE_ONSETS["O"]["K"]),
    exponent=3.0,
    peaks=(ELNESPeak(533.0, 1.0, 1.5), ELNESPeak(535.5, 1.5, 1.2), ELNESPeak(545.0, 6.0, 1.0)),
)

#: Pb M4,5 edge: M5 at 2484 eV and M4 at 2586 eV, both delayed maxima (Gatan EELS Atlas, the only
#: Pb edges it lists), weights 6 : 4. Cross section 84 b over 50 eV: :func:`scaled_cross_section`
#: for 10 electrons at 2484 eV, delayed, times the M5 share 0.6. *(est.)*: the delayed maximum at
#: 2520 eV, FWHM 50 eV, 1.5 × the step. Below 2484 eV Pb contributes only its valence loss and
#: power-law background (:data:`PBTIO3_VALENCE_PB`).
PB_M45 = EdgeSpec(
    element="Pb",
    name="M4,5",
    onset=EDGE_ONSETS["Pb"]["M4,5"],
    cross_section=scaled_cross_section(SI_L23_REFERENCE, 10, EDGE_ONSETS["Pb"]["M5"], delayed=True, share=0.6),
    exponent=3.0,
    components=((0.0, 0.6), (EDGE_ONSETS["Pb"]["M4"] - EDGE_ONSETS["Pb"]["M5"], 0.4)),
    peaks=(ELNESPeak(2520.0, 50.0, 1.5),),
)

#: The element table. Si uses the graphene valence spectrum too *(est.)*: it has the same four
#: valence electrons as C. Mo, S and Re use MoS2's valence spectra, Pb, Ti and O PbTiO3's: a valence
#: spectrum belongs to the compound, and each element is modelled in one host so far.
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
        "Mo": ElementEELS(symbol="Mo", edges=(MO_M45,), valence=MOS2_VALENCE_MO),
        "S": ElementEELS(symbol="S", edges=(S_L23,), valence=MOS2_VALENCE_S),
        "Re": ElementEELS(symbol="Re", edges=(RE_M45,), valence=MOS2_VALENCE_RE),
        "Ti": ElementEELS(
            symbol="Ti", edges=(TI_L23_CENTRED,), valence=PBTIO3_VALENCE_TI, label_dependence=TI_OFF_CENTRING
        ),
        "O": ElementEELS(symbol="O", edges=(O_K,), valence=PBTIO3_VALENCE_O),
        "Pb": ElementEELS(symbol="Pb", edges=(PB_M45,), valence=PBTIO3_VALENCE_PB),
    }
)
