"""Generate a data set into a zarr store, chunk by chunk, in this process or on a Dask cluster.

:func:`generate` is the engine of ``stemtwin generate``. The samples are split into chunks of
``spec.samples_per_chunk``; each chunk is one task that computes its samples
(:func:`~stemtwin.twin.datasets.synth.generate_chunk`, a pure function of spec, seed, chunk index
and n), writes them into the store and then writes the chunk's completion marker
(:mod:`~stemtwin.twin.datasets.store`). Tasks return only their small marker, never the data, and at
most two tasks per worker thread are in flight, so memory stays bounded whatever ``n``.

Fault model
-----------
* A chunk is complete exactly when its marker exists: the marker is written after every array
  region of the chunk, atomically. A worker killed mid-chunk leaves no marker.
* On a Dask cluster a task whose worker dies is rescheduled by Dask, and a task that raises is
  retried twice (``retries=2``); a chunk is a pure function of its inputs, so a second computation
  writes the same bytes.
* ``resume=True`` recomputes exactly the chunks without a valid marker (a marker that is not whole,
  names another spec, seed or sample range, or whose chunk files are missing, is not valid;
  ``verify=True`` also re-reads every chunk and checks its bytes against the marker's sha256). The
  result is byte-identical to an uninterrupted run: no sample is lost or duplicated.
* ``manifest.json`` is refreshed from the markers by the coordinator every few seconds and at the
  end, also when the run fails or is interrupted.
* A lock file (``.stemtwin/lock``) keeps two runs from writing to one store at once.

On a multi-machine cluster (``scheduler="tcp://host:8786"``) the workers write straight to ``out``,
so ``out`` must be on a file system that every worker sees at the same path (NFS, Lustre, ...).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..parallel import dask_client
from . import store as _store

__all__ = ["InjectedFault", "generate"]

#: Seconds between two refreshes of manifest.json during a run.
MANIFEST_INTERVAL_S = 5.0
#: Chunk tasks kept in flight per Dask worker thread (one running, one queued behind it).
TASKS_PER_THREAD = 2
#: The lock file (relative to the store) held by the one run writing a store.
LOCK = Path(".stemtwin") / "lock"


class InjectedFault(RuntimeError):
    """Internal, for tests only: raised by ``generate(..., fault_after=k)`` once k chunks are done.

    It simulates an interruption of the coordinator (the markers of the finished chunks are on
    disk, the others are missing), so that tests can check that ``resume=True`` completes the
    store byte for byte. Not part of the user-facing API and not a :class:`TwinError`.
    """


# -- checks -----------------------------------------------------------------------------------------


def _as_spec(spec: Any) -> Any:
    from .spec import DatasetSpec, load_spec

    if isinstance(spec, DatasetSpec):
        return spec
    if isinstance(spec, (str, os.PathLike)):
        return load_spec(spec)
    raise ConfigurationError(f"spec: expected a DatasetSpec or the path of a spec file, got {type(spec).__name__}.")


def _int(option: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigurationError(f"{option}: expected an integer >= {low}, got {value!r}.")
    return value


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: obj}


def _check_same(out: Path, manifest: Mapping[str, Any], spec: Any, n: int, seed: int) -> None:
    """Refuse to resume ``out`` with another spec, n or seed; name what differs."""
    from .spec import DatasetSpecError

    where = f"--resume: the store {str(out)!r}"
    if manifest["spec_fingerprint"] != spec.fingerprint():
        old, new = _flatten(manifest.get("spec", {})), _flatten(spec.to_dict())
        diffs = [k for k in sorted(set(old) | set(new)) if old.get(k, "<absent>") != new.get(k, "<absent>")]
        listing = "; ".join(f"{k}: store {old.get(k, '<absent>')!r}, now {new.get(k, '<absent>')!r}" for k in diffs[:8])
        more = f" (and {len(diffs) - 8} more)" if len(diffs) > 8 else ""
        raise DatasetSpecError(
            f"{where} was made from another spec (fingerprint {manifest['spec_fingerprint'][:12]}…, "
            f"this spec {spec.fingerprint()[:12]}…)" + (f"; it differs in {listing}{more}" if diffs else "")
            + ". Resume with the store's spec, or write a new store."
        )
    from .synth import SYNTHESIS_VERSION

    written_by = manifest.get("synthesis_version", 1)  # stores from before the field: version 1
    if written_by != SYNTHESIS_VERSION:
        raise DatasetSpecError(
            f"{where} was written by synthesis version {written_by!r}; this stemtwin synthesizes version "
            f"{SYNTHESIS_VERSION}, whose chunks differ. Finish the store with the stemtwin that began it, or write a new store."
        )
    if manifest["n"] != n:
        raise DatasetSpecError(f"{where} holds --n {manifest['n']} samples; this run asks for --n {n}. Resume with --n {manifest['n']}.")
    if manifest["seed"] != seed:
        raise DatasetSpecError(f"{where} was made with --seed {manifest['seed']}; this run asks for --seed {seed}. Resume with --seed {manifest['seed']}.")


# -- lock -------------------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold ``out/.stemtwin/lock`` for the run; a stale lock of a dead process on this host is taken over."""
    path = out / LOCK
    me = f"{socket.gethostname()} {os.getpid()}\n"
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            try:
                host, pid = path.read_text().split()
                stale = host == socket.gethostname() and not _pid_alive(int(pid))
            except (OSError, ValueError):
                host, pid, stale = "?", "?", False
            if not stale:
                raise _store.StoreError(
                    f"the store {str(out)!r} is being written by another run (process {pid} on {host}); "
                    f"wait for it to end, or delete {str(path)!r} if no run is active."
                ) from None
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(me)
        break
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


# -- the task ---------------------------------------------------------------------------------------


def chunk_task(out: str, spec: Any, seed: int, k: int, n: int, crash_once: str | None = None) -> dict[str, Any]:
    """Compute and write chunk ``k`` with one BLAS/OpenMP thread; return its marker (a small dict).

    The marker records which process computed the chunk (``worker``: host, pid, seconds, peak RSS).
    ``crash_once`` (tests only): a folder; the first attempt at each chunk (no file ``<k>`` there
    yet) kills its own process with ``os._exit`` after writing the data, before the marker.
    """
    from threadpoolctl import threadpool_limits

    hook = None
    if crash_once is not None:
        sentinel = Path(crash_once) / str(k)
        if not sentinel.exists():
            sentinel.touch()
            hook = _die
    with threadpool_limits(limits=1):
        return _store.write_chunk(Path(out), spec, seed, k, n, before_marker=hook)


def _die() -> None:
    os._exit(17)


# -- progress ---------------------------------------------------------------------------------------


class _Progress:
    """A tqdm bar over samples on a terminal; otherwise a line on stderr every few chunks."""

    def __init__(self, total: int, done: int, todo_chunks: int, enabled: bool) -> None:
        self.enabled = enabled
        self.total, self.done, self.run_samples = total, done, 0
        self.todo_chunks, self.chunks = todo_chunks, 0
        self.bar = None
        self.t0 = self._last_line = time.perf_counter()
        self.every = max(1, todo_chunks // 10)
        if enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=done, desc="generate", unit="sample", dynamic_ncols=True)

    def add(self, samples: int) -> None:
        self.done += samples
        self.run_samples += samples
        self.chunks += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(samples)
            return
        now = time.perf_counter()
        if self.chunks == self.todo_chunks or self.chunks % self.every == 0 or now - self._last_line > 30:
            self._last_line = now
            elapsed = now - self.t0
            print(
                f"generate: {self.chunks}/{self.todo_chunks} chunks, {self.done}/{self.total} samples, "
                f"{elapsed:.1f} s ({self.run_samples / max(elapsed, 1e-9):.3g} samples/s)",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# -- the coordinator --------------------------------------------------------------------------------


def generate(
    spec: Any,
    n: int,
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    resume: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    fault_after: int | None = None,
    verify: bool = False,
    _crash_once: str | os.PathLike[str] | None = None,
) -> Path:
    """Generate ``n`` samples of ``spec`` into the zarr store ``out`` and return its path.

    Parameters
    ----------
    spec
        A :class:`~stemtwin.twin.datasets.spec.DatasetSpec`, or the path of a spec file.
    n
        Number of samples (>= 1).
    out
        The store, a folder (by convention ``NAME.zarr``). It must not exist or be empty, unless
        ``resume``.
    seed
        Base seed; sample streams are derived from it (the same seed gives the same bytes).
    resume
        Complete an existing store made by an interrupted run with the same spec, ``n`` and ``seed``
        (otherwise refused, naming what differs): only chunks without a valid marker are computed.
    workers
        Processes of a local Dask cluster (one thread each); None: one per core; 0: no Dask, the
        chunks are computed one after another in this process. Ignored with ``scheduler``.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``). Its workers write to ``out``
        directly, so ``out`` must be on a file system shared by every worker, at the same path.
    progress
        A progress bar on stderr (a tqdm bar on a terminal, otherwise a line every few chunks).
    fault_after
        Internal, for tests: raise :class:`InjectedFault` once this many chunks have completed in
        this run (simulates an interrupted run).
    verify
        With ``resume``: also read every chunk that has a marker back and compare its bytes with the
        marker's checksums; chunks that differ are recomputed.
    _crash_once
        Internal, for tests, Dask mode only: a folder; the first attempt at each chunk kills its
        worker process after writing the chunk's data and before its marker (see :func:`chunk_task`).

    Returns
    -------
    Path
        ``out``, a complete store (:func:`stemtwin.twin.datasets.readers.open` reads it).

    Raises
    ------
    ConfigurationError
        Bad arguments, ``out`` non-empty without ``resume``, or ``resume`` on a folder that is not
        a stemtwin store (:class:`~stemtwin.twin.datasets.store.StoreError`).
    DatasetSpecError
        ``resume`` with a spec, ``n`` or ``seed`` other than the store's.
    """
    spec = _as_spec(spec)
    n = _int("--n", n, 1)
    seed = _int("--seed", seed, 0)
    if workers is not None:
        workers = _int("--workers", workers, 0)
    if fault_after is not None:
        fault_after = _int("fault_after", fault_after, 0)
    if _crash_once is not None and (workers == 0 and scheduler is None):
        raise ConfigurationError("_crash_once needs Dask workers (it kills the process that computes a chunk).")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ConfigurationError(f"--scheduler: expected an address such as 'tcp://host:8786', got {scheduler!r}.")
    out = Path(out)

    serial = scheduler is None and workers == 0
    if resume:
        manifest = _store.read_manifest(out)  # StoreError when not a store: nothing is touched
        _check_same(out, manifest, spec, n, seed)
        need_workers = verify or len(_store.read_markers(out, manifest)) < manifest["n_chunks"]
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigurationError(
            f"--out: {str(out)!r} already exists and is not empty; choose a new path, delete it, "
            "or pass --resume to complete a store left by an interrupted run."
        )
    else:
        need_workers = True
    with contextlib.ExitStack() as stack:
        # The cluster first: a scheduler that cannot be reached leaves nothing behind.
        client = stack.enter_context(dask_client(workers, scheduler)) if need_workers and not serial else None
        if not resume:
            manifest = _store.create_store(out, spec, n, seed)
        stack.enter_context(_locked(out))
        _run(out, spec, n, seed, manifest, resume=resume, verify=verify, client=client, mode=_mode(workers, scheduler),
             progress=progress, fault_after=fault_after, crash_once=None if _crash_once is None else str(_crash_once))
    if not manifest["complete"]:  # pragma: no cover - every todo chunk returned a marker
        raise _store.StoreError(f"{str(out)!r}: {manifest['n_chunks'] - manifest['chunks_done']} chunk(s) are still missing; run again with --resume.")
    return out


def _mode(workers: int | None, scheduler: str | None) -> str:
    if scheduler is not None:
        return f"scheduler {scheduler}"
    if workers == 0:
        return "serial"
    return f"local cluster, {workers if workers is not None else max(1, os.cpu_count() or 1)} workers"


def _run(
    out: Path,
    spec: Any,
    n: int,
    seed: int,
    manifest: dict[str, Any],
    *,
    resume: bool,
    verify: bool,
    client: Any,
    mode: str,
    progress: bool,
    fault_after: int | None,
    crash_once: str | None,
) -> None:
    """Compute the chunks of the (locked) store ``out`` that have no valid marker."""
    markers = _store.read_markers(out, manifest)
    if resume and verify and markers:
        for k in _store.verify_store(out, chunks=sorted(markers)):
            markers.pop(k, None)
            (out / _store.MARKERS / f"{k}.json").unlink(missing_ok=True)
    todo = [k for k in range(manifest["n_chunks"]) if k not in markers]
    run: dict[str, Any] = {
        "started": _store._now(),
        "finished": None,
        "status": "running",
        "mode": mode,
        "resume": bool(resume),
        "chunks_todo": len(todo),
        "chunks_computed": 0,
        "samples_computed": 0,
        "versions": _store.versions(),
    }
    manifest.setdefault("runs", []).append(run)
    _store.refresh_manifest(out, manifest, markers)
    bar = _Progress(n, sum(m["samples"][1] - m["samples"][0] for m in markers.values()), len(todo), progress)
    last_refresh = time.monotonic()

    def done(marker: dict[str, Any]) -> None:
        nonlocal last_refresh
        markers[marker["index"]] = marker
        run["chunks_computed"] += 1
        run["samples_computed"] += marker["samples"][1] - marker["samples"][0]
        bar.add(marker["samples"][1] - marker["samples"][0])
        if time.monotonic() - last_refresh > MANIFEST_INTERVAL_S:
            _store.refresh_manifest(out, manifest, markers)
            last_refresh = time.monotonic()
        if fault_after is not None and run["chunks_computed"] >= fault_after:
            raise InjectedFault(f"injected fault after {run['chunks_computed']} chunk(s)")

    try:
        if fault_after == 0:
            raise InjectedFault("injected fault before the first chunk")
        if todo and client is None:
            for k in todo:
                done(chunk_task(str(out), spec, seed, k, n))
        elif todo:
            _on_dask(client, out, spec, seed, n, todo, done, crash_once)
        run["status"] = "complete"
    except BaseException as err:
        run["status"] = "interrupted" if isinstance(err, (KeyboardInterrupt, InjectedFault)) else f"failed: {type(err).__name__}"
        raise
    finally:
        bar.close()
        run["finished"] = _store._now()
        # Markers are the truth: re-read them, so chunks finished by tasks whose results never
        # reached this process (cancelled at a failure) are counted too.
        _store.refresh_manifest(out, manifest, _store.read_markers(out, manifest))


def _on_dask(
    client: Any,
    out: Path,
    spec: Any,
    seed: int,
    n: int,
    todo: list[int],
    done: Callable[[dict[str, Any]], None],
    crash_once: str | None = None,
) -> None:
    """Run the chunks of ``todo`` on the cluster of ``client``, at most two per worker thread in flight.

    The tasks return only their marker; the data goes from the worker straight to the store.
    """
    from distributed import as_completed

    window = TASKS_PER_THREAD * max(1, sum(client.nthreads().values()))
    token = uuid.uuid4().hex[:8]
    pending = iter(todo)
    futures = as_completed()

    def submit_next() -> None:
        k = next(pending, None)
        if k is not None:
            futures.add(client.submit(chunk_task, str(out), spec, seed, k, n, crash_once, key=f"stemtwin-chunk-{token}-{k}", retries=2))

    for _ in range(window):
        submit_next()
    try:
        for future in futures:
            marker = future.result()
            future.release()
            done(marker)
            submit_next()
    except BaseException:
        client.cancel(list(futures.futures))
        raise
