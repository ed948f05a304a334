"""The rVAE discovery agent: classes, rotations and transitions on frame series (fixed seeds).

A synthetic series (made here) has two kinds of fragments — a bright centre with three dim ligands
at 120° ("3-fold") or four at 90° ("4-fold"), at random rotations — on a jittered grid, with a few
fragments switching kind between frames, a drifting field of view and Poisson noise at a dose like
``stemtwin/BeamDynamics-v0``'s default (a few counts per atom). The slow test runs the real env.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from stemtwin.agents import metrics
from stemtwin.agents.atom_finding import match_positions
from stemtwin.agents.base import AgentError, IncompatibleEnvError, run_episode
from stemtwin.agents.discovery import RVAEDiscoveryAgent, register_frames
from stemtwin.scenarios.scoring import match_to_truth


def fragment_series(
    n_frames: int = 6,
    n_side: int = 4,
    size: int = 128,
    spacing: int = 32,
    ligand_r: float = 10.0,
    peak: float = 10.0,
    ligand_amp: float = 0.45,
    sigma: float = 2.5,
    n_switch: int = 2,
    rng: int = 0,
) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
    """Frames (min–max normalised, float32, like the env's observations) and their truth.

    Centre atoms peak at ``peak`` counts, ligands at ``ligand_amp·peak``, on a background of 0.3 counts.
    Each frame, ``n_switch`` fragments change kind (3-fold ↔ 4-fold) and rotation, and the field of view
    drifts by up to 2 pixels per axis.
    """
    gen = np.random.default_rng(rng)
    n = n_side * n_side
    kinds = gen.permutation(np.arange(n) % 2)  # 0: 3-fold, 1: 4-fold
    angles = gen.uniform(0.0, 2 * np.pi, n)
    base = np.stack(np.meshgrid(np.arange(n_side), np.arange(n_side), indexing="ij"), -1).reshape(-1, 2) * spacing + spacing / 2
    base = base + gen.uniform(-3.0, 3.0, base.shape)
    x, y = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    frames, truths = [], []
    shift = np.zeros(2)
    for t in range(n_frames):
        switched = np.zeros(n, bool)
        if t > 0:
            sw = gen.choice(n, n_switch, replace=False)
            kinds[sw] = 1 - kinds[sw]
            angles[sw] = gen.uniform(0.0, 2 * np.pi, n_switch)
            switched[sw] = True
            shift = shift + gen.uniform(-2.0, 2.0, 2)
        img = np.zeros((size, size))
        centres = base + shift
        for c, k, a in zip(centres, kinds, angles, strict=True):
            img += np.exp(-((x - c[0]) ** 2 + (y - c[1]) ** 2) / (2 * sigma**2))
            m = 3 if k == 0 else 4
            for j in range(m):
                lx, ly = c + ligand_r * np.array([np.cos(a + 2 * np.pi * j / m), np.sin(a + 2 * np.pi * j / m)])
                img += ligand_amp * np.exp(-((x - lx) ** 2 + (y - ly) ** 2) / (2 * sigma**2))
        counts = gen.poisson(peak * img + 0.3).astype(np.float64)
        frames.append(((counts - counts.min()) / (counts.max() - counts.min())).astype(np.float32))
        truths.append({"centres": centres.copy(), "kinds": kinds.copy(), "switched": switched})
    return frames, truths


def drive(agent: RVAEDiscoveryAgent, frames: list[np.ndarray]) -> dict[str, Any]:
    """Feed a fixed frame series through the protocol (the series ignores the actions)."""
    agent.reset(frames[0], {"fov_origin": (0.0, 0.0)})
    for frame in frames[1:]:
        action = agent.act(frame)
        assert action.shape == (3,) and action.dtype == np.float32 and np.all(np.abs(action) <= 1.0)
        agent.observe(frame, 0.0, {"fov_origin": (0.0, 0.0)})
    return agent.report()


@pytest.fixture(scope="module")
def synthetic_run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    frames, truths = fragment_series(rng=0)
    # fragment centres sit 13–19 px from the frame edge; their ligands are 10 px out, so a margin of 8 keeps them
    agent = RVAEDiscoveryAgent(seed=0, initial_steps=100, steps_per_frame=15, margin=8, num_threads=1)
    return drive(agent, frames), truths


def test_discovery_classes_reach_ari_on_synthetic_series(synthetic_run) -> None:
    report, truths = synthetic_run
    true, pred = [], []
    for t, truth in enumerate(truths):
        it, ip, _ = match_positions(truth["centres"], report["positions"][t], 3.0)
        assert len(it) >= 0.9 * len(truth["centres"]), f"frame {t}: only {len(it)} fragment centres found"
        true.append(truth["kinds"][it])
        pred.append(report["classes"][t][ip])
    ari = metrics.adjusted_rand(np.concatenate(true), np.concatenate(pred))
    assert ari >= 0.7, f"ARI {ari:.3f} of the fragment classes"


def test_discovery_sees_the_switches(synthetic_run) -> None:
    """Tracked fragment centres that switched kind show up as off-diagonal transition counts."""
    report, truths = synthetic_run
    seen = 0
    switched = 0
    for t in range(1, len(truths)):
        pairs = report["tracks"][t]
        it, ip, _ = match_positions(truths[t]["centres"], report["positions"][t], 3.0)
        centre_of = dict(zip(ip.tolist(), it.tolist(), strict=True))
        for a, b in pairs:
            if b in centre_of and truths[t]["switched"][centre_of[b]]:
                switched += 1
                seen += int(report["classes"][t - 1][a] != report["classes"][t][b])
    assert switched >= 5, "too few switched fragments were tracked"
    assert seen >= 0.7 * switched, f"{seen} of {switched} tracked switches changed class"
    k = report["n_classes"]
    matrix, counts = report["transition_matrix"], report["transition_counts"]
    assert matrix.shape == counts.shape == (k, k)
    rows = counts.sum(axis=1) > 0
    np.testing.assert_allclose(matrix[rows].sum(axis=1), 1.0)
    assert counts.sum() - np.trace(counts) >= seen


def test_discovery_report_layout(synthetic_run) -> None:
    report, truths = synthetic_run
    n_frames = len(truths)
    for key in ("positions", "classes", "angles", "symmetry", "latents", "class_probs", "translations", "tracks", "fov_origins", "actions"):
        assert len(report[key]) == n_frames, key
    for t in range(n_frames):
        n = len(report["positions"][t])
        assert report["positions"][t].shape == (n, 2)
        assert report["classes"][t].shape == report["angles"][t].shape == report["symmetry"][t].shape == (n,)
        assert report["latents"][t].shape == (n, 2)
        assert np.all((report["angles"][t] >= 0) & (report["angles"][t] < 2 * np.pi / report["symmetry"][t]))
    # fragment centres: 3-fold ones read as order 3, 4-fold ones as order 4
    it, ip, _ = match_positions(truths[0]["centres"], report["positions"][0], 3.0)
    orders = report["symmetry"][0][ip]
    assert np.mean(orders == np.where(truths[0]["kinds"][it] == 0, 3, 4)) >= 0.9


def test_discovery_is_deterministic_for_a_seed() -> None:
    frames, _ = fragment_series(n_frames=3, rng=0)
    runs = [drive(RVAEDiscoveryAgent(seed=0, initial_steps=20, steps_per_frame=5, margin=8, num_threads=1), frames) for _ in range(2)]
    for key in ("classes", "angles", "latents", "positions"):
        for a, b in zip(runs[0][key], runs[1][key], strict=True):
            np.testing.assert_array_equal(a, b)


def test_policy_moves_on_when_nothing_changes() -> None:
    frames, _ = fragment_series(n_frames=6, n_switch=0, rng=1)
    agent = RVAEDiscoveryAgent(seed=0, initial_steps=5, steps_per_frame=1, min_frames=2, patience=2, num_threads=1)
    agent.reset(frames[0], {"fov_origin": (0.0, 0.0)})
    actions = []
    for frame in frames[1:]:
        actions.append(agent.act(frame))
        agent.observe(frame, 0.0, {"fov_origin": (0.0, 0.0)})
    np.testing.assert_array_equal(actions[0], [0.0, 0.0, 0.0])  # stays on the centre for min_frames
    assert np.any(np.abs(np.asarray(actions)[:, :2]) > 0.5)  # then explores elsewhere


def test_register_frames_recovers_a_known_shift() -> None:
    frames, _ = fragment_series(n_frames=1, rng=2)
    a = frames[0].astype(np.float64)
    b = np.roll(a, (3, -5), axis=(0, 1))  # b at r shows a at r − (3, −5)
    s = register_frames(a, b, max_shift=10.0)
    np.testing.assert_allclose(s, [-3.0, 5.0], atol=0.3)


# -- bad input --------------------------------------------------------------------------------------------
def test_nan_or_inf_reward_is_rejected_naming_the_step() -> None:
    frames, _ = fragment_series(n_frames=2, rng=3)
    agent = RVAEDiscoveryAgent(seed=0, initial_steps=2, steps_per_frame=1, num_threads=1)
    agent.reset(frames[0], {})
    agent.act(frames[0])
    with pytest.raises(AgentError, match="step 1"):
        agent.observe(frames[1], float("nan"), {})
    with pytest.raises(AgentError, match="step 1"):
        agent.observe(frames[1], float("inf"), {})


def test_discovery_agent_refused_on_an_explore_env(toy_env_class) -> None:
    env = toy_env_class(grid=8, budget=3)
    with pytest.raises(IncompatibleEnvError, match=r"rvae_discovery.*ToyExploreEnv.*'explore'"):
        run_episode(env, RVAEDiscoveryAgent(), seed=0)
    obs, info = env.reset(seed=0)
    with pytest.raises(IncompatibleEnvError, match="rvae_discovery.*Explore observation"):
        RVAEDiscoveryAgent().reset(obs, info)


@pytest.mark.parametrize(("kwargs", "name"), [({"patch_size": 4}, "patch_size"), ({"explore_dwell": 2.0}, "explore_dwell"), ({"n_classes": 0}, "n_classes"), ({"symmetry": "six"}, "symmetry")])
def test_bad_parameters_name_the_field(kwargs, name) -> None:
    with pytest.raises(AgentError, match=f"`{name}`"):
        RVAEDiscoveryAgent(**kwargs)


# -- the real env -----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_discovery_ari_on_beam_dynamics_graphene() -> None:
    """The issue's check: ARI ≥ 0.7 against the true site classes, noisy graphene frames, default dose."""
    import gymnasium as gym

    import stemtwin.envs  # noqa: F401 - registers the ids
    # Shot noise at the default dose, no scan distortions: with the "typical" distortions the neighbour
    # geometry is smeared (atoms move by several pixels within a frame) and even a supervised
    # classifier on these patches separates vacancy-edge from pristine carbon with an AUC of only
    # 0.56–0.67 (0.97–1.0 without distortions), so no per-frame classifier reaches the threshold there.
    env = gym.make("stemtwin/BeamDynamics-v0", scan_noise="none", max_episode_steps=30)
    agent = RVAEDiscoveryAgent(seed=0, num_threads=1)
    obs, info = env.reset(seed=0)
    agent.reset(obs, info)
    truths = [env.unwrapped.frame_truth()]
    frames = [env.unwrapped.frame.array.astype(np.float64)]
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(agent.act(obs))
        agent.observe(obs, reward, info)
        truths.append(env.unwrapped.frame_truth())
        frames.append(env.unwrapped.frame.array.astype(np.float64))
        done = terminated or truncated
    report = agent.report()
    true, pred = [], []
    for t, truth in enumerate(truths):
        heavy = np.isin(np.asarray(truth["site_class_names"], dtype=object)[truth["site_class"]], ["Si_3fold", "Si_4fold"])
        ia, ib = match_to_truth(frames[t], report["positions"][t], truth["pixel_positions"], np.where(heavy, 4.0, 1.0))
        true.append(truth["site_class"][ib])
        pred.append(report["classes"][t][ia])
    true_all, pred_all = np.concatenate(true), np.concatenate(pred)
    assert len(true_all) > 0.7 * sum(len(p) for p in report["positions"])
    ari = metrics.adjusted_rand(true_all, pred_all)
    assert ari >= 0.7, f"ARI {ari:.3f} against the true site classes ({np.bincount(true_all).tolist()} atoms per class)"
