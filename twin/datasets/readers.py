"""Read a generated data set: lazily with xarray/dask, sample by sample with PyTorch, or in HyperSpy.

xarray
------
>>> from stemtwin.twin.datasets.readers import open as open_dataset
>>> ds = open_dataset("haadf.zarr")            # lazy: dask arrays, one dask chunk per sample batch
>>> ds["image"]                                 # (sample, y, x), attrs from the layout (units, ...)
>>> ds["image"][:16].values                     # reads two or so zarr chunks, not the store

``xarray.open_zarr(path)`` works on the store too (the arrays carry zarr v3 ``dimension_names``), but
it warns that ``manifest.json`` is not a zarr node; :func:`open` silences that warning, checks that
the store is a complete stemtwin data set, and adds the spec's fingerprint and seed to ``ds.attrs``.

PyTorch
-------
:class:`StemtwinDataset` (in :mod:`stemtwin.twin.datasets.torch_dataset`, imported on first use so
that importing the twin does not import torch) is a map-style ``torch.utils.data.Dataset`` of
per-sample dicts of tensors. It reads zarr chunks (keeping a few per worker process), opens the store
lazily in each process, and so works with ``DataLoader(num_workers>0)``; :class:`ChunkSampler`
shuffles chunk by chunk so that random order does not read a whole chunk per sample.

>>> from torch.utils.data import DataLoader
>>> from stemtwin.twin.datasets.readers import StemtwinDataset, ChunkSampler
>>> data = StemtwinDataset("haadf.zarr", inputs="image", labels=["column_map"])
>>> loader = DataLoader(data, batch_size=32, sampler=ChunkSampler(data, shuffle=True), num_workers=2)
>>> batch = next(iter(loader))                  # {"image": (32, H, W) tensor, "column_map": ...}

HyperSpy
--------
HyperSpy is not a dependency of stemtwin. With it installed, a frame stack (or a stack of spectrum
images) becomes a lazy signal whose navigation axis is the sample, calibrated from the store
(:func:`hyperspy_axes`: scan pixel size in Å, energy axis in eV). The twin indexes images ``(x, y)``
and HyperSpy draws the last array axis horizontally, so transpose first::

    import hyperspy.api as hs
    ds = open_dataset("haadf.zarr").transpose("sample", "y", "x", ...)
    s = hs.signals.Signal2D(ds["image"].data, axes=hyperspy_axes(ds, "image")).as_lazy()
    s.plot()
    eels = open_dataset("eels.zarr").transpose("sample", "y", "x", ...)
    si = hs.signals.Signal1D(eels["spectrum_image"].data, axes=hyperspy_axes(eels, "spectrum_image")).as_lazy()
    # (exspy.signals.EELSSpectrum takes the same arguments, for EELS-specific tools)

The sample axis is a navigation axis: ``s.inav[5]`` is frame 5; ``si.inav[:, :, 5]`` is spectrum image 5
(HyperSpy orders navigation indices x, y, sample).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import store as _store

if TYPE_CHECKING:
    import xarray as xr

    from .torch_dataset import ChunkSampler, StemtwinDataset

__all__ = ["ChunkSampler", "StemtwinDataset", "check_complete", "hyperspy_axes", "manifest", "open", "open_dataset"]

def manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of the store at ``path`` (spec, seed, n, chunking, versions, chunk status)."""
    return _store.read_manifest(Path(path))


def check_complete(path: str | os.PathLike[str], *, allow_incomplete: bool = False) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """The manifest and the valid chunk markers of ``path``; refuse an incomplete store unless allowed.

    Completeness is judged from the chunk markers (the source of truth), not from the manifest,
    which may lag behind when a run was killed.
    """
    path = Path(path)
    man = _store.read_manifest(path)
    markers = _store.read_markers(path, man)
    missing = [k for k in range(man["n_chunks"]) if k not in markers]
    if missing and not allow_incomplete:
        shown = ", ".join(str(k) for k in missing[:10]) + (", …" if len(missing) > 10 else "")
        raise _store.StoreError(
            f"the store {str(path)!r} is incomplete: {len(missing)} of {man['n_chunks']} chunks are missing "
            f"(chunk(s) {shown}; {man['samples_per_chunk']} samples each). Complete it with "
            f"`stemtwin generate SPEC --n {man['n']} --seed {man['seed']} --out {str(path)} --resume`, "
            "or read what is there with allow_incomplete=True."
        )
    return man, markers


def open(path: str | os.PathLike[str], *, allow_incomplete: bool = False, chunks: Any = None) -> xr.Dataset:  # noqa: A001
    """The store at ``path`` as a lazy, dask-backed :class:`xarray.Dataset`.

    Parameters
    ----------
    path
        A store written by :func:`~stemtwin.twin.datasets.generate.generate`.
    allow_incomplete
        Read a store whose generation was interrupted: the missing samples read as the arrays' fill
        value (0), and the boolean coordinate ``written`` (sample) tells which samples exist.
        Without it an incomplete store is refused.
    chunks
        Dask chunks, as in :func:`xarray.open_zarr`; None (default) keeps the store's chunks, one
        batch of ``samples_per_chunk`` samples per dask chunk.

    Returns
    -------
    xarray.Dataset
        One variable per array of the layout, dims ``("sample", *per-sample dims)``, the layout's
        attrs; ``ds.attrs`` holds ``stemtwin_spec_fingerprint``, ``stemtwin_seed``, ``stemtwin_n``,
        ``stemtwin_samples_per_chunk``, ``stemtwin_complete``, and ``stemtwin_spec_name`` and the
        scan ``stemtwin_pixel_size`` [``stemtwin_pixel_units``] (fov / pixels) from the spec.

    Raises
    ------
    StoreError
        ``path`` is not a stemtwin store, or it is incomplete and ``allow_incomplete`` is False.
    """
    import numpy as np
    import xarray as xr

    path = Path(path)
    man, markers = check_complete(path, allow_incomplete=allow_incomplete)
    with warnings.catch_warnings():
        # zarr lists every entry of the store's root and warns about manifest.json, which is ours.
        warnings.filterwarnings("ignore", message=r"Object at manifest\.json is not recognized", category=UserWarning)
        ds = xr.open_zarr(str(path), consolidated=False, zarr_format=3, chunks=chunks if chunks is not None else {})
    if allow_incomplete:
        written = np.zeros(man["n"], dtype=bool)
        for marker in markers.values():
            start, stop = marker["samples"]
            written[start:stop] = True
        ds = ds.assign_coords(written=(_store.SAMPLE_DIM, written))
        ds.attrs["stemtwin_complete"] = bool(written.all())
    else:
        ds.attrs["stemtwin_complete"] = True
    inst = man.get("spec", {}).get("instrument", {})
    if isinstance(inst, Mapping) and inst.get("fov") and inst.get("pixels"):
        ds.attrs["stemtwin_pixel_size"] = float(inst["fov"]) / float(inst["pixels"])
        ds.attrs["stemtwin_pixel_units"] = "Å"
    name = man.get("spec", {}).get("dataset", {}).get("name")
    if name:
        ds.attrs["stemtwin_spec_name"] = str(name)
    return ds


#: Alias of :func:`open` that does not shadow the builtin when imported by name.
open_dataset = open


def hyperspy_axes(ds: xr.Dataset, name: str, signal_dims: int | None = None) -> list[dict[str, Any]]:
    """HyperSpy axes dicts for the array ``name`` of a dataset opened with :func:`open`, in array order.

    The last ``signal_dims`` axes are signal axes (default: 1 when the last dim is ``energy``, a
    spectrum, else 2, an image), the others (the sample axis first) navigation axes. ``x``/``y`` get the
    scan pixel size (``fov / pixels`` [Å], from the spec in ``ds.attrs``); a dim whose values the
    layout lists in the attrs (``energy`` of a spectrum, with ``energy_units``) gets their spacing
    and offset. HyperSpy itself is not needed. The twin indexes images ``(x, y)`` (axis 0 is x);
    HyperSpy draws the last array axis horizontally, so transpose first for the usual orientation:
    ``hyperspy_axes(ds.transpose("sample", "y", "x", ...), "image")``.
    """
    array = ds[name]
    attrs: Mapping[str, Any] = dict(array.attrs)
    pixel = ds.attrs.get("stemtwin_pixel_size")
    ndim = array.ndim
    if signal_dims is None:
        signal_dims = 1 if array.dims[-1] == "energy" else 2
    signal_dims = max(0, min(int(signal_dims), ndim - 1))
    axes = []
    for i, (dim, size) in enumerate(zip(array.dims, array.shape, strict=True)):
        entry: dict[str, Any] = {"name": str(dim), "size": int(size), "navigate": i < ndim - signal_dims}
        if i > 0:
            values = attrs.get(str(dim))
            if str(dim) in ("x", "y") and pixel is not None:
                entry.update(scale=float(pixel), offset=0.0, units=str(ds.attrs.get("stemtwin_pixel_units", "Å")))
            elif isinstance(values, (list, tuple)) and len(values) == int(size) and len(values) >= 2:
                entry.update(scale=float(values[1]) - float(values[0]), offset=float(values[0]))
                if attrs.get(f"{dim}_units") is not None:
                    entry["units"] = str(attrs[f"{dim}_units"])
        axes.append(entry)
    return axes


def __getattr__(name: str) -> Any:
    # The PyTorch classes import torch: load them on first use only.
    if name in ("StemtwinDataset", "ChunkSampler"):
        from . import torch_dataset

        return getattr(torch_dataset, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
