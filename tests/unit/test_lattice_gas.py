"""The Re/Mo lattice gas: neighbour geometry, exactness of the vectorised Kawasaki swaps, observables."""

import itertools
import math

import numpy as np
import pytest
from scipy.spatial import cKDTree

from stemtwin.twin import ConfigurationError
from stemtwin.twin.samples.lattice_gas import (
    _pattern_pairs,
    _patterns,
    _swap_delta,
    configuration_histogram,
    energy,
    expected_random_re_re_nn_pairs,
    kawasaki_sweeps,
    lattice_positions,
    local_configuration,
    neighbour_indices,
    nn_unlike_fraction,
    random_alloy,
    re_re_nn_pairs,
    statistical_distance,
)

SHAPES = [(4, 6), (5, 8), (6, 6), (7, 10), (9, 14)]


def _periodic_displacements(shape, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Minimum-image displacement from site i to site j (flat indices), in units of a."""
    xy = lattice_positions(shape).reshape(-1, 2)
    box = np.array([shape[0], shape[1] * math.sqrt(3) / 2])
    d = xy[j] - xy[i]
    return d - box * np.round(d / box)


@pytest.mark.parametrize("shape", SHAPES)
def test_neighbour_tables_follow_the_documented_distances_and_angles(shape) -> None:
    nn, nnn = neighbour_indices(shape)
    n = shape[0] * shape[1]
    sites = np.arange(n)
    for table, radius, start in ((nn, 1.0, 0.0), (nnn, math.sqrt(3), 30.0)):
        for k in range(6):
            d = _periodic_displacements(shape, sites, table[:, k])
            assert np.allclose(np.hypot(d[:, 0], d[:, 1]), radius)
            angle = np.degrees(np.arctan2(d[:, 1], d[:, 0])) % 360
            assert np.allclose(angle, (start + 60 * k) % 360)
    # All 12 neighbours are distinct, and they are exactly the sites within √3·a (periodic).
    both = np.concatenate([nn, nnn], axis=1)
    xy = lattice_positions(shape).reshape(-1, 2)
    box = (shape[0], shape[1] * math.sqrt(3) / 2)
    tree = cKDTree(xy % box, boxsize=box)
    for s in range(n):
        found = set(tree.query_ball_point(xy[s] % box, math.sqrt(3) + 1e-6)) - {s}
        assert found == set(both[s]) and len(found) == 12


@pytest.mark.parametrize("shape", SHAPES)
def test_swap_patterns_are_independent_and_cover_every_bond(shape) -> None:
    """No site of a pattern bond lies within √3·a of a site of another; every bond is reachable."""
    n1, n2 = shape
    nn, nnn = neighbour_indices(shape)
    reach = np.concatenate([nn, nnn, np.arange(n1 * n2)[:, None]], axis=1)  # closed neighbourhoods
    rng = np.random.default_rng(0)
    covered = {d: set() for d in range(3)}
    for direction in range(3):
        rows = _patterns(n1, n2)[direction][1]
        assert rows >= 1
        for row_offset in range(n2):
            for trial in range(n1 + 3):
                offsets = np.full(rows, trial) if trial < n1 else rng.integers(n1, size=rows)
                s, t = _pattern_pairs(n1, n2, direction, row_offset, offsets)
                assert np.array_equal(t, nn[s, direction])
                covered[direction].update(s.tolist())
                # Each site of the pattern may reach only the sites of its own bond.
                owner = np.full(n1 * n2, -1)
                owner[s] = np.arange(s.size)
                owner[t] = np.arange(t.size)
                assert len(set(s) | set(t)) == 2 * s.size
                for site, bond in itertools.chain(zip(s, range(s.size)), zip(t, range(t.size))):
                    others = owner[reach[site]]
                    assert np.all((others == -1) | (others == bond))
    for direction in range(3):
        assert covered[direction] == set(range(n1 * n2))


def test_swap_delta_equals_the_energy_difference() -> None:
    rng = np.random.default_rng(1)
    shape = (7, 10)
    nn, nnn = neighbour_indices(shape)
    both = np.concatenate([nn, nnn], axis=1)
    for _ in range(40):
        occ = random_alloy(shape, rng.uniform(0.2, 0.8), rng)
        w1, w2 = rng.uniform(-2, 2, size=2)
        flat = occ.ravel()
        s = int(rng.integers(flat.size))
        t = int(nn[s, rng.integers(6)])
        if flat[s] == flat[t]:
            continue
        swapped = flat.copy()
        swapped[[s, t]] = swapped[[t, s]]
        weights = np.array([w1] * 6 + [w2] * 6)
        delta = _swap_delta(2.0 * flat - 1.0, both, np.array([s]), np.array([t]), weights)[0]
        assert delta == pytest.approx(energy(swapped.reshape(shape), w1, w2) - energy(occ, w1, w2), abs=1e-9)


def test_sampled_mean_energy_matches_exact_enumeration() -> None:
    """Detailed balance: on a 4 × 6 lattice with 3 Re, the chain's ⟨H⟩ is the Boltzmann average."""
    shape, n_re, w1, w2, temperature = (4, 6), 3, 1.0, -0.6, 0.8
    n = shape[0] * shape[1]
    energies = []
    for sites in itertools.combinations(range(n), n_re):
        occ = np.zeros(n, dtype=np.int8)
        occ[list(sites)] = 1
        energies.append(energy(occ.reshape(shape), w1, w2))
    energies = np.array(energies)
    boltzmann = np.exp(-(energies - energies.min()) / temperature)
    exact = float((energies * boltzmann).sum() / boltzmann.sum())
    uniform = float(energies.mean())

    rng = np.random.default_rng(2)
    occ = random_alloy(shape, n_re / n, rng)
    samples = []
    for _ in range(1500):
        occ = kawasaki_sweeps(occ, w1, w2, temperature, 1, rng)
        samples.append(energy(occ, w1, w2))
    batches = np.array(samples[100:]).reshape(20, -1).mean(axis=1)
    mean, stderr = batches.mean(), batches.std(ddof=1) / math.sqrt(batches.size)
    assert abs(uniform - exact) > 10 * stderr  # the test can tell a biased chain from a correct one
    assert abs(mean - exact) < 4 * stderr


def test_sweeps_conserve_composition_and_leave_the_input_alone() -> None:
    occ = random_alloy((20, 20), 0.3, 3)
    before = occ.copy()
    for w1, w2 in [(1.5, 0.5), (-1.5, -0.5), (0.0, 2.0)]:
        out = kawasaki_sweeps(occ, w1, w2, 0.35, 5, 4)
        assert out.dtype == np.int8 and out.shape == occ.shape
        assert out.sum() == occ.sum() == 120
        assert not np.array_equal(out, occ)
    assert np.array_equal(occ, before)
    assert np.array_equal(kawasaki_sweeps(occ, 1.0, 0.0, 0.35, 0, 5), occ)
    a = kawasaki_sweeps(occ, 1.0, 0.0, 0.35, 3, 6)
    assert np.array_equal(a, kawasaki_sweeps(occ, 1.0, 0.0, 0.35, 3, 6))


def test_energy_falls_from_a_random_start_for_clustering_energies() -> None:
    drops = []
    for seed in range(5):
        occ = random_alloy((30, 30), 0.25, seed)
        e0 = energy(occ, 1.0, 0.5)
        e1 = energy(kawasaki_sweeps(occ, 1.0, 0.5, 0.35, 30, seed + 10), 1.0, 0.5)
        drops.append((e0 - e1) / e0)
    assert min(drops) > 0.2


def test_without_interactions_re_re_pairs_stay_at_the_random_expectation() -> None:
    shape, x = (30, 30), 0.3
    n = shape[0] * shape[1]
    n_re = round(x * n)
    expected = expected_random_re_re_nn_pairs(n, n_re)
    assert expected == pytest.approx(3 * n * x**2, rel=5e-3)  # x²·3N, less the exact-count correction
    pairs = []
    for seed in range(24):
        occ = kawasaki_sweeps(random_alloy(shape, x, seed), 0.0, 0.0, 0.35, 10, seed + 100)
        pairs.append(re_re_nn_pairs(occ))
        # Each Re has 6 bonds: the unlike ones are 6·n_re minus two per Re–Re bond.
        assert nn_unlike_fraction(occ) == pytest.approx((6 * n_re - 2 * pairs[-1]) / (3 * n))
    pairs = np.array(pairs, dtype=float)
    stderr = pairs.std(ddof=1) / math.sqrt(pairs.size)
    assert abs(pairs.mean() - expected) < 3.5 * stderr
    # The spread is that of a random alloy (about √(3N)·x·(1 − x)·2 ≈ 17 pairs), not frozen or wild.
    assert 8 < pairs.std(ddof=1) < 30


@pytest.mark.parametrize(("w1", "w2", "sign"), [(1.0, 0.0, 1), (0.5, 0.5, 1), (-1.0, 0.0, -1), (-0.5, -0.5, -1)])
def test_re_re_pairs_move_away_from_random_with_the_sign_of_w(w1: float, w2: float, sign: int) -> None:
    """w > 0 clusters Re (more Re–Re nearest-neighbour pairs than x²·3N), w < 0 alternates (fewer).

    (w2 > 0 alone would not do: at x < 1/3 it favours √3 × √3 order on one sublattice, with no
    Re–Re nearest neighbours at all.)
    """
    shape, x = (24, 24), 0.25
    n = shape[0] * shape[1]
    random_pairs = x**2 * 3 * n
    excess = []
    for seed in range(5):
        occ = kawasaki_sweeps(random_alloy(shape, x, seed), w1, w2, 0.35, 40, seed + 50)
        excess.append(re_re_nn_pairs(occ) - random_pairs)
    excess = sign * np.array(excess)
    assert np.all(excess > 0)
    assert excess.mean() > 3 * excess.std(ddof=1) / math.sqrt(excess.size)


def test_counts_of_bonds() -> None:
    occ = np.zeros((6, 6), dtype=np.int8)
    occ[2, 2] = 1
    assert re_re_nn_pairs(occ) == 0
    assert nn_unlike_fraction(occ) == pytest.approx(6 / (3 * 36))
    assert energy(occ, 1.0, 0.5) == pytest.approx(6 * 1.0 + 6 * 0.5)
    nn, _ = neighbour_indices((6, 6))
    occ.ravel()[nn[2 * 6 + 2, 1]] = 1
    assert re_re_nn_pairs(occ) == 1
    assert energy(occ, 1.0, 0.0) == pytest.approx(10.0)
    assert energy(np.ones((6, 6), dtype=np.int8), 1.0, 1.0) == 0.0


def test_random_alloy_has_the_exact_count() -> None:
    a = random_alloy((10, 12), 0.3, 7)
    assert a.dtype == np.int8 and a.shape == (10, 12)
    assert a.sum() == 36
    assert np.array_equal(a, random_alloy((10, 12), 0.3, 7))
    assert not np.array_equal(a, random_alloy((10, 12), 0.3, 8))
    assert random_alloy((4, 6), 0.0, 0).sum() == 0 and random_alloy((4, 6), 1.0, 0).sum() == 24


def test_local_configuration_orders_neighbours_by_angle() -> None:
    shape = (6, 8)
    nn, _ = neighbour_indices(shape)
    for centre in (2 * 8 + 3, 3 * 8 + 4):  # an odd and an even row
        occ = np.zeros(shape, dtype=np.int8)
        occ.ravel()[centre] = 1
        config_class, re_neighbours = local_configuration(occ)
        flat_class, flat_count = config_class.ravel(), re_neighbours.ravel()
        assert flat_class[centre] == 64 and flat_count[centre] == 0
        for k in range(6):
            # The Re lies at 60°·k + 180° as seen from its neighbour k.
            assert flat_class[nn[centre, k]] == 2 ** ((k + 3) % 6)
            assert flat_count[nn[centre, k]] == 1
        assert flat_class.sum() == 64 + sum(2**k for k in range(6))
    config_class, re_neighbours = local_configuration(np.ones(shape, dtype=np.int8))
    assert np.all(config_class == 127) and np.all(re_neighbours == 6)


def test_histogram_and_statistical_distance() -> None:
    occ = kawasaki_sweeps(random_alloy((20, 20), 0.25, 0), 1.0, 0.0, 0.35, 10, 1)
    config_class, _ = local_configuration(occ)
    p = configuration_histogram(config_class)
    assert p.shape == (128,) and p.sum() == pytest.approx(1.0)
    assert p[64:].sum() == pytest.approx(0.25)  # the Re-centred classes
    with_s = np.concatenate([config_class.ravel(), np.full(50, -1)])  # S atoms carry -1
    assert np.array_equal(configuration_histogram(with_s), p)
    assert statistical_distance(p, p) == pytest.approx(0.0, abs=1e-6)
    assert statistical_distance(p, 3 * p) == pytest.approx(0.0, abs=1e-6)
    disjoint_a, disjoint_b = np.zeros(128), np.zeros(128)
    disjoint_a[:10], disjoint_b[10:20] = 1, 1
    assert statistical_distance(disjoint_a, disjoint_b) == pytest.approx(math.pi / 2)
    assert statistical_distance([1.0, 0.0], [0.5, 0.5]) == pytest.approx(math.pi / 4)
    q = configuration_histogram(local_configuration(random_alloy((20, 20), 0.25, 0))[0])
    assert 0.1 < statistical_distance(p, q) < math.pi / 2


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: kawasaki_sweeps(np.full((6, 6), 2), 1.0, 0.0), "occupation"),
        (lambda: kawasaki_sweeps(np.zeros((6, 7), dtype=np.int8), 1.0, 0.0), "n2 >= 6 even"),
        (lambda: kawasaki_sweeps(np.zeros((3, 6), dtype=np.int8), 1.0, 0.0), "n1 >= 4"),
        (lambda: kawasaki_sweeps(np.zeros(36, dtype=np.int8), 1.0, 0.0), "2-D"),
        (lambda: kawasaki_sweeps(np.zeros((6, 6)), 1.0, 0.0), "dtype"),
        (lambda: kawasaki_sweeps(np.zeros((6, 6), dtype=np.int8), float("nan"), 0.0), "w1"),
        (lambda: kawasaki_sweeps(np.zeros((6, 6), dtype=np.int8), 0.0, float("inf")), "w2"),
        (lambda: kawasaki_sweeps(np.zeros((6, 6), dtype=np.int8), 1.0, 0.0, 0.0), "temperature"),
        (lambda: kawasaki_sweeps(np.zeros((6, 6), dtype=np.int8), 1.0, 0.0, 0.35, -1), "sweeps"),
        (lambda: kawasaki_sweeps(np.zeros((6, 6), dtype=np.int8), 1.0, 0.0, 0.35, 2.5), "sweeps"),
        (lambda: random_alloy((6, 6), 1.5), "fraction"),
        (lambda: random_alloy((6,), 0.5), "shape"),
        (lambda: configuration_histogram(np.array([3, 200])), "0..127"),
        (lambda: configuration_histogram(np.full(5, -1)), "no class"),
        (lambda: statistical_distance(np.ones(3), np.ones(4)), "same shape"),
        (lambda: statistical_distance(np.array([1.0, -1.0]), np.ones(2)), "`p`"),
    ],
)
def test_bad_inputs_are_rejected(call, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        call()
