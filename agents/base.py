"""The agent protocol, the agent registry and the episode loop.

Protocol
--------
An agent implements four methods (:class:`Agent`)::

    agent.reset(observation, info)            # a new episode: the env's reset output
    action = agent.act(observation)           # the next action
    agent.observe(observation, reward, info)  # the env's answer to that action
    result = agent.report()                   # the agent's final predictions (a dict)

and declares the task kinds it can work on (:data:`TASK_KINDS`): ``"explore"`` for the Explore envs
(``stemtwin/EELSExplore-v0``, ``stemtwin/DiffractionExplore-v0``: a Dict observation with ``"image"``
and ``"visited"``, a ``Discrete(G·G)`` action over the candidate grid) and ``"dynamics"`` for
``stemtwin/BeamDynamics-v0`` (an image observation, a ``Box(-1, 1, (3,))`` action). Agents see
observations, ``info`` and spaces only, never the twin.

:func:`run_episode` runs any agent on any compatible Gymnasium env, and :func:`check_compatible`
refuses an incompatible pair with a message naming both.

Registry
--------
:data:`AGENTS` maps a name to an :class:`AgentSpec` (factory, one-line description, task kinds);
:func:`make_agent` builds one by name. Factories may be ``"module:attribute"`` strings, imported on
first use, so that the registry costs no torch import. Other agent modules add themselves with
:func:`register_agent`.
"""

from __future__ import annotations

import difflib
import importlib
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "AGENTS",
    "TASK_KINDS",
    "Agent",
    "AgentError",
    "AgentSpec",
    "ExploreAgent",
    "IncompatibleEnvError",
    "check_choice",
    "check_compatible",
    "cut_patches",
    "describe_agents",
    "make_agent",
    "register_agent",
    "run_episode",
    "task_kind",
]

#: Task kinds an agent can declare.
TASK_KINDS: tuple[str, ...] = ("explore", "dynamics")


class AgentError(ValueError):
    """Bad input to an agent: an unknown name, a bad parameter, a NaN reward, ..."""


class IncompatibleEnvError(AgentError):
    """An agent asked to act on an environment whose task it does not handle."""


def check_choice(kind: str, name: Any, choices: Iterable[str]) -> str:
    """``name`` if it is one of ``choices``; otherwise an :class:`AgentError` with a did-you-mean hint.

    Examples
    --------
    >>> check_choice("acquisition function", "ucb", ["ei", "ucb"])
    'ucb'
    """
    options = sorted(choices)
    if isinstance(name, str) and name in options:
        return name
    hint = ""
    if isinstance(name, str):
        close = difflib.get_close_matches(name.lower(), options, n=1, cutoff=0.5)
        if close:
            hint = f" Did you mean {close[0]!r}?"
    raise AgentError(f"Unknown {kind} {name!r}.{hint} Available: {options}")


# -- the protocol -------------------------------------------------------------------------------------
class Agent(ABC):
    """The agent protocol (module docstring). Subclasses set :attr:`tasks` and implement the four methods."""

    #: Registry name (set by subclasses; used in messages).
    name: ClassVar[str] = ""
    #: Task kinds the agent handles (a subset of :data:`TASK_KINDS`).
    tasks: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def reset(self, observation: Any, info: Mapping[str, Any]) -> None:
        """Start a new episode from the env's ``reset`` output."""

    @abstractmethod
    def act(self, observation: Any) -> Any:
        """The next action (an element of the env's action space)."""

    @abstractmethod
    def observe(self, observation: Any, reward: float, info: Mapping[str, Any]) -> None:
        """Take in the env's answer to the latest action."""

    @abstractmethod
    def report(self) -> dict[str, Any]:
        """The agent's final predictions (a map, classes, rates, ...) as a dict of arrays and numbers."""

    @property
    def label(self) -> str:
        """Name used in messages: the registry name, or the class name."""
        return self.name or type(self).__name__


def check_reward(reward: Any, step: int) -> float:
    """``reward`` as a float; an :class:`AgentError` naming ``step`` if it is NaN, infinite or not a number."""
    try:
        value = float(reward)
    except (TypeError, ValueError):
        raise AgentError(f"Reward at step {step} must be a real number, got {reward!r}.") from None
    if not math.isfinite(value):
        raise AgentError(
            f"Reward at step {step} is {value} (not finite); the agent refuses non-finite rewards. "
            "Check the scalarizer for a division by zero or an empty window."
        )
    return value


# -- explore agents --------------------------------------------------------------------------------------
def cut_patches(image: np.ndarray, grid: int, size: int) -> np.ndarray:
    """Patches of a survey image around every candidate of a G × G grid (the Explore envs' mapping).

    Follows the candidate → pixel mapping documented in :mod:`stemtwin.envs.explore`: candidate
    ``a = i·G + j`` sits at fractional image pixel ``((i + ½)·P/G, (j + ½)·P/G)``; its patch is
    ``image[u0 : u0 + size, v0 : v0 + size]`` with ``u0 = floor((i + ½)·P/G + ½) − size // 2`` (likewise
    ``v0``), indices wrapping around (the image spans one periodic cell).

    Parameters
    ----------
    image
        ndarray of shape (P, P), indexed (x, y).
    grid
        Candidate grid side G.
    size
        Patch side [pixels], 1..P.

    Returns
    -------
    ndarray of shape (G·G, size, size), float32
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2 or image.shape[0] != image.shape[1]:
        raise AgentError(f"The survey image must be square (P, P), got shape {image.shape}.")
    p = image.shape[0]
    if not isinstance(size, (int, np.integer)) or not 1 <= size <= p:
        raise AgentError(f"`patch_size` must be an integer in 1..{p} (the image side) [pixels], got {size!r}.")
    centre = np.floor((np.arange(grid) + 0.5) * p / grid + 0.5).astype(int)
    offsets = np.arange(size) - size // 2
    idx = (centre[:, None] + offsets[None, :]) % p
    patches = image[idx[:, None, :, None], idx[None, :, None, :]]
    return np.ascontiguousarray(patches.reshape(grid * grid, size, size), dtype=np.float32)


class ExploreAgent(Agent):
    """Shared bookkeeping of agents for the Explore task (``Discrete(G·G)`` over a candidate grid).

    Keeps the grid side G (from ``observation["visited"]``), the visited mask, the measured candidates
    and rewards, and a per-episode random generator. Subclasses implement :meth:`_choose` (and
    optionally :meth:`_setup` and :meth:`_after_observe`).

    Parameters
    ----------
    seed
        Seed of the agent's random streams. Episode ``e`` (counted from 0 by :meth:`reset`) draws from
        ``np.random.default_rng([seed, e])``, so a seed gives the same actions for the same observations.
        ``None`` draws fresh entropy.
    """

    tasks = ("explore",)

    def __init__(self, seed: int | None = None) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise AgentError(f"`seed` must be a non-negative integer or None, got {seed!r}.")
        self.seed = None if seed is None else int(seed)
        self._episode = -1
        self.grid = 0
        self.n_candidates = 0
        self.rng = np.random.default_rng(seed)
        self.visited = np.zeros(0, dtype=bool)
        self.actions: list[int] = []
        self.rewards: list[float] = []
        self._pending: int | None = None
        self.image: np.ndarray | None = None
        self.positions: np.ndarray | None = None

    # -- protocol ------------------------------------------------------------------------------
    def reset(self, observation: Any, info: Mapping[str, Any]) -> None:
        visited = self._visited_of(observation)
        self._episode += 1
        self.rng = np.random.default_rng(None if self.seed is None else [self.seed, self._episode])
        self.grid = int(visited.shape[0])
        self.n_candidates = self.grid * self.grid
        self.visited = visited.reshape(-1) != 0
        self.actions = []
        self.rewards = []
        self._pending = None
        self.image = np.asarray(observation["image"], dtype=np.float32) if "image" in observation else None
        self.positions = self._positions_of(info)
        self._setup(observation, info)

    def act(self, observation: Any) -> int:
        if self.grid == 0:
            raise AgentError(f"{self.label}: call reset(observation, info) before act().")
        self.visited = self._visited_of(observation).reshape(-1) != 0
        index = int(self._choose(observation))
        if not 0 <= index < self.n_candidates:
            raise AgentError(f"{self.label} chose candidate {index}, outside 0..{self.n_candidates - 1}.")
        self._pending = index
        return index

    def observe(self, observation: Any, reward: float, info: Mapping[str, Any]) -> None:
        step = len(self.rewards) + 1
        value = check_reward(reward, step)
        index = self._pending
        candidate = info.get("candidate") if isinstance(info, Mapping) else None
        if candidate is not None:
            index = int(candidate[0]) * self.grid + int(candidate[1])
        if index is None:
            raise AgentError(f"{self.label}: observe() at step {step} without a preceding act().")
        self.actions.append(index)
        self.rewards.append(value)
        self.visited[index] = True
        if isinstance(observation, Mapping) and "visited" in observation:
            self.visited |= self._visited_of(observation).reshape(-1) != 0
        self._pending = None
        self._after_observe(index, value)

    def report(self) -> dict[str, Any]:
        """``visited`` (indices in order), ``rewards`` and ``grid``; subclasses add their predictions."""
        return {
            "visited": np.asarray(self.actions, dtype=np.int64),
            "rewards": np.asarray(self.rewards, dtype=np.float64),
            "grid": self.grid,
        }

    # -- hooks ---------------------------------------------------------------------------------
    def _setup(self, observation: Any, info: Mapping[str, Any]) -> None:
        """Per-episode set-up after :meth:`reset` bookkeeping (default: nothing)."""

    @abstractmethod
    def _choose(self, observation: Any) -> int:
        """The next candidate index."""

    def _after_observe(self, index: int, reward: float) -> None:
        """Called after every recorded measurement (default: nothing)."""

    # -- helpers -------------------------------------------------------------------------------
    def _visited_of(self, observation: Any) -> np.ndarray:
        if not isinstance(observation, Mapping) or "visited" not in observation:
            raise IncompatibleEnvError(
                f"{self.label} needs an Explore observation (a dict with 'image' and 'visited'), "
                f"got {type(observation).__name__}."
            )
        visited = np.asarray(observation["visited"])
        if visited.ndim != 2 or visited.shape[0] != visited.shape[1]:
            raise AgentError(f"observation['visited'] must be a square (G, G) array, got shape {visited.shape}.")
        return visited

    def _positions_of(self, info: Mapping[str, Any]) -> np.ndarray:
        """Candidate positions: ``info["candidate_positions"]`` [Å] when given, else grid fractions ((i + ½)/G, (j + ½)/G)."""
        given = info.get("candidate_positions") if isinstance(info, Mapping) else None
        if given is not None:
            pos = np.asarray(given, dtype=np.float64)
            if pos.shape != (self.n_candidates, 2):
                raise AgentError(f"info['candidate_positions'] must have shape ({self.n_candidates}, 2), got {pos.shape}.")
            return pos
        i, j = np.divmod(np.arange(self.n_candidates), self.grid)
        return np.stack([(i + 0.5) / self.grid, (j + 0.5) / self.grid], axis=1)

    def _random_unvisited(self) -> int:
        free = np.flatnonzero(~self.visited)
        if free.size == 0:
            free = np.arange(self.n_candidates)
        return int(self.rng.choice(free))


# -- registry --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AgentSpec:
    """A registered agent: ``factory(**kwargs) -> Agent``, a one-line description and its task kinds."""

    factory: Callable[..., Agent] | str
    description: str
    tasks: tuple[str, ...]

    def load(self) -> Callable[..., Agent]:
        """The factory, importing it first when given as ``"module:attribute"``."""
        if callable(self.factory):
            return self.factory
        module, _, attr = self.factory.partition(":")
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj


#: Registered agents by name.
AGENTS: dict[str, AgentSpec] = {}


def register_agent(name: str, factory: Callable[..., Agent] | str, description: str, tasks: Iterable[str], *, replace: bool = False) -> None:
    """Add an agent to :data:`AGENTS`.

    Parameters
    ----------
    name
        Registry name.
    factory
        A callable returning an :class:`Agent`, or ``"module:attribute"`` imported on first use.
    description
        One line.
    tasks
        Task kinds, from :data:`TASK_KINDS`.
    replace
        Allow replacing an existing entry.
    """
    tasks = tuple(tasks)
    for task in tasks:
        check_choice("task kind", task, TASK_KINDS)
    if not tasks:
        raise AgentError(f"Agent {name!r} must declare at least one task kind from {list(TASK_KINDS)}.")
    if name in AGENTS and not replace:
        raise AgentError(f"Agent {name!r} is already registered; pass replace=True to replace it.")
    AGENTS[name] = AgentSpec(factory, description, tasks)


_BUILTIN: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("dkl_bo", "stemtwin.agents.dkl_bo:DKLBOAgent", "Bayesian optimisation with a deep-kernel GP on image patches (CNN → 2-D embedding).", ("explore",)),
    ("random", "stemtwin.agents.baselines:RandomAgent", "Uniformly random unvisited candidates.", ("explore",)),
    ("raster", "stemtwin.agents.baselines:RasterAgent", "Raster subsampling: a coarse-to-fine lattice of the candidate grid.", ("explore",)),
    ("gp_xy", "stemtwin.agents.baselines:GPXYAgent", "Bayesian optimisation with a GP on the (x, y) candidate coordinates.", ("explore",)),
    ("gp_patches", "stemtwin.agents.baselines:RawPatchGPAgent", "Bayesian optimisation with a GP on raw flattened patches (no learned features).", ("explore",)),
    ("oracle", "stemtwin.agents.baselines:OracleAgent", "Reads the true map (given explicitly) and measures its best sites first.", ("explore",)),
    ("rvae_discovery", "stemtwin.agents.discovery:RVAEDiscoveryAgent", "rVAE on atom-centred patches: per-atom classes, rotations and class transitions.", ("dynamics",)),
    ("rvae_explorer", "stemtwin.agents.rvae_explorer:RVAEExplorerAgent", "Bayesian optimisation with a GP on rVAE content latents of the patches.", ("explore",)),
)
for _name, _factory, _description, _tasks in _BUILTIN:
    register_agent(_name, _factory, _description, _tasks)


def make_agent(name: str, **kwargs: Any) -> Agent:
    """Build a registered agent by name; unknown names get a did-you-mean :class:`AgentError`."""
    key = check_choice("agent", name, AGENTS)
    agent = AGENTS[key].load()(**kwargs)
    if not getattr(agent, "name", ""):
        try:
            agent.name = key  # type: ignore[misc]
        except AttributeError:
            pass
    return agent


def describe_agents() -> str:
    """One line per registered agent: name, task kinds and description."""
    width = max(len(n) for n in AGENTS)
    return "\n".join(f"{n:<{width}}  [{', '.join(s.tasks)}]  {s.description}" for n, s in sorted(AGENTS.items()))


# -- compatibility ---------------------------------------------------------------------------------------
def env_name(env: Any) -> str:
    """The env's registered id when it has one, else its class name."""
    spec = getattr(env, "spec", None)
    if spec is not None and getattr(spec, "id", None):
        return str(spec.id)
    return type(getattr(env, "unwrapped", env)).__name__


def task_kind(env: Any) -> str:
    """The task kind of an env: ``"explore"`` or ``"dynamics"``.

    Read from the registered id (``...Explore-v*``, ``...Dynamics-v*``) when there is one, otherwise
    from the spaces: a Dict observation with ``"image"`` and ``"visited"`` and a ``Discrete`` action is
    an Explore task; a 2-D image observation with a ``Box`` action of shape (3,) a Dynamics task.

    Raises
    ------
    IncompatibleEnvError
        Neither matches.
    """
    spec = getattr(env, "spec", None)
    env_id = str(getattr(spec, "id", "") or "")
    base = env_id.split("/")[-1].split("-v")[0]
    if base.endswith("Explore"):
        return "explore"
    if base.endswith("Dynamics"):
        return "dynamics"
    obs_space = getattr(env, "observation_space", None)
    act_space = getattr(env, "action_space", None)
    obs_keys = set(getattr(obs_space, "spaces", {}) or {})
    act_kind = type(act_space).__name__
    if {"image", "visited"} <= obs_keys and act_kind == "Discrete":
        return "explore"
    obs_shape = getattr(obs_space, "shape", None)
    if obs_shape is not None and len(obs_shape) == 2 and act_kind == "Box" and tuple(act_space.shape) == (3,):
        return "dynamics"
    raise IncompatibleEnvError(
        f"Cannot tell the task of env {env_name(env)!r}: expected an Explore env (Dict observation with 'image' and "
        f"'visited', Discrete action) or a Dynamics env (image observation, Box(-1, 1, (3,)) action); got observation "
        f"space {obs_space} and action space {act_space}."
    )


def check_compatible(agent: Agent | str, env: Any) -> str:
    """Refuse an agent/env pair whose task the agent does not handle; return the env's task kind.

    Parameters
    ----------
    agent
        An agent, or a registered agent name.
    env
        A Gymnasium env (wrapped or not).

    Raises
    ------
    IncompatibleEnvError
        Naming the agent, the env, the env's task kind and the agent's.
    """
    if isinstance(agent, str):
        key = check_choice("agent", agent, AGENTS)
        label, tasks = key, AGENTS[key].tasks
    else:
        label, tasks = agent.label, tuple(getattr(agent, "tasks", ()))
    kind = task_kind(env)
    if kind not in tasks:
        fits = sorted(n for n, s in AGENTS.items() if kind in s.tasks)
        raise IncompatibleEnvError(
            f"Agent {label!r} cannot run on env {env_name(env)!r}: the env is a {kind!r} task and {label!r} handles "
            f"{list(tasks)}. Agents for {kind!r} tasks: {fits}."
        )
    if kind == "explore":
        n = getattr(getattr(env, "action_space", None), "n", None)
        visited = getattr(getattr(env, "observation_space", None), "spaces", {}).get("visited")
        if n is not None and visited is not None and int(np.prod(visited.shape)) != int(n):
            raise IncompatibleEnvError(
                f"Agent {label!r} cannot run on env {env_name(env)!r}: the action space Discrete({n}) does not match the "
                f"{visited.shape} candidate grid of observation['visited']."
            )
    return kind


# -- the loop --------------------------------------------------------------------------------------------
def run_episode(
    env: Any,
    agent: Agent,
    seed: int | None = None,
    max_steps: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run one episode of ``agent`` on ``env`` and collect what happened.

    ``env.reset(seed=seed)``, ``agent.reset(obs, info)``, then ``act`` → ``env.step`` → ``observe`` until the
    env terminates or truncates, or ``max_steps`` steps are taken.

    Parameters
    ----------
    env
        A Gymnasium env whose task the agent handles (:func:`check_compatible`).
    agent
        The agent.
    seed
        Seed of ``env.reset``.
    max_steps
        Stop after this many steps (None: the env decides).
    options
        ``options`` of ``env.reset``.

    Returns
    -------
    dict
        ``agent``, ``env``, ``task``, ``seed``; ``actions`` (list), ``rewards`` (ndarray (T,)),
        ``steps`` T; ``terminated``, ``truncated``; ``dose`` [e⁻] and ``time`` [s] from the last
        ``info`` (``cumulative_dose``, ``time``; NaN when absent) with ``doses`` and ``times`` per step;
        ``reset_info`` and ``final_info``; ``report`` (``agent.report()``); ``agent_seconds`` and
        ``env_seconds`` (wall time in the agent and in the env).
    """
    kind = check_compatible(agent, env)
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 0):
        raise AgentError(f"`max_steps` must be an integer >= 0 or None, got {max_steps!r}.")
    t_env = time.perf_counter()
    obs, info = env.reset(seed=seed, options=dict(options) if options else None)
    env_seconds = time.perf_counter() - t_env
    reset_info = dict(info)
    t_agent = time.perf_counter()
    agent.reset(obs, info)
    agent_seconds = time.perf_counter() - t_agent
    actions: list[Any] = []
    rewards: list[float] = []
    doses: list[float] = []
    times: list[float] = []
    terminated = truncated = False
    while not (terminated or truncated) and (max_steps is None or len(actions) < max_steps):
        t0 = time.perf_counter()
        action = agent.act(obs)
        t1 = time.perf_counter()
        obs, reward, terminated, truncated, info = env.step(action)
        t2 = time.perf_counter()
        agent.observe(obs, reward, info)
        t3 = time.perf_counter()
        agent_seconds += (t1 - t0) + (t3 - t2)
        env_seconds += t2 - t1
        actions.append(action.tolist() if isinstance(action, np.ndarray) else action)
        rewards.append(float(reward))
        doses.append(float(info.get("cumulative_dose", np.nan)))
        times.append(float(info.get("time", np.nan)))
    t0 = time.perf_counter()
    report = agent.report()
    agent_seconds += time.perf_counter() - t0
    return {
        "agent": agent.label,
        "env": env_name(env),
        "task": kind,
        "seed": seed,
        "actions": actions,
        "rewards": np.asarray(rewards, dtype=np.float64),
        "steps": len(actions),
        "terminated": bool(terminated),
        "truncated": bool(truncated),
        "dose": float(info.get("cumulative_dose", np.nan)),
        "time": float(info.get("time", np.nan)),
        "doses": np.asarray(doses),
        "times": np.asarray(times),
        "reset_info": reset_info,
        "final_info": dict(info),
        "report": report,
        "agent_seconds": agent_seconds,
        "env_seconds": env_seconds,
    }
