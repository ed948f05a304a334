"""The on-disk layout of a generated data set: a zarr v3 store with a manifest and chunk markers.

A store is a folder (``STORE.zarr``)::

    STORE.zarr/
        zarr.json                   zarr v3 group; attributes: stemtwin_format, spec fingerprint, n, seed
        image/zarr.json             one zarr array per entry of layout.array_layout(spec):
        image/c.<k>.0.0                 shape (n, *per-sample shape), chunks (B, *per-sample shape),
        <label>/...                     dimension_names ("sample", *dims), attributes from the layout
        manifest.json               spec, fingerprint, seed, n, chunking, versions, per-chunk status
                                    (and the synthesis version, which --resume must match)
        .stemtwin/chunks/<k>.json   completion marker of chunk k (written last, atomically)

Chunk ``k`` holds samples ``[k·B, min((k+1)·B, n))`` of every array, B = ``spec.samples_per_chunk``,
and is a pure function of (spec, seed, k, n) (:func:`~stemtwin.twin.datasets.synth.generate_chunk`),
so a chunk recomputed anywhere is byte-identical. The marker of chunk ``k`` is the single source of
truth that the chunk is complete: :func:`write_chunk` writes every array region of the chunk first
(each chunk file whole, :mod:`.chunk_files`), and only then the marker, atomically (temporary file and
``os.replace``). A process killed mid-chunk leaves no marker, so the chunk is recomputed later and
overwritten whole. ``manifest.json`` is a summary refreshed from the markers by the coordinator;
when it lags behind (the coordinator itself was killed), the markers win.

The marker holds the sha256 of each array's region (its C-order bytes in the stored dtype), so a
chunk can be verified against the store (:func:`verify_store`).

Arrays are compressed with Blosc LZ4 and bit shuffle: a 256² HAADF sample's arrays encode in ~1.0 ms
to 0.41 MB, against 6.2 ms and 0.52 MB with zarr's default Zstandard (level 0). Bit (rather than byte) shuffle turns the
zeroed low mantissa bits of the rounded counts and distortions (``layout.COUNT_KEEPBITS``,
``layout.DISTORTION_QUANTUM``) into whole zero bit planes: a 256² HAADF sample with its labels takes
~0.41 MB instead of 0.73 MB (1.1 MB raw), and each MB written costs ~2 ms of kernel time here.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import platform
import shutil
import socket
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ..files import atomic_write_bytes, staging_folder
from .chunk_files import chunk_writer

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "MARKERS",
    "StoreError",
    "chunk_bounds",
    "chunk_count",
    "create_store",
    "is_store",
    "read_manifest",
    "read_markers",
    "refresh_manifest",
    "versions",
    "verify_store",
    "write_chunk",
]

#: ``manifest.json["format"]`` of a stemtwin data set, and the version of this layout.
FORMAT = "stemtwin.dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Folder (relative to the store) of the per-chunk completion markers ``<k>.json``.
MARKERS = Path(".stemtwin") / "chunks"
#: The name of the leading axis of every array.
SAMPLE_DIM = "sample"

_PACKAGES = ("stemtwin", "numpy", "scipy", "zarr", "numcodecs", "xarray", "dask", "distributed", "abtem", "ase")


class StoreError(ConfigurationError):
    """A path is not a (complete) stemtwin data-set store, or the store does not match the request."""


# -- small helpers ----------------------------------------------------------------------------------


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` whole or not at all, flushed to disk (:mod:`stemtwin.twin.files`)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=False) + "\n").encode(), fsync=True)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def versions() -> dict[str, str | None]:
    """Versions of Python and of the packages that shape the data (None: not installed)."""
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def chunk_count(n: int, per_chunk: int) -> int:
    """Number of chunks of ``per_chunk`` samples that hold ``n`` samples."""
    return math.ceil(n / per_chunk)


def chunk_bounds(k: int, per_chunk: int, n: int) -> tuple[int, int]:
    """Samples ``[start, stop)`` of chunk ``k``."""
    return k * per_chunk, min((k + 1) * per_chunk, n)


def checksum(arr: np.ndarray) -> str:
    """sha256 of the C-order bytes of ``arr`` (dtype and shape are checked separately)."""
    return hashlib.sha256(np.ascontiguousarray(arr)).hexdigest()  # the buffer itself, no copy


#: Separator of the chunk keys of new stores: flat files ``c.<k>.0.0`` in each array's folder. With
#: zarr's default "/" every chunk of every array made two new folders (``c/<k>/0``), and creating
#: them cost more than writing the data (ext4 here: 0.5 ms of 3 per 256² HAADF sample).
CHUNK_KEY_SEPARATOR = "."


def _chunk_key(k: int, ndim_per_sample: int, separator: str) -> str:
    """The zarr v3 default-encoding key of chunk ``k`` of an array whose per-sample dims are whole."""
    return separator.join(["c", str(k), *(["0"] * ndim_per_sample)])


def _chunk_separators(out: Path, names: Iterable[str]) -> dict[str, str]:
    """The chunk-key separator of each array of the store (from its ``zarr.json``; "/" when unreadable,
    zarr's default and that of stores made before ``CHUNK_KEY_SEPARATOR``)."""
    found: dict[str, str] = {}
    for name in names:
        try:
            meta = json.loads((Path(out) / name / "zarr.json").read_text())
            separator = meta["chunk_key_encoding"]["configuration"]["separator"]
        except (OSError, ValueError, KeyError, TypeError):
            separator = "/"
        found[name] = separator if separator in ("/", ".") else "/"
    return found


def _layout(spec: Any) -> dict[str, Any]:
    from .layout import array_layout

    layout = array_layout(spec)
    for name in layout:
        if not name or "/" in name or name.startswith("."):
            raise StoreError(f"array name {name!r} of the layout cannot name a zarr array.")
    return dict(layout)


# -- creating and reading ------------------------------------------------------------------------------


def _array_entry(name: str, aspec: Any, n: int, per_chunk: int) -> dict[str, Any]:
    shape = tuple(int(s) for s in aspec.shape)
    dims = tuple(str(d) for d in aspec.dims)
    if len(dims) != len(shape):
        raise StoreError(f"layout array {name!r}: {len(dims)} dims {dims} for a shape {shape} of {len(shape)} axes.")
    return {
        "shape": [n, *shape],
        "chunks": [per_chunk, *shape],
        "dtype": str(np.dtype(aspec.dtype)),
        "dims": [SAMPLE_DIM, *dims],
    }


def new_manifest(spec: Any, n: int, seed: int) -> dict[str, Any]:
    """The manifest of a store about to be created (every chunk "missing")."""
    from .synth import SYNTHESIS_VERSION

    per_chunk = int(spec.samples_per_chunk)
    n_chunks = chunk_count(n, per_chunk)
    layout = _layout(spec)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "synthesis_version": SYNTHESIS_VERSION,
        "spec": spec.to_dict(),
        "spec_fingerprint": spec.fingerprint(),
        "seed": seed,
        "n": n,
        "samples_per_chunk": per_chunk,
        "n_chunks": n_chunks,
        "arrays": {name: _array_entry(name, a, n, per_chunk) for name, a in layout.items()},
        "versions": versions(),
        "created": _now(),
        "updated": _now(),
        "complete": False,
        "chunks_done": 0,
        "runs": [],
        "chunks": [_missing(k, per_chunk, n) for k in range(n_chunks)],
    }


def _missing(k: int, per_chunk: int, n: int) -> dict[str, Any]:
    return {"index": k, "samples": list(chunk_bounds(k, per_chunk, n)), "status": "missing"}


def create_store(out: Path, spec: Any, n: int, seed: int) -> dict[str, Any]:
    """Create an empty store at ``out`` (absent or an empty folder) and return its manifest.

    The store is built in a temporary folder beside ``out`` and renamed into place, so ``out`` is
    either a whole store or untouched.
    """
    import zarr
    from zarr.codecs import BloscCodec

    out = Path(out)
    manifest = new_manifest(spec, n, seed)
    layout = _layout(spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(out)
    try:
        group = zarr.open_group(
            str(staging),
            mode="w",
            zarr_format=3,
            attributes={
                "stemtwin_format": FORMAT,
                "stemtwin_format_version": FORMAT_VERSION,
                "stemtwin_spec_fingerprint": manifest["spec_fingerprint"],
                "stemtwin_seed": seed,
                "stemtwin_n": n,
                "stemtwin_samples_per_chunk": manifest["samples_per_chunk"],
            },
        )
        for name, aspec in layout.items():
            entry = manifest["arrays"][name]
            group.create_array(
                name,
                shape=tuple(entry["shape"]),
                chunks=tuple(entry["chunks"]),
                dtype=entry["dtype"],
                dimension_names=tuple(entry["dims"]),
                attributes=_json_attrs(dict(aspec.attrs), name),
                compressors=[BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle")],
                chunk_key_encoding={"name": "default", "separator": CHUNK_KEY_SEPARATOR},
            )
        # ``.stemtwin`` is an (empty) zarr group, so that zarr and xarray listing the store's members
        # see a valid node rather than warning about an unknown folder.
        group.create_group(MARKERS.parts[0], attributes={"stemtwin_format": FORMAT, "about": "stemtwin bookkeeping: chunk markers"})
        (staging / MARKERS).mkdir(parents=True)
        atomic_write_json(staging / MANIFEST, manifest)
        if out.exists():
            out.rmdir()  # an empty folder (checked by the caller)
        os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _json_attrs(attrs: Mapping[str, Any], name: str) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    out = plain(attrs)
    try:
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise StoreError(f"layout array {name!r}: its attrs cannot be stored as JSON ({err}).") from None
    return out


def is_store(path: Path) -> bool:
    """Whether ``path`` holds a stemtwin data-set manifest."""
    try:
        read_manifest(path)
    except StoreError:
        return False
    return True


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the store at ``path``; :class:`StoreError` if it is not a stemtwin store."""
    path = Path(path)
    file = path / MANIFEST
    if not path.is_dir():
        raise StoreError(f"{str(path)!r} is not a stemtwin data-set store: it is not a folder.")
    try:
        manifest = json.loads(file.read_text())
    except FileNotFoundError:
        raise StoreError(f"{str(path)!r} is not a stemtwin data-set store: it has no {MANIFEST}.") from None
    except (OSError, ValueError) as err:
        raise StoreError(f"{str(path)!r}: {MANIFEST} cannot be read ({err}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StoreError(f"{str(path)!r} is not a stemtwin data-set store: {MANIFEST} has no format {FORMAT!r}.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise StoreError(
            f"{str(path)!r} is a stemtwin store of format version {manifest.get('format_version')!r}; "
            f"this stemtwin reads version {FORMAT_VERSION}."
        )
    for key in ("spec_fingerprint", "seed", "n", "samples_per_chunk", "n_chunks", "arrays", "chunks"):
        if key not in manifest:
            raise StoreError(f"{str(path)!r}: {MANIFEST} lacks {key!r}; the store is damaged.")
    return manifest


# -- chunks ------------------------------------------------------------------------------------------


def _peak_rss_bytes() -> int | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) * (1 if sys.platform == "darwin" else 1024)


def write_chunk(
    out: Path, spec: Any, seed: int, k: int, n: int, *, before_marker: Callable[[], None] | None = None
) -> dict[str, Any]:
    """Compute chunk ``k`` and write it into the store ``out``; return its marker (small dict).

    Every array region is written first, the marker ``.stemtwin/chunks/<k>.json`` last and
    atomically, so a crash at any point leaves either a complete chunk with its marker or no marker.
    ``before_marker`` (tests) is called between the two, e.g. to kill the process there.
    """
    from .synth import generate_chunk

    t0 = time.perf_counter()
    out = Path(out)
    layout = _layout(spec)
    per_chunk = int(spec.samples_per_chunk)
    start, stop = chunk_bounds(k, per_chunk, n)
    data = generate_chunk(spec, seed, k, n)
    missing = sorted(set(layout) - set(data))
    extra = sorted(set(data) - set(layout))
    if missing or extra:
        raise StoreError(f"chunk {k}: generate_chunk returned arrays {sorted(data)}; the layout has {sorted(layout)}.")
    sums: dict[str, str] = {}
    _write_regions(_writable_arrays(out, layout), layout, data, k, start, stop, sums)
    if before_marker is not None:
        before_marker()
    marker = {
        "index": k,
        "samples": [start, stop],
        "spec_fingerprint": spec.fingerprint(),
        "seed": seed,
        "sha256": sums,
        "written": _now(),
        # provenance only (not part of the data): which process computed the chunk, and its cost
        "worker": {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "seconds": round(time.perf_counter() - t0, 4),
            "peak_rss_bytes": _peak_rss_bytes(),
        },
    }
    atomic_write_json(out / MARKERS / f"{k}.json", marker)
    return marker


#: Arrays of recently written stores, opened for writing, per process: key (store path, inode and
#: modification time of its zarr.json), so a store deleted and made again is opened again.
_OPENED: OrderedDict[tuple[str, int, int], dict[str, Callable[[int, int, np.ndarray], None]]] = OrderedDict()
_OPENED_SIZE = 4


def _writable_arrays(out: Path, layout: Mapping[str, Any]) -> dict[str, Callable[[int, int, np.ndarray], None]]:
    """Writers of the store's arrays (:func:`.chunk_files.chunk_writer`; opening an array reads and
    parses its metadata, ~0.5 ms).

    Every chunk is stored, even one equal to the fill value, so that a chunk's file exists exactly
    when it was written: ``write_empty_chunks`` is a run-time setting that an array takes when it is
    opened, not part of its metadata.
    """
    import zarr

    info = (out / "zarr.json").stat()
    key = (str(out.resolve()), info.st_ino, info.st_mtime_ns)
    arrays = _OPENED.get(key)
    if arrays is None or set(arrays) != set(layout):
        with zarr.config.set({"array.write_empty_chunks": True}):
            group = zarr.open_group(str(out), mode="r+", zarr_format=3)
            arrays = {name: chunk_writer(group[name], out / name) for name in layout}
        _OPENED[key] = arrays
        while len(_OPENED) > _OPENED_SIZE:
            _OPENED.popitem(last=False)
    _OPENED.move_to_end(key)
    return arrays


def _write_regions(
    writers: Mapping[str, Callable[[int, int, np.ndarray], None]], layout: Mapping[str, Any], data: Mapping[str, Any], k: int, start: int, stop: int, sums: dict[str, str]
) -> None:
    for name, aspec in layout.items():
        arr = np.asarray(data[name])
        want = (stop - start, *tuple(int(s) for s in aspec.shape))
        if arr.shape != want:
            raise StoreError(f"chunk {k}: array {name!r} has shape {arr.shape}; the layout wants {want}.")
        dtype = np.dtype(aspec.dtype)
        if arr.dtype != dtype:
            if not np.can_cast(arr.dtype, dtype, casting="same_kind"):
                raise StoreError(f"chunk {k}: array {name!r} has dtype {arr.dtype}; the layout wants {dtype}.")
            arr = arr.astype(dtype)
        arr = np.ascontiguousarray(arr)
        writers[name](start, stop, arr)
        sums[name] = checksum(arr)


def _valid_marker(out: Path, manifest: Mapping[str, Any], k: int, marker: Any, separators: Mapping[str, str]) -> bool:
    """Cheap check: the marker is whole, about this store and chunk, and every chunk file exists
    (``separators``: :func:`_chunk_separators`)."""
    if not isinstance(marker, dict):
        return False
    start, stop = chunk_bounds(k, manifest["samples_per_chunk"], manifest["n"])
    sums = marker.get("sha256")
    if (
        marker.get("index") != k
        or marker.get("samples") != [start, stop]
        or marker.get("spec_fingerprint") != manifest["spec_fingerprint"]
        or marker.get("seed") != manifest["seed"]
        or not isinstance(sums, dict)
        or set(sums) != set(manifest["arrays"])
    ):
        return False
    for name, entry in manifest["arrays"].items():
        key = out / name / _chunk_key(k, len(entry["shape"]) - 1, separators[name])
        try:
            if key.stat().st_size == 0:
                return False
        except OSError:
            return False
    return True


def read_markers(out: Path, manifest: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """The valid markers of the store, by chunk index (a marker that fails the cheap check is ignored)."""
    out = Path(out)
    found: dict[int, dict[str, Any]] = {}
    folder = out / MARKERS
    if not folder.is_dir():
        return found
    separators = _chunk_separators(out, manifest["arrays"])
    for entry in os.scandir(folder):
        stem, dot, ext = entry.name.partition(".")
        if ext != "json" or not stem.isdigit():
            continue  # temporary files of an interrupted write, and anything else
        k = int(stem)
        if not 0 <= k < manifest["n_chunks"]:
            continue
        try:
            with open(entry.path, "rb") as handle:
                marker = json.loads(handle.read())
        except (OSError, ValueError):
            continue
        if _valid_marker(out, manifest, k, marker, separators):
            found[k] = marker
    return found


def refresh_manifest(out: Path, manifest: dict[str, Any], markers: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """Set the per-chunk status of ``manifest`` from ``markers`` and write it atomically."""
    per_chunk, n = manifest["samples_per_chunk"], manifest["n"]
    chunks = []
    for k in range(manifest["n_chunks"]):
        marker = markers.get(k)
        if marker is None:
            chunks.append(_missing(k, per_chunk, n))
        else:
            chunks.append({"index": k, "samples": list(marker["samples"]), "status": "done", "sha256": dict(marker["sha256"])})
    manifest["chunks"] = chunks
    manifest["chunks_done"] = len(markers)
    manifest["complete"] = len(markers) == manifest["n_chunks"]
    manifest["updated"] = _now()
    atomic_write_json(Path(out) / MANIFEST, manifest)
    return manifest


def verify_store(out: Path, *, chunks: list[int] | None = None) -> dict[int, list[str]]:
    """Read chunks back and compare them with their markers' checksums.

    Returns ``{k: [problems]}`` for every chunk that is missing or whose stored bytes differ from
    its marker (empty when the store is complete and intact). Reads every chunk: use on demand.
    """
    import zarr

    out = Path(out)
    manifest = read_manifest(out)
    markers = read_markers(out, manifest)
    group = zarr.open_group(str(out), mode="r", zarr_format=3)
    problems: dict[int, list[str]] = {}
    for k in chunks if chunks is not None else range(manifest["n_chunks"]):
        marker = markers.get(k)
        if marker is None:
            problems[k] = ["no valid marker"]
            continue
        start, stop = marker["samples"]
        for name, entry in manifest["arrays"].items():
            arr = group[name][start:stop]
            if str(arr.dtype) != entry["dtype"] or checksum(arr) != marker["sha256"][name]:
                problems.setdefault(k, []).append(f"{name}: stored bytes differ from the marker's checksum")
    return problems
