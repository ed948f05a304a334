"""Benchmarks of the Re/Mo lattice gas and the Mo(1−x)Re(x)S2 builder. Measures; asserts nothing.

Run: ``.venv/bin/python benchmarks/bench_lattice_gas.py``
"""

from __future__ import annotations


from stemtwin.twin.samples.lattice_gas import (
    energy,
    kawasaki_sweeps,
    local_configuration,
    random_alloy,
    re_re_nn_pairs,
)
from stemtwin.twin.samples.mos2_res2 import build_mos2_res2


from bench_twin import timeit  # noqa: E402 - the shared timing helper


def main() -> None:
    shape, sweeps = (100, 100), 50
    n = shape[0] * shape[1]
    for w1, w2 in [(0.0, 0.0), (1.0, 0.5), (-1.0, -0.5)]:
        occ = kawasaki_sweeps(random_alloy(shape, 0.25, 0), w1, w2, 0.35, 20, 1)  # past the transient
        med, best = timeit(lambda occ=occ, w1=w1, w2=w2: kawasaki_sweeps(occ, w1, w2, 0.35, sweeps, 2), 5)
        out = kawasaki_sweeps(occ, w1, w2, 0.35, sweeps, 2)
        print(
            f"Kawasaki sweep, {shape[0]}x{shape[1]} = {n} sites, x = 0.25, w1 = {w1:+.1f}, w2 = {w2:+.1f}, T = 0.35: "
            f"median {med / sweeps * 1e3:.3f} ms/sweep, min {best / sweeps * 1e3:.3f} ms/sweep "
            f"(Re-Re nn pairs {re_re_nn_pairs(out)}, random {0.25**2 * 3 * n:.0f}; H = {energy(out, w1, w2):.0f} kT)"
        )

    big = random_alloy((300, 300), 0.25, 0)
    med, best = timeit(lambda: kawasaki_sweeps(big, 1.0, 0.5, 0.35, 5, 3), 3)
    print(f"Kawasaki sweep, 300x300 = 9e4 sites: median {med / 5 * 1e3:.2f} ms/sweep")

    med, best = timeit(lambda: local_configuration(occ), 50)
    print(f"local_configuration on {n} sites: median {med * 1e3:.3f} ms")

    med, best = timeit(lambda: build_mos2_res2((30.0, 30.0), w1=1.0, rng=0), 5)
    print(f"build_mos2_res2 default 30x30 Å (90 cations, 200 sweeps): median {med * 1e3:.1f} ms")
    cations = build_mos2_res2((100.0, 100.0), sweeps=0, rng=0).parameters["n_cations"]
    med, best = timeit(lambda: build_mos2_res2((100.0, 100.0), w1=1.0, n_s_vacancies=20, rng=0), 3)
    print(f"build_mos2_res2 100x100 Å ({cations} cations, 200 sweeps, 20 S vacancies): median {med * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
