"""On-disk cache for precomputed physics, keyed by a hash of everything the result depends on.

The cache lives in the user cache folder (``platformdirs``), or in ``$STEMTWIN_CACHE_DIR`` when
that is set. Entries are written atomically (a temporary file, then ``os.replace``), so an
interrupted run never leaves a half-written entry. Arrays are stored as ``.npy`` and loaded with
``allow_pickle=False``; records as JSON. Nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import platformdirs

from .files import atomic_write, atomic_write_bytes

__all__ = ["cache_dir", "cache_key", "cached_array", "cached_json"]


def cache_dir() -> Path:
    """The cache folder: ``$STEMTWIN_CACHE_DIR`` or the platform's user cache folder for stemtwin."""
    root = os.environ.get("STEMTWIN_CACHE_DIR") or platformdirs.user_cache_dir("stemtwin")
    return Path(root)


def cache_key(kind: str, parameters: Mapping[str, Any]) -> str:
    """A stable hex key for ``kind`` and a JSON-serialisable mapping of parameters."""
    blob = json.dumps({"kind": kind, **parameters}, sort_keys=True, default=str)
    return f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:24]}"


def cached_array(key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Return the array stored under ``key``, computing and storing it on a miss."""
    path = cache_dir() / f"{key}.npy"
    if path.is_file():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            path.unlink(missing_ok=True)  # a corrupt entry is recomputed
    array = np.asarray(compute())
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda fh: np.save(fh, array, allow_pickle=False))
    return array


def cached_json(key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Return the JSON record stored under ``key``, computing and storing it on a miss."""
    path = cache_dir() / f"{key}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    record = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(record, indent=1, sort_keys=True).encode())
    return record
