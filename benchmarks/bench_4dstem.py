"""Benchmarks of 4D-STEM (issue 3). Measures; asserts nothing.

Run: ``.venv/bin/python benchmarks/bench_4dstem.py``
"""

from __future__ import annotations

import os
import tempfile
import time

os.environ.setdefault("STEMTWIN_CACHE_DIR", tempfile.mkdtemp(prefix="stemtwin-bench-"))
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402

from stemtwin.twin import Microscope, Optics, ScanNoise, build_graphene  # noqa: E402
from stemtwin.twin.detectors import DiffractionCamera  # noqa: E402
from stemtwin.twin.signals.diffraction_abtem import AbtemDiffractionEngine  # noqa: E402
from stemtwin.twin.signals.diffraction_fast import FastDiffractionEngine  # noqa: E402

from bench_twin import timeit  # noqa: E402


def main() -> None:
    sample = build_graphene((40.0, 40.0), n_si_3fold=3, n_si_4fold=3, rng=0)
    optics, camera = Optics(), DiffractionCamera()
    engine = FastDiffractionEngine()
    one = np.array([[20.0, 20.0]])
    engine.patterns(sample, optics, camera, one)  # warm: phase object of this sample state
    med, best = timeit(lambda: engine.patterns(sample, optics, camera, one), 200)
    print(f"fast diffraction pattern ({camera.pixels}² px) at one position: median {med * 1e3:.2f} ms, min {best * 1e3:.2f} ms")
    many = np.random.default_rng(0).uniform(0, 40, (256, 2))
    med, _ = timeit(lambda: engine.patterns(sample, optics, camera, many), 3)
    print(f"fast diffraction patterns, batched: {med / 256 * 1e3:.2f} ms per pattern")

    scope = Microscope(sample, scan_noise=ScanNoise.typical(), rng=0)
    scope.acquire_4dstem(pixels=64, output="com")
    med, best = timeit(lambda: scope.acquire_4dstem(pixels=64, output="com"), 10)
    print(f"fast CoM map 64x64 (acquire_4dstem output='com', noise + distortions): median {med * 1e3:.1f} ms")
    t0 = time.perf_counter()
    FastDiffractionEngine().center_of_mass(build_graphene((40.0, 40.0), n_si_3fold=3, rng=1), optics, camera)
    print(f"fast CoM field of a new 4 nm sample state: {(time.perf_counter() - t0) * 1e3:.0f} ms")
    med, _ = timeit(lambda: scope.acquire_4dstem(pixels=32), 2)
    print(f"fast 4D-STEM 32x32 x {camera.pixels}² patterns: median {med:.2f} s")

    small = build_graphene((12.0, 12.0), n_si_3fold=1, rng=0)
    abtem_engine = AbtemDiffractionEngine()
    t0 = time.perf_counter()
    abtem_engine.patterns(small, optics, camera, np.array([[3.0, 4.0]]))
    print(f"abTEM diffraction pattern at one position, cold (incl. import): {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    abtem_engine.patterns(small, optics, camera, np.array([[6.0, 4.0]]))
    print(f"abTEM diffraction pattern at one position, cold (abTEM warm): {time.perf_counter() - t0:.2f} s")
    med, _ = timeit(lambda: abtem_engine.patterns(small, optics, camera, np.array([[3.0, 4.0]])), 20)
    print(f"abTEM diffraction pattern at one position, cached: {med * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
