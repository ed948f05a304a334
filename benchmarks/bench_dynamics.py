"""Benchmarks of beam-induced dynamics (issue 4). Measures; asserts nothing.

Run: ``.venv/bin/python benchmarks/bench_dynamics.py``
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
import tracemalloc

os.environ.setdefault("STEMTWIN_CACHE_DIR", tempfile.mkdtemp(prefix="stemtwin-bench-"))
os.environ.setdefault("TQDM_DISABLE", "1")

from stemtwin.twin import Dose, Microscope, ScanNoise, build_graphene  # noqa: E402


def movie() -> None:
    sample = build_graphene((40.0, 40.0), n_si_3fold=3, n_si_4fold=2, n_monovacancies=2, rng=0)
    scope = Microscope(sample, dynamics="auto", scan_noise=ScanNoise.typical(), rng=0)
    scope.acquire_image(pixels=128)  # warm: calibrations, field
    dose = Dose(current=30.0, dwell_time=16e-6)
    t0 = time.perf_counter()
    for _ in range(100):
        scope.acquire_image(pixels=128, dose=dose)
    elapsed = time.perf_counter() - t0
    kinds: dict[str, int] = {}
    for event in scope.truth().events:
        kinds[event.kind] = kinds.get(event.kind, 0) + 1
    print(f"100-frame 128² fast-engine movie of a 4 nm graphene field, dynamics on: {elapsed:.2f} s ({kinds or 'no events'})")


def memory() -> None:
    sample = build_graphene((30.0, 30.0), n_si_3fold=2, n_si_4fold=2, rng=1)
    scope = Microscope(sample, dynamics="auto", rng=1)
    tracemalloc.start()
    marks = {}
    for i in range(1, 10_001):
        if i % 2:
            scope.acquire_image(fov=(5, 5, 10, 10), pixels=16)
        else:
            scope.acquire_spectrum((15.0, 15.0), dwell_time=1e-3)
        if i in (1000, 2500, 5000, 7500, 10_000):
            gc.collect()
            marks[i] = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    events = len(scope.truth().events)
    text = ", ".join(f"{k}: {v:.1f} MiB" for k, v in marks.items())
    print(f"traced memory after N acquisitions (images 16² and spectra alternating): {text}; {events} events logged")


if __name__ == "__main__":
    movie()
    memory()
