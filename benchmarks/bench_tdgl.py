"""Benchmarks of the TDGL ferroelectric solver and builder. Measures; asserts nothing.

Run: ``.venv/bin/python benchmarks/bench_tdgl.py``
"""

from __future__ import annotations


from stemtwin.twin.samples.ferroelectric import build_ferroelectric
from stemtwin.twin.samples.tdgl import DEFAULT_DT, LandauGinzburg2D, LGDParameters, domain_labels


from bench_twin import timeit  # noqa: E402 - the shared timing helper


def main() -> None:
    params = LGDParameters()
    print(
        f"PbTiO3 at 25 °C: Ps = {params.Ps:.4f} C/m², ξ = {params.xi:.3f} nm, "
        f"G = {params.gradient_coefficient:.3g} C⁻²m⁴N, stable dt = {LandauGinzburg2D(params, 8).stable_dt:.3f}"
    )
    for n in (64, 128, 256, 512):
        model = LandauGinzburg2D(params, (n, n))
        state = model.random_state(0)
        for _ in range(5):  # warm: FFT plans, the cached denominator
            state = model.step(state, DEFAULT_DT)
        repeat = 200 if n <= 128 else 40
        med, best = timeit(lambda model=model, state=state: model.step(state, DEFAULT_DT), repeat)
        print(f"TDGL step {n}x{n}: median {med * 1e3:.3f} ms, min {best * 1e3:.3f} ms")

    model = LandauGinzburg2D(params, (128, 128))
    start = model.random_state(0)
    med, _ = timeit(lambda: model.relax(start, 1000, DEFAULT_DT), 3)
    print(f"TDGL relax 128x128, 1000 steps: median {med:.2f} s ({med:.3f} ms per step)")
    relaxed = model.relax(start, 1000, DEFAULT_DT)
    med, _ = timeit(lambda: domain_labels(relaxed), 20)
    print(f"domain_labels 128x128: median {med * 1e3:.2f} ms")

    med, _ = timeit(lambda: build_ferroelectric((40.0, 40.0), rng=0), 5)
    print(f"build_ferroelectric 40 Å (10x10 cells, 2000 steps): median {med * 1e3:.1f} ms")
    med, _ = timeit(lambda: build_ferroelectric((200.0, 200.0), rng=0), 3)
    print(f"build_ferroelectric 200 Å (51x51 cells, 2000 steps): median {med:.2f} s")


if __name__ == "__main__":
    main()
