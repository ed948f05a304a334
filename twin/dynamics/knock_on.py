"""Knock-on displacement of atoms by elastic electron–nucleus scattering.

Element-generic: every function takes the nuclear charge ``Z``, the nuclear mass ``mass_number``
[u] and a displacement threshold ``displacement_threshold`` [eV], so the same physics serves C in
graphene and S in MoS2.

Physics
-------
A beam electron of kinetic energy E that back-scatters from a nucleus of mass M at rest transfers
at most

    E_max = 2 E (E + 2 m c²) / (M c²),

which with E in keV and M = A u is E_max [eV] = (E/A)(E + 1022)/465.7 (PHYSICS.md): 11.6, 15.8 and
20.1 eV for ¹²C at 60, 80 and 100 kV. The cross section for a transfer above the displacement
threshold E_d is the McKinley–Feshbach approximation to the Mott cross section
(McKinley & Feshbach, Phys. Rev. 74, 1759 (1948); see Banhart, Rep. Prog. Phys. 62, 1181 (1999),
eq. 5):

    σ = π (Z r_e)² (1 − β²)/β⁴ · [x − 1 − β² ln x + π α Z β (2√x − ln x − 2)],  x = E_max/E_d,

with r_e the classical electron radius, α the fine-structure constant and β = v/c of the electron;
σ = 0 for x ≤ 1. For ¹²C with E_d ≈ 21 eV *(est.)* the static threshold is about 105 keV, so a
static lattice would never be displaced at 60–100 kV.

Lattice vibrations lift this cut-off (Meyer et al., PRL 108, 196102 (2012)). A nucleus moving with
velocity v along the beam receives (to first order in v/c, heavy nucleus)

    E_max(v) = E_max(0) + 2 p v,   p c = √(E (E + 2 m c²)),

and its out-of-plane velocity is Gaussian with mean square ⟨v_z²⟩. The displacement cross section
is the McKinley–Feshbach cross section with E_max(v), averaged over that distribution. Here
⟨v_z²⟩ comes from a Debye model of the out-of-plane vibrations,

    ⟨v_z²⟩ = (3 k_B T / M) (T/θ_D)³ ∫₀^{θ_D/T} x³ [1/(eˣ − 1) + 1/2] dx,

zero-point motion included, with θ_D = 1287 K, the out-of-plane Debye temperature of graphene
(Tewary & Yang, Phys. Rev. B 79, 125416 (2009)). For ¹²C at 300 K this gives ⟨v_z²⟩ ≈ 3.7 × 10⁵ m²/s²
(v_rms ≈ 610 m/s). Using a Debye model rather than the full phonon density of states is a model
choice *(est.)*; pass ``mean_square_velocity`` to use another value.

Values computed here (¹²C, Z = 6, E_d = 21 eV, T = 300 K, θ_D = 1287 K; C at a vacancy edge with
E_d = 15 eV *(est.)* for comparison):

    =======  ========  ==============  ==================  =====================
    E0 [kV]  E_max(0)  σ static [b]    σ vibrating [b]     σ vibrating, 15 eV [b]
    =======  ========  ==============  ==================  =====================
    60       11.6 eV   0               3.3 × 10⁻²⁰         1.4 × 10⁻³
    80       15.8 eV   0               6.4 × 10⁻⁶          5.2
    100      20.1 eV   0               0.47                17.6
    120      24.5 eV   5.71            5.75                23.4
    =======  ========  ==============  ==================  =====================

Meyer et al. (2012) measured pristine-graphene (¹²C) cross sections of order 10⁻⁴–10⁻¹ b over
80–100 kV, rising by orders of magnitude with beam energy. The model reproduces the steep rise and
the order of magnitude at 100 kV (0.47 b, the upper end of that range); at 80 kV it gives 6 × 10⁻⁶ b,
below the measured order. The low-energy values depend exponentially on E_d and on the
high-velocity tail of the vibrations (Susi et al., Nat. Commun. 7, 13040 (2016) refine the velocity
distribution), so treat them as order-of-magnitude lower bounds *(est.)*. Above the static threshold
(120 kV) the vibrations change σ by < 1 %.

The probability that an atom receiving dose D [e/Å²] is displaced is 1 − exp(−σD) with
1 b = 10⁻⁸ Å² (:func:`event_probability`).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..errors import ConfigurationError
from ..validation import require_int, require_non_negative, require_positive

__all__ = [
    "BARN_TO_A2",
    "ELECTRON_REST_ENERGY",
    "GRAPHENE_OUT_OF_PLANE_DEBYE_TEMPERATURE",
    "max_transferred_energy",
    "beam_beta",
    "mckinley_feshbach_cross_section",
    "debye_mean_square_velocity",
    "vibration_assisted_cross_section",
    "event_probability",
]

#: One barn in Å² (1 b = 1e-28 m² = 1e-8 Å²).
BARN_TO_A2 = 1e-8
#: Electron rest energy m c² [eV].
ELECTRON_REST_ENERGY = 510_998.95
#: Atomic mass unit u c² [eV].
_ATOMIC_MASS_ENERGY = 931.49410242e6
#: Classical electron radius [m].
_ELECTRON_RADIUS = 2.8179403262e-15
#: π r_e² [b].
_PI_RE2_BARN = math.pi * _ELECTRON_RADIUS**2 / 1e-28
#: Fine-structure constant.
_ALPHA = 7.2973525693e-3
#: Speed of light [m/s].
_C = 299_792_458.0
#: Boltzmann constant [J/K] and the atomic mass unit [kg].
_KB = 1.380649e-23
_U = 1.66053906660e-27
#: Out-of-plane Debye temperature of graphene [K] (Tewary & Yang, PRB 79, 125416 (2009)).
GRAPHENE_OUT_OF_PLANE_DEBYE_TEMPERATURE = 1287.0


def _as_energy(energy: float | np.ndarray) -> np.ndarray:
    e = np.asarray(energy, dtype=np.float64)
    if not np.all(np.isfinite(e)) or np.any(e <= 0):
        got = energy if np.ndim(energy) == 0 else "an array with non-positive or non-finite entries"
        raise ConfigurationError(f"`energy` must be positive and finite [eV], got {got!r}.")
    return e


def _scalar_or_array(x: np.ndarray, like: float | np.ndarray) -> float | np.ndarray:
    return float(x) if np.ndim(like) == 0 else x


def max_transferred_energy(energy: float | np.ndarray, mass_number: float) -> float | np.ndarray:
    """Largest energy a beam electron can give a nucleus at rest (head-on back-scattering) [eV].

    E_max = 2E(E + 2mc²)/(Mc²), i.e. (E0/A)(E0 + 1022)/465.7 eV with E0 in keV.

    Parameters
    ----------
    energy
        Beam energy [eV], scalar or ndarray.
    mass_number
        Nuclear mass [u], for example 12 for ¹²C (a non-integer isotope mass is fine).

    Returns
    -------
    float or ndarray
        E_max [eV], the shape of ``energy``.
    """
    e = _as_energy(energy)
    mass = require_positive("mass_number", mass_number, "u")
    out = 2.0 * e * (e + 2.0 * ELECTRON_REST_ENERGY) / (mass * _ATOMIC_MASS_ENERGY)
    return _scalar_or_array(out, energy)


def beam_beta(energy: float | np.ndarray) -> float | np.ndarray:
    """Relativistic β = v/c of a beam electron of kinetic energy ``energy`` [eV]."""
    e = _as_energy(energy)
    gamma = 1.0 + e / ELECTRON_REST_ENERGY
    return _scalar_or_array(np.sqrt(1.0 - 1.0 / gamma**2), energy)


def _mf_bracket(x: np.ndarray, beta: np.ndarray, z: float) -> np.ndarray:
    """The McKinley–Feshbach bracket for x = E_max/E_d (zero for x ≤ 1)."""
    xs = np.maximum(x, 1.0)
    ln = np.log(xs)
    val = xs - 1.0 - beta**2 * ln + math.pi * _ALPHA * z * beta * (2.0 * np.sqrt(xs) - ln - 2.0)
    return np.where(x > 1.0, np.maximum(val, 0.0), 0.0)


def _check_element(z: int, mass_number: float, displacement_threshold: float) -> tuple[int, float, float]:
    z = require_int("Z", z, minimum=1, maximum=118)
    mass = require_positive("mass_number", mass_number, "u")
    ed = require_positive("displacement_threshold", displacement_threshold, "eV")
    return z, mass, ed


def mckinley_feshbach_cross_section(
    energy: float | np.ndarray,
    Z: int,
    mass_number: float,
    displacement_threshold: float,
    transferred_max: float | np.ndarray | None = None,
) -> float | np.ndarray:
    """Static knock-on displacement cross section, McKinley–Feshbach approximation [b].

    σ = π (Z r_e)² (1 − β²)/β⁴ · [x − 1 − β² ln x + π α Z β (2√x − ln x − 2)] with
    x = E_max/E_d (McKinley & Feshbach, Phys. Rev. 74, 1759 (1948); Banhart, Rep. Prog. Phys. 62,
    1181 (1999)). Zero when E_max ≤ E_d.

    Parameters
    ----------
    energy
        Beam energy [eV], scalar or ndarray.
    Z
        Nuclear charge.
    mass_number
        Nuclear mass [u].
    displacement_threshold
        Displacement threshold energy E_d [eV].
    transferred_max
        E_max [eV] to use instead of the value for a nucleus at rest (the vibration-assisted
        cross section passes a velocity-shifted E_max here); broadcasts against ``energy``.

    Returns
    -------
    float or ndarray
        Cross section [b] (1 b = 10⁻²⁸ m² = 10⁻⁸ Å²).
    """
    z, mass, ed = _check_element(Z, mass_number, displacement_threshold)
    e = _as_energy(energy)
    beta = np.asarray(beam_beta(e))
    tmax = np.asarray(max_transferred_energy(e, mass)) if transferred_max is None else np.asarray(transferred_max)
    if transferred_max is not None and not np.all(np.isfinite(tmax)):
        raise ConfigurationError("`transferred_max` must be finite [eV].")
    sigma = _PI_RE2_BARN * z**2 * (1.0 - beta**2) / beta**4 * _mf_bracket(tmax / ed, beta, z)
    like = energy if transferred_max is None or np.ndim(transferred_max) == 0 else transferred_max
    return _scalar_or_array(sigma, like)


@lru_cache(maxsize=16)
def _leggauss(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


@lru_cache(maxsize=256)
def _debye_msv(temperature: float, debye_temperature: float, mass_number: float) -> float:
    mass = mass_number * _U
    zero_point = 3.0 / 8.0 * _KB * debye_temperature / mass
    if temperature == 0.0:
        return zero_point
    upper = debye_temperature / temperature
    nodes, weights = _leggauss(128)
    x = 0.5 * upper * (nodes + 1.0)
    thermal = 0.5 * upper * np.sum(weights * x**3 / np.expm1(x))
    return 3.0 * _KB * temperature / mass * (temperature / debye_temperature) ** 3 * thermal + zero_point


def debye_mean_square_velocity(
    temperature: float = 300.0,
    debye_temperature: float = GRAPHENE_OUT_OF_PLANE_DEBYE_TEMPERATURE,
    mass_number: float = 12.0,
) -> float:
    """Mean-square velocity of an atom along one axis in the Debye model [m²/s²].

    ⟨v²⟩ = (3 k_B T / M)(T/θ_D)³ ∫₀^{θ_D/T} x³ [1/(eˣ − 1) + 1/2] dx, zero-point motion included
    (the kinetic part, half, of the Debye vibrational energy, one third per axis).

    Parameters
    ----------
    temperature
        Sample temperature [K], >= 0.
    debye_temperature
        Debye temperature of the vibrations along that axis [K]; default 1287 K, the out-of-plane
        value for graphene (Tewary & Yang, PRB 79, 125416 (2009)).
    mass_number
        Nuclear mass [u].
    """
    t = require_non_negative("temperature", temperature, "K")
    theta = require_positive("debye_temperature", debye_temperature, "K")
    mass = require_positive("mass_number", mass_number, "u")
    return _debye_msv(t, theta, mass)


def vibration_assisted_cross_section(
    energy: float | np.ndarray,
    Z: int,
    mass_number: float,
    displacement_threshold: float,
    temperature: float = 300.0,
    debye_temperature: float = GRAPHENE_OUT_OF_PLANE_DEBYE_TEMPERATURE,
    *,
    mean_square_velocity: float | None = None,
    n_nodes: int = 96,
) -> float | np.ndarray:
    """Knock-on cross section of a vibrating nucleus (Meyer et al., PRL 108, 196102 (2012)) [b].

    The McKinley–Feshbach cross section with E_max(v) = E_max(0) + 2pv, averaged over a Gaussian
    distribution of the velocity v along the beam with mean square ⟨v_z²⟩ (a Debye model by
    default, see the module docstring). The average is a Gauss–Legendre quadrature over the
    velocities that exceed the threshold, vectorised over ``energy``.

    Parameters
    ----------
    energy
        Beam energy [eV], scalar or ndarray.
    Z
        Nuclear charge.
    mass_number
        Nuclear mass [u].
    displacement_threshold
        Displacement threshold E_d [eV]; about 21 eV for C in pristine graphene *(est.)*.
    temperature
        Sample temperature [K].
    debye_temperature
        Debye temperature of the out-of-plane vibrations [K] (1287 K for graphene).
    mean_square_velocity
        ⟨v_z²⟩ [m²/s²] to use instead of the Debye model.
    n_nodes
        Quadrature nodes (96 is converged to better than 10⁻⁶ relative).

    Returns
    -------
    float or ndarray
        Cross section [b]; rises steeply with beam energy and is positive wherever the static
        value is zero.
    """
    z, mass, ed = _check_element(Z, mass_number, displacement_threshold)
    n = require_int("n_nodes", n_nodes, minimum=8)
    if mean_square_velocity is None:
        msv = debye_mean_square_velocity(temperature, debye_temperature, mass)
    else:
        msv = require_positive("mean_square_velocity", mean_square_velocity, "m²/s²")
    e = np.atleast_1d(_as_energy(energy))
    s = math.sqrt(msv)  # velocity spread [m/s]
    emax0 = np.asarray(max_transferred_energy(e, mass))
    slope = 2.0 * np.sqrt(e * (e + 2.0 * ELECTRON_REST_ENERGY)) / _C  # dE_max/dv [eV s/m]
    v_t = (ed - emax0) / slope  # threshold velocity [m/s]
    span = 8.0  # Gaussian weight beyond ±8 s is < 1e-15
    lo = np.maximum(v_t, -span * s)
    width = np.where(v_t > s, np.minimum(span * s, 40.0 * s * s / np.maximum(v_t, s)), span * s - lo)
    width = np.maximum(width, 0.0)
    nodes, weights = _leggauss(n)
    v = lo[:, None] + 0.5 * width[:, None] * (nodes[None, :] + 1.0)
    beta = np.asarray(beam_beta(e))[:, None]
    tmax = emax0[:, None] + slope[:, None] * v
    sigma_v = _PI_RE2_BARN * z**2 * (1.0 - beta**2) / beta**4 * _mf_bracket(tmax / ed, beta, z)
    density = np.exp(-0.5 * (v / s) ** 2) / (s * math.sqrt(2.0 * math.pi))
    out = 0.5 * width * np.sum(weights[None, :] * sigma_v * density, axis=1)
    return float(out[0]) if np.ndim(energy) == 0 else out.reshape(np.shape(energy))


def event_probability(cross_section_barn: float | np.ndarray, dose_e_per_A2: float | np.ndarray) -> float | np.ndarray:
    """Probability that a process of cross section σ [b] happens under dose D [e/Å²]: 1 − exp(−σD).

    Parameters
    ----------
    cross_section_barn
        Cross section [b] (1 b = 10⁻⁸ Å²), >= 0.
    dose_e_per_A2
        Electron dose [e/Å²], >= 0.
    """
    sigma = np.asarray(cross_section_barn, dtype=np.float64)
    dose = np.asarray(dose_e_per_A2, dtype=np.float64)
    if np.ndim(sigma) == 0:
        require_non_negative("cross_section_barn", float(sigma), "b")
    if np.ndim(dose) == 0:
        require_non_negative("dose_e_per_A2", float(dose), "e/Å²")
    if np.any(~np.isfinite(sigma)) or np.any(sigma < 0) or np.any(~np.isfinite(dose)) or np.any(dose < 0):
        raise ConfigurationError("`cross_section_barn` [b] and `dose_e_per_A2` [e/Å²] must be finite and >= 0.")
    out = -np.expm1(-sigma * BARN_TO_A2 * dose)
    return float(out) if out.ndim == 0 else out

