"""The metrics a scenario can report, with their units and which direction is better.

Explore metrics come from :func:`stemtwin.agents.metrics.explore_metrics` (the agent's measured
candidates and predicted map against the env's noise-free ``true_map()``); discovery metrics from
:func:`stemtwin.agents.metrics.discovery_metrics` and the transition-matrix error (the agent's
per-atom classes, angles and class transitions against the twin's per-frame truth).

A metric is a float, or ``None`` where it does not apply (an agent that predicts no map has no
``nrmse``; an episode that never reaches a top site has no ``step_in_top``). Summaries skip ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["MetricSpec", "METRICS", "TASKS", "metrics_for"]

#: Task kinds of a scenario: an Explore env with a Discrete action, or a BeamDynamics discovery run.
TASKS: tuple[str, ...] = ("explore", "discovery")


@dataclass(frozen=True)
class MetricSpec:
    """One metric.

    Parameters
    ----------
    name
        Key in the records and summaries.
    task
        ``"explore"`` or ``"discovery"``.
    description
        One line.
    unit
        Unit in brackets-free form (``"e⁻"``, ``"rad"``, ``"step"``); ``""`` for a dimensionless number.
    better
        ``"lower"`` or ``"higher"``; ``None`` where neither is better (reported, never ranked).
    """

    name: str
    task: str
    description: str
    unit: str
    better: str | None


def _specs(*specs: MetricSpec) -> Mapping[str, MetricSpec]:
    return MappingProxyType({s.name: s for s in specs})


#: Every metric, by name.
METRICS: Mapping[str, MetricSpec] = _specs(
    MetricSpec("final_regret", "explore", "simple regret after the last step: max(true map) − best noise-free value where the probe landed", "reward", "lower"),
    MetricSpec("normalised_regret", "explore", "final regret over the range of the true map", "", "lower"),
    MetricSpec("mean_value", "explore", "mean noise-free value measured, scaled to the true map's range (0: its minimum, 1: its maximum)", "", "higher"),
    MetricSpec("step_at_max", "explore", "first step that measures the global maximum (None: never)", "step", "lower"),
    MetricSpec("step_in_top", "explore", "first step that measures a top-1 % site (None: never)", "step", "lower"),
    MetricSpec("top_found", "explore", "fraction of the top-1 % sites measured", "", "higher"),
    MetricSpec("nrmse", "explore", "RMS error of the predicted map over the range of the true map (None: no map)", "", "lower"),
    MetricSpec("coverage_2sigma", "explore", "fraction of the true map inside the predicted ±2σ band (0.95 if calibrated)", "", None),
    MetricSpec("dose", "explore", "electrons spent, survey and measurements", "e⁻", "lower"),
    MetricSpec("time", "explore", "instrument time spent, survey and measurements", "s", "lower"),
    MetricSpec("ari", "discovery", "adjusted Rand index of the per-atom classes against the true site classes", "", "higher"),
    MetricSpec("nmi", "discovery", "normalised mutual information of the per-atom classes and the true site classes", "", "higher"),
    MetricSpec("angle_error", "discovery", "mean absolute error of the fragment rotation after the best global offset", "rad", "lower"),
    MetricSpec("angle_correlation", "discovery", "circular correlation of predicted and true fragment rotations", "", "higher"),
    MetricSpec("transition_error", "discovery", "Frobenius distance of the class-transition matrices (after label matching)", "", "lower"),
    MetricSpec("matched_fraction", "discovery", "fraction of the found atoms matched to a true atom within 3 pixels", "", "higher"),
    MetricSpec("events", "discovery", "structural events the beam caused during the episode", "", None),
    MetricSpec("dose_per_area", "discovery", "electron dose spent per area of the sample cell", "e⁻/Å²", "lower"),
)


def metrics_for(task: str) -> tuple[str, ...]:
    """Names of the metrics of one task, in registry order."""
    return tuple(name for name, spec in METRICS.items() if spec.task == task)
