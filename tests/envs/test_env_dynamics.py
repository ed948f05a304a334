"""BeamDynamics: the action mapping, the frame and its ground truth."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

ENV_ID = "stemtwin/BeamDynamics-v0"


def test_action_maps_to_field_of_view_and_dwell(make_small) -> None:
    env = make_small(ENV_ID, dwell_range=(1e-6, 100e-6))
    env.reset(seed=0)
    core = env.unwrapped
    lx, ly = core._extent
    origin, dwell = core.action_to_settings([-1.0, -1.0, -1.0])
    assert origin == pytest.approx((0.0, 0.0)) and dwell == pytest.approx(1e-6)
    origin, dwell = core.action_to_settings([1.0, 1.0, 1.0])
    assert origin == pytest.approx((lx - 8.0, ly - 8.0)) and dwell == pytest.approx(100e-6)
    origin, dwell = core.action_to_settings([0.0, 0.0, 0.0])
    assert origin == pytest.approx(((lx - 8.0) / 2, (ly - 8.0) / 2)) and dwell == pytest.approx(10e-6)
    obs, reward, _, _, info = env.step(np.array([1.0, -1.0, 0.0], dtype=np.float32))
    assert info["fov_origin"] == pytest.approx((lx - 8.0, 0.0)) and info["dwell_time"] == pytest.approx(10e-6)
    assert obs.shape == (16, 16) and obs.dtype == np.float32 and reward == 0.0
    assert core.frame.origin == pytest.approx((lx - 8.0, 0.0))


def test_frame_truth_lists_the_atoms_in_view(make_small) -> None:
    env = make_small(ENV_ID, scan_noise="none", dynamics=False)
    env.reset(seed=0)
    env.step(np.array([0.3, -0.2, 0.0], dtype=np.float32))
    truth = env.unwrapped.frame_truth()
    x0, y0 = truth["fov_origin"]
    assert len(truth["positions"]) > 10
    assert np.all((truth["positions"] >= [x0, y0]) & (truth["positions"] < [x0 + 8.0, y0 + 8.0]))
    assert np.all((truth["pixel_positions"] >= 0) & (truth["pixel_positions"] < 16))
    assert set(truth["elements"]) <= {"C", "Si"}
    names = truth["site_class_names"]
    assert np.all(truth["rotation"] >= 0) and np.all(truth["rotation"] < 2 * np.pi / truth["symmetry"])
    pristine = truth["site_class"] == names.index("C_pristine")
    # The two graphene sublattices: nearest-neighbour directions at 90° and 30° modulo 120°.
    assert np.all(
        np.isclose(truth["rotation"][pristine], np.pi / 2, atol=1e-6) | np.isclose(truth["rotation"][pristine], np.pi / 6, atol=1e-6)
    )
    assert len(truth["frame_events"]) == 0


@pytest.mark.parametrize(
    "family, params",
    [
        ("mos2-res2", {"extent": (12.6, 16.4), "n_s_vacancies": 1, "sweeps": 5}),
        ("ferroelectric", {"extent": (16.0, 16.0), "relax_steps": 20}),
    ],
)
def test_other_families_run_with_dynamics(family: str, params: dict) -> None:
    env = gym.make(ENV_ID, sample=family, sample_params=params, pixels=16, fov=8.0)
    obs, info = env.reset(seed=0)
    assert obs in env.observation_space
    for _ in range(3):
        obs, _, _, _, info = env.step(env.action_space.sample())
    assert obs in env.observation_space and info["events"] >= 0
    truth = env.unwrapped.frame_truth()
    order = 3 if family == "mos2-res2" else 4
    assert np.all(truth["symmetry"] == order) and np.all(truth["rotation"] < 2 * np.pi / order)


def test_field_of_view_must_fit_in_the_cell() -> None:
    with pytest.raises(ValueError, match=r"`fov` must fit in the .* cell"):
        gym.make(ENV_ID, fov=100.0)
    with pytest.raises(ValueError, match=r"`dwell_range` must have low <= high"):
        gym.make(ENV_ID, dwell_range=(1e-5, 1e-6))
