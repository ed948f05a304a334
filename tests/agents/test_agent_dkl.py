"""The deep-kernel GP and the DKL-BO agent: a 1-D toy fit, posterior draws, schedule, determinism, bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import torch

from stemtwin.agents import AgentError, DKLBOAgent, GPXYAgent, RawPatchGPAgent, make_agent, run_episode
from stemtwin.agents.gp import (
    DeepKernelGP,
    PatchMLP,
    candidate_posterior,
    fit_exact_gp,
    init_parameters,
    make_covar_module,
    make_feature_extractor,
    make_optimizer,
    predict,
    torch_threads,
)

#: Small, fast settings for agent runs on the toy env.
FAST = {"n_seed": 4, "fit_iterations": 40, "warm_iterations": 8, "patch_size": 8}


def bar_patches(x: np.ndarray, p: int = 8) -> np.ndarray:
    """Patches (n, p·p) holding a vertical bright bar at column x·(p − 1): the patch encodes x."""
    v = np.arange(p)
    bar = np.exp(-((v[None, :] - x[:, None] * (p - 1)) ** 2) / 2.0)
    return np.repeat(bar[:, None, :], p, axis=1).reshape(len(x), -1).astype(np.float32)


@pytest.mark.parametrize("kind", ["cnn", "mlp"])
def test_dkl_fit_on_a_1d_toy_function(kind: str) -> None:
    """sin(2πx) from patches that encode x: MAE < 0.08 (measured ≈ 0.03), learning in the extractor."""
    rng = np.random.default_rng(0)
    x_train, x_test = rng.uniform(0, 1, 60), np.linspace(0, 1, 200)
    y_train = np.sin(2 * np.pi * x_train) + rng.normal(0, 0.05, 60)
    extractor = init_parameters(make_feature_extractor(kind, 8), torch.Generator().manual_seed(0))
    model = DeepKernelGP(torch.from_numpy(bar_patches(x_train)), torch.as_tensor(y_train), feature_extractor=extractor)
    initial = [p.detach().clone() for p in extractor.parameters()]

    # The marginal likelihood reaches every extractor weight (not the last layer's bias: a shift of
    # the embedding leaves the stationary kernel unchanged, so its gradient is zero).
    model.train()
    mll = __import__("gpytorch").mlls.ExactMarginalLogLikelihood(model.likelihood, model)
    loss = -mll(model(model.train_inputs[0]), model.train_targets)
    loss.backward()
    for name, p in extractor.named_parameters():
        if name.endswith("weight"):
            assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    model.zero_grad()

    losses = fit_exact_gp(model, 150, make_optimizer(model, lr=0.05, extractor_lr=0.01))
    assert losses[-1] < losses[0] - 1.0
    assert any(not torch.equal(a, b.detach()) for a, b in zip(initial, extractor.parameters(), strict=True))
    mean, std = predict(model, torch.from_numpy(bar_patches(x_test)))
    mae = np.abs(mean - np.sin(2 * np.pi * x_test)).mean()
    assert mae < 0.08, mae
    assert np.all(std > 0) and np.all(std < 0.5)


def test_candidate_posterior_draws_and_covariance() -> None:
    rng = np.random.default_rng(1)
    x = torch.as_tensor(rng.uniform(0, 1, (200, 2)), dtype=torch.float32)
    y = torch.sin(6 * x[:, 0].double()) + torch.cos(4 * x[:, 1].double())
    for kernel in ("rbf", "matern52"):
        model = DeepKernelGP(x[:40], y[:40], covar_module=make_covar_module(kernel, ard_num_dims=2))
        fit_exact_gp(model, 60, make_optimizer(model, lr=0.05))
        post = candidate_posterior(model, x)
        idx = np.arange(0, 200, 10)
        exact = np.array([post.covariance_columns(np.array([i]))[i, 0] for i in idx])
        np.testing.assert_allclose(post.std[idx] ** 2, exact, rtol=1e-6, atol=1e-10)  # fast_pred_var vs Cholesky
        draws = post.draw(np.random.default_rng(0), 300)
        assert draws.shape == (300, 200)
        assert np.abs(draws.mean(0) - post.mean).max() < 4 * post.std.max() / np.sqrt(300) + 1e-3
        ratio = draws.std(0) / post.std
        assert 0.9 < np.median(ratio) < 1.1


def test_torch_threads_restores_the_setting() -> None:
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(AgentError, match="num_threads"):
        with torch_threads(0):
            pass


def run(agent: Any, env: Any, seed: int = 0) -> dict[str, Any]:
    return run_episode(env, agent, seed=seed)


def test_dkl_agent_report_and_determinism(toy_env_class: Any) -> None:
    env = toy_env_class(grid=12, budget=10)
    first = run(DKLBOAgent(seed=3, **FAST), env)
    second = run(DKLBOAgent(seed=3, **FAST), env)
    other = run(DKLBOAgent(seed=4, **FAST), env)
    assert first["actions"] == second["actions"]
    assert first["actions"] != other["actions"]
    assert len(set(first["actions"])) == 10
    report = first["report"]
    n = 144
    for key in ("mean", "std", "acquisition"):
        assert report[key].shape == (n,) and np.all(np.isfinite(report[key]))
    np.testing.assert_array_equal(report["mean"], second["report"]["mean"])
    assert np.all(report["std"] >= 0)
    assert report["embedding"].shape == (n, 2)
    assert report["visited"].tolist() == first["actions"]
    assert report["fits"] >= 1 and report["noise_std"] > 0


def test_retrain_schedule_and_warm_start(toy_env_class: Any) -> None:
    env = toy_env_class(grid=10, budget=18)
    obs, info = env.reset(seed=0)
    agent = DKLBOAgent(seed=0, retrain_every=3, stop_retraining_after=12, **{**FAST, "n_seed": 3})
    agent.reset(obs, info)
    models, fits = [], []
    for _ in range(18):
        obs, reward, *_, info = env.step(agent.act(obs))
        agent.observe(obs, reward, info)
        models.append(agent.model)
        fits.append(agent.fits)
    # First fit at 3 measurements, warm retrains at 6, 9 and 12, then conditioning only.
    assert fits[:3] == [0, 0, 0] and fits[-1] == 4
    assert fits[3] == 1 and fits[6] == 2 and fits[9] == 3 and fits[12] == 4
    # One model per episode, warm-started (the same object, trained further).
    assert all(m is models[3] for m in models[3:])
    assert agent.model.train_targets.shape == (17,)  # conditioned on every measurement before the last act
    agent.report()
    assert agent.fits == 4


def test_batch_acquisition_takes_q_picks_per_fit(toy_env_class: Any) -> None:
    env = toy_env_class(grid=10, budget=13)
    agent = DKLBOAgent(seed=0, q=3, **FAST)
    result = run(agent, env)
    assert len(set(result["actions"])) == 13
    # 13 − 4 seeds = 9 model-based steps in 3 batches of 3: one (re)fit per batch; report() retrains
    # once more on the last batch's data (retrain_every=1).
    assert agent.fits == 4


@pytest.mark.parametrize("acquisition", ["ucb", "thompson", "max_uncertainty"])
def test_other_acquisitions_run(toy_env_class: Any, acquisition: str) -> None:
    env = toy_env_class(grid=10, budget=7)
    a = run(DKLBOAgent(seed=1, acquisition=acquisition, **FAST), env)
    b = run(DKLBOAgent(seed=1, acquisition=acquisition, **FAST), env)
    assert a["actions"] == b["actions"] and len(set(a["actions"])) == 7


def test_injected_modules_are_used_and_copied(toy_env_class: Any) -> None:
    import gpytorch

    env = toy_env_class(grid=10, budget=6)
    kernel = gpytorch.kernels.ScaleKernel(gpytorch.kernels.MaternKernel(nu=2.5))
    extractor = PatchMLP(64, embedding_dim=3, hidden=(16,))
    agent = DKLBOAgent(seed=0, feature_extractor=extractor, embedding_dim=3, covar_module=kernel, **FAST)
    result = run(agent, env)
    assert isinstance(agent.model.covar_module.base_kernel, gpytorch.kernels.MaternKernel)
    assert agent.model.covar_module is not kernel and agent.model.feature_extractor is not extractor
    assert result["report"]["embedding"].shape == (100, 3)


def test_gp_baselines_run(toy_env_class: Any) -> None:
    env = toy_env_class(grid=10, budget=7)
    for agent in (GPXYAgent(seed=0, n_seed=3, fit_iterations=30, warm_iterations=5), RawPatchGPAgent(seed=0, n_seed=3, patch_size=8, fit_iterations=30, warm_iterations=5)):
        result = run(agent, env)
        assert len(set(result["actions"])) == 7
        assert result["report"]["mean"].shape == (100,) and np.all(np.isfinite(result["report"]["std"]))
        assert "embedding" not in result["report"]
    assert make_agent("gp_xy", seed=0).name == "gp_xy"


def test_dkl_agent_bad_input(toy_env_class: Any) -> None:
    with pytest.raises(AgentError, match="Did you mean 'ucb'"):
        DKLBOAgent(acquisition="ubc")
    with pytest.raises(AgentError, match="Did you mean 'matern52'"):
        DKLBOAgent(kernel="matern5/2")
    with pytest.raises(AgentError, match="Did you mean 'cnn'"):
        DKLBOAgent(feature_extractor="cnnn")
    with pytest.raises(AgentError, match="`n_seed` must be an integer >= 1"):
        DKLBOAgent(n_seed=0)
    with pytest.raises(AgentError, match="`q` must be"):
        DKLBOAgent(q=0)
    env = toy_env_class(grid=8)
    obs, info = env.reset(seed=0)
    agent = DKLBOAgent(seed=0, **FAST)
    agent.reset(obs, info)
    for _ in range(5):
        obs, reward, *_, info = env.step(agent.act(obs))
        agent.observe(obs, reward, info)
    agent.act(obs)
    with pytest.raises(AgentError, match=r"Reward at step 6 is nan"):
        agent.observe(obs, float("nan"), {})
    with pytest.raises(AgentError, match="candidate_patches"):
        agent.reset(obs, {"candidate_patches": np.zeros((3, 4, 4))})


def test_explores_by_patch_diversity_until_the_rewards_vary(toy_env_class: Any) -> None:
    """A scalarizer that has not lit up yet (every reward 0): farthest-point sampling, no model fits."""
    env = toy_env_class(grid=10, budget=12, n_rings=0, noise=0.0)  # the reward is exactly 0 everywhere
    agent = DKLBOAgent(seed=0, **FAST)
    result = run(agent, env)
    assert agent.fits == 1  # no fit while choosing; report() fits once at the end
    assert len(set(result["actions"])) == 12
    # After the seeds every pick is the unvisited candidate farthest from all measured ones.
    z = agent._diversity_features()
    for t in range(FAST["n_seed"], 12):
        done = result["actions"][:t]
        d2 = ((z[:, None, :] - z[None, done, :]) ** 2).sum(-1).min(axis=1)
        d2[done] = -np.inf
        assert result["actions"][t] == int(np.argmax(d2))
    blind = DKLBOAgent(seed=0, explore_until_signal=False, **FAST)
    run(blind, env)
    assert blind.fits >= 8
