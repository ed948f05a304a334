"""``stemtwin bench``: run scenarios, print the leaderboard, write the results folder.

Everything given on the command line is checked before anything runs; the results are computed in
full and written to a temporary folder beside ``--out``, which then takes its place. An existing
``--out`` is refused without ``--force``, and with it is replaced only once the new results are
complete, so an error never leaves a half-written or lost results folder.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stemtwin.twin.files import replace_folder, staging_folder
from .report import build_summary, leaderboard_table, write_results
from .runner import run, tasks_of
from .spec import DEFAULT_BENCH, Scenario, ScenarioError, load_scenario

__all__ = ["run_bench", "parse_seeds", "parse_agents", "prepare_scenarios"]

_RANGE = re.compile(r"^(\d+)-(\d+)$")


def parse_seeds(text: str | None) -> list[int] | None:
    """``"0,1,2"`` or ``"0-4"`` (inclusive) → a list of seeds; None stays None."""
    if text is None:
        return None
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        match = _RANGE.match(part)
        if match and int(match[1]) <= int(match[2]):
            seeds.extend(range(int(match[1]), int(match[2]) + 1))
        elif part.isdigit():
            seeds.append(int(part))
        else:
            raise ScenarioError(f"--seeds: expected comma-separated integers >= 0 or a range such as 0-4, got {text!r}.")
    if len(set(seeds)) != len(seeds):
        raise ScenarioError(f"--seeds: expected distinct seeds, got {text!r}.")
    return seeds


def parse_agents(text: str | None) -> list[str] | None:
    """``"dkl_bo,random"`` → a list of names; None stays None."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ScenarioError(f"--agents: expected comma-separated agent names, got {text!r}.")
    return names


def prepare_scenarios(
    names: Sequence[str], *, quick: bool, agents: list[str] | None, seeds: list[int] | None, budget: int | None
) -> list[Scenario]:
    """Load and override every scenario (all checks happen here, before anything runs)."""
    scenarios = [load_scenario(n, quick=quick) for n in (names or DEFAULT_BENCH)]
    seen: set[str] = set()
    for sc in scenarios:
        if sc.name in seen:
            raise ScenarioError(f"Scenario {sc.name!r} is given twice.")
        seen.add(sc.name)
    return [sc.with_overrides(agents=agents, seeds=seeds, budget=budget) for sc in scenarios]


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ScenarioError(f"--out: {str(out)!r} exists and is not a folder.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ScenarioError(f"--out: {str(out)!r} already holds results; pass --force to replace it, or choose another --out.")
    parent = out.resolve().parent
    if not parent.is_dir():
        raise ScenarioError(f"--out: the parent folder {str(parent)!r} does not exist.")


def run_bench(args: argparse.Namespace) -> int:
    """The ``bench`` sub-command (see the module docstring); returns the exit status."""
    out: Path = args.out
    _check_out(out, args.force)
    if args.budget is not None and (args.budget < 1 or args.budget > 100_000):
        raise ScenarioError(f"--budget: expected an integer in 1..100000 steps, got {args.budget}.")
    if args.workers is not None and args.workers < 0:
        raise ScenarioError(f"--workers: expected an integer >= 0 (0: no Dask, run in this process), got {args.workers}.")
    scenarios = prepare_scenarios(
        args.scenarios, quick=args.quick, agents=parse_agents(args.agents), seeds=parse_seeds(args.seeds), budget=args.budget
    )
    n_tasks = len(tasks_of(scenarios))
    where = f"scheduler {args.scheduler}" if args.scheduler else ("this process" if args.workers == 0 else "a local Dask cluster")
    print(f"stemtwin bench: {len(scenarios)} scenario(s), {n_tasks} run(s) on {where}", file=sys.stderr)
    t0 = time.perf_counter()
    records = run(scenarios, workers=args.workers, scheduler=args.scheduler, progress=not args.no_progress)
    wall = time.perf_counter() - t0
    config: dict[str, Any] = {
        "command": "stemtwin bench " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["bench"] else "stemtwin bench",
        "quick": bool(args.quick),
        "workers": args.workers,
        "scheduler": args.scheduler,
        "wall_seconds": wall,
        "scenarios": {sc.name: sc.describe() for sc in scenarios},
    }
    summary = build_summary(records, {sc.name: sc.describe() for sc in scenarios}, config)
    staging = staging_folder(out)
    try:
        write_results(staging, records, summary)
        replace_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(leaderboard_table(summary))
    print(f"\nwrote {out}/ (records.jsonl, summary.json, report.md, figures/) in {wall:.0f} s")
    return 0
