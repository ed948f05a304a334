"""Acquisition functions over a finite candidate grid: EI, UCB(β), maximum uncertainty, Thompson sampling.

Every function scores a :class:`CandidatePosterior` (the posterior mean and standard deviation at
the N candidates, plus optional joint information) and selects the best candidate(s) that were not
visited yet.

- ``"ei"``: expected improvement over ``best_f``, ``EI = (μ − f*)Φ(u) + σφ(u)`` with ``u = (μ − f*)/σ``,
  computed by BoTorch's :class:`~botorch.acquisition.analytic.LogExpectedImprovement` (numerically
  safe far below ``best_f``) and exponentiated.
- ``"ucb"``: ``μ + √β σ`` (BoTorch's :class:`~botorch.acquisition.analytic.UpperConfidenceBound`).
- ``"max_uncertainty"``: ``σ`` (pure exploration).
- ``"thompson"``: one joint draw from the posterior; its argmax.

BoTorch's analytic functions take a model; here they receive :class:`TabulatedModel`, a thin BoTorch
``Model`` whose posterior at "design point" ``x = k`` is the tabulated Normal N(μ_k, σ_k²) of
candidate ``k``.

Batches (q > 1)
---------------
:meth:`AcquisitionFunction.select` picks q candidates greedily by the *kriging believer* scheme
(Ginsbourger et al. 2010): after each pick the posterior is conditioned on a fantasy observation
equal to its posterior mean at the pick (noise variance ``posterior.noise_variance``). The mean is then
unchanged everywhere and the variance shrinks around the pick,
``σ²_new = σ² − Σ_{·S} (Σ_SS + σ_n² I)⁻¹ Σ_{S·}``, using the posterior covariance
``posterior.covariance`` (independent candidates when it is missing, so that only the pick itself
shrinks). ``best_f`` grows to the believed value when it exceeds it. Thompson sampling instead takes
the argmax of q independent joint draws (batch Thompson sampling), skipping picks already made.

This module imports torch and BoTorch only when EI or UCB is evaluated.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .base import AgentError, check_choice

__all__ = [
    "ACQUISITIONS",
    "AcquisitionFunction",
    "CandidatePosterior",
    "ExpectedImprovement",
    "MaximumUncertainty",
    "ThompsonSampling",
    "UpperConfidenceBound",
    "make_acquisition",
]


@dataclass
class CandidatePosterior:
    """A Gaussian posterior tabulated over N candidates.

    Parameters
    ----------
    mean
        Posterior mean, ndarray of shape (N,).
    std
        Posterior standard deviation of the latent function, ndarray of shape (N,), >= 0.
    noise_variance
        Observation-noise variance, used by the kriging-believer batch update.
    covariance
        Optional ``f(idx) -> ndarray (N, k)``: posterior covariances between every candidate and
        candidates ``idx`` (k,). Missing: the candidates are treated as independent.
    sample
        Optional ``f(rng, n) -> ndarray (n, N)``: joint posterior draws. Missing: independent draws
        ``mean + std · z``.
    """

    mean: np.ndarray
    std: np.ndarray
    noise_variance: float = 0.0
    covariance: Callable[[np.ndarray], np.ndarray] | None = None
    sample: Callable[[np.random.Generator, int], np.ndarray] | None = None

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(self.std, dtype=np.float64).reshape(-1)
        if self.mean.shape != self.std.shape:
            raise AgentError(f"Posterior `mean` and `std` must have the same shape (N,), got {self.mean.shape} and {self.std.shape}.")
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.std))):
            raise AgentError("Posterior `mean` and `std` must be finite.")
        if np.any(self.std < 0):
            raise AgentError("Posterior `std` must be >= 0.")

    @property
    def size(self) -> int:
        """Number of candidates N."""
        return int(self.mean.shape[0])

    def covariance_columns(self, idx: np.ndarray) -> np.ndarray:
        """Posterior covariance between every candidate and candidates ``idx``, ndarray of shape (N, k)."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        if self.covariance is not None:
            return np.asarray(self.covariance(idx), dtype=np.float64).reshape(self.size, idx.size)
        out = np.zeros((self.size, idx.size))
        out[idx, np.arange(idx.size)] = self.std[idx] ** 2
        return out

    def draw(self, rng: np.random.Generator, n: int = 1) -> np.ndarray:
        """``n`` joint posterior draws over the candidates, ndarray of shape (n, N)."""
        if self.sample is not None:
            return np.asarray(self.sample(rng, n), dtype=np.float64).reshape(n, self.size)
        return self.mean[None, :] + self.std[None, :] * rng.standard_normal((n, self.size))

    def believe(self, picks: np.ndarray) -> CandidatePosterior:
        """The posterior after fantasy observations equal to the mean at ``picks`` (kriging believer)."""
        picks = np.asarray(picks, dtype=np.int64).reshape(-1)
        if picks.size == 0:
            return self
        cols = self.covariance_columns(picks)  # (N, k)
        gram = cols[picks, :] + self.noise_variance * np.eye(picks.size)
        gram = 0.5 * (gram + gram.T) + 1e-12 * np.eye(picks.size)
        reduction = np.einsum("nk,nk->n", cols, np.linalg.solve(gram, cols.T).T)
        var = np.clip(self.std**2 - reduction, 0.0, None)
        return CandidatePosterior(self.mean, np.sqrt(var), self.noise_variance, None, None)


def _as_mask(visited: Any, n: int) -> np.ndarray:
    """A boolean mask (N,) from ``visited``.

    Accepted: ``None`` (nothing visited); a boolean mask of N entries; an array of N entries with two
    or more dimensions, or a 1-D floating array of N entries, read as 0/1 (``obs["visited"]``); or
    integer candidate indices.
    """
    if visited is None:
        return np.zeros(n, dtype=bool)
    arr = np.asarray(visited)
    is_mask = arr.dtype == bool or arr.ndim >= 2 or (arr.ndim == 1 and np.issubdtype(arr.dtype, np.floating))
    if is_mask:
        if arr.size != n:
            raise AgentError(f"`visited` mask must have N = {n} entries, got shape {arr.shape}.")
        return arr.reshape(n) != 0
    if not np.issubdtype(arr.dtype, np.integer):
        raise AgentError(f"`visited` must be a mask or integer candidate indices, got dtype {arr.dtype}.")
    idx = arr.astype(np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise AgentError(f"`visited` indices must lie in 0..{n - 1}, got {idx.min()}..{idx.max()}.")
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    return mask


class AcquisitionFunction(ABC):
    """Scores candidates from a :class:`CandidatePosterior`; larger is better."""

    name: ClassVar[str] = ""
    #: Whether the function needs ``best_f``.
    needs_best_f: ClassVar[bool] = False

    @abstractmethod
    def __call__(self, posterior: CandidatePosterior, *, best_f: float | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """Acquisition value at every candidate, ndarray of shape (N,)."""

    def select(
        self,
        posterior: CandidatePosterior,
        *,
        visited: Any = None,
        q: int = 1,
        best_f: float | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> np.ndarray:
        """The ``q`` best candidates not in ``visited``, greedily by kriging believer (module docstring).

        Parameters
        ----------
        posterior
            The posterior over the N candidates.
        visited
            Candidates to exclude: a boolean mask (N,), a (G, G) 0/1 array (``obs["visited"]``), or indices.
        q
            Batch size, 1 <= q <= number of unvisited candidates.
        best_f
            Incumbent value for EI (default: the largest posterior mean at a visited candidate, or the
            largest mean when none is visited).
        rng
            Random generator (Thompson sampling).

        Returns
        -------
        ndarray of shape (q,), int64
            Candidate indices, in the order picked. Ties for the maximum are broken at random
            (:func:`argmax_ties_random`).
        """
        rng = np.random.default_rng(rng)
        n = posterior.size
        excluded = _as_mask(visited, n)
        q = _check_q(q, int((~excluded).sum()))
        if best_f is None and self.needs_best_f:
            best_f = float(posterior.mean[excluded].max()) if excluded.any() else float(posterior.mean.max())
        picks: list[int] = []
        current = posterior
        for _ in range(q):
            values = np.array(self(current, best_f=best_f, rng=rng), dtype=np.float64)
            values[excluded] = -np.inf
            k = argmax_ties_random(values, rng)
            picks.append(k)
            excluded[k] = True
            if best_f is not None:
                best_f = max(best_f, float(posterior.mean[k]))
            if len(picks) < q:
                current = posterior.believe(np.array(picks))
        return np.array(picks, dtype=np.int64)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


#: Relative tolerance within which acquisition values count as tied with the maximum.
TIE_TOLERANCE = 1e-9


def argmax_ties_random(values: np.ndarray, rng: np.random.Generator) -> int:
    """Index of the largest value; ties (within :data:`TIE_TOLERANCE` of the maximum, relative) are
    broken at random, so that a flat acquisition does not sweep the grid from index 0."""
    best = float(np.max(values))
    if np.isfinite(best):
        tied = np.flatnonzero(values >= best - TIE_TOLERANCE * max(abs(best), 1e-300))
    else:
        tied = np.flatnonzero(values == best)
    return int(tied[0]) if tied.size == 1 else int(rng.choice(tied))


def _check_q(q: Any, available: int) -> int:
    if isinstance(q, bool) or not isinstance(q, (int, np.integer)) or q < 1:
        raise AgentError(f"The batch size `q` must be an integer >= 1, got {q!r}.")
    if q > available:
        raise AgentError(f"Cannot select q = {q} candidates: only {available} are not visited yet.")
    return int(q)


def import_gpytorch() -> Any:
    """Import GPyTorch and BoTorch's analytic acquisition functions; return the ``gpytorch`` module.

    linear_operator (GPyTorch's backend) decorates functions with ``torch.jit.script`` when imported,
    which torch >= 2.10 deprecates with a ``DeprecationWarning``; that one warning is silenced for
    the import (it is about their code, not ours).
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=DeprecationWarning)
        import botorch.acquisition.analytic  # noqa: F401
        import gpytorch
    return gpytorch


_TABULATED_MODEL: Any = None


def _tabulated_model_class() -> Any:
    """:class:`TabulatedModel`, built on first use so that importing this module imports no torch."""
    global _TABULATED_MODEL
    if _TABULATED_MODEL is not None:
        return _TABULATED_MODEL
    import_gpytorch()
    import torch
    from botorch.models.model import Model
    from botorch.posteriors.posterior import Posterior

    class TabulatedPosterior(Posterior):
        """Independent Normals N(μ, σ²) with tensors ``mean`` and ``variance`` of shape (b, q, 1)."""

        def __init__(self, mean: torch.Tensor, variance: torch.Tensor) -> None:
            self._mean = mean
            self._variance = variance

        @property
        def mean(self) -> torch.Tensor:
            return self._mean

        @property
        def variance(self) -> torch.Tensor:
            return self._variance

        @property
        def device(self) -> torch.device:
            return self._mean.device

        @property
        def dtype(self) -> torch.dtype:
            return self._mean.dtype

        def rsample(self, sample_shape: torch.Size | None = None) -> torch.Tensor:
            shape = torch.Size(sample_shape or torch.Size([1]))
            eps = torch.randn(shape + self._mean.shape, dtype=self._mean.dtype)
            return self._mean + self._variance.sqrt() * eps

    class TabulatedModel(Model):
        """A BoTorch model whose posterior at design point ``x = [k]`` is the tabulated N(μ_k, σ_k²).

        Design points are candidate indices (as float64, shape ``b × q × 1``).
        """

        def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
            super().__init__()
            self.register_buffer("table_mean", torch.as_tensor(mean, dtype=torch.float64))
            self.register_buffer("table_var", torch.as_tensor(std, dtype=torch.float64) ** 2)

        @property
        def num_outputs(self) -> int:
            return 1

        @property
        def batch_shape(self) -> torch.Size:
            return torch.Size()

        def posterior(self, X: torch.Tensor, output_indices: Any = None, observation_noise: Any = False, posterior_transform: Any = None) -> TabulatedPosterior:  # noqa: N803 - BoTorch's name
            idx = X[..., 0].round().long()  # (b, q)
            return TabulatedPosterior(self.table_mean[idx].unsqueeze(-1), self.table_var[idx].unsqueeze(-1))

    _TABULATED_MODEL = TabulatedModel
    return TabulatedModel


def _botorch_values(acqf_class: Any, posterior: CandidatePosterior, **kwargs: Any) -> np.ndarray:
    import torch

    model = _tabulated_model_class()(posterior.mean, posterior.std)
    acqf = acqf_class(model=model, **kwargs)
    x = torch.arange(posterior.size, dtype=torch.float64).reshape(-1, 1, 1)
    with torch.no_grad():
        return acqf(x).numpy().astype(np.float64)


class ExpectedImprovement(AcquisitionFunction):
    """Expected improvement over ``best_f``: ``(μ − f*)Φ(u) + σφ(u)``, ``u = (μ − f*)/σ``.

    Evaluated as ``exp(LogEI)`` with BoTorch's ``LogExpectedImprovement`` (σ is floored at 1e-6).

    Parameters
    ----------
    log
        Return log EI instead (same argmax; finite where EI underflows to 0).
    """

    name = "ei"
    needs_best_f = True

    def __init__(self, log: bool = False) -> None:
        self.log = bool(log)

    def __call__(self, posterior: CandidatePosterior, *, best_f: float | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        import_gpytorch()
        from botorch.acquisition.analytic import LogExpectedImprovement

        if best_f is None:
            raise AgentError("Expected improvement needs `best_f`, the incumbent value to improve on.")
        log_ei = _botorch_values(LogExpectedImprovement, posterior, best_f=float(best_f))
        return log_ei if self.log else np.exp(log_ei)


class UpperConfidenceBound(AcquisitionFunction):
    """Upper confidence bound ``μ + √β σ`` (BoTorch's ``UpperConfidenceBound``).

    Parameters
    ----------
    beta
        Exploration weight β >= 0 (default 4: two standard deviations).
    """

    name = "ucb"

    def __init__(self, beta: float = 4.0) -> None:
        if not np.isfinite(beta) or beta < 0:
            raise AgentError(f"UCB `beta` must be finite and >= 0, got {beta!r}.")
        self.beta = float(beta)

    def __call__(self, posterior: CandidatePosterior, *, best_f: float | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        import_gpytorch()
        from botorch.acquisition.analytic import UpperConfidenceBound as BoTorchUCB

        return _botorch_values(BoTorchUCB, posterior, beta=self.beta)


class MaximumUncertainty(AcquisitionFunction):
    """Maximum uncertainty: the posterior standard deviation ``σ`` (pure exploration)."""

    name = "max_uncertainty"

    def __call__(self, posterior: CandidatePosterior, *, best_f: float | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        return posterior.std.copy()


class ThompsonSampling(AcquisitionFunction):
    """Thompson sampling: one joint posterior draw over the candidates (:meth:`CandidatePosterior.draw`).

    ``select`` with q > 1 takes the argmax of q independent draws, skipping candidates already picked.
    """

    name = "thompson"

    def __call__(self, posterior: CandidatePosterior, *, best_f: float | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        return posterior.draw(np.random.default_rng(rng), 1)[0]

    def select(
        self,
        posterior: CandidatePosterior,
        *,
        visited: Any = None,
        q: int = 1,
        best_f: float | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> np.ndarray:
        rng = np.random.default_rng(rng)
        excluded = _as_mask(visited, posterior.size)
        q = _check_q(q, int((~excluded).sum()))
        draws = posterior.draw(rng, q)
        picks: list[int] = []
        for s in range(q):
            values = draws[s].copy()
            values[excluded] = -np.inf
            k = argmax_ties_random(values, rng)
            picks.append(k)
            excluded[k] = True
        return np.array(picks, dtype=np.int64)


#: Acquisition functions by name.
ACQUISITIONS: dict[str, type[AcquisitionFunction]] = {
    "ei": ExpectedImprovement,
    "ucb": UpperConfidenceBound,
    "max_uncertainty": MaximumUncertainty,
    "thompson": ThompsonSampling,
}


def make_acquisition(name: str | AcquisitionFunction, **params: Any) -> AcquisitionFunction:
    """An acquisition function by name (:data:`ACQUISITIONS`), or ``name`` itself if it is one.

    Raises
    ------
    AgentError
        Unknown name (with a did-you-mean hint), or parameters the function does not take.
    """
    if isinstance(name, AcquisitionFunction):
        if params:
            raise AgentError(f"Parameters {sorted(params)} cannot be applied to an acquisition-function instance {name!r}.")
        return name
    key = check_choice("acquisition function", name, tuple(ACQUISITIONS))
    cls = ACQUISITIONS[key]
    try:
        return cls(**params)
    except TypeError as exc:
        raise AgentError(f"Acquisition function {key!r} does not take parameters {sorted(params)}: {exc}.") from None
