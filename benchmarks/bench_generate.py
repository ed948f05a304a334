"""Benchmark of ``stemtwin generate`` (data generation into a zarr store). Measures; asserts nothing.

For the shipped example specs ``graphene-haadf`` (256² fast-engine HAADF frames with atoms, masks,
noise-free frames and distortion fields) and ``mos2-eels`` (64×64×512 EELS spectrum images with
labels), generates stores of two sizes on a local Dask cluster of 1 and 2 worker processes and
prints samples/s (wall time of :func:`generate`, cluster start included; the steady rate from the
chunks' own compute and write times, first chunks included; and the rate of the median chunk, i.e.
after each worker's warm-up, times the workers), the store size, and the peak RSS of each worker process (from the chunk
markers, ``resource.getrusage`` in the task). The peak RSS being the same for both sizes shows that
memory is bounded by the chunk size, not by N.

The stores are deleted only at the end: deleting tens of thousands of chunk files makes the next
few seconds of file creation on this machine's ext4 several times slower (the inode allocator steps
over recently freed inodes), which would charge one run for the clean-up of the one before.

Run: ``.venv/bin/python benchmarks/bench_generate.py [--quick]``; ``--abtem 3`` times three abTEM-engine
frames of a 2 nm cell instead.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("STEMTWIN_CACHE_DIR", tempfile.mkdtemp(prefix="stemtwin-bench-"))
os.environ.setdefault("TQDM_DISABLE", "1")

from stemtwin.twin.datasets import load_spec  # noqa: E402
from stemtwin.twin.datasets.generate import generate  # noqa: E402
from stemtwin.twin.datasets.store import read_manifest, read_markers  # noqa: E402

CASES = {
    # spec: (small N, large N) — multiples of the spec's samples_per_chunk
    "graphene-haadf": (256, 1024),
    "mos2-eels": (32, 128),
}
QUICK = {"graphene-haadf": (64, 128), "mos2-eels": (16, 32)}

#: One abTEM-engine frame of a 2 nm cell: 20 × 20 Å graphene with one Si, a 64² HAADF scan of 10 Å,
#: a new structure for every frame (``--abtem N``: N frames in this process, one chunk each).
ABTEM_2NM = {
    "dataset": {"name": "abtem-2nm", "samples_per_chunk": 1},
    "sample": {"family": "graphene", "frames_per_structure": 1, "params": {"extent": [20.0, 20.0], "n_si_3fold": 1}},
    "instrument": {"engine": "abtem", "modality": "haadf", "pixels": 64, "fov": 10.0, "dose": [1e5, 1e5]},
    "labels": {"store": ["atoms", "noise_free"]},
}


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def one(spec_name: str, n: int, workers: int, root: Path) -> dict:
    spec = load_spec(spec_name)
    out = root / f"{spec_name}-{n}-{workers}.zarr"
    t0 = time.perf_counter()
    generate(spec, n, out, seed=0, workers=workers, progress=False)
    wall = time.perf_counter() - t0
    man = read_manifest(out)
    markers = read_markers(out, man).values()
    per_pid: dict[int, int] = {}
    busy = 0.0
    per_sample: list[float] = []
    for m in markers:
        w = m["worker"]
        per_pid[w["pid"]] = max(per_pid.get(w["pid"], 0), w["peak_rss_bytes"] or 0)
        busy += w["seconds"]
        per_sample.append(w["seconds"] / (m["samples"][1] - m["samples"][0]))
    per_sample.sort()
    median = per_sample[len(per_sample) // 2]
    result = {
        "spec": spec_name,
        "n": n,
        "workers": workers,
        "chunks": man["n_chunks"],
        "wall_s": wall,
        "rate": n / wall,
        "steady_rate": n / (busy / workers),  # chunk compute+write time only, per worker in parallel
        "chunk_rate": workers / median,  # the median chunk's samples/s, times the workers (after warm-up)
        "store_mb": _size_mb(out),
        "raw_mb": sum(
            n * _prod(a["shape"][1:]) * _itemsize(a["dtype"]) for a in man["arrays"].values()
        )
        / 1e6,
        "peak_rss_mb": sorted(v / 1e6 for v in per_pid.values()),
    }
    return result


def abtem_frames(frames: int, root: Path) -> list[float]:
    """Seconds per abTEM-engine frame of :data:`ABTEM_2NM` (the first one includes abTEM's warm-up)."""
    from stemtwin.twin.datasets.spec import parse_spec

    out = root / "abtem-2nm.zarr"
    generate(parse_spec(ABTEM_2NM, source="<bench>"), frames, out, seed=0, workers=0, progress=False)
    markers = read_markers(out, read_manifest(out))
    return [markers[k]["worker"]["seconds"] for k in sorted(markers)]


def _prod(shape: list[int]) -> int:
    out = 1
    for s in shape:
        out *= s
    return out


def _itemsize(dtype: str) -> int:
    import numpy as np

    return np.dtype(dtype).itemsize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller N")
    parser.add_argument("--out", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--abtem", type=int, default=0, metavar="N", help="only time N abTEM-engine frames of a 2 nm cell")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="stemtwin-bench-gen-", dir=args.out))
    print(f"{os.cpu_count()} cores; scratch {root}")
    if args.abtem > 0:
        try:
            seconds = abtem_frames(args.abtem, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        # A 20 x 20 A cell has ~160 sites for its one Si, so two frames now and then share a structure:
        # the second then reads abTEM's image of the cell from the on-disk cache (well under a second).
        times = ", ".join(f"{t:.1f}" + (" (cache hit)" if t < 1.0 else "") for t in seconds)
        print(f"abTEM engine, 20 x 20 A graphene + 1 Si, 64^2 HAADF, one thread: {times} s per frame")
        return
    header = f"{'spec':<15} {'N':>5} {'workers':>7} {'chunks':>6} {'wall s':>7} {'samples/s':>9} {'steady/s':>8} {'chunk/s':>7} {'store MB':>9} {'raw MB':>8}  peak RSS per worker [MB]"
    print(header)
    try:
        for spec_name, sizes in (QUICK if args.quick else CASES).items():
            for n in sizes:
                for workers in (1, 2):
                    r = one(spec_name, n, workers, root)
                    rss = ", ".join(f"{v:.0f}" for v in r["peak_rss_mb"])
                    print(
                        f"{r['spec']:<15} {r['n']:>5} {r['workers']:>7} {r['chunks']:>6} {r['wall_s']:>7.1f} "
                        f"{r['rate']:>9.1f} {r['steady_rate']:>8.1f} {r['chunk_rate']:>7.1f} {r['store_mb']:>9.1f} {r['raw_mb']:>8.1f}  {rss}",
                        flush=True,
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
