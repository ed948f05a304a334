"""Small settings for the environment tests: a 12 Å graphene cell, an 8×8 grid, 16-pixel images."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import pytest

import stemtwin.envs  # noqa: F401 - registers the ids

#: A 12 Å graphene cell with one 3-fold and one 4-fold Si (builds in milliseconds).
SMALL_GRAPHENE: dict[str, Any] = {
    "extent": (12.0, 12.0),
    "n_si_3fold": 1,
    "n_si_4fold": 1,
    "n_monovacancies": 0,
    "n_divacancies": 0,
}

#: Keyword arguments that keep every registered environment small and fast.
SMALL_KWARGS: dict[str, dict[str, Any]] = {
    "stemtwin/EELSExplore-v0": {"grid": 8, "image_pixels": 16, "sample_params": SMALL_GRAPHENE},
    "stemtwin/DiffractionExplore-v0": {"grid": 8, "image_pixels": 16, "sample_params": SMALL_GRAPHENE},
    "stemtwin/BeamDynamics-v0": {"pixels": 16, "fov": 8.0, "sample_params": SMALL_GRAPHENE},
}


@pytest.fixture
def small_kwargs() -> dict[str, dict[str, Any]]:
    """:data:`SMALL_KWARGS`, by environment id."""
    return SMALL_KWARGS


@pytest.fixture
def small_graphene_params() -> dict[str, Any]:
    """:data:`SMALL_GRAPHENE`: builder parameters of a 12 Å graphene cell."""
    return dict(SMALL_GRAPHENE)


@pytest.fixture
def make_small() -> Callable[..., gym.Env]:
    """``make_small(env_id, **overrides)``: ``gymnasium.make`` with the small settings of ``env_id``."""

    def make(env_id: str, **overrides: Any) -> gym.Env:
        return gym.make(env_id, **{**SMALL_KWARGS[env_id], **overrides})

    return make
