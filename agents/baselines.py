"""Baselines for the Explore task, so that DKL-BO's scores mean something.

- :class:`RandomAgent`: uniformly random unvisited candidates.
- :class:`RasterAgent`: raster subsampling of the candidate grid (a regular lattice, then finer ones).
- :class:`GPXYAgent`: Bayesian optimisation with a GP on the candidates' (x, y) coordinates.
- :class:`RawPatchGPAgent`: Bayesian optimisation with a GP on the raw flattened patches (no learned features).
- :class:`OracleAgent`: reads the true map, given to it explicitly, and measures the best sites first.

The model-free baselines report a nearest-neighbour ``mean`` map (the reward of the closest measured
candidate on the grid), so that every agent's reconstruction can be scored; they report no ``std``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .base import AgentError, ExploreAgent
from .dkl_bo import GPBOAgent, _check_int, patch_inputs

__all__ = [
    "GPXYAgent",
    "OracleAgent",
    "RandomAgent",
    "RasterAgent",
    "RawPatchGPAgent",
    "nearest_neighbour_map",
    "raster_order",
]


def nearest_neighbour_map(grid: int, indices: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The value of the nearest measured candidate (grid distance) at every candidate, shape (G·G,).

    Repeated measurements of a candidate are averaged. NaN everywhere when nothing was measured.
    """
    n = grid * grid
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if indices.size == 0:
        return np.full(n, np.nan)
    from scipy.spatial import cKDTree

    sums = np.bincount(indices, weights=np.asarray(values, dtype=np.float64), minlength=n)
    counts = np.bincount(indices, minlength=n)
    measured = np.flatnonzero(counts)
    ij = np.stack(np.divmod(np.arange(n), grid), axis=1).astype(np.float64)
    _, nearest = cKDTree(ij[measured]).query(ij)
    return (sums[measured] / counts[measured])[nearest]


def raster_order(grid: int, stride: int | None = None) -> np.ndarray:
    """Candidate indices in raster-subsampling order.

    With ``stride`` s: first the s-strided lattice (row-major, centred in the grid), then the rest in
    the coarse-to-fine order below. Without: coarse-to-fine nested lattices of strides 2^k, 2^(k−1),
    …, 1 (2^k the largest power of two <= G, all offset by 2^k // 2 so that the coarsest lattice is
    centred), each new lattice's points row-major. Every prefix is then spread over the grid.

    Returns
    -------
    ndarray of shape (G·G,), int64, a permutation of ``0..G·G−1``.
    """
    order: list[int] = []
    seen = np.zeros((grid, grid), dtype=bool)

    def add(rows: np.ndarray, cols: np.ndarray) -> None:
        for i in rows:
            for j in cols:
                if not seen[i, j]:
                    seen[i, j] = True
                    order.append(int(i) * grid + int(j))

    if stride is not None:
        last = ((grid - 1) // stride) * stride
        offset = (grid - 1 - last) // 2
        lattice = np.arange(offset, grid, stride)
        add(lattice, lattice)
    top = 1 << (grid.bit_length() - 1)
    centre = top // 2
    s = top
    while s >= 1:
        lattice = np.array([i for i in range(grid) if (i - centre) % s == 0], dtype=np.int64)
        add(lattice, lattice)
        s //= 2
    return np.asarray(order, dtype=np.int64)


class _ModelFreeAgent(ExploreAgent):
    def report(self) -> dict[str, Any]:
        """``visited``, ``rewards``, ``grid`` and a nearest-neighbour ``mean`` map (N,) of the rewards."""
        out = super().report()
        out["mean"] = nearest_neighbour_map(self.grid, out["visited"], out["rewards"])
        return out


class RandomAgent(_ModelFreeAgent):
    """Uniformly random unvisited candidates (all candidates once every one is visited).

    Parameters
    ----------
    seed
        Seed of the agent's random stream.
    """

    name = "random"

    def _choose(self, observation: Any) -> int:
        return self._random_unvisited()


class RasterAgent(_ModelFreeAgent):
    """Raster subsampling: measure a regular lattice of the candidate grid, then finer lattices.

    Parameters
    ----------
    stride
        Lattice stride in candidates. Default: chosen from ``budget`` when given (the smallest stride
        whose centred lattice fits in the budget), else the coarse-to-fine order of :func:`raster_order`.
    budget
        Number of measurements the episode will allow (used to choose the stride).
    seed
        Unused (the agent is deterministic); accepted for a uniform interface.
    """

    name = "raster"

    def __init__(self, stride: int | None = None, budget: int | None = None, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self.stride = _check_int("stride", stride, 1, allow_none=True)
        self.budget = _check_int("budget", budget, 1, allow_none=True)

    def _setup(self, observation: Any, info: Mapping[str, Any]) -> None:
        stride = self.stride
        if stride is None and self.budget is not None:
            stride = next(s for s in range(1, self.grid + 1) if (-(-self.grid // s)) ** 2 <= self.budget)
        self._order = raster_order(self.grid, stride)
        self._cursor = 0

    def _choose(self, observation: Any) -> int:
        while self._cursor < len(self._order) and self.visited[self._order[self._cursor]]:
            self._cursor += 1
        if self._cursor >= len(self._order):
            return self._random_unvisited()
        return int(self._order[self._cursor])


class GPXYAgent(GPBOAgent):
    """Bayesian optimisation with a GP on the candidates' (x, y) coordinates (no image information).

    Inputs: ``info["candidate_positions"]`` [Å] when the env gives them, else the grid fractions
    ((i + ½)/G, (j + ½)/G); either is rescaled to [0, 1] per axis. Default kernel
    ``ScaleKernel(Matern52(ARD))`` with initial lengthscales of 2 candidate spacings. All
    :class:`~stemtwin.agents.dkl_bo.GPBOAgent` parameters apply.
    """

    name = "gp_xy"

    def __init__(self, *, kernel: str = "matern52", **kwargs: Any) -> None:
        super().__init__(kernel=kernel, **kwargs)

    def _candidate_inputs(self, observation: Any, info: Mapping[str, Any]) -> np.ndarray:
        pos = np.asarray(self.positions, dtype=np.float64)
        lo, hi = pos.min(axis=0), pos.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        return ((pos - lo) / span).astype(np.float32)

    def _default_covar_module(self, n_inputs: int) -> Any:
        from .gp import make_covar_module

        return make_covar_module(self.kernel, ard_num_dims=n_inputs, lengthscale=2.0 / max(self.grid - 1, 1))


class RawPatchGPAgent(GPBOAgent):
    """Bayesian optimisation with a GP on the raw flattened patches (no learned features).

    The patches are those of :class:`~stemtwin.agents.dkl_bo.DKLBOAgent` (standardised, flattened);
    the default kernel is an isotropic ``ScaleKernel(RBF)`` whose initial lengthscale is the median
    distance between candidate patches.

    Parameters
    ----------
    patch_size
        Patch side [pixels] (default 16).
    **kwargs
        :class:`~stemtwin.agents.dkl_bo.GPBOAgent` parameters.
    """

    name = "gp_patches"

    def __init__(self, *, patch_size: int = 16, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.patch_size = _check_int("patch_size", patch_size, 1)

    def _candidate_inputs(self, observation: Any, info: Mapping[str, Any]) -> np.ndarray:
        flat, _ = patch_inputs(self, info, self.patch_size)
        return flat

    def _default_covar_module(self, n_inputs: int) -> Any:
        from .gp import make_covar_module

        x = self._features
        pick = np.random.default_rng(0).choice(len(x), size=min(len(x), 256), replace=False)
        sub = x[pick].astype(np.float64)
        d2 = np.clip((sub**2).sum(1)[:, None] + (sub**2).sum(1)[None, :] - 2 * sub @ sub.T, 0.0, None)
        median = float(np.median(np.sqrt(d2[np.triu_indices(len(sub), 1)]))) if len(sub) > 1 else 1.0
        return make_covar_module(self.kernel, lengthscale=median if median > 0 else 1.0)


class OracleAgent(ExploreAgent):
    """Measures the candidates in decreasing order of the true map, for normalising scores.

    The true map is given explicitly, never read from the env: as ``true_map`` (an array of shape
    (G, G) or (G·G,), or a zero-argument callable evaluated at every :meth:`reset`, e.g.
    ``lambda: env.unwrapped.true_map()``, since the map exists only after the env's reset), or as
    ``info["true_map"]`` at reset. The scenario runner passes ``env.unwrapped.true_map()``.

    Parameters
    ----------
    true_map
        The true map, or a callable returning it.
    seed
        Unused (the agent is deterministic).
    """

    name = "oracle"

    def __init__(self, true_map: np.ndarray | Callable[[], np.ndarray] | None = None, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self.true_map = true_map
        self._map = np.zeros(0)

    def set_true_map(self, true_map: np.ndarray | Callable[[], np.ndarray]) -> None:
        """Give the agent the true map (before :meth:`reset`)."""
        self.true_map = true_map

    def _setup(self, observation: Any, info: Mapping[str, Any]) -> None:
        source = info.get("true_map") if isinstance(info, Mapping) and info.get("true_map") is not None else self.true_map
        if source is None:
            raise AgentError(
                "OracleAgent needs the true map: pass OracleAgent(true_map=...) with the (G, G) map or a callable such as "
                "`lambda: env.unwrapped.true_map()`, or put it in info['true_map'] at reset."
            )
        values = np.asarray(source() if callable(source) else source, dtype=np.float64)
        if values.size != self.n_candidates:
            raise AgentError(f"OracleAgent: the true map has {values.size} values, the env has {self.n_candidates} candidates ({self.grid} × {self.grid}).")
        if not np.all(np.isfinite(values)):
            raise AgentError("OracleAgent: the true map contains NaN or inf.")
        self._map = values.reshape(-1)
        self._order = np.argsort(-self._map, kind="stable")

    def _choose(self, observation: Any) -> int:
        free = self._order[~self.visited[self._order]]
        return int(free[0]) if free.size else int(self._order[0])

    def report(self) -> dict[str, Any]:
        """``visited``, ``rewards``, ``grid``, and the true map as ``mean`` (N,) with ``std`` zeros."""
        out = super().report()
        out["mean"] = self._map.copy()
        out["std"] = np.zeros_like(self._map)
        return out
