"""Benchmarks of the graphene kinetic Monte Carlo (GrapheneDynamics). Measures; asserts nothing.

Run: ``.venv/bin/python benchmarks/bench_kmc.py``

- cost per event: a beam parked on a Si–C bond centre with a high jump rate (thousands of jumps
  in one call), the same with every process on, and knock-on events along scan lines at 100 kV;
- cost of a scan-line call in which nothing happens (128 and 256 positions), the typical call;
- cost of the first call on a new sample (bonds, channels and trees built once per structure).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from stemtwin.twin import build_graphene
from stemtwin.twin.dynamics.base import Exposure
from stemtwin.twin.dynamics.graphene import GrapheneDynamics

E_CHARGE = 1.602176634e-19


def timeit(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall time and minimum CPU time of ``fn`` [s] (CPU time is robust to a busy machine)."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), min(cpu)


def parked(xy: np.ndarray, seconds: float, energy: float = 60e3, current: float = 30.0) -> Exposure:
    electrons = current * 1e-12 * seconds / E_CHARGE
    position = np.asarray(xy, float).reshape(1, 2)
    return Exposure(position, np.array([electrons]), np.zeros(1), seconds, energy, current, "spectrum")


def line(x: float, height: float, n: int, electrons: float, energy: float, t0: float = 0.0) -> Exposure:
    positions = np.column_stack([np.full(n, x), (np.arange(n) + 0.5) * height / n])
    return Exposure(positions, np.full(n, electrons), t0 + np.arange(n) * 16e-6, 16e-6, energy, 30.0, "image")


def bond_centre(sample) -> np.ndarray:
    si = int(sample.indices_of("Si_3fold")[0])
    box = np.array(sample.extent)
    d = sample.positions[:, :2] - sample.positions[si, :2]
    d -= box * np.round(d / box)
    r = np.hypot(d[:, 0], d[:, 1])
    return sample.positions[si, :2] + 0.5 * d[np.flatnonzero((r > 0.1) & (r < 1.6))[0]]


def per_event(label: str, model: GrapheneDynamics, sample, exposure: Exposure, repeat: int = 3) -> None:
    model.evolve(sample, exposure, np.random.default_rng(0))  # warm: caches for this sample
    wall, cpu = [], []
    for seed in range(repeat):
        rng = np.random.default_rng(seed + 1)
        t0, c0 = time.perf_counter(), time.process_time()
        _, events = model.evolve(sample, exposure, rng)
        n = max(len(events), 1)
        wall.append((time.perf_counter() - t0) / n)
        cpu.append((time.process_time() - c0) / n)
    print(
        f"{label}: {len(events)} events per call, wall median {statistics.median(wall) * 1e6:.1f} µs/event, "
        f"CPU min {min(cpu) * 1e6:.1f} µs/event"
    )


def main() -> None:
    sample = build_graphene((40.0, 40.0), n_si_3fold=3, n_si_4fold=2, n_monovacancies=2, rng=0)
    print(f"sample: 40 × 40 Å graphene, {len(sample)} atoms, 3 three-fold Si, 2 four-fold Si, 2 monovacancies")

    # -- cost per event ------------------------------------------------------------------------
    centre = bond_centre(sample)
    fast_jumps = GrapheneDynamics(["si_jump"], si_jump_peak_rate=1000.0)
    label = "parked on a Si–C bond centre, Si jumps only (peak 1000 s⁻¹), 10 s"
    per_event(label, fast_jumps, sample, parked(centre, 10.0))
    everything = GrapheneDynamics(
        {"vacancy_migration": True},
        si_jump_peak_rate=1000.0,
        si_conversion_cross_section=0.0,
        si_reconversion_cross_section=0.0,
    )
    label = "  same, every process on (knock-on and migration channels too)"
    per_event(label, everything, sample, parked(centre, 10.0))
    knock = GrapheneDynamics(["knock_on"], vacancy_edge_threshold=None)
    rows = [line(x, sample.extent[1], 256, 5e7, 100e3) for x in np.linspace(1.0, 39.0, 8)]

    def knock_lines() -> tuple[float, int]:
        s, n = sample, 0
        c0 = time.process_time()
        for exposure in rows:
            s, events = knock.evolve(s, exposure, rng)
            n += len(events)
        return time.process_time() - c0, n

    rng = np.random.default_rng(0)
    knock_lines()
    results = [knock_lines() for _ in range(3)]
    cost = min(t / max(n, 1) for t, n in results)
    print(
        "knock-on along 8 scan lines of 256 positions at 100 kV, 5e7 e⁻/position: "
        f"{statistics.median(n for _, n in results):.0f} events, CPU {cost * 1e6:.0f} µs/event "
        "(includes building a new Sample for each line with events)"
    )

    # -- cost of a call with no event --------------------------------------------------------------
    default = GrapheneDynamics()
    for n in (128, 256):
        for kv in (60, 80, 100):
            exposure = line(13.3, sample.extent[1], n, 3000.0, kv * 1e3)  # 30 pA × 16 µs
            rng = np.random.default_rng(0)
            default.evolve(sample, exposure, rng)
            calls = 2000
            changed = 0

            def run(exposure: Exposure = exposure, rng: np.random.Generator = rng) -> None:
                nonlocal changed
                for _ in range(calls):
                    changed += default.evolve(sample, exposure, rng)[0] is not sample

            med, best = timeit(run, 3)
            expected = sum(default.expected_events(sample, exposure).values())
            print(
                f"scan line, {n} positions, {kv} kV, defaults (expected events/line {expected:.1e}): "
                f"wall median {med / calls * 1e6:.1f} µs/call, CPU min {best / calls * 1e6:.1f} µs/call "
                f"({changed} of {3 * calls} calls had an event)"
            )

    # -- first call on a new structure -------------------------------------------------------------
    for extent in (40.0, 100.0):
        fresh = [build_graphene((extent, extent), n_si_3fold=3, n_monovacancies=2, rng=k) for k in range(5)]
        exposure = line(13.3, extent, 256, 3000.0, 60e3)

        def first_calls(fresh: list = fresh, exposure: Exposure = exposure) -> None:
            model = GrapheneDynamics()
            for s in fresh:
                model.evolve(s, exposure, np.random.default_rng(0))

        med, best = timeit(first_calls, 3)
        print(
            f"first call on a new {extent:.0f} × {extent:.0f} Å sample ({len(fresh[0])} atoms): "
            f"wall median {med / len(fresh) * 1e3:.2f} ms, CPU min {best / len(fresh) * 1e3:.2f} ms"
        )


if __name__ == "__main__":
    main()
