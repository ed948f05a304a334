"""Benchmarks of the rVAE (issue 6, section 8). Measures; asserts nothing.

Run: ``.venv/bin/python benchmarks/bench_rvae.py [--threads 2] [--epochs 3]``

Prints the time of one training epoch on 3,000 patches of 32×32 (the reference implementations took
11–13 s; the target is ≤ 3 s on 2 CPU threads), the encoding throughput, and the cost of one
discovery-agent frame (atom finding + patches + warm-started update + clustering). The load average
is printed too: on a shared machine the figures depend on it.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from stemtwin.agents.atom_finding import extract_patches, find_atoms
from stemtwin.agents.rvae import RVAE


def synthetic_patches(n: int, p: int = 32, rng: int = 0) -> np.ndarray:
    """n patches (n, p, p) of a rotated asymmetric three-atom fragment with Gaussian noise."""
    gen = np.random.default_rng(rng)
    c = (p - 1) / 2.0
    x, y = np.meshgrid(np.arange(p) - c, np.arange(p) - c, indexing="ij")
    atoms = np.array([[0.0, 0.0, 1.0], [8.0, 0.0, 0.8], [-4.0, 7.0, 0.5], [-3.0, -9.0, 0.3]])
    phi = gen.uniform(0.0, 2 * np.pi, n)
    cs, sn = np.cos(phi)[:, None], np.sin(phi)[:, None]
    ax = cs * atoms[:, 0] - sn * atoms[:, 1]
    ay = sn * atoms[:, 0] + cs * atoms[:, 1]
    img = (atoms[:, 2] * np.exp(-((x[None, :, :, None] - ax[:, None, None]) ** 2 + (y[None, :, :, None] - ay[:, None, None]) ** 2) / 8.0)).sum(-1)
    return (img + gen.normal(0.0, 0.05, img.shape)).astype(np.float32)


def bench_epoch(threads: int, epochs: int, precision: str = "auto") -> None:
    torch.set_num_threads(threads)
    patches = synthetic_patches(3000)
    model = RVAE(patch_size=32, seed=0, decoder_precision=precision)
    model.fit(patches[:256], epochs=1)  # warm the allocator and kernels
    hist = model.fit(patches, epochs=epochs)
    times = [h["seconds"] for h in hist]
    dtype = str(model.decoder.dtype).removeprefix("torch.")
    print(f"rVAE epoch, 3000 patches 32×32, batch {model.config.batch_size}, decoder {dtype}, {threads} thread(s): "
          f"median {np.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}) over {epochs} epochs")
    model.encode(patches[:256])
    t0 = time.perf_counter()
    reps = 3
    for _ in range(reps):
        model.encode(patches)
    dt = (time.perf_counter() - t0) / reps
    print(f"rVAE encode, {threads} thread(s): {3000 / dt:,.0f} patches/s ({dt * 1e3:.0f} ms for 3000)")
    enc = model.encode(patches)
    print(f"  (after {model.epochs_trained} epochs: reconstruction {hist[-1]['reconstruction']:.0f} nats/patch, {len(np.unique(enc.order))} angle order(s))")


def bench_frame(threads: int) -> None:
    torch.set_num_threads(threads)
    gen = np.random.default_rng(1)
    # a 128² noisy hexagonal lattice, about the BeamDynamics-v0 default frame
    a = 11.4
    pts = np.array([(i * a + (j % 2) * a / 2, j * a * np.sqrt(3) / 2) for i in range(-1, 13) for j in range(-1, 15)])
    x, y = np.meshgrid(np.arange(128), np.arange(128), indexing="ij")
    img = np.zeros((128, 128))
    for px, py in pts:
        img += np.exp(-((x - px) ** 2 + (y - py) ** 2) / (2 * 2.5**2))
    frame = gen.poisson(4.0 * img + 0.1).astype(np.float32)
    t0 = time.perf_counter()
    pos = find_atoms(frame, sigma=2.0, min_distance=5)
    t1 = time.perf_counter()
    pat, _ = extract_patches(frame, pos, 32)
    t2 = time.perf_counter()
    print(f"atom finding on a 128² frame: {(t1 - t0) * 1e3:.1f} ms ({len(pos)} atoms); patch extraction: {(t2 - t1) * 1e3:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--float32", action="store_true", help="also time the float32 decoder")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    for t in args.threads:
        bench_epoch(t, args.epochs)
        if args.float32:
            bench_epoch(t, args.epochs, "float32")
    bench_frame(args.threads[0])
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
