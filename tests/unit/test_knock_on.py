"""Knock-on physics: maximum transferred energy, McKinley–Feshbach and vibration-assisted cross sections."""

import math

import numpy as np
import pytest

from stemtwin.twin import ConfigurationError
from stemtwin.twin.dynamics.knock_on import (
    BARN_TO_A2,
    debye_mean_square_velocity,
    event_probability,
    max_transferred_energy,
    mckinley_feshbach_cross_section,
    vibration_assisted_cross_section,
)

KB, U = 1.380649e-23, 1.66053906660e-27


@pytest.mark.parametrize(("kilovolts", "expected"), [(60, 11.6), (80, 15.8), (100, 20.1)])
def test_max_transferred_energy_for_carbon_matches_physics_md(kilovolts: int, expected: float) -> None:
    assert round(max_transferred_energy(kilovolts * 1e3, 12), 1) == expected


@pytest.mark.parametrize(("kilovolts", "mass"), [(60, 12), (80, 32), (200, 28), (300, 95.95)])
def test_max_transferred_energy_matches_the_kev_formula(kilovolts: float, mass: float) -> None:
    # E_max [eV] = (E0/A)(E0 + 1022)/465.7 with E0 in keV (PHYSICS.md)
    assert max_transferred_energy(kilovolts * 1e3, mass) == pytest.approx(
        kilovolts / mass * (kilovolts + 1022) / 465.7, rel=5e-4
    )


def test_max_transferred_energy_is_vectorised() -> None:
    energies = np.array([[60e3, 80e3], [100e3, 200e3]])
    out = max_transferred_energy(energies, 12)
    assert out.shape == (2, 2)
    assert out[1, 0] == pytest.approx(max_transferred_energy(100e3, 12))


def _banhart(energy: float, z: int, mass: float, threshold: float) -> float:
    """The McKinley–Feshbach formula as printed by Banhart (1999), in its own constants [b]."""
    a0, e_r, mc2 = 0.529177e-10, 13.6057, 510998.95  # Bohr radius [m], Rydberg [eV], m c² [eV]
    gamma = 1 + energy / mc2
    beta2 = 1 - 1 / gamma**2
    beta = math.sqrt(beta2)
    emax = 2 * energy * (energy + 2 * mc2) / (mass * 931.494e6)
    x = emax / threshold
    if x <= 1:
        return 0.0
    bracket = x - 1 - beta2 * math.log(x) + math.pi * z / 137.036 * beta * (2 * math.sqrt(x) - math.log(x) - 2)
    return 4 * z**2 * e_r**2 / mc2**2 * math.pi * a0**2 * (1 - beta2) / beta2**2 * bracket / 1e-28


@pytest.mark.parametrize(
    ("energy", "z", "mass", "threshold"),
    [(120e3, 6, 12, 21.0), (200e3, 6, 12, 21.0), (300e3, 6, 12, 17.0), (80e3, 16, 32, 6.9), (200e3, 14, 28, 15.0)],
)
def test_mckinley_feshbach_agrees_with_an_independent_form(
    energy: float, z: int, mass: float, threshold: float
) -> None:
    assert mckinley_feshbach_cross_section(energy, z, mass, threshold) == pytest.approx(
        _banhart(energy, z, mass, threshold), rel=2e-3
    )


def test_static_cross_section_is_zero_below_threshold() -> None:
    for kv in (60, 80, 100):
        assert mckinley_feshbach_cross_section(kv * 1e3, 6, 12, 21.0) == 0.0
    assert mckinley_feshbach_cross_section(120e3, 6, 12, 21.0) > 0
    # The transferred maximum can be given explicitly (the vibration-assisted average does this).
    emax = max_transferred_energy(120e3, 12)
    assert mckinley_feshbach_cross_section(120e3, 6, 12, 21.0, transferred_max=emax) == pytest.approx(
        mckinley_feshbach_cross_section(120e3, 6, 12, 21.0)
    )
    assert mckinley_feshbach_cross_section(80e3, 6, 12, 21.0, transferred_max=21.5) > 0


def test_debye_mean_square_velocity_limits() -> None:
    mass = 12 * U
    # Out-of-plane graphene at 300 K: about 3.7e5 m²/s² (v_rms ≈ 610 m/s), dominated by zero-point motion.
    assert debye_mean_square_velocity(300.0) == pytest.approx(3.68e5, rel=0.01)
    assert debye_mean_square_velocity(0.0) == pytest.approx(3 / 8 * KB * 1287.0 / mass)
    # Far above the Debye temperature the classical equipartition value kT/M is recovered.
    hot = 60 * 1287.0
    assert debye_mean_square_velocity(hot) == pytest.approx(KB * hot / mass, rel=0.01)


def test_vibration_assisted_cross_section_is_converged_and_vectorised() -> None:
    energies = np.array([60e3, 80e3, 100e3, 300e3])
    coarse = vibration_assisted_cross_section(energies, 6, 12, 21.0)
    fine = vibration_assisted_cross_section(energies, 6, 12, 21.0, n_nodes=200)
    assert np.allclose(coarse, fine, rtol=1e-6, atol=0)
    assert coarse[1] == pytest.approx(vibration_assisted_cross_section(80e3, 6, 12, 21.0), rel=1e-12)


def test_vibrations_matter_only_near_threshold() -> None:
    static = mckinley_feshbach_cross_section(300e3, 6, 12, 21.0)
    assert vibration_assisted_cross_section(300e3, 6, 12, 21.0) == pytest.approx(static, rel=0.01)


def test_heavier_colder_or_stiffer_means_fewer_displacements() -> None:
    base = vibration_assisted_cross_section(90e3, 6, 12, 21.0)
    assert vibration_assisted_cross_section(90e3, 6, 13, 21.0) < base  # ¹³C (Meyer et al. 2012)
    assert vibration_assisted_cross_section(90e3, 6, 12, 21.0, temperature=0.0) < base
    assert vibration_assisted_cross_section(90e3, 6, 12, 21.0, temperature=1000.0) > base
    assert vibration_assisted_cross_section(90e3, 6, 12, 22.0) < base
    slower = debye_mean_square_velocity(300.0) / 2
    assert vibration_assisted_cross_section(90e3, 6, 12, 21.0, mean_square_velocity=slower) < base


def test_event_probability() -> None:
    assert event_probability(0.0, 1e9) == 0.0
    assert event_probability(1.0, 0.0) == 0.0
    assert event_probability(1.0, 1e8) == pytest.approx(1 - math.exp(-1.0))
    assert event_probability(1e-3, 1e3) == pytest.approx(1e-3 * 1e3 * BARN_TO_A2, rel=1e-6)
    out = event_probability(np.array([0.1, 1.0]), np.array([[1e8], [2e8]]))
    assert out.shape == (2, 2)
    assert out[1, 1] == pytest.approx(1 - math.exp(-2.0))


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: max_transferred_energy(-80e3, 12), "energy"),
        (lambda: max_transferred_energy(80e3, 0), "mass_number"),
        (lambda: mckinley_feshbach_cross_section(80e3, 0, 12, 21.0), "Z"),
        (lambda: mckinley_feshbach_cross_section(80e3, 6, 12, float("nan")), "displacement_threshold"),
        (lambda: vibration_assisted_cross_section(80e3, 6, 12, 21.0, temperature=-1.0), "temperature"),
        (lambda: vibration_assisted_cross_section(80e3, 6, 12, 21.0, debye_temperature=0.0), "debye_temperature"),
        (
            lambda: vibration_assisted_cross_section(80e3, 6, 12, 21.0, mean_square_velocity=-1.0),
            "mean_square_velocity",
        ),
        (lambda: event_probability(-0.1, 1e6), "cross_section_barn"),
        (lambda: event_probability(0.1, float("inf")), "dose_e_per_A2"),
    ],
)
def test_bad_inputs_raise_named_errors(call, field: str) -> None:
    with pytest.raises(ConfigurationError, match=field):
        call()
