"""stemtwin.agents: decision makers and learners (DKL-BO, rVAE, baselines).

Agents see observations and spaces only, never ``stemtwin.twin`` internals.

- :mod:`.base`: the protocol (:class:`Agent`), the registry (:data:`AGENTS`, :func:`make_agent`),
  the compatibility check and the episode loop (:func:`run_episode`).
- :mod:`.dkl_bo`: DKL-BO (:class:`DKLBOAgent`) and the GP-BO loop it shares with the GP baselines.
- :mod:`.gp`: the deep-kernel and plain exact GPs (GPyTorch).
- :mod:`.acquisition`: EI, UCB, maximum uncertainty, Thompson sampling over the candidate grid.
- :mod:`.baselines`: random, raster, GP(x, y), GP on raw patches, oracle.
- :mod:`.metrics`: metrics against ground truth (numpy and scikit-learn only).

Importing this package imports no torch: the GP modules load on first use (``stemtwin.agents.gp``
and ``DeepKernelGP`` here are resolved lazily).

Example
-------
>>> import gymnasium as gym
>>> import stemtwin.envs
>>> from stemtwin.agents import make_agent, run_episode
>>> env = gym.make("stemtwin/EELSExplore-v0", grid=32, budget=50)
>>> result = run_episode(env, make_agent("dkl_bo", seed=0), seed=0)
>>> result["report"]["mean"].shape
(1024,)
"""

from __future__ import annotations

import importlib
from typing import Any

from . import metrics
from .acquisition import (
    ACQUISITIONS,
    AcquisitionFunction,
    CandidatePosterior,
    ExpectedImprovement,
    MaximumUncertainty,
    ThompsonSampling,
    UpperConfidenceBound,
    make_acquisition,
)
from .base import (
    AGENTS,
    TASK_KINDS,
    Agent,
    AgentError,
    AgentSpec,
    ExploreAgent,
    IncompatibleEnvError,
    check_compatible,
    cut_patches,
    describe_agents,
    make_agent,
    register_agent,
    run_episode,
    task_kind,
)
from .baselines import GPXYAgent, OracleAgent, RandomAgent, RasterAgent, RawPatchGPAgent
from .dkl_bo import DKLBOAgent, GPBOAgent

__all__ = [
    "ACQUISITIONS",
    "AGENTS",
    "TASK_KINDS",
    "AcquisitionFunction",
    "Agent",
    "AgentError",
    "AgentSpec",
    "CandidatePosterior",
    "DKLBOAgent",
    "DeepKernelGP",
    "ExpectedImprovement",
    "ExploreAgent",
    "GPBOAgent",
    "GPXYAgent",
    "IncompatibleEnvError",
    "MaximumUncertainty",
    "OracleAgent",
    "PatchCNN",
    "PatchMLP",
    "RVAEDiscoveryAgent",
    "RVAEExplorerAgent",
    "RandomAgent",
    "RasterAgent",
    "RawPatchGPAgent",
    "ThompsonSampling",
    "UpperConfidenceBound",
    "check_compatible",
    "cut_patches",
    "describe_agents",
    "make_acquisition",
    "make_agent",
    "metrics",
    "register_agent",
    "run_episode",
    "task_kind",
]

#: Names resolved on first access, by sub-module (they import torch).
_LAZY = {
    "DeepKernelGP": "gp",
    "PatchCNN": "gp",
    "PatchMLP": "gp",
    "RVAEDiscoveryAgent": "discovery",
    "RVAEExplorerAgent": "rvae_explorer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    if name == "gp":
        return importlib.import_module(f"{__name__}.gp")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
