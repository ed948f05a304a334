"""DKL-BO: Bayesian optimisation over the Explore candidate grid with a deep-kernel GP on image patches.

The agent cuts a patch of the survey image around every candidate (``info["candidate_patches"]``
when the env provides them, otherwise :func:`~stemtwin.agents.base.cut_patches` with the envs'
documented candidate → pixel mapping), and models the reward as a GP whose kernel acts on a learned
low-dimensional embedding of the patch (:class:`~stemtwin.agents.gp.DeepKernelGP`). After a few random
seed measurements (and, while every reward is still the same, farthest-point picks in the patches'
principal-component space: ``explore_until_signal``), every step:

1. conditions the GP on all measurements so far (standardised rewards) and, on the retrain schedule,
   trains the feature extractor and the GP hyper-parameters jointly on the exact marginal
   log-likelihood with Adam, warm-started from the previous step's weights;
2. predicts the posterior over all candidates (batched, ``torch.no_grad()``,
   ``gpytorch.settings.fast_pred_var()``);
3. picks the argmax of the acquisition function among the unvisited candidates (or a batch of q by
   kriging believer, :mod:`~stemtwin.agents.acquisition`).

:class:`GPBOAgent` holds this loop for any per-candidate inputs; the DKL agent and the GP(x, y) and
raw-patch baselines (:mod:`~stemtwin.agents.baselines`) differ only in their inputs and features.

Determinism and threads
-----------------------
All randomness comes from the agent's ``seed``: the seed measurements and Thompson draws from
``np.random.default_rng([seed, episode])``, the network's initial weights from a local
``torch.Generator`` seeded from that stream. ``num_threads`` sets ``torch.set_num_threads`` only
while the agent computes (restored afterwards); ``None`` leaves torch's setting alone.

torch and GPyTorch are imported when a GP agent is constructed, not when this module is imported.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from .acquisition import AcquisitionFunction, CandidatePosterior, make_acquisition
from .base import AgentError, ExploreAgent, check_choice, cut_patches

__all__ = ["GPBOAgent", "DKLBOAgent", "patch_inputs"]


def _check_int(name: str, value: Any, low: int, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        extra = " or None" if allow_none else ""
        raise AgentError(f"`{name}` must be an integer >= {low}{extra}, got {value!r}.")
    return int(value)


def _check_positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not np.isfinite(value) or value <= 0:
        raise AgentError(f"`{name}` must be a finite number > 0, got {value!r}.")
    return float(value)


def patch_inputs(agent: ExploreAgent, info: Mapping[str, Any], patch_size: int) -> tuple[np.ndarray, int]:
    """Standardised, flattened candidate patches of an Explore episode, and their side.

    Uses ``info["candidate_patches"]`` (N, p, p) when present, else cuts ``patch_size`` patches from
    the agent's survey image (:func:`~stemtwin.agents.base.cut_patches`). The patches are
    standardised over all candidates (mean 0, standard deviation 1).

    Returns
    -------
    flat : ndarray of shape (N, p·p), float32
    p : int
    """
    n = agent.n_candidates
    given = info.get("candidate_patches") if isinstance(info, Mapping) else None
    if given is not None:
        patches = np.asarray(given, dtype=np.float32)
        if patches.ndim != 3 or patches.shape[0] != n or patches.shape[1] != patches.shape[2]:
            raise AgentError(f"info['candidate_patches'] must have shape ({n}, p, p), got {patches.shape}.")
    else:
        if agent.image is None:
            raise AgentError(f"{agent.label} needs observation['image'] (or info['candidate_patches']) at reset.")
        patches = cut_patches(agent.image, agent.grid, patch_size)
    flat = patches.reshape(n, -1).astype(np.float64)
    spread = flat.std()
    flat = (flat - flat.mean()) / (spread if spread > 0 else 1.0)
    return flat.astype(np.float32), int(patches.shape[1])


class GPBOAgent(ExploreAgent):
    """Bayesian optimisation over the candidate grid with an exact GP on per-candidate inputs.

    Subclasses define the inputs (:meth:`_candidate_inputs`) and optionally a feature extractor
    (:meth:`_make_feature_extractor`) and kernel (:meth:`_default_covar_module`).

    Parameters
    ----------
    acquisition
        ``"ei"`` (default), ``"ucb"``, ``"max_uncertainty"``, ``"thompson"``, or an
        :class:`~stemtwin.agents.acquisition.AcquisitionFunction`.
    acquisition_params
        Parameters of a named acquisition function, e.g. ``{"beta": 4.0}`` for UCB.
    q
        Batch size: every q-th step picks q candidates at once (kriging believer; Thompson: q draws),
        which are then measured in turn without refitting.
    n_seed
        Random measurements before the first model (>= 1).
    retrain_every
        Retrain (Adam on the MLL) every k new measurements; in between the GP is only conditioned on the new data.
    stop_retraining_after
        Stop retraining once this many measurements are in (None: never stop); the GP is still conditioned.
    fit_iterations
        Adam steps of the first fit of an episode (from the initial weights).
    warm_iterations
        Adam steps of every later retrain (warm start from the previous weights and Adam moments).
    lr
        Adam learning rate of the GP hyper-parameters.
    extractor_lr
        Adam learning rate of the feature extractor (default ``lr``).
    weight_decay
        Adam weight decay of the feature extractor.
    kernel
        Base kernel inside ``ScaleKernel``: ``"rbf"``, ``"matern12"``, ``"matern32"``, ``"matern52"``.
    covar_module, likelihood, mean_module
        Injected GPyTorch modules (deep-copied at every reset); defaults: ``ScaleKernel(<kernel>)``,
        ``GaussianLikelihood`` (noise >= 1e-4 on standardised rewards), ``ConstantMean``.
    explore_until_signal
        While every reward so far is the same (a zero-inflated scalarizer that has not lit up yet, so the
        GP has nothing to learn from), pick the candidate farthest from all measured ones in the
        inputs' principal-component space (at most 16 components): farthest-point sampling, which
        visits unusual patches (dopants, holes, edges) first. Default True; False keeps to the
        acquisition function.
    exclude_visited
        Never pick a visited candidate while unvisited ones remain (default True).
    batch_size
        Candidates per prediction batch.
    num_threads
        torch threads while the agent computes (None: unchanged). The models are small (hundreds of
        points, 2-D embeddings), so 1–2 threads suffice; on cores shared with other busy processes
        use 1, as OpenMP oversubscription made 2 threads 10–50× slower in our measurements.
    seed
        Seed of all the agent's randomness (see the module docstring).
    """

    def __init__(
        self,
        *,
        acquisition: str | AcquisitionFunction = "ei",
        acquisition_params: Mapping[str, Any] | None = None,
        q: int = 1,
        n_seed: int = 5,
        retrain_every: int = 1,
        stop_retraining_after: int | None = None,
        fit_iterations: int = 150,
        warm_iterations: int = 25,
        lr: float = 0.05,
        extractor_lr: float | None = 0.01,
        weight_decay: float = 0.0,
        kernel: str = "rbf",
        covar_module: Any = None,
        likelihood: Any = None,
        mean_module: Any = None,
        explore_until_signal: bool = True,
        exclude_visited: bool = True,
        batch_size: int = 1024,
        num_threads: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(seed=seed)
        self.acquisition = make_acquisition(acquisition, **dict(acquisition_params or {}))
        self.q = _check_int("q", q, 1)
        self.n_seed = _check_int("n_seed", n_seed, 1)
        self.retrain_every = _check_int("retrain_every", retrain_every, 1)
        self.stop_retraining_after = _check_int("stop_retraining_after", stop_retraining_after, 0, allow_none=True)
        self.fit_iterations = _check_int("fit_iterations", fit_iterations, 0)
        self.warm_iterations = _check_int("warm_iterations", warm_iterations, 0)
        self.lr = _check_positive("lr", lr)
        self.extractor_lr = None if extractor_lr is None else _check_positive("extractor_lr", extractor_lr)
        if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or not weight_decay >= 0:
            raise AgentError(f"`weight_decay` must be a number >= 0, got {weight_decay!r}.")
        self.weight_decay = float(weight_decay)
        from .gp import KERNELS  # imports torch: constructing a GP agent loads the model code

        self.kernel = check_choice("kernel", kernel, KERNELS) if covar_module is None else kernel
        self.covar_module = covar_module
        self.likelihood = likelihood
        self.mean_module = mean_module
        self.explore_until_signal = bool(explore_until_signal)
        self.exclude_visited = bool(exclude_visited)
        self.batch_size = _check_int("batch_size", batch_size, 1)
        if num_threads is not None:
            _check_int("num_threads", num_threads, 1)
        self.num_threads = num_threads
        self._reset_model_state()

    # -- subclass hooks ------------------------------------------------------------------------
    def _candidate_inputs(self, observation: Any, info: Mapping[str, Any]) -> np.ndarray:
        """Inputs of every candidate, ndarray of shape (N, D), float32."""
        raise NotImplementedError

    def _make_feature_extractor(self, n_inputs: int, generator: Any) -> Any:
        """The initialised feature extractor of a new episode's model (None: a plain GP on the inputs).

        ``generator`` is a ``torch.Generator`` seeded from the agent's seed, for the initial weights.
        """
        return None

    def _default_covar_module(self, n_inputs: int) -> Any:
        from .gp import make_covar_module

        return make_covar_module(self.kernel)

    # -- episode -------------------------------------------------------------------------------
    def _reset_model_state(self) -> None:
        self.model: Any = None
        self._optimizer: Any = None
        self._inputs: Any = None
        self._n_at_fit = 0
        self._queue: list[int] = []
        self._posterior: CandidatePosterior | None = None
        self._y_mean = 0.0
        self._y_std = 1.0
        self.fits = 0
        self.last_loss = float("nan")
        self.timings: dict[str, list[float]] = {"fit": [], "predict": [], "acquisition": []}

    def _setup(self, observation: Any, info: Mapping[str, Any]) -> None:
        self._reset_model_state()
        features = np.asarray(self._candidate_inputs(observation, info), dtype=np.float32)
        if features.ndim != 2 or features.shape[0] != self.n_candidates:
            raise AgentError(f"{self.label}: candidate inputs must have shape ({self.n_candidates}, D), got {features.shape}.")
        if not np.all(np.isfinite(features)):
            raise AgentError(f"{self.label}: candidate inputs (patches or coordinates) contain NaN or inf.")
        self._features = features
        self._diversity: np.ndarray | None = None
        self._min_d2: np.ndarray | None = None

    def _diversity_features(self) -> np.ndarray:
        """The inputs projected on their (at most 16) leading principal components, shape (N, k)."""
        if self._diversity is None:
            x = self._features.astype(np.float64)
            x = x - x.mean(axis=0)
            if x.shape[1] > 16:
                _, _, vt = np.linalg.svd(x[:: max(1, len(x) // 2048)], full_matrices=False)
                x = x @ vt[:16].T
            self._diversity = x
        return self._diversity

    def _farthest_unvisited(self) -> int:
        """The unvisited candidate farthest from every measured one in :meth:`_diversity_features` space."""
        z = self._diversity_features()
        if self._min_d2 is None:
            self._min_d2 = np.full(len(z), np.inf)
            for a in set(self.actions):
                self._min_d2 = np.minimum(self._min_d2, ((z - z[a]) ** 2).sum(axis=1))
        score = self._min_d2.copy()
        score[self.visited] = -np.inf
        return int(np.argmax(score))

    def _after_observe(self, index: int, reward: float) -> None:
        if self._min_d2 is not None:
            z = self._diversity_features()
            self._min_d2 = np.minimum(self._min_d2, ((z - z[index]) ** 2).sum(axis=1))

    def _choose(self, observation: Any) -> int:
        while self._queue:
            k = self._queue.pop(0)
            if not (self.exclude_visited and self.visited[k]):
                return k
        if len(self.rewards) < self.n_seed:
            return self._random_unvisited()
        if self.explore_until_signal and np.ptp(self.rewards) == 0 and not self.visited.all():
            return self._farthest_unvisited()
        picks = self._plan(self.q)
        self._queue = [int(k) for k in picks[1:]]
        return int(picks[0])

    def _plan(self, q: int) -> np.ndarray:
        from .gp import torch_threads

        with torch_threads(self.num_threads):
            self._update_model()
            posterior = self._predict()
            t0 = time.perf_counter()
            excluded = self.visited.copy() if self.exclude_visited and not self.visited.all() else None
            free = self.n_candidates if excluded is None else int((~excluded).sum())
            picks = self.acquisition.select(posterior, visited=excluded, q=min(q, free), best_f=self._best_f(posterior), rng=self.rng)
            self.timings["acquisition"].append(time.perf_counter() - t0)
        return picks

    def _best_f(self, posterior: CandidatePosterior) -> float:
        """The EI incumbent: the largest posterior mean at a measured candidate (standardised units)."""
        return float(posterior.mean[np.asarray(self.actions, dtype=np.int64)].max())

    # -- the model -----------------------------------------------------------------------------
    def _training_data(self) -> tuple[Any, Any]:
        import torch

        y = np.asarray(self.rewards, dtype=np.float64)
        self._y_mean = float(y.mean())
        spread = float(y.std())
        self._y_std = spread if spread > 1e-12 * max(1.0, abs(self._y_mean)) and spread > 0 else 1.0
        idx = torch.as_tensor(np.asarray(self.actions, dtype=np.int64))
        return self._inputs[idx], torch.as_tensor((y - self._y_mean) / self._y_std, dtype=torch.float64)

    def _update_model(self) -> None:
        """Condition on all data; train on the retrain schedule (fresh fit first, warm starts after)."""
        import torch

        from .gp import DeepKernelGP, clone_module, fit_exact_gp, make_optimizer

        if self._inputs is None:
            self._inputs = torch.from_numpy(self._features)
        x, y = self._training_data()
        n = len(self.rewards)
        t0 = time.perf_counter()
        if self.model is None:
            d = self._features.shape[1]
            generator = torch.Generator().manual_seed(int(self.rng.integers(2**62)))
            extractor = self._make_feature_extractor(d, generator)
            self.model = DeepKernelGP(
                x,
                y,
                likelihood=clone_module(self.likelihood) if self.likelihood is not None else None,
                feature_extractor=extractor,
                covar_module=clone_module(self.covar_module) if self.covar_module is not None else self._default_covar_module(d),
                mean_module=clone_module(self.mean_module) if self.mean_module is not None else None,
            )
            self._optimizer = make_optimizer(self.model, lr=self.lr, extractor_lr=self.extractor_lr, weight_decay=self.weight_decay)
            losses = fit_exact_gp(self.model, self.fit_iterations, self._optimizer)
            self._n_at_fit = n
            self.fits += 1
        else:
            self.model.set_train_data(x, y, strict=False)
            losses = []
            stop = self.stop_retraining_after
            if n - self._n_at_fit >= self.retrain_every and (stop is None or n <= stop):
                losses = fit_exact_gp(self.model, self.warm_iterations, self._optimizer)
                self._n_at_fit = n
                self.fits += 1
        if losses:
            self.last_loss = losses[-1]
        self.timings["fit"].append(time.perf_counter() - t0)

    def _predict(self) -> CandidatePosterior:
        from .gp import candidate_posterior

        t0 = time.perf_counter()
        posterior = candidate_posterior(self.model, self._inputs, batch_size=self.batch_size)
        self._posterior = posterior
        self.timings["predict"].append(time.perf_counter() - t0)
        return posterior

    # -- report --------------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """Predictions over all N candidates, in reward units.

        Returns
        -------
        dict
            ``mean`` (N,), ``std`` (N,) (of the latent noise-free map, for calibration against the
            true map), ``acquisition`` (N,) (of the final posterior, visited candidates included),
            ``visited`` (indices in measurement order), ``rewards``, ``grid``, ``fits`` (number of
            trainings), ``noise_std`` (observation noise, reward units), ``timings`` (seconds per step
            of ``fit``, ``predict``, ``acquisition``) and, for models with a feature extractor,
            ``embedding`` (N, d).
        """
        out = super().report()
        n = self.n_candidates
        if not self.rewards:
            out.update({"mean": np.full(n, np.nan), "std": np.full(n, np.nan), "acquisition": np.full(n, np.nan)})
            out["fits"], out["timings"] = self.fits, {k: list(v) for k, v in self.timings.items()}
            return out
        from .gp import torch_threads

        with torch_threads(self.num_threads):
            self._update_model()
            posterior = self._predict()
            values = self.acquisition(posterior, best_f=self._best_f(posterior), rng=np.random.default_rng(0))
            embedding = self._embedding()
        out.update(
            {
                "mean": posterior.mean * self._y_std + self._y_mean,
                "std": posterior.std * self._y_std,
                "acquisition": np.asarray(values, dtype=np.float64),
                "fits": self.fits,
                "noise_std": float(np.sqrt(posterior.noise_variance)) * self._y_std,
                "timings": {k: list(v) for k, v in self.timings.items()},
            }
        )
        if embedding is not None:
            out["embedding"] = embedding
        return out

    def _embedding(self) -> np.ndarray | None:
        import torch

        if self.model is None or isinstance(self.model.feature_extractor, torch.nn.Identity):
            return None
        with torch.no_grad():
            parts = [self.model.embed(self._inputs[s : s + self.batch_size]) for s in range(0, self.n_candidates, self.batch_size)]
        return torch.cat(parts).numpy()


class DKLBOAgent(GPBOAgent):
    """DKL-BO: a deep-kernel GP on image patches around the candidates (module docstring).

    Parameters
    ----------
    patch_size
        Side of the patches [pixels] (default 16). Taken from ``info["candidate_patches"]`` when the
        env gives them (their own size wins), otherwise cut from ``observation["image"]``.
    embedding_dim
        Dimension of the learned embedding (default 2).
    feature_extractor
        ``"cnn"`` (default, :class:`~stemtwin.agents.gp.PatchCNN`), ``"mlp"``
        (:class:`~stemtwin.agents.gp.PatchMLP`), an ``nn.Module`` mapping (n, p·p) float32 patches to
        (n, embedding_dim) (deep-copied at every reset; its own initial weights are kept), or a
        callable ``f(patch_size, embedding_dim) -> nn.Module`` (re-initialised from the agent's seed).
    **kwargs
        :class:`GPBOAgent` parameters (acquisition, schedule, seeds, kernel, ...).

    Notes
    -----
    Patches are standardised over all candidates (mean 0, standard deviation 1) before the network.
    """

    name = "dkl_bo"

    def __init__(self, *, patch_size: int = 16, embedding_dim: int = 2, feature_extractor: Any = "cnn", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.patch_size = _check_int("patch_size", patch_size, 2)
        self.embedding_dim = _check_int("embedding_dim", embedding_dim, 1)
        if isinstance(feature_extractor, str):
            from .gp import FEATURE_EXTRACTORS

            check_choice("feature extractor", feature_extractor, FEATURE_EXTRACTORS)
        elif not callable(feature_extractor):
            raise AgentError(f"`feature_extractor` must be 'cnn', 'mlp', an nn.Module or a factory, got {feature_extractor!r}.")
        self.feature_extractor = feature_extractor
        self._patch_side = self.patch_size

    def _candidate_inputs(self, observation: Any, info: Mapping[str, Any]) -> np.ndarray:
        flat, self._patch_side = patch_inputs(self, info, self.patch_size)
        return flat

    def _make_feature_extractor(self, n_inputs: int, generator: Any) -> Any:
        import torch

        from .gp import clone_module, init_parameters, make_feature_extractor

        fe = self.feature_extractor
        if isinstance(fe, torch.nn.Module):
            return clone_module(fe)  # an injected module keeps its own initial weights
        module = make_feature_extractor(fe, self._patch_side, self.embedding_dim) if isinstance(fe, str) else fe(self._patch_side, self.embedding_dim)
        return init_parameters(module, generator)
