"""The benchmark runner: agents × seeds on scenarios, serially or fanned out over Dask.

Each (scenario, agent, seed) is one task: a pure function of those three (:func:`run_task`) that
builds the env and the agent, runs one episode, scores it against the truth and returns plain
records. Tasks share nothing, and every task runs its numerical libraries on one thread, so a task
gives the same numbers in this process, in a Dask worker, or on a remote cluster; :func:`run`
returns the records in task order whatever order the tasks finish in.

Records (plain dicts):

- ``{"kind": "step", "scenario", "agent", "seed", "step", "reward", "value", "regret",
  "normalised_regret", "dose", "time"}``: one per step of an explore episode (``reward`` the noisy
  scalar the agent saw, ``value`` the noise-free one where the probe landed, ``dose`` [e⁻], ``time``
  [s]; :func:`~stemtwin.scenarios.scoring.explore_scores`);
- ``{"kind": "episode", "scenario", "task", "agent", "seed", "metrics": {name: float | None},
  "steps", "wall_seconds", "agent_seconds", "env_seconds"}``: one per task;
- ``{"kind": "artifact", "scenario", "task", "agent", "seed", "arrays": {name: ndarray}}``: the maps
  (explore) or matched atoms (discovery) behind the figures.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from .scoring import discovery_scores, explore_scores
from .spec import AgentEntry, Scenario, ScenarioError

__all__ = ["run", "run_task", "Task", "tasks_of", "PROGRESS_TOPIC"]

#: Dask event topic of per-task progress messages.
PROGRESS_TOPIC = "stemtwin-bench-progress"

#: A task: (scenario, agent entry, seed).
Task = tuple[Scenario, AgentEntry, int]
#: Progress callback: (task key, steps done, steps in total).
ProgressCallback = Callable[[str, int, int], None]


def tasks_of(scenarios: Sequence[Scenario]) -> list[Task]:
    """Every (scenario, agent, seed), in scenario, agent, seed order."""
    return [(sc, agent, seed) for sc in scenarios for agent in sc.agents for seed in sc.seeds]


def task_key(task: Task) -> str:
    """A short unique label of a task (``scenario/agent/seed``)."""
    scenario, agent, seed = task
    return f"{scenario.name}/{agent.name}/{seed}"


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run numpy's BLAS and torch on one thread (the same arithmetic in every process)."""
    from threadpoolctl import threadpool_limits

    torch = None
    with contextlib.suppress(ImportError):
        import torch
    before = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=1):
        if torch is not None:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if torch is not None and before is not None:
                torch.set_num_threads(before)


def _progress_sender(key: str, callback: ProgressCallback | None) -> Callable[[int, int], None]:
    """Where a task reports its steps: ``callback`` in this process, else a Dask worker event."""
    if callback is not None:
        return lambda done, total: callback(key, done, total)
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return lambda done, total: None

    def send(done: int, total: int) -> None:
        with contextlib.suppress(Exception):
            worker.log_event(PROGRESS_TOPIC, {"key": key, "done": done, "total": total})

    return send


def _make_env(scenario: Scenario, send: Callable[[int, int], None], truths: list[Any] | None) -> Any:
    import stemtwin.envs  # noqa: F401  (registers the ids)

    env = gym.make(scenario.env_id, max_episode_steps=scenario.budget, **scenario.env_kwargs)
    return _Recorder(env, scenario.budget, send, truths)


class _Recorder(gym.Wrapper):
    """Reports progress after every step and, for discovery, keeps each frame and its truth."""

    def __init__(self, env: Any, total: int, send: Callable[[int, int], None], truths: list[Any] | None) -> None:
        super().__init__(env)
        self._total, self._send, self._truths = total, send, truths
        self._steps = 0
        self.frames: list[np.ndarray] = []
        self.delivered: list[float] = []
        self.survey: np.ndarray | None = None  # the survey image of the reset observation, in [0, 1]

    def _keep(self) -> None:
        if self._truths is not None:
            self._truths.append(self.env.unwrapped.frame_truth())
            self.frames.append(np.asarray(self.env.unwrapped.frame.array, dtype=np.float64))

    def reset(self, **kwargs: Any) -> Any:
        out = self.env.reset(**kwargs)
        self._steps = 0
        self.delivered = []
        observation = out[0]
        self.survey = observation.get("image") if isinstance(observation, Mapping) else None
        self._keep()
        self._send(0, self._total)
        return out

    def step(self, action: Any) -> Any:
        out = self.env.step(action)
        self._steps += 1
        value = out[4].get("noise_free_scalar") if isinstance(out[4], Mapping) else None
        if value is not None:
            self.delivered.append(float(value))
        self._keep()
        self._send(self._steps, self._total)
        return out


def run_task(scenario: Scenario, agent: AgentEntry, seed: int, progress: ProgressCallback | None = None) -> list[dict[str, Any]]:
    """Run and score one (scenario, agent, seed); a pure function of the three.

    Parameters
    ----------
    scenario
        A validated scenario.
    agent
        One of its agents (name and settings).
    seed
        Seed of the env's ``reset`` and of the agent.
    progress
        Called with (task key, steps done, budget) after every step; None inside a Dask worker sends
        the same as a worker event (:data:`PROGRESS_TOPIC`).

    Returns
    -------
    list of dict
        The task's records (module docstring).
    """
    from stemtwin.agents import make_agent, run_episode

    key = task_key((scenario, agent, seed))
    send = _progress_sender(key, progress)
    base = {"scenario": scenario.name, "agent": agent.name, "seed": int(seed)}
    t0 = time.perf_counter()
    with _one_thread():
        truths: list[Any] | None = [] if scenario.task == "discovery" else None
        env = _make_env(scenario, send, truths)
        try:
            settings = dict(agent.settings)
            if "num_threads" in _parameters(agent.name):
                settings.setdefault("num_threads", 1)
            model = make_agent(agent.name, seed=int(seed), **settings)
            if hasattr(model, "set_true_map"):
                model.set_true_map(lambda: env.unwrapped.true_map())
            result = run_episode(env, model, seed=int(seed), max_steps=scenario.budget)
            if scenario.task == "explore":
                true_map = np.asarray(env.unwrapped.true_map(), dtype=np.float64)
                delivered = env.delivered if len(env.delivered) == result["steps"] else None
                metrics, per_step = explore_scores(true_map, result, delivered)
                arrays = _explore_arrays(env, true_map, result)
            else:
                metrics, arrays = discovery_scores(result["report"], env.frames, truths or [], result["final_info"])
                per_step = {}
        finally:
            env.close()
    wall = time.perf_counter() - t0
    records: list[dict[str, Any]] = []
    if per_step:
        for t in range(result["steps"]):
            records.append(
                {
                    "kind": "step",
                    **base,
                    "step": t + 1,
                    "reward": float(result["rewards"][t]),
                    "value": float(per_step["value"][t]),
                    "regret": float(per_step["regret"][t]),
                    "normalised_regret": float(per_step["normalised_regret"][t]),
                    "dose": float(result["doses"][t]),
                    "time": float(result["times"][t]),
                }
            )
    records.append(
        {
            "kind": "episode",
            "task": scenario.task,
            **base,
            "metrics": {name: metrics.get(name) for name in scenario.metrics},
            "steps": int(result["steps"]),
            "wall_seconds": wall,
            "agent_seconds": float(result["agent_seconds"]),
            "env_seconds": float(result["env_seconds"]),
        }
    )
    records.append({"kind": "artifact", "task": scenario.task, **base, "arrays": arrays})
    return records


def _parameters(agent: str) -> tuple[str, ...]:
    import inspect

    from stemtwin.agents import AGENTS

    factory = AGENTS[agent].load()
    try:
        return tuple(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return ()


def _grid_array(values: Any, grid: int) -> np.ndarray:
    if values is None:
        return np.full((grid, grid), np.nan)
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    return arr.reshape(grid, grid) if arr.size == grid * grid else np.full((grid, grid), np.nan)


def _explore_arrays(env: Any, true_map: np.ndarray, result: Mapping[str, Any]) -> dict[str, np.ndarray]:
    report = result["report"]
    grid = true_map.shape[0]
    return {
        "true_map": true_map,
        "mean": _grid_array(report.get("mean"), grid),
        "std": _grid_array(report.get("std"), grid),
        "acquisition": _grid_array(report.get("acquisition"), grid),
        "visited": np.asarray(result["actions"], dtype=np.int64),
        "image": np.asarray(env.survey, dtype=np.float32),
        "extent": np.asarray(env.unwrapped.extent, dtype=np.float64),
    }


# -- fan-out -----------------------------------------------------------------------------------------------
class _Bars:
    """Progress on stderr: an overall bar and one bar per running task (tqdm) on a terminal, else a line per finished task."""

    def __init__(self, total: int, enabled: bool) -> None:
        import sys

        self.enabled = enabled
        self.total = total
        self.done = 0
        self.bars: dict[str, Any] = {}
        self.overall = None
        self.interactive = enabled and sys.stderr.isatty()
        self._t0 = time.perf_counter()
        if self.interactive:
            from tqdm.auto import tqdm

            self._tqdm = tqdm
            self.overall = tqdm(total=total, desc="bench", unit="run", position=0, dynamic_ncols=True)

    def step(self, key: str, done: int, total: int) -> None:
        if not self.interactive:
            return
        bar = self.bars.get(key)
        if bar is None:
            bar = self.bars[key] = self._tqdm(total=total, desc=key, unit="step", leave=False, dynamic_ncols=True)
        bar.n = done
        bar.refresh()

    def finished(self, key: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        if not self.interactive:
            import sys

            print(f"[{self.done}/{self.total}] {key} done ({time.perf_counter() - self._t0:.0f} s)", file=sys.stderr, flush=True)
            return
        bar = self.bars.pop(key, None)
        if bar is not None:
            bar.close()
        assert self.overall is not None
        self.overall.update(1)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        if self.overall is not None:
            self.overall.close()


def run(
    scenarios: Sequence[Scenario],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run every (scenario, agent, seed) and return the records, in task order.

    Parameters
    ----------
    scenarios
        Validated scenarios (:func:`~stemtwin.scenarios.spec.load_scenario`), with any overrides applied.
    workers
        Processes of the local Dask cluster; ``0`` runs the tasks one after another in this process
        (no Dask); None uses one worker per core. Ignored with ``scheduler``.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``) to run the tasks on.
    progress
        Show progress bars (overall and per task) on stderr.

    Returns
    -------
    list of dict
        The records of every task (module docstring), identical whichever way the tasks ran.
    """
    tasks = tasks_of(scenarios)
    if not tasks:
        raise ScenarioError("Nothing to run: no scenario, agent or seed was selected.")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise ScenarioError(f"--workers: expected an integer >= 0 (0: no Dask, run in this process), got {workers!r}.")
    bars = _Bars(len(tasks), progress)
    try:
        if scheduler is None and workers == 0:
            return [rec for task in tasks for rec in _serial(task, bars)]
        return _on_dask(tasks, bars, workers, scheduler)
    finally:
        bars.close()


def _serial(task: Task, bars: _Bars) -> list[dict[str, Any]]:
    records = run_task(*task, progress=bars.step)
    bars.finished(task_key(task))
    return records


def _on_dask(tasks: Sequence[Task], bars: _Bars, workers: int | None, scheduler: str | None) -> list[dict[str, Any]]:
    from distributed import as_completed

    from stemtwin.twin.parallel import dask_client

    with dask_client(workers, scheduler) as client:
        client.subscribe_topic(PROGRESS_TOPIC, lambda event: bars.step(event[1]["key"], event[1]["done"], event[1]["total"]))
        futures = {
            client.submit(run_task, *task, key=f"bench-{i}-{task_key(task).replace('/', '-')}", pure=False, retries=1): i
            for i, task in enumerate(tasks)
        }
        results: dict[int, list[dict[str, Any]]] = {}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            bars.finished(task_key(tasks[i]))
        client.unsubscribe_topic(PROGRESS_TOPIC)
    return [rec for i in range(len(tasks)) for rec in results[i]]
