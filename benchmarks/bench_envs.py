"""Timings of the Gymnasium environments: ``step()`` and ``reset()``. Prints; asserts nothing.

Run: ``python benchmarks/bench_envs.py [--steps N] [--quick]``

- ``step()`` median and p99 of EELSExplore-v0 and DiffractionExplore-v0 with the fast engine on a
  64 × 64 candidate grid (issue targets: median <= 1 ms, p99 <= 5 ms), on the unwrapped environment
  and through ``gymnasium.make``'s wrappers, with and without beam dynamics;
- ``reset()``: cold (a fresh process and an empty stemtwin disk cache) and warm (the same process,
  a new seed, and the same seed again);
- BeamDynamics-v0 ``step()`` at 128² pixels (target <= 20 ms), per sample family.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import gymnasium as gym
import numpy as np

import stemtwin.envs  # noqa: F401 - registers the ids

EXPLORE = ("stemtwin/EELSExplore-v0", "stemtwin/DiffractionExplore-v0")


def _stats(times: list[tuple[float, float]]) -> str:
    """Wall-clock and CPU (thread) time: on a shared machine the CPU time shows the code path without preemption."""
    t = np.asarray(times) * 1e3
    wall, cpu = t[:, 0], t[:, 1]
    return (
        f"wall median {np.median(wall):7.3f} ms  p99 {np.percentile(wall, 99):7.3f} ms   "
        f"cpu median {np.median(cpu):7.3f} ms  p99 {np.percentile(cpu, 99):7.3f} ms   (n={t.shape[0]})"
    )


def _timed(call, *args) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.thread_time()
    call(*args)
    return time.perf_counter() - t0, time.thread_time() - c0


def bench_explore_steps(steps: int) -> None:
    print(f"\nExplore step(), fast engine, 64 × 64 candidates, graphene, random candidates ({steps} steps after 20 warm-up)")
    for env_id in EXPLORE:
        for dynamics in (True, False):
            for wrapped in (False, True):
                env = gym.make(env_id, grid=64, dynamics=dynamics, budget=10**9, max_episode_steps=10**9)
                target = env if wrapped else env.unwrapped
                target.reset(seed=0)
                rng = np.random.default_rng(0)
                actions = rng.integers(0, 64 * 64, steps + 20)
                for a in actions[:20]:
                    target.step(int(a))
                times = [_timed(target.step, int(a)) for a in actions[20:]]
                label = f"{env_id.split('/')[1]:<21} dynamics={str(dynamics):<5} {'make()' if wrapped else 'unwrapped'}"
                print(f"  {label:<49} {_stats(times)}")
                env.close()


_COLD = """
import os, time, sys
t0 = time.perf_counter()
import gymnasium as gym, stemtwin.envs
t1 = time.perf_counter()
env = gym.make(sys.argv[1], **({} if "Beam" in sys.argv[1] else {"grid": 64}))
t2 = time.perf_counter()
env.reset(seed=0)
t3 = time.perf_counter()
env.step(env.action_space.sample())
t4 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f} {t4 - t3:.3f}")
"""


def bench_resets() -> None:
    print("\nreset(), 64 × 64 grid, 128² survey image, graphene (30 Å), fast engine")
    for env_id in EXPLORE + ("stemtwin/BeamDynamics-v0",):
        with tempfile.TemporaryDirectory(prefix="stemtwin-cold-cache-") as cache:
            environ = {**os.environ, "STEMTWIN_CACHE_DIR": cache}
            out = subprocess.run(
                [sys.executable, "-c", _COLD, env_id], capture_output=True, text=True, env=environ, check=True
            ).stdout.split()
        imp, make, reset, first = (float(v) * 1e3 for v in out)
        kwargs = {} if "Beam" in env_id else {"grid": 64}
        env = gym.make(env_id, **kwargs)
        env.reset(seed=0)
        new_seed, same_seed = [], []
        for seed in range(1, 6):
            t0 = time.perf_counter()
            env.reset(seed=seed)
            new_seed.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            env.reset(seed=seed)
            same_seed.append(time.perf_counter() - t0)
        name = env_id.split("/")[1]
        print(
            f"  {name:<22} cold: reset {reset:8.1f} ms (fresh process, empty disk cache; import {imp:.0f} ms, "
            f"make {make:.0f} ms, first step {first:.1f} ms)"
        )
        print(
            f"  {'':<22} warm: reset {np.median(new_seed) * 1e3:8.1f} ms (new seed)   "
            f"{np.median(same_seed) * 1e3:8.1f} ms (same seed again: cached sample)"
        )


def bench_beam_dynamics(frames: int) -> None:
    print(f"\nBeamDynamics-v0 step(), 128² frames, fast engine, random actions ({frames} frames after 3 warm-up)")
    for family in ("graphene", "mos2-res2", "ferroelectric"):
        for dynamics in (True, False):
            n = frames if (family != "ferroelectric" or not dynamics) else max(3, frames // 5)
            env = gym.make("stemtwin/BeamDynamics-v0", sample=family, pixels=128, dynamics=dynamics, max_episode_steps=10**9)
            env.reset(seed=0)
            env.action_space.seed(0)
            for _ in range(3):
                env.step(env.action_space.sample())
            times = [_timed(env.step, env.action_space.sample()) for _ in range(n)]
            print(f"  {family:<14} dynamics={str(dynamics):<5} {_stats(times)}")
            env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="Explore steps timed per configuration")
    parser.add_argument("--frames", type=int, default=30, help="BeamDynamics frames timed per configuration")
    parser.add_argument("--quick", action="store_true", help="fewer steps and frames")
    args = parser.parse_args()
    steps, frames = (300, 10) if args.quick else (args.steps, args.frames)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"stemtwin envs benchmark: python {sys.version.split()[0]}, numpy {np.__version__}, gymnasium {gym.__version__}, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at start")
    bench_explore_steps(steps)
    bench_resets()
    bench_beam_dynamics(frames)


if __name__ == "__main__":
    main()
