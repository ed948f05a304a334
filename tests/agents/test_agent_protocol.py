"""The agent protocol, the registry, the compatibility check, the episode loop and the simple baselines."""

from __future__ import annotations

import sys
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from stemtwin.agents import (
    AGENTS,
    Agent,
    AgentError,
    IncompatibleEnvError,
    OracleAgent,
    RandomAgent,
    RasterAgent,
    check_compatible,
    cut_patches,
    describe_agents,
    make_agent,
    register_agent,
    run_episode,
    task_kind,
)
from stemtwin.agents.baselines import nearest_neighbour_map, raster_order


#: A 12 Å graphene cell with one 3-fold and one 4-fold Si (as in tests/envs).
SMALL_GRAPHENE = {"extent": (12.0, 12.0), "n_si_3fold": 1, "n_si_4fold": 1, "n_monovacancies": 0, "n_divacancies": 0}


class FakeDynamicsEnv(gym.Env):
    """The spaces of ``BeamDynamics-v0``: an image observation and a Box(-1, 1, (3,)) action."""

    def __init__(self) -> None:
        self.observation_space = spaces.Box(np.float32(0.0), np.float32(1.0), (16, 16), np.float32)
        self.action_space = spaces.Box(np.float32(-1.0), np.float32(1.0), (3,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        return np.zeros((16, 16), dtype=np.float32), {}

    def step(self, action: Any):
        return np.zeros((16, 16), dtype=np.float32), 0.0, True, False, {}


class FakeDiscoveryAgent(Agent):
    """Stands in for the rVAE discovery agent: handles Dynamics tasks only."""

    name = "fake_discovery"
    tasks = ("dynamics",)

    def reset(self, observation: Any, info: Any) -> None:
        self.frames = 0

    def act(self, observation: Any) -> np.ndarray:
        return np.zeros(3, dtype=np.float32)

    def observe(self, observation: Any, reward: float, info: Any) -> None:
        self.frames += 1

    def report(self) -> dict[str, Any]:
        return {"frames": self.frames}


def test_import_does_not_load_torch() -> None:
    import subprocess

    code = "import sys, stemtwin.agents; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_registry_lists_the_agents() -> None:
    for name in ("dkl_bo", "random", "raster", "gp_xy", "gp_patches", "oracle", "rvae_explorer"):
        assert name in AGENTS and "explore" in AGENTS[name].tasks
        assert name in describe_agents()
    assert AGENTS["rvae_discovery"].tasks == ("dynamics",)


def test_unknown_agent_gets_did_you_mean() -> None:
    with pytest.raises(AgentError, match=r"Unknown agent 'dkl-bo'\. Did you mean 'dkl_bo'\?"):
        make_agent("dkl-bo")
    with pytest.raises(AgentError, match="Did you mean 'raster'"):
        make_agent("rastr")


def test_register_agent_checks_names() -> None:
    with pytest.raises(AgentError, match="already registered"):
        register_agent("random", RandomAgent, "again", ["explore"])
    with pytest.raises(AgentError, match="Unknown task kind 'explor'"):
        register_agent("new_agent", RandomAgent, "typo", ["explor"])


def test_task_kind_from_spaces_and_ids(toy_env_class: Any) -> None:
    assert task_kind(toy_env_class()) == "explore"
    assert task_kind(FakeDynamicsEnv()) == "dynamics"


def test_incompatible_pair_is_refused_naming_both(toy_env_class: Any) -> None:
    with pytest.raises(IncompatibleEnvError, match=r"Agent 'fake_discovery' cannot run on env 'ToyExploreEnv'.*'explore'"):
        run_episode(toy_env_class(), FakeDiscoveryAgent())
    with pytest.raises(IncompatibleEnvError, match=r"Agent 'random' cannot run on env 'FakeDynamicsEnv'.*'dynamics'"):
        check_compatible(RandomAgent(seed=0), FakeDynamicsEnv())
    with pytest.raises(IncompatibleEnvError, match=r"Agent 'dkl_bo' cannot run on env 'FakeDynamicsEnv'"):
        check_compatible("dkl_bo", FakeDynamicsEnv())
    # The example: the rVAE discovery agent on an Explore env (checked from the registry entry).
    with pytest.raises(IncompatibleEnvError, match=r"Agent 'rvae_discovery' cannot run on env 'ToyExploreEnv'"):
        check_compatible("rvae_discovery", toy_env_class())
    # The compatible pair runs.
    result = run_episode(FakeDynamicsEnv(), FakeDiscoveryAgent(), seed=0)
    assert result["steps"] == 1 and result["report"] == {"frames": 1}


def test_registered_env_ids_give_the_task_kind() -> None:
    import stemtwin.envs as envs

    explore = gym.make("stemtwin/EELSExplore-v0", grid=8, image_pixels=16, sample_params=SMALL_GRAPHENE)
    assert task_kind(explore) == "explore"
    with pytest.raises(IncompatibleEnvError, match=r"'fake_discovery' cannot run on env 'stemtwin/EELSExplore-v0'"):
        check_compatible(FakeDiscoveryAgent(), explore)
    assert "stemtwin/BeamDynamics-v0" in envs.ENV_IDS


def test_run_episode_records_the_episode(toy_env_class: Any) -> None:
    env = toy_env_class(grid=8, budget=10)
    result = run_episode(env, RandomAgent(seed=1), seed=0)
    assert result["steps"] == 10 and result["terminated"] and not result["truncated"]
    assert len(set(result["actions"])) == 10  # no revisits
    assert result["rewards"].shape == (10,)
    assert result["dose"] == pytest.approx(1e5) and result["time"] == pytest.approx(1.0)
    assert result["report"]["visited"].tolist() == result["actions"]
    assert result["report"]["mean"].shape == (64,)
    assert run_episode(env, RandomAgent(seed=1), seed=0, max_steps=3)["steps"] == 3


def test_seeded_agents_repeat_their_actions(toy_env_class: Any) -> None:
    env = toy_env_class(grid=8, budget=12)
    a = run_episode(env, RandomAgent(seed=5), seed=0)["actions"]
    b = run_episode(env, RandomAgent(seed=5), seed=0)["actions"]
    c = run_episode(env, RandomAgent(seed=6), seed=0)["actions"]
    assert a == b and a != c


def test_nan_reward_is_rejected_naming_the_step(toy_env_class: Any) -> None:
    env = toy_env_class(grid=8)
    obs, info = env.reset(seed=0)
    agent = RandomAgent(seed=0)
    agent.reset(obs, info)
    for step in (1, 2):
        obs, reward, *_, info = env.step(agent.act(obs))
        agent.observe(obs, reward, info)
    agent.act(obs)
    with pytest.raises(AgentError, match=r"Reward at step 3 is nan"):
        agent.observe(obs, float("nan"), {})
    with pytest.raises(AgentError, match=r"Reward at step 3 is inf"):
        agent.observe(obs, np.inf, {})


def test_observe_before_act_is_an_error(toy_env_class: Any) -> None:
    env = toy_env_class(grid=8)
    obs, info = env.reset(seed=0)
    agent = RandomAgent(seed=0)
    with pytest.raises(AgentError, match="reset"):
        agent.act(obs)
    agent.reset(obs, info)
    with pytest.raises(AgentError, match="without a preceding act"):
        agent.observe(obs, 1.0, {})


def test_cut_patches_follow_the_env_mapping() -> None:
    image = np.arange(64, dtype=np.float32).reshape(8, 8)
    patches = cut_patches(image, grid=4, size=3)  # P/G = 2: candidate (i, j) at pixel (2i + 1, 2j + 1)
    assert patches.shape == (16, 3, 3)
    np.testing.assert_array_equal(patches[0], image[0:3, 0:3])
    np.testing.assert_array_equal(patches[1 * 4 + 2], image[2:5, 4:7])
    np.testing.assert_array_equal(patches[15][:, 2], image[[6, 7, 0], 0])  # wraps around


def test_cut_patches_match_the_explore_env() -> None:
    import stemtwin.envs  # noqa: F401 - registers the ids

    env = gym.make("stemtwin/EELSExplore-v0", grid=8, image_pixels=24, sample_params=SMALL_GRAPHENE)
    obs, _ = env.reset(seed=0)
    for size in (5, 8):
        np.testing.assert_array_equal(cut_patches(obs["image"], 8, size), env.unwrapped.candidate_patches(size))


def test_raster_order_is_a_spread_permutation() -> None:
    order = raster_order(8)
    assert sorted(order.tolist()) == list(range(64))
    first = {divmod(int(a), 8) for a in order[:4]}
    assert first == {(4, 4), (4, 0), (0, 4), (0, 0)} or len(first) == 4
    strided = raster_order(9, stride=3)
    assert [divmod(int(a), 9) for a in strided[:9]] == [(i, j) for i in (1, 4, 7) for j in (1, 4, 7)]


def test_raster_agent_covers_a_lattice_within_its_budget(toy_env_class: Any) -> None:
    env = toy_env_class(grid=9, budget=9)
    result = run_episode(env, RasterAgent(budget=9), seed=0)
    assert sorted(divmod(int(a), 9) for a in result["actions"]) == [(i, j) for i in (1, 4, 7) for j in (1, 4, 7)]


def test_oracle_reads_the_true_map_it_is_given(toy_env_class: Any) -> None:
    env = toy_env_class(grid=8, budget=5)
    obs, info = env.reset(seed=0)
    truth = env.true_map()
    agent = OracleAgent(true_map=truth)
    result = run_episode(env, agent, seed=0)
    assert result["actions"] == np.argsort(-truth.reshape(-1), kind="stable")[:5].tolist()
    np.testing.assert_array_equal(result["report"]["mean"], truth.reshape(-1))
    # A callable is evaluated at reset, after the env's reset; info["true_map"] works too.
    assert run_episode(env, OracleAgent(true_map=env.true_map), seed=0)["actions"] == result["actions"]
    with pytest.raises(AgentError, match="needs the true map"):
        run_episode(env, OracleAgent(), seed=0)
    bad = OracleAgent(true_map=np.zeros(10))
    with pytest.raises(AgentError, match="10 values"):
        run_episode(env, bad, seed=0)


def test_nearest_neighbour_map() -> None:
    m = nearest_neighbour_map(3, [0, 8, 0], [1.0, 5.0, 3.0])
    assert m.reshape(3, 3)[0, 0] == 2.0 and m.reshape(3, 3)[2, 2] == 5.0 and m.reshape(3, 3)[0, 1] == 2.0
    assert np.isnan(nearest_neighbour_map(2, [], [])).all()
