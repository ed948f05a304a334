"""FerroelectricDynamics: the contract, validation, charge bookkeeping, the field law and the rebuild."""

import math

import numpy as np
import pytest

from stemtwin.twin import ConfigurationError, UnknownNameError
from stemtwin.twin.dynamics import BeamDynamics, Exposure, default_dynamics
from stemtwin.twin.dynamics.ferroelectric import (
    UC_PER_CM2_PER_E_PER_A2,
    FerroelectricDynamics,
    intrinsic_coercive_field,
)
from stemtwin.twin.samples import build_ferroelectric, build_mos2_res2
from stemtwin.twin.samples.ferroelectric import (
    PEROVSKITE_A,
    a_site_centre_offsets,
    ferroelectric_sample_from_polarization,
)
from stemtwin.twin.samples.tdgl import LGDParameters

A = PEROVSKITE_A


@pytest.fixture(scope="module")
def stripes():
    return build_ferroelectric((40.0, 40.0), initial="stripes", rng=0)


def _line(
    y: float,
    electrons: float,
    n: int = 128,
    t0: float = 0.0,
    dwell: float = 16e-6,
    current: float = 30.0,
    width: float = 39.0,
) -> Exposure:
    """One scan line of ``n`` positions across a sample ``width`` wide (10 cells) at height ``y`` [Å]."""
    positions = np.column_stack([(np.arange(n) + 0.5) * width / n, np.full(n, y)])
    return Exposure(
        positions=positions,
        electrons=np.full(n, electrons),
        times=t0 + np.arange(n) * dwell,
        dwell_time=dwell,
        energy=300e3,
        current=current,
        kind="image",
    )


def test_contract_and_registration() -> None:
    dynamics = FerroelectricDynamics()
    assert isinstance(dynamics, BeamDynamics)
    assert dynamics.name == "ferroelectric"
    assert FerroelectricDynamics.PROCESSES == ("beam_charging",)
    (auto,) = default_dynamics("ferroelectric", switching_dose=400.0)
    assert isinstance(auto, FerroelectricDynamics) and auto.switching_dose == 400.0
    # PHYSICS.md: PZT e-beam writing threshold ~500 µC/cm², saturating near 1500 µC/cm².
    assert (dynamics.switching_dose, dynamics.saturation_dose) == (500.0, 1500.0)
    assert UC_PER_CM2_PER_E_PER_A2 == pytest.approx(1602.18, rel=1e-5)


def test_zero_dose_returns_the_same_sample_and_no_events(stripes) -> None:
    exposure = _line(20.0, 0.0)
    for dynamics in (FerroelectricDynamics(), FerroelectricDynamics(decay_time=1.0, current_threshold=10.0)):
        new, events = dynamics.evolve(stripes, exposure, np.random.default_rng(0))
        assert new is stripes and events == []
    empty = Exposure(np.zeros((0, 2)), np.zeros(0), np.zeros(0), 1e-5, 300e3, 30.0, "image")
    assert FerroelectricDynamics().evolve(stripes, empty, np.random.default_rng(0)) == (stripes, [])


def test_switching_the_process_off_stops_all_change(stripes) -> None:
    dynamics = FerroelectricDynamics({"beam_charging": False}, charging_rate=1.0)
    new, events = dynamics.evolve(stripes, _line(20.0, 1e9), np.random.default_rng(0))
    assert new is stripes and events == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"charging_rate": -1e-6}, ConfigurationError, r"charging_rate.*>= 0.*-1e-06"),
        ({"charging_rate": float("nan")}, ConfigurationError, r"charging_rate.*finite"),
        ({"field_width": 0.0}, ConfigurationError, r"field_width.*\[Å\]"),
        ({"decay_time": -1.0}, ConfigurationError, r"decay_time.*\[s\]"),
        ({"decay_time": float("inf")}, ConfigurationError, "decay_time"),
        ({"tdgl_time_scale": 0.0}, ConfigurationError, "tdgl_time_scale"),
        ({"switching_dose": -500.0}, ConfigurationError, r"switching_dose.*\[µC/cm²\]"),
        ({"saturation_dose": 400.0}, ConfigurationError, r"saturation_dose.*exceed.*switching_dose"),
        ({"polarity": 2}, ConfigurationError, "polarity"),
        ({"polarity": True}, ConfigurationError, "polarity"),
        ({"direction": "x+"}, UnknownNameError, r"Unknown direction 'x\+'.*'\+x'"),
        ({"direction": (0.0, 0.0)}, ConfigurationError, "non-zero"),
        ({"current_threshold": -3.0}, ConfigurationError, r"current_threshold.*\[pA\]"),
        ({"max_substeps": 0}, ConfigurationError, "max_substeps"),
        ({"max_substeps": 2.5}, ConfigurationError, "max_substeps"),
        ({"processes": ["beam_chargin"]}, UnknownNameError, "Did you mean 'beam_charging'"),
    ],
)
def test_bad_parameters_are_rejected(kwargs, error, match: str) -> None:
    with pytest.raises(error, match=match):
        FerroelectricDynamics(**kwargs)


def test_a_sample_of_another_family_is_rejected() -> None:
    sample = build_mos2_res2((15.0, 20.0), sweeps=0, rng=0)
    with pytest.raises(ConfigurationError, match="build_ferroelectric"):
        FerroelectricDynamics().evolve(sample, _line(5.0, 1e3), np.random.default_rng(0))


def test_charge_is_the_trapped_fraction_of_the_dose_per_unit_cell(stripes) -> None:
    """1 e/Å² is 1602 µC/cm²; each probe position charges the cell it lands in; charge accumulates."""
    rate = 2e-6
    dynamics = FerroelectricDynamics(charging_rate=rate)
    exposure = _line(21.0, 3000.0)  # row j = 5 of the 10 × 10 grid
    once, events = dynamics.evolve(stripes, exposure, np.random.default_rng(0))
    assert once is not stripes and events == []
    charge = once.fields["beam_charge"]
    assert charge.shape == (10, 10)
    expected = rate * UC_PER_CM2_PER_E_PER_A2 * (128 * 3000.0 / 10) / A**2  # 12.8 positions per cell
    assert charge[:, 5].sum() == pytest.approx(10 * expected)
    assert np.all(np.delete(charge, 5, axis=1) == 0)
    twice, _ = dynamics.evolve(once, exposure, np.random.default_rng(0))
    assert np.allclose(twice.fields["beam_charge"], 2 * charge)
    # Far below the threshold the polarization, atoms and labels are untouched.
    assert np.array_equal(twice.fields["polarization"], stripes.fields["polarization"])
    assert np.allclose(twice.positions, stripes.positions, rtol=0, atol=1e-12)
    assert twice.content_hash() == stripes.content_hash()


def test_charge_decays_between_exposures(stripes) -> None:
    tau = 2.0
    dynamics = FerroelectricDynamics(decay_time=tau)
    first, _ = dynamics.evolve(stripes, _line(21.0, 3000.0, n=1, dwell=1e-9), np.random.default_rng(0))
    t1 = float(first.fields["beam_charge_time"])
    assert t1 == pytest.approx(1e-9)
    q1 = first.fields["beam_charge"].copy()
    assert np.count_nonzero(q1) == 1 and q1[5, 5] > 0  # the probe at (19.5, 21) Å charges cell (5, 5)
    later, _ = dynamics.evolve(first, _line(5.0, 3000.0, n=1, t0=t1 + 3.0, dwell=1e-9), np.random.default_rng(0))
    # The first deposit leaked for the 3 s in between; the new one, in cell (5, 1), is fresh.
    assert later.fields["beam_charge"][5, 5] == pytest.approx(q1[5, 5] * math.exp(-3.0 / tau), rel=1e-6)
    assert later.fields["beam_charge"][5, 1] == pytest.approx(q1[5, 5], rel=1e-6)


def test_field_law_coercive_at_switching_dose_and_saturating(stripes) -> None:
    dynamics = FerroelectricDynamics()
    ec = intrinsic_coercive_field(LGDParameters(grid_spacing=A / 10))
    assert ec == pytest.approx(1.234, abs=2e-3)  # PbTiO3 at 25 °C, homogeneous switching along ⟨10⟩
    uniform = np.full((10, 10), dynamics.switching_dose)
    field = dynamics.beam_field(stripes, uniform)
    assert np.allclose(field[..., 0], ec) and np.allclose(field[..., 1], 0.0)
    saturated = dynamics.beam_field(stripes, np.full((10, 10), dynamics.saturation_dose))
    assert np.allclose(saturated[..., 0], 0.95 * 2 * ec)
    assert np.allclose(dynamics.beam_field(stripes, -uniform)[..., 0], -ec)  # negative charge reverses it
    assert np.all(dynamics.beam_field(stripes) == 0)  # no charge yet
    # The field grows monotonically with the charge and is a Gaussian spread of a point charge.
    q = np.linspace(0, 5000, 200)
    assert np.all(np.diff(dynamics.field_magnitude(q, ec)) > 0)
    point = np.zeros((10, 10))
    point[5, 5] = 1e5
    spread = np.linalg.norm(dynamics.beam_field(stripes, point), axis=-1)
    assert np.unravel_index(np.argmax(spread), spread.shape) == (5, 5)
    for k in range(1, 5):  # symmetric about the charged cell, falling away from it
        assert spread[5 + k, 5] == pytest.approx(spread[5 - k, 5]) == pytest.approx(spread[5, 5 + k])
        assert spread[5 + k, 5] < spread[5 + k - 1, 5]


def test_direction_polarity_and_current_set_the_field_sign(stripes) -> None:
    charge = np.full((10, 10), 1000.0)
    assert np.all(FerroelectricDynamics(direction="-y").beam_field(stripes, charge)[..., 1] < 0)
    tilted = FerroelectricDynamics(direction=(1.0, 1.0)).beam_field(stripes, charge)
    assert np.allclose(tilted[..., 0], tilted[..., 1])
    dynamics = FerroelectricDynamics(polarity=-1, current_threshold=50.0)
    assert dynamics.charge_sign(30.0) == -1 and dynamics.charge_sign(100.0) == 1
    low, _ = dynamics.evolve(stripes, _line(21.0, 3000.0, current=30.0), np.random.default_rng(0))
    high, _ = dynamics.evolve(stripes, _line(21.0, 3000.0, current=100.0), np.random.default_rng(0))
    assert low.fields["beam_charge"].min() < 0 and high.fields["beam_charge"].max() > 0
    assert np.allclose(low.fields["beam_charge"], -high.fields["beam_charge"])


def test_labels_and_fields_are_consistent_after_switching() -> None:
    sample = build_ferroelectric((46.8, 46.8), initial="uniform", relax_steps=100, rng=1)
    sample = ferroelectric_sample_from_polarization(sample, -sample.fields["polarization"])  # a −x film
    nx, ny = sample.parameters["n_cells"]
    assert (nx, ny) == (12, 12)
    # A tenth of the electrons trapped: one line along row 6 charges it far past saturation.
    dynamics = FerroelectricDynamics(charging_rate=0.1, field_width=6.0)
    new, events = dynamics.evolve(sample, _line(6.5 * A, 50.0, width=nx * A), np.random.default_rng(0))
    (event,) = events
    assert event.kind == "domain_switch" and event.details["count"] > 0
    assert set(event.details["variants_before"]) == {"-x"} and set(event.details["variants_after"]) == {"+x"}
    P = new.fields["polarization"]  # noqa: N806
    cells = [tuple(int(v) for v in c) for c in np.argwhere(P[..., 0] > 0)]
    assert sorted(cells) == sorted(event.details["cells"])
    assert all(new.elements[i] == "Ti" for i in event.atoms)
    assert sorted(event.atoms) == sorted(5 * (i * ny + j) + 1 for i, j in cells)
    assert event.details["centre"][1] == pytest.approx(6.5 * A, abs=A)
    assert np.all(P[:, 0, 0] < 0)  # rows far from the line keep −x
    # The rebuild is the builder's code path: labels, fields and Ti shifts all follow P.
    reference = ferroelectric_sample_from_polarization(sample, P)
    assert reference.content_hash() == new.content_hash()
    ps = new.parameters["Ps"]
    assert np.array_equal(new.atom_labels["Px"], np.repeat(P[..., 0].ravel(), 5))
    assert np.array_equal(new.atom_labels["Py"], np.repeat(P[..., 1].ravel(), 5))
    assert np.array_equal(new.atom_labels["domain_id"], np.repeat(new.fields["domain_id"].ravel(), 5))
    assert np.array_equal(new.atom_labels["wall_distance"], np.repeat(new.fields["wall_distance"].ravel(), 5))
    shift = new.parameters["displacement_at_ps"] * P.reshape(-1, 2) / ps
    assert np.abs(a_site_centre_offsets(new) - shift).max() < 1e-9
    ti = new.site_class == new.class_of("Ti")
    assert np.allclose(new.atom_labels["off_centring"][ti], np.linalg.norm(shift, axis=1))
    assert new.fields["domain_id"].max() == 1  # the written +x band beside the −x film
    charged = np.zeros((nx, ny), dtype=bool)
    charged[:, 6] = True
    assert np.array_equal(new.fields["beam_charge"] > 0, charged)
    assert new.fields["beam_field"].shape == (nx, ny, 2)  # [V/m]


def test_rebuild_from_polarization_round_trips_and_validates(stripes) -> None:
    same = ferroelectric_sample_from_polarization(stripes, stripes.fields["polarization"])
    assert same.content_hash() == stripes.content_hash()
    assert set(same.fields) == set(stripes.fields) and same.parameters == stripes.parameters
    extra = ferroelectric_sample_from_polarization(
        stripes, stripes.fields["polarization"], fields={"beam_charge": np.ones((10, 10))}
    )
    assert np.all(extra.fields["beam_charge"] == 1)
    with pytest.raises(ConfigurationError, match=r"shape \(10, 10, 2\)"):
        ferroelectric_sample_from_polarization(stripes, np.zeros((5, 5, 2)))
    with pytest.raises(ConfigurationError, match="finite"):
        ferroelectric_sample_from_polarization(stripes, np.full((10, 10, 2), np.nan))
    with pytest.raises(ConfigurationError, match="build_ferroelectric"):
        ferroelectric_sample_from_polarization(build_mos2_res2((15.0, 20.0), sweeps=0, rng=0), np.zeros((10, 10, 2)))


def test_deterministic(stripes) -> None:
    dynamics = FerroelectricDynamics(charging_rate=1e-3)
    a, events_a = dynamics.evolve(stripes, _line(21.0, 3000.0), np.random.default_rng(0))
    b, events_b = dynamics.evolve(stripes, _line(21.0, 3000.0), np.random.default_rng(99))
    assert a.content_hash() == b.content_hash() and events_a == events_b
