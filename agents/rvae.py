"""A rotationally invariant variational autoencoder (rVAE) in plain PyTorch.

The model follows the rVAE of Kalinin et al. (npj Comput. Mater. 7, 181 (2021), "Exploring order
parameters and dynamic processes in disordered systems via variational autoencoders"): an encoder
maps an image patch to a rotation angle θ, a translation (dx, dy) and ``content_dim`` content
latents; a *spatial-transformer decoder* — a coordinate network, an MLP on (x, y) grid coordinates
concatenated with the content latents — is evaluated on the patch grid rotated by θ and shifted by
(dx, dy). Rotation and translation are therefore explained by the transformer, and the content
latents are left to describe what the fragment *is*.

Conventions
-----------
* Patches are arrays of shape (N, p, p) indexed (x, y) like the twin's images (axis 0 = x).
* Grid coordinates are normalised to [-1, 1] along each axis (pixel centres).
* **Angle parametrisation: (cos, sin).** The encoder outputs a 2-vector (a, b) ∝ (cos nθ, sin nθ)
  and a log-variance; the posterior mean angle is ``μ_θ = atan2(b, a)/n`` — continuous all around
  the circle, unlike a single angle output — and the posterior is a normal ``N(μ_θ, σ_θ²)`` on the
  angle (the decoder only sees cos θ and sin θ, so it wraps naturally). n is the rotational order
  of the read-out (``symmetry``: 1 by default; ``"auto"`` picks it per patch, see
  :class:`RVAEConfig`). θ is the counter-clockwise rotation (from axis 0 towards axis 1, the sense of
  ``arctan2(v_y, v_x)``) of the fragment in the patch relative to the decoder's canonical fragment;
  the decoder reads the canonical fragment at ``u = R(−θ)(x − t)``. Encoded angles are reported in
  [0, 2π/n). The canonical orientation is learned, so the latent angle equals the true rotation up
  to a global offset (and, for an n-fold symmetric fragment, modulo 2π/n).
* **Encoder.** By default a polar-transformer CNN (:class:`_PolarEncoder`): the patch is resampled on
  a polar grid where a rotation is a cyclic shift; circular convolutions keep the shift, the angle is
  the phase of an angular harmonic of a learned feature map (equivariant by construction) and the
  content latents come from shift-invariant features (invariant by construction). A plain CNN
  (``encoder="cnn"``) is available; its angle has to be discovered from the reconstruction alone.
* **Decoder.** The coordinate MLP's first layer has a sine activation (SIREN-like, Sitzmann et al.
  2020; ``first_activation``), the others SiLU; with a ``tanh``/SiLU first layer the network is biased
  to smooth images and took several times more steps to draw the neighbouring atoms of a patch.
* **Rotation prior.** The prior on θ is location-free with scale σ_p = ``rotation_prior_sigma``
  (default 0.1 rad): the KL term is ``log(σ_p/σ_θ) + σ_θ²/(2σ_p²) − ½``, which keeps the posterior
  width near σ_p but lets the mean go anywhere on the circle (as atomai's rVAE "phi prior" does; a
  uniform-location prior with a wide width lets the angle noise swamp the signal and the rotation
  latent collapses). ``rotation_prior_centered=True`` adds ``μ_θ²/(2σ_p²)``, a normal prior
  ``N(0, σ_p²)`` on the wrapped mean in (−π/n, π/n], for fragments whose rotations are small.
* **Translation** (dx, dy) is in normalised coordinates inside the model (prior ``N(0, σ_t²)``) and in
  pixels in :class:`RVAEEncoding`.
* **Discrete class latent** (optional, ``n_classes > 1``): a relaxed one-hot (Gumbel-softmax, hard=False,
  temperature ``class_temperature``) concatenated with the content latents, with a uniform categorical
  prior; :class:`RVAEEncoding` gives the class probabilities.
* **Loss** (per patch, averaged over the batch): ``Σ_pixels (x − x̂)² / (2 σ_x²)`` with
  ``σ_x = recon_sigma``, plus ``beta_rotation·KL_θ + beta_translation·KL_t + beta_content·KL_z
  + beta_class·KL_c`` — the negative ELBO when every β is 1.

Speed
-----
The first decoder layer acting on ``[R(−θ)(x − t), z]`` is folded into a per-patch affine map of the
fixed grid, ``h₁ = (W_u R(−θ)) x + (W_z z − W_u R(−θ) t + b)``, evaluated with one batched matmul;
only the hidden H×H layers run per pixel, in bfloat16 where the CPU supports it natively
(``decoder_precision``). See ``benchmarks/bench_rvae.py``.

Determinism
-----------
A seed fixes the initial weights (drawn inside ``torch.random.fork_rng``, so the global torch stream is
untouched), the shuffling and the reparametrisation noise (a private ``torch.Generator``): the same
seed, data and thread count give identical weights and encodings.

Saving
------
:meth:`RVAE.save` writes ``torch.save(state_dict)`` to ``<path>`` and the hyper-parameters as JSON to
``<path>.json``; :meth:`RVAE.load` reads them with ``torch.load(..., weights_only=True)``. No Python
object is pickled.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "RVAE",
    "RVAEConfig",
    "RVAEEncoding",
    "RVAEConfigError",
    "rotate_patches",
    "resolve_precision",
    "ACTIVATIONS",
]

class Sine(nn.Module):
    """``sin(x)``: the activation of SIREN coordinate networks (Sitzmann et al., NeurIPS 2020)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(x)


#: Decoder activations by name.
ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU, "softplus": nn.Softplus, "silu": nn.SiLU, "sin": Sine}
_TWO_PI = 2.0 * math.pi


class RVAEConfigError(ValueError):
    """A hyper-parameter of the rVAE is out of range or of the wrong type."""


def _check(cond: bool, name: str, constraint: str, value: Any) -> None:
    if not cond:
        raise RVAEConfigError(f"`{name}` must be {constraint}, got {value!r}.")


@dataclass(frozen=True)
class RVAEConfig:
    """Hyper-parameters of :class:`RVAE` (all JSON-serialisable).

    Parameters
    ----------
    patch_size
        Side p of the square patches [pixels], 8–256.
    content_dim
        Number of continuous content latents (default 2).
    n_classes
        Size of the optional discrete class latent; 0 (default) or 1 disables it.
    symmetry
        Rotational order n of the angle read-out: θ is defined modulo 2π/n and reported in [0, 2π/n).
        1 (default) for asymmetric fragments; 3 for graphene or MoS2 sites. ``"auto"`` (polar encoder
        only): per patch, the order in ``symmetry_orders`` with the largest angular Fourier power of
        the patch (on rings outside the central atom) — 3 for a 3-fold site, 4 for a 4-fold one, 1
        for an asymmetric neighbourhood — so that each fragment's angle is read modulo its own
        symmetry and the decoder can align it.
    symmetry_orders
        Orders considered by ``symmetry="auto"``.
    encoder
        ``"polar"`` (default): the polar-transformer CNN, equivariant angle and invariant content by
        construction; ``"cnn"``: a plain CNN whose angle head is learned from the reconstruction only.
    encoder_channels
        Channels of the encoder's convolutions (polar: three layers; cnn: stride-2 layers).
    polar_radii, polar_angles
        Polar sampling of the polar encoder (radii up to the inscribed circle, angles over 2π).
    encoder_hidden
        Width of the encoder's fully connected layer.
    decoder_width
        Width H of the coordinate network.
    decoder_layers
        Hidden layers of the coordinate network (the first one acts on coordinates + latents).
    activation
        Activation of the decoder's hidden layers after the first, one of :data:`ACTIVATIONS`.
    first_activation
        Activation of the first decoder layer (on coordinates + latents); default ``"sin"`` (SIREN-like:
        periodic features of the rotated coordinates, which fit atom-sized blobs in a few epochs);
        None: ``activation``.
    coordinate_scale
        Factor on the normalised coordinates fed to the coordinate network. A coordinate MLP is
        biased towards smooth functions of its input; scaling the input (like the bandwidth of random
        Fourier features) lets it draw atom-sized blobs within a few epochs.
    decoder_precision
        ``"auto"`` (default: bfloat16 where the CPU has native bfloat16 support, else float32),
        ``"bfloat16"`` or ``"float32"``: the dtype of the decoder's per-pixel layers (weights, the
        encoder and the loss stay float32). bfloat16 makes an epoch several times faster on CPUs
        with AVX512-BF16 or AMX; the encodings differ from float32 ones at the 1e-3 level.
    rotation_prior_sigma
        Scale σ_p [rad] of the prior on the angle (module docstring).
    rotation_prior_centered
        Whether the angle prior is also centred on 0 (a normal N(0, σ_p²) on the wrapped mean).
    translation_prior_sigma
        σ_t of the normal prior on (dx, dy), in normalised coordinates (1 = half the patch side).
    beta_rotation, beta_translation, beta_content, beta_class
        KL weights of the latent groups.
    recon_sigma
        Observation noise σ_x of the Gaussian likelihood, in the units of the patches.
    class_temperature
        Gumbel-softmax temperature of the class latent.
    learning_rate
        Adam learning rate.
    batch_size
        Patches per optimisation step.
    seed
        Seed of the weights, the shuffling and the reparametrisation noise.
    """

    patch_size: int = 32
    content_dim: int = 2
    n_classes: int = 0
    symmetry: int | str = 1
    symmetry_orders: tuple[int, ...] = (1, 2, 3, 4, 6)
    encoder: str = "polar"
    encoder_channels: tuple[int, ...] = (16, 16, 32)
    polar_radii: int = 12
    polar_angles: int = 48
    encoder_hidden: int = 128
    decoder_width: int = 64
    decoder_layers: int = 2
    activation: str = "silu"
    first_activation: str | None = "sin"
    coordinate_scale: float = 8.0
    decoder_precision: str = "auto"
    rotation_prior_sigma: float = 0.1
    rotation_prior_centered: bool = False
    translation_prior_sigma: float = 0.1
    beta_rotation: float = 1.0
    beta_translation: float = 1.0
    beta_content: float = 1.0
    beta_class: float = 1.0
    recon_sigma: float = 0.1
    class_temperature: float = 0.5
    learning_rate: float = 3e-3
    batch_size: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder_channels", tuple(int(c) for c in self.encoder_channels))
        _check(isinstance(self.patch_size, int) and 8 <= self.patch_size <= 256, "patch_size", "an integer in [8, 256] [pixels]", self.patch_size)
        _check(isinstance(self.content_dim, int) and 1 <= self.content_dim <= 64, "content_dim", "an integer in [1, 64]", self.content_dim)
        _check(isinstance(self.n_classes, int) and 0 <= self.n_classes <= 64, "n_classes", "an integer in [0, 64]", self.n_classes)
        object.__setattr__(self, "symmetry_orders", tuple(int(m) for m in self.symmetry_orders))
        _check(self.encoder in ("polar", "cnn"), "encoder", "'polar' or 'cnn'", self.encoder)
        if self.symmetry == "auto":
            _check(self.encoder == "polar", "symmetry", "an integer for the 'cnn' encoder ('auto' needs the polar encoder)", self.symmetry)
        else:
            _check(isinstance(self.symmetry, int) and not isinstance(self.symmetry, bool) and 1 <= self.symmetry <= 12, "symmetry", "an integer in [1, 12] (rotational order) or 'auto'", self.symmetry)
        _check(len(self.symmetry_orders) >= 1 and all(1 <= m <= 12 for m in self.symmetry_orders), "symmetry_orders", "a non-empty sequence of integers in [1, 12]", self.symmetry_orders)
        _check(len(self.encoder_channels) >= 1 and all(c >= 1 for c in self.encoder_channels), "encoder_channels", "a non-empty sequence of positive integers", self.encoder_channels)
        if self.encoder == "cnn":
            _check(2 ** len(self.encoder_channels) <= self.patch_size, "encoder_channels", f"at most log2(patch_size) = {int(math.log2(self.patch_size))} layers for the cnn encoder", self.encoder_channels)
        _check(isinstance(self.polar_radii, int) and 2 <= self.polar_radii <= 128, "polar_radii", "an integer in [2, 128]", self.polar_radii)
        _check(isinstance(self.polar_angles, int) and 8 <= self.polar_angles <= 360, "polar_angles", "an integer in [8, 360]", self.polar_angles)
        for name in ("encoder_hidden", "decoder_width", "decoder_layers", "batch_size"):
            v = getattr(self, name)
            _check(isinstance(v, int) and v >= 1, name, "a positive integer", v)
        _check(self.decoder_precision in ("auto", "bfloat16", "float32"), "decoder_precision", "'auto', 'bfloat16' or 'float32'", self.decoder_precision)
        _check(self.first_activation is None or self.first_activation in ACTIVATIONS, "first_activation", f"None or one of {sorted(ACTIVATIONS)}", self.first_activation)
        _check(self.activation in ACTIVATIONS, "activation", f"one of {sorted(ACTIVATIONS)}", self.activation)
        _check(isinstance(self.rotation_prior_centered, bool), "rotation_prior_centered", "True or False", self.rotation_prior_centered)
        for name in ("coordinate_scale", "rotation_prior_sigma", "translation_prior_sigma", "recon_sigma", "class_temperature", "learning_rate"):
            v = getattr(self, name)
            _check(isinstance(v, (int, float)) and math.isfinite(v) and v > 0, name, "a positive finite number", v)
        for name in ("beta_rotation", "beta_translation", "beta_content", "beta_class"):
            v = getattr(self, name)
            _check(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0, name, "a non-negative finite number", v)
        _check(isinstance(self.seed, int), "seed", "an integer", self.seed)

    @property
    def has_classes(self) -> bool:
        """Whether the discrete class latent is used."""
        return self.n_classes > 1

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (tuples become lists)."""
        d = asdict(self)
        d["encoder_channels"] = list(self.encoder_channels)
        d["symmetry_orders"] = list(self.symmetry_orders)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RVAEConfig:
        """Inverse of :meth:`to_json`; unknown keys are refused, naming them."""
        known = {f.name for f in fields(cls)}
        extra = sorted(set(d) - known)
        if extra:
            raise RVAEConfigError(f"Unknown rVAE hyper-parameters {extra}; known: {sorted(known)}.")
        d = dict(d)
        for key in ("encoder_channels", "symmetry_orders"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)


@dataclass
class RVAEEncoding:
    """Posterior of a batch of patches (numpy arrays, N patches).

    Attributes
    ----------
    angle : ndarray of shape (N,)
        Posterior-mean rotation θ [rad] in [0, 2π/n) (n: ``order``).
    angle_std : ndarray of shape (N,)
        Posterior σ_θ [rad].
    translation : ndarray of shape (N, 2)
        Posterior-mean (dx, dy) along axes (0, 1) [pixels].
    translation_std : ndarray of shape (N, 2)
        Posterior σ of the translation [pixels].
    content : ndarray of shape (N, content_dim)
        Posterior means of the content latents.
    content_std : ndarray of shape (N, content_dim)
        Posterior σ of the content latents.
    class_probs : ndarray of shape (N, n_classes) or None
        Class posterior (None without a class latent).
    order : ndarray of shape (N,) or None
        Rotational order n of each patch's angle (``angle`` lies in [0, 2π/n)).
    """

    angle: np.ndarray
    angle_std: np.ndarray
    translation: np.ndarray
    translation_std: np.ndarray
    content: np.ndarray
    content_std: np.ndarray
    class_probs: np.ndarray | None = None
    order: np.ndarray | None = None

    def features(self) -> np.ndarray:
        """Rotation-invariant features: content means, then class probabilities if any, (N, k)."""
        if self.class_probs is None:
            return self.content
        return np.concatenate([self.content, self.class_probs], axis=1)


@dataclass
class _Posterior:
    rot_ab: torch.Tensor  # (B, 2) unnormalised (cos nθ, sin nθ)
    rot_logsig: torch.Tensor  # (B,)
    t_mu: torch.Tensor  # (B, 2)
    t_logsig: torch.Tensor  # (B, 2)
    z_mu: torch.Tensor  # (B, d)
    z_logsig: torch.Tensor  # (B, d)
    class_logits: torch.Tensor | None = None
    symmetry: int | torch.Tensor = 1  # the order n, or (B,) orders

    @property
    def angle(self) -> torch.Tensor:
        """Posterior-mean angle θ = atan2(b, a)/n in (−π/n, π/n]."""
        return torch.atan2(self.rot_ab[:, 1], self.rot_ab[:, 0]) / self.symmetry


def _split_head(out: torch.Tensor, d: int, k: int) -> dict[str, torch.Tensor | None]:
    """Split the invariant head: log σ_θ, log σ_t (2), z μ (d), z log σ (d), class logits (k)."""
    return {
        "rot_logsig": out[:, 0].clamp(-10.0, 2.0),
        "t_logsig": out[:, 1:3].clamp(-10.0, 2.0),
        "z_mu": out[:, 3 : 3 + d],
        "z_logsig": out[:, 3 + d : 3 + 2 * d].clamp(-10.0, 2.0),
        "class_logits": out[:, 3 + 2 * d :] if k else None,
    }


class _CNNEncoder(nn.Module):
    """Plain CNN encoder (``encoder="cnn"``): stride-2 convolutions, one linear head for everything."""

    def __init__(self, cfg: RVAEConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for c in cfg.encoder_channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.SiLU()]
            c_in = c
        self.conv = nn.Sequential(*layers)
        side = cfg.patch_size
        for _ in cfg.encoder_channels:
            side = (side + 1) // 2
        self.pool = min(side, 4)
        self.fc = nn.Sequential(nn.Linear(c_in * self.pool * self.pool, cfg.encoder_hidden), nn.SiLU())
        self.d = cfg.content_dim
        self.k = cfg.n_classes if cfg.has_classes else 0
        self.n = int(cfg.symmetry)
        # (a, b) of the angle, translation μ (2), then the invariant head
        self.head = self.head_layer = nn.Linear(cfg.encoder_hidden, 4 + 3 + 2 * self.d + self.k)

    def forward(self, x: torch.Tensor) -> _Posterior:
        h = self.conv(x[:, None])
        if h.shape[-1] != self.pool:
            h = F.adaptive_avg_pool2d(h, self.pool)
        out = self.head(self.fc(h.flatten(1)))
        return _Posterior(rot_ab=out[:, 0:2], t_mu=out[:, 2:4], symmetry=self.n, **_split_head(out[:, 4:], self.d, self.k))  # type: ignore[arg-type]


class _PolarEncoder(nn.Module):
    """Polar-transformer CNN encoder (``encoder="polar"``, default).

    The patch is resampled on a polar grid (``polar_radii`` radii × ``polar_angles`` angles about the
    patch centre), where a rotation of the patch is a cyclic shift along the angle axis. Convolutions
    with circular padding along the angle (and no stride along it) keep that shift, so the feature
    maps h(φ) shift with the patch. Then:

    * angle: ``v = Σ_φ h_θ(φ) e^{inφ}``, ``θ = arg(v)/n`` (n = ``symmetry``, or per patch for
      ``"auto"``): rotating the patch by α multiplies v by e^{inα}, so θ follows the rotation by
      construction (to the polar sampling);
    * translation mean: ``t = s · Σ_φ h_t(φ) e^{iφ} / N_φ`` read as the vector (Re, Im): it rotates with
      the patch;
    * content, log σ's and class logits: from features invariant to cyclic shifts (the mean and the
      maximum over φ, and the magnitudes of the first four angular harmonics, of every channel).

    After Esteves et al., "Polar Transformer Networks", ICLR 2018. With a plain CNN the angle head has
    to discover orientation from the reconstruction loss alone, which on our data took far more
    epochs than a test or an agent step can afford.
    """

    def __init__(self, cfg: RVAEConfig) -> None:
        super().__init__()
        c1, c2, c3 = (list(cfg.encoder_channels) + [cfg.encoder_channels[-1]] * 3)[:3]
        nr, nphi = cfg.polar_radii, cfg.polar_angles
        self.nphi = nphi
        radii = (torch.arange(nr, dtype=torch.float32) + 0.5) / nr  # normalised, up to the inscribed circle
        phis = torch.arange(nphi, dtype=torch.float32) * (2.0 * math.pi / nphi)
        px = radii[:, None] * torch.cos(phis)[None, :]  # (nr, nphi), axis 0 = x
        py = radii[:, None] * torch.sin(phis)[None, :]
        # grid_sample: grid[..., 0] indexes the last axis (y), grid[..., 1] the first (x).
        self.register_buffer("polar_grid", torch.stack([py, px], dim=-1)[None], persistent=False)
        self.conv1 = nn.Conv2d(1, c1, 3, padding=(1, 0))
        self.conv2 = nn.Conv2d(c1, c2, 3, stride=(2, 1), padding=(1, 0))
        nr2 = (nr + 1) // 2
        self.conv3 = nn.Conv1d(c2 * nr2, c3, 3)
        self.conv4 = nn.Conv1d(c3, c3, 3)
        self.maps = nn.Conv1d(c3, 2, 1)  # h_θ, h_t
        self.t_scale = nn.Parameter(torch.tensor(1.0))
        harmonics = torch.arange(1, 5, dtype=torch.float32)[:, None] * phis[None, :]  # (4, nphi)
        self.register_buffer("harm_cos", torch.cos(harmonics), persistent=False)
        self.register_buffer("harm_sin", torch.sin(harmonics), persistent=False)
        orders = cfg.symmetry_orders if cfg.symmetry == "auto" else (int(cfg.symmetry),)
        self.register_buffer("orders", torch.tensor(orders, dtype=torch.float32), persistent=False)
        self.register_buffer("rot_cos", torch.cos(self.orders[:, None] * phis[None, :]), persistent=False)  # (M, nphi)
        self.register_buffer("rot_sin", torch.sin(self.orders[:, None] * phis[None, :]), persistent=False)
        self.ring0 = int(math.ceil(0.25 * nr))  # rings outside the central atom, for the order choice
        self.register_buffer("vec_cos", torch.cos(phis), persistent=False)
        self.register_buffer("vec_sin", torch.sin(phis), persistent=False)
        self.d = cfg.content_dim
        self.k = cfg.n_classes if cfg.has_classes else 0
        n_inv = c3 * 6
        self.head_layer = nn.Linear(cfg.encoder_hidden, 3 + 2 * self.d + self.k)
        self.fc = nn.Sequential(nn.Linear(n_inv, cfg.encoder_hidden), nn.SiLU(), self.head_layer)

    @staticmethod
    def _circ(x: torch.Tensor, pad: int = 1) -> torch.Tensor:
        return torch.cat([x[..., -pad:], x, x[..., :pad]], dim=-1)

    def forward(self, x: torch.Tensor) -> _Posterior:
        b = x.shape[0]
        polar = F.grid_sample(x[:, None], self.polar_grid.expand(b, -1, -1, -1), mode="bilinear", padding_mode="border", align_corners=True)
        h = F.silu(self.conv1(self._circ(polar)))
        h = F.silu(self.conv2(self._circ(h)))
        h = h.flatten(1, 2)  # radii become channels: (B, c2·nr2, nphi)
        h = F.silu(self.conv3(self._circ(h)))
        h = F.silu(self.conv4(self._circ(h)))  # (B, c3, nphi), shifts with the patch
        m = self.maps(h)
        h_rot, h_t = m[:, 0], m[:, 1]
        re, im = h_rot @ self.rot_cos.T, h_rot @ self.rot_sin.T  # (B, M)
        if self.orders.numel() == 1:
            rot_ab = torch.cat([re, im], dim=1)
            order: int | torch.Tensor = int(self.orders[0])
        else:
            with torch.no_grad():  # the order of each patch: largest angular power of its rings
                rings = polar[:, 0, self.ring0 :, :]
                rings = rings - rings.mean(-1, keepdim=True)
                power = (rings @ self.rot_cos.T).pow(2).sum(1) + (rings @ self.rot_sin.T).pow(2).sum(1)
                pick = power.argmax(dim=1, keepdim=True)
            rot_ab = torch.cat([re.gather(1, pick), im.gather(1, pick)], dim=1)
            order = self.orders[pick[:, 0]]
        t_mu = self.t_scale * torch.stack([h_t @ self.vec_cos, h_t @ self.vec_sin], dim=1) / self.nphi
        hc = torch.einsum("bcp,mp->bcm", h, self.harm_cos)
        hs = torch.einsum("bcp,mp->bcm", h, self.harm_sin)
        mags = torch.sqrt(hc**2 + hs**2 + 1e-8).flatten(1) / self.nphi
        inv = torch.cat([h.mean(-1), h.amax(-1), mags], dim=1)
        return _Posterior(rot_ab=rot_ab, t_mu=t_mu, symmetry=order, **_split_head(self.fc(inv), self.d, self.k))  # type: ignore[arg-type]


class _CoordinateDecoder(nn.Module):
    """MLP f([u, z]) on the transformed grid u = R(−θ)(x − t), with the first layer folded per patch.

    The per-pixel part (everything after the folded first layer) runs in ``dtype`` (bfloat16 or
    float32) with float32 master weights; the output is float32.
    """

    def __init__(self, cfg: RVAEConfig) -> None:
        super().__init__()
        n_lat = cfg.content_dim + (cfg.n_classes if cfg.has_classes else 0)
        H = cfg.decoder_width
        self.coord = nn.Linear(2, H, bias=False)  # W_u
        self.latent = nn.Linear(n_lat, H)  # W_z, b
        self.act = ACTIVATIONS[cfg.activation]()
        self.first_act = ACTIVATIONS[cfg.first_activation or cfg.activation]()
        self.hidden = nn.ModuleList([nn.Linear(H, H) for _ in range(cfg.decoder_layers - 1)])
        self.out = nn.Linear(H, 1)
        p = cfg.patch_size
        lin = torch.linspace(-1.0, 1.0, p) * cfg.coordinate_scale
        gx, gy = torch.meshgrid(lin, lin, indexing="ij")
        self.register_buffer("grid", torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1), persistent=False)
        self.p = p
        self.scale = cfg.coordinate_scale
        self.dtype = resolve_precision(cfg.decoder_precision)

    def forward(self, cos: torch.Tensor, sin: torch.Tensor, t: torch.Tensor, lat: torch.Tensor) -> torch.Tensor:
        # R(−θ) = [[c, s], [−s, c]];  u = R(−θ)(x − t)  ⇒  W_u u = (W_u R(−θ)) x − (W_u R(−θ)) t
        W = self.coord.weight  # (H, 2)
        rot = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)  # (B, 2, 2)
        A = torch.einsum("hk,bkj->bhj", W, rot)  # (B, H, 2)
        c = self.latent(lat) - torch.einsum("bhj,bj->bh", A, t * self.scale)  # (B, H)
        B = lat.shape[0]
        dt = self.dtype
        grid = self.grid.to(dt).expand(B, -1, -1)
        h = self.first_act(torch.baddbmm(c.to(dt)[:, None, :], grid, A.to(dt).transpose(1, 2)))  # (B, P, H)
        for layer in self.hidden:
            h = self.act(F.linear(h, layer.weight.to(dt), layer.bias.to(dt)))
        y = F.linear(h, self.out.weight.to(dt), self.out.bias.to(dt))
        return y.float().view(B, self.p, self.p)


def resolve_precision(name: str) -> torch.dtype:
    """The dtype of ``decoder_precision``: ``"auto"`` is bfloat16 where oneDNN supports it natively, else float32."""
    if name == "float32":
        return torch.float32
    if name == "bfloat16":
        return torch.bfloat16
    supported = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        native = bool(supported()) if supported is not None else False
    except RuntimeError:  # pragma: no cover - builds without oneDNN
        native = False
    return torch.bfloat16 if native else torch.float32


def rotate_patches(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Patches (B, p, p) rotated counter-clockwise (axis 0 towards axis 1) by ``alpha`` (B,) [rad].

    Bilinear interpolation about the patch centre; samples from outside the patch repeat the border.
    """
    c, s = torch.cos(alpha), torch.sin(alpha)
    p = x.shape[-1]
    lin = torch.linspace(-1.0, 1.0, p)
    gx, gy = torch.meshgrid(lin, lin, indexing="ij")  # (p, p), axis 0 = x
    # output pixel at r samples the input at R(−α) r = (c x + s y, −s x + c y)
    src_x = c[:, None, None] * gx + s[:, None, None] * gy
    src_y = -s[:, None, None] * gx + c[:, None, None] * gy
    # grid_sample: grid[..., 0] indexes the last axis (y here), grid[..., 1] the first (x).
    grid = torch.stack([src_y, src_x], dim=-1)
    return F.grid_sample(x[:, None], grid, mode="bilinear", padding_mode="border", align_corners=True)[:, 0]


def _init_log_sigmas(layer: nn.Linear, cfg: RVAEConfig) -> None:
    """Start the posterior widths near their priors (θ, t) and narrow (content), means near zero."""
    with torch.no_grad():
        layer.weight.mul_(0.1)
        b = layer.bias
        b.zero_()
        d = cfg.content_dim
        off = b.shape[0] - (3 + 2 * d + (cfg.n_classes if cfg.has_classes else 0))  # cnn: (a, b, t) first
        b[off] = math.log(cfg.rotation_prior_sigma)
        b[off + 1 : off + 3] = math.log(cfg.translation_prior_sigma)
        b[off + 3 + d : off + 3 + 2 * d] = math.log(0.1)


def _as_generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(int(seed) % (2**63))
    return g


class RVAE(nn.Module):
    """Rotationally invariant VAE with a spatial-transformer (coordinate-network) decoder.

    Parameters
    ----------
    config
        :class:`RVAEConfig`; keyword arguments override its fields (``RVAE(content_dim=3)``).

    Examples
    --------
    >>> model = RVAE(patch_size=32, seed=0)
    >>> history = model.fit(patches, epochs=20)          # patches: ndarray (N, 32, 32)
    >>> enc = model.encode(patches)                       # enc.angle, enc.content, ...
    >>> model.save("rvae.pt"); same = RVAE.load("rvae.pt")
    """

    def __init__(self, config: RVAEConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        cfg = config if config is not None else RVAEConfig()
        if overrides:
            unknown = sorted(set(overrides) - {f.name for f in fields(RVAEConfig)})
            if unknown:
                raise RVAEConfigError(f"Unknown rVAE hyper-parameters {unknown}; known: {[f.name for f in fields(RVAEConfig)]}.")
            d = cfg.to_json()
            d.update(overrides)
            cfg = RVAEConfig.from_json(d)
        self.config = cfg
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.encoder = _PolarEncoder(cfg) if cfg.encoder == "polar" else _CNNEncoder(cfg)
            self.decoder = _CoordinateDecoder(cfg)
            _init_log_sigmas(self.encoder.head_layer, cfg)
        self._gen = _as_generator(cfg.seed + 1)
        self._optimizer: torch.optim.Optimizer | None = None
        self.epochs_trained = 0
        self.eval()

    # -- model -------------------------------------------------------------------------------
    def _decode_posterior_sample(self, post: _Posterior, sample: bool) -> tuple[torch.Tensor, ...]:
        cfg = self.config
        theta = post.angle
        t, z = post.t_mu, post.z_mu
        lat_cls = None
        if sample:
            g = self._gen
            theta = theta + post.rot_logsig.exp() * torch.randn(theta.shape, generator=g)
            t = t + post.t_logsig.exp() * torch.randn(t.shape, generator=g)
            z = z + post.z_logsig.exp() * torch.randn(z.shape, generator=g)
        if post.class_logits is not None:
            if sample:
                u = torch.rand(post.class_logits.shape, generator=self._gen).clamp_(1e-10, 1.0 - 1e-7)
                gumbel = -torch.log(-torch.log(u))
                lat_cls = F.softmax((post.class_logits + gumbel) / cfg.class_temperature, dim=1)
            else:
                lat_cls = F.softmax(post.class_logits, dim=1)
        lat = z if lat_cls is None else torch.cat([z, lat_cls], dim=1)
        return self.decoder(torch.cos(theta), torch.sin(theta), t, lat), theta

    def _kl_terms(self, post: _Posterior) -> dict[str, torch.Tensor]:
        cfg = self.config
        s_rot = post.rot_logsig
        sp = cfg.rotation_prior_sigma
        mean_term = post.angle**2 if cfg.rotation_prior_centered else 0.0
        kl_rot = math.log(sp) - s_rot + (torch.exp(2 * s_rot) + mean_term) / (2 * sp**2) - 0.5
        st = cfg.translation_prior_sigma
        kl_t = (math.log(st) - post.t_logsig + (torch.exp(2 * post.t_logsig) + post.t_mu**2) / (2 * st**2) - 0.5).sum(1)
        kl_z = (-post.z_logsig + 0.5 * (torch.exp(2 * post.z_logsig) + post.z_mu**2) - 0.5).sum(1)
        out = {"rotation": kl_rot, "translation": kl_t, "content": kl_z}
        if post.class_logits is not None:
            logq = F.log_softmax(post.class_logits, dim=1)
            out["class"] = (logq.exp() * (logq + math.log(cfg.n_classes))).sum(1)
        return out

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Negative (β-weighted) ELBO of a batch (B, p, p), averaged over the batch, and its parts."""
        cfg = self.config
        post = self.encoder(x)
        recon, _ = self._decode_posterior_sample(post, sample=True)
        rec = ((recon - x) ** 2).flatten(1).sum(1) / (2.0 * cfg.recon_sigma**2)
        kls = self._kl_terms(post)
        betas = {"rotation": cfg.beta_rotation, "translation": cfg.beta_translation, "content": cfg.beta_content, "class": cfg.beta_class}
        total = rec.mean() + sum(betas[k] * v.mean() for k, v in kls.items())
        parts = {"reconstruction": float(rec.detach().mean())} | {f"kl_{k}": float(v.detach().mean()) for k, v in kls.items()}
        return total, parts

    # -- data --------------------------------------------------------------------------------
    def _as_tensor(self, patches: Any, name: str = "patches") -> torch.Tensor:
        arr = np.asarray(patches, dtype=np.float32)
        p = self.config.patch_size
        if arr.ndim == 2 and arr.shape == (p, p):
            arr = arr[None]
        if arr.ndim != 3 or arr.shape[1:] != (p, p):
            raise RVAEConfigError(f"`{name}` must be an array of shape (N, {p}, {p}) (patch_size={p}), got shape {arr.shape}.")
        if arr.shape[0] == 0:
            raise RVAEConfigError(f"`{name}` is empty: give at least one patch of shape ({p}, {p}).")
        if not np.all(np.isfinite(arr)):
            bad = int(np.count_nonzero(~np.isfinite(arr).all(axis=(1, 2))))
            raise RVAEConfigError(f"`{name}` holds NaN or inf values in {bad} of {arr.shape[0]} patches; clean or drop them.")
        return torch.from_numpy(np.ascontiguousarray(arr))

    # -- training ----------------------------------------------------------------------------
    def fit(self, patches: Any, epochs: int = 10, *, batch_size: int | None = None, learning_rate: float | None = None, max_seconds: float | None = None) -> list[dict[str, float]]:
        """Train (or continue training: warm start, optimizer state kept) on patches (N, p, p).

        Parameters
        ----------
        patches
            ndarray of shape (N, p, p), float, finite.
        epochs
            Passes over the data.
        batch_size, learning_rate
            Override the configured values for this call.
        max_seconds
            Optional wall-clock budget [s]; training stops after the epoch that exceeds it.

        Returns
        -------
        list of dict
            Per epoch: mean ``loss`` and its parts, and ``seconds``.
        """
        x = self._as_tensor(patches)
        _check(isinstance(epochs, int) and epochs >= 0, "epochs", "a non-negative integer", epochs)
        bs = self.config.batch_size if batch_size is None else int(batch_size)
        _check(bs >= 1, "batch_size", "a positive integer", bs)
        lr = self.config.learning_rate if learning_rate is None else float(learning_rate)
        if self._optimizer is None:
            self._optimizer = torch.optim.Adam(self.parameters(), lr=lr)
        for group in self._optimizer.param_groups:
            group["lr"] = lr
        opt = self._optimizer
        n = x.shape[0]
        history: list[dict[str, float]] = []
        start = time.perf_counter()
        self.train()
        try:
            for _ in range(epochs):
                t0 = time.perf_counter()
                order = torch.randperm(n, generator=self._gen)
                sums: dict[str, float] = {}
                for i in range(0, n, bs):
                    xb = x[order[i : i + bs]]
                    opt.zero_grad(set_to_none=True)
                    total, parts = self.loss(xb)
                    total.backward()
                    opt.step()
                    w = xb.shape[0] / n
                    sums["loss"] = sums.get("loss", 0.0) + w * float(total.detach())
                    for k, v in parts.items():
                        sums[k] = sums.get(k, 0.0) + w * v
                sums["seconds"] = time.perf_counter() - t0
                history.append(sums)
                self.epochs_trained += 1
                if max_seconds is not None and time.perf_counter() - start > max_seconds:
                    break
        finally:
            self.eval()
        return history

    # -- inference ---------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, patches: Any, *, batch_size: int = 1024) -> RVAEEncoding:
        """Posterior of patches (N, p, p): angles, translations, content latents (see :class:`RVAEEncoding`)."""
        x = self._as_tensor(patches)
        half = (self.config.patch_size - 1) / 2.0
        outs: list[_Posterior] = [self.encoder(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)]

        def cat(attr: str) -> np.ndarray:
            return torch.cat([getattr(o, attr) for o in outs]).numpy().astype(np.float64)

        order = np.concatenate([np.broadcast_to(np.asarray(o.symmetry, dtype=np.float64), (o.rot_ab.shape[0],)) for o in outs]).astype(np.int64)
        angle = np.mod(np.concatenate([o.angle.numpy() for o in outs]).astype(np.float64), _TWO_PI / order)
        probs = None
        if self.config.has_classes:
            probs = torch.cat([F.softmax(o.class_logits, dim=1) for o in outs]).numpy().astype(np.float64)  # type: ignore[arg-type]
        return RVAEEncoding(
            angle=angle,
            angle_std=np.exp(cat("rot_logsig")),
            translation=cat("t_mu") * half,
            translation_std=np.exp(cat("t_logsig")) * half,
            content=cat("z_mu"),
            content_std=np.exp(cat("z_logsig")),
            class_probs=probs,
            order=order,
        )

    @torch.no_grad()
    def decode(self, content: Any, angle: Any = 0.0, translation: Any = (0.0, 0.0), class_probs: Any = None) -> np.ndarray:
        """Images (N, p, p) of content latents (N, d) at angles (N,) [rad] and translations (N, 2) [pixels]."""
        z = torch.as_tensor(np.atleast_2d(np.asarray(content, dtype=np.float32)))
        n = z.shape[0]
        _check(z.shape[1] == self.config.content_dim, "content", f"of shape (N, {self.config.content_dim})", tuple(z.shape))
        th = torch.as_tensor(np.broadcast_to(np.asarray(angle, dtype=np.float32), (n,)).copy())
        half = (self.config.patch_size - 1) / 2.0
        t = torch.as_tensor(np.broadcast_to(np.asarray(translation, dtype=np.float32), (n, 2)).copy()) / half
        lat = z
        if self.config.has_classes:
            k = self.config.n_classes
            cp = np.full((n, k), 1.0 / k, np.float32) if class_probs is None else np.broadcast_to(np.asarray(class_probs, np.float32), (n, k))
            lat = torch.cat([z, torch.as_tensor(np.array(cp))], dim=1)
        return self.decoder(torch.cos(th), torch.sin(th), t, lat).numpy()

    @torch.no_grad()
    def reconstruct(self, patches: Any) -> np.ndarray:
        """Posterior-mean reconstructions (N, p, p) of patches."""
        x = self._as_tensor(patches)
        recon, _ = self._decode_posterior_sample(self.encoder(x), sample=False)
        return recon.numpy()

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the weights (``torch.save(state_dict)``) to ``path`` and hyper-parameters to ``path + '.json'``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.state_dict(), path)
        meta = {"format": "stemtwin.rvae/1", "config": self.config.to_json(), "epochs_trained": self.epochs_trained}
        Path(str(path) + ".json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        return path

    @classmethod
    def load(cls, path: str | Path) -> RVAE:
        """Inverse of :meth:`save` (``torch.load(..., weights_only=True)``)."""
        path = Path(path)
        meta_path = Path(str(path) + ".json")
        if not path.is_file() or not meta_path.is_file():
            raise FileNotFoundError(f"An rVAE is saved as two files, {path} and {meta_path}; at least one is missing.")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != "stemtwin.rvae/1":
            raise RVAEConfigError(f"{meta_path} is not an rVAE description (format {meta.get('format')!r}, expected 'stemtwin.rvae/1').")
        model = cls(RVAEConfig.from_json(meta["config"]))
        model.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))
        model.epochs_trained = int(meta.get("epochs_trained", 0))
        model.eval()
        return model
