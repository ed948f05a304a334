"""Random-number streams: every stochastic function takes ``rng: np.random.Generator | int | None``."""

from __future__ import annotations

import numpy as np

__all__ = ["RNGLike", "as_generator", "spawn_streams"]

RNGLike = np.random.Generator | int | np.random.SeedSequence | None


def as_generator(rng: RNGLike) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` for ``rng`` (a Generator is passed through unchanged)."""
    return np.random.default_rng(rng)


def spawn_streams(rng: RNGLike, names: tuple[str, ...]) -> dict[str, np.random.Generator]:
    """Split ``rng`` into independent named child streams.

    Parameters
    ----------
    rng
        Parent generator or seed.
    names
        Stream names, for example ``("sample", "dynamics", "noise")``. The order fixes which child
        each name receives, so keep it stable to keep results reproducible.

    Returns
    -------
    dict of str to Generator
        One independent generator per name.
    """
    parent = as_generator(rng)
    children = parent.spawn(len(names))
    return dict(zip(names, children, strict=True))
