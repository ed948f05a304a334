"""The Gymnasium contract, for every registered stemtwin environment (after Gymnasium's tests/envs/test_envs.py)."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env

from stemtwin.envs import ENV_IDS

#: A misspelt argument for each environment, and the suggestion expected.
TYPOS = {
    "stemtwin/EELSExplore-v0": ("gird", "grid"),
    "stemtwin/DiffractionExplore-v0": ("scalariser", "scalarizer"),
    "stemtwin/BeamDynamics-v0": ("pixles", "pixels"),
}
#: Settings under which a random agent must finish its episode, and the number of steps that takes at most.
BUDGETS = {
    "stemtwin/EELSExplore-v0": ({"budget": 5}, 5),
    "stemtwin/DiffractionExplore-v0": ({"budget": 5}, 5),
    # 16² pixels at ≤ 32 µs and 30 pA deliver ≤ 1.6e6 e⁻ per frame; the reset frame counts.
    "stemtwin/BeamDynamics-v0": ({"dose_budget": 3e6}, 50),
}
#: Actions outside each action space, and a fragment of the message.
BAD_ACTIONS = {
    "stemtwin/EELSExplore-v0": ([64, -1, 2.5, "3"], "0..63"),
    "stemtwin/DiffractionExplore-v0": ([64, -1, np.int64(100)], "0..63"),
    "stemtwin/BeamDynamics-v0": ([np.array([1.5, 0, 0]), np.array([0, 0, np.nan]), np.zeros(2)], "Box(-1, 1, (3,))"),
}


def _flat(obs):
    return {k: obs[k] for k in sorted(obs)} if isinstance(obs, dict) else {"obs": obs}


def _numeric(info: dict) -> dict:
    return {k: v for k, v in info.items() if isinstance(v, (int, float, tuple, np.integer, np.floating))}


def _rollout(env: gym.Env, seed: int, steps: int) -> tuple[list, list, list]:
    obs, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    observations, rewards, infos = [_flat(obs)], [], [_numeric(info)]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        observations.append(_flat(obs))
        rewards.append((reward, terminated, truncated))
        infos.append(_numeric(info))
        if terminated or truncated:
            obs, info = env.reset()
            observations.append(_flat(obs))
    return observations, rewards, infos


def test_every_registered_stemtwin_id_is_tested(small_kwargs) -> None:
    registered = sorted(env_id for env_id in gym.registry if env_id.startswith("stemtwin/"))
    assert registered == sorted(ENV_IDS) == sorted(small_kwargs) == sorted(TYPOS) == sorted(BUDGETS)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes_with_warnings_as_errors(env_id: str, make_small) -> None:
    env = make_small(env_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    env.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_rollouts_are_identical(env_id: str, make_small) -> None:
    a = _rollout(make_small(env_id), seed=42, steps=50)
    b = _rollout(make_small(env_id), seed=42, steps=50)
    assert len(a[0]) == len(b[0])
    for obs_a, obs_b in zip(a[0], b[0], strict=True):
        assert obs_a.keys() == obs_b.keys()
        for key in obs_a:
            assert obs_a[key].dtype == np.float32
            assert obs_a[key].tobytes() == obs_b[key].tobytes(), key
    assert a[1] == b[1]
    assert a[2] == b[2]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_different_seeds_differ(env_id: str, make_small) -> None:
    a = _rollout(make_small(env_id), seed=1, steps=3)
    b = _rollout(make_small(env_id), seed=2, steps=3)
    first = next(iter(a[0][0]))
    assert a[0][0][first].tobytes() != b[0][0][first].tobytes()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickle_round_trip_continues_the_episode(env_id: str, make_small) -> None:
    env = make_small(env_id)
    pickle.loads(pickle.dumps(env))  # before reset
    env.reset(seed=7)
    env.action_space.seed(7)
    for _ in range(3):
        env.step(env.action_space.sample())
    copy = pickle.loads(pickle.dumps(env))
    action = env.action_space.sample()
    obs_a, reward_a, term_a, trunc_a, info_a = env.step(action)
    obs_b, reward_b, term_b, trunc_b, info_b = copy.step(action)
    for key, value in _flat(obs_a).items():
        assert value.tobytes() == _flat(obs_b)[key].tobytes()
    assert (reward_a, term_a, trunc_a) == (reward_b, term_b, trunc_b)
    assert _numeric(info_a) == _numeric(info_b)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_sync_vector_env_runs(env_id: str, small_kwargs) -> None:
    kwargs = small_kwargs[env_id]
    envs = gym.vector.SyncVectorEnv([lambda: gym.make(env_id, **kwargs) for _ in range(2)])
    envs.reset(seed=[0, 1])
    envs.action_space.seed(0)
    for _ in range(20):
        obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
        assert obs in envs.observation_space
        assert rewards.shape == (2,)
    envs.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_async_vector_env_runs(env_id: str, small_kwargs) -> None:
    kwargs = small_kwargs[env_id]
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make(env_id, **kwargs) for _ in range(2)])
    try:
        envs.reset(seed=[0, 1])
        envs.action_space.seed(0)
        for _ in range(20):
            obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
            assert obs in envs.observation_space
    finally:
        envs.close()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_random_agent_finishes_an_episode_within_budget(env_id: str, make_small) -> None:
    overrides, max_steps = BUDGETS[env_id]
    env = make_small(env_id, **overrides)
    env.reset(seed=3)
    env.action_space.seed(3)
    for steps in range(1, max_steps + 1):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        if terminated or truncated:
            break
    assert terminated and not truncated
    if "budget" in overrides:
        assert steps == overrides["budget"] == info["measurements"]
    else:
        assert info["cumulative_dose"] >= overrides["dose_budget"]


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_action_outside_the_space_raises_value_error(env_id: str, make_small) -> None:
    env = make_small(env_id)
    env.reset(seed=0)
    actions, fragment = BAD_ACTIONS[env_id]
    for action in actions:
        with pytest.raises(ValueError) as excinfo:
            env.step(action)
        assert fragment in str(excinfo.value)
    env.step(env.action_space.sample())  # the episode goes on after a rejected action


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_step_before_reset_raises_reset_needed(env_id: str, small_kwargs) -> None:
    with pytest.raises(ResetNeeded):  # through the wrappers (OrderEnforcing)
        gym.make(env_id, **small_kwargs[env_id]).step(0)
    env = gym.make(env_id, **small_kwargs[env_id]).unwrapped
    with pytest.raises(ResetNeeded):
        env.step(env.action_space.sample())


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_unknown_argument_suggests_the_right_one(env_id: str) -> None:
    typo, meant = TYPOS[env_id]
    with pytest.raises(TypeError, match=rf"Unknown argument '{typo}'.*Did you mean '{meant}'\?.*Valid arguments: \["):
        gym.make(env_id, **{typo: 1})
    with pytest.raises(ValueError, match="Did you mean"):
        gym.make(env_id, **{typo: 1})


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_unknown_sample_suggests_the_right_one(env_id: str) -> None:
    with pytest.raises(ValueError, match=r"Unknown sample 'graphen'\. Did you mean 'graphene'\? Available: \["):
        gym.make(env_id, sample="graphen")
    with pytest.raises(ValueError, match=r"Did you mean 'n_si_3fold'"):
        gym.make(env_id, sample_params={"n_si_3fld": 1})


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_render_returns_an_rgb_array(env_id: str, make_small) -> None:
    env = make_small(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.shape[0] >= 64 and frame.std() > 0
    assert env.metadata["render_modes"] == ["rgb_array"] and env.metadata["render_fps"] > 0


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_docstring_has_gymnasium_sections(env_id: str) -> None:
    doc = gym.spec(env_id).make().unwrapped.__doc__
    for section in ("Description", "Action Space", "Observation Space", "Rewards", "Starting State",
                    "Episode End", "Arguments", "Version History"):
        assert f"\n    {section}\n    {'-' * len(section)}" in doc, section


def test_make_by_module_qualified_id_in_a_fresh_process(small_graphene_params) -> None:
    """Gymnasium ≥ 1.0 imports the registering module named in the id; no explicit import needed."""
    code = (
        "import sys, gymnasium as gym\n"
        "assert 'stemtwin.envs' not in sys.modules\n"
        f"env = gym.make('stemtwin.envs:stemtwin/EELSExplore-v0', grid=4, image_pixels=8, sample_params={small_graphene_params!r})\n"
        "obs, info = env.reset(seed=0)\n"
        "obs, reward, terminated, truncated, info = env.step(0)\n"
        "assert 'stemtwin.envs' in sys.modules and info['measurements'] == 1\n"
        "env = gym.make('stemtwin/DiffractionExplore-v0', grid=4, image_pixels=8)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
