"""stemtwin.scenarios: scenario files, the benchmark runner, reports and the ``stemtwin`` command line.

- :mod:`.spec`: scenario TOML files (:func:`load_scenario`, :func:`shipped_scenarios`);
- :mod:`.runner`: :func:`run` agents × seeds on scenarios, serially or over Dask;
- :mod:`.scoring`, :mod:`.metrics`: scoring an episode against the twin's truth;
- :mod:`.report`, :mod:`.figures`: ``summary.json``, ``report.md``, the leaderboard and the figures;
- :mod:`.cli`: ``stemtwin list | show | bench | train | generate``.

Example
-------
>>> from stemtwin.scenarios import load_scenario, run
>>> records = run([load_scenario("graphene-eels-si4fold", quick=True)], workers=0)

The names below load their modules on first use, so that ``import stemtwin.scenarios`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["run", "load_scenario", "shipped_scenarios", "Scenario", "ScenarioError"]

_LAZY = {
    "run": "runner",
    "load_scenario": "spec",
    "shipped_scenarios": "spec",
    "Scenario": "spec",
    "ScenarioError": "spec",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
