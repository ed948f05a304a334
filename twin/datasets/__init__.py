"""Labelled synthetic data sets: TOML specs, per-sample synthesis and chunked zarr stores."""

from __future__ import annotations

from .layout import ArraySpec, array_layout, max_atoms
from .spec import DatasetSpec, DatasetSpecError, list_examples, load_spec, parse_spec
from .synth import chunk_bounds, generate_chunk, generate_sample

__all__ = [
    "ArraySpec",
    "DatasetSpec",
    "DatasetSpecError",
    "array_layout",
    "chunk_bounds",
    "generate_chunk",
    "generate_sample",
    "list_examples",
    "load_spec",
    "max_atoms",
    "parse_spec",
]

# -- stores: generation and readers (store.py, generate.py, readers.py) ----------------------------------
from .generate import InjectedFault, generate  # noqa: E402
from .readers import hyperspy_axes, open_dataset  # noqa: E402
from .store import StoreError, verify_store  # noqa: E402

__all__ += ["InjectedFault", "StemtwinDataset", "ChunkSampler", "StoreError", "generate", "hyperspy_axes", "open_dataset", "verify_store"]


def __getattr__(name: str):  # the PyTorch classes import torch: loaded on first use
    if name in ("StemtwinDataset", "ChunkSampler"):
        from . import torch_dataset

        return getattr(torch_dataset, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
