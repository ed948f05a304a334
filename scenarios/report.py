"""Reports of a benchmark run: a summary, a leaderboard, and the files of an output folder.

The runner returns plain records of three kinds (``step``, ``episode`` and ``artifact``; see
:mod:`stemtwin.scenarios.runner`). This module turns them into

- a summary (:func:`summarize`, :func:`build_summary`): per scenario and agent, the median and
  interquartile range over seeds of every reported metric, and a ranking by the primary metric;
- a leaderboard table (:func:`leaderboard_table`) for the terminal or Markdown;
- an output folder (:func:`write_results`): ``records.jsonl``, ``summary.json``, ``report.md``,
  ``artifacts/<scenario>/<agent>_seed<seed>.npz`` and ``figures/*.png``.

Metrics and timings are kept apart: the metrics of a summary are bit-identical for identical
records, while wall-clock times differ from run to run.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import math
import platform
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import numpy as np
from tabulate import tabulate

from stemtwin.twin.files import atomic_write
from .figures import DPI, safe_name, scenario_figures
from .metrics import METRICS

__all__ = [
    "PACKAGES",
    "RECORD_KINDS",
    "package_versions",
    "summarize",
    "build_summary",
    "leaderboard_table",
    "write_results",
    "atomic_write",
]

#: Distributions whose versions a report records, in order.
PACKAGES: tuple[str, ...] = (
    "stemtwin", "numpy", "scipy", "torch", "gpytorch", "botorch", "gymnasium",
    "abtem", "ase", "dask", "distributed", "scikit-learn", "matplotlib",
)  # fmt: skip
#: Record kinds written to ``records.jsonl`` (artifacts go to ``.npz`` files).
RECORD_KINDS: tuple[str, ...] = ("step", "episode")
#: Arrows of the ranking direction, by :attr:`MetricSpec.better`.
_ARROWS = {"lower": "↓", "higher": "↑", None: ""}
#: Table formats :func:`leaderboard_table` accepts.
_FORMATS = ("simple", "github")
#: Placeholder of a missing value in tables.
_MISSING = "—"


# --------------------------------------------------------------------------------------------------
# Versions
# --------------------------------------------------------------------------------------------------


def package_versions() -> dict[str, str]:
    """Python, the platform, and the installed version of each of :data:`PACKAGES`.

    Returns
    -------
    dict of str to str
        ``{"python": ..., "platform": ..., "<distribution>": version or "not installed"}``.
    """
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# --------------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------------


def _finite(value: Any) -> float | None:
    """``value`` as a float, or None where it is None, NaN or infinite."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _stats(values: Iterable[Any]) -> dict[str, float | int | None]:
    """Median, quartiles and IQR (numpy's linear percentiles) of the finite values, and their count."""
    used = np.array([v for v in (_finite(x) for x in values) if v is not None], dtype=float)
    if not used.size:
        return {"median": None, "q25": None, "q75": None, "iqr": None, "n": 0}
    q25, median, q75 = (float(q) for q in np.percentile(used, [25.0, 50.0, 75.0]))
    return {"median": median, "q25": q25, "q75": q75, "iqr": q75 - q25, "n": int(used.size)}


def _metric_spec_check(name: str, where: str) -> None:
    if name not in METRICS:
        import difflib

        close = difflib.get_close_matches(name, list(METRICS), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"{where}: unknown metric {name!r}.{hint} Available: {sorted(METRICS)}")


def _scenario_metrics(name: str, spec: Mapping[str, Any]) -> tuple[list[str], str]:
    """The reported metrics (the primary one included) and the primary metric of one scenario."""
    for key in ("title", "task", "metrics", "primary"):
        if key not in spec:
            raise ValueError(f"scenario {name!r}: the summary needs {key!r}; got keys {sorted(spec)}.")
    primary = str(spec["primary"])
    metrics = [str(m) for m in spec["metrics"]]
    for metric in [*metrics, primary]:
        _metric_spec_check(metric, f"scenario {name!r}")
    if primary not in metrics:
        metrics.append(primary)
    return metrics, primary


def _episodes_by_scenario(
    records: Iterable[Mapping[str, Any]], scenarios: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, dict[int, Mapping[str, Any]]]]:
    """Episode records as ``{scenario: {agent: {seed: record}}}``; a repeated episode is an error."""
    grouped: dict[str, dict[str, dict[int, Mapping[str, Any]]]] = {name: {} for name in scenarios}
    for record in records:
        if record.get("kind") != "episode":
            continue
        scenario, agent, seed = str(record["scenario"]), str(record["agent"]), int(record["seed"])
        if scenario not in grouped:
            raise ValueError(
                f"episode record of scenario {scenario!r}, which is not in `scenarios` {sorted(scenarios)}."
            )
        by_seed = grouped[scenario].setdefault(agent, {})
        if seed in by_seed:
            raise ValueError(f"two episode records for scenario {scenario!r}, agent {agent!r}, seed {seed}.")
        by_seed[seed] = record
    return grouped


def _agent_summary(by_seed: Mapping[int, Mapping[str, Any]], metrics: Sequence[str]) -> dict[str, Any]:
    seeds = sorted(by_seed)
    ordered = [by_seed[s] for s in seeds]
    return {
        "seeds": seeds,
        "n_seeds": len(seeds),
        "metrics": {m: _stats(r.get("metrics", {}).get(m) for r in ordered) for m in metrics},
        "wall_seconds": _stats(r.get("wall_seconds") for r in ordered),
    }


def _ranking(agents: Mapping[str, Mapping[str, Any]], primary: str, better: str | None) -> list[str]:
    """Agents best-first by the median of ``primary``; None last, ties by name."""

    def key(agent: str) -> tuple[int, float, str]:
        median = agents[agent]["metrics"][primary]["median"]
        if median is None:
            return (1, 0.0, agent)
        return (0, -median if better == "higher" else median if better == "lower" else 0.0, agent)

    return sorted(agents, key=key)


def summarize(records: Sequence[Mapping[str, Any]], scenarios: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Median and interquartile range over seeds of every reported metric, and a ranking.

    Parameters
    ----------
    records
        Records from the runner; only ``kind == "episode"`` records are read.
    scenarios
        Per scenario name: ``{"title": str, "task": str, "metrics": [names], "primary": name}``
        and optionally ``"description": str``. Metric names are those of
        :data:`stemtwin.scenarios.metrics.METRICS`; the primary one is reported even if not listed.

    Returns
    -------
    dict
        ``{"scenarios": {name: {"title", "description", "task", "primary", "better", "metrics",
        "agents": {agent: {"seeds", "n_seeds", "metrics": {m: stats}, "wall_seconds": stats}},
        "ranking"}}}`` where stats is ``{"median", "q25", "q75", "iqr", "n"}`` (linear
        percentiles over the seeds whose value is finite, ``n`` of them; None where ``n == 0``)
        and wall_seconds are [s]. Agents appear sorted by name, scenarios in the order given.
        JSON-serialisable, with None in place of NaN.

    Raises
    ------
    ValueError
        For an unknown metric, a scenario missing a key, an episode of a scenario not given, or
        two episodes of the same scenario, agent and seed.
    """
    grouped = _episodes_by_scenario(records, scenarios)
    out: dict[str, Any] = {}
    for name, spec in scenarios.items():
        metrics, primary = _scenario_metrics(name, spec)
        better = METRICS[primary].better
        agents = {agent: _agent_summary(grouped[name][agent], metrics) for agent in sorted(grouped[name])}
        out[name] = {
            "title": str(spec["title"]),
            "description": None if spec.get("description") is None else str(spec["description"]),
            "task": str(spec["task"]),
            "primary": primary,
            "better": better,
            "metrics": metrics,
            "agents": agents,
            "ranking": _ranking(agents, primary, better),
        }
    return {"scenarios": out}


def build_summary(
    records: Sequence[Mapping[str, Any]], scenarios: Mapping[str, Mapping[str, Any]], config: Mapping[str, Any]
) -> dict[str, Any]:
    """:func:`summarize` plus the run configuration, the package versions and the creation time.

    Parameters
    ----------
    records, scenarios
        As for :func:`summarize`.
    config
        The run configuration (scenarios, agents, seeds, options); must be JSON-serialisable.

    Returns
    -------
    dict
        The summary with ``"config"``, ``"versions"`` (:func:`package_versions`) and ``"created"``
        (ISO 8601 local time with offset, seconds) added.
    """
    summary = summarize(records, scenarios)
    summary["config"] = _jsonable(config)
    summary["versions"] = package_versions()
    summary["created"] = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    return summary


# --------------------------------------------------------------------------------------------------
# Leaderboard
# --------------------------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    """Three significant digits; fixed-point between 10⁻³ and 10⁵ (``1000``, ``0.123``), else exponent."""
    if value is None:
        return _MISSING
    if value == 0.0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    rounded = float(f"{value:.3g}")
    if not -3 <= magnitude < 5 or math.floor(math.log10(abs(rounded))) >= 5:
        return f"{value:.2e}"
    return f"{rounded:.{max(0, 2 - math.floor(math.log10(abs(rounded))))}f}"


def _fmt_stats(stats: Mapping[str, Any]) -> str:
    """``median [q25, q75]`` with 3 significant digits, or a dash where there is no value."""
    if not stats.get("n"):
        return _MISSING
    return f"{_fmt(stats['median'])} [{_fmt(stats['q25'])}, {_fmt(stats['q75'])}]"


def _metric_header(name: str) -> str:
    spec = METRICS.get(name)
    unit = f" [{spec.unit}]" if spec is not None and spec.unit else ""
    arrow = f" {_ARROWS[spec.better]}" if spec is not None and spec.better else ""
    return f"{name}{unit}{arrow}"


def _ranks(entry: Mapping[str, Any]) -> list[str]:
    """Competition ranks (1, 1, 3, ...) along the ranking; a dash for agents without a primary value."""
    primary = entry["primary"]
    ranks: list[str] = []
    previous: float | None = None
    for position, agent in enumerate(entry["ranking"], start=1):
        median = entry["agents"][agent]["metrics"][primary]["median"]
        if median is None:
            ranks.append(_MISSING)
            continue
        if previous is None or median != previous or entry["better"] is None:
            current = str(position)
        ranks.append(current)
        previous = median
    return ranks


def _scenario_rows(entry: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for rank, agent in zip(_ranks(entry), entry["ranking"], strict=True):
        data = entry["agents"][agent]
        cells = [_fmt_stats(data["metrics"][m]) for m in entry["metrics"]]
        rows.append([rank, agent, *cells, str(data["n_seeds"]), _fmt(data["wall_seconds"]["median"])])
    return rows


def _scenario_heading(name: str, entry: Mapping[str, Any]) -> str:
    arrow = _ARROWS[entry["better"]]
    return f"{entry['title']} ({name}, {entry['task']}; ranked by {entry['primary']}{' ' + arrow if arrow else ''})"


def leaderboard_table(summary: Mapping[str, Any], fmt: str = "simple") -> str:
    """The leaderboard of every scenario: a heading line and a table each.

    Parameters
    ----------
    summary
        From :func:`summarize` or :func:`build_summary`.
    fmt
        ``"simple"`` for the terminal, ``"github"`` for Markdown (headings become ``###``).

    Returns
    -------
    str
        Columns: rank, agent, each reported metric as ``median [q25, q75]`` (3 significant digits,
        unit in brackets, ↓ lower or ↑ higher is better), seeds, and the median wall time [s].
    """
    if fmt not in _FORMATS:
        raise ValueError(f"`fmt` must be one of {list(_FORMATS)}, got {fmt!r}.")
    blocks = []
    for name, entry in summary["scenarios"].items():
        heading = _scenario_heading(name, entry)
        headers = ["rank", "agent", *(_metric_header(m) for m in entry["metrics"]), "seeds", "wall [s]"]
        rows = _scenario_rows(entry)
        table = tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True) if rows else "(no episodes)"
        heading = f"### {heading}" if fmt == "github" else heading
        blocks.append(f"{heading}\n\n{table}" if fmt == "github" else f"{heading}\n{table}")
    return "\n\n".join(blocks)


# --------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------


def _write_text(out: Path, text: str) -> Path:
    return atomic_write(out, lambda handle: handle.write(text.encode("utf-8")))


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays made plain, and NaN or infinity made None."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def _record_key(record: Mapping[str, Any]) -> tuple[str, str, int, str, int]:
    step = record.get("step")
    return (str(record["scenario"]), str(record["agent"]), int(record["seed"]), str(record["kind"]),
            int(step) if record["kind"] == "step" and step is not None else 0)  # fmt: skip


def _records_jsonl(records: Iterable[Mapping[str, Any]]) -> str:
    kept = sorted((r for r in records if r.get("kind") in RECORD_KINDS), key=_record_key)
    return "".join(json.dumps(_jsonable(r), ensure_ascii=False, allow_nan=False) + "\n" for r in kept)


def _npz_arrays(arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Arrays loadable with ``allow_pickle=False``: object arrays of text become unicode arrays."""
    out = {}
    for name, value in arrays.items():
        array = np.asarray(value)
        if array.dtype == object:
            array = array.astype(str)
        out[str(name)] = array
    return out


def _write_artifacts(out_dir: Path, records: Iterable[Mapping[str, Any]]) -> list[Path]:
    written = []
    for record in records:
        if record.get("kind") != "artifact":
            continue
        folder = out_dir / "artifacts" / safe_name(record["scenario"])
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{safe_name(record['agent'])}_seed{int(record['seed'])}.npz"
        arrays = _npz_arrays(record["arrays"])
        written.append(atomic_write(path, lambda handle, a=arrays: np.savez_compressed(handle, **a)))
    return written


def _save_figure(path: Path, figure: Any) -> Path:
    def write(handle: IO[bytes]) -> None:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
        handle.write(buffer.getvalue())

    return atomic_write(path, write)


def _write_figures(
    out_dir: Path, records: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]
) -> dict[str, list[Path]]:
    """Every scenario's figures under ``figures/``, as ``{scenario: [paths]}``."""
    folder = out_dir / "figures"
    folder.mkdir(exist_ok=True)
    steps = [r for r in records if r.get("kind") == "step"]
    episodes = [r for r in records if r.get("kind") == "episode"]
    artifacts = [r for r in records if r.get("kind") == "artifact"]
    written: dict[str, list[Path]] = {}
    for name, entry in summary["scenarios"].items():
        figures = scenario_figures(name, entry, steps, artifacts, episode_records=episodes)
        written[name] = [_save_figure(folder / file_name, fig) for file_name, fig in figures.items()]
    return written


def _markdown_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(_jsonable(value), ensure_ascii=False)


def _metric_notes(entry: Mapping[str, Any]) -> list[str]:
    notes = []
    for name in entry["metrics"]:
        spec = METRICS[name]
        direction = {"lower": "lower is better", "higher": "higher is better"}.get(spec.better or "", "not ranked")
        unit = f" [{spec.unit}]" if spec.unit else ""
        notes.append(f"- `{name}`{unit}: {spec.description} ({direction}).")
    return notes


def _report_markdown(summary: Mapping[str, Any], figures: Mapping[str, Sequence[Path]]) -> str:
    lines = ["# stemtwin benchmark report", ""]
    if summary.get("created"):
        lines += [f"Created {summary['created']}.", ""]
    if summary.get("config"):
        lines += ["## Configuration", ""]
        lines += [f"- **{key}**: {_markdown_value(value)}" for key, value in summary["config"].items() if key != "scenarios"]
        lines.append("")
    if summary.get("versions"):
        lines += ["## Versions", ""]
        lines += [f"- {key} {value}" for key, value in summary["versions"].items()]
        lines.append("")
    lines += ["Each cell is the median over seeds [25th, 75th percentile]; wall time is the median [s].", ""]
    for name, entry in summary["scenarios"].items():
        lines += [f"## {entry['title']}", "", f"Scenario `{name}`, task `{entry['task']}`."]
        if entry.get("description"):
            lines += ["", str(entry["description"])]
        setup = (summary.get("config") or {}).get("scenarios", {}).get(name)
        if setup:
            agents = ", ".join(f"`{a}` {_markdown_value(kw)}" if kw else f"`{a}`" for a, kw in setup.get("agents", {}).items())
            lines += [
                "",
                f"Env `{setup.get('env_id')}` with `{_markdown_value(setup.get('env_kwargs', {}))}`; "
                f"{setup.get('budget')} steps; seeds {_markdown_value(setup.get('seeds', []))}; agents {agents}.",
            ]
        board = leaderboard_table({"scenarios": {name: entry}}, fmt="github")
        lines += ["", board.split("\n\n", 1)[1], "", *_metric_notes(entry), ""]
        for path in figures.get(name, ()):
            lines += [f"![{entry['title']}: {path.stem}](figures/{path.name})", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def write_results(
    out_dir: Path,
    records: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any],
    *,
    figures: bool = True,
) -> list[Path]:
    """Write the records, summary, artifacts, figures and a Markdown report of a run.

    Parameters
    ----------
    out_dir
        An existing (normally empty) folder; files of the same names are replaced.
    records
        All records of the run (``step``, ``episode`` and ``artifact``).
    summary
        From :func:`build_summary` (or :func:`summarize`).
    figures
        Whether to draw the PNG figures.

    Returns
    -------
    list of Path
        Every file written, in order: ``records.jsonl``, ``summary.json``,
        ``artifacts/<scenario>/<agent>_seed<seed>.npz``, ``figures/*.png``, ``report.md``. Each
        file is written to a temporary file in its folder and renamed into place.

    Raises
    ------
    NotADirectoryError
        If ``out_dir`` is not an existing folder.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise NotADirectoryError(f"`out_dir` must be an existing folder, got {str(out_dir)!r}; create it first.")
    summary_text = json.dumps(_jsonable(summary), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    written = [
        _write_text(out_dir / "records.jsonl", _records_jsonl(records)),
        _write_text(out_dir / "summary.json", summary_text),
    ]
    written += _write_artifacts(out_dir, records)
    figure_paths = _write_figures(out_dir, records, summary) if figures else {}
    written += [path for paths in figure_paths.values() for path in paths]
    written.append(_write_text(out_dir / "report.md", _report_markdown(summary, figure_paths)))
    return written
