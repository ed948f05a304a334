"""Exact Gaussian processes for the Bayesian-optimisation agents: a deep kernel (DKL) and plain GPs.

:class:`DeepKernelGP` is a GPyTorch :class:`~gpytorch.models.ExactGP` whose ``forward`` maps the
inputs through a ``feature_extractor`` (a small CNN or MLP on image patches, or nothing) and
evaluates a ``ScaleKernel(RBFKernel())`` (or Matérn) on the embedding. With no feature extractor it
is a plain exact GP on the raw inputs (the GP(x, y) and raw-patch baselines).

Numerics
--------
The feature extractor runs in float32 (it is the expensive part over thousands of candidates); its
embedding is cast to float64 before the kernel, so that the mean, kernel and likelihood (and the
Cholesky factor of the training covariance) are float64. Targets are float64.

Every function here takes explicit random generators; none touches ``torch``'s global seed or
thread count. :func:`torch_threads` sets the thread count for a block and restores it.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .acquisition import CandidatePosterior, import_gpytorch

gpytorch = import_gpytorch()
from gpytorch.distributions import MultivariateNormal  # noqa: E402
from gpytorch.kernels import Kernel, MaternKernel, RBFKernel, ScaleKernel  # noqa: E402
from .base import AgentError, check_choice

__all__ = [
    "FEATURE_EXTRACTORS",
    "KERNELS",
    "DeepKernelGP",
    "PatchCNN",
    "PatchMLP",
    "make_covar_module",
    "make_optimizer",
    "clone_module",
    "make_feature_extractor",
    "init_parameters",
    "fit_exact_gp",
    "predict",
    "candidate_posterior",
    "torch_threads",
]

#: Base kernels available by name (inside a ``ScaleKernel``).
KERNELS: tuple[str, ...] = ("rbf", "matern12", "matern32", "matern52")
#: Smallest observation-noise variance of the default likelihood (standardised targets).
MIN_NOISE = 1e-4


# -- thread control --------------------------------------------------------------------------------
@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``torch.set_num_threads(n)`` and restore the previous count afterwards.

    ``n=None`` leaves the thread count alone. Library code never changes it permanently.
    """
    if n is None:
        yield
        return
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise AgentError(f"`num_threads` must be an integer >= 1 or None, got {n!r}.")
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# -- feature extractors ----------------------------------------------------------------------------
class PatchCNN(nn.Module):
    """A small strided CNN mapping square image patches to a low-dimensional embedding.

    ``conv3×3/2(1→c1) → ReLU → conv3×3/2(c1→c2) → ReLU → flatten → linear(c2·⌈p/4⌉²→h) → ReLU →
    linear(h→embedding_dim)``. Strided convolutions instead of pooling keep it cheap on CPU (about
    6 ms for 4096 patches of 16×16 on one core).

    Parameters
    ----------
    patch_size
        Side p of the square patches [pixels]; inputs may be (n, p, p) or flattened (n, p·p).
    embedding_dim
        Output dimension d (default 2).
    channels
        Channels (c1, c2) of the two convolutions.
    hidden
        Width h of the hidden linear layer.

    Shapes
    ------
    input (n, p, p) or (n, p·p) float32 → output (n, d).
    """

    def __init__(self, patch_size: int, embedding_dim: int = 2, channels: tuple[int, int] = (4, 8), hidden: int = 32) -> None:
        super().__init__()
        if patch_size < 2:
            raise AgentError(f"`patch_size` must be >= 2 pixels for the CNN feature extractor, got {patch_size}.")
        self.patch_size = int(patch_size)
        c1, c2 = channels
        side = -(-(-(-self.patch_size // 2)) // 2)  # ceil(ceil(p / 2) / 2)
        self.conv = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Linear(c2 * side * side, hidden), nn.ReLU(), nn.Linear(hidden, embedding_dim))

    def forward(self, x: Tensor) -> Tensor:
        p = self.patch_size
        return self.head(self.conv(x.reshape(-1, 1, p, p)))


class PatchMLP(nn.Module):
    """An MLP on flattened patches: ``linear(D→h1) → ReLU → linear(h1→h2) → ReLU → linear(h2→d)``.

    Shapes
    ------
    input (n, D) (or (n, p, p), flattened) → output (n, embedding_dim).
    """

    def __init__(self, n_inputs: int, embedding_dim: int = 2, hidden: tuple[int, ...] = (64, 32)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = int(n_inputs)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, embedding_dim))
        self.net = nn.Sequential(*layers)
        self.n_inputs = int(n_inputs)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.reshape(x.shape[0], self.n_inputs))


#: Feature extractors available by name.
FEATURE_EXTRACTORS: tuple[str, ...] = ("cnn", "mlp")


def make_feature_extractor(kind: str, patch_size: int, embedding_dim: int = 2) -> nn.Module:
    """A default feature extractor by name (``"cnn"`` or ``"mlp"``) for square patches of side ``patch_size``."""
    kind = check_choice("feature extractor", kind, FEATURE_EXTRACTORS)
    if not isinstance(embedding_dim, int) or embedding_dim < 1:
        raise AgentError(f"`embedding_dim` must be an integer >= 1, got {embedding_dim!r}.")
    if kind == "cnn":
        return PatchCNN(patch_size, embedding_dim)
    return PatchMLP(patch_size * patch_size, embedding_dim)


def init_parameters(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Re-initialise every ``Linear``/``Conv`` layer of ``module`` from ``generator`` (PyTorch's default scheme).

    PyTorch initialises layers from its global generator; this draws the same distributions
    (Kaiming-uniform weights with ``a=√5``, uniform biases in ±1/√fan_in) from an explicit one, so
    that an agent's seed alone fixes its network.
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            if layer.bias is not None:
                fan_in = layer.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return module


# -- the model ---------------------------------------------------------------------------------------
def make_covar_module(kernel: str = "rbf", ard_num_dims: int | None = None, lengthscale: float | None = None) -> ScaleKernel:
    """``ScaleKernel(base)`` with ``base`` one of :data:`KERNELS`, float64.

    Parameters
    ----------
    kernel
        ``"rbf"``, ``"matern12"``, ``"matern32"`` or ``"matern52"``.
    ard_num_dims
        One lengthscale per input dimension when given, one shared lengthscale otherwise.
    lengthscale
        Initial lengthscale (in input units); the GPyTorch default (≈0.69) otherwise.
    """
    kernel = check_choice("kernel", kernel, KERNELS)
    if kernel == "rbf":
        base: Kernel = RBFKernel(ard_num_dims=ard_num_dims)
    else:
        base = MaternKernel(nu={"matern12": 0.5, "matern32": 1.5, "matern52": 2.5}[kernel], ard_num_dims=ard_num_dims)
    if lengthscale is not None:
        base.lengthscale = torch.full_like(base.lengthscale, float(lengthscale))
    return ScaleKernel(base).double()


class DeepKernelGP(gpytorch.models.ExactGP):
    """Exact GP with a deep kernel: ``k(x, x') = s · k_base(g(x), g(x'))`` for a feature extractor ``g``.

    Parameters
    ----------
    train_inputs
        Tensor of shape (n, D) (flattened patches, coordinates, ...); float32.
    train_targets
        Tensor of shape (n,), float64 (standardise them; the default mean is a constant).
    likelihood
        A Gaussian likelihood; default ``GaussianLikelihood`` with noise variance >= :data:`MIN_NOISE`.
    feature_extractor
        ``nn.Module`` mapping (m, D) float32 → (m, d); ``None`` is the identity (a plain GP on the inputs).
    covar_module
        Kernel on the embedding; default ``ScaleKernel(RBFKernel())`` (:func:`make_covar_module`).
    mean_module
        Default ``ConstantMean()``.

    Notes
    -----
    ``forward`` evaluates the feature extractor on every call, so the extractor's weights and the GP
    hyper-parameters are trained together on the exact marginal log-likelihood (:func:`fit_exact_gp`).
    """

    def __init__(
        self,
        train_inputs: Tensor,
        train_targets: Tensor,
        likelihood: gpytorch.likelihoods.GaussianLikelihood | None = None,
        feature_extractor: nn.Module | None = None,
        covar_module: Kernel | None = None,
        mean_module: gpytorch.means.Mean | None = None,
    ) -> None:
        if likelihood is None:
            likelihood = gpytorch.likelihoods.GaussianLikelihood(noise_constraint=gpytorch.constraints.GreaterThan(MIN_NOISE))
        super().__init__(train_inputs, train_targets, likelihood.double())
        self.feature_extractor = feature_extractor if feature_extractor is not None else nn.Identity()
        self.covar_module = (covar_module if covar_module is not None else make_covar_module()).double()
        self.mean_module = (mean_module if mean_module is not None else gpytorch.means.ConstantMean()).double()

    def embed(self, x: Tensor) -> Tensor:
        """The kernel's inputs: the feature extractor's output as float64, shape (m, d)."""
        return self.feature_extractor(x).double()

    def forward(self, x: Tensor) -> MultivariateNormal:
        z = self.embed(x)
        return MultivariateNormal(self.mean_module(z), self.covar_module(z))

    @property
    def noise_variance(self) -> float:
        """Observation-noise variance of the likelihood (in target units squared)."""
        return float(self.likelihood.noise.detach().reshape(-1)[0])


# -- training ----------------------------------------------------------------------------------------
def make_optimizer(model: DeepKernelGP, lr: float = 0.01, extractor_lr: float | None = None, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam over the GP hyper-parameters (``lr``) and the feature extractor (``extractor_lr``, ``weight_decay``)."""
    extractor = list(model.feature_extractor.parameters())
    ids = {id(p) for p in extractor}
    hyper = [p for p in model.parameters() if id(p) not in ids]
    groups: list[dict[str, Any]] = [{"params": hyper, "lr": lr, "weight_decay": 0.0}]
    if extractor:
        groups.append({"params": extractor, "lr": lr if extractor_lr is None else extractor_lr, "weight_decay": weight_decay})
    return torch.optim.Adam(groups)


def fit_exact_gp(model: DeepKernelGP, iterations: int, optimizer: torch.optim.Optimizer | None = None) -> list[float]:
    """Maximise the exact marginal log-likelihood with Adam, jointly over all parameters.

    Starts from the model's current parameters (a warm start when called again on the same model
    after :meth:`~gpytorch.models.ExactGP.set_train_data`).

    Parameters
    ----------
    model
        The model, holding its training data.
    iterations
        Adam steps (full batch).
    optimizer
        Reused across calls for a warm start of Adam's moments too; a fresh :func:`make_optimizer` otherwise.

    Returns
    -------
    list of float
        The negative MLL per target after every step.
    """
    if optimizer is None:
        optimizer = make_optimizer(model)
    model.train()
    model.likelihood.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
    x = model.train_inputs[0]
    y = model.train_targets
    losses: list[float] = []
    for _ in range(int(iterations)):
        optimizer.zero_grad(set_to_none=True)
        loss = -mll(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    model.likelihood.eval()
    return losses


# -- prediction ----------------------------------------------------------------------------------------
def predict(model: DeepKernelGP, inputs: Tensor, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and standard deviation of the latent function at ``inputs``.

    Batched (``batch_size`` rows at a time) under ``torch.no_grad()`` and
    ``gpytorch.settings.fast_pred_var()``.

    Returns
    -------
    mean, std : ndarray of shape (m,), float64
        In the units of the model's (standardised) targets. ``std`` is of the latent function, without
        observation noise.
    """
    model.eval()
    model.likelihood.eval()
    means, variances = [], []
    with torch.no_grad(), gpytorch.settings.fast_pred_var():
        for start in range(0, inputs.shape[0], batch_size):
            post = model(inputs[start : start + batch_size])
            means.append(post.mean)
            variances.append(post.variance)
    mean = torch.cat(means).numpy().astype(np.float64)
    var = torch.cat(variances).numpy().astype(np.float64)
    return mean, np.sqrt(np.clip(var, 0.0, None))


def _base_kernel(covar: Kernel) -> tuple[float, Kernel]:
    if isinstance(covar, ScaleKernel):
        return float(covar.outputscale.detach()), covar.base_kernel
    return 1.0, covar


def _rff_prior(covar: Kernel, dims: int, n_features: int, rng: np.random.Generator) -> Callable[[Tensor], Tensor] | None:
    """A random-Fourier-feature draw f ~ GP(0, covar) as a function of embeddings, or None if unsupported."""
    scale, base = _base_kernel(covar)
    if isinstance(base, RBFKernel):
        omega = rng.standard_normal((dims, n_features))
    elif isinstance(base, MaternKernel):
        nu = float(base.nu)
        u = rng.chisquare(2 * nu, size=n_features)
        omega = rng.standard_normal((dims, n_features)) * np.sqrt(2 * nu / u)[None, :]
    else:
        return None
    ls = base.lengthscale.detach().double().reshape(-1)  # (1,) or (d,)
    omega_t = torch.as_tensor(omega, dtype=torch.float64) / ls.reshape(-1, 1)
    phase = torch.as_tensor(rng.uniform(0.0, 2 * np.pi, n_features), dtype=torch.float64)
    weights = torch.as_tensor(rng.standard_normal(n_features), dtype=torch.float64)
    amp = math.sqrt(2.0 * scale / n_features)

    def f(z: Tensor) -> Tensor:
        return amp * torch.cos(z @ omega_t + phase) @ weights

    return f


def candidate_posterior(
    model: DeepKernelGP,
    inputs: Tensor,
    batch_size: int = 1024,
    n_features: int = 1024,
) -> CandidatePosterior:
    """The model's posterior over a fixed candidate set, for :mod:`~stemtwin.agents.acquisition`.

    Mean and standard deviation come from :func:`predict` (GPyTorch, ``fast_pred_var``). The
    posterior carries two closures for the batch and Thompson-sampling acquisitions:

    - ``covariance(idx)``: the exact posterior covariance between every candidate and candidates
      ``idx``, shape (N, k), from the Cholesky factor of the training covariance;
    - ``sample(rng, n)``: ``n`` joint posterior draws over all candidates, shape (n, N), by
      pathwise conditioning (Matheron's rule) of a random-Fourier-feature prior draw with
      ``n_features`` features (RBF and Matérn base kernels); other kernels fall back to an exact
      joint draw through the full (N, N) posterior covariance.

    The closures read the model when called: use the posterior before the model is trained again.

    Parameters
    ----------
    model
        A trained :class:`DeepKernelGP` holding its training data.
    inputs
        Candidate inputs, tensor of shape (N, D).
    """
    mean, std = predict(model, inputs, batch_size)
    x_train = model.train_inputs[0]
    y_train = model.train_targets.double()
    noise = model.noise_variance
    cache: dict[str, Tensor] = {}

    def prepare() -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Embeddings, Cholesky factor of K + σ²I and prior means; computed on first use only."""
        if not cache:
            with torch.no_grad():
                z_train = model.embed(x_train)
                cache["z_train"] = z_train
                cache["z_cand"] = torch.cat([model.embed(inputs[s : s + batch_size]) for s in range(0, inputs.shape[0], batch_size)])
                k_tt = model.covar_module(z_train).to_dense()
                cache["chol"] = _cholesky(k_tt, noise)
                cache["m_train"] = model.mean_module(z_train).reshape(-1)
                cache["m_cand"] = model.mean_module(cache["z_cand"]).reshape(-1)
        return cache["z_train"], cache["z_cand"], cache["chol"], cache["m_train"], cache["m_cand"]

    def covariance(idx: np.ndarray) -> np.ndarray:
        z_train, z_cand, chol, _, _ = prepare()
        idx_t = torch.as_tensor(np.asarray(idx, dtype=np.int64).reshape(-1))
        with torch.no_grad():
            zs = z_cand[idx_t]
            k_cs = model.covar_module(z_cand, zs).to_dense()  # (N, k)
            k_ts = model.covar_module(z_train, zs).to_dense()  # (n, k)
            a = torch.cholesky_solve(k_ts, chol)  # (n, k)
            out = k_cs
            for start in range(0, z_cand.shape[0], batch_size):
                k_ct = model.covar_module(z_cand[start : start + batch_size], z_train).to_dense()
                out[start : start + batch_size] -= k_ct @ a
        return out.numpy()

    def sample(rng: np.random.Generator, n_samples: int = 1) -> np.ndarray:
        z_train, z_cand, chol, m_train, m_cand = prepare()
        n = z_train.shape[0]
        draws = np.empty((n_samples, z_cand.shape[0]))
        with torch.no_grad():
            for s in range(n_samples):
                prior = _rff_prior(model.covar_module, z_cand.shape[1], n_features, rng)
                if prior is None:
                    draws[s] = _exact_joint_draw(model, z_cand, z_train, chol, y_train - m_train, m_cand, rng)
                    continue
                eps = torch.as_tensor(rng.standard_normal(n), dtype=torch.float64) * math.sqrt(noise)
                resid = (y_train - m_train - prior(z_train) - eps).reshape(-1, 1)
                alpha = torch.cholesky_solve(resid, chol).reshape(-1)
                out = prior(z_cand) + m_cand
                for start in range(0, z_cand.shape[0], batch_size):
                    k_ct = model.covar_module(z_cand[start : start + batch_size], z_train).to_dense()
                    out[start : start + batch_size] += k_ct @ alpha
                draws[s] = out.numpy()
        return draws

    return CandidatePosterior(mean=mean, std=std, noise_variance=noise, covariance=covariance, sample=sample)


def _cholesky(k: Tensor, noise: float) -> Tensor:
    """Lower Cholesky factor of ``k + noise·I``, adding jitter (up to 1e-2) if needed."""
    eye = torch.eye(k.shape[0], dtype=k.dtype)
    jitter = 0.0
    while True:
        chol, info = torch.linalg.cholesky_ex(k + (noise + jitter) * eye)
        if int(info) == 0:
            return chol
        jitter = max(1e-8, 10 * jitter)
        if jitter > 1e-2:
            raise AgentError("The GP training covariance is not positive definite even with jitter 1e-2.")


def _exact_joint_draw(model: DeepKernelGP, z_cand: Tensor, z_train: Tensor, chol: Tensor, resid: Tensor, m_cand: Tensor, rng: np.random.Generator) -> np.ndarray:
    """One exact joint posterior draw over the candidates through their full (N, N) covariance."""
    k_cc = model.covar_module(z_cand).to_dense()
    k_ct = model.covar_module(z_cand, z_train).to_dense()
    v = torch.linalg.solve_triangular(chol, k_ct.T, upper=False)
    cov = k_cc - v.T @ v
    mean = m_cand + k_ct @ torch.cholesky_solve(resid.reshape(-1, 1), chol).reshape(-1)
    cov = 0.5 * (cov + cov.T) + 1e-8 * torch.eye(cov.shape[0], dtype=torch.float64)
    evals, evecs = torch.linalg.eigh(cov)
    root = evecs * evals.clamp_min(0.0).sqrt()
    z = torch.as_tensor(rng.standard_normal(cov.shape[0]), dtype=torch.float64)
    return (mean + root @ z).numpy()


def clone_module(module: Any) -> Any:
    """A deep copy of an injected module, so that every episode starts from the same state."""
    return copy.deepcopy(module)
