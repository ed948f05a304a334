"""Unit tests of the EELS model: shapes, vectorisation, periodicity, tables and input errors."""

from __future__ import annotations

import dataclasses

import ase
import numpy as np
import pytest

from stemtwin.twin.errors import ConfigurationError, UnknownNameError
from stemtwin.twin.optics import Optics
from stemtwin.twin.samples.graphene import build_graphene
from stemtwin.twin.samples.sample import Sample
from stemtwin.twin.signals.eels import (
    EDGE_ONSETS,
    EELSModel,
    Edge,
    edge_signal,
    poisson_counts,
    power_law_background,
    si_l23_fine_structure_ratio,
    ti_l23_splitting,
)
from stemtwin.twin.signals.eels_templates import (
    C_K_REFERENCE,
    DELAYED_EDGE_FACTOR,
    ELEMENT_TABLE,
    MOS2_PLASMON_ENERGY,
    PBTIO3_PLASMON_ENERGY,
    REFERENCE_BEAM_ENERGY,
    REFERENCE_COLLECTION_ANGLE,
    SI_L23_REFERENCE,
    TI_OFF_CENTRING,
    TI_SPLITTING_CENTRED,
    TI_SPLITTING_SLOPE,
    EdgeSpec,
    ElementEELS,
    ELNESPeak,
    LabelDependence,
    PlasmonPeak,
    ValenceSpec,
    bethe_scale,
    scaled_cross_section,
    ti_crystal_field_splitting,
    ti_eg_fwhm,
    ti_l23,
)
from stemtwin.twin.spectrometer import Spectrometer


@pytest.fixture(scope="module")
def sample() -> Sample:
    return build_graphene(30.0, n_si_3fold=2, n_si_4fold=2, rng=1)


@pytest.fixture(scope="module")
def model(sample: Sample) -> EELSModel:
    return EELSModel(sample, Spectrometer(), Optics())


def _brute_force(model: EELSModel, sample: Sample, positions: np.ndarray, images: int) -> np.ndarray:
    """Direct sum over all atoms and ``images`` periodic images on each side."""
    box = np.asarray(sample.extent)
    labels = model.template_labels
    tmpl = np.array([labels.index(sample.site_class_names[c]) for c in sample.site_class])
    s2 = model.sigma**2
    out = np.empty((len(positions), model.energy_axis.size))
    for k, p in enumerate(positions):
        weights = np.zeros(len(labels))
        for ix in range(-images, images + 1):
            for iy in range(-images, images + 1):
                d = sample.positions[:, :2] + np.array([ix, iy]) * box - p
                w = np.exp(-(d**2).sum(1) / (2 * s2)) / (2 * np.pi * s2)
                np.add.at(weights, tmpl, w)
        out[k] = model.low_loss + weights @ model.template_matrix
    return out


# --- shapes and views --------------------------------------------------------------------------
def test_shapes_and_dtypes(model: EELSModel) -> None:
    n = model.energy_axis.size
    assert model.noise_free(np.array([3.0, 4.0])).shape == (n,)
    assert model.noise_free(np.zeros((5, 2))).shape == (5, n)
    grid = model.noise_free(np.zeros((4, 3, 2)))
    assert grid.shape == (4, 3, n)
    assert grid.dtype == np.float32
    assert model.core_loss(np.zeros((2, 2))).dtype == np.float32
    assert model.noise_free(np.zeros((0, 2))).shape == (0, n)


def test_energy_axis_and_views_are_read_only(model: EELSModel) -> None:
    np.testing.assert_array_equal(model.energy_axis, Spectrometer().energy_axis)
    for arr in (model.energy_axis, model.template_matrix, model.low_loss, model.class_templates["Si_4fold"]):
        with pytest.raises(ValueError):
            arr[0] = 1.0
    with pytest.raises(TypeError):
        model.class_templates["new"] = np.zeros(3)  # type: ignore[index]


def test_templates_and_edges(model: EELSModel) -> None:
    assert set(model.class_templates) == {"C_pristine", "C_bonded_Si", "Si_3fold", "Si_4fold"}
    assert model.edges == (Edge("Si", "L2,3", 99.0), Edge("C", "K", 284.0))
    energy = model.energy_axis
    si = model.class_templates["Si_4fold"]
    c = model.class_templates["C_pristine"]
    # Si carries only Si L2,3 (nothing below 98 eV), C only C K (nothing below 283 eV).
    assert np.all(si[energy < 98.0] < 1e-6 * si.max())
    assert np.all(c[energy < 283.0] < 1e-6 * c.max())
    assert si[(energy > 99.5) & (energy < 101)].max() > 0
    # 3-fold and 4-fold templates differ in shape, not in the 50 eV cross section.
    win = (energy >= 99.0) & (energy < 149.0)
    s3 = model.class_templates["Si_3fold"]
    assert not np.allclose(s3, si, rtol=0.05)
    assert s3[win].sum() == pytest.approx(si[win].sum(), rel=0.02)


def test_edge_onsets_table_matches_physics_md() -> None:
    assert EDGE_ONSETS["C"]["K"] == 284.0
    assert EDGE_ONSETS["Si"]["L2,3"] == 99.0
    assert EDGE_ONSETS["S"]["L2,3"] == 165.0
    assert EDGE_ONSETS["Mo"]["M4,5"] == 227.0 and EDGE_ONSETS["Mo"]["M4"] == 228.0
    assert EDGE_ONSETS["Ti"]["L3"] == 456.0 and EDGE_ONSETS["Ti"]["L2"] == 462.0
    assert EDGE_ONSETS["O"]["K"] == 532.0
    assert EDGE_ONSETS["Re"]["M5"] == 1883.0
    # Gatan EELS Atlas values beyond PHYSICS.md.
    assert EDGE_ONSETS["Re"]["M4"] == 1949.0 and EDGE_ONSETS["Pb"]["M5"] == 2484.0
    for el, entry in ELEMENT_TABLE.items():
        edges = entry.edges + tuple(x for _, v in entry.site_edges for x in v)
        if entry.label_dependence is not None:
            edges += sum((tuple(entry.label_dependence.edges(u)) for u in entry.label_dependence.nodes), ())
        for edge in edges:
            assert edge.element == el
            assert edge.onset == EDGE_ONSETS[el][edge.name]


def test_table_holds_the_new_elements() -> None:
    assert sorted(ELEMENT_TABLE) == ["C", "Mo", "O", "Pb", "Re", "S", "Si", "Ti"]
    assert {el: [e.name for e in ELEMENT_TABLE[el].edges] for el in ("Mo", "S", "Re", "Ti", "O", "Pb")} == {
        "Mo": ["M4,5"],
        "S": ["L2,3"],
        "Re": ["M4,5"],
        "Ti": ["L2,3"],
        "O": ["K"],
        "Pb": ["M4,5"],
    }
    # Mo, Re and Pb M4,5 are delayed edges: their largest ELNES feature lies >= 18 eV above the onset.
    for el in ("Mo", "Re", "Pb"):
        edge = ELEMENT_TABLE[el].edges[0]
        assert max(edge.peaks, key=lambda p: p.amplitude).energy - edge.onset >= 18.0
    # Each compound's elements share its plasmon energy.
    assert {ELEMENT_TABLE[el].valence.peaks[0].energy for el in ("Mo", "S", "Re")} == {MOS2_PLASMON_ENERGY}
    assert {ELEMENT_TABLE[el].valence.peaks[0].energy for el in ("Pb", "Ti", "O")} == {PBTIO3_PLASMON_ENERGY}


def test_scaled_cross_section_rule() -> None:
    """The documented scaling rule reproduces its references and falls with the threshold energy."""
    assert scaled_cross_section(C_K_REFERENCE, 2, 284.0) == pytest.approx(1.0e4)
    assert scaled_cross_section(SI_L23_REFERENCE, 6, 99.0) == pytest.approx(6.0e4)
    assert ELEMENT_TABLE["O"].edges[0].cross_section == pytest.approx(3.17e3, rel=0.01)
    assert ELEMENT_TABLE["S"].edges[0].cross_section == pytest.approx(2.65e4, rel=0.01)
    assert ELEMENT_TABLE["Ti"].edges[0].cross_section == pytest.approx(4.38e3, rel=0.01)
    assert ELEMENT_TABLE["Mo"].edges[0].cross_section == pytest.approx(1.28e4, rel=0.01)
    sigmas = [scaled_cross_section(SI_L23_REFERENCE, 6, e) for e in (100.0, 200.0, 400.0, 800.0)]
    assert all(a > b for a, b in zip(sigmas, sigmas[1:]))
    assert scaled_cross_section(SI_L23_REFERENCE, 10, 227.0, delayed=True) == pytest.approx(
        DELAYED_EDGE_FACTOR * scaled_cross_section(SI_L23_REFERENCE, 10, 227.0)
    )


def test_ti_template_follows_off_centring() -> None:
    """Splitting Δ(u) = 2.0 − 1.0·u eV; the eg peaks broaden with unchanged area, the 50 eV σ is fixed."""
    assert ti_crystal_field_splitting(0.0) == TI_SPLITTING_CENTRED == 2.0
    assert TI_SPLITTING_SLOPE == 1.0
    assert ti_crystal_field_splitting(0.4) == pytest.approx(1.6)
    assert ti_eg_fwhm(0.0) == (1.2, 2.0) and ti_eg_fwhm(0.4) == pytest.approx((1.6, 2.4))
    for u in (0.0, 0.25, 0.4):
        edge = ti_l23(u)
        t2g3, eg3, t2g2, eg2 = edge.peaks
        assert eg3.energy - t2g3.energy == pytest.approx(ti_crystal_field_splitting(u))
        assert eg2.energy - t2g2.energy == pytest.approx(ti_crystal_field_splitting(u))
        assert eg3.area == pytest.approx(ti_l23(0.0).peaks[1].area)
        assert edge.cross_section == ti_l23(0.0).cross_section
    assert ti_l23(0.4).peaks[1].amplitude < ti_l23(0.0).peaks[1].amplitude
    assert ELEMENT_TABLE["Ti"].label_dependence is TI_OFF_CENTRING
    assert TI_OFF_CENTRING.label == "off_centring"
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ConfigurationError, match="off_centring"):
            ti_l23(bad)


def test_label_dependence_validates() -> None:
    def edges(u: float) -> tuple[EdgeSpec, ...]:
        return (ti_l23(u),)

    with pytest.raises(ConfigurationError, match="spacing"):
        LabelDependence("off_centring", edges, spacing=0.0, limits=(0.0, 1.0))
    with pytest.raises(ConfigurationError, match="limits"):
        LabelDependence("off_centring", edges, spacing=0.1, limits=(1.0, 0.0))
    with pytest.raises(ConfigurationError, match="default"):
        LabelDependence("off_centring", edges, spacing=0.1, limits=(0.0, 1.0), default=2.0)
    with pytest.raises(ConfigurationError, match="label"):
        LabelDependence("", edges, spacing=0.1, limits=(0.0, 1.0))
    dep = LabelDependence("off_centring", edges, spacing=0.3, limits=(0.0, 1.0))
    np.testing.assert_allclose(dep.nodes, [0.0, 0.25, 0.5, 0.75, 1.0])  # at most `spacing` apart
    with pytest.raises(ConfigurationError, match="listed under element"):
        ElementEELS("O", edges=ELEMENT_TABLE["O"].edges, valence=ELEMENT_TABLE["O"].valence, label_dependence=dep)


# --- vectorisation, periodicity, correctness ----------------------------------------------------
def test_vectorised_equals_single_positions(model: EELSModel) -> None:
    rng = np.random.default_rng(7)
    positions = rng.uniform(-5.0, 35.0, size=(6, 5, 2))
    batch = model.noise_free(positions)
    for idx in np.ndindex(6, 5):
        np.testing.assert_allclose(batch[idx], model.noise_free(positions[idx]), rtol=1e-6, atol=0)


def test_periodic_wrap(model: EELSModel, sample: Sample) -> None:
    lx, ly = sample.extent
    p = sample.positions[sample.indices_of("Si_3fold")[0], :2] + np.array([0.3, -0.2])
    ref = model.noise_free(p)
    for shift in ([lx, 0.0], [0.0, -ly], [2 * lx, -3 * ly], [-lx, ly]):
        np.testing.assert_allclose(model.noise_free(p + np.array(shift)), ref, rtol=2e-5, atol=1e-12)
    # A position away from the Si gives a different spectrum, so the check above can fail.
    assert not np.allclose(model.noise_free(p + np.array([lx / 2, 0.0])), ref, rtol=1e-3)


def test_matches_brute_force_sum(model: EELSModel, sample: Sample) -> None:
    rng = np.random.default_rng(3)
    si = sample.positions[sample.site_class >= sample.class_of("Si_3fold"), :2]
    positions = np.vstack([si[:2] + rng.normal(0, 0.5, (2, 2)), rng.uniform(0, 30, (4, 2)), [[0.0, 0.0]]])
    expected = _brute_force(model, sample, positions, images=1)
    got = model.noise_free(positions)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * expected[:, 300:].max())


def test_small_cell_uses_all_periodic_images() -> None:
    small = build_graphene(5.0)  # 4.9 × 4.3 Å, smaller than the 5.3 Å cutoff radius
    model = EELSModel(small, Spectrometer(), Optics())
    positions = np.random.default_rng(5).uniform(0, 5, (4, 2))
    expected = _brute_force(model, small, positions, images=3)
    np.testing.assert_allclose(model.noise_free(positions), expected, rtol=1e-4)


def test_noise_free_is_low_loss_plus_core_loss(model: EELSModel) -> None:
    p = np.array([[1.0, 2.0], [10.0, 11.0]])
    np.testing.assert_allclose(model.noise_free(p), model.core_loss(p) + model.low_loss, rtol=1e-6)


# --- input errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [0.0, -0.3, float("nan"), float("inf"), "0.3", True, 25.0])
def test_bad_probe_sigma(sample: Sample, bad: object) -> None:
    with pytest.raises(ConfigurationError, match="probe_sigma"):
        EELSModel(sample, Spectrometer(), Optics(), probe_sigma=bad)  # type: ignore[arg-type]


def test_bad_other_arguments(sample: Sample) -> None:
    with pytest.raises(ConfigurationError, match="cutoff"):
        EELSModel(sample, Spectrometer(), Optics(), cutoff=1.0)
    with pytest.raises(ConfigurationError, match="core_delocalisation"):
        EELSModel(sample, Spectrometer(), Optics(), core_delocalisation=-1.0)
    with pytest.raises(ConfigurationError, match="spectrometer"):
        EELSModel(sample, Optics(), Optics())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="sample"):
        EELSModel("graphene", Spectrometer(), Optics())  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros((4, 3)), np.array(1.0), np.array([np.nan, 1.0])])
def test_bad_positions(model: EELSModel, bad: np.ndarray) -> None:
    with pytest.raises(ConfigurationError, match="positions"):
        model.noise_free(bad)


def test_unknown_element_names_element_and_known_ones() -> None:
    atoms = ase.Atoms("WS2", positions=[[2, 2, 5], [2, 3.5, 4], [2, 3.5, 6]], cell=[6, 6, 10], pbc=True)
    ws2 = Sample.from_atoms(atoms, name="ws2")
    with pytest.raises(UnknownNameError, match="'W'") as info:
        EELSModel(ws2, Spectrometer(), Optics())
    assert "['C', 'Mo', 'O', 'Pb', 'Re', 'S', 'Si', 'Ti']" in str(info.value)
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)


def test_table_entries_validate() -> None:
    with pytest.raises(ConfigurationError, match="exponent"):
        EdgeSpec("C", "K", 284.0, 1e4, exponent=1.0)
    with pytest.raises(ConfigurationError, match="components"):
        EdgeSpec("Si", "L2,3", 99.0, 1e4, components=((0.0, 0.5), (0.6, 0.2)))
    with pytest.raises(ConfigurationError, match="cross_section"):
        EdgeSpec("C", "K", 284.0, -1.0)
    with pytest.raises(ConfigurationError, match="width"):
        PlasmonPeak(5.0, 12.0, 1e5)
    with pytest.raises(ConfigurationError, match="fwhm"):
        ELNESPeak(285.0, 0.0, 1.0)
    with pytest.raises(ConfigurationError, match="listed under element"):
        ElementEELS("Si", edges=(ELEMENT_TABLE["C"].edges[0],), valence=ELEMENT_TABLE["C"].valence)


def test_new_element_is_one_table_entry() -> None:
    """Adding Zr needs only an ElementEELS entry; the model builds its M4,5 template."""
    zr_edge = EdgeSpec("Zr", "M4,5", 181.0, cross_section=2e4, peaks=(ELNESPeak(184.0, 3.0, 1.0),))
    valence = ValenceSpec(peaks=(PlasmonPeak(8.0, 4.0, 1e6),), tail_amplitude=1e3)
    table = dict(ELEMENT_TABLE)
    table["Zr"] = ElementEELS("Zr", edges=(zr_edge,), valence=valence)
    atoms = ase.Atoms("Zr", positions=[[3, 3, 5]], cell=[6, 6, 10], pbc=True)
    model = EELSModel(Sample.from_atoms(atoms), Spectrometer(), Optics(), table=table)
    assert model.edges == (Edge("Zr", "M4,5", 181.0),)
    spectrum = model.core_loss(np.array([3.0, 3.0]))
    e = model.energy_axis
    assert spectrum[e < 180].max() < 1e-6 * spectrum.max()
    assert spectrum[(e > 181) & (e < 189)].max() == spectrum.max()


# --- helpers ------------------------------------------------------------------------------------
def test_power_law_background_recovers_known_power_law() -> None:
    e = Spectrometer().energy_axis
    spectrum = np.zeros_like(e)
    spectrum[e > 0] = 5e3 * e[e > 0] ** -3.2
    bg = power_law_background(e, spectrum, (75.0, 97.0))
    k = (e > 50) & (e < 300)
    np.testing.assert_allclose(bg[k], spectrum[k], rtol=1e-9)
    assert edge_signal(e, spectrum, (99.0, 130.0), (75.0, 97.0)) == pytest.approx(0.0, abs=1e-12 * spectrum[k].sum())


def test_analysis_helpers_reject_bad_input(model: EELSModel) -> None:
    e = model.energy_axis
    with pytest.raises(ConfigurationError, match="shape"):
        si_l23_fine_structure_ratio(e, np.zeros(10))
    short = Spectrometer(offset=150.0, channels=200)
    with pytest.raises(ConfigurationError, match="window"):
        si_l23_fine_structure_ratio(short.energy_axis, np.ones(200))
    with pytest.raises(ConfigurationError, match="signal_window"):
        edge_signal(e, np.ones_like(e), (120.0, 110.0), (75.0, 97.0))


def test_poisson_counts_reproducible_and_validated(model: EELSModel) -> None:
    spectrum = model.noise_free(np.array([5.0, 5.0]))
    a = poisson_counts(spectrum, 1e6, rng=11)
    b = poisson_counts(spectrum, 1e6, rng=np.random.default_rng(11))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == spectrum.shape
    assert not np.array_equal(a, poisson_counts(spectrum, 1e6, rng=12))
    with pytest.raises(ConfigurationError, match="electrons"):
        poisson_counts(spectrum, -1.0)


def test_bethe_scale() -> None:
    assert bethe_scale(284.0, REFERENCE_BEAM_ENERGY, REFERENCE_COLLECTION_ANGLE) == pytest.approx(1.0)
    assert bethe_scale(284.0, 60e3, 30.0) > 1.0  # slower electrons scatter more
    assert bethe_scale(284.0, 200e3, 30.0) < 1.0
    assert bethe_scale(284.0, 80e3, 60.0) > 1.0  # a wider aperture collects more
    # The model follows the beam energy.
    s = build_graphene(10.0)
    t60 = EELSModel(s, Spectrometer(), Optics(energy=60e3)).class_templates["C_pristine"]
    t80 = EELSModel(s, Spectrometer(), Optics(energy=80e3)).class_templates["C_pristine"]
    assert t60.sum() / t80.sum() == pytest.approx(bethe_scale(309.0, 60e3, 30.0), rel=1e-9)


def test_replace_keeps_spec_valid() -> None:
    spec = dataclasses.replace(ELEMENT_TABLE["Si"].edges[0], cross_section=1e3)
    assert spec.cross_section == 1e3
    with pytest.raises(ConfigurationError):
        dataclasses.replace(spec, window=0.0)


# --- label-dependent edges: Ti L2,3 and the Ti off-centring ----------------------------------------
PTO_SPECTROMETER = Spectrometer(offset=400.0, dispersion=0.1, channels=2048)


def _ti_column(sample: Sample, column: int) -> np.ndarray:
    ti = sample.positions[sample.indices_of("Ti"), :2]
    return ti[np.argmin(np.abs(ti[:, 0] - (column + 0.5) * 3.9))]


def test_ti_templates_are_the_nodes_next_to_the_sample_values(pbtio3_slab) -> None:
    sample = pbtio3_slab([0.0, 0.2, 0.123])
    model = EELSModel(sample, PTO_SPECTROMETER, Optics())
    ti_labels = [label for label in model.template_labels if label.startswith("Ti")]
    # 0 and 0.2 are nodes; 0.123 lies between the nodes 0.1 and 0.15.
    assert ti_labels == [f"Ti[off_centring={u}]" for u in ("0", "0.1", "0.15", "0.2")]
    assert model.edges == (Edge("Ti", "L2,3", 456.0), Edge("O", "K", 532.0), Edge("Pb", "M4,5", 2484.0))
    # A sample without the label uses u = 0.
    plain = EELSModel(pbtio3_slab(None), PTO_SPECTROMETER, Optics())
    assert [label for label in plain.template_labels if label.startswith("Ti")] == ["Ti[off_centring=0]"]
    centred = "Ti[off_centring=0]"
    np.testing.assert_array_equal(plain.class_templates[centred], model.class_templates[centred])


def test_interpolated_ti_matches_the_exact_template(pbtio3_slab) -> None:
    """A Ti at u = 0.123 Å (between nodes) matches a model built with ti_l23(0.123) to 0.5 % of the peak."""
    sample = pbtio3_slab([0.123, 0.123])
    model = EELSModel(sample, PTO_SPECTROMETER, Optics())
    table = dict(ELEMENT_TABLE)
    table["Ti"] = ElementEELS("Ti", edges=(ti_l23(0.123),), valence=ELEMENT_TABLE["Ti"].valence)
    exact = EELSModel(sample, PTO_SPECTROMETER, Optics(), table=table)
    p = _ti_column(sample, 0)
    got, want = model.core_loss(p), exact.core_loss(p)
    assert np.abs(got - want).max() < 5e-3 * want.max()
    # ... and differs from its neighbouring nodes by much more.
    node = dict(table, Ti=ElementEELS("Ti", edges=(ti_l23(0.1),), valence=ELEMENT_TABLE["Ti"].valence))
    at_node = EELSModel(sample, PTO_SPECTROMETER, Optics(), table=node).core_loss(p)
    assert np.abs(at_node - want).max() > 5 * np.abs(got - want).max()


def test_columns_merge_into_weighted_sites(pbtio3_slab) -> None:
    """Stacking 4 cells along the beam gives 4 × the core loss of one cell, at every position."""
    one = EELSModel(pbtio3_slab([0.0, 0.3], nz=1), PTO_SPECTROMETER, Optics())
    four = EELSModel(pbtio3_slab([0.0, 0.3], nz=4), PTO_SPECTROMETER, Optics())
    positions = np.random.default_rng(4).uniform(0.0, 7.8, (6, 2))
    np.testing.assert_allclose(four.core_loss(positions), 4.0 * one.core_loss(positions), rtol=1e-5, atol=1e-14)


def test_interpolated_model_vectorised_equals_single_positions(pbtio3_slab) -> None:
    model = EELSModel(pbtio3_slab([0.05, 0.333, 0.4]), PTO_SPECTROMETER, Optics())
    positions = np.random.default_rng(9).uniform(-2.0, 14.0, (3, 4, 2))
    batch = model.noise_free(positions)
    for idx in np.ndindex(3, 4):
        np.testing.assert_allclose(batch[idx], model.noise_free(positions[idx]), rtol=1e-6, atol=0)


@pytest.mark.parametrize("bad", [-0.2, 1.2, float("nan")])
def test_off_centring_out_of_range_is_rejected(bad: float, pbtio3_slab) -> None:
    sample = pbtio3_slab([0.1, 0.1])
    labels = np.array(sample.atom_labels["off_centring"])
    labels[sample.indices_of("Ti")[0]] = bad
    with pytest.raises(ConfigurationError, match="off_centring"):
        EELSModel(sample.replace(atom_labels={"off_centring": labels}), PTO_SPECTROMETER, Optics())


def test_non_numeric_off_centring_is_rejected(pbtio3_slab) -> None:
    sample = pbtio3_slab([0.1, 0.1])
    labels = np.array(["a"] * len(sample))
    with pytest.raises(ConfigurationError, match="off_centring"):
        EELSModel(sample.replace(atom_labels={"off_centring": labels}), PTO_SPECTROMETER, Optics())


def test_off_centring_of_other_elements_is_ignored(pbtio3_slab) -> None:
    """Only Ti edges follow the label: a value on a Pb atom changes nothing."""
    sample = pbtio3_slab([0.1, 0.1])
    labels = np.array(sample.atom_labels["off_centring"])
    labels[sample.indices_of("Pb")] = 7.0
    a = EELSModel(sample, PTO_SPECTROMETER, Optics())
    b = EELSModel(sample.replace(atom_labels={"off_centring": labels}), PTO_SPECTROMETER, Optics())
    np.testing.assert_array_equal(a.template_matrix, b.template_matrix)


def test_ti_l23_splitting_rejects_bad_input() -> None:
    e = PTO_SPECTROMETER.energy_axis
    with pytest.raises(ConfigurationError, match="shape"):
        ti_l23_splitting(e, np.zeros(10))
    with pytest.raises(ConfigurationError, match="window"):
        ti_l23_splitting(Spectrometer().energy_axis, np.ones(2048))
    assert np.isnan(ti_l23_splitting(e, np.zeros_like(e)))
