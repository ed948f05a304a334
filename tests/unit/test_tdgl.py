"""The TDGL solver: parameters and units, energy bookkeeping, the step, initial states and domain labels."""

import numpy as np
import pytest

from stemtwin.twin import ConfigurationError, UnknownNameError
from stemtwin.twin.samples.tdgl import (
    DEFAULT_DT,
    VARIANTS,
    LandauGinzburg2D,
    LGDParameters,
    domain_labels,
    domain_walls,
    polarization_variants,
    wall_pair_counts,
)


@pytest.fixture(scope="module")
def model() -> LandauGinzburg2D:
    return LandauGinzburg2D(LGDParameters(), (32, 24))


# -- parameters and reduced units -----------------------------------------------------------------
def test_pbtio3_defaults_and_reduced_units() -> None:
    p = LGDParameters()
    assert p.alpha1 == pytest.approx(3.8e5 * (25 - 479))
    assert p.Ps == pytest.approx(0.7570, abs=5e-4)
    a1, a11, a12, a111, a112 = p.reduced_coefficients
    assert a1 == -1.0
    # ∂f̃/∂P̃ = 0 at P̃ = 1 along x: the reduced units put the minimum at 1.
    assert 2 * a1 + 4 * a11 + 6 * a111 == pytest.approx(0.0, abs=1e-12)
    assert a12 == pytest.approx(7.5e8 * p.Ps**2 / abs(p.alpha1))
    assert a112 == pytest.approx(6.1e8 * p.Ps**4 / abs(p.alpha1))
    # ξ = w √(−f̃min/2), G = ξ²|α1|: 0.611 nm and 6.4e-11 C⁻²m⁴N for a 1 nm wall.
    assert p.xi == pytest.approx(0.6114, abs=1e-3)
    assert p.gradient_coefficient == pytest.approx(6.45e-11, rel=1e-2)
    assert p.field_scale == pytest.approx(abs(p.alpha1) * p.Ps)
    assert p.energy_density_scale == pytest.approx(abs(p.alpha1) * p.Ps**2)
    assert p.reduced_grid_spacing == pytest.approx(0.390 / p.xi)
    assert p.time_scale(1.0) == pytest.approx(1 / abs(p.alpha1))


def test_model_unit_conversions(model: LandauGinzburg2D) -> None:
    P = model.uniform_state("+y", 0.5)
    assert np.allclose(model.to_physical(P)[..., 1], 0.5 * model.Ps)
    assert np.allclose(model.from_physical(model.to_physical(P)), P)
    assert model.reduce_field((model.params.field_scale, 0.0)) == pytest.approx([1.0, 0.0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": 479.0}, "Curie"),
        ({"temperature": 600.0}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"wall_width": 0.0}, "wall_width"),
        ({"wall_width": -1.0}, r"wall_width.*\[nm\]"),
        ({"grid_spacing": 0.0}, "grid_spacing"),
        ({"alpha111": 0.0}, "alpha111"),
        ({"alpha1_slope": -1.0}, "alpha1_slope"),
    ],
)
def test_bad_parameters_are_rejected(kwargs, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        LGDParameters(**kwargs)


def test_bad_model_inputs_are_rejected(model: LandauGinzburg2D) -> None:
    with pytest.raises(ConfigurationError, match="shape"):
        LandauGinzburg2D(None, (0, 8))
    with pytest.raises(ConfigurationError, match="params"):
        LandauGinzburg2D({"temperature": 25}, (8, 8))
    with pytest.raises(ConfigurationError, match=r"\(32, 24, 2\)"):
        model.step(np.zeros((24, 32, 2)))
    with pytest.raises(ConfigurationError, match="`E`"):
        model.step(model.uniform_state(), E=np.zeros((3,)))
    with pytest.raises(ConfigurationError, match="dt"):
        model.step(model.uniform_state(), dt=0.0)
    with pytest.raises(ConfigurationError, match="steps"):
        model.relax(model.uniform_state(), -1)
    with pytest.raises(UnknownNameError, match=r"direction '\+X'.*Available"):
        model.uniform_state("+X")
    with pytest.raises(ConfigurationError, match="direction"):
        model.uniform_state((0.0, 0.0))
    with pytest.raises(ConfigurationError, match="n_domains"):
        model.stripe_state(3)


# -- energy bookkeeping ---------------------------------------------------------------------------
def test_energy_density_sums_to_the_free_energy(model: LandauGinzburg2D) -> None:
    P = model.random_state(3, 0.5)
    E = model.random_state(4, 0.2)
    density = model.free_energy_density(P, E)
    assert density.shape == model.shape
    assert density.sum() * model.area == pytest.approx(model.free_energy(P, E), rel=1e-12)
    # Uniform ⟨10⟩ state at Ps: no gradient energy, f̃ = f̃min everywhere.
    uniform = model.uniform_state("-x")
    assert np.allclose(model.free_energy_density(uniform), model.params.reduced_minimum_energy)


def test_variational_derivative_is_the_gradient_of_the_free_energy(model: LandauGinzburg2D) -> None:
    P = model.random_state(5, 0.6)
    E = (0.1, -0.2)
    analytic = model.variational_derivative(P, E) * model.area
    eps = 1e-6
    for index in [(0, 0, 0), (7, 3, 1), (31, 23, 0), (15, 11, 1)]:
        plus, minus = P.copy(), P.copy()
        plus[index] += eps
        minus[index] -= eps
        numeric = (model.free_energy(plus, E) - model.free_energy(minus, E)) / (2 * eps)
        assert analytic[index] == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_field_enters_as_minus_e_dot_p(model: LandauGinzburg2D) -> None:
    P = model.random_state(6, 0.5)
    E = model.random_state(7, 0.3)
    difference = model.free_energy(P, E) - model.free_energy(P)
    assert difference == pytest.approx(-(E * P).sum() * model.area, rel=1e-10)
    # A constant pair acts as the same field everywhere.
    constant = np.broadcast_to(np.array([0.2, -0.1]), (*model.shape, 2))
    assert model.free_energy(P, (0.2, -0.1)) == pytest.approx(model.free_energy(P, constant), rel=1e-12)
    assert np.allclose(model.step(P, 0.05, (0.2, -0.1)), model.step(P, 0.05, constant), atol=1e-14)


# -- the step --------------------------------------------------------------------------------------
def test_step_matches_the_semi_implicit_update(model: LandauGinzburg2D) -> None:
    """(1 − dt∇²)Pⁿ⁺¹ = Pⁿ − dt(∂f_local/∂P − E): check the residual with the five-point Laplacian."""
    P = model.random_state(8, 0.4)
    dt, E = 0.07, (0.05, 0.0)
    new = model.step(P, dt, E)
    local = model.variational_derivative(P, E) + model.laplacian(P)  # ∂f_local/∂P − E
    residual = new - dt * model.laplacian(new) - (P - dt * local)
    assert np.abs(residual).max() < 1e-12
    assert not np.shares_memory(new, P)


def test_stable_dt_is_documented_value(model: LandauGinzburg2D) -> None:
    assert model.stable_dt == pytest.approx(0.101, abs=2e-3)
    assert DEFAULT_DT <= model.stable_dt


def test_relax_calls_back_and_stops_early(model: LandauGinzburg2D) -> None:
    seen: list[int] = []

    def callback(i: int, P: np.ndarray) -> bool:
        seen.append(i)
        assert P.shape == (*model.shape, 2)
        return i == 5

    start = model.random_state(9)
    out = model.relax(start, 50, callback=callback)
    assert seen == [1, 2, 3, 4, 5]
    assert np.allclose(out, model.relax(start, 5))
    assert np.array_equal(model.relax(start, 0), start)


def test_random_state_is_reproducible(model: LandauGinzburg2D) -> None:
    a, b, c = model.random_state(1, 0.1), model.random_state(1, 0.1), model.random_state(2, 0.1)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.std() == pytest.approx(0.1, rel=0.05)


def test_stripe_state_has_site_centred_walls() -> None:
    model = LandauGinzburg2D(None, (4, 12))
    P = model.stripe_state(2, "x")
    assert np.array_equal(P[0, :, 0], [0, 1, 1, 1, 1, 1, 0, -1, -1, -1, -1, -1])
    assert np.all(P[..., 1] == 0)
    Q = LandauGinzburg2D(None, (12, 4)).stripe_state(4, "y")
    assert np.array_equal(Q[:, 0, 1], [0, 1, 1, 0, -1, -1, 0, 1, 1, 0, -1, -1])


# -- domain analysis -------------------------------------------------------------------------------
def test_variants_follow_the_dominant_component() -> None:
    P = np.array([[[0.9, 0.1], [-0.9, 0.3], [0.2, 0.8], [0.3, -0.7]]])
    assert polarization_variants(P).tolist() == [[0, 1, 2, 3]]
    assert VARIANTS == ("+x", "-x", "+y", "-y")


def test_domain_labels_of_stripes_and_the_periodic_merge() -> None:
    model = LandauGinzburg2D(None, (6, 16))
    P = model.stripe_state(2, "x")
    P[..., 0] += 1e-3  # the wall cells (y = 0 and 8) join the +x domain: +x has 9 cells, -x 7
    P = np.roll(P, 5, axis=1)  # the -x stripe now crosses the periodic boundary in y
    domain_id, distance = domain_labels(P)
    assert domain_id.shape == distance.shape == (6, 16)
    assert domain_id.max() == 1  # two domains, although -x is split by the boundary
    for d in (0, 1):
        assert len(np.unique(np.sign(P[..., 0][domain_id == d]))) == 1
    # Distances across y: 0.5 next to the wall, growing by 1 per cell, the same in every row.
    profile = distance[0]
    assert np.allclose(distance, profile[None, :])
    assert profile.min() == 0.5
    plus = [0.5, 1.5, 2.5, 3.5, 4.5, 3.5, 2.5, 1.5, 0.5]
    minus = [0.5, 1.5, 2.5, 3.5, 2.5, 1.5, 0.5]
    assert np.allclose(profile, minus[2:] + plus + minus[:2])


def test_single_domain_has_infinite_wall_distance() -> None:
    P = LandauGinzburg2D(None, (8, 8)).uniform_state("+y")
    domain_id, distance = domain_labels(P)
    assert np.all(domain_id == 0) and np.all(np.isinf(distance))
    assert wall_pair_counts(P) == {90: 0, 180: 0}
    assert domain_walls(P) == {}


def test_wall_counts_distinguish_90_and_180_degree_walls() -> None:
    P = np.zeros((8, 8, 2))
    P[:, :4, 0] = 1.0  # +x on the left half in y
    P[:4, 4:, 0] = -1.0  # -x top right: 180° to +x
    P[4:, 4:, 1] = 1.0  # +y bottom right: 90° to both
    counts = wall_pair_counts(P)
    # +x|-x across y = 4 (inner) + 4 (periodic) bonds; +x|+y likewise 8; -x|+y: 8 + 8 bonds across x.
    assert counts == {180: 8, 90: 16}
    walls = domain_walls(P)
    assert sorted(walls.values()) == [(90, 8), (90, 8), (180, 8)]
