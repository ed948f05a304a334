"""Shared machinery of the environments: seeding, the sample cache and image scaling."""

from __future__ import annotations

import copyreg
import types
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from stemtwin.twin import Sample, build_sample
from stemtwin.twin.errors import ConfigurationError

__all__ = [
    "InvalidActionError",
    "draw_seeds",
    "cached_sample",
    "minmax",
]

def _mapping_proxy(data: dict[str, Any]) -> types.MappingProxyType:
    return types.MappingProxyType(data)


def _reduce_mapping_proxy(view: types.MappingProxyType) -> tuple[Any, tuple[dict[str, Any]]]:
    return (_mapping_proxy, (dict(view),))


# Environments must pickle (vector envs, checkpoints). Their presets, like the twin's records, hold
# read-only ``MappingProxyType`` views, which the standard pickler refuses; pickle them as the plain
# dict they wrap and rebuild the read-only view on load.
copyreg.pickle(types.MappingProxyType, _reduce_mapping_proxy)

#: Samples kept in memory per process, keyed by (family, parameters, seed); samples are immutable.
SAMPLE_CACHE_SIZE = 16
_SAMPLES: OrderedDict[tuple[str, str, int], Sample] = OrderedDict()


class InvalidActionError(ConfigurationError):
    """An action outside the environment's action space (a ``ValueError``)."""


def draw_seeds(rng: np.random.Generator, names: tuple[str, ...]) -> dict[str, int]:
    """Independent integer seeds, one per named stream, drawn from the env's ``np_random``.

    Integers (rather than ``Generator.spawn``) depend only on the generator's state, which pickles
    and deep-copies exactly, so a copied environment reproduces the same episode.
    """
    values = rng.integers(0, 2**63 - 1, size=len(names), dtype=np.int64)
    return {name: int(v) for name, v in zip(names, values, strict=True)}


def cached_sample(family: str, params: Mapping[str, Any], seed: int) -> Sample:
    """Build (or fetch from the per-process cache) the sample of ``family`` for ``seed``."""
    key = (family, repr(sorted(params.items())), seed)
    hit = _SAMPLES.get(key)
    if hit is not None:
        _SAMPLES.move_to_end(key)
        return hit
    sample = build_sample(family, rng=np.random.default_rng(seed), **params)
    _SAMPLES[key] = sample
    while len(_SAMPLES) > SAMPLE_CACHE_SIZE:
        _SAMPLES.popitem(last=False)
    return sample


def minmax(array: np.ndarray) -> np.ndarray:
    """``array`` scaled to [0, 1] as float32 (zeros if it is constant)."""
    a = np.asarray(array, dtype=np.float32)
    lo, hi = float(a.min()), float(a.max())
    if not hi > lo:
        return np.zeros_like(a, dtype=np.float32)
    out = (a - np.float32(lo)) * np.float32(1.0 / (hi - lo))
    return np.clip(out, 0.0, 1.0, out=out)
