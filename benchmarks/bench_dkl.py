"""Benchmark of one DKL-BO step: warm-started retrain + acquisition over 4096 candidates of 16×16 patches.

Synthetic problem (no env needed): a 128 × 128 image of random bright blobs, a 64 × 64 candidate grid
(4096 candidates, image pixel (2i + 1, 2j + 1) as in the Explore envs), 16 × 16 patches, and a
reward that depends on the patch (the blurred brightness at the candidate). For every training-set
size n the agent first takes n random seed measurements, fits from scratch once (``cold fit``), and
then takes ``--steps`` full steps (observe one reward, then ``act``: warm retrain + prediction +
acquisition), reported as the median; a last row plans q = 4 batches at n = 100. A second table times the acquisition functions alone on a
4096-candidate posterior (q = 1 and a q = 4 kriging-believer batch).

Prints; asserts nothing. Usage::

    python benchmarks/bench_dkl.py [--threads 2] [--sizes 20 100 300] [--steps 5]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from stemtwin.agents import CandidatePosterior, DKLBOAgent, make_acquisition

GRID = 64
PIXELS = 128
PATCH = 16


def synthetic_problem(seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """An Explore-like observation (image, visited) and the true reward map (G·G,)."""
    rng = np.random.default_rng(seed)
    u, v = np.meshgrid(np.arange(PIXELS), np.arange(PIXELS), indexing="ij")
    image = np.zeros((PIXELS, PIXELS))
    for cx, cy, amp in zip(rng.uniform(0, PIXELS, 120), rng.uniform(0, PIXELS, 120), rng.uniform(0.3, 1.0, 120), strict=True):
        image += amp * np.exp(-((u - cx) ** 2 + (v - cy) ** 2) / (2 * 1.5**2))
    image += rng.normal(0, 0.05, image.shape)
    image = ((image - image.min()) / (image.max() - image.min())).astype(np.float32)
    blurred = gaussian_filter(image.astype(np.float64), 2.0, mode="wrap")
    centres = 2 * np.arange(GRID) + 1
    truth = blurred[np.ix_(centres, centres)].reshape(-1)
    obs = {"image": image, "visited": np.zeros((GRID, GRID), dtype=np.float32)}
    return obs, truth


def bench_steps(n: int, steps: int, threads: int, seed: int = 0, q: int = 1) -> dict[str, float]:
    obs, truth = synthetic_problem(seed)
    rng = np.random.default_rng(seed)
    agent = DKLBOAgent(n_seed=n, num_threads=threads, seed=seed, patch_size=PATCH, q=q)
    agent.reset(obs, {})
    visited = obs["visited"]

    def measure(a: int) -> None:
        visited.reshape(-1)[a] = 1.0
        agent.observe({"image": obs["image"], "visited": visited}, truth[a] + rng.normal(0, 0.01), {})

    for _ in range(n):  # random seed measurements (no model yet)
        measure(agent.act({"image": obs["image"], "visited": visited}))
    t0 = time.perf_counter()
    a = agent.act({"image": obs["image"], "visited": visited})  # first fit from scratch
    cold = time.perf_counter() - t0
    totals = []
    for k in range(steps * q):
        measure(a)
        t0 = time.perf_counter()
        a = agent.act({"image": obs["image"], "visited": visited})
        if (k + 1) % q == 0:  # a planning step (the others pop the batch queue)
            totals.append(time.perf_counter() - t0)
    tm = agent.timings
    return {
        "n": n,
        "q": q,
        "cold": cold,
        "step": float(np.median(totals)),
        "fit": float(np.median(tm["fit"][1:])),
        "predict": float(np.median(tm["predict"][1:])),
        "acq": float(np.median(tm["acquisition"][1:])),
    }


def bench_acquisition(threads: int, reps: int = 5) -> list[tuple[str, int, float]]:
    rng = np.random.default_rng(1)
    n = GRID * GRID
    posterior = CandidatePosterior(rng.normal(size=n), rng.uniform(0.1, 1.0, n), noise_variance=1e-2)
    visited = np.zeros(n, dtype=bool)
    visited[rng.choice(n, 100, replace=False)] = True
    rows = []
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for name in ("ei", "ucb", "max_uncertainty", "thompson"):
            acq = make_acquisition(name)
            for q in (1, 4):
                acq.select(posterior, visited=visited, q=q, best_f=1.0, rng=0)  # warm-up (imports)
                t0 = time.perf_counter()
                for _ in range(reps):
                    acq.select(posterior, visited=visited, q=q, best_f=1.0, rng=0)
                rows.append((name, q, (time.perf_counter() - t0) / reps))
    finally:
        torch.set_num_threads(torch_threads)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads while the agent computes (default 2)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 300], help="training-set sizes")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per size (median reported)")
    args = parser.parse_args()
    print(f"DKL-BO step benchmark: {GRID * GRID} candidates, {PATCH}×{PATCH} patches, CNN → 2-D embedding, RBF, EI")
    print(f"torch {torch.__version__}, {args.threads} thread(s), {platform.processor() or platform.machine()}")
    print(f"{'n':>5} {'q':>2} {'cold fit [s]':>13} {'step [s]':>9} {'retrain [s]':>12} {'predict [s]':>12} {'acq [s]':>8}")
    bench_steps(20, 1, args.threads, seed=99)  # warm-up: imports, first Adam
    runs = [(n, 1) for n in args.sizes] + [(100, 4)]
    for n, q in runs:
        r = bench_steps(n, args.steps, args.threads, q=q)
        print(f"{r['n']:>5} {r['q']:>2} {r['cold']:>13.3f} {r['step']:>9.3f} {r['fit']:>12.3f} {r['predict']:>12.3f} {r['acq']:>8.4f}")
    print("(q = 4: a planning step picks 4 candidates by kriging believer with the model's posterior covariance.)")
    print("\nAcquisition alone over 4096 candidates (100 visited), seconds per select():")
    for name, q, seconds in bench_acquisition(args.threads):
        print(f"  {name:<16} q={q}  {seconds:.4f}")


if __name__ == "__main__":
    main()
