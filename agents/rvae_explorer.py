"""The rVAE-feature explorer for the Explore envs: a GP on rVAE content latents of the candidate patches.

At reset the agent cuts a patch of the structural (survey) image around every candidate (the same
patches as :class:`~stemtwin.agents.dkl_bo.DKLBOAgent`: ``info["candidate_patches"]`` when the env
gives them, else :func:`~stemtwin.agents.base.cut_patches`; standardised over all candidates), trains
an rVAE on them — unsupervised, before any measurement — and takes the posterior means of its content
latents, standardised per dimension, as the inputs of an exact GP (``ScaleKernel(Matern-5/2, ARD)``
by default). Because the rVAE explains rotation and translation with its own latents, two candidates
that differ by a rotation of the same local structure get nearby inputs. The loop — seed
measurements, GP conditioning and retraining, acquisition (EI, UCB, maximum uncertainty, Thompson) over
the unvisited candidates — is :class:`~stemtwin.agents.dkl_bo.GPBOAgent`'s, so every option of it
applies. The features stay fixed during the episode (only the GP learns from the rewards).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .base import AgentError
from .dkl_bo import GPBOAgent, _check_int, patch_inputs

__all__ = ["RVAEExplorerAgent"]


class RVAEExplorerAgent(GPBOAgent):
    """Bayesian optimisation with a GP on rVAE content latents of the candidate patches (module docstring).

    Parameters
    ----------
    patch_size
        Side of the candidate patches [pixels] (default 16); the env's ``candidate_patches`` win.
    content_dim
        rVAE content latents = GP input dimensions (default 2).
    rvae_epochs
        rVAE training epochs over the candidate patches at reset.
    symmetry
        Rotational order of the rVAE angle (1, default; ``"auto"``: per patch, see
        :class:`~stemtwin.agents.rvae.RVAEConfig`).
    rvae
        Extra :class:`~stemtwin.agents.rvae.RVAEConfig` fields.
    kernel
        Base kernel of the GP (default ``"matern52"``, one lengthscale per latent).
    **kwargs
        :class:`~stemtwin.agents.dkl_bo.GPBOAgent` parameters (acquisition, ``acquisition_params``,
        ``q``, ``n_seed``, retrain schedule, ``num_threads``, ``seed``, ...).
    """

    name = "rvae_explorer"

    def __init__(
        self,
        *,
        patch_size: int = 16,
        content_dim: int = 2,
        rvae_epochs: int = 15,
        symmetry: int | str = 1,
        rvae: Mapping[str, Any] | None = None,
        kernel: str = "matern52",
        **kwargs: Any,
    ) -> None:
        super().__init__(kernel=kernel, **kwargs)
        self.patch_size = _check_int("patch_size", patch_size, 8)
        self.content_dim = _check_int("content_dim", content_dim, 1)
        self.rvae_epochs = _check_int("rvae_epochs", rvae_epochs, 0)
        if symmetry != "auto":
            _check_int("symmetry", symmetry, 1)
        self.symmetry = symmetry
        self.rvae_overrides = dict(rvae or {})
        self.rvae_model: Any = None
        self.encoding: Any = None

    def _candidate_inputs(self, observation: Any, info: Mapping[str, Any]) -> np.ndarray:
        from .gp import torch_threads
        from .rvae import RVAE

        flat, side = patch_inputs(self, info, self.patch_size)
        if side < 8:
            raise AgentError(f"{self.label}: the rVAE needs patches of at least 8 pixels a side, got {side}.")
        patches = flat.reshape(-1, side, side)
        params: dict[str, Any] = {
            "patch_size": side,
            "content_dim": self.content_dim,
            "symmetry": self.symmetry,
            "recon_sigma": 0.3,
            "batch_size": 64,
            "seed": int(self.rng.integers(2**31 - 1)),
        }
        params.update(self.rvae_overrides)
        try:
            model = RVAE(**params)
        except ValueError as err:
            raise AgentError(f"{self.label}: bad rVAE settings: {err}") from None
        with torch_threads(self.num_threads):
            model.fit(patches, epochs=self.rvae_epochs)
            self.encoding = model.encode(patches)
        self.rvae_model = model
        z = self.encoding.features()
        spread = z.std(axis=0)
        return ((z - z.mean(axis=0)) / np.where(spread > 0, spread, 1.0)).astype(np.float32)

    def _default_covar_module(self, n_inputs: int) -> Any:
        from .gp import make_covar_module

        return make_covar_module(self.kernel, ard_num_dims=n_inputs, lengthscale=1.0)

    def report(self) -> dict[str, Any]:
        """:meth:`GPBOAgent.report` plus the rVAE view of the candidates: ``rvae_content`` (N, d), ``rvae_angle`` (N,) [rad]."""
        out = super().report()
        if self.encoding is not None:
            out["rvae_content"] = self.encoding.content
            out["rvae_angle"] = self.encoding.angle
        return out
