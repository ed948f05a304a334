"""Writing results safely: every file and folder appears whole, with the usual permissions, or not at all.

``tempfile`` creates private files (0600) and folders (0700); everything here gives them the modes a
plain ``open``/``mkdir`` would (0666/0777 less the umask) before they are renamed into place.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_path", "staging_folder", "replace_folder"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_path(out: Path, write: Callable[[Path], None], *, fsync: bool = False) -> Path:
    """Let ``write`` fill a temporary file beside ``out``, then rename it to ``out``.

    Parameters
    ----------
    out
        Destination; its folder must exist.
    write
        Writes the content to the path it is given (which keeps ``out``'s suffix).
    fsync
        Flush the file to disk before the rename (for completion markers and manifests that must
        survive a machine crash).

    Returns
    -------
    Path
        ``out``. A failure leaves neither a partial ``out`` nor the temporary file.
    """
    out = Path(out)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=out.suffix)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        write(Path(tmp))
        if fsync:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def atomic_write(out: Path, write: Callable[[IO[bytes]], None], *, fsync: bool = False) -> Path:
    """:func:`atomic_write_path` for a ``write`` that takes an open binary file."""

    def fill(path: Path) -> None:
        with open(path, "wb") as handle:
            write(handle)

    return atomic_write_path(out, fill, fsync=fsync)


def atomic_write_bytes(out: Path, data: bytes, *, fsync: bool = False) -> Path:
    """:func:`atomic_write_path` of a ``bytes`` object."""
    return atomic_write(out, lambda handle: handle.write(data), fsync=fsync)


def staging_folder(beside: Path, tag: str = "new") -> Path:
    """A new empty folder in the same folder as ``beside`` (so that renaming it there is atomic)."""
    beside = Path(beside)
    folder = Path(tempfile.mkdtemp(dir=beside.resolve().parent, prefix=f".{beside.name}.{tag}."))
    os.chmod(folder, 0o777 & ~_umask())
    return folder


def replace_folder(new: Path, out: Path) -> None:
    """Move the finished folder ``new`` to ``out``; an old ``out`` is set aside first and removed last."""
    old = None
    if out.exists():
        old = staging_folder(out, "old")
        old.rmdir()
        out.rename(old)
    new.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
