"""Benchmarks of the twin's core (issue 2). Measures; asserts nothing.

Run: ``.venv/bin/python benchmarks/bench_twin.py``
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable

os.environ.setdefault("STEMTWIN_CACHE_DIR", tempfile.mkdtemp(prefix="stemtwin-bench-"))
os.environ.setdefault("TQDM_DISABLE", "1")

from stemtwin.twin import HAADFDetector, Microscope, Optics, ScanNoise, build_graphene  # noqa: E402
from stemtwin.twin.signals import AbtemEngine, FastEngine  # noqa: E402


def timeit(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and minimum wall time of ``fn`` [s]."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def main() -> None:
    sample = build_graphene((40.0, 40.0), n_si_3fold=3, n_si_4fold=3, n_monovacancies=3, rng=0)
    scope = Microscope(sample, scan_noise=ScanNoise.typical(), rng=0)
    scope.acquire_image(pixels=256)  # warm: calibration lookup, field render, caches

    med, best = timeit(lambda: scope.acquire_image(pixels=256), 20)
    print(f"fast engine 256x256 HAADF frame (field cached, distortions + noise): median {med * 1e3:.1f} ms, min {best * 1e3:.1f} ms")

    engine = FastEngine()
    optics, detector = Optics(), HAADFDetector()
    engine.intensity_field(sample, optics, detector)
    med, best = timeit(lambda: FastEngine().intensity_field(sample, optics, detector), 5)
    print(f"fast engine field render of a 4 nm cell (new sample state): median {med * 1e3:.1f} ms")

    scope.acquire_spectrum((20.0, 20.0))
    med, best = timeit(lambda: scope.acquire_spectrum((20.0, 20.0)), 200)
    print(f"acquire_spectrum at one position: median {med * 1e3:.3f} ms, min {best * 1e3:.3f} ms")

    med, best = timeit(lambda: scope.acquire_spectrum_image(pixels=64, dwell_time=1e-3), 3)
    print(f"64x64 spectrum image ({scope.spectrometer.channels} channels): median {med:.2f} s")

    small = build_graphene((12.0, 12.0), n_si_3fold=1, rng=0)
    t0 = time.perf_counter()
    AbtemEngine().intensity_field(small, optics, detector)
    print(f"abTEM engine, 12 Å test cell, full-cell PRISM scan (cold, incl. import): {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    AbtemEngine().intensity_field(small, optics, detector)
    print(f"abTEM engine, same cell, cached: {(time.perf_counter() - t0) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
