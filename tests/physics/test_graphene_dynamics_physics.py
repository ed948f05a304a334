"""Graphene under the beam: knock-on energetics, Poisson event statistics, exponential waiting times,
the parked-beam Si-jump model and zero dose giving no damage (PHYSICS.md, "Graphene under the beam")."""

import math

import numpy as np
import pytest
from scipy import stats

from stemtwin.twin import build_graphene
from stemtwin.twin.dynamics.base import Exposure, per_atom_dose
from stemtwin.twin.dynamics.graphene import GrapheneDynamics
from stemtwin.twin.dynamics.knock_on import (
    BARN_TO_A2,
    max_transferred_energy,
    mckinley_feshbach_cross_section,
    vibration_assisted_cross_section,
)
from stemtwin.twin.samples.graphene import CC_BOND

E_CHARGE = 1.602176634e-19


def _parked(xy, seconds: float, current: float = 30.0, energy: float = 60e3) -> Exposure:
    """A beam parked at ``xy`` for ``seconds`` (one position, one long dwell), at 60 kV by default."""
    return Exposure.parked(xy, seconds, current=current, energy=energy)


def _raster(sample, per_axis: int, electrons: float, energy: float) -> Exposure:
    """A uniform raster over the whole cell, ``per_axis`` positions per axis."""
    ex, ey = sample.extent
    x, y = np.meshgrid((np.arange(per_axis) + 0.5) * ex / per_axis, (np.arange(per_axis) + 0.5) * ey / per_axis)
    positions = np.column_stack([x.ravel(), y.ravel()])
    n = len(positions)
    return Exposure(
        positions=positions,
        electrons=np.full(n, electrons),
        times=np.arange(n) * 1e-5,
        dwell_time=1e-5,
        energy=energy,
        current=30.0,
        kind="image",
    )


def _si_and_neighbours(sample) -> tuple[int, np.ndarray, np.ndarray]:
    """The 3-fold Si, its three C neighbours, and the minimum-image bond vectors to them."""
    si = int(sample.indices_of("Si_3fold")[0])
    box = np.array(sample.extent)
    d = sample.positions[:, :2] - sample.positions[si, :2]
    d -= box * np.round(d / box)
    r = np.hypot(d[:, 0], d[:, 1])
    nb = np.flatnonzero((r > 0.1) & (r < 1.6))
    return si, nb, d[nb]


# -- knock-on energetics -------------------------------------------------------------------------


def test_static_knock_on_threshold_of_carbon_is_above_100_kv() -> None:
    # E_d ≈ 21 eV (est.) needs about 105 keV for a nucleus at rest (PHYSICS.md).
    assert max_transferred_energy(100e3, 12) < 21.0 < max_transferred_energy(110e3, 12)
    for kilovolts in (60, 80, 100):
        assert mckinley_feshbach_cross_section(kilovolts * 1e3, 6, 12, 21.0) == 0.0


def test_vibration_assisted_knock_on_rises_steeply_from_60_to_100_kv() -> None:
    s60, s80, s100 = (vibration_assisted_cross_section(kv * 1e3, 6, 12, 21.0) for kv in (60, 80, 100))
    assert 0 < s60 < s80 < s100
    # The static value is exactly zero at 80 kV; the vibrating lattice gives a measurable cross section.
    assert s80 > 1e-7
    assert s100 / s60 > 1e10
    # Meyer et al., PRL 108, 196102 (2012): pristine graphene 10⁻⁴–10⁻¹ b over 80–100 kV; at 100 kV
    # the model is within that order of magnitude.
    assert 1e-4 < s100 < 1.0


def test_knock_on_rate_in_the_dynamics_rises_from_60_to_80_to_100_kv() -> None:
    sample = build_graphene((12.0, 12.0), rng=0)
    model = GrapheneDynamics(["knock_on"])
    rates = [model.expected_events(sample, _raster(sample, 20, 1e7, kv * 1e3))["knock_on"] for kv in (60, 80, 100)]
    assert 0 < rates[0] < rates[1] < rates[2]
    # Monte Carlo at a dose that gives a few events at 100 kV: almost none at 80 kV, none at 60 kV.
    counts = []
    for kv in (60, 80, 100):
        exposure = _raster(sample, 20, 5e6, kv * 1e3)
        rng = np.random.default_rng(7)
        counts.append(sum(len(model.evolve(sample, exposure, rng)[1]) for _ in range(20)))
    assert counts[0] <= counts[1] < counts[2]
    assert counts[2] > 20


def test_expected_knock_on_events_are_sigma_times_per_atom_dose() -> None:
    sample = build_graphene((12.0, 12.0), rng=0)
    model = GrapheneDynamics(["knock_on"], vacancy_edge_threshold=None)
    exposure = _raster(sample, 25, 3e6, 100e3)
    sigma = model.knock_on_cross_sections(100e3)["C_pristine"]
    dose = per_atom_dose(exposure, sample.positions[:, :2], sample.extent, probe_sigma=model.probe_sigma)
    expected = sigma * BARN_TO_A2 * dose.sum()
    assert model.expected_events(sample, exposure)["knock_on"] == pytest.approx(expected, rel=1e-9)


# -- event statistics ----------------------------------------------------------------------------


def test_knock_on_counts_follow_the_per_site_probabilities() -> None:
    """Independent sites: count = Σ Bernoulli(1 − exp(−σD_a)); mean and variance within 3–4 SE."""
    sample = build_graphene((12.0, 12.0), rng=0)
    # One threshold for every C, so knocking one atom out does not change its neighbours' hazards.
    model = GrapheneDynamics(["knock_on"], vacancy_edge_threshold=None)
    sigma = model.knock_on_cross_sections(100e3)["C_pristine"]
    per_axis = 20
    probe = _raster(sample, per_axis, 1.0, 100e3)
    unit_dose = per_atom_dose(probe, sample.positions[:, :2], sample.extent, probe_sigma=model.probe_sigma)
    electrons = 3.0 / (sigma * BARN_TO_A2 * unit_dose.sum())  # Σ σ D = 3
    exposure = _raster(sample, per_axis, electrons, 100e3)
    p = -np.expm1(-sigma * BARN_TO_A2 * unit_dose * electrons)
    trials = 1000
    rng = np.random.default_rng(2024)
    counts = np.array([len(model.evolve(sample, exposure, rng)[1]) for _ in range(trials)])
    mean, var = counts.mean(), counts.var(ddof=1)
    expected_mean, expected_var = p.sum(), (p * (1 - p)).sum()
    assert abs(mean - expected_mean) < 3 * math.sqrt(expected_var / trials)
    # The spread of a sample variance of near-Poisson counts: Var(s²) ≈ (μ4 − σ⁴)/n, μ4 ≈ λ + 3λ².
    se_var = math.sqrt((expected_mean + 3 * expected_mean**2 - expected_var**2) / trials)
    assert abs(var - expected_var) < 4 * se_var
    assert var / mean == pytest.approx(1.0, abs=0.2)  # rare events: variance ≈ mean


def test_parked_beam_jump_counts_are_poisson_with_the_summed_hazard() -> None:
    """Beam on a Si–C bond centre: the Si shuttles across the bond at a constant total rate."""
    sample = build_graphene((20.0, 20.0), n_si_3fold=1, rng=3)
    si, _, bonds = _si_and_neighbours(sample)
    model = GrapheneDynamics(["si_jump"])
    midpoint = sample.positions[si, :2] + 0.5 * bonds[0]
    rate = model.expected_events(sample, _parked(midpoint, 1.0))["si_jump"]  # [1/s] at 30 pA
    # Main channel at 0.35 bond lengths from the beam, plus two weak side channels.
    assert rate == pytest.approx(0.23 * (math.exp(-(0.35**2) / 0.2) + 2 * math.exp(-1.3975 / 0.2)), rel=1e-3)
    seconds = 4.0 / rate
    exposure = _parked(midpoint, seconds)
    trials = 1000
    rng = np.random.default_rng(11)
    counts = np.array([len(model.evolve(sample, exposure, rng)[1]) for _ in range(trials)])
    expected = rate * seconds
    assert abs(counts.mean() - expected) < 3 * math.sqrt(expected / trials)
    se_var = math.sqrt((expected + 2 * expected**2) / trials)  # μ4 − σ⁴ for a Poisson count
    assert abs(counts.var(ddof=1) - expected) < 4 * se_var


def test_waiting_times_of_repeated_parked_beam_jumps_are_exponential() -> None:
    sample = build_graphene((20.0, 20.0), n_si_3fold=1, rng=3)
    si, _, bonds = _si_and_neighbours(sample)
    box = np.array(sample.extent)
    start = sample.positions[si, :2].copy()
    model = GrapheneDynamics(["si_jump"])
    midpoint = start + 0.5 * bonds[0]
    rate = model.expected_events(sample, _parked(midpoint, 1.0))["si_jump"]
    new, events = model.evolve(sample, _parked(midpoint, 300.0 / rate), np.random.default_rng(5))
    assert new is not sample
    # With the Si on either end of the bond the total rate is the same (the bond centre is a centre
    # of inversion); keep the waits that start in those two states (after a rare side jump the Si
    # sits elsewhere, at another rate, until it comes back).
    ends = np.array([start, np.mod(start + bonds[0], box)])

    def shuttling(xy) -> bool:  # noqa: ANN001
        d = np.asarray(xy) - ends
        d -= box * np.round(d / box)
        return bool((np.hypot(d[:, 0], d[:, 1]) < 1e-6).any())

    times = np.array([0.0] + [e.time for e in events])
    states = [start] + [e.details["to"] for e in events]
    waits = np.array([times[k + 1] - times[k] for k in range(len(events)) if shuttling(states[k])])
    assert len(waits) > 200
    assert stats.kstest(waits, "expon", args=(0, 1 / rate)).pvalue > 0.01
    assert waits.mean() == pytest.approx(1 / rate, rel=4 / math.sqrt(len(waits)))


def test_parked_beam_sends_the_si_towards_the_chosen_neighbour() -> None:
    sample = build_graphene((20.0, 20.0), n_si_3fold=1, rng=3)
    si, nb, bonds = _si_and_neighbours(sample)
    model = GrapheneDynamics(["si_jump"])
    beam = sample.positions[si, :2] + 0.85 * bonds[0]  # the rate maximum towards neighbour 0
    exposure = _parked(beam, 10.0)
    assert model.expected_events(sample, exposure)["si_jump"] == pytest.approx(2.3, rel=1e-3)  # 0.23 s⁻¹ × 10 s
    rng = np.random.default_rng(0)
    targets = []
    for _ in range(200):
        _, events = model.evolve(sample, exposure, rng)
        if events:
            targets.append(events[0].atoms[1])
    assert len(targets) > 150
    assert np.mean(np.array(targets) == nb[0]) > 0.8


def test_a_jump_keeps_the_si_three_fold_at_the_bond_length() -> None:
    sample = build_graphene((20.0, 20.0), n_si_3fold=1, rng=3)
    si, nb, bonds = _si_and_neighbours(sample)
    model = GrapheneDynamics(["si_jump"])
    beam = sample.positions[si, :2] + 0.85 * bonds[1]
    new, events = model.evolve(sample, _parked(beam, 30.0), np.random.default_rng(1))
    assert events and events[0].kind == "si_jump"
    si_new, nb_new, bonds_new = _si_and_neighbours(new)
    assert len(nb_new) == 3
    assert np.allclose(np.hypot(*bonds_new.T), CC_BOND, atol=1e-6)
    assert set(new.site_class[nb_new]) == {new.class_of("C_bonded_Si")}
    dz = new.positions[si_new, 2] - new.positions[nb_new, 2]
    assert np.allclose(np.hypot(np.hypot(*bonds_new.T), dz), 1.77, atol=1e-3)  # the buckled Si–C bond


# -- zero dose -------------------------------------------------------------------------------------


@pytest.mark.parametrize("process", GrapheneDynamics.PROCESSES)
def test_zero_dose_gives_no_damage(process: str) -> None:
    sample = build_graphene((20.0, 20.0), n_si_3fold=1, n_si_4fold=1, n_monovacancies=1, rng=2)
    model = GrapheneDynamics([process], si_reconversion_cross_section=0.05)
    exposure = _raster(sample, 10, 0.0, 100e3)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    new, events = model.evolve(sample, exposure, rng)
    assert new is sample and events == []
    assert rng.bit_generator.state == state
    assert model.expected_events(sample, exposure) == {process: 0.0}
    # The same raster with enough electrons for ~10 events does change the sample.
    per_electron = model.expected_events(sample, _raster(sample, 10, 1.0, 100e3))[process]
    assert per_electron > 0
    new, events = model.evolve(sample, _raster(sample, 10, 10.0 / per_electron, 100e3), np.random.default_rng(0))
    assert events and new is not sample
