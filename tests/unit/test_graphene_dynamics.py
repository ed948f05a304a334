"""GrapheneDynamics: the contract, validation, structural bookkeeping and the exact-KMC mechanics."""

import pickle

import numpy as np
import pytest
from ase import Atoms

from stemtwin.twin import ConfigurationError, Microscope, Sample, ScanNoise, UnknownNameError, build_graphene
from stemtwin.twin.dynamics import default_dynamics
from stemtwin.twin.dynamics.base import BeamDynamics, Exposure
from stemtwin.twin.dynamics.graphene import (
    GrapheneDynamics,
    _Amps,
    _build_all,
    _build_few,
    _Config,
)
from stemtwin.twin.samples.graphene import CC_BOND

E_CHARGE = 1.602176634e-19
KINDS = {"si_jump", "si_conversion", "knock_on", "vacancy_migration", "vacancy_coalescence"}


def _parked(xy, seconds: float, current: float = 30.0, energy: float = 60e3) -> Exposure:
    """A beam parked at ``xy`` for ``seconds`` (one position, one long dwell), at 60 kV by default."""
    return Exposure.parked(xy, seconds, current=current, energy=energy)


def _line(x: float, y0: float, y1: float, n: int, electrons: float, energy: float = 80e3, t0: float = 0.0) -> Exposure:
    return Exposure(
        positions=np.column_stack([np.full(n, x), np.linspace(y0, y1, n)]),
        electrons=np.full(n, electrons),
        times=t0 + np.arange(n) * 1e-3,
        dwell_time=1e-3,
        energy=energy,
        current=30.0,
        kind="image",
    )


def _mic(d: np.ndarray, box: np.ndarray) -> np.ndarray:
    return d - box * np.round(d / box)


def _bonds(sample) -> np.ndarray:
    """Brute-force bond matrix from geometry: C–C < 1.7 Å, Si–C < 2.05 Å in projection."""
    box = np.array(sample.extent)
    xy = sample.positions[:, :2]
    d = _mic(xy[:, None] - xy[None], box)
    r = np.hypot(d[..., 0], d[..., 1])
    np.fill_diagonal(r, np.inf)
    si = sample.numbers == 14
    return np.where(si[:, None] | si[None], (si[:, None] != si[None]) & (r < 2.05), r < 1.7)


def assert_consistent(sample, lattice: np.ndarray) -> None:
    """An independent relabel from geometry agrees with the sample's classes and defect ids."""
    bond = _bonds(sample)
    si = sample.numbers == 14
    count = bond.sum(axis=1)
    has_si = (bond & si[None]).any(axis=1)
    names = ("C_pristine", "C_bonded_Si", "Si_3fold", "Si_4fold", "C_vacancy_edge")
    expected = np.where(si, np.where(count >= 4, 3, 2), np.where(has_si, 1, np.where(count < 3, 4, 0)))
    wrong = np.flatnonzero(expected != sample.site_class)
    assert wrong.size == 0, [(int(i), names[expected[i]], names[sample.site_class[i]]) for i in wrong]
    did = sample.defect_id
    assert np.all(did[expected == 0] == -1) and np.all(did[expected != 0] >= 0)
    si_idx = np.flatnonzero(si)
    assert len(set(did[si_idx].tolist())) == len(si_idx)  # one defect per Si
    for i in np.flatnonzero(expected == 1):  # a C bonded to a Si carries that Si's id
        assert did[i] in did[si_idx[bond[i, si_idx]]]
    box = np.array(sample.extent)
    xy = sample.positions[:, :2]
    # Atoms sit on lattice sites; a 4-fold Si sits at a bond centre, four C at 1.88 Å.
    r_site = np.hypot(*_mic(xy[:, None] - lattice[None], box).transpose(2, 0, 1))
    assert np.all((r_site.min(axis=1) < 1e-6) | (expected == 3))
    for s in si_idx:
        nb = np.flatnonzero(bond[s])
        r = np.hypot(*_mic(xy[nb] - xy[s], box).T)
        if expected[s] == 2:
            assert len(nb) == 3 and np.allclose(r, CC_BOND, atol=1e-6)
            dz = sample.positions[s, 2] - sample.positions[nb, 2]
            assert np.allclose(np.hypot(r, dz), 1.77, atol=1e-3)
        else:
            assert len(nb) == 4 and np.allclose(r, 1.878, atol=0.01)
            assert sample.positions[s, 2] == pytest.approx(np.median(sample.positions[:, 2]))
    # Every empty site: the vacancy-edge C around it share one defect id.
    r_empty = np.hypot(*_mic(lattice[:, None] - xy[None], box).transpose(2, 0, 1))
    empty = r_empty.min(axis=1) > 0.3
    if si_idx.size:
        empty &= ~(r_empty[:, si_idx] < 1.0).any(axis=1)
    for e in np.flatnonzero(empty):
        edge = np.flatnonzero((r_empty[e] < 1.6) & (expected == 4))
        assert len(set(did[edge].tolist())) <= 1, (int(e), did[edge])


@pytest.fixture(scope="module")
def lattice24() -> np.ndarray:
    return build_graphene((24.0, 24.0), rng=0).positions[:, :2]


def _si_neighbours(sample, si: int) -> tuple[np.ndarray, np.ndarray]:
    box = np.array(sample.extent)
    d = _mic(sample.positions[:, :2] - sample.positions[si, :2], box)
    r = np.hypot(d[:, 0], d[:, 1])
    nb = np.flatnonzero((r > 0.1) & (r < 2.0))
    return nb, d[nb]


# -- the contract and validation -------------------------------------------------------------------


def test_is_beam_dynamics_and_the_graphene_default() -> None:
    model = GrapheneDynamics()
    assert isinstance(model, BeamDynamics) and model.name == "graphene"
    assert model.processes.enabled == ("si_jump", "si_conversion", "knock_on")  # migration off by default
    sample = build_graphene((12.0, 12.0), rng=0)
    (default,) = default_dynamics(sample)
    assert isinstance(default, GrapheneDynamics)


def test_process_switches() -> None:
    assert GrapheneDynamics(["knock_on"]).processes.enabled == ("knock_on",)
    assert GrapheneDynamics({"vacancy_migration": True}).processes.enabled == GrapheneDynamics.PROCESSES
    assert GrapheneDynamics({"si_jump": False}).processes.enabled == ("si_conversion", "knock_on")
    with pytest.raises(UnknownNameError, match="Did you mean 'si_jump'"):
        GrapheneDynamics(["si_jumps"])
    with pytest.raises(UnknownNameError, match="knock_on"):
        GrapheneDynamics({"knockon": True})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("si_jump_peak_rate", -0.1),
        ("si_jump_peak_rate", float("nan")),
        ("si_jump_reference_current", 0.0),
        ("si_jump_offset", 3.0),
        ("si_jump_covariance", 0.0),
        ("si_conversion_cross_section", -1.0),
        ("si_reconversion_cross_section", float("inf")),
        ("knock_on_threshold", 0.0),
        ("vacancy_edge_threshold", -15.0),
        ("temperature", -1.0),
        ("debye_temperature", float("nan")),
        ("mass_number", 0.0),
        ("vacancy_migration_cross_section", -0.05),
        ("probe_sigma", 0.0),
    ],
)
def test_bad_parameters_raise_named_errors(field: str, value: float) -> None:
    with pytest.raises(ConfigurationError, match=field):
        GrapheneDynamics(**{field: value})


def test_bad_samples_and_exposures_are_rejected() -> None:
    model = GrapheneDynamics()
    other = Sample.from_atoms(Atoms("Mo", positions=[[1, 1, 1]], cell=[3, 3, 3], pbc=True))
    with pytest.raises(ConfigurationError, match="graphene"):
        model.evolve(other, _parked((1, 1), 1.0), np.random.default_rng(0))
    sample = build_graphene((12.0, 12.0), rng=0)
    bad = Exposure(np.zeros((2, 2)), np.array([1.0, -1.0]), np.zeros(2), 1e-3, 60e3, 30.0, "image")
    with pytest.raises(ConfigurationError, match="electrons"):
        model.evolve(sample, bad, np.random.default_rng(0))
    mismatched = Exposure(np.zeros((2, 2)), np.ones(3), np.zeros(2), 1e-3, 60e3, 30.0, "image")
    with pytest.raises(ConfigurationError, match="shapes"):
        model.evolve(sample, mismatched, np.random.default_rng(0))


def test_derived_si_jump_constants() -> None:
    model = GrapheneDynamics()
    # 0.23 s⁻¹ at 30 pA = 1.87e8 e/s: 1.23e-9 per electron at the peak, ≈ 0.16 b per neighbour.
    assert model.si_jump_probability == pytest.approx(0.23 * E_CHARGE / 30e-12)
    assert model.si_jump_sigma == pytest.approx(np.sqrt(0.1) * CC_BOND)
    assert model.si_jump_cross_section == pytest.approx(0.156, rel=0.01)
    sigma = model.knock_on_cross_sections(80e3)
    assert sigma["C_vacancy_edge"] > sigma["C_pristine"] > 0


# -- cheap and exact when nothing happens ---------------------------------------------------------------


def test_empty_or_dark_exposures_return_the_same_sample() -> None:
    sample = build_graphene((20.0, 20.0), n_si_3fold=1, n_monovacancies=1, rng=1)
    model = GrapheneDynamics({"vacancy_migration": True})
    empty = Exposure(np.zeros((0, 2)), np.zeros(0), np.zeros(0), 1e-3, 60e3, 30.0, "image")
    dark = _line(5.0, 0.0, 20.0, 64, 0.0)
    for exposure in (empty, dark):
        new, events = model.evolve(sample, exposure, np.random.default_rng(0))
        assert new is sample and events == []


def test_no_event_returns_the_identical_sample_object() -> None:
    sample = build_graphene((20.0, 20.0), n_si_3fold=1, rng=1)
    model = GrapheneDynamics()
    rng = np.random.default_rng(3)
    exposure = _line(7.3, 0.0, 20.0, 128, 3000.0, energy=60e3)  # one 30 pA, 16 µs line
    for _ in range(50):
        new, events = model.evolve(sample, exposure, rng)
        assert new is sample and events == []


def test_hazard_bound_is_an_upper_bound() -> None:
    """The no-event shortcut is exact only if the per-cell bound never undercuts the true hazard."""
    sample = build_graphene((24.0, 24.0), n_si_3fold=2, n_si_4fold=1, n_monovacancies=2, rng=4)
    model = GrapheneDynamics({"vacancy_migration": True})
    rng = np.random.default_rng(0)
    for energy in (60e3, 80e3, 100e3):
        table = model._table(model._config(sample), energy)
        for _ in range(20):
            positions = rng.uniform(-30, 60, size=(50, 2))
            electrons = rng.uniform(0, 1e6, size=50)
            exposure = Exposure(positions, electrons, np.arange(50.0), 1.0, energy, 30.0, "image")
            exact = sum(model.expected_events(sample, exposure).values())
            assert table.bound(positions, electrons) >= exact * (1 - 1e-12)


# -- structural bookkeeping ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 2])
def test_structure_stays_consistent_through_many_events(seed: int, lattice24: np.ndarray) -> None:
    sample = build_graphene((24.0, 24.0), n_si_3fold=2, n_si_4fold=1, n_monovacancies=2, min_separation=5, rng=seed)
    assert_consistent(sample, lattice24)
    model = GrapheneDynamics(
        {"vacancy_migration": True},
        si_jump_peak_rate=50.0,
        si_conversion_cross_section=2e3,
        si_reconversion_cross_section=5e3,
        vacancy_migration_cross_section=3e3,
    )
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    for it in range(100):
        x = rng.uniform(0, 24)
        before = sample
        sample, events = model.evolve(sample, _line(x, rng.uniform(0, 0.3), 24.0, 64, 2e5, t0=it), rng)
        if events:
            assert_consistent(sample, lattice24)
            seen.update(e.kind for e in events)
            times = [e.time for e in events]
            assert times == sorted(times) and it <= times[0] and times[-1] <= it + 64e-3
        else:
            assert sample is before
    assert seen <= KINDS and {"si_jump", "si_conversion", "vacancy_migration"} <= seen


def test_cached_configuration_matches_a_fresh_one(lattice24: np.ndarray) -> None:
    """The state kept for the returned sample is what a rebuild from scratch would give."""
    sample = build_graphene((24.0, 24.0), n_si_3fold=2, n_si_4fold=1, n_monovacancies=2, min_separation=5, rng=0)
    model = GrapheneDynamics(
        {"vacancy_migration": True}, si_reconversion_cross_section=1e3, vacancy_migration_cross_section=1e4
    )
    rng = np.random.default_rng(1)
    for it in range(40):
        sample, _ = model.evolve(sample, _line(rng.uniform(0, 24), 0.0, 24.0, 64, 2e5, t0=it), rng)
    cached, fresh = model._config(sample), _Config.from_sample(sample)
    for name in ("xy", "z", "num", "cls", "did", "nbr"):
        assert np.array_equal(getattr(cached, name), getattr(fresh, name)), name
    assert cached.z_plane == fresh.z_plane
    # The per-event channel builder agrees with the vectorised one.
    for energy in (60e3, 100e3):
        amps = _Amps(model, energy)
        amps.migr = 0.0
        vectorised = sorted(_round(r) for r in _build_all(fresh, amps).rows())
        few = sorted(_round(r) for r in _build_few(fresh, range(len(sample)), amps))
        assert vectorised == few


def _round(row: tuple) -> tuple:
    return tuple(None if isinstance(v, float) and np.isnan(v) else round(v, 9) for v in row)


def test_event_atoms_are_indices_before_each_event() -> None:
    """Replaying the events on a copy of the positions reproduces the returned sample."""
    sample = build_graphene((20.0, 20.0), n_si_3fold=1, n_si_4fold=1, n_monovacancies=1, rng=5)
    model = GrapheneDynamics(
        {"vacancy_migration": True},
        knock_on_threshold=12.0,
        vacancy_edge_threshold=12.0,
        si_conversion_cross_section=500.0,
        si_reconversion_cross_section=2e3,
        vacancy_migration_cross_section=2e3,
    )
    exposure = _line(10.0, 0.0, 20.0, 400, 1e6, energy=80e3)
    new, events = model.evolve(sample, exposure, np.random.default_rng(2))
    assert len({e.kind for e in events}) >= 3
    xy = [tuple(p) for p in sample.positions[:, :2]]

    def at(i: int, where: tuple) -> None:
        assert np.allclose(xy[i], where, atol=1e-9), (xy[i], where)

    for e in events:
        d = e.details
        if e.kind == "knock_on":
            at(e.atoms[0], d["position"])
            del xy[e.atoms[0]]
        elif e.kind == "si_jump":
            at(e.atoms[0], d["from"])
            at(e.atoms[1], d["to"])
            xy[e.atoms[0]], xy[e.atoms[1]] = xy[e.atoms[1]], xy[e.atoms[0]]
        elif e.kind == "si_conversion" and d["direction"] == "3->4":
            at(e.atoms[0], d["from"])
            at(e.atoms[1], d["removed_carbon"])
            xy[e.atoms[0]] = d["to"]
            del xy[e.atoms[1]]
        elif e.kind == "si_conversion":
            at(e.atoms[0], d["from"])
            xy[e.atoms[0]] = d["to"]
            xy.append(d["added_carbon"])
            assert d["added_atom"] == len(xy) - 1
        else:  # a vacancy hop or coalescence: one C moves into an empty site
            at(e.atoms[0], d["from"])
            xy[e.atoms[0]] = d["to"]
    assert np.allclose(np.array(xy), new.positions[:, :2], atol=1e-9)


def test_four_fold_si_returns_to_three_fold_by_capturing_a_carbon(lattice24: np.ndarray) -> None:
    sample = build_graphene((24.0, 24.0), n_si_4fold=1, rng=6)
    si = int(sample.indices_of("Si_4fold")[0])
    model = GrapheneDynamics(["si_conversion"], si_conversion_cross_section=0.0, si_reconversion_cross_section=1.0)
    new, events = model.evolve(sample, _parked(sample.positions[si, :2], 60.0), np.random.default_rng(0))
    assert [e.kind for e in events] == ["si_conversion"]
    assert events[0].details["direction"] == "4->3"
    assert len(new) == len(sample) + 1
    assert len(new.indices_of("Si_3fold")) == 1 and len(new.indices_of("Si_4fold")) == 0
    assert_consistent(new, lattice24)


def test_three_fold_si_converts_to_four_fold_when_a_neighbour_is_knocked_out(lattice24: np.ndarray) -> None:
    sample = build_graphene((24.0, 24.0), n_si_3fold=1, rng=6)
    si = int(sample.indices_of("Si_3fold")[0])
    nb, _ = _si_neighbours(sample, si)
    model = GrapheneDynamics(["si_conversion"], si_conversion_cross_section=1.0, si_reconversion_cross_section=0.0)
    new, events = model.evolve(sample, _parked(sample.positions[nb[0], :2], 1.0), np.random.default_rng(0))
    assert [e.kind for e in events] == ["si_conversion"] and events[0].atoms == (si, nb[0])
    assert len(new) == len(sample) - 1
    assert len(new.indices_of("Si_4fold")) == 1
    assert_consistent(new, lattice24)


def test_monovacancies_migrate_and_coalesce_into_a_divacancy(lattice24: np.ndarray) -> None:
    pristine = build_graphene((24.0, 24.0), rng=0)
    xy = pristine.positions[:, :2]
    a = int(np.argmin(np.hypot(*(xy - [8.0, 12.0]).T)))
    r = np.hypot(*_mic(xy - xy[a], np.array(pristine.extent)).T)
    b = int(np.flatnonzero(np.abs(r - 2 * 2.46) < 0.05)[0])  # two lattice constants apart
    # Make the two vacancies with the dynamics itself (labels then follow its rules): a beam parked
    # on each atom with a low threshold there, and the real one for the edge atoms it leaves.
    knock = GrapheneDynamics(["knock_on"], knock_on_threshold=5.0, vacancy_edge_threshold=21.0)
    sample = pristine
    for atom in (a, b - int(b > a)):
        target = sample.positions[atom, :2]
        sample, events = knock.evolve(sample, _parked(target, 0.2, energy=100e3), np.random.default_rng(atom))
        assert [e.atoms for e in events] == [(atom,)]
    assert len(sample) == len(pristine) - 2
    assert len(set(sample.defect_id[sample.site_class == 4].tolist())) == 2
    model = GrapheneDynamics(["vacancy_migration"], vacancy_migration_cross_section=1.0)
    rng = np.random.default_rng(0)
    kinds: list[str] = []
    for it in range(400):
        sample, events = model.evolve(sample, _line(rng.uniform(0, 24), 0.0, 24.0, 96, 5e6, t0=it), rng)
        kinds += [e.kind for e in events]
        if "vacancy_coalescence" in kinds:
            break
    assert "vacancy_migration" in kinds and "vacancy_coalescence" in kinds
    assert_consistent(sample, lattice24)
    edges = sample.site_class == sample.class_of("C_vacancy_edge")
    assert edges.sum() == 4 and len(set(sample.defect_id[edges].tolist())) == 1  # one divacancy


# -- reproducibility and integration ------------------------------------------------------------


def test_same_seed_same_events_and_pickle_round_trip() -> None:
    sample = build_graphene((20.0, 20.0), n_si_3fold=1, rng=3)
    si = int(sample.indices_of("Si_3fold")[0])
    nb, d = _si_neighbours(sample, si)
    model = GrapheneDynamics()
    exposure = _parked(sample.positions[si, :2] + 0.85 * d[0], 60.0)
    first = model.evolve(sample, exposure, np.random.default_rng(9))
    clone = pickle.loads(pickle.dumps(model))
    second = clone.evolve(sample, exposure, np.random.default_rng(9))
    assert first[1] and first[1] == second[1]
    assert np.array_equal(first[0].positions, second[0].positions)
    # Continuing from the returned sample: the original uses the state it cached for it, a pickled
    # copy rebuilds it; both must go on identically.
    clone = pickle.loads(pickle.dumps(model))
    later = _line(float(first[0].positions[si, 0]), 0.0, 20.0, 200, 1e8, energy=100e3)
    third = model.evolve(first[0], later, np.random.default_rng(10))
    fourth = clone.evolve(first[0], later, np.random.default_rng(10))
    assert third[1] and third[1] == fourth[1]


def test_parked_spectrum_in_the_microscope_moves_the_si() -> None:
    sample = build_graphene((20.0, 20.0), n_si_3fold=1, rng=3)
    si = int(sample.indices_of("Si_3fold")[0])
    _, d = _si_neighbours(sample, si)
    scope = Microscope(sample, dynamics=[GrapheneDynamics(["si_jump"])], scan_noise=ScanNoise.none(), rng=0)
    target = sample.positions[si, :2] + 0.85 * d[0]
    scope.acquire_spectrum(tuple(target), dwell_time=30.0)
    events = scope.truth().events
    assert events and {e.kind for e in events} == {"si_jump"}
    assert all(0.0 <= e.time <= 30.0 for e in events)


def test_incremental_hazards_match_a_rebuild_after_every_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """After each event the per-position hazards kept by the KMC equal those of a fresh build."""
    import stemtwin.twin.dynamics.graphene as module

    checked = []
    refresh = module._Run._refresh

    def checked_refresh(run, touched):  # noqa: ANN001, ANN202
        refresh(run, touched)
        cfg = _Config.from_sample(run._finish())
        table = module._Table(_build_all(cfg, run.amps), run.amps, cfg.box)
        p, _, g = GrapheneDynamics._pairs(table, run.uniq)
        fresh = np.bincount(p, weights=g, minlength=run.nu)
        assert np.allclose(run.G, fresh, rtol=1e-9, atol=0)
        checked.append(len(touched))

    monkeypatch.setattr(module._Run, "_refresh", checked_refresh)
    sample = build_graphene((24.0, 24.0), n_si_3fold=2, n_si_4fold=1, n_monovacancies=2, min_separation=5, rng=1)
    model = GrapheneDynamics(
        {"vacancy_migration": True},
        si_jump_peak_rate=50.0,
        si_conversion_cross_section=300.0,
        si_reconversion_cross_section=1e3,
        vacancy_migration_cross_section=1e3,
    )
    rng = np.random.default_rng(4)
    for it in range(30):
        sample, _ = model.evolve(sample, _line(rng.uniform(0, 24), 0.0, 24.0, 48, 2e5, t0=it), rng)
        si = sample.indices_of("Si_3fold")
        if si.size:  # and a parked beam beside a Si (the one-position path)
            sample, _ = model.evolve(sample, _parked(sample.positions[si[0], :2] + 0.6, 0.05, energy=80e3), rng)
    assert len(checked) > 50
