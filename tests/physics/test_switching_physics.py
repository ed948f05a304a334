"""Beam-driven changes with known statistics and thresholds (PHYSICS.md: "Mo(1−x)Re(x)S2 alloys",
"Ferroelectric domains" / "Beam switching").

- S sputtering happens with probability 1 − exp(−σD) per exit-side S, σ the vibration-assisted
  knock-on cross section at the 6.9 eV threshold of Komsa et al. (PRL 109, 035503 (2012)).
- Beam-activated Mo/Re exchange relaxes the alloy towards the lattice-gas equilibrium of its own w1, w2.
- A dose above the e-beam writing threshold (500 µC/cm² of trapped charge) reverses the polarization
  under the beam and nowhere else; below it nothing switches; the sign follows the beam current.
"""

import math

import numpy as np
import pytest

from stemtwin.twin.dynamics import Exposure, per_atom_dose
from stemtwin.twin.dynamics.alloy import AlloyDynamics
from stemtwin.twin.dynamics.ferroelectric import UC_PER_CM2_PER_E_PER_A2, FerroelectricDynamics
from stemtwin.twin.dynamics.knock_on import vibration_assisted_cross_section
from stemtwin.twin.samples import build_ferroelectric, build_mos2_res2
from stemtwin.twin.samples.ferroelectric import PEROVSKITE_A, ferroelectric_sample_from_polarization
from stemtwin.twin.samples.lattice_gas import expected_random_re_re_nn_pairs, re_re_nn_pairs

A = PEROVSKITE_A


# -- Mo(1−x)Re(x)S2 ---------------------------------------------------------------------------------
def _scan(sample, dose: float, pixels: int, energy: float, rows: slice = slice(None)) -> Exposure:
    """A raster of ``pixels``² positions over the cell at ``dose`` [e/Å²], only the given rows."""
    ex, ey = sample.extent
    x, y = np.meshgrid((np.arange(pixels) + 0.5) * ex / pixels, (np.arange(pixels) + 0.5) * ey / pixels, indexing="ij")
    positions = np.column_stack([x[:, rows].ravel(), y[:, rows].ravel()])
    return Exposure(
        positions=positions,
        electrons=np.full(len(positions), dose * ex * ey / pixels**2),
        times=np.arange(len(positions)) * 1e-5,
        dwell_time=1e-5,
        energy=energy,
        current=30.0,
        kind="image",
    )


def _re_re_pairs(sample) -> int:
    site = sample.atom_labels["lattice_site"]
    cation = site >= 0
    occupation = np.zeros(int(np.prod(sample.parameters["lattice_shape"])), dtype=np.int8)
    occupation[site[cation]] = sample.elements[cation] == "Re"
    return re_re_nn_pairs(occupation.reshape(sample.parameters["lattice_shape"]))


def test_sputtering_count_matches_the_knock_on_probability() -> None:
    """Σ over trials of the events equals Σ(1 − exp(−σD)) over the exit-side S, within 3 standard errors."""
    sample = build_mos2_res2((25.0, 25.0), re_fraction=0.3, sweeps=0, n_s_vacancies=6, rng=0)
    # Five scan lines of a 20-pixel raster at 80 kV: the S under them get 10⁶–10⁸ e/Å², σD ~ 0.01–1.
    exposure = _scan(sample, 5e7, pixels=20, energy=80e3, rows=slice(8, 13))
    dynamics = AlloyDynamics(["s_sputtering"])
    z_plane = sample.positions[sample.atom_labels["lattice_site"] >= 0, 2].mean()
    exit_side = np.flatnonzero((sample.elements == "S") & (sample.positions[:, 2] > z_plane))
    sigma = vibration_assisted_cross_section(80e3, 16, 31.972, 6.9, temperature=300.0, debye_temperature=590.0)
    assert 0.1 < sigma < 10  # about 1 b at 80 kV: just below the 92 kV static threshold
    dose = per_atom_dose(exposure, sample.positions[exit_side, :2], sample.extent, 0.34)
    p = -np.expm1(-sigma * 1e-8 * dose)
    assert 3 < p.sum() < 30 and p.max() < 0.9
    trials = 150
    rng = np.random.default_rng(1)
    counts = np.zeros(len(sample), dtype=int)
    for _ in range(trials):
        _, events = dynamics.evolve(sample, exposure, rng)
        for event in events:
            counts[event.atoms[0]] += 1
    expected = trials * p.sum()
    standard_error = math.sqrt(trials * (p * (1 - p)).sum())
    assert abs(counts.sum() - expected) < 3 * standard_error, (counts.sum(), expected, standard_error)
    assert counts[np.setdiff1d(np.arange(len(sample)), exit_side)].sum() == 0  # only exit-side S
    # Per atom too: the most dosed S are hit most often.
    hot = exit_side[p > 0.3]
    assert np.all(np.abs(counts[hot] - trials * p[p > 0.3]) < 4 * np.sqrt(trials * p[p > 0.3] * (1 - p[p > 0.3])))


def _exchange_drift(w1: float, seeds: range) -> np.ndarray:
    """Re–Re nearest-neighbour pairs gained by random alloys under three heavy uniform exposures."""
    dynamics = AlloyDynamics(["cation_exchange"], exchange_cross_section=1.0)
    gained = []
    for seed in seeds:
        sample = build_mos2_res2((28.0, 28.0), re_fraction=0.3, w1=w1, sweeps=0, rng=seed)
        start = _re_re_pairs(sample)
        rng = np.random.default_rng(100 + seed)
        for _ in range(3):  # attempt probability 1 − e⁻³ per bond and exposure
            sample, _ = dynamics.evolve(sample, _scan(sample, 3e8, pixels=24, energy=80e3), rng)
        gained.append(_re_re_pairs(sample) - start)
    return np.array(gained, dtype=float)


def test_dose_driven_exchange_clusters_re_when_w1_is_positive() -> None:
    """w1 = 1 kT favours like neighbours: under the beam the alloy gains Re–Re pairs (Vlcek et al. 2021)."""
    gained = _exchange_drift(1.0, range(6))
    assert np.all(gained > 0)
    assert gained.mean() > 3 * gained.std(ddof=1) / math.sqrt(gained.size)


def test_dose_driven_exchange_leaves_a_random_alloy_random_when_w_is_zero() -> None:
    gained = _exchange_drift(0.0, range(12))
    assert abs(gained.mean()) < 3 * gained.std(ddof=1) / math.sqrt(gained.size) + 0.5
    # The end state is a random alloy: its pair count scatters around the random expectation.
    sample = build_mos2_res2((28.0, 28.0), re_fraction=0.3, sweeps=0, rng=0)
    n, n_re = sample.parameters["n_cations"], sample.parameters["n_re"]
    assert expected_random_re_re_nn_pairs(n, n_re) == pytest.approx(0.3**2 * 3 * n, rel=0.05)


# -- ferroelectric ----------------------------------------------------------------------------------
def _raster(
    dynamics: FerroelectricDynamics,
    sample,
    x: tuple[float, float],
    y: tuple[float, float],
    trapped: float,
    *,
    step: float = 1.0,
    current: float = 30.0,
    t0: float = 0.0,
):
    """Scan the box x × y [Å] line by line (``step`` Å pixels), delivering a dose whose trapped part is
    ``trapped`` [µC/cm²]; return the final sample and all events."""
    xs = np.arange(x[0] + step / 2, x[1], step)
    ys = np.arange(y[0] + step / 2, y[1], step)
    dose = trapped / (UC_PER_CM2_PER_E_PER_A2 * dynamics.charging_rate)  # [e/Å²]
    electrons = dose * step**2
    dwell, events, t = 16e-6, [], t0
    for yy in ys:
        exposure = Exposure(
            positions=np.column_stack([xs, np.full(xs.size, yy)]),
            electrons=np.full(xs.size, electrons),
            times=t + np.arange(xs.size) * dwell,
            dwell_time=dwell,
            energy=300e3,
            current=current,
            kind="image",
        )
        sample, new_events = dynamics.evolve(sample, exposure, np.random.default_rng(0))
        events += new_events
        t += xs.size * dwell
    return sample, events


@pytest.fixture(scope="module")
def minus_x_film():
    """A single −x domain, 20 × 20 cells (78 Å)."""
    sample = build_ferroelectric((78.0, 78.0), initial="uniform", relax_steps=100, rng=0)
    return ferroelectric_sample_from_polarization(sample, -sample.fields["polarization"])


@pytest.fixture(scope="module")
def stripes():
    """Two 180° stripes, 20 × 20 cells: +x for rows 1–9, −x for rows 11–19, walls on rows 0 and 10."""
    return build_ferroelectric((78.0, 78.0), initial="stripes", relax_steps=300, rng=0)


def test_a_dose_above_threshold_writes_a_reversed_domain_under_the_beam(minus_x_film) -> None:
    dynamics = FerroelectricDynamics()
    box = (27.3, 50.7)  # a 6 × 6-cell square at the centre (cells 7..12)
    written, events = _raster(dynamics, minus_x_film, box, box, trapped=3 * dynamics.switching_dose)
    px = written.fields["polarization"][..., 0]
    assert np.all(px[8:12, 8:12] > 0)  # reversed under the beam
    assert np.all(px[:2, :2] < 0) and np.all(px[18:, 18:] < 0)  # far (> 3 field widths) it is not
    assert px[0, 10] < 0 and px[10, 0] < 0
    assert events and all(e.kind == "domain_switch" for e in events)
    switched = {cell for e in events for cell in e.details["cells"]}
    assert {(i, j) for i in range(8, 12) for j in range(8, 12)} <= switched
    assert all(set(e.details["variants_after"]) == {"+x"} for e in events)
    centre = np.mean([e.details["centre"] for e in events], axis=0)
    assert centre == pytest.approx((39.0, 39.0), abs=2 * A)
    assert written.fields["domain_id"].max() == 1  # one written domain inside the −x film


def test_below_threshold_nothing_switches(minus_x_film, stripes) -> None:
    """Half the threshold dose: the field stays below the coercive field and no wall unpins, even
    right next to the walls of the stripes."""
    dynamics = FerroelectricDynamics()
    box = (27.3, 50.7)
    film, events = _raster(dynamics, minus_x_film, box, box, trapped=0.5 * dynamics.switching_dose)
    assert events == []
    assert np.array_equal(film.fields["polarization"], minus_x_film.fields["polarization"])
    assert film.fields["beam_charge"].max() > 0.4 * dynamics.switching_dose
    band, events = _raster(dynamics, stripes, (0.0, 78.0), (42.9, 78.0), trapped=0.5 * dynamics.switching_dose)
    assert events == []
    assert np.array_equal(band.fields["polarization"], stripes.fields["polarization"])


def test_rastering_one_stripe_reverses_it_and_leaves_the_other(stripes) -> None:
    dynamics = FerroelectricDynamics()
    px0 = stripes.fields["polarization"][..., 0]
    assert np.all(px0[:, 11:] < 0) and np.all(px0[:, 1:10] > 0)
    written, events = _raster(dynamics, stripes, (0.0, 78.0), (42.9, 78.0), trapped=2 * dynamics.switching_dose)
    px = written.fields["polarization"][..., 0]
    assert np.all(px[:, 11:] > 0)  # the −x stripe under the beam is now +x
    assert np.all(px[:, 2:9] == px0[:, 2:9])  # the +x stripe away from the beam is untouched
    assert events and sum(e.details["count"] for e in events) >= 20 * 9


def test_the_sign_of_switching_follows_the_beam_current(stripes) -> None:
    """Above ``current_threshold`` the trapped charge, and so the field, reverses (PHYSICS.md)."""
    dynamics = FerroelectricDynamics(current_threshold=50.0)
    plus_band = ((0.0, 78.0), (3.9, 39.0))
    low, low_events = _raster(dynamics, stripes, *plus_band, trapped=2 * dynamics.switching_dose, current=30.0)
    high, high_events = _raster(dynamics, stripes, *plus_band, trapped=2 * dynamics.switching_dose, current=100.0)
    # Positive charge pushes along +x: the +x stripe only strengthens (its walls may advance a cell
    # into the −x stripe). Negative charge reverses it.
    assert low.fields["beam_charge"].min() >= 0 and high.fields["beam_charge"].max() <= 0
    assert np.all(low.fields["polarization"][:, 1:10, 0] > 0)
    assert all(set(e.details["variants_after"]) == {"+x"} for e in low_events)
    assert sum(e.details["count"] for e in low_events) <= 2 * 20  # at most the two wall rows
    assert np.all(high.fields["polarization"][:, 2:9, 0] < 0) and high_events
    assert {v for e in high_events for v in e.details["variants_after"]} == {"-x"}


def test_a_written_domain_persists_after_the_charge_leaks_away(minus_x_film) -> None:
    dynamics = FerroelectricDynamics(decay_time=1.0)
    box = (27.3, 50.7)
    written, _ = _raster(dynamics, minus_x_film, box, box, trapped=3 * dynamics.switching_dose)
    # 100 s later a faint exposure far away: the charge has leaked, the walls stay pinned.
    later, events = _raster(dynamics, written, (0.0, 4.0), (0.0, 4.0), trapped=1.0, t0=100.0)
    assert later.fields["beam_charge"][5:15, 5:15].max() < 1e-6 * dynamics.switching_dose
    assert events == []
    assert np.array_equal(later.fields["polarization"], written.fields["polarization"])
    assert np.all(later.fields["polarization"][8:12, 8:12, 0] > 0)
