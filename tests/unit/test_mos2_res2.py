"""The Mo(1−x)Re(x)S2 builder: 2H geometry, Re order from the lattice gas, S vacancies and labels."""

import math

import numpy as np
import pytest
from scipy.spatial import cKDTree

from stemtwin.twin import ConfigurationError
from stemtwin.twin.samples import SAMPLE_BUILDERS, build_sample
from stemtwin.twin.samples.lattice_gas import configuration_histogram, lattice_positions, statistical_distance
from stemtwin.twin.samples.mos2_res2 import (
    MOS2_LATTICE_CONSTANT,
    MOS2_RES2_SITE_CLASSES,
    RELAXATION_SMOOTHING,
    S_HEIGHT,
    build_mos2_res2,
    vegard_displacements,
)

A = MOS2_LATTICE_CONSTANT


def _cations(sample) -> np.ndarray:
    return np.flatnonzero(np.isin(sample.elements, ["Mo", "Re"]))


def _periodic_xy(sample, idx: np.ndarray) -> tuple[np.ndarray, cKDTree]:
    box = np.array(sample.extent)
    xy = sample.positions[idx, :2] % box
    return xy, cKDTree(xy, boxsize=box)


def test_cation_lattice_is_triangular_at_3_16_angstrom() -> None:
    sample = build_mos2_res2((30, 30), re_fraction=0.3, sweeps=0, rng=0)
    cations = _cations(sample)
    xy, tree = _periodic_xy(sample, cations)
    distances, _ = tree.query(xy, k=13)
    assert np.allclose(distances[:, 1:7], 3.16, atol=1e-6)  # 6 nearest cations at a
    assert np.allclose(distances[:, 7:13], 3.16 * math.sqrt(3), atol=1e-6)  # 6 next-nearest at √3·a
    assert np.allclose(sample.positions[cations, 2], 5.0)
    # 9 × 5 rectangular cells of 3.16 × 5.47 Å, 2 cations each
    assert sample.extent == pytest.approx((9 * A, 5 * A * math.sqrt(3)))
    assert len(cations) == 90 and len(sample) == 270


def test_s_columns_sit_on_the_other_sublattice_at_plus_minus_1_56() -> None:
    sample = build_mos2_res2((20, 20), sweeps=0, rng=1, height=12.0)
    sulphur = np.flatnonzero(sample.elements == "S")
    box = np.array(sample.extent)
    s_xy, s_tree = _periodic_xy(sample, sulphur)
    # Both S of a column share x and y, one 1.56 Å below and one above the cation plane.
    pairs = s_tree.query_pairs(1e-6, output_type="ndarray")
    assert len(pairs) == len(sulphur) // 2
    z = sample.positions[sulphur, 2]
    assert np.allclose(np.sort(z[pairs], axis=1) - 6.0, [-S_HEIGHT, S_HEIGHT])
    assert S_HEIGHT == 1.56
    # Each cation: 3 S columns at a/√3 in projection, 6 S at the 2.40 Å bond; each S: 3 cations.
    cations = _cations(sample)
    c_xy, c_tree = _periodic_xy(sample, cations)
    for i, p in enumerate(c_xy):
        near = s_tree.query_ball_point(p, A / math.sqrt(3) + 0.01)
        assert len(near) == 6
        d = s_xy[near] - p
        d -= box * np.round(d / box)
        assert np.allclose(np.hypot(d[:, 0], d[:, 1]), A / math.sqrt(3), atol=1e-6)
        bond = np.sqrt((d**2).sum(axis=1) + (z[near] - 6.0) ** 2)
        assert np.allclose(bond, 2.40, atol=0.01)
        # Trigonal prism: the 3 columns are 120° apart.
        angles = np.sort(np.degrees(np.arctan2(d[:, 1], d[:, 0])) % 360)[::2]
        assert np.allclose(np.diff(angles), 120, atol=1e-6)
    counts = [len(c_tree.query_ball_point(p, A / math.sqrt(3) + 0.01)) for p in s_xy]
    assert set(counts) == {3}


def test_exact_re_count_and_site_classes() -> None:
    sample = build_mos2_res2((40, 40), re_fraction=0.3, w1=0.5, sweeps=20, rng=2)
    n_cations = sample.parameters["n_cations"]
    assert n_cations == 13 * 7 * 2
    assert (sample.elements == "Re").sum() == round(0.3 * n_cations) == sample.parameters["n_re"]
    assert sample.site_class_names == MOS2_RES2_SITE_CLASSES == ("Mo", "Re", "S2", "S1")
    names = np.array(sample.site_class_names)[sample.site_class]
    assert np.array_equal(names[_cations(sample)], sample.elements[_cations(sample)])
    assert set(names[sample.elements == "S"]) == {"S2"}
    assert np.all(sample.defect_id == -1)


def _re_re_pairs(sample) -> int:
    cations = _cations(sample)
    _, tree = _periodic_xy(sample, cations)
    pairs = tree.query_pairs(A + 0.01, output_type="ndarray")
    is_re = sample.elements[cations] == "Re"
    return int((is_re[pairs[:, 0]] & is_re[pairs[:, 1]]).sum())


@pytest.mark.parametrize(("w1", "w2", "sign"), [(1.0, 0.0, 1), (0.6, 0.6, 1), (-1.0, 0.0, -1), (-0.6, -0.6, -1)])
def test_re_re_neighbour_pairs_follow_the_sign_of_w(w1: float, w2: float, sign: int) -> None:
    """w > 0: more Re–Re nearest-neighbour pairs than the random x²·3N; w < 0: fewer (5 seeds)."""
    x = 0.25
    excess = []
    for seed in range(5):
        sample = build_mos2_res2((40, 40), re_fraction=x, w1=w1, w2=w2, sweeps=60, rng=seed)
        n = sample.parameters["n_cations"]
        excess.append(_re_re_pairs(sample) - x**2 * 3 * n)
    excess = sign * np.array(excess)
    assert np.all(excess > 0)
    assert excess.mean() > 3 * excess.std(ddof=1) / math.sqrt(excess.size)


def test_labels_match_a_brute_force_recount_from_positions() -> None:
    sample = build_mos2_res2((30, 35), re_fraction=0.4, w1=-0.5, w2=0.3, sweeps=10, n_s_vacancies=4, rng=3)
    cations = _cations(sample)
    box = np.array(sample.extent)
    xy = sample.positions[cations, :2]
    is_re = (sample.elements[cations] == "Re").astype(int)
    config_class = sample.atom_labels["config_class"]
    re_neighbours = sample.atom_labels["re_neighbours"]
    for n, i in enumerate(cations):
        d = xy - xy[n]
        d -= box * np.round(d / box)
        r = np.hypot(d[:, 0], d[:, 1])
        near = np.flatnonzero(np.abs(r - A) < 0.01)
        assert near.size == 6
        k = np.round((np.degrees(np.arctan2(d[near, 1], d[near, 0])) % 360) / 60).astype(int) % 6
        assert sorted(k) == list(range(6))
        expected = 64 * is_re[n] + int((is_re[near] << k).sum())
        assert config_class[i] == expected
        assert re_neighbours[i] == is_re[near].sum()
    sulphur = sample.elements == "S"
    assert np.all(config_class[sulphur] == -1) and np.all(re_neighbours[sulphur] == -1)
    p = configuration_histogram(config_class)
    assert p.sum() == pytest.approx(1.0)
    assert p[64:].sum() == pytest.approx(0.4, abs=0.01)


def test_ordered_and_random_alloys_have_distinct_histograms() -> None:
    """The statistical distance between two random alloys (sampling noise, about 0.3 over 750 sites)
    is well below that from a clustered (about 0.85) or an alternating (about 1.0) alloy."""
    kwargs = {"extent": (80, 80), "re_fraction": 0.3, "sweeps": 100}
    random_a = build_mos2_res2(**kwargs, rng=0)
    random_b = build_mos2_res2(**kwargs, rng=1)
    clustered = build_mos2_res2(**kwargs, w1=1.5, w2=0.5, rng=2)
    alternating = build_mos2_res2(**kwargs, w1=-1.0, rng=3)

    def hist(s):
        return configuration_histogram(s.atom_labels["config_class"])

    same = statistical_distance(hist(random_a), hist(random_b))
    assert 0 < same < 0.45
    assert statistical_distance(hist(random_a), hist(clustered)) > 2 * same
    assert statistical_distance(hist(random_a), hist(alternating)) > 2 * same


def test_s_vacancies_leave_labelled_single_s() -> None:
    sample = build_mos2_res2((30, 30), n_s_vacancies=7, rng=4)
    s1 = sample.indices_of("S1")
    assert len(s1) == 7 and len(sample.indices_of("S2")) == 2 * 90 - 2 * 7
    assert sorted(sample.defect_id[s1]) == list(range(7))
    assert np.all(sample.defect_id[sample.site_class != sample.class_of("S1")] == -1)
    sulphur = np.flatnonzero(sample.elements == "S")
    _, tree = _periodic_xy(sample, sulphur)
    partners = tree.query_ball_point(sample.positions[s1, :2] % sample.extent, 1e-6)
    assert all(len(p) == 1 for p in partners)  # alone in its column
    assert len(sample) == 3 * 90 - 7
    # Vacancies draw from their own stream: the cation arrangement of the seed is unchanged.
    pristine = build_mos2_res2((30, 30), rng=4)
    assert np.array_equal(pristine.elements[:90], sample.elements[:90])


def test_vacancy_density_gives_a_count_and_all_columns_can_lose_one_s() -> None:
    sample = build_mos2_res2((40, 40), s_vacancy_density=0.5, rng=5)
    area_nm2 = sample.extent[0] * sample.extent[1] / 100
    assert sample.parameters["n_s_vacancies"] == round(0.5 * area_nm2) == len(sample.indices_of("S1"))
    full = build_mos2_res2((13, 17), n_s_vacancies=24, rng=6)  # 4 × 3 cells: 24 columns
    assert len(full.indices_of("S1")) == 24 and len(full.indices_of("S2")) == 0


def test_registered_and_reproducible() -> None:
    assert SAMPLE_BUILDERS["mos2-res2"] is build_mos2_res2
    a = build_sample("mos2-res2", rng=11, w1=0.5, n_s_vacancies=2)
    b = build_mos2_res2(rng=11, w1=0.5, n_s_vacancies=2)
    c = build_mos2_res2(rng=12, w1=0.5, n_s_vacancies=2)
    assert a.content_hash() == b.content_hash() != c.content_hash()
    assert a.name == "mos2-res2"
    params = a.parameters
    for key in ("extent", "re_fraction", "w1", "w2", "temperature", "sweeps", "n_re", "n_s_vacancies"):
        assert key in params
    assert params["temperature"] == 0.35 and params["sweeps"] == 200


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"re_fraction": 1.2}, "re_fraction"),
        ({"re_fraction": -0.1}, "re_fraction"),
        ({"w1": float("nan")}, "w1"),
        ({"w1": 2.5}, r"w1.*\[-2.0, 2.0\] \[kT\]"),
        ({"w2": -3.0}, "w2"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"sweeps": -1}, "sweeps"),
        ({"sweeps": 1.5}, "sweeps"),
        ({"extent": -5}, "extent"),
        ({"extent": (8.0, 30.0)}, "at least 4 × 3"),
        ({"n_s_vacancies": 1, "s_vacancy_density": 0.1}, "not both"),
        ({"n_s_vacancies": -1}, "n_s_vacancies"),
        ({"s_vacancy_density": -0.1}, "s_vacancy_density"),
        ({"extent": (13, 17), "n_s_vacancies": 25}, "24 S columns"),
        ({"height": 3.0}, "height"),
    ],
)
def test_bad_parameters_are_rejected(kwargs, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        build_mos2_res2(**kwargs)


# -- Vegard-law lattice relaxation (re_lattice_mismatch) -------------------------------------------


def _nn_bonds(ideal, relaxed) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-neighbour cation pairs (from the ideal lattice) and their lengths in ``relaxed`` [Å]."""
    cations = _cations(ideal)
    box = np.array(ideal.extent)
    _, tree = _periodic_xy(ideal, cations)
    pairs = tree.query_pairs(A + 0.01, output_type="ndarray")
    xy = relaxed.positions[cations, :2]
    d = xy[pairs[:, 1]] - xy[pairs[:, 0]]
    d -= box * np.round(d / box)
    return pairs, np.hypot(d[:, 0], d[:, 1])


def _brute_force_re_fraction(sample, sigma: float) -> np.ndarray:
    """Gaussian-weighted (periodic) Re fraction of the cations around every cation site."""
    cations = _cations(sample)
    box = np.array(sample.extent)
    xy = sample.positions[cations, :2]
    d = xy[:, None, :] - xy[None, :, :]
    d -= box * np.round(d / box)
    w = np.exp(-0.5 * (d**2).sum(axis=-1) / sigma**2)
    is_re = (sample.elements[cations] == "Re").astype(float)
    return (w @ is_re) / w.sum(axis=1)


def test_zero_mismatch_leaves_the_ideal_lattice_unchanged() -> None:
    kwargs = {"extent": (30, 30), "re_fraction": 0.3, "w1": 1.0, "n_s_vacancies": 3, "rng": 0}
    default = build_mos2_res2(**kwargs)
    zero = build_mos2_res2(**kwargs, re_lattice_mismatch=0.0)
    assert np.array_equal(default.positions, zero.positions)
    assert default.content_hash() == zero.content_hash()
    assert default.parameters["re_lattice_mismatch"] == 0.0
    # Cations exactly on the ideal triangular lattice (the structure of the builder before the relaxation).
    cations = _cations(default)
    ideal = lattice_positions(default.parameters["lattice_shape"], A).reshape(-1, 2)
    assert np.allclose(default.positions[cations, :2], ideal, rtol=0, atol=1e-12)


def test_mismatch_dilates_re_rich_regions_by_vegards_law() -> None:
    """Mean nearest-neighbour cation distance: Re-rich (f > 0.6) minus Mo-rich (f < 0.1) sites is
    m·a·Δf (Vegard), Δf the difference of the Gaussian-smoothed Re fraction of the two groups.

    The bond lengths sample the strain over a neighbourhood of radius a, which smooths f once more than
    at the site itself; that costs about 10 % of the contrast (measured 0.85–0.92 over seeds and cells).
    """
    m = 0.015
    kwargs = {"extent": (40, 40), "re_fraction": 0.3, "w1": 1.0, "rng": 0}
    ideal = build_mos2_res2(**kwargs)
    relaxed = build_mos2_res2(**kwargs, re_lattice_mismatch=m)
    pairs, length = _nn_bonds(ideal, relaxed)
    n = len(_cations(ideal))
    site_mean = np.bincount(pairs.ravel(), np.repeat(length, 2), n) / np.bincount(pairs.ravel(), minlength=n)
    f = _brute_force_re_fraction(ideal, RELAXATION_SMOOTHING * A)
    rich, poor = f > 0.6, f < 0.1
    assert rich.sum() >= 10 and poor.sum() >= 10
    delta_f = f[rich].mean() - f[poor].mean()
    excess = site_mean[rich].mean() - site_mean[poor].mean()
    assert excess == pytest.approx(m * A * delta_f, rel=0.2)
    # Over all sites the mean bond length follows the local fraction with slope ≈ m·a.
    slope = np.polyfit(f, site_mean, 1)[0]
    assert slope == pytest.approx(m * A, rel=0.2)
    # A negative mismatch contracts the Re-rich regions: the displacements are linear in m.
    contracted = build_mos2_res2(**kwargs, re_lattice_mismatch=-m)
    box = np.array(ideal.extent)
    up = relaxed.positions[:, :2] - ideal.positions[:, :2]
    down = contracted.positions[:, :2] - ideal.positions[:, :2]
    assert np.allclose((up + down + box / 2) % box - box / 2, 0.0, atol=1e-9)
    _, length_neg = _nn_bonds(ideal, contracted)
    assert np.allclose(length_neg - A, -(length - A), atol=5e-4)  # to first order in the displacements


def test_re_stripe_gives_the_exact_uniaxial_strain() -> None:
    """A Re half-plane (rows j < n2/2) has f = 1 there, f = 0 in the Mo half and f̄ = ½: u = ∇φ is then
    uy(y) alone with ∂uy/∂y = 2ε* = ±m deep inside each half, and ux = 0."""
    m = 0.02
    n1, n2 = 4, 32
    occupation = np.zeros((n1, n2), dtype=np.int8)
    occupation[:, : n2 // 2] = 1
    displacement, fraction = vegard_displacements(occupation, A, m)
    assert np.allclose(displacement[..., 0], 0.0, atol=1e-12)
    assert np.allclose(fraction[:, 5:11], 1.0, atol=1e-3) and np.allclose(fraction[:, 21:27], 0.0, atol=1e-3)
    uy = displacement[0, :, 1]
    row = A * math.sqrt(3) / 2
    strain = np.diff(uy) / row
    assert np.allclose(strain[5:10], m, rtol=0.01)  # rows 5..10: εyy = 2·m·(1 − ½)
    assert np.allclose(strain[21:26], -m, rtol=0.01)  # rows 21..26: εyy = 2·m·(0 − ½)
    assert abs(displacement[..., 1].mean()) < 1e-12  # mean-zero: the cell keeps its size


def test_relaxed_sample_keeps_cell_labels_and_small_wrapped_displacements() -> None:
    m = 0.015
    kwargs = {"extent": (40, 40), "re_fraction": 0.3, "w1": 1.0, "n_s_vacancies": 4, "rng": 3}
    ideal = build_mos2_res2(**kwargs)
    relaxed = build_mos2_res2(**kwargs, re_lattice_mismatch=m)
    assert relaxed.extent == ideal.extent
    assert np.array_equal(relaxed.atoms.cell.array, ideal.atoms.cell.array)
    assert np.array_equal(relaxed.elements, ideal.elements)
    assert np.array_equal(relaxed.site_class, ideal.site_class)
    assert np.array_equal(relaxed.defect_id, ideal.defect_id)
    assert relaxed.site_class_names == ideal.site_class_names
    for key, label in ideal.atom_labels.items():
        assert np.array_equal(relaxed.atom_labels[key], label)
    assert relaxed.parameters["re_lattice_mismatch"] == m
    box = np.array(relaxed.extent)
    xy = relaxed.positions[:, :2]
    assert np.all(xy >= 0) and np.all(xy < box)
    assert np.array_equal(relaxed.positions[:, 2], ideal.positions[:, 2])  # in-plane only
    d = xy - ideal.positions[:, :2]
    d -= box * np.round(d / box)
    shift = np.hypot(d[:, 0], d[:, 1])
    assert 0.005 < shift.max() < 0.1  # a few hundredths of an Å
    assert np.allclose(d.mean(axis=0), 0.0, atol=2e-3)  # no net translation
    # Each S moves with the cation that owns its column.
    sulphur = np.flatnonzero(relaxed.elements == "S")
    owner = relaxed.atom_labels["s_column"][sulphur]  # column k belongs to cation k (flat lattice index)
    assert np.allclose(d[sulphur], d[owner], atol=1e-9)
    # Deterministic: the same seed gives the same relaxed structure.
    assert build_mos2_res2(**kwargs, re_lattice_mismatch=m).content_hash() == relaxed.content_hash()


@pytest.mark.parametrize("value", [0.25, -0.3, float("nan"), float("inf"), "big"])
def test_bad_lattice_mismatch_is_rejected(value) -> None:
    with pytest.raises(ConfigurationError, match="re_lattice_mismatch"):
        build_mos2_res2(re_lattice_mismatch=value)
