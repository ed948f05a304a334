"""Known behaviour of the PbTiO3 Landau–Ginzburg–Devonshire model (PHYSICS.md, "Ferroelectric domains")."""

import numpy as np
import pytest
from scipy.optimize import curve_fit, minimize

from stemtwin.twin.samples.tdgl import (
    DEFAULT_DT,
    LandauGinzburg2D,
    LGDParameters,
    domain_walls,
    polarization_variants,
)


def _f_si(P: np.ndarray, p: LGDParameters) -> float:  # noqa: N803
    """Uniform free-energy density [J/m³] straight from the SI coefficients."""
    x2, y2 = P[0] ** 2, P[1] ** 2
    return (
        p.alpha1 * (x2 + y2)
        + p.alpha11 * (x2**2 + y2**2)
        + p.alpha12 * x2 * y2
        + p.alpha111 * (x2**3 + y2**3)
        + p.alpha112 * (x2**2 * y2 + x2 * y2**2)
    )


def test_spontaneous_polarization_of_pbtio3_at_room_temperature() -> None:
    """PHYSICS.md: the coefficients give Ps(25 °C) ≈ 0.76 C/m², along ⟨10⟩."""
    p = LGDParameters()
    result = minimize(_f_si, x0=[0.3, 0.1], args=(p,), method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-3})
    assert np.hypot(*result.x) == pytest.approx(0.76, abs=0.01)
    assert abs(result.x[1]) < 1e-3  # along x, not along a diagonal
    assert p.Ps == pytest.approx(np.hypot(*result.x), abs=1e-5)
    # The ⟨11⟩ minimum along the diagonal lies higher than the ⟨10⟩ one.
    diagonal = min(_f_si(np.array([q, q]), p) for q in np.linspace(0.01, 0.8, 400))
    assert diagonal > _f_si(np.array([p.Ps, 0.0]), p) + 1e7


def test_polarization_falls_as_the_curie_point_nears() -> None:
    values = [LGDParameters(temperature=t).Ps for t in (25.0, 200.0, 400.0, 478.0)]
    assert all(a > b for a, b in zip(values, values[1:]))
    # α11 < 0: the transition is first order, Ps stays finite at the Curie–Weiss point.
    assert values[-1] > 0.3


def test_free_energy_falls_at_every_step_from_a_random_start() -> None:
    model = LandauGinzburg2D(LGDParameters(), (48, 48))
    P = model.random_state(0, 0.05)
    energies = [model.free_energy(P)]
    for _ in range(300):
        P = model.step(P, model.stable_dt)
        energies.append(model.free_energy(P))
    steps = np.diff(energies)
    assert np.all(steps < 0), f"energy rose at steps {np.flatnonzero(steps >= 0)}"
    assert energies[-1] < 0.8 * model.params.reduced_minimum_energy * model.area * 48 * 48


@pytest.mark.parametrize("start", [(0.5, 0.0), (0.0, -0.5), (0.5 * np.cos(0.5), 0.5 * np.sin(0.5)), (1.3, 0.0)])
def test_uniform_state_relaxes_to_ps_along_the_nearest_axis(start) -> None:
    model = LandauGinzburg2D(LGDParameters(), (8, 8))
    P = model.relax(model.uniform_state(start, np.hypot(*start)), 400, DEFAULT_DT)
    magnitude = np.linalg.norm(P, axis=-1)
    assert np.allclose(magnitude, 1.0, atol=0.02)  # |P| = Ps within 2 %
    axis = int(np.argmax(np.abs(start)))
    assert np.allclose(np.abs(P[..., axis]), 1.0, atol=0.02)
    assert np.allclose(np.sign(P[..., axis]), np.sign(start[axis]))


def test_random_quench_forms_90_and_180_degree_walls() -> None:
    """A quench of a 64² grid gives domains of all four variants with both kinds of wall."""
    model = LandauGinzburg2D(LGDParameters(), (64, 64))
    for seed in range(3):
        P = model.relax(model.random_state(seed, 0.05), 100, DEFAULT_DT)
        walls = domain_walls(P)
        long_90 = [n for angle, n in walls.values() if angle == 90 and n >= 4]
        long_180 = [n for angle, n in walls.values() if angle == 180 and n >= 4]
        assert len(long_90) >= 3, f"seed {seed}: 90° walls {long_90}"
        assert len(long_180) >= 1, f"seed {seed}: 180° walls {long_180}"
        assert set(np.unique(polarization_variants(P))) == {0, 1, 2, 3}
        assert np.median(np.linalg.norm(P, axis=-1)) > 0.9  # domains are saturated


@pytest.mark.parametrize("wall_width", [1.0, 2.0])
def test_relaxed_180_degree_wall_has_the_configured_width(wall_width: float) -> None:
    """Fit P = Ps tanh(2(y − y0)/w) to a relaxed Ising wall on a fine grid (0.1 nm)."""
    h = 0.1
    n = 128
    model = LandauGinzburg2D(LGDParameters(wall_width=wall_width, grid_spacing=h), (4, n))
    P = model.relax(model.stripe_state(2) + model.random_state(0, 0.01), 1500, DEFAULT_DT)
    assert np.abs(P[..., 1]).max() < 1e-3  # Ising wall: Py does not grow
    y = np.arange(n) * h
    profile = P[..., 0].mean(axis=0)
    window = slice(n // 4, 3 * n // 4)  # the wall seeded at y = n/2, going from +Ps to −Ps

    def tanh_wall(y, y0, w, amplitude):
        return amplitude * np.tanh(2 * (y - y0) / w)

    (y0, w, amplitude), _ = curve_fit(tanh_wall, y[window], profile[window], p0=[n * h / 2, 1.0, -1.0])
    assert y0 == pytest.approx(n * h / 2, abs=2 * h)
    assert amplitude == pytest.approx(-1.0, abs=0.03)  # the φ⁶ profile is close to, not exactly, tanh
    assert w == pytest.approx(wall_width, rel=0.3)


def test_field_along_x_grows_the_plus_x_domain() -> None:
    """The −E·P term: a field along +x moves the 180° walls so that +x grows; −x shrinks it."""
    model = LandauGinzburg2D(LGDParameters(grid_spacing=0.1), (4, 64))
    start = model.relax(model.stripe_state(2) + model.random_state(1, 0.01), 300, DEFAULT_DT)

    def plus_x_fraction(P: np.ndarray) -> float:  # noqa: N803
        return float(np.mean(polarization_variants(P) == 0))

    assert plus_x_fraction(start) == pytest.approx(0.5, abs=0.02)
    unbiased = model.relax(start, 400, DEFAULT_DT)
    assert plus_x_fraction(unbiased) == pytest.approx(0.5, abs=0.02)
    fractions = []
    P = start
    for _ in range(4):
        P = model.relax(P, 100, DEFAULT_DT, E=(0.01, 0.0))
        fractions.append(plus_x_fraction(P))
    assert all(b >= a for a, b in zip(fractions, fractions[1:]))
    assert fractions[-1] > 0.56
    against = model.relax(start, 400, DEFAULT_DT, E=(-0.01, 0.0))
    assert plus_x_fraction(against) < 0.44
    # A field well above the wall-motion threshold switches the whole cell.
    switched = model.relax(start, 400, DEFAULT_DT, E=(0.1, 0.0))
    assert np.all(switched[..., 0] > 0.95)
