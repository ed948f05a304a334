"""Scoring an episode against the twin's ground truth: the metrics of one (agent, seed) run.

Explore episodes are scored with :func:`stemtwin.agents.metrics.explore_metrics` against the env's
noise-free ``true_map()``. Discovery episodes are scored per atom: the atoms the agent found in each
frame are matched to the true atoms of that frame (:func:`match_to_truth`), and the classes, the
fragment rotations and the class transitions of the matched atoms are compared with the truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import ndimage
from stemtwin.agents import metrics as agent_metrics
from stemtwin.agents.atom_finding import match_positions
from stemtwin.agents.discovery import register_frames

__all__ = ["explore_scores", "discovery_scores", "match_to_truth", "MATCH_TOLERANCE"]

#: Largest distance between a found atom and its matched true atom [frame pixels].
MATCH_TOLERANCE = 3.0
#: Weight of heavy atoms (dopants, Re) in the rendering used to register a frame against its truth.
_HEAVY_WEIGHT = 4.0


def match_to_truth(
    frame: np.ndarray, found: np.ndarray, truth: np.ndarray, weights: np.ndarray, tol: float = MATCH_TOLERANCE
) -> tuple[np.ndarray, np.ndarray]:
    """Match found atoms to the true (nominal) pixel positions of a frame recorded with scan distortions.

    The true positions are nominal; the scan moves the image by a global offset (drift, random walk)
    and by a displacement that varies smoothly along the slow scan axis (axis 1). A rendering of the
    truth is registered against the frame, then matching alternates with a Gaussian-smoothed
    displacement field along axis 1.

    Parameters
    ----------
    frame
        The recorded frame, ndarray (P, P).
    found
        Positions the agent found, (n, 2) [frame pixels].
    truth
        True nominal positions, (k, 2) [frame pixels].
    weights
        Relative brightness of the true atoms, (k,).
    tol
        Matching radius [frame pixels].

    Returns
    -------
    (ia, ib)
        Indices into ``found`` and ``truth`` of the matched pairs.
    """
    found = np.asarray(found, dtype=np.float64).reshape(-1, 2)
    truth = np.asarray(truth, dtype=np.float64).reshape(-1, 2)
    if len(found) == 0 or len(truth) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    img = np.zeros(frame.shape)
    ip = np.round(truth).astype(int)
    ok = np.all((ip >= 0) & (ip < np.array(frame.shape)), axis=1)
    np.add.at(img, (ip[ok, 0], ip[ok, 1]), np.asarray(weights, dtype=np.float64)[ok])
    shift = register_frames(ndimage.gaussian_filter(img, 2.5), ndimage.gaussian_filter(frame, 2.0), max_shift=40.0)
    pred = truth - shift
    for _ in range(3):
        ia, ib, _ = match_positions(found, pred, 2 * tol)
        if len(ia) < 5:
            break
        resid = found[ia] - pred[ib]
        w = np.exp(-0.5 * ((pred[:, 1][:, None] - pred[ib, 1][None, :]) / 6.0) ** 2)
        pred = pred + (w @ resid) / np.maximum(w.sum(axis=1, keepdims=True), 1e-9)
    ia, ib, _ = match_positions(found, pred, tol)
    return np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64)


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def explore_scores(
    true_map: np.ndarray, result: Mapping[str, Any], delivered: Sequence[float] | None = None
) -> tuple[dict[str, float | None], dict[str, np.ndarray]]:
    """Explore metrics of one episode, and the per-step regret.

    Regret is scored on what the beam delivered: ``max(true map) − best noise-free value measured so
    far``, where each measured value is the env's ``info["noise_free_scalar"]``, the scalarizer of the
    noise-free measurement *at the position where the probe actually landed*. With scan distortions
    (``scan_noise = "typical"``: drift and a random walk of a few Å) that can differ from the true map
    at the nominal candidate, and an agent that lands on a better spot than any candidate scores
    regret 0 (regret is clipped at 0). Without distortions the two agree. ``mean_value`` is the mean
    delivered value scaled to the true map's range: the share of the budget spent on good sites. The
    other metrics
    (``top_found``, ``step_in_top``, ``nrmse``, ``coverage_2sigma``) compare the nominal candidates and
    the predicted map with the true map.

    Parameters
    ----------
    true_map
        The env's noise-free map over the candidates, (G, G).
    result
        The output of :func:`stemtwin.agents.run_episode`.
    delivered
        Noise-free value of every measurement, (T,); None scores regret on ``true_map[action]``.

    Returns
    -------
    (metrics, per_step)
        Scalar metrics (``None`` where undefined) and per-step arrays ``value`` (the delivered value),
        ``regret`` and ``normalised_regret`` (T,).
    """
    report = result["report"]
    t = np.asarray(true_map, dtype=np.float64).reshape(-1)
    n = t.size
    mean, std = report.get("mean"), report.get("std")
    if mean is not None and (np.asarray(mean).size != n or not np.all(np.isfinite(mean))):
        mean = None
    if std is not None and (mean is None or np.asarray(std).size != n or not np.all(np.isfinite(std))):
        std = None
    value = agent_metrics.measured_values(t, result["actions"], delivered)
    raw = agent_metrics.explore_metrics(t, result["actions"], mean, std, result["final_info"], values=value)
    regret = np.asarray(raw.pop("regret"), dtype=np.float64)
    span = float(np.ptp(t))
    normalised = regret / span if span > 0 else np.zeros_like(regret)
    out = {k: _finite_or_none(v) for k, v in raw.items() if k != "steps"}
    return out, {"value": value, "regret": regret, "normalised_regret": normalised}


def discovery_scores(
    report: Mapping[str, Any], frames: Sequence[np.ndarray], truths: Sequence[Mapping[str, Any]], final_info: Mapping[str, Any]
) -> tuple[dict[str, float | None], dict[str, np.ndarray]]:
    """Discovery metrics of one episode, and the matched atoms for figures.

    Parameters
    ----------
    report
        The discovery agent's report (``positions``, ``classes``, ``angles``, ``latents``,
        ``transition_counts`` per frame; :class:`stemtwin.agents.discovery.RVAEDiscoveryAgent`).
    frames
        The recorded frames, one (P, P) array per frame (reset first).
    truths
        ``frame_truth()`` of each frame.
    final_info
        The env's last ``info`` (``cumulative_dose``, ``events``).

    Returns
    -------
    (metrics, arrays)
        ``ari``, ``nmi``, ``angle_error`` [rad], ``angle_correlation``, ``transition_error``,
        ``matched_fraction``, ``events``, ``dose_per_area`` [e⁻/Å²]; arrays ``latent`` (n, 2),
        ``true_class``, ``pred_class``, ``pred_angle``, ``true_angle`` [rad], ``symmetry`` and
        ``class_names`` of the matched atoms.
    """
    true_cls, pred_cls, true_ang, pred_ang, orders, latents = [], [], [], [], [], []
    matched: list[dict[int, int]] = []  # per frame: found index -> sample atom index
    n_found = 0
    names = np.asarray(truths[0]["site_class_names"], dtype=str)
    for t, truth in enumerate(truths):
        found = np.asarray(report["positions"][t]).reshape(-1, 2)
        n_found += len(found)
        elements = np.asarray(truth["elements"], dtype=str)
        heavy = ~np.isin(elements, ["C", "S", "O"])
        ia, ib = match_to_truth(np.asarray(frames[t], dtype=np.float64), found, truth["pixel_positions"], np.where(heavy, _HEAVY_WEIGHT, 1.0))
        matched.append(dict(zip(ia.tolist(), np.asarray(truth["atom_index"])[ib].tolist(), strict=True)))
        true_cls.append(np.asarray(truth["site_class"])[ib])
        pred_cls.append(np.asarray(report["classes"][t])[ia])
        order = np.maximum(np.asarray(truth["symmetry"])[ib], 1)
        orders.append(order)
        true_ang.append(np.asarray(truth["rotation"])[ib])
        pred_ang.append(np.asarray(report["angles"][t])[ia])
        lat = np.asarray(report["latents"][t])[ia]
        lat = lat[:, :2] if lat.shape[1] >= 2 else np.pad(lat, ((0, 0), (0, 2 - lat.shape[1])))
        latents.append(lat)
    tc, pc = np.concatenate(true_cls), np.concatenate(pred_cls)
    order = np.concatenate(orders)
    ta, pa = np.concatenate(true_ang), np.concatenate(pred_ang)
    metrics: dict[str, float | None] = dict.fromkeys(("ari", "nmi", "angle_error", "angle_correlation", "transition_error"))
    if tc.size >= 2:
        # Rotations are periodic in 2π/n: compare n·θ, periodic in 2π.
        found = agent_metrics.discovery_metrics(tc, pc, ta * order, pa * order, period=2 * np.pi)
        metrics.update({k: _finite_or_none(found.get(k)) for k in ("ari", "nmi", "angle_error", "angle_correlation")})
        metrics["transition_error"] = _transition_error(report, truths, matched, tc, pc, len(names))
    area = float(np.prod(np.asarray(truths[-1]["sample"].extent, dtype=np.float64)))
    metrics["matched_fraction"] = tc.size / n_found if n_found else None
    metrics["events"] = float(final_info.get("events", 0))
    metrics["dose_per_area"] = _finite_or_none(float(final_info.get("cumulative_dose", np.nan)) / area)
    arrays = {
        "latent": np.concatenate(latents).astype(np.float64),
        "true_class": tc.astype(np.int64),
        "pred_class": pc.astype(np.int64),
        "class_names": names,
        "pred_angle": pa.astype(np.float64),
        "true_angle": ta.astype(np.float64),
        "symmetry": order.astype(np.int64),
    }
    return metrics, arrays


def _transition_error(
    report: Mapping[str, Any],
    truths: Sequence[Mapping[str, Any]],
    matched: Sequence[Mapping[int, int]],
    true_classes: np.ndarray,
    pred_classes: np.ndarray,
    n_true: int,
) -> float | None:
    """Frobenius distance of the agent's class-transition matrix (mapped to true classes) and the true one.

    The true matrix counts, over the agent's own tracks between consecutive frames whose atoms were
    matched, the true class before and after; the predicted one the agent's classes on the same pairs,
    mapped to true classes by the label alignment of all matched atoms.
    """
    mapping = agent_metrics.align_labels(true_classes, pred_classes)
    before_true, after_true, before_pred, after_pred = [], [], [], []
    for t in range(1, len(truths)):
        pairs = np.asarray(report["tracks"][t]).reshape(-1, 2) if t < len(report["tracks"]) else np.zeros((0, 2), int)
        cls_prev = dict(zip(np.asarray(truths[t - 1]["atom_index"]).tolist(), np.asarray(truths[t - 1]["site_class"]).tolist(), strict=True))
        cls_now = dict(zip(np.asarray(truths[t]["atom_index"]).tolist(), np.asarray(truths[t]["site_class"]).tolist(), strict=True))
        for a, b in pairs.tolist():
            if a in matched[t - 1] and b in matched[t]:
                atom_a, atom_b = matched[t - 1][a], matched[t][b]
                if atom_a in cls_prev and atom_b in cls_now:
                    before_true.append(cls_prev[atom_a])
                    after_true.append(cls_now[atom_b])
                    before_pred.append(mapping.get(int(report["classes"][t - 1][a]), -1))
                    after_pred.append(mapping.get(int(report["classes"][t][b]), -1))
    keep = [i for i in range(len(before_pred)) if 0 <= before_pred[i] < n_true and 0 <= after_pred[i] < n_true]
    if not keep:
        return None
    idx = np.asarray(keep)
    true_m = agent_metrics.transition_matrix(np.asarray(before_true)[idx], np.asarray(after_true)[idx], n_true)
    pred_m = agent_metrics.transition_matrix(np.asarray(before_pred)[idx], np.asarray(after_pred)[idx], n_true)
    return _finite_or_none(agent_metrics.transition_matrix_error(pred_m, true_m))
