"""Acquisition functions on hand-set posteriors give the textbook values; argmax skips visited candidates."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erfcx
from scipy.stats import norm

from stemtwin.agents import AgentError, CandidatePosterior, make_acquisition
from stemtwin.agents.acquisition import ACQUISITIONS, ExpectedImprovement, ThompsonSampling, UpperConfidenceBound

MEAN = np.array([0.0, 1.0, 0.5, -1.0, 2.0])
STD = np.array([1.0, 0.5, 2.0, 0.1, 0.3])


def posterior() -> CandidatePosterior:
    return CandidatePosterior(MEAN, STD)


def test_expected_improvement_matches_the_closed_form() -> None:
    best_f = 1.2
    u = (MEAN - best_f) / STD
    expected = (MEAN - best_f) * norm.cdf(u) + STD * norm.pdf(u)
    # The same closed form rearranged, σ·exp(−u²/2)·(1/√(2π) + u·erfcx(−u/√2)/2), stays accurate in
    # the far tail (u = −22 for candidate 3), where the first form cancels.
    expected[3] = (STD * np.exp(-(u**2) / 2) * (1 / np.sqrt(2 * np.pi) + u * erfcx(-u / np.sqrt(2)) / 2))[3]
    values = make_acquisition("ei")(posterior(), best_f=best_f)
    # BoTorch evaluates log EI with a numerically safe expansion: ~1e-7 relative error near the
    # incumbent, ~1e-5 in the far tail (EI ~ 1e-110) where it switches to an asymptotic series.
    near = u > -10
    np.testing.assert_allclose(values[near], expected[near], rtol=1e-6)
    np.testing.assert_allclose(values[~near], expected[~near], rtol=1e-4)
    log_values = ExpectedImprovement(log=True)(posterior(), best_f=best_f)
    np.testing.assert_allclose(log_values, np.log(expected), rtol=1e-6)


def test_expected_improvement_point_value_by_hand() -> None:
    # mu = 1, sigma = 1, f* = 0: EI = Phi(1) + phi(1) = 0.8413447 + 0.2419707.
    value = make_acquisition("ei")(CandidatePosterior([1.0], [1.0]), best_f=0.0)
    assert value[0] == pytest.approx(1.0833155, abs=1e-6)


def test_expected_improvement_needs_best_f() -> None:
    with pytest.raises(AgentError, match="best_f"):
        make_acquisition("ei")(posterior())


@pytest.mark.parametrize("beta", [0.0, 1.0, 4.0, 9.0])
def test_ucb_is_mean_plus_root_beta_sigma(beta: float) -> None:
    values = make_acquisition("ucb", beta=beta)(posterior())
    np.testing.assert_allclose(values, MEAN + np.sqrt(beta) * STD, rtol=1e-12)


def test_maximum_uncertainty_is_sigma() -> None:
    np.testing.assert_array_equal(make_acquisition("max_uncertainty")(posterior()), STD)


def test_thompson_draw_of_an_independent_posterior() -> None:
    rng = np.random.default_rng(3)
    expected = MEAN + STD * rng.standard_normal((1, MEAN.size))[0]
    np.testing.assert_allclose(make_acquisition("thompson")(posterior(), rng=np.random.default_rng(3)), expected)


def test_thompson_uses_joint_draws_when_given() -> None:
    draws = np.array([[0.0, 5.0, 1.0, 0.0, 0.0], [9.0, 0.0, 1.0, 0.0, 0.0]])
    post = CandidatePosterior(MEAN, STD, sample=lambda rng, n: draws[:n])
    assert ThompsonSampling().select(post, q=1, rng=0).tolist() == [1]
    # q = 2: the argmax of two draws; the second draw's own argmax (0) is new.
    assert ThompsonSampling().select(post, q=2, rng=0).tolist() == [1, 0]


@pytest.mark.parametrize("name", sorted(ACQUISITIONS))
def test_argmax_excludes_visited(name: str) -> None:
    acq = make_acquisition(name)
    post = CandidatePosterior(MEAN, np.full(MEAN.size, 1e-3))  # nearly deterministic: Thompson ≈ mean
    first = acq.select(post, best_f=0.0, rng=0)
    visited = np.zeros(MEAN.size, dtype=bool)
    visited[first] = True
    second = acq.select(post, visited=visited, best_f=0.0, rng=0)
    assert second[0] != first[0]
    # Visited given as a (G, G)-like 0/1 float array or as indices works the same.
    assert acq.select(post, visited=visited.astype(np.float32), best_f=0.0, rng=0)[0] == second[0]
    assert acq.select(post, visited=np.flatnonzero(visited), best_f=0.0, rng=0)[0] == second[0]


def test_select_argmax_by_hand() -> None:
    # μ + 2σ = [2.0, 2.0, 4.5, -0.8, 2.6]; σ alone: [1, 0.5, 2, 0.1, 0.3].
    assert make_acquisition("ucb", beta=4.0).select(posterior()).tolist() == [2]
    assert make_acquisition("ucb", beta=4.0).select(posterior(), visited=[2]).tolist() == [4]
    assert make_acquisition("max_uncertainty").select(posterior(), visited=[2]).tolist() == [0]


def test_kriging_believer_batch_spreads_over_correlated_candidates() -> None:
    # Candidates 0 and 1 are perfectly correlated, 2 is independent and slightly worse. The means
    # differ slightly so that no step depends on how ties are broken.
    mean = np.array([1.0, 0.99, 0.9])
    std = np.array([1.0, 1.0, 1.0])
    cov = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    post = CandidatePosterior(mean, std, noise_variance=1e-6, covariance=lambda idx: cov[:, idx])
    picks = make_acquisition("ucb", beta=4.0).select(post, q=2)
    assert picks.tolist() == [0, 2]  # believing candidate 0 removes the uncertainty of candidate 1
    # Independent candidates: the second pick is the runner-up (candidate 1).
    assert make_acquisition("ucb", beta=4.0).select(CandidatePosterior(mean, std), q=2).tolist() == [0, 1]


def test_believe_reduces_variance_by_the_schur_complement() -> None:
    cov = np.array([[1.0, 0.5], [0.5, 1.0]])
    post = CandidatePosterior([0.0, 0.0], [1.0, 1.0], noise_variance=0.0, covariance=lambda idx: cov[:, idx])
    after = post.believe(np.array([0]))
    np.testing.assert_allclose(after.std**2, [0.0, 1.0 - 0.25], atol=1e-9)
    np.testing.assert_array_equal(after.mean, post.mean)


def test_unknown_acquisition_gets_did_you_mean() -> None:
    with pytest.raises(AgentError, match=r"Unknown acquisition function 'thomson'\. Did you mean 'thompson'\?"):
        make_acquisition("thomson")
    with pytest.raises(AgentError, match="Did you mean 'max_uncertainty'"):
        make_acquisition("max_uncertanty")


def test_bad_acquisition_parameters() -> None:
    with pytest.raises(AgentError, match="does not take parameters"):
        make_acquisition("ei", beta=2.0)
    with pytest.raises(AgentError, match="beta"):
        UpperConfidenceBound(beta=-1.0)
    with pytest.raises(AgentError, match="only 1 are not visited"):
        make_acquisition("ucb").select(posterior(), visited=[0, 1, 2, 3], q=2)
    with pytest.raises(AgentError, match="same shape"):
        CandidatePosterior([0.0, 1.0], [1.0])
    with pytest.raises(AgentError, match="finite"):
        CandidatePosterior([np.nan], [1.0])
