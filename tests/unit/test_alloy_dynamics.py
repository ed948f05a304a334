"""AlloyDynamics: the contract, validation, process switches, labels and the exchange energy."""

import math

import numpy as np
import pytest

from stemtwin.twin import ConfigurationError, UnknownNameError
from stemtwin.twin.dynamics import BeamDynamics, Exposure, default_dynamics
from stemtwin.twin.dynamics.alloy import S_DISPLACEMENT_THRESHOLD, AlloyDynamics
from stemtwin.twin.samples import build_ferroelectric, build_mos2_res2
from stemtwin.twin.samples.lattice_gas import energy, local_configuration
from stemtwin.twin.samples.mos2_res2 import MOS2_LATTICE_CONSTANT

A = MOS2_LATTICE_CONSTANT


def _raster(sample, dose: float, pixels: int = 24, energy_ev: float = 80e3) -> Exposure:
    """A uniform raster over the whole cell delivering ``dose`` [e/Å²]."""
    ex, ey = sample.extent
    x, y = np.meshgrid((np.arange(pixels) + 0.5) * ex / pixels, (np.arange(pixels) + 0.5) * ey / pixels, indexing="ij")
    positions = np.column_stack([x.ravel(), y.ravel()])
    return Exposure(
        positions=positions,
        electrons=np.full(len(positions), dose * ex * ey / pixels**2),
        times=np.arange(len(positions)) * 1e-5,
        dwell_time=1e-5,
        energy=energy_ev,
        current=30.0,
        kind="image",
    )


def _park(xy, electrons: float, energy_ev: float = 80e3) -> Exposure:
    return Exposure(
        positions=np.array([xy], dtype=float),
        electrons=np.array([electrons]),
        times=np.array([2.0]),
        dwell_time=0.5,
        energy=energy_ev,
        current=30.0,
        kind="spectrum",
    )


def _occupation(sample) -> np.ndarray:
    site = sample.atom_labels["lattice_site"]
    cation = site >= 0
    occupation = np.zeros(int(np.prod(sample.parameters["lattice_shape"])), dtype=np.int8)
    occupation[site[cation]] = sample.elements[cation] == "Re"
    return occupation.reshape(sample.parameters["lattice_shape"])


@pytest.fixture(scope="module")
def alloy():
    return build_mos2_res2((25.0, 25.0), re_fraction=0.3, w1=0.5, w2=-0.3, sweeps=5, n_s_vacancies=4, rng=0)


def test_contract_and_registration() -> None:
    dynamics = AlloyDynamics()
    assert isinstance(dynamics, BeamDynamics)
    assert dynamics.name == "mos2-res2"
    assert AlloyDynamics.PROCESSES == ("s_sputtering", "cation_exchange")
    assert dynamics.processes.enabled == AlloyDynamics.PROCESSES
    (auto,) = default_dynamics("mos2-res2", exchange_cross_section=0.5)
    assert isinstance(auto, AlloyDynamics) and auto.exchange_cross_section == 0.5
    assert dynamics.sputtering_threshold == S_DISPLACEMENT_THRESHOLD == 6.9


@pytest.mark.parametrize("processes", [None, ["s_sputtering"], ["cation_exchange"]])
def test_zero_dose_returns_the_same_sample_and_no_events(alloy, processes) -> None:
    dynamics = AlloyDynamics(processes, exchange_cross_section=10.0)
    exposure = _raster(alloy, 1e9)
    silent = Exposure(
        positions=exposure.positions,
        electrons=np.zeros(len(exposure.positions)),
        times=exposure.times,
        dwell_time=exposure.dwell_time,
        energy=exposure.energy,
        current=0.0,
        kind="image",
    )
    empty = Exposure(np.zeros((0, 2)), np.zeros(0), np.zeros(0), 1e-5, 80e3, 30.0, "image")
    for quiet in (silent, empty):
        new, events = dynamics.evolve(alloy, quiet, np.random.default_rng(0))
        assert new is alloy and events == []


def test_nothing_happening_returns_the_same_sample(alloy) -> None:
    """At 60 kV S is hardly ever sputtered (σ ≈ 10⁻⁵ b); with exchange off nothing happens."""
    dynamics = AlloyDynamics(["s_sputtering"])
    new, events = dynamics.evolve(alloy, _raster(alloy, 1e3, energy_ev=60e3), np.random.default_rng(1))
    assert new is alloy and events == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sputtering_threshold": -1.0}, ConfigurationError, r"sputtering_threshold.*\[eV\].*-1.0"),
        ({"sputtering_threshold": 0.0}, ConfigurationError, "sputtering_threshold"),
        ({"sputtering_threshold": float("nan")}, ConfigurationError, r"sputtering_threshold.*finite"),
        ({"exchange_cross_section": -0.1}, ConfigurationError, r"exchange_cross_section.*\[b\]"),
        ({"exchange_cross_section": float("inf")}, ConfigurationError, "exchange_cross_section"),
        ({"temperature": -5.0}, ConfigurationError, r"temperature.*\[K\]"),
        ({"debye_temperature": 0.0}, ConfigurationError, "debye_temperature"),
        ({"probe_sigma": 0.0}, ConfigurationError, r"probe_sigma.*\[Å\]"),
        ({"processes": ["s_sputtring"]}, UnknownNameError, "Did you mean 's_sputtering'"),
        ({"processes": {"cation_exchnage": True}}, UnknownNameError, "Did you mean 'cation_exchange'"),
        ({"processes": {"cation_exchange": "yes"}}, ConfigurationError, "true or false"),
    ],
)
def test_bad_parameters_are_rejected(kwargs, error, match: str) -> None:
    with pytest.raises(error, match=match):
        AlloyDynamics(**kwargs)


def test_a_sample_of_another_family_is_rejected() -> None:
    sample = build_ferroelectric((12.0, 12.0), relax_steps=0, rng=0)
    with pytest.raises(ConfigurationError, match="build_mos2_res2"):
        AlloyDynamics().evolve(sample, _raster(sample, 1e6), np.random.default_rng(0))


def test_switching_a_process_off_stops_its_events(alloy) -> None:
    exposure = _raster(alloy, 5e8, energy_ev=100e3)  # σ(S) ≈ 37 b: every exit-side S goes
    sputter_only, events = AlloyDynamics(["s_sputtering"], exchange_cross_section=10.0).evolve(
        alloy, exposure, np.random.default_rng(2)
    )
    assert events and {e.kind for e in events} == {"s_sputtering"}
    cations = alloy.atom_labels["lattice_site"] >= 0
    assert np.array_equal(sputter_only.elements[: cations.sum()], alloy.elements[cations])
    exchange_only, events = AlloyDynamics({"s_sputtering": False}, exchange_cross_section=10.0).evolve(
        alloy, exposure, np.random.default_rng(2)
    )
    assert events and {e.kind for e in events} == {"cation_exchange"}
    assert len(exchange_only) == len(alloy)
    assert (exchange_only.elements == "Re").sum() == (alloy.elements == "Re").sum()  # composition kept
    assert np.allclose(exchange_only.positions, alloy.positions)  # species move, sites stay


def test_only_exit_side_sulphur_is_sputtered_and_labels_follow(alloy) -> None:
    dynamics = AlloyDynamics(["s_sputtering"])
    new, events = dynamics.evolve(alloy, _raster(alloy, 5e8, energy_ev=100e3), np.random.default_rng(3))
    z_plane = alloy.positions[alloy.atom_labels["lattice_site"] >= 0, 2].mean()
    removed = np.array([e.atoms[0] for e in events])
    assert np.all(alloy.positions[removed, 2] > z_plane)  # exit side: the beam travels along +z
    assert set(removed) == set(dynamics.exit_side_sulphur(alloy))  # p ≈ 1 − exp(−185): all of them
    assert len(new) == len(alloy) - len(removed)
    assert np.all(new.positions[new.elements == "S", 2] < z_plane)
    # Every column now holds one S (S1, marked with a vacancy id) or none.
    s = new.elements == "S"
    columns, counts = np.unique(new.atom_labels["s_column"][s], return_counts=True)
    assert set(counts) == {1}
    assert np.all(new.site_class[s] == new.class_of("S1"))
    assert np.all(new.defect_id[s] >= 0) and np.all(new.defect_id[~s] == -1)
    assert len(np.unique(new.defect_id[s])) == s.sum()  # one id per vacancy
    n_columns = int(np.prod(alloy.parameters["lattice_shape"]))
    builder_s1 = alloy.indices_of("S1")
    fresh = new.defect_id[s] >= n_columns
    assert fresh.sum() == s.sum() - np.isin(builder_s1, np.flatnonzero(alloy.positions[:, 2] < z_plane)).sum()
    assert np.array_equal(new.defect_id[s][fresh] - n_columns, new.atom_labels["s_column"][s][fresh])
    # The builder's vacancies that had kept their exit-side S lose the column altogether.
    emptied = [e for e in events if e.details["column_emptied"]]
    lone_exit = [i for i in builder_s1 if alloy.positions[i, 2] > z_plane]
    assert sorted(e.atoms[0] for e in emptied) == sorted(lone_exit)
    assert not np.isin([e.details["column"] for e in emptied], columns).any()
    for event in events:
        assert event.kind == "s_sputtering"
        assert 0.0 <= event.time <= 24 * 24 * 1e-5  # within the exposure
        assert event.details["cross_section"] == pytest.approx(dynamics.sputtering_cross_section(100e3))
    assert [e.time for e in events] == sorted(e.time for e in events)


def test_labels_stay_consistent_after_exchange_and_sputtering(alloy) -> None:
    dynamics = AlloyDynamics(exchange_cross_section=5.0)
    sample = alloy
    rng = np.random.default_rng(4)
    kinds = set()
    for _ in range(3):
        sample, events = dynamics.evolve(sample, _raster(sample, 3e7), rng)
        kinds |= {event.kind for event in events}
    assert kinds == {"s_sputtering", "cation_exchange"}
    assert len(sample) < len(alloy)
    names = np.array(sample.site_class_names)[sample.site_class]
    cation = sample.atom_labels["lattice_site"] >= 0
    assert np.array_equal(names[cation], sample.elements[cation])
    assert set(names[~cation]) <= {"S2", "S1"}
    occupation = _occupation(sample)
    config_class, re_neighbours = local_configuration(occupation)
    site = sample.atom_labels["lattice_site"][cation]
    assert np.array_equal(sample.atom_labels["config_class"][cation], config_class.ravel()[site])
    assert np.array_equal(sample.atom_labels["re_neighbours"][cation], re_neighbours.ravel()[site])
    assert np.all(sample.atom_labels["config_class"][~cation] == -1)
    assert np.all(sample.atom_labels["s_column"][cation] == -1)
    assert np.all(sample.atom_labels["lattice_site"][~cation] == -1)
    # Cations still sit on their lattice sites; S sit on their columns.
    box = np.array(sample.extent)
    shape = sample.parameters["lattice_shape"]
    i, j = np.divmod(site, shape[1])
    expected = np.column_stack([A * (i + (j % 2) / 2), j * A * math.sqrt(3) / 2])
    d = sample.positions[cation, :2] - expected
    assert np.abs(d - box * np.round(d / box)).max() < 1e-9
    column_count = np.bincount(sample.atom_labels["s_column"][~cation], minlength=site.size)
    s1 = sample.site_class == sample.class_of("S1")
    assert np.all(column_count[sample.atom_labels["s_column"][s1]] == 1)
    assert np.all(column_count[sample.atom_labels["s_column"][sample.site_class == sample.class_of("S2")]] == 2)


def test_exchange_energy_changes_add_up_to_the_lattice_gas_energy_change() -> None:
    """A beam parked between an unlike pair: only bonds with one of its two cations are dosed, and the
    logged ΔH of the accepted swaps add up to the change of H(w1, w2)."""
    w1, w2 = 0.8, -0.5
    sample = build_mos2_res2((25.0, 25.0), re_fraction=0.4, w1=w1, w2=w2, sweeps=0, rng=5)
    occupation = _occupation(sample)
    cation = np.flatnonzero(sample.atom_labels["lattice_site"] >= 0)
    is_re = occupation.ravel()[sample.atom_labels["lattice_site"][cation]]
    box = np.array(sample.extent)
    # Only the two cations of the pair lie within the dose cut-off (4σ = 2.4 Å) of their midpoint.
    dynamics = AlloyDynamics(["cation_exchange"], exchange_cross_section=1e3, probe_sigma=0.6)
    checked = 0
    for a in cation[:30]:
        d = sample.positions[cation, :2] - sample.positions[a, :2]
        d -= box * np.round(d / box)
        near = np.abs(np.hypot(d[:, 0], d[:, 1]) - A) < 1e-6
        partners = cation[near & (is_re != is_re[a])]
        if partners.size == 0:
            continue
        b = partners[0]
        midpoint = sample.positions[a, :2] + d[cation == b][0] / 2
        new, events = dynamics.evolve(sample, _park(midpoint, 1e10), np.random.default_rng(int(a)))
        if not events:
            continue  # every swap rejected by Metropolis
        dosed = {a, b}
        for event in events:
            assert event.kind == "cation_exchange" and dosed & set(event.atoms)
            assert event.details["species_after"] == event.details["species_before"][::-1]
            assert 2.0 <= event.time <= 2.5
        total = sum(event.details["delta_energy"] for event in events)
        assert total == pytest.approx(energy(_occupation(new), w1, w2) - energy(occupation, w1, w2), abs=1e-9)
        assert (new.elements == "Re").sum() == (sample.elements == "Re").sum()
        checked += 1
    assert checked >= 5


def test_exchange_cross_section_zero_disables_exchange(alloy) -> None:
    dynamics = AlloyDynamics(["cation_exchange"], exchange_cross_section=0.0)
    new, events = dynamics.evolve(alloy, _raster(alloy, 1e12), np.random.default_rng(6))
    assert new is alloy and events == []


def test_same_seed_same_result(alloy) -> None:
    dynamics = AlloyDynamics(exchange_cross_section=1.0)
    exposure = _raster(alloy, 3e7)
    a, events_a = dynamics.evolve(alloy, exposure, np.random.default_rng(7))
    b, events_b = dynamics.evolve(alloy, exposure, np.random.default_rng(7))
    assert a.content_hash() == b.content_hash()
    assert events_a == events_b and len(events_a) > 0
