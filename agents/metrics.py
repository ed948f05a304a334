"""Metrics against ground truth, shared by the agents' tests and the scenario runner (numpy and scikit-learn only).

Explore (a true map over N candidates, the agent's measured candidates in order, its predictions):

- :func:`simple_regret`: ``max(true) − max(true[a_1..a_t])`` for every step t;
- :func:`first_step_at_max`, :func:`first_step_in_top`: the first step (1-based) that measures the
  global maximum, or any top-fraction site;
- :func:`top_fraction_found`: the fraction of the top-fraction sites measured;
- :func:`nrmse`: root-mean-square error of a predicted map, over the range of the true map;
- :func:`coverage`: the fraction of the true map inside the predicted ±kσ band;
- :func:`resources_used`: dose and instrument time from the final ``info``;
- :func:`explore_metrics`: all of the above in one dict.

Discovery (classes and angles per atom, transition matrices):

- :func:`adjusted_rand`, :func:`normalized_mutual_info`: class agreement, invariant to relabelling;
- :func:`circular_error`: mean absolute angular error after the best global offset;
- :func:`circular_correlation`: the Jammalamadaka–SenGupta circular correlation coefficient;
- :func:`align_labels`: the predicted → true label matching (Hungarian, on the contingency table);
- :func:`transition_matrix`, :func:`transition_matrix_error`: row-stochastic class-transition
  matrices and their Frobenius distance (after label matching);
- :func:`discovery_metrics`: the class and angle metrics in one dict.

Top-fraction sites
------------------
The top ``fraction`` of N candidates are the ``k = max(1, ceil(fraction · N))`` largest values of the
true map, and every candidate tied with the k-th value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .base import AgentError

__all__ = [
    "adjusted_rand",
    "align_labels",
    "circular_correlation",
    "circular_error",
    "coverage",
    "discovery_metrics",
    "explore_metrics",
    "first_step_at_max",
    "first_step_in_top",
    "measured_values",
    "normalized_mutual_info",
    "nrmse",
    "resources_used",
    "simple_regret",
    "top_fraction_found",
    "top_sites",
    "transition_matrix",
    "transition_matrix_error",
]


# -- explore -------------------------------------------------------------------------------------------
def _true(true_map: Any) -> np.ndarray:
    t = np.asarray(true_map, dtype=np.float64).reshape(-1)
    if t.size == 0 or not np.all(np.isfinite(t)):
        raise AgentError("The true map must be a non-empty array of finite values.")
    return t


def _actions(actions: Any, n: int) -> np.ndarray:
    a = np.asarray(actions, dtype=np.int64).reshape(-1)
    if a.size and (a.min() < 0 or a.max() >= n):
        raise AgentError(f"Actions must be candidate indices in 0..{n - 1}, got {a.min()}..{a.max()}.")
    return a


def measured_values(true_map: Any, actions: Any, values: Any = None) -> np.ndarray:
    """The true value of every measurement: ``values`` when given, else ``true[a_t]``.

    ``values`` holds what the instrument actually delivered, e.g. the env's
    ``info["noise_free_scalar"]`` (the noise-free value where the probe landed, which scan distortions
    can move away from the nominal candidate).
    """
    t = _true(true_map)
    a = _actions(actions, t.size)
    if values is None:
        return t[a]
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size != a.size or not np.all(np.isfinite(v)):
        raise AgentError(f"`values` must hold one finite value per action ({a.size}), got {v.size} values.")
    return v


def simple_regret(true_map: Any, actions: Any, values: Any = None) -> np.ndarray:
    """Simple regret after every step: ``max(true) − max_{s<=t} v_s``, clipped at 0.

    Parameters
    ----------
    true_map
        True (noise-free) values, shape (G, G) or (N,), indexed like the actions (``a = i·G + j``).
    actions
        Measured candidate indices in order, shape (T,).
    values
        True value of each measurement, shape (T,) (:func:`measured_values`); None: ``true[a_t]``.
        A delivered value above the map's maximum gives regret 0.

    Returns
    -------
    ndarray of shape (T,), >= 0, non-increasing.
    """
    t = _true(true_map)
    v = measured_values(t, actions, values)
    if v.size == 0:
        return np.zeros(0)
    return np.maximum(t.max() - np.maximum.accumulate(v), 0.0)


def top_sites(true_map: Any, fraction: float = 0.01) -> np.ndarray:
    """Indices of the top-``fraction`` sites (module docstring), sorted."""
    t = _true(true_map)
    if not 0 < fraction <= 1:
        raise AgentError(f"`fraction` must lie in (0, 1], got {fraction!r}.")
    k = max(1, math.ceil(fraction * t.size))
    threshold = np.sort(t)[::-1][k - 1]
    return np.flatnonzero(t >= threshold)


def first_step_in_top(true_map: Any, actions: Any, fraction: float = 0.01) -> int | None:
    """The first step (1-based) that measures a top-``fraction`` site; None if none was measured."""
    t = _true(true_map)
    a = _actions(actions, t.size)
    hits = np.flatnonzero(np.isin(a, top_sites(t, fraction)))
    return int(hits[0]) + 1 if hits.size else None


def first_step_at_max(true_map: Any, actions: Any) -> int | None:
    """The first step (1-based) that measures a site holding the global maximum; None if never."""
    t = _true(true_map)
    a = _actions(actions, t.size)
    hits = np.flatnonzero(t[a] >= t.max()) if a.size else np.zeros(0, dtype=np.int64)
    return int(hits[0]) + 1 if hits.size else None


def top_fraction_found(true_map: Any, actions: Any, fraction: float = 0.01) -> float:
    """The fraction of top-``fraction`` sites measured at least once, in [0, 1]."""
    t = _true(true_map)
    a = _actions(actions, t.size)
    top = top_sites(t, fraction)
    return float(np.isin(top, a).mean())


def nrmse(predicted: Any, true_map: Any) -> float:
    """Root-mean-square error of a predicted map, divided by the range (max − min) of the true map.

    The range is replaced by 1 for a constant true map. NaN when the prediction is missing or not finite.
    """
    t = _true(true_map)
    if predicted is None:
        return float("nan")
    p = np.asarray(predicted, dtype=np.float64).reshape(-1)
    if p.size != t.size:
        raise AgentError(f"The predicted map has {p.size} values, the true map {t.size}.")
    if not np.all(np.isfinite(p)):
        return float("nan")
    span = float(t.max() - t.min())
    return float(np.sqrt(np.mean((p - t) ** 2)) / (span if span > 0 else 1.0))


def coverage(true_map: Any, mean: Any, std: Any, k: float = 2.0) -> float:
    """The fraction of candidates whose true value lies within ``mean ± k·std``; NaN without a std."""
    t = _true(true_map)
    if mean is None or std is None:
        return float("nan")
    m = np.asarray(mean, dtype=np.float64).reshape(-1)
    s = np.asarray(std, dtype=np.float64).reshape(-1)
    if m.size != t.size or s.size != t.size:
        raise AgentError(f"`mean` and `std` must have {t.size} values, got {m.size} and {s.size}.")
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(s))):
        return float("nan")
    return float(np.mean(np.abs(t - m) <= k * s))


def resources_used(info: Mapping[str, Any] | None) -> dict[str, float]:
    """``dose`` [e⁻] and ``time`` [s] from an env's final ``info`` (``cumulative_dose``, ``time``); NaN when absent."""
    info = info or {}
    return {"dose": float(info.get("cumulative_dose", np.nan)), "time": float(info.get("time", np.nan))}


def explore_metrics(
    true_map: Any,
    actions: Any,
    mean: Any = None,
    std: Any = None,
    info: Mapping[str, Any] | None = None,
    fraction: float = 0.01,
    values: Any = None,
) -> dict[str, Any]:
    """Every Explore metric in one dict.

    ``values`` (the true value each measurement delivered, :func:`measured_values`) scores the regret
    and ``mean_value``; the other metrics compare the nominal candidates and the predicted map with
    the true map.

    Returns
    -------
    dict
        ``regret`` (ndarray (T,)), ``final_regret``, ``normalised_regret`` (final regret / range of the
        true map), ``mean_value`` (mean measured value scaled to the true map's range; None without
        steps or range), ``step_at_max``, ``step_in_top``, ``top_found``, ``nrmse``,
        ``coverage_2sigma``, ``dose``, ``time``, ``steps``.
    """
    t = _true(true_map)
    measured = measured_values(t, actions, values)
    regret = simple_regret(t, actions, measured)
    span = float(t.max() - t.min())
    final = float(regret[-1]) if regret.size else float(span)
    return {
        "regret": regret,
        "final_regret": final,
        "normalised_regret": final / span if span > 0 else 0.0,
        "mean_value": float(np.mean((measured - t.min()) / span)) if measured.size and span > 0 else None,
        "step_at_max": first_step_at_max(t, actions),
        "step_in_top": first_step_in_top(t, actions, fraction),
        "top_found": top_fraction_found(t, actions, fraction),
        "nrmse": nrmse(mean, t),
        "coverage_2sigma": coverage(t, mean, std, 2.0),
        **resources_used(info),
        "steps": int(np.asarray(actions).size),
    }


# -- discovery ---------------------------------------------------------------------------------------------
def _labels(true: Any, predicted: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(true).reshape(-1)
    p = np.asarray(predicted).reshape(-1)
    if t.size != p.size:
        raise AgentError(f"True and predicted labels must have the same length, got {t.size} and {p.size}.")
    return t, p


def adjusted_rand(true: Any, predicted: Any) -> float:
    """Adjusted Rand index of predicted classes against the true ones (1: identical up to relabelling)."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(*_labels(true, predicted)))


def normalized_mutual_info(true: Any, predicted: Any) -> float:
    """Normalised mutual information (arithmetic mean normalisation) of predicted against true classes."""
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(*_labels(true, predicted)))


def align_labels(true: Any, predicted: Any) -> dict[Any, Any]:
    """The predicted → true label mapping that maximises agreement (Hungarian on the contingency table).

    Predicted labels left over (more predicted than true classes) map to themselves.
    """
    from scipy.optimize import linear_sum_assignment

    t, p = _labels(true, predicted)
    tl, ti = np.unique(t, return_inverse=True)
    pl, pi = np.unique(p, return_inverse=True)
    table = np.zeros((pl.size, tl.size))
    np.add.at(table, (pi, ti), 1)
    rows, cols = linear_sum_assignment(-table)
    mapping = {pl[r].item(): tl[c].item() for r, c in zip(rows, cols, strict=True)}
    for label in pl:
        mapping.setdefault(label.item(), label.item())
    return mapping


def _scaled(angles: Any, period: float) -> np.ndarray:
    a = np.asarray(angles, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(a)):
        raise AgentError("Angles must be finite.")
    if not period > 0:
        raise AgentError(f"`period` must be > 0 [rad], got {period!r}.")
    return a * (2 * np.pi / period)


def _wrap(x: np.ndarray) -> np.ndarray:
    return (x + np.pi) % (2 * np.pi) - np.pi


def circular_error(true: Any, predicted: Any, period: float = 2 * np.pi, reflection: bool = False) -> dict[str, float]:
    """Mean absolute circular error of predicted angles after the best global offset.

    The offset c minimises ``mean |wrap(true − predicted − c)|`` (a circular median, searched over the
    observed differences). Angles are compared modulo ``period`` (2π/n for an n-fold fragment).

    Parameters
    ----------
    true, predicted
        Angles [rad], shape (n,).
    period
        Period of the angles [rad].
    reflection
        Also try ``−predicted`` (a latent angle that turns the other way) and keep the better.

    Returns
    -------
    dict
        ``error`` (mean absolute error [rad], in units of the angles), ``rmse`` [rad], ``offset`` [rad]
        and ``reflected`` (1.0 when −predicted was better).
    """
    t = _scaled(true, period)
    best: dict[str, float] | None = None
    for sign in (1.0, -1.0) if reflection else (1.0,):
        p = sign * _scaled(predicted, period)
        if t.size != p.size:
            raise AgentError(f"True and predicted angles must have the same length, got {t.size} and {p.size}.")
        d = _wrap(t - p)
        cands = d if d.size <= 2000 else d[np.linspace(0, d.size - 1, 2000).astype(int)]
        errors = np.abs(_wrap(d[None, :] - cands[:, None])).mean(axis=1)
        k = int(np.argmin(errors))
        resid = _wrap(d - cands[k])
        scale = period / (2 * np.pi)
        result = {
            "error": float(np.abs(resid).mean() * scale),
            "rmse": float(np.sqrt(np.mean(resid**2)) * scale),
            "offset": float(cands[k] * scale),
            "reflected": float(sign < 0),
        }
        if best is None or result["error"] < best["error"]:
            best = result
    assert best is not None
    return best


def circular_correlation(a: Any, b: Any, period: float = 2 * np.pi) -> float:
    """Jammalamadaka–SenGupta circular correlation of two angle sets (modulo ``period``), in [−1, 1].

    ``r = Σ sin(a − ā) sin(b − b̄) / √(Σ sin²(a − ā) Σ sin²(b − b̄))`` with ā, b̄ the circular means.
    Invariant to a constant offset of either set.
    """
    x = _scaled(a, period)
    y = _scaled(b, period)
    if x.size != y.size:
        raise AgentError(f"Angle sets must have the same length, got {x.size} and {y.size}.")
    sx = np.sin(x - np.angle(np.exp(1j * x).mean()))
    sy = np.sin(y - np.angle(np.exp(1j * y).mean()))
    denom = math.sqrt(float((sx**2).sum() * (sy**2).sum()))
    return float((sx * sy).sum() / denom) if denom > 0 else float("nan")


def transition_matrix(before: Any, after: Any, n_classes: int | None = None) -> np.ndarray:
    """Row-stochastic class-transition matrix from paired labels (``before[k] → after[k]``).

    Labels are integers 0..C−1. Rows of classes never seen before a transition are zero.

    Returns
    -------
    ndarray of shape (C, C): ``P[i, j]`` = fraction of class-i items that became class j.
    """
    b = np.asarray(before, dtype=np.int64).reshape(-1)
    a = np.asarray(after, dtype=np.int64).reshape(-1)
    if a.size != b.size:
        raise AgentError(f"`before` and `after` must have the same length, got {b.size} and {a.size}.")
    c = int(n_classes) if n_classes is not None else int(max(b.max(initial=-1), a.max(initial=-1)) + 1)
    counts = np.zeros((c, c))
    np.add.at(counts, (b, a), 1)
    rows = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)


def transition_matrix_error(predicted: Any, true: Any, permutation: Any = None) -> float:
    """Frobenius norm ``‖P_pred − P_true‖_F`` of two transition matrices.

    Parameters
    ----------
    predicted, true
        Square matrices of the same shape (C, C).
    permutation
        Optional: ``permutation[i]`` is the true class of predicted class i (e.g. from
        :func:`align_labels`); the predicted matrix is reordered before the comparison.
    """
    p = np.asarray(predicted, dtype=np.float64)
    t = np.asarray(true, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != p.shape[1] or p.shape != t.shape:
        raise AgentError(f"Transition matrices must be square and of the same shape, got {p.shape} and {t.shape}.")
    if permutation is not None:
        perm = np.asarray(permutation, dtype=np.int64).reshape(-1)
        if sorted(perm.tolist()) != list(range(p.shape[0])):
            raise AgentError(f"`permutation` must be a permutation of 0..{p.shape[0] - 1}, got {perm.tolist()}.")
        q = np.zeros_like(p)
        q[np.ix_(perm, perm)] = p
        p = q
    return float(np.linalg.norm(p - t))


def discovery_metrics(
    true_classes: Any,
    predicted_classes: Any,
    true_angles: Any = None,
    predicted_angles: Any = None,
    period: float = 2 * np.pi,
) -> dict[str, float]:
    """``ari``, ``nmi`` and, with angles, ``angle_error`` [rad], ``angle_offset`` [rad] and ``angle_correlation``."""
    out = {"ari": adjusted_rand(true_classes, predicted_classes), "nmi": normalized_mutual_info(true_classes, predicted_classes)}
    if true_angles is not None and predicted_angles is not None:
        err = circular_error(true_angles, predicted_angles, period)
        out.update(
            {
                "angle_error": err["error"],
                "angle_offset": err["offset"],
                "angle_correlation": circular_correlation(true_angles, predicted_angles, period),
            }
        )
    return out
