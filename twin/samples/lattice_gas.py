"""A binary lattice gas on the periodic triangular lattice: Re/Mo order in Mo(1−x)Re(x)S2.

Model
-----
Each site of a triangular lattice holds a cation, Re (occupation 1) or Mo (occupation 0). Unlike
pairs cost an energy w1 for nearest neighbours (distance a, 6 per site) and w2 for next-nearest
neighbours (distance √3·a, 6 per site), in units of kT::

    H = Σ_nn w1·[σi ≠ σj] + Σ_nnn w2·[σi ≠ σj]

Each bond counts once. w > 0 favours like neighbours (Re clustering) and w < 0 alternation
(Vlcek et al., npj Comput. Mater. 7 (2021), doi 10.1038/s41524-021-00507-7). Composition-conserving
Kawasaki swaps are accepted with the Metropolis probability min(1, exp(−ΔH/T)) at the reduced
temperature T (default 0.35).

Lattice indexing
----------------
An occupation array of shape (n1, n2) is stored row by row of the rectangular (orthogonal) cell, so
that it maps onto an orthogonal periodic supercell. Site (i, j) lies at::

    x = a·(i + (j mod 2)/2),    y = j·a·√3/2,

and the lattice is periodic with periods n1·a along x and n2·a·√3/2 along y. Even rows are
shifted by half a lattice constant against odd rows, so ``n2`` must be even; the smallest lattice
on which all 12 neighbours of a site are distinct is (4, 6).

Neighbour ``k`` (k = 0..5) of a site is the nearest neighbour at the angle 60°·k from the +x axis
(0°, 60°, 120°, 180°, 240°, 300°); next-nearest neighbour ``k`` is at 30° + 60°·k. In array
indices, with p = j mod 2::

    k:      0         1             2                 3          4                 5
    nn:  (i+1, j)  (i+p, j+1)  (i+p−1, j+1)     (i−1, j)  (i+p−1, j−1)     (i+p, j−1)
    nnn: (i+p+1, j+1)  (i, j+2)  (i+p−2, j+1)  (i+p−2, j−1)  (i, j−2)  (i+p+1, j−1)

Local configurations
--------------------
The 7-site configuration of a site (the centre plus its 6 nearest neighbours) has the class
``64·σ_centre + Σ_k 2**k·σ_k`` with the neighbours in the angular order above, so 128 classes in
all; rotated or mirrored copies of one motif are distinct classes. Histograms of the classes are
compared with the statistical distance arccos Σ√(p·q).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..errors import ConfigurationError
from ..rng import RNGLike, as_generator
from ..validation import require_finite, require_in_range, require_int, require_positive

__all__ = [
    "DEFAULT_TEMPERATURE",
    "N_CONFIGURATION_CLASSES",
    "MIN_SHAPE",
    "lattice_positions",
    "neighbour_indices",
    "random_alloy",
    "kawasaki_sweeps",
    "energy",
    "nn_unlike_fraction",
    "re_re_nn_pairs",
    "expected_random_re_re_nn_pairs",
    "local_configuration",
    "configuration_histogram",
    "statistical_distance",
]

#: Default reduced temperature T of the Metropolis acceptance (PHYSICS.md).
DEFAULT_TEMPERATURE = 0.35
#: Number of 7-site configuration classes (centre plus 6 nearest neighbours, each Mo or Re).
N_CONFIGURATION_CLASSES = 128
#: Smallest lattice shape (n1, n2) on which the 12 neighbours of every site are distinct.
MIN_SHAPE = (4, 6)

# Offsets (di, dj) for even rows (p = 0) and odd rows (p = 1), in the angular order of the docstring.
_NN_OFFSETS = [
    [(1, 0), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1)],
    [(1, 0), (1, 1), (0, 1), (-1, 0), (0, -1), (1, -1)],
]
_NNN_OFFSETS = [
    [(1, 1), (0, 2), (-2, 1), (-2, -1), (0, -2), (1, -1)],
    [(2, 1), (0, 2), (-1, 1), (-1, -1), (0, -2), (2, -1)],
]


# -- lattice ----------------------------------------------------------------------------------
def _check_shape(shape: tuple[int, int], name: str = "shape") -> tuple[int, int]:
    if not hasattr(shape, "__len__") or len(shape) != 2:
        raise ConfigurationError(f"`{name}` must be a pair (n1, n2) of site counts, got {shape!r}.")
    n1 = require_int(f"{name}[0]", shape[0])
    n2 = require_int(f"{name}[1]", shape[1])
    if n1 < MIN_SHAPE[0] or n2 < MIN_SHAPE[1] or n2 % 2:
        raise ConfigurationError(
            f"`{name}` must be (n1, n2) with n1 >= {MIN_SHAPE[0]} and n2 >= {MIN_SHAPE[1]} even (rows of the "
            f"rectangular cell come in pairs, and smaller lattices repeat neighbours), got {tuple(shape)!r}."
        )
    return n1, n2


def _check_occupation(occupation: np.ndarray, name: str = "occupation") -> np.ndarray:
    occ = np.asarray(occupation)
    if occ.ndim != 2:
        raise ConfigurationError(f"`{name}` must be a 2-D array of shape (n1, n2), got shape {occ.shape}.")
    _check_shape(occ.shape, f"{name}.shape")
    if occ.dtype.kind not in "biu":
        raise ConfigurationError(f"`{name}` must hold integers 0 (Mo) and 1 (Re), got dtype {occ.dtype}.")
    if occ.size and (occ.min() < 0 or occ.max() > 1):
        raise ConfigurationError(
            f"`{name}` must hold only 0 (Mo) and 1 (Re), got values in {int(occ.min())}..{int(occ.max())}."
        )
    return occ.astype(np.int8, copy=False)


def lattice_positions(shape: tuple[int, int], lattice_constant: float = 1.0) -> np.ndarray:
    """Cartesian positions of the lattice sites in the rectangular-cell indexing.

    Parameters
    ----------
    shape
        Lattice shape (n1, n2); n1 >= 4, n2 >= 6 and even.
    lattice_constant
        Nearest-neighbour distance a [Å].

    Returns
    -------
    ndarray of shape (n1, n2, 2)
        (x, y) of site (i, j): ``x = a·(i + (j mod 2)/2)``, ``y = j·a·√3/2`` [Å]. The periodic cell
        is ``n1·a × n2·a·√3/2``.
    """
    n1, n2 = _check_shape(shape)
    a = require_positive("lattice_constant", lattice_constant, "Å")
    i, j = np.meshgrid(np.arange(n1), np.arange(n2), indexing="ij")
    return np.stack([a * (i + (j % 2) / 2.0), j * a * math.sqrt(3.0) / 2.0], axis=-1)


@lru_cache(maxsize=32)
def _tables(n1: int, n2: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i, j = np.meshgrid(np.arange(n1), np.arange(n2), indexing="ij")
    i, j = i.ravel(), j.ravel()
    p = j % 2
    out = []
    for offsets in (_NN_OFFSETS, _NNN_OFFSETS):
        d = np.array(offsets)  # (2, 6, 2)
        di = d[p, :, 0]
        dj = d[p, :, 1]
        table = ((i[:, None] + di) % n1) * n2 + (j[:, None] + dj) % n2
        out.append(table.astype(np.intp))
    both = np.concatenate(out, axis=1)
    for arr in (*out, both):
        arr.setflags(write=False)
    return out[0], out[1], both


def neighbour_indices(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the nearest and next-nearest neighbours of every site.

    Parameters
    ----------
    shape
        Lattice shape (n1, n2). Flat index of site (i, j) is ``i·n2 + j`` (C order).

    Returns
    -------
    nn, nnn : ndarray of shape (n1·n2, 6)
        Column k holds the neighbour at 60°·k (``nn``) or 30° + 60°·k (``nnn``); read-only.
    """
    n1, n2 = _check_shape(shape)
    nn, nnn, _ = _tables(n1, n2)
    return nn, nnn


# -- composition ------------------------------------------------------------------------------
def random_alloy(shape: tuple[int, int], fraction: float, rng: RNGLike = None) -> np.ndarray:
    """A random alloy with exactly ``round(fraction·N)`` Re among the N = n1·n2 sites.

    Parameters
    ----------
    shape
        Lattice shape (n1, n2).
    fraction
        Re fraction x, within [0, 1].
    rng
        Random generator or seed for the placement.

    Returns
    -------
    ndarray of int8, shape (n1, n2)
        1 for Re, 0 for Mo.
    """
    rng = as_generator(rng)
    n1, n2 = _check_shape(shape)
    x = require_in_range("fraction", fraction, 0.0, 1.0)
    n = n1 * n2
    occupation = np.zeros(n, dtype=np.int8)
    occupation[rng.choice(n, size=int(round(x * n)), replace=False)] = 1
    return occupation.reshape(n1, n2)


# -- Monte Carlo ------------------------------------------------------------------------------
@lru_cache(maxsize=32)
def _patterns(n1: int, n2: int) -> tuple[tuple[int, int, int, np.ndarray, np.ndarray], ...]:
    """Per bond direction: (row step, number of rows, pairs per row, row base, column base).

    Direction 0 bonds lie in one row; rows 3 apart are more than √3·a apart, so rows of a pattern
    never interact. Directions 1 and 2 bonds span rows j and j+1; row pairs 4 apart leave 3 rows
    between them. Within a row (or row pair), bonds start 3 sites apart, so the sites of two bonds
    are at least 2·a apart. Wrapping round the periodic cell only widens the last gap.
    """
    out = []
    for step in (3, 4, 4):
        rows = n2 // step
        per_row = n1 // 3
        out.append((step, rows, per_row, np.arange(rows) * step, np.arange(per_row) * 3))
    return tuple(out)


def _pattern_pairs(
    n1: int, n2: int, direction: int, row_offset: int, column_offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices (s, t) of the bonds of one independent pattern."""
    _, rows, per_row, row_base, col_base = _patterns(n1, n2)[direction]
    nn = _tables(n1, n2)[0]
    r = (row_offset + row_base) % n2
    c = (column_offsets[:rows, None] + col_base[None, :]) % n1
    s = (c * n2 + r[:, None]).ravel()
    return s, nn[s, direction]


def _swap_delta(m: np.ndarray, both: np.ndarray, s: np.ndarray, t: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ΔH of swapping unlike nearest-neighbour sites s and t, from spins m = 2σ − 1 (float).

    With [σi ≠ σj] = (1 − m_i·m_j)/2, flipping both spins changes each bond to a third site k by
    m·m_k, and leaves the s–t bond unlike. So ΔH = m_s·h_s + m_t·h_t + 2·w1, where the local field
    h = w1·Σ_nn m + w2·Σ_nnn m includes the partner in the nearest-neighbour sum; with m_t = −m_s
    this is m_s·(h_s − h_t) + 2·w1. ``weights`` is (w1,)·6 + (w2,)·6, matching the columns of
    ``both`` (nearest, then next-nearest neighbours).
    """
    h_s = m.take(both.take(s, axis=0)) @ weights
    h_t = m.take(both.take(t, axis=0)) @ weights
    return m.take(s) * (h_s - h_t) + 2.0 * weights[0]


def kawasaki_sweeps(
    occupation: np.ndarray,
    w1: float,
    w2: float,
    temperature: float = DEFAULT_TEMPERATURE,
    sweeps: int = 1,
    rng: RNGLike = None,
) -> np.ndarray:
    """Composition-conserving Kawasaki-swap Metropolis sweeps of the lattice gas.

    Each sub-step draws, independently of the configuration, a bond direction and a pattern of
    nearest-neighbour bonds whose sites are all at least 2·a apart. Since the energy reaches only
    √3·a, no bond of the pattern shares a site with, or lies in the interaction range of, another.
    The swaps of one pattern therefore commute, and all their ΔH are computed at once from the
    current configuration and accepted with min(1, exp(−ΔH/T)): the same as attempting them one
    after another. Each sub-step is thus an exact Metropolis (detailed balance) update; a random
    offset per sub-step, and per row, lets every bond be attempted. A sweep attempts N = n1·n2 swaps
    on average (about 9–12 sub-steps); pairs of like cations are attempted and left as they are.

    Parameters
    ----------
    occupation
        Starting occupation, ndarray of shape (n1, n2) with 1 = Re and 0 = Mo (see the module
        docstring for the indexing). Not modified.
    w1, w2
        Unlike-pair energies of nearest and next-nearest neighbours [kT].
    temperature
        Reduced temperature T > 0 of the acceptance exp(−ΔH/T).
    sweeps
        Number of sweeps (>= 0).
    rng
        Random generator or seed.

    Returns
    -------
    ndarray of int8, shape (n1, n2)
        The occupation after the sweeps; the number of Re is unchanged.
    """
    rng = as_generator(rng)
    occ = _check_occupation(occupation)
    w1 = require_finite("w1", w1, "kT")
    w2 = require_finite("w2", w2, "kT")
    temperature = require_positive("temperature", temperature, "reduced units")
    sweeps = require_int("sweeps", sweeps, minimum=0)
    n1, n2 = occ.shape
    n = n1 * n2
    m = 2.0 * occ.ravel() - 1.0  # spins: +1 Re, −1 Mo
    both = _tables(n1, n2)[2]
    rows_of = [pattern[1] for pattern in _patterns(n1, n2)]
    weights = np.array([w1] * 6 + [w2] * 6)
    beta = 1.0 / temperature
    attempts, target = 0, sweeps * n
    while attempts < target:
        direction = int(rng.integers(3))
        row_offset = int(rng.integers(n2))
        column_offsets = rng.integers(n1, size=rows_of[direction])
        s, t = _pattern_pairs(n1, n2, direction, row_offset, column_offsets)
        attempts += s.size
        unlike = m.take(s) != m.take(t)
        s, t = s[unlike], t[unlike]
        if s.size == 0:
            continue
        delta = _swap_delta(m, both, s, t, weights)
        accept = rng.random(s.size) < np.exp(-beta * np.maximum(delta, 0.0))
        s, t = s[accept], t[accept]
        m[s] = -m[s]
        m[t] = -m[t]
    return (m > 0).astype(np.int8).reshape(n1, n2)


# -- observables ------------------------------------------------------------------------------
def _unlike_bonds(occ: np.ndarray, table: np.ndarray) -> int:
    flat = occ.ravel()
    return int((flat[:, None] != flat[table[:, :3]]).sum())


def energy(occupation: np.ndarray, w1: float, w2: float) -> float:
    """Energy H = Σ_nn w1·[σi ≠ σj] + Σ_nnn w2·[σi ≠ σj] of a configuration [kT], each bond once."""
    occ = _check_occupation(occupation)
    w1 = require_finite("w1", w1, "kT")
    w2 = require_finite("w2", w2, "kT")
    nn, nnn, _ = _tables(*occ.shape)
    return w1 * _unlike_bonds(occ, nn) + w2 * _unlike_bonds(occ, nnn)


def nn_unlike_fraction(occupation: np.ndarray) -> float:
    """Fraction of the 3N nearest-neighbour bonds that join a Mo and a Re."""
    occ = _check_occupation(occupation)
    nn = _tables(*occ.shape)[0]
    return _unlike_bonds(occ, nn) / (3 * occ.size)


def re_re_nn_pairs(occupation: np.ndarray) -> int:
    """Number of nearest-neighbour bonds joining two Re (each bond once; 3N bonds in all)."""
    occ = _check_occupation(occupation)
    flat = occ.ravel()
    nn = _tables(*occ.shape)[0]
    return int((flat[:, None] & flat[nn[:, :3]]).sum())


def expected_random_re_re_nn_pairs(n_sites: int, n_re: int) -> float:
    """Mean number of Re–Re nearest-neighbour bonds of a random alloy with exactly ``n_re`` Re.

    Each of the 3N bonds joins two Re with probability n_re·(n_re − 1)/(N·(N − 1)), close to the
    x²·3N of independent sites.
    """
    n = require_int("n_sites", n_sites, minimum=2)
    k = require_int("n_re", n_re, minimum=0, maximum=n)
    return 3.0 * n * k * (k - 1) / (n * (n - 1))


def local_configuration(occupation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 7-site configuration class and Re-neighbour count of every site.

    Parameters
    ----------
    occupation
        Occupation, ndarray of shape (n1, n2) (1 = Re).

    Returns
    -------
    config_class : ndarray of int16, shape (n1, n2)
        ``64·σ_centre + Σ_k 2**k·σ_k`` in 0..127, with neighbour k at the angle 60°·k
        (0°, 60°, ..., 300° from +x).
    re_neighbours : ndarray of int8, shape (n1, n2)
        Number of Re among the 6 nearest neighbours, 0..6.
    """
    occ = _check_occupation(occupation)
    nn = _tables(*occ.shape)[0]
    flat = occ.ravel()
    neighbours = flat[nn].astype(np.int16)
    config_class = 64 * flat.astype(np.int16) + neighbours @ (1 << np.arange(6, dtype=np.int16))
    re_neighbours = neighbours.sum(axis=1).astype(np.int8)
    return config_class.astype(np.int16).reshape(occ.shape), re_neighbours.reshape(occ.shape)


def configuration_histogram(config_class: np.ndarray) -> np.ndarray:
    """Normalised histogram of configuration classes.

    Parameters
    ----------
    config_class
        Classes in 0..127, any shape; negative entries (atoms without a class, such as S) are
        ignored.

    Returns
    -------
    ndarray of float64, shape (128,)
        Fraction of sites in each class; sums to 1.
    """
    c = np.asarray(config_class)
    if c.dtype.kind not in "iu":
        raise ConfigurationError(f"`config_class` must hold integers 0..127, got dtype {c.dtype}.")
    c = c[c >= 0].ravel()
    if c.size == 0:
        raise ConfigurationError("`config_class` holds no class in 0..127 to histogram.")
    if c.max() >= N_CONFIGURATION_CLASSES:
        raise ConfigurationError(f"`config_class` values must be within 0..127, got {int(c.max())}.")
    counts = np.bincount(c, minlength=N_CONFIGURATION_CLASSES)
    return counts / counts.sum()


def statistical_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Statistical (Bhattacharyya angle) distance arccos Σ√(p·q) between two histograms.

    Both histograms are normalised to sum 1 first. The distance is 0 for identical histograms and
    π/2 for histograms with no class in common.

    Parameters
    ----------
    p, q
        Non-negative histograms of the same shape, for example from :func:`configuration_histogram`.

    Returns
    -------
    float
        Distance in [0, π/2] [rad].
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ConfigurationError(f"`p` and `q` must have the same shape, got {p.shape} and {q.shape}.")
    for name, h in (("p", p), ("q", q)):
        if not np.all(np.isfinite(h)) or np.any(h < 0) or h.sum() <= 0:
            raise ConfigurationError(f"`{name}` must be a non-negative, finite histogram with a positive sum.")
    overlap = np.sqrt((p / p.sum()) * (q / q.sum())).sum()
    return float(np.arccos(np.clip(overlap, 0.0, 1.0)))
