"""The graphene builder: lattice geometry, defect counts and site-class labels."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from stemtwin.twin import ConfigurationError, build_graphene
from stemtwin.twin.samples.graphene import CC_BOND


def _neighbours(sample, i: int, r: float) -> np.ndarray:
    xy = sample.positions[:, :2]
    tree = cKDTree(xy, boxsize=sample.extent)
    return np.array([j for j in tree.query_ball_point(xy[i], r) if j != i])


def test_pristine_lattice_is_three_coordinated_at_the_bond_length() -> None:
    sample = build_graphene((20, 20), rng=0)
    xy = sample.positions[:, :2]
    tree = cKDTree(xy, boxsize=sample.extent)
    distances, _ = tree.query(xy, k=4)
    assert np.allclose(distances[:, 1:], CC_BOND, atol=1e-6)
    assert set(sample.site_class_names[c] for c in sample.site_class) == {"C_pristine"}
    # 4 atoms per 2.46 × 4.26 Å rectangular cell: 0.38 atoms/Å²
    assert len(sample) / (sample.extent[0] * sample.extent[1]) == pytest.approx(0.3818, rel=1e-3)


def test_defect_counts_and_labels() -> None:
    sample = build_graphene((30, 30), n_si_3fold=2, n_si_4fold=3, n_monovacancies=2, n_divacancies=1, rng=3)
    counts = {name: int((sample.site_class == i).sum()) for i, name in enumerate(sample.site_class_names)}
    assert counts["Si_3fold"] == 2 and counts["Si_4fold"] == 3
    assert counts["C_bonded_Si"] == 2 * 3 + 3 * 4
    assert counts["C_vacancy_edge"] == 2 * 3 + 1 * 4
    assert (sample.elements == "Si").sum() == 5
    n_cells_atoms = 12 * 7 * 4  # the pristine lattice of this extent
    assert len(sample) == n_cells_atoms - 2 * 1 - 1 * 2 - 3 * 2 + 3


def test_si_coordination_matches_its_class() -> None:
    sample = build_graphene((30, 30), n_si_3fold=1, n_si_4fold=1, rng=5)
    si3 = sample.indices_of("Si_3fold")[0]
    si4 = sample.indices_of("Si_4fold")[0]
    assert len(_neighbours(sample, si3, 1.6)) == 3
    assert len(_neighbours(sample, si4, 2.0)) == 4
    # Every C bonded to Si is within bonding distance of a Si, in projection.
    for i in sample.indices_of("C_bonded_Si"):
        assert (sample.elements[_neighbours(sample, i, 2.0)] == "Si").any()
    # The 3-fold Si is buckled out of plane; the 4-fold Si is planar.
    z_c = np.median(sample.positions[:, 2])
    assert sample.positions[si3, 2] - z_c == pytest.approx(1.06, abs=0.05)
    assert sample.positions[si4, 2] == pytest.approx(z_c)


def test_vacancy_edge_atoms_have_two_neighbours() -> None:
    sample = build_graphene((30, 30), n_monovacancies=2, n_divacancies=2, rng=7)
    for i in sample.indices_of("C_vacancy_edge"):
        assert len(_neighbours(sample, i, 1.6)) == 2


def test_same_seed_same_sample_and_different_seed_differs() -> None:
    a = build_graphene((30, 30), n_si_3fold=2, rng=11)
    b = build_graphene((30, 30), n_si_3fold=2, rng=11)
    c = build_graphene((30, 30), n_si_3fold=2, rng=12)
    assert a.content_hash() == b.content_hash() != c.content_hash()


def test_densities_give_counts_over_the_area() -> None:
    sample = build_graphene((40, 40), si_3fold_density=0.5, rng=0)  # 0.5 nm⁻² × 16.1 nm² ≈ 8
    area_nm2 = sample.extent[0] * sample.extent[1] / 100
    assert len(sample.indices_of("Si_3fold")) == round(0.5 * area_nm2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"extent": -5}, "extent"),
        ({"n_si_3fold": -1}, "n_si_3fold"),
        ({"n_si_3fold": 1.5}, "n_si_3fold"),
        ({"si_4fold_density": -0.1}, "si_4fold_density"),
        ({"n_si_3fold": 1, "si_3fold_density": 0.1}, "not both"),
        ({"extent": 10, "n_monovacancies": 50}, "Cannot place"),
    ],
)
def test_bad_parameters_are_rejected(kwargs, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        build_graphene(**kwargs)
