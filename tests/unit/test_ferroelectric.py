"""The ferroelectric (PbTiO3-like) builder: geometry, B-site shifts, labels, fields and validation."""

import numpy as np
import pytest

from stemtwin.twin import ConfigurationError, UnknownNameError, build_sample
from stemtwin.twin.samples import FERROELECTRIC_SITE_CLASSES, SAMPLE_BUILDERS, build_ferroelectric
from stemtwin.twin.samples.ferroelectric import PEROVSKITE_A, PEROVSKITE_C, a_site_centre_offsets
from stemtwin.twin.samples.tdgl import polarization_variants


@pytest.fixture(scope="module")
def stripes():
    return build_ferroelectric((40.0, 40.0), initial="stripes", rng=0)


@pytest.fixture(scope="module")
def quench():
    """A larger cell quenched from noise and relaxed briefly: several domains of all variants."""
    return build_ferroelectric((80.0, 80.0), relax_steps=60, displacement_at_ps=0.25, rng=3)


def _cell_values(sample, values: np.ndarray) -> np.ndarray:
    """Per-cell field values repeated on the five atoms of each cell, in atom order."""
    nx, ny = sample.parameters["n_cells"]
    return np.repeat(np.asarray(values).reshape(nx * ny, *np.shape(values)[2:]), 5, axis=0)


def _ideal_ti_xy(sample) -> np.ndarray:
    nx, ny = sample.parameters["n_cells"]
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    return (np.stack([ix, iy], axis=-1).reshape(-1, 2) + 0.5) * PEROVSKITE_A


def test_lattice_composition_and_site_classes(stripes) -> None:
    assert stripes.site_class_names == FERROELECTRIC_SITE_CLASSES == ("Pb", "Ti", "O_apical", "O_equatorial")
    assert stripes.parameters["n_cells"] == (10, 10)  # 40 Å rounds to 10 cells of 3.90 Å
    assert stripes.extent == pytest.approx((39.0, 39.0))
    assert stripes.atoms.cell.lengths()[2] == pytest.approx(PEROVSKITE_C)
    assert len(stripes) == 5 * 100
    counts = {name: len(stripes.indices_of(name)) for name in FERROELECTRIC_SITE_CLASSES}
    assert counts == {"Pb": 100, "Ti": 100, "O_apical": 100, "O_equatorial": 200}
    assert set(stripes.elements[stripes.indices_of("Pb")]) == {"Pb"}
    assert set(stripes.elements[stripes.site_class >= 2]) == {"O"}
    assert np.all(stripes.defect_id == -1)
    assert stripes.parameters["Ps"] == pytest.approx(0.757, abs=1e-3)
    assert SAMPLE_BUILDERS["ferroelectric"] is build_ferroelectric
    assert build_sample("ferroelectric", rng=0, extent=12.0, relax_steps=5).name == "ferroelectric"


def test_projected_columns(stripes) -> None:
    """Pb on the corners, Ti above O_apical in one column (within the Ti shift), O on the edges."""
    a, box = PEROVSKITE_A, np.asarray(stripes.extent)
    pb = stripes.positions[stripes.indices_of("Pb"), :2]
    assert np.allclose(pb / a, np.round(pb / a), atol=1e-9)
    ti = stripes.positions[stripes.indices_of("Ti")]
    o_ap = stripes.positions[stripes.indices_of("O_apical")]
    d = ti[:, :2] - o_ap[:, :2]
    d -= box * np.round(d / box)
    assert np.allclose(np.linalg.norm(d, axis=1), stripes.atom_labels["off_centring"][stripes.indices_of("Ti")])
    assert np.allclose(ti[:, 2] - o_ap[:, 2], PEROVSKITE_C / 2)  # stacked along the beam
    o_eq = stripes.positions[stripes.indices_of("O_equatorial"), :2] / a
    frac = np.sort(np.abs(o_eq - np.round(o_eq)), axis=1)
    assert np.allclose(frac, [0.0, 0.5], atol=1e-9)


def test_stripes_hold_two_180_degree_domains(stripes) -> None:
    P = stripes.fields["polarization"]
    assert P.shape == (10, 10, 2)
    domain_id = stripes.fields["domain_id"]
    assert domain_id.max() == 1
    assert set(np.unique(polarization_variants(P))) == {0, 1}  # +x and −x only
    assert np.abs(P[..., 1]).max() < 1e-3  # Ising walls
    # Bands of constant y: +x, wall, −x, wall. The 1 nm walls fill much of a 4-cell domain, so its
    # centre reaches 0.94 Ps, and the wall cells are near zero.
    ps = stripes.parameters["Ps"]
    assert np.allclose(P, P[:1], atol=1e-6)
    px = P[0, :, 0] / ps
    assert np.abs(px[[0, 5]]).max() < 0.05
    assert np.all(px[1:5] > 0.6) and np.all(px[6:] < -0.6)
    assert 0.9 < px.max() < 1.0


@pytest.mark.parametrize("which", ["stripes", "quench"])
def test_ti_shift_is_displacement_at_ps_times_p_over_ps(which: str, request) -> None:
    sample = request.getfixturevalue(which)
    d_ps, ps = sample.parameters["displacement_at_ps"], sample.parameters["Ps"]
    expected = d_ps * sample.fields["polarization"].reshape(-1, 2) / ps
    box = np.asarray(sample.extent)
    shift = sample.positions[sample.indices_of("Ti"), :2] - _ideal_ti_xy(sample)
    shift -= box * np.round(shift / box)
    assert np.abs(shift - expected).max() < 1e-9
    assert np.abs(a_site_centre_offsets(sample) - expected).max() < 1e-9
    # The largest shifts, in domain centres, approach displacement_at_ps (tens of pm, PHYSICS.md).
    assert 0.9 * d_ps < np.linalg.norm(expected, axis=1).max() <= 1.01 * d_ps


def test_atom_labels_and_fields(quench) -> None:
    n = len(quench)
    nx, ny = quench.parameters["n_cells"]
    assert set(quench.atom_labels) == {"Px", "Py", "domain_id", "wall_distance", "off_centring"}
    for label in quench.atom_labels.values():
        assert label.shape == (n,)
    assert quench.fields["polarization"].shape == (nx, ny, 2)
    assert quench.fields["domain_id"].shape == quench.fields["wall_distance"].shape == (nx, ny)
    P = quench.fields["polarization"]
    assert np.array_equal(quench.atom_labels["Px"], _cell_values(quench, P[..., 0]))
    assert np.array_equal(quench.atom_labels["Py"], _cell_values(quench, P[..., 1]))
    assert np.array_equal(quench.atom_labels["domain_id"], _cell_values(quench, quench.fields["domain_id"]))
    assert np.array_equal(quench.atom_labels["wall_distance"], _cell_values(quench, quench.fields["wall_distance"]))
    ti = quench.site_class == quench.class_of("Ti")
    off = quench.atom_labels["off_centring"]
    assert np.all(off[~ti] == 0)
    ps = quench.parameters["Ps"]
    expected = quench.parameters["displacement_at_ps"] * np.hypot(P[..., 0], P[..., 1]).ravel() / ps
    assert np.allclose(off[ti], expected, atol=1e-12)


def test_domain_ids_follow_the_polarization(quench) -> None:
    P = quench.fields["polarization"]
    domain_id = quench.fields["domain_id"]
    variant = polarization_variants(P)
    assert domain_id.max() >= 3
    assert set(np.unique(variant)) == {0, 1, 2, 3}
    for d in np.unique(domain_id):
        cells = domain_id == d
        assert len(np.unique(variant[cells])) == 1
        v = variant[cells][0]
        component, sign = (0, 1) if v == 0 else (0, -1) if v == 1 else (1, 1) if v == 2 else (1, -1)
        assert np.all(np.sign(P[..., component][cells]) * sign >= 0)
        assert np.all(np.abs(P[..., component][cells]) >= np.abs(P[..., 1 - component][cells]))
    # Wall distances [Å]: half a cell next to a wall, and a cell next to another variant is that close.
    distance = quench.fields["wall_distance"]
    assert distance.min() == pytest.approx(0.5 * PEROVSKITE_A)
    boundary = np.zeros(variant.shape, dtype=bool)
    for shift in (1, -1):
        for axis in (0, 1):
            boundary |= np.roll(variant, shift, axis=axis) != variant
    assert np.allclose(distance[boundary], 0.5 * PEROVSKITE_A)
    assert np.all(distance[~boundary] > 0.5 * PEROVSKITE_A)


def test_uniform_start_is_one_domain_without_walls() -> None:
    sample = build_ferroelectric((20.0, 16.0), initial="uniform", relax_steps=200, rng=0)
    assert sample.parameters["n_cells"] == (5, 4)
    assert np.all(sample.fields["domain_id"] == 0)
    assert np.all(np.isinf(sample.fields["wall_distance"]))
    assert np.allclose(sample.fields["polarization"][..., 0], sample.parameters["Ps"], rtol=0.02)


def test_zero_steps_keeps_the_start_and_seeds_repeat() -> None:
    a = build_ferroelectric((20.0, 20.0), relax_steps=0, rng=5)
    b = build_ferroelectric((20.0, 20.0), relax_steps=0, rng=5)
    c = build_ferroelectric((20.0, 20.0), relax_steps=0, rng=6)
    assert a.content_hash() == b.content_hash() != c.content_hash()
    # A quench start is noise of 0.05 Ps.
    assert np.std(a.fields["polarization"]) / a.parameters["Ps"] == pytest.approx(0.05, rel=0.25)


def test_oxygen_displacement_option_moves_o_along_p(stripes) -> None:
    moved = build_ferroelectric((40.0, 40.0), initial="stripes", oxygen_displacement_at_ps=-0.1, rng=0)
    box = np.asarray(moved.extent)
    expected = -0.1 * moved.fields["polarization"].reshape(-1, 2) / moved.parameters["Ps"]
    for name in ("O_apical",):
        d = moved.positions[moved.indices_of(name), :2] - stripes.positions[stripes.indices_of(name), :2]
        d -= box * np.round(d / box)
        assert np.abs(d - expected).max() < 1e-9
    assert np.abs(a_site_centre_offsets(moved) - a_site_centre_offsets(stripes)).max() < 1e-9


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"temperature": 479.0}, ConfigurationError, r"temperature.*Curie.*479"),
        ({"temperature": 500.0}, ConfigurationError, "no ferroelectric state"),
        ({"wall_width": 0.0}, ConfigurationError, r"wall_width.*\[nm\]"),
        ({"wall_width": -1.0}, ConfigurationError, "wall_width"),
        ({"relax_steps": -1}, ConfigurationError, "relax_steps"),
        ({"relax_steps": 2.5}, ConfigurationError, "relax_steps"),
        ({"initial": "strips"}, UnknownNameError, "Did you mean 'stripes'"),
        ({"extent": -5.0}, ConfigurationError, "extent"),
        ({"extent": (40.0,)}, ConfigurationError, "extent"),
        ({"extent": 4.0}, ConfigurationError, "at least two"),
        ({"displacement_at_ps": 0.0}, ConfigurationError, "displacement_at_ps"),
        ({"displacement_at_ps": 1.5}, ConfigurationError, r"displacement_at_ps.*\(0, 1\] \[Å\], got 1.5"),
        ({"oxygen_displacement_at_ps": 2.0}, ConfigurationError, "oxygen_displacement_at_ps"),
    ],
)
def test_bad_parameters_are_rejected(kwargs, error, match: str) -> None:
    with pytest.raises(error, match=match):
        build_ferroelectric(**kwargs)


def test_a_site_offsets_need_a_perovskite() -> None:
    from stemtwin.twin import build_graphene

    with pytest.raises(UnknownNameError, match="Pb"):
        a_site_centre_offsets(build_graphene((10.0, 10.0), rng=0))
