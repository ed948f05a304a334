"""A PyTorch ``Dataset`` over a generated store (imports torch: imported on first use only).

:class:`StemtwinDataset` returns one sample as a dict of tensors, ``{array name: tensor}`` for the
inputs array and the label arrays. It reads whole zarr chunks (one chunk is ``samples_per_chunk``
samples of one array) and keeps the last few per process, so reading samples in order touches each
chunk once. The zarr store is opened lazily in each process (the object pickles without it), so the
dataset works with ``DataLoader(num_workers=N)``. With random access, use :class:`ChunkSampler`
(shuffles the chunks, then the samples within each chunk) instead of ``shuffle=True``, which would
decompress a whole chunk for every sample.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from . import store as _store
from .readers import check_complete

__all__ = ["ChunkSampler", "StemtwinDataset"]


class StemtwinDataset(Dataset):
    """Samples of a stemtwin store as dicts of tensors.

    Parameters
    ----------
    path
        The store (``STORE.zarr``).
    inputs
        The array fed to a model (default ``"image"``).
    labels
        Label arrays to return with it; None: every other array of the store, in layout order.
    transform
        Called on each sample dict (of tensors) before it is returned.
    cache_chunks
        Chunks kept per process (each holds every requested array of one sample batch).
    allow_incomplete
        Allow a store with missing chunks (their samples read as zeros); refused by default.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        inputs: str = "image",
        labels: Sequence[str] | None = None,
        *,
        transform: Callable[[dict[str, torch.Tensor]], Any] | None = None,
        cache_chunks: int = 4,
        allow_incomplete: bool = False,
    ) -> None:
        self.path = Path(path)
        manifest, _ = check_complete(self.path, allow_incomplete=allow_incomplete)
        arrays = list(manifest["arrays"])
        if inputs not in arrays:
            raise _store.StoreError(f"inputs: the store {str(self.path)!r} has no array {inputs!r}; it has {arrays}.")
        labels = [a for a in arrays if a != inputs] if labels is None else list(labels)
        unknown = [a for a in labels if a not in arrays]
        if unknown:
            raise _store.StoreError(f"labels: the store {str(self.path)!r} has no array(s) {unknown}; it has {arrays}.")
        if isinstance(cache_chunks, bool) or not isinstance(cache_chunks, int) or cache_chunks < 1:
            raise _store.StoreError(f"cache_chunks: expected an integer >= 1, got {cache_chunks!r}.")
        self.inputs = inputs
        self.labels = labels
        self.names = [inputs, *[a for a in labels if a != inputs]]
        self.transform = transform
        self.cache_chunks = cache_chunks
        self.n = int(manifest["n"])
        self.samples_per_chunk = int(manifest["samples_per_chunk"])
        self.spec_fingerprint = manifest["spec_fingerprint"]
        self._group: Any = None
        self._pid: int | None = None
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        self.chunk_reads = 0  # chunks read by this process (for tests and tuning)

    def __len__(self) -> int:
        return self.n

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_group"], state["_pid"], state["_cache"] = None, None, OrderedDict()
        return state

    def _open(self) -> Any:
        if self._group is None or self._pid != os.getpid():
            import zarr

            self._group = zarr.open_group(str(self.path), mode="r", zarr_format=3)
            self._pid = os.getpid()
            self._cache.clear()
        return self._group

    def chunk(self, k: int) -> dict[str, np.ndarray]:
        """Every requested array of chunk ``k`` (cached, least recently used dropped first)."""
        cached = self._cache.get(k)
        if cached is not None:
            self._cache.move_to_end(k)
            return cached
        group = self._open()
        start, stop = _store.chunk_bounds(k, self.samples_per_chunk, self.n)
        data = {name: group[name][start:stop] for name in self.names}
        self.chunk_reads += 1
        self._cache[k] = data
        while len(self._cache) > self.cache_chunks:
            self._cache.popitem(last=False)
        return data

    def __getitem__(self, index: int) -> Any:
        i = int(index)
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(f"sample {index} out of range for a store of {self.n} samples")
        k, j = divmod(i, self.samples_per_chunk)
        data = self.chunk(k)
        sample = {name: torch.from_numpy(np.array(data[name][j])) for name in self.names}
        return self.transform(sample) if self.transform is not None else sample


class ChunkSampler(Sampler[int]):
    """Sample indices grouped by chunk: chunk order shuffled, then the samples within each chunk.

    A new order each epoch when ``shuffle`` (seeded from ``seed`` and the epoch; call
    :meth:`set_epoch`), so that random-order training reads each chunk about once per epoch.
    """

    def __init__(self, dataset: StemtwinDataset, *, shuffle: bool = True, seed: int = 0) -> None:
        self.n = len(dataset)
        self.per_chunk = dataset.samples_per_chunk
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        n_chunks = _store.chunk_count(self.n, self.per_chunk)
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(n_chunks) if self.shuffle else np.arange(n_chunks)
        for k in order:
            start, stop = _store.chunk_bounds(int(k), self.per_chunk, self.n)
            idx = np.arange(start, stop)
            if self.shuffle:
                rng.shuffle(idx)
            yield from (int(i) for i in idx)
