"""Metrics against ground truth on hand-made inputs."""

from __future__ import annotations

import numpy as np
import pytest

from stemtwin.agents import AgentError
from stemtwin.agents import metrics as M

TRUE = np.arange(100, dtype=float).reshape(10, 10)  # candidate a holds value a; the top 1 % is {99}


def test_simple_regret_by_hand() -> None:
    np.testing.assert_array_equal(M.simple_regret(TRUE, [5, 50, 20, 99, 3]), [94, 49, 49, 0, 0])
    assert M.simple_regret(TRUE, []).size == 0


def test_regret_and_mean_value_on_delivered_values() -> None:
    # TRUE is 0..99: the probe aimed at 5 and 50 but delivered 10 and 120 (above the map's maximum).
    np.testing.assert_array_equal(M.simple_regret(TRUE, [5, 50], values=[10.0, 120.0]), [89, 0])
    m = M.explore_metrics(TRUE, [5, 50], values=[10.0, 30.0])
    assert m["final_regret"] == 69.0 and m["mean_value"] == pytest.approx(20.0 / 99.0)
    assert M.explore_metrics(TRUE, [5, 50])["mean_value"] == pytest.approx(27.5 / 99.0)
    with pytest.raises(AgentError, match="one finite value per action"):
        M.simple_regret(TRUE, [5, 50], values=[1.0])


def test_first_steps_and_top_fraction() -> None:
    actions = [5, 97, 98, 99, 3]
    assert M.first_step_at_max(TRUE, actions) == 4
    assert M.first_step_in_top(TRUE, actions, 0.01) == 4
    assert M.first_step_in_top(TRUE, actions, 0.05) == 2  # top 5 %: 95..99
    assert M.top_fraction_found(TRUE, actions, 0.05) == pytest.approx(3 / 5)
    assert M.first_step_at_max(TRUE, [1, 2]) is None
    assert M.first_step_in_top(TRUE, [1, 2]) is None
    # Ties with the k-th value count as top sites.
    flat = np.array([1.0, 1.0, 0.0, 0.0])
    assert M.top_sites(flat, 0.25).tolist() == [0, 1]


def test_nrmse_and_coverage() -> None:
    assert M.nrmse(TRUE, TRUE) == 0.0
    assert M.nrmse(TRUE + 9.9, TRUE) == pytest.approx(0.1)  # RMSE 9.9 over a range of 99
    assert np.isnan(M.nrmse(None, TRUE))
    std = np.ones(100)
    assert M.coverage(TRUE, TRUE, std) == 1.0
    shifted = TRUE.reshape(-1).copy()
    shifted[:25] += 3.0  # a quarter lies 3σ off
    assert M.coverage(TRUE, shifted, std, k=2.0) == pytest.approx(0.75)
    assert np.isnan(M.coverage(TRUE, TRUE, None))


def test_explore_metrics_bundle() -> None:
    m = M.explore_metrics(TRUE, [0, 99], mean=TRUE, std=np.ones(100), info={"cumulative_dose": 5.0, "time": 2.0})
    assert m["final_regret"] == 0.0 and m["step_at_max"] == 2 and m["top_found"] == 1.0
    assert m["nrmse"] == 0.0 and m["coverage_2sigma"] == 1.0
    assert (m["dose"], m["time"], m["steps"]) == (5.0, 2.0, 2)
    assert M.resources_used(None) == {"dose": pytest.approx(np.nan, nan_ok=True), "time": pytest.approx(np.nan, nan_ok=True)}


def test_class_agreement_is_invariant_to_relabelling() -> None:
    true = np.array([0, 0, 1, 1, 2, 2, 2])
    permuted = np.array([2, 2, 0, 0, 1, 1, 1])
    assert M.adjusted_rand(true, permuted) == pytest.approx(1.0)
    assert M.normalized_mutual_info(true, permuted) == pytest.approx(1.0)
    assert M.align_labels(true, permuted) == {2: 0, 0: 1, 1: 2}
    assert M.adjusted_rand(true, np.zeros(7)) == pytest.approx(0.0)


def test_circular_error_after_offset_is_zero_for_a_rotated_copy() -> None:
    rng = np.random.default_rng(0)
    angles = rng.uniform(0, 2 * np.pi, 200)
    rotated = np.mod(angles + 1.3, 2 * np.pi)
    err = M.circular_error(angles, rotated)
    assert err["error"] == pytest.approx(0.0, abs=1e-9)
    assert err["offset"] == pytest.approx(-1.3, abs=1e-9)
    assert M.circular_correlation(angles, rotated) == pytest.approx(1.0)
    # A reflected copy: only with reflection=True.
    assert M.circular_error(angles, -angles, reflection=True)["error"] == pytest.approx(0.0, abs=1e-9)
    assert M.circular_error(angles, -angles)["error"] > 0.5
    # Period 2π/3 (a 3-fold fragment): a shift by one period is no error at all.
    third = 2 * np.pi / 3
    a3 = rng.uniform(0, third, 50)
    assert M.circular_error(a3, a3 + third, period=third)["error"] == pytest.approx(0.0, abs=1e-9)
    noisy = M.circular_error(angles, angles + rng.normal(0, 0.05, 200))
    assert 0.02 < noisy["error"] < 0.06
    assert abs(M.circular_correlation(angles, rng.uniform(0, 2 * np.pi, 200))) < 0.2


def test_transition_matrix_and_frobenius_error() -> None:
    before = [0, 0, 0, 0, 1, 1]
    after = [0, 0, 0, 1, 1, 0]
    p = M.transition_matrix(before, after)
    np.testing.assert_allclose(p, [[0.75, 0.25], [0.5, 0.5]])
    assert M.transition_matrix_error(p, p) == 0.0
    assert M.transition_matrix_error(np.eye(2), np.zeros((2, 2))) == pytest.approx(np.sqrt(2))
    # Predicted classes swapped relative to the truth: the permutation undoes it.
    swapped = p[::-1, ::-1]
    assert M.transition_matrix_error(swapped, p) > 0.1
    assert M.transition_matrix_error(swapped, p, permutation=[1, 0]) == pytest.approx(0.0)


def test_discovery_metrics_bundle() -> None:
    classes = [0, 1, 1, 0]
    angles = np.array([0.1, 0.5, 1.0, 2.0])
    m = M.discovery_metrics(classes, [1, 0, 0, 1], angles, angles + 0.4)
    assert m["ari"] == pytest.approx(1.0) and m["nmi"] == pytest.approx(1.0)
    assert m["angle_error"] == pytest.approx(0.0, abs=1e-9) and m["angle_correlation"] == pytest.approx(1.0)


def test_bad_metric_input() -> None:
    with pytest.raises(AgentError, match="candidate indices"):
        M.simple_regret(TRUE, [100])
    with pytest.raises(AgentError, match="same length"):
        M.adjusted_rand([0, 1], [0])
    with pytest.raises(AgentError, match="fraction"):
        M.top_sites(TRUE, 0.0)
    with pytest.raises(AgentError, match="square"):
        M.transition_matrix_error(np.eye(2), np.eye(3))
    with pytest.raises(AgentError, match="finite"):
        M.simple_regret([np.nan, 1.0], [0])
