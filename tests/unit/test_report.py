"""Summaries, leaderboards, figures and the output folder of a benchmark run (synthetic records)."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stemtwin.scenarios.figures import (
    best_offset,
    discovery_figure,
    explore_panels_figure,
    regret_figure,
    scenario_figures,
)
from stemtwin.scenarios.metrics import METRICS
from stemtwin.scenarios.report import (
    build_summary,
    leaderboard_table,
    package_versions,
    summarize,
    write_results,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
AGENTS = ("dkl", "random")
SEEDS = (0, 1, 2)
GRID = 8
STEPS = 10
EXTENT = (20.0, 16.0)

SCENARIOS: dict[str, dict[str, Any]] = {
    "toy-explore": {
        "title": "Toy explore",
        "task": "explore",
        "metrics": ["final_regret", "nrmse", "dose"],
        "primary": "final_regret",
        "description": "An 8×8 toy map.",
    },
    "toy-discovery": {
        "title": "Toy discovery",
        "task": "discovery",
        "metrics": ["ari", "angle_error"],
        "primary": "ari",
    },
}

#: Known per-seed values: dkl is better on final_regret (lower) and ari (higher).
FINAL_REGRET = {"dkl": [0.1, 0.3, 0.2], "random": [0.5, 0.9, 0.7]}
ARI = {"dkl": [0.8, 0.6, 0.9], "random": [0.1, 0.2, 0.0]}


def _explore_arrays(agent: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    x, y = np.meshgrid(np.linspace(0, 1, GRID), np.linspace(0, 1, GRID), indexing="ij")
    true_map = np.exp(-((x - 0.7) ** 2 + (y - 0.3) ** 2) / 0.05)
    nan = np.full((GRID, GRID), np.nan)
    model = agent == "dkl"
    return {
        "true_map": true_map,
        "mean": true_map + 0.05 * rng.standard_normal(true_map.shape) if model else nan,
        "std": 0.1 + 0.0 * true_map if model else nan,
        "acquisition": true_map + 0.1 if model else nan.copy(),
        "visited": rng.choice(GRID * GRID, size=STEPS, replace=False).astype(np.int64),
        "image": rng.random((32, 32)).astype(np.float32),
        "extent": np.array(EXTENT),
    }


def _discovery_arrays(rng: np.random.Generator, n: int = 30) -> dict[str, np.ndarray]:
    true_class = np.arange(n) % 3
    symmetry = np.where(true_class == 2, 4, 3).astype(np.int64)
    true_angle = rng.uniform(0, 2 * np.pi, n)
    return {
        "latent": rng.standard_normal((n, 2)) + true_class[:, None],
        "true_class": true_class,
        "pred_class": (true_class + (rng.random(n) < 0.1)) % 3,
        "class_names": np.array(["C_pristine", "Si_3fold", "Si_4fold"]),
        "pred_angle": true_angle + 0.4 + 0.02 * rng.standard_normal(n),
        "true_angle": true_angle,
        "symmetry": symmetry,
    }


def _records(wall_offset: float = 0.0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    records: list[dict[str, Any]] = []
    for agent in AGENTS:
        for k, seed in enumerate(SEEDS):
            final = FINAL_REGRET[agent][k]
            for step in range(1, STEPS + 1):
                regret = final + (STEPS - step) * 0.05
                records.append({"kind": "step", "scenario": "toy-explore", "agent": agent, "seed": seed,
                                "step": step, "reward": 1.0 - regret, "regret": regret,
                                "normalised_regret": regret, "dose": 100.0 * step, "time": 0.1 * step})  # fmt: skip
            metrics = {name: None for name in SCENARIOS["toy-explore"]["metrics"]}
            metrics.update(final_regret=final, dose=1000.0 + seed, nrmse=0.1 * (k + 1) if agent == "dkl" else None)
            records.append({"kind": "episode", "scenario": "toy-explore", "task": "explore", "agent": agent,
                            "seed": seed, "metrics": metrics, "steps": STEPS, "wall_seconds": 1.0 + k + wall_offset,
                            "agent_seconds": 0.5, "env_seconds": 0.5})  # fmt: skip
            records.append({"kind": "artifact", "scenario": "toy-explore", "task": "explore", "agent": agent,
                            "seed": seed, "arrays": _explore_arrays(agent, rng)})  # fmt: skip
            angle_error = float("nan") if (agent, seed) == ("random", 2) else 0.1 * (k + 1)
            records.append({"kind": "episode", "scenario": "toy-discovery", "task": "discovery", "agent": agent,
                            "seed": seed, "metrics": {"ari": ARI[agent][k], "angle_error": angle_error},
                            "steps": 5, "wall_seconds": 2.0 + wall_offset, "agent_seconds": 1.0,
                            "env_seconds": 1.0})  # fmt: skip
            records.append({"kind": "artifact", "scenario": "toy-discovery", "task": "discovery", "agent": agent,
                            "seed": seed, "arrays": _discovery_arrays(rng)})  # fmt: skip
    return records


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return _records()


@pytest.fixture(scope="module")
def summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    return build_summary(records, SCENARIOS, {"agents": list(AGENTS), "seeds": list(SEEDS)})


def test_package_versions_name_every_package() -> None:
    versions = package_versions()
    for key in ("python", "platform", "numpy", "scipy", "torch", "scikit-learn", "dask", "distributed"):
        assert isinstance(versions[key], str) and versions[key]
    assert versions["numpy"] == np.__version__


def test_statistics_equal_numpy_percentiles(summary: dict[str, Any]) -> None:
    entry = summary["scenarios"]["toy-explore"]
    for agent in AGENTS:
        stats = entry["agents"][agent]["metrics"]["final_regret"]
        q25, median, q75 = np.percentile(FINAL_REGRET[agent], [25, 50, 75])
        assert stats == {"median": median, "q25": q25, "q75": q75, "iqr": q75 - q25, "n": 3}
        assert entry["agents"][agent]["seeds"] == list(SEEDS)
        assert entry["agents"][agent]["n_seeds"] == 3
    wall = entry["agents"]["dkl"]["wall_seconds"]
    assert wall["median"] == 2.0 and wall["n"] == 3


def test_none_and_nan_metrics_are_skipped(summary: dict[str, Any]) -> None:
    explore = summary["scenarios"]["toy-explore"]["agents"]
    assert explore["random"]["metrics"]["nrmse"] == {"median": None, "q25": None, "q75": None, "iqr": None, "n": 0}
    assert explore["dkl"]["metrics"]["nrmse"]["n"] == 3
    angle = summary["scenarios"]["toy-discovery"]["agents"]["random"]["metrics"]["angle_error"]
    assert angle["n"] == 2
    assert angle["median"] == pytest.approx(np.median([0.1, 0.2]))


def test_ranking_follows_the_better_direction(summary: dict[str, Any]) -> None:
    explore, discovery = summary["scenarios"]["toy-explore"], summary["scenarios"]["toy-discovery"]
    assert explore["better"] == METRICS["final_regret"].better == "lower"
    assert discovery["better"] == METRICS["ari"].better == "higher"
    assert explore["ranking"] == ["dkl", "random"]
    assert discovery["ranking"] == ["dkl", "random"]
    # Swapping the values swaps the order, in both directions.
    swapped = copy.deepcopy(_records())
    for r in swapped:
        if r["kind"] == "episode":
            r["agent"] = {"dkl": "random", "random": "dkl"}[r["agent"]]
    for r in swapped:
        if r["kind"] != "episode":
            r["agent"] = {"dkl": "random", "random": "dkl"}[r["agent"]]
    again = summarize(swapped, SCENARIOS)["scenarios"]
    assert again["toy-explore"]["ranking"] == ["random", "dkl"]
    assert again["toy-discovery"]["ranking"] == ["random", "dkl"]


def test_agents_without_a_primary_value_rank_last_and_ties_go_by_name() -> None:
    records = [
        {"kind": "episode", "scenario": "s", "task": "explore", "agent": agent, "seed": 0, "metrics": {"nrmse": v},
         "steps": 1, "wall_seconds": 1.0, "agent_seconds": 0.0, "env_seconds": 0.0}  # fmt: skip
        for agent, v in (("a_none", None), ("b", 0.5), ("a", 0.5), ("c", 0.1))
    ]
    spec = {"s": {"title": "S", "task": "explore", "metrics": ["nrmse"], "primary": "nrmse"}}
    assert summarize(records, spec)["scenarios"]["s"]["ranking"] == ["c", "a", "b", "a_none"]


def test_summary_is_json_without_nan_and_reproducible(records: list[dict[str, Any]]) -> None:
    first = summarize(records, SCENARIOS)
    text = json.dumps(first, allow_nan=False)
    assert "NaN" not in text
    assert json.loads(text) == first
    second = summarize(_records(wall_offset=3.5), SCENARIOS)
    assert json.dumps(second, allow_nan=False) != text  # the timings differ ...
    for name in SCENARIOS:  # ... the metrics and the ranking do not
        a, b = first["scenarios"][name], second["scenarios"][name]
        assert a["ranking"] == b["ranking"]
        for agent in AGENTS:
            assert json.dumps(a["agents"][agent]["metrics"]) == json.dumps(b["agents"][agent]["metrics"])
    assert json.dumps(summarize(list(reversed(records)), SCENARIOS)) == text  # record order does not matter


def test_summary_rejects_unknown_metrics_and_duplicates(records: list[dict[str, Any]]) -> None:
    bad = {"s": {"title": "S", "task": "explore", "metrics": ["nrsme"], "primary": "nrmse"}}
    with pytest.raises(ValueError, match="Did you mean 'nrmse'"):
        summarize([], bad)
    episode = next(r for r in records if r["kind"] == "episode")
    with pytest.raises(ValueError, match="two episode records"):
        summarize([episode, episode], SCENARIOS)


def test_build_summary_adds_config_versions_and_time(summary: dict[str, Any]) -> None:
    assert summary["config"] == {"agents": list(AGENTS), "seeds": list(SEEDS)}
    assert summary["versions"]["numpy"] == np.__version__
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", summary["created"])


@pytest.mark.parametrize("fmt", ["simple", "github"])
def test_leaderboard_names_every_agent_and_metric(summary: dict[str, Any], fmt: str) -> None:
    table = leaderboard_table(summary, fmt=fmt)
    for agent in AGENTS:
        assert agent in table
    for spec in SCENARIOS.values():
        assert spec["title"] in table
        for metric in spec["metrics"]:
            assert metric in table
    assert "dose [e⁻] ↓" in table and "ari ↑" in table
    assert "0.200 [0.150, 0.250]" in table  # dkl's final regret: median [q25, q75] of 0.1, 0.3, 0.2
    assert "1000 [1000, 1000]" in table  # fixed-point, not 1e+03
    if fmt == "github":
        assert "| rank" in table and "### Toy explore" in table
    with pytest.raises(ValueError, match="fmt"):
        leaderboard_table(summary, fmt="latex")


def test_write_results_writes_every_file(
    tmp_path: Path, records: list[dict[str, Any]], summary: dict[str, Any]
) -> None:
    written = write_results(tmp_path, records, summary)
    assert all(p.is_file() for p in written)
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    assert {"records.jsonl", "summary.json", "report.md"} <= names
    all_files = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert all_files == names  # nothing else, no temporary left behind

    lines = (tmp_path / "records.jsonl").read_text(encoding="utf-8").splitlines()
    parsed = [json.loads(line) for line in lines]
    assert len(parsed) == sum(r["kind"] in ("step", "episode") for r in records)
    assert {r["kind"] for r in parsed} == {"step", "episode"}
    keys = [(r["scenario"], r["agent"], r["seed"], r["kind"], r.get("step", 0)) for r in parsed]
    assert keys == sorted(keys)
    nan_episode = next(
        r for r in parsed if (r["scenario"], r["agent"], r["seed"], r["kind"]) == ("toy-discovery", "random", 2, "episode")
    )
    assert nan_episode["metrics"]["angle_error"] is None

    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["scenarios"] == summary["scenarios"]

    for agent in AGENTS:
        for seed in SEEDS:
            for scenario in SCENARIOS:
                with np.load(tmp_path / "artifacts" / scenario / f"{agent}_seed{seed}.npz", allow_pickle=False) as npz:
                    assert len(npz.files) > 0
    with np.load(tmp_path / "artifacts" / "toy-discovery" / "dkl_seed0.npz", allow_pickle=False) as npz:
        assert list(npz["class_names"]) == ["C_pristine", "Si_3fold", "Si_4fold"]

    pngs = sorted(p for p in written if p.suffix == ".png")
    assert {p.name for p in pngs} == {
        "toy-explore_regret.png",
        "toy-explore_dkl_seed2_maps.png",  # the median seed of dkl by final regret (0.1, 0.2, 0.3)
        "toy-discovery_dkl_seed0_latent.png",  # the median seed of dkl by ari (0.9, 0.8, 0.6)
    }
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size < 400_000

    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    assert sorted(links) == sorted(f"figures/{p.name}" for p in pngs)
    assert all((tmp_path / link).is_file() for link in links)
    for text in ("Toy explore", "Toy discovery", "An 8×8 toy map.", "numpy", "| dkl", "seeds"):
        assert text in report


def test_write_results_without_figures(tmp_path: Path, records: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    written = write_results(tmp_path, records, summary, figures=False)
    assert not [p for p in written if p.suffix == ".png"]
    assert "![" not in (tmp_path / "report.md").read_text(encoding="utf-8")
    with pytest.raises(NotADirectoryError):
        write_results(tmp_path / "missing", records, summary)


def test_regret_figure_has_one_line_and_band_per_agent(records: list[dict[str, Any]]) -> None:
    steps = [r for r in records if r["kind"] == "step"]
    fig = regret_figure(steps, "Toy explore")
    (ax,) = fig.axes
    assert len(ax.get_lines()) == len(AGENTS)
    assert len(ax.collections) == len(AGENTS)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["dkl (n=3)", "random (n=3)"]
    dkl = ax.get_lines()[0].get_ydata()
    expected = [np.median([FINAL_REGRET["dkl"][k] + (STEPS - s) * 0.05 for k in range(3)]) for s in range(1, STEPS + 1)]
    np.testing.assert_allclose(dkl, expected)


def test_explore_panels_with_and_without_a_model() -> None:
    rng = np.random.default_rng(0)
    with_model = explore_panels_figure(_explore_arrays("dkl", rng), "dkl")
    assert len(with_model.axes) == 6 + 4 + 1  # panels, 4 map colour bars, the step colour bar
    without = explore_panels_figure(_explore_arrays("random", rng), "random")
    assert len(without.axes) == 6 + 1 + 1  # only the true map has a colour bar
    texts = [t.get_text() for ax in without.axes for t in ax.texts]
    assert texts.count("no model") == 3


def test_explore_path_lands_on_candidate_centres() -> None:
    arrays = _explore_arrays("dkl", np.random.default_rng(1))
    arrays["visited"] = np.array([0, GRID * 2 + 3], dtype=np.int64)  # (i, j) = (0, 0) and (2, 3)
    fig = explore_panels_figure(arrays, "path")
    path_ax = fig.axes[4]
    line = path_ax.get_lines()[0]
    dx, dy = EXTENT[0] / GRID, EXTENT[1] / GRID
    np.testing.assert_allclose(line.get_xdata(), [0.5 * dx, 2.5 * dx])
    np.testing.assert_allclose(line.get_ydata(), [0.5 * dy, 3.5 * dy])


def test_discovery_figure_and_best_offset() -> None:
    arrays = _discovery_arrays(np.random.default_rng(2))
    fig = discovery_figure(arrays, "discovery")
    assert len(fig.axes) == 2
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert [text.split(" (")[0] for text in legend] == ["C_pristine", "Si_3fold", "Si_4fold"]
    # The predictions are the truth rotated by 0.4 rad, so the reduced points lie on the diagonal.
    offset = best_offset(arrays["pred_angle"], arrays["true_angle"], arrays["symmetry"])
    assert math.isclose(offset, 0.4, abs_tol=0.02)


def test_scenario_figures_choose_by_task(records: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    steps = [r for r in records if r["kind"] == "step"]
    artifacts = [r for r in records if r["kind"] == "artifact"]
    explore = scenario_figures("toy-explore", summary["scenarios"]["toy-explore"], steps, artifacts)
    assert sorted(explore) == ["toy-explore_dkl_seed0_maps.png", "toy-explore_regret.png"]  # no episodes: lowest seed
    discovery = scenario_figures("toy-discovery", summary["scenarios"]["toy-discovery"], steps, [])
    assert discovery == {}
