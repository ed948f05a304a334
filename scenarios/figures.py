"""Figures of a benchmark run: regret curves, explore maps and discovery latents.

Every function returns a :class:`matplotlib.figure.Figure` built without :mod:`matplotlib.pyplot`,
so no global figure state is created or leaked; the caller saves it (``fig.savefig(path, dpi=100)``)
and drops it. The drawing is deterministic: the same arrays give the same PNG bytes.

Arrays are indexed (x, y), as in :mod:`stemtwin.twin`; they are transposed only here, at the
plotting edge (``imshow(arr.T, origin="lower", extent=[0, Lx, 0, Ly])``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = [
    "DPI",
    "regret_figure",
    "explore_panels_figure",
    "discovery_figure",
    "scenario_figures",
    "best_offset",
    "safe_name",
]

#: Resolution of the saved PNG files [dots per inch].
DPI = 100
#: Colours of agents and classes, in order (matplotlib's ``tab10``).
_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
#: Face colour of a panel whose array is missing (all NaN).
_MISSING_FACE = "#d9d9d9"


def safe_name(name: str) -> str:
    """``name`` reduced to ``[A-Za-z0-9._-]`` so that it can be part of a file name."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")
    return cleaned or "unnamed"


def _colour(index: int) -> str:
    return _COLOURS[index % len(_COLOURS)]


# --------------------------------------------------------------------------------------------------
# Regret versus step
# --------------------------------------------------------------------------------------------------


def _regret_matrix(records: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Normalised regret of one agent as an array of shape (n_seeds, n_steps); NaN past a seed's end."""
    seeds = sorted({int(r["seed"]) for r in records})
    n_steps = max(int(r["step"]) for r in records)
    matrix = np.full((len(seeds), n_steps), np.nan)
    row = {seed: k for k, seed in enumerate(seeds)}
    for r in records:
        value = r.get("normalised_regret")
        matrix[row[int(r["seed"])], int(r["step"]) - 1] = np.nan if value is None else float(value)
    return matrix


def _column_quantiles(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column 25th, 50th and 75th percentiles over the finite entries; NaN where none."""
    out = np.full((3, matrix.shape[1]), np.nan)
    for k in range(matrix.shape[1]):
        column = matrix[:, k][np.isfinite(matrix[:, k])]
        if column.size:
            out[:, k] = np.percentile(column, [25.0, 50.0, 75.0])
    return out[0], out[1], out[2]


def _use_log_scale(values: np.ndarray) -> bool:
    """Log-y only where every value is positive and the values span more than two decades."""
    finite = values[np.isfinite(values)]
    return bool(finite.size) and bool(np.all(finite > 0)) and float(finite.max() / finite.min()) > 100.0


def regret_figure(step_records: Iterable[Mapping[str, Any]], scenario_title: str) -> Figure:
    """Normalised regret versus step: the median over seeds with its interquartile band, per agent.

    Parameters
    ----------
    step_records
        Step records (``kind == "step"``) of one scenario, with ``agent``, ``seed``, ``step``
        (1-based) and ``normalised_regret`` [dimensionless]. Other kinds are ignored.
    scenario_title
        Title of the figure.

    Returns
    -------
    Figure
        One axes. A seed that ended early does not count at the steps after its end.
    """
    by_agent: dict[str, list[Mapping[str, Any]]] = {}
    for r in step_records:
        if r.get("kind", "step") == "step":
            by_agent.setdefault(str(r["agent"]), []).append(r)
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.add_subplot()
    plotted: list[np.ndarray] = []
    for index, agent in enumerate(sorted(by_agent)):
        q25, median, q75 = _column_quantiles(_regret_matrix(by_agent[agent]))
        steps = np.arange(1, median.size + 1)
        n_seeds = len({int(r["seed"]) for r in by_agent[agent]})
        ax.fill_between(steps, q25, q75, color=_colour(index), alpha=0.2, linewidth=0)
        ax.plot(steps, median, color=_colour(index), label=f"{agent} (n={n_seeds})")
        plotted.append(np.concatenate([q25, median, q75]))
    if plotted and _use_log_scale(np.concatenate(plotted)):
        ax.set_yscale("log")
    if not plotted:
        ax.text(0.5, 0.5, "no step records", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.legend(fontsize="small")
    ax.set_xlabel("step")
    ax.set_ylabel("normalised regret (median, IQR band)")
    ax.set_title(scenario_title)
    ax.grid(True, alpha=0.3)
    return fig


# --------------------------------------------------------------------------------------------------
# Explore: maps and the path of measurements
# --------------------------------------------------------------------------------------------------


def _all_nan(array: np.ndarray | None) -> bool:
    return array is None or np.asarray(array).size == 0 or not np.any(np.isfinite(array))


def _map_panel(
    fig: Figure,
    ax: Axes,
    array: np.ndarray | None,
    extent: tuple[float, float],
    title: str,
    *,
    cmap: str = "viridis",
    limits: tuple[float, float] | None = None,
) -> None:
    """Draw one (x, y)-indexed map with a colour bar, or a grey panel marked "no model"."""
    ax.set_title(title, fontsize="medium")
    _label_axes(ax)
    lx, ly = extent
    ax.set_xlim(0.0, lx)
    ax.set_ylim(0.0, ly)
    ax.set_aspect("equal")
    if _all_nan(array):
        ax.set_facecolor(_MISSING_FACE)
        ax.text(0.5, 0.5, "no model", ha="center", va="center", transform=ax.transAxes, color="#555555")
        return
    vmin, vmax = limits if limits is not None else (None, None)
    im = ax.imshow(
        np.asarray(array, dtype=float).T, origin="lower", extent=(0.0, lx, 0.0, ly), cmap=cmap, vmin=vmin, vmax=vmax
    )
    fig.colorbar(im, ax=ax, shrink=0.8)


def _label_axes(ax: Axes) -> None:
    ax.set_xlabel("x [Å]")
    ax.set_ylabel("y [Å]")


def _candidate_positions(visited: np.ndarray, shape: tuple[int, int], extent: tuple[float, float]) -> np.ndarray:
    """Positions of candidate indices ``a = i * G_y + j`` as an array of shape (T, 2) [Å]."""
    i, j = np.unravel_index(np.asarray(visited, dtype=np.int64), shape)
    x = (i + 0.5) * extent[0] / shape[0]
    y = (j + 0.5) * extent[1] / shape[1]
    return np.stack([x, y], axis=-1)


def _path_panel(
    fig: Figure, ax: Axes, image: np.ndarray | None, positions: np.ndarray, extent: tuple[float, float]
) -> None:
    """The measurements in order, coloured by step, over the survey image; first and last marked."""
    lx, ly = extent
    if not _all_nan(image):
        ax.imshow(np.asarray(image, dtype=float).T, origin="lower", extent=(0.0, lx, 0.0, ly), cmap="gray")
    ax.set_xlim(0.0, lx)
    ax.set_ylim(0.0, ly)
    ax.set_aspect("equal")
    ax.set_title(f"path of {len(positions)} measurements", fontsize="medium")
    _label_axes(ax)
    if not len(positions):
        return
    steps = np.arange(1, len(positions) + 1)
    ax.plot(positions[:, 0], positions[:, 1], color="white", linewidth=0.6, alpha=0.6)
    points = ax.scatter(positions[:, 0], positions[:, 1], c=steps, cmap="plasma", s=14, zorder=3)
    ax.scatter(*positions[0], marker="*", s=140, color="#2ca02c", edgecolor="k", zorder=4, label="first")
    ax.scatter(*positions[-1], marker="X", s=90, color="#d62728", edgecolor="k", zorder=4, label="last")
    ax.legend(loc="upper right", fontsize="x-small", framealpha=0.7)
    fig.colorbar(points, ax=ax, shrink=0.8, label="step")


def _trace_panel(ax: Axes, true_map: np.ndarray, visited: np.ndarray) -> None:
    """True value at each measured candidate and the best so far, against the step."""
    ax.set_title("true value measured", fontsize="medium")
    ax.set_xlabel("step")
    ax.set_ylabel("true map value")
    if not len(visited) or _all_nan(true_map):
        ax.text(0.5, 0.5, "no measurements", ha="center", va="center", transform=ax.transAxes)
        return
    values = np.asarray(true_map, dtype=float).ravel()[np.asarray(visited, dtype=np.int64)]
    steps = np.arange(1, len(values) + 1)
    ax.plot(steps, values, "o", markersize=3, color="#7f7f7f", label="measured")
    ax.plot(steps, np.fmax.accumulate(values), color="#1f77b4", label="best so far")
    ax.axhline(float(np.nanmax(true_map)), color="#d62728", linestyle="--", linewidth=1, label="maximum")
    ax.legend(fontsize="x-small")
    ax.grid(True, alpha=0.3)


def explore_panels_figure(arrays: Mapping[str, np.ndarray], title: str) -> Figure:
    """The maps of one explore episode and the path of its measurements.

    Parameters
    ----------
    arrays
        An explore artifact: ``true_map``, ``mean``, ``std`` and ``acquisition``, each an ndarray
        of shape (G_x, G_y) indexed (x, y) (``mean``, ``std`` and ``acquisition`` may be all NaN);
        ``visited``, int ndarray of shape (T,) of candidate indices ``i * G_y + j``; ``image``,
        ndarray of shape (P_x, P_y) of the survey image; ``extent``, (Lx, Ly) [Å].
    title
        Title of the figure.

    Returns
    -------
    Figure
        Six panels in a 2×3 grid: true map, predicted mean (same colour scale as the truth),
        uncertainty, acquisition, the path over the survey image, and the true values measured
        against the step. A panel whose array is all NaN is grey and says "no model". Each drawn
        map and the path carry a colour bar.
    """
    true_map = np.asarray(arrays["true_map"], dtype=float)
    extent_arr = np.asarray(arrays.get("extent", true_map.shape), dtype=float)
    extent = (float(extent_arr[0]), float(extent_arr[1]))
    visited = np.asarray(arrays.get("visited", np.zeros(0, dtype=np.int64)), dtype=np.int64)
    limits = (float(np.nanmin(true_map)), float(np.nanmax(true_map))) if not _all_nan(true_map) else None

    fig = Figure(figsize=(13.5, 8.0), layout="constrained")
    axes = fig.subplots(2, 3)
    _map_panel(fig, axes[0, 0], true_map, extent, "true map", limits=limits)
    if not _all_nan(true_map):
        peak = np.unravel_index(int(np.nanargmax(true_map)), true_map.shape)
        x, y = _candidate_positions(np.ravel_multi_index(peak, true_map.shape), true_map.shape, extent)
        axes[0, 0].plot(x, y, "+", color="white", markersize=12, markeredgewidth=2)
    _map_panel(fig, axes[0, 1], arrays.get("mean"), extent, "predicted mean", limits=limits)
    _map_panel(fig, axes[0, 2], arrays.get("std"), extent, "uncertainty (std)", cmap="magma")
    _map_panel(fig, axes[1, 0], arrays.get("acquisition"), extent, "acquisition", cmap="cividis")
    positions = _candidate_positions(visited, true_map.shape, extent)
    _path_panel(fig, axes[1, 1], arrays.get("image"), positions, extent)
    _trace_panel(axes[1, 2], true_map, visited)
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------------------------------
# Discovery: latent space and rotations
# --------------------------------------------------------------------------------------------------


def _periods(symmetry: np.ndarray) -> np.ndarray:
    """Angular period 2π/n of each fragment [rad]; an order below 1 counts as 1."""
    return 2.0 * np.pi / np.maximum(np.asarray(symmetry, dtype=float), 1.0)


def best_offset(pred_angle: np.ndarray, true_angle: np.ndarray, symmetry: np.ndarray, *, n_grid: int = 720) -> float:
    """The global rotation offset that best maps the true onto the predicted angles [rad].

    Minimises ``Σ 1 − cos(n_k (pred_k − true_k − c))`` over a grid of ``c`` in [0, 2π), so each
    fragment counts modulo its own period 2π/n_k.

    Parameters
    ----------
    pred_angle, true_angle
        ndarray of shape (n,) [rad].
    symmetry
        Int ndarray of shape (n,): rotational order of each fragment.
    n_grid
        Number of trial offsets.

    Returns
    -------
    float
        The offset ``c`` [rad]; 0.0 for no fragments.
    """
    diff = np.asarray(pred_angle, dtype=float) - np.asarray(true_angle, dtype=float)
    if not diff.size:
        return 0.0
    order = np.maximum(np.asarray(symmetry, dtype=float), 1.0)
    grid = np.linspace(0.0, 2.0 * np.pi, n_grid, endpoint=False)
    cost = np.sum(1.0 - np.cos(order[None, :] * (diff[None, :] - grid[:, None])), axis=1)
    return float(grid[int(np.argmin(cost))])


def _class_label(class_names: Sequence[str], k: int) -> str:
    return str(class_names[k]) if 0 <= k < len(class_names) else f"class {k}"


def _latent_panel(ax: Axes, latent: np.ndarray, true_class: np.ndarray, class_names: Sequence[str]) -> None:
    ax.set_title("latent space, by true class", fontsize="medium")
    ax.set_xlabel("latent 1")
    ax.set_ylabel("latent 2")
    if not len(latent):
        ax.text(0.5, 0.5, "no matched atoms", ha="center", va="center", transform=ax.transAxes)
        return
    for k in np.unique(true_class):
        chosen = true_class == k
        ax.scatter(latent[chosen, 0], latent[chosen, 1], s=10, alpha=0.7, color=_colour(int(k)),
                   label=f"{_class_label(class_names, int(k))} ({int(chosen.sum())})")  # fmt: skip
    ax.legend(fontsize="x-small", markerscale=1.5)
    ax.grid(True, alpha=0.3)


def _angle_panel(
    ax: Axes, arrays: Mapping[str, np.ndarray], true_class: np.ndarray, class_names: Sequence[str]
) -> None:
    pred = np.asarray(arrays["pred_angle"], dtype=float)
    true = np.asarray(arrays["true_angle"], dtype=float)
    symmetry = np.asarray(arrays.get("symmetry", np.ones(pred.shape, dtype=np.int64)))
    periods = _periods(symmetry)
    offset = best_offset(pred, true, symmetry)
    x = np.degrees(np.mod(true, periods))
    y = np.degrees(np.mod(pred - offset, periods))
    ax.set_title(f"rotation (prediction − {math.degrees(offset):.1f}° offset)", fontsize="medium")
    ax.set_xlabel("true angle mod 360°/n [°]")
    ax.set_ylabel("predicted angle − offset, mod 360°/n [°]")
    if not pred.size:
        ax.text(0.5, 0.5, "no matched atoms", ha="center", va="center", transform=ax.transAxes)
        return
    for k in np.unique(true_class):
        chosen = true_class == k
        ax.scatter(x[chosen], y[chosen], s=10, alpha=0.7, color=_colour(int(k)),
                   label=_class_label(class_names, int(k)))  # fmt: skip
    top = float(np.degrees(periods.max()))
    ax.plot([0.0, top], [0.0, top], color="k", linestyle="--", linewidth=1, label="perfect")
    ax.set_xlim(0.0, top)
    ax.set_ylim(0.0, top)
    ax.set_aspect("equal")
    ax.grid(True, alpha=0.3)


def discovery_figure(arrays: Mapping[str, np.ndarray], title: str) -> Figure:
    """The latent space of one discovery episode and its predicted against true rotations.

    Parameters
    ----------
    arrays
        A discovery artifact: ``latent``, ndarray of shape (n, 2); ``true_class`` and ``pred_class``,
        int ndarrays of shape (n,); ``class_names``, str ndarray of shape (k,); ``pred_angle`` and
        ``true_angle``, ndarrays of shape (n,) [rad]; ``symmetry``, int ndarray of shape (n,)
        (rotational order; angles are periodic in 2π/n).
    title
        Title of the figure.

    Returns
    -------
    Figure
        Two panels: the latent scatter coloured by true class, and the predicted angle (less the
        best global offset, see :func:`best_offset`) against the true angle, both reduced modulo
        360°/n [°], with the diagonal of a perfect prediction.
    """
    latent = np.asarray(arrays["latent"], dtype=float).reshape(-1, 2)
    true_class = np.asarray(arrays["true_class"], dtype=np.int64)
    class_names = [str(name) for name in np.asarray(arrays.get("class_names", np.zeros(0, dtype=str)))]
    fig = Figure(figsize=(11.0, 4.8), layout="constrained")
    ax_latent, ax_angle = fig.subplots(1, 2)
    _latent_panel(ax_latent, latent, true_class, class_names)
    _angle_panel(ax_angle, arrays, true_class, class_names)
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------------------------------
# Choice of figures per scenario
# --------------------------------------------------------------------------------------------------


def _median_seed(seeds: Sequence[int], values: Mapping[int, float | None], better: str | None) -> int:
    """The seed whose primary value is the median (the better of the two middle ones), ties by seed."""

    def key(seed: int) -> tuple[float, int]:
        value = float(values[seed])  # type: ignore[arg-type]
        return (-value if better == "higher" else value, seed)

    ordered = sorted(seeds, key=key)
    return ordered[(len(ordered) - 1) // 2]


def _primary_values(
    episode_records: Iterable[Mapping[str, Any]], scenario: str, agent: str, primary: str
) -> dict[int, float | None]:
    values: dict[int, float | None] = {}
    for r in episode_records:
        if r.get("kind") == "episode" and r["scenario"] == scenario and r["agent"] == agent:
            value = r.get("metrics", {}).get(primary)
            values[int(r["seed"])] = None if value is None else float(value)
    return values


def _pick_episode(
    scenario: str,
    entry: Mapping[str, Any],
    artifacts: Mapping[tuple[str, int], Mapping[str, np.ndarray]],
    episode_records: Sequence[Mapping[str, Any]],
) -> tuple[str, int] | None:
    """The best-ranked agent having an artifact, and its median-performing seed among those."""
    ranking = list(entry.get("ranking", [])) or sorted({agent for agent, _ in artifacts})
    for agent in ranking:
        seeds = sorted(seed for a, seed in artifacts if a == agent)
        if seeds:
            values = _primary_values(episode_records, scenario, agent, str(entry.get("primary", "")))
            scored = [seed for seed in seeds if values.get(seed) is not None and math.isfinite(values[seed])]
            return agent, _median_seed(scored, values, entry.get("better")) if scored else seeds[0]
    return None


def scenario_figures(
    scenario_name: str,
    summary_entry: Mapping[str, Any],
    step_records: Iterable[Mapping[str, Any]],
    artifacts: Iterable[Mapping[str, Any]],
    *,
    episode_records: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Figure]:
    """The figures of one scenario, keyed by their PNG file name.

    Parameters
    ----------
    scenario_name
        Name of the scenario; records of other scenarios are ignored.
    summary_entry
        ``summary["scenarios"][scenario_name]`` from :func:`stemtwin.scenarios.report.summarize`
        (uses ``title``, ``task``, ``primary``, ``better`` and ``ranking``).
    step_records
        Step records (any scenario).
    artifacts
        Artifact records (``{"scenario", "agent", "seed", "arrays"}``, any scenario).
    episode_records
        Episode records; used to pick the median-performing seed of the best agent by the
        primary metric. Without them, the lowest seed with an artifact.

    Returns
    -------
    dict of str to Figure
        Explore: ``<scenario>_regret.png`` (when there are step records) and
        ``<scenario>_<agent>_seed<seed>_maps.png``; discovery:
        ``<scenario>_<agent>_seed<seed>_latent.png``, for the best-ranked agent with an artifact.
    """
    title = str(summary_entry.get("title", scenario_name))
    stem = safe_name(scenario_name)
    task = summary_entry.get("task")
    figures: dict[str, Figure] = {}
    steps = [r for r in step_records if r.get("kind", "step") == "step" and r["scenario"] == scenario_name]
    if task == "explore" and steps:
        figures[f"{stem}_regret.png"] = regret_figure(steps, title)
    by_key = {(str(a["agent"]), int(a["seed"])): a["arrays"] for a in artifacts if a["scenario"] == scenario_name}
    chosen = _pick_episode(scenario_name, summary_entry, by_key, list(episode_records))
    if chosen is None:
        return figures
    agent, seed = chosen
    label = f"{title}: {agent}, seed {seed}"
    if task == "explore":
        figures[f"{stem}_{safe_name(agent)}_seed{seed}_maps.png"] = explore_panels_figure(by_key[chosen], label)
    elif task == "discovery":
        figures[f"{stem}_{safe_name(agent)}_seed{seed}_latent.png"] = discovery_figure(by_key[chosen], label)
    return figures

