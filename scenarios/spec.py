"""Scenario files: TOML descriptions of a benchmark, loaded and validated field by field.

A scenario names the sample and its parameters, the instrument (engine, distortions, dynamics,
probe, dwell), the modality, the scalarizer, the budget, the agents with their settings, the
metrics and the default seeds. The shipped scenarios live in ``scenarios/catalog/``; any other file
can be passed by path. Every field is checked on load; a bad one raises :class:`ScenarioError`::

    graphene-eels.toml: [budget].steps: expected an integer >= 1, got 0

Layout (every section but ``[sample.params]``, ``[objective.params]`` and the agent settings is
checked against the list below; unknown keys are errors)::

    [scenario]   name, title, description, task ("explore" | "discovery"), modality
                 (explore: "eels" | "diffraction"; discovery: "haadf")
    [sample]     family; [sample.params]: builder parameters (stemtwin.twin.samples)
    [instrument] engine ("fast" | "abtem"), scan_noise ("typical" | "none"), dynamics (bool),
                 explore: dwell_time [s], probe ("atomic" | "nanobeam", diffraction only);
                 discovery: pixels, fov [Å], dwell_range [s]
    [objective]  explore only: scalarizer; [objective.params]
    [env]        explore only: grid, image_pixels
    [budget]     steps; dose [e⁻] and time [s] (optional caps)
    [agents.NAME] one table per agent, holding its keyword arguments (possibly empty)
    [metrics]    report (names), primary (the ranking metric)
    [seeds]      default (a list of integers)
    [quick]      the same sections again, merged over the above for ``--quick``

The optics, spectrometer and camera come from the sample family's preset
(:data:`stemtwin.envs.config.FAMILY_PRESETS`), as the envs use them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

from stemtwin.twin import toml_fields as fields
from stemtwin.twin.errors import ConfigurationError

from .metrics import METRICS, TASKS

__all__ = [
    "DEFAULT_BENCH",
    "ENV_IDS",
    "AgentEntry",
    "Scenario",
    "ScenarioError",
    "catalog_dir",
    "load_scenario",
    "parse_scenario",
    "shipped_scenarios",
]

#: Env id of each (task, modality).
ENV_IDS: Mapping[tuple[str, str], str] = {
    ("explore", "eels"): "stemtwin/EELSExplore-v0",
    ("explore", "diffraction"): "stemtwin/DiffractionExplore-v0",
    ("discovery", "haadf"): "stemtwin/BeamDynamics-v0",
}
#: Scenarios that ``stemtwin bench`` runs when none is named (``make bench`` runs their quick variants):
#: one explore scenario with DKL-BO against its baselines, and one rVAE discovery scenario.
DEFAULT_BENCH: tuple[str, ...] = ("graphene-eels-si4fold", "graphene-dynamics-rvae")
#: Agent task kind (stemtwin.agents.TASK_KINDS) that each scenario task needs.
AGENT_TASK: Mapping[str, str] = {"explore": "explore", "discovery": "dynamics"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class ScenarioError(ConfigurationError):
    """A scenario file or name that cannot be used; the message starts with ``FILE: [section].field:``."""


@dataclass(frozen=True)
class AgentEntry:
    """An agent of a scenario: its registry name and keyword arguments (the runner adds ``seed``)."""

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario.

    Attributes
    ----------
    name, title, description
        Identity.
    task
        ``"explore"`` or ``"discovery"``.
    modality
        ``"eels"``, ``"diffraction"`` or ``"haadf"``.
    env_id
        Gymnasium id of the env.
    env_kwargs
        Keyword arguments of ``gymnasium.make`` (without ``max_episode_steps``).
    budget
        Steps per episode.
    agents
        The agents, in file order.
    metrics
        Metric names reported (:data:`stemtwin.scenarios.metrics.METRICS`).
    primary
        The metric the leaderboard ranks by.
    seeds
        Default seeds.
    source
        The file it was read from.
    quick
        Whether the ``[quick]`` overrides were applied.
    """

    name: str
    title: str
    description: str
    task: str
    modality: str
    env_id: str
    env_kwargs: Mapping[str, Any]
    budget: int
    agents: tuple[AgentEntry, ...]
    metrics: tuple[str, ...]
    primary: str
    seeds: tuple[int, ...]
    source: str
    quick: bool = False

    def with_overrides(
        self, *, agents: Sequence[str] | None = None, seeds: Sequence[int] | None = None, budget: int | None = None
    ) -> Scenario:
        """A copy with other agents (scenario settings kept for agents it names), seeds or budget."""
        out = self
        if agents is not None:
            known = {a.name: a for a in self.agents}
            entries = tuple(known.get(n, AgentEntry(n, {})) for n in agents)
            for entry in entries:
                _check_agent(self.source, entry.name, self.task)
            out = replace(out, agents=entries)
        if seeds is not None:
            out = replace(out, seeds=tuple(_seeds(self.source, "--seeds", list(seeds))))
        if budget is not None:
            out = replace(out, budget=_int(self.source, "--budget", budget, 1, 100_000))
        return out

    def describe(self) -> dict[str, Any]:
        """The scenario as plain data (for ``summary.json``)."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "task": self.task,
            "modality": self.modality,
            "env_id": self.env_id,
            "env_kwargs": fields.plain(self.env_kwargs),
            "budget": self.budget,
            "agents": {a.name: fields.plain(a.settings) for a in self.agents},
            "metrics": list(self.metrics),
            "primary": self.primary,
            "seeds": list(self.seeds),
            "source": self.source,
            "quick": self.quick,
        }


# -- the catalog ---------------------------------------------------------------------------------------
def catalog_dir() -> Path:
    """Folder of the shipped scenario files."""
    return Path(str(resources.files("stemtwin.scenarios") / "catalog"))


def shipped_scenarios() -> dict[str, Path]:
    """Shipped scenario names → files, sorted by name."""
    return {p.stem: p for p in sorted(catalog_dir().glob("*.toml"))}


def load_scenario(name_or_path: str | Path, *, quick: bool = False) -> Scenario:
    """Load a shipped scenario by name, or any scenario file by path.

    Parameters
    ----------
    name_or_path
        A shipped name (``stemtwin list`` shows them) or a path to a ``.toml`` file.
    quick
        Apply the file's ``[quick]`` overrides.

    Raises
    ------
    ScenarioError
        Unknown name, unreadable file, bad TOML or a bad field.
    """
    data, path = fields.read_named_toml(ScenarioError, name_or_path, shipped_scenarios(), "scenario")
    return parse_scenario(data, source=str(path), quick=quick)


# -- field checks --------------------------------------------------------------------------------------
_fail = partial(fields.fail, ScenarioError)
_got = fields.got
_str = partial(fields.check_str, ScenarioError)
_int = partial(fields.check_int, ScenarioError)
_positive = partial(fields.check_positive, ScenarioError)
_bool = partial(fields.check_bool, ScenarioError)
_table = partial(fields.check_table, ScenarioError)
_keys = partial(fields.check_keys, ScenarioError)


def _pair(source: str, where: str, value: Any, units: str) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise _fail(source, where, f"expected a pair [low, high] [{units}], got {_got(value)}")
    low = _positive(source, f"{where}[0]", value[0], units)
    high = _positive(source, f"{where}[1]", value[1], units)
    if high < low:
        raise _fail(source, where, f"expected low <= high [{units}], got {value!r}")
    return (low, high)


def _seeds(source: str, where: str, value: Any) -> list[int]:
    if not isinstance(value, list) or not value:
        raise _fail(source, where, f"expected a non-empty list of integers >= 0, got {_got(value)}")
    seeds = [_int(source, f"{where}[{i}]", s, 0, 2**31 - 1) for i, s in enumerate(value)]
    if len(set(seeds)) != len(seeds):
        raise _fail(source, where, f"expected distinct seeds, got {value!r}")
    return seeds


def _check_agent(source: str, name: str, task: str, where: str | None = None) -> None:
    from stemtwin.agents import AGENTS

    where = where or f"[agents.{name}]"
    _str(source, where, name, AGENTS)
    needed = AGENT_TASK[task]
    if needed not in AGENTS[name].tasks:
        fits = sorted(n for n, s in AGENTS.items() if needed in s.tasks)
        raise _fail(source, where, f"agent {name!r} handles {list(AGENTS[name].tasks)} tasks, not {task!r}; agents for {task!r}: {fits}")


#: Allowed keys per section and task.
_SECTIONS: Mapping[str, tuple[str, ...]] = {
    "scenario": ("name", "title", "description", "task", "modality"),
    "sample": ("family", "params"),
    "instrument": ("engine", "scan_noise", "dynamics", "dwell_time", "probe", "pixels", "fov", "dwell_range"),
    "objective": ("scalarizer", "params"),
    "env": ("grid", "image_pixels"),
    "budget": ("steps", "dose", "time"),
    "agents": (),
    "metrics": ("report", "primary"),
    "seeds": ("default",),
    "quick": (),
}
_EXPLORE_ONLY = {"instrument": ("dwell_time", "probe"), "objective": ("scalarizer", "params"), "env": ("grid", "image_pixels")}
_DISCOVERY_ONLY = {"instrument": ("pixels", "fov", "dwell_range")}


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_scenario(data: Mapping[str, Any], *, source: str = "<scenario>", quick: bool = False) -> Scenario:
    """Validate parsed TOML and build a :class:`Scenario` (see the module docstring for the layout).

    Raises
    ------
    ScenarioError
        ``FILE: [section].field: expected …, got …`` for the first bad field.
    """
    _keys(source, "top level", data, _SECTIONS)
    for section in _SECTIONS:
        if section in data:
            _table(source, f"[{section}]", data[section])
    if "quick" in data:
        quick_table = data["quick"]
        _keys(source, "quick", quick_table, [s for s in _SECTIONS if s not in ("quick", "scenario", "metrics")])
        for section, value in quick_table.items():
            _table(source, f"[quick.{section}]", value)
        if quick:
            data = _merge({k: v for k, v in data.items() if k != "quick"}, quick_table)
    for required in ("scenario", "sample", "budget", "agents", "metrics", "seeds"):
        if required not in data:
            raise _fail(source, f"[{required}]", "missing section")

    head = dict(data["scenario"])
    _keys(source, "scenario", head, _SECTIONS["scenario"])
    for key in ("name", "title", "task", "modality"):
        if key not in head:
            raise _fail(source, f"[scenario].{key}", "missing field")
    name = _str(source, "[scenario].name", head["name"])
    if not _NAME.match(name):
        raise _fail(source, "[scenario].name", f"expected lower-case letters, digits, '.', '_' or '-', got {name!r}")
    title = _str(source, "[scenario].title", head["title"])
    description = head.get("description", "")
    if not isinstance(description, str):
        raise _fail(source, "[scenario].description", f"expected a string, got {_got(description)}")
    task = _str(source, "[scenario].task", head["task"], TASKS)
    modalities = sorted(m for t, m in ENV_IDS if t == task)
    modality = _str(source, "[scenario].modality", head["modality"], modalities)

    foreign = _DISCOVERY_ONLY if task == "explore" else _EXPLORE_ONLY
    for section, keys in foreign.items():
        for key in keys:
            if key in data.get(section, {}):
                raise _fail(source, f"[{section}].{key}", f"not a field of {task} scenarios")
    if task == "explore" and "objective" not in data:
        raise _fail(source, "[objective]", "missing section (explore scenarios name a scalarizer)")

    kwargs: dict[str, Any] = {}
    sample = dict(data["sample"])
    _keys(source, "sample", sample, _SECTIONS["sample"])
    if "family" not in sample:
        raise _fail(source, "[sample].family", "missing field")
    from stemtwin.twin.samples import SAMPLE_BUILDERS

    kwargs["sample"] = _str(source, "[sample].family", sample["family"], SAMPLE_BUILDERS)
    kwargs["sample_params"] = _lists_to_tuples(_table(source, "[sample.params]", sample.get("params", {})))

    inst = dict(data.get("instrument", {}))
    _keys(source, "instrument", inst, _SECTIONS["instrument"])
    checks: dict[str, Callable[[str, Any], Any]] = {
        "engine": lambda w, v: _str(source, w, v, ("fast", "abtem")),
        "scan_noise": lambda w, v: _str(source, w, v, ("typical", "none")),
        "dynamics": lambda w, v: _bool(source, w, v),
        "dwell_time": lambda w, v: _positive(source, w, v, "s"),
        "probe": lambda w, v: _str(source, w, v, ("atomic", "nanobeam")),
        "pixels": lambda w, v: _int(source, w, v, 8, 1024),
        "fov": lambda w, v: _positive(source, w, v, "Å"),
        "dwell_range": lambda w, v: _pair(source, w, v, "s"),
    }
    for key, value in inst.items():
        if key == "probe" and modality != "diffraction":
            raise _fail(source, "[instrument].probe", "only diffraction scenarios have a probe setting")
        kwargs[key] = checks[key](f"[instrument].{key}", value)

    if task == "explore":
        objective = dict(data["objective"])
        _keys(source, "objective", objective, _SECTIONS["objective"])
        if "scalarizer" not in objective:
            raise _fail(source, "[objective].scalarizer", "missing field")
        from stemtwin.envs.scalarizers import SCALARIZERS

        kwargs["scalarizer"] = _str(source, "[objective].scalarizer", objective["scalarizer"], SCALARIZERS)
        kwargs["scalarizer_params"] = _lists_to_tuples(_table(source, "[objective.params]", objective.get("params", {})))
        env = dict(data.get("env", {}))
        _keys(source, "env", env, _SECTIONS["env"])
        if "grid" in env:
            kwargs["grid"] = _int(source, "[env].grid", env["grid"], 2, 256)
        if "image_pixels" in env:
            kwargs["image_pixels"] = _int(source, "[env].image_pixels", env["image_pixels"], 8, 1024)

    budget_table = dict(data["budget"])
    _keys(source, "budget", budget_table, _SECTIONS["budget"])
    if "steps" not in budget_table:
        raise _fail(source, "[budget].steps", "missing field")
    steps = _int(source, "[budget].steps", budget_table["steps"], 1, 100_000)
    if "dose" in budget_table:
        kwargs["dose_budget"] = _positive(source, "[budget].dose", budget_table["dose"], "e⁻")
    if "time" in budget_table:
        kwargs["time_budget"] = _positive(source, "[budget].time", budget_table["time"], "s")
    if task == "explore":
        kwargs["budget"] = steps

    agents_table = dict(data["agents"])
    if not agents_table:
        raise _fail(source, "[agents]", "expected at least one [agents.NAME] table")
    agents = []
    for agent_name, settings in agents_table.items():
        _check_agent(source, agent_name, task)
        settings = _lists_to_tuples(_table(source, f"[agents.{agent_name}]", settings))
        if "seed" in settings:
            raise _fail(source, f"[agents.{agent_name}].seed", "the runner seeds every agent from [seeds]; remove this field")
        agents.append(AgentEntry(agent_name, settings))

    metrics_table = dict(data["metrics"])
    _keys(source, "metrics", metrics_table, _SECTIONS["metrics"])
    valid = [m for m, spec in METRICS.items() if spec.task == task]
    report = metrics_table.get("report", valid)
    if not isinstance(report, list) or not report:
        raise _fail(source, "[metrics].report", f"expected a non-empty list of metric names from {valid}, got {_got(report)}")
    for i, metric in enumerate(report):
        _str(source, f"[metrics].report[{i}]", metric, valid)
    if "primary" not in metrics_table:
        raise _fail(source, "[metrics].primary", "missing field")
    ranked = [m for m in valid if METRICS[m].better is not None]
    primary = _str(source, "[metrics].primary", metrics_table["primary"], ranked)

    seeds_table = dict(data["seeds"])
    _keys(source, "seeds", seeds_table, _SECTIONS["seeds"])
    if "default" not in seeds_table:
        raise _fail(source, "[seeds].default", "missing field")
    seeds = _seeds(source, "[seeds].default", seeds_table["default"])

    scenario = Scenario(
        name=name,
        title=title,
        description=description.strip(),
        task=task,
        modality=modality,
        env_id=ENV_IDS[(task, modality)],
        env_kwargs=kwargs,
        budget=steps,
        agents=tuple(agents),
        metrics=tuple(dict.fromkeys([*report, primary])),
        primary=primary,
        seeds=tuple(seeds),
        source=source,
        quick=quick,
    )
    _check_with_env(scenario)
    _check_agent_settings(scenario)
    return scenario


def _lists_to_tuples(table: Mapping[str, Any]) -> dict[str, Any]:
    """TOML arrays → tuples (the envs and agents take pairs as tuples)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in table.items()}


#: Env keyword → where it sits in the file, for error messages.
_WHERE: Mapping[str, str] = {
    "sample": "[sample].family",
    "sample_params": "[sample.params]",
    "engine": "[instrument].engine",
    "scan_noise": "[instrument].scan_noise",
    "dynamics": "[instrument].dynamics",
    "dwell_time": "[instrument].dwell_time",
    "probe": "[instrument].probe",
    "pixels": "[instrument].pixels",
    "fov": "[instrument].fov",
    "dwell_range": "[instrument].dwell_range",
    "scalarizer": "[objective].scalarizer",
    "scalarizer_params": "[objective.params]",
    "grid": "[env].grid",
    "image_pixels": "[env].image_pixels",
    "budget": "[budget].steps",
    "dose_budget": "[budget].dose",
    "time_budget": "[budget].time",
}


def _locate(message: str) -> str:
    """The file location of the env argument an env error names (``sample_params`` before ``sample``)."""
    for key in sorted(_WHERE, key=len, reverse=True):
        if f"`{key}`" in message or f"'{key}'" in message or f" {key} " in message:
            return _WHERE[key]
    return "[sample]/[instrument]/[objective]/[env]"


def _check_with_env(scenario: Scenario) -> None:
    """Build the env once (no reset) so that the env's own checks see every value."""
    import gymnasium as gym
    import stemtwin.envs  # noqa: F401  (registers the ids)

    try:
        env = gym.make(scenario.env_id, max_episode_steps=scenario.budget, **scenario.env_kwargs)
    except (ValueError, TypeError) as err:
        message = str(err)
        raise _fail(scenario.source, _locate(message), message) from None
    env.close()


def _check_agent_settings(scenario: Scenario) -> None:
    """Construct every agent once with its settings, so a bad setting fails at load time."""
    from stemtwin.agents import make_agent

    for entry in scenario.agents:
        try:
            make_agent(entry.name, seed=0, **entry.settings)
        except (ValueError, TypeError) as err:
            raise _fail(scenario.source, f"[agents.{entry.name}]", str(err)) from None
