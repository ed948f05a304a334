"""``stemtwin generate``: write a labelled synthetic data set to a zarr store.

::

    stemtwin generate SPEC --n N --out STORE.zarr [--seed 0] [--resume] [--workers N]
        [--scheduler tcp://host:8786] [--no-progress]

``SPEC`` is a dataset spec file (TOML) or the name of a shipped example
(:func:`stemtwin.twin.datasets.spec.list_examples`). The work is done by
:func:`stemtwin.twin.datasets.generate.generate`: chunks of ``samples_per_chunk`` samples, each
computed and written by one task of a local Dask cluster (``--workers``, default one per core; 0: in
this process) or of an existing one (``--scheduler``; the store must then be on a file system every
worker sees). ``--resume`` completes a store left by an interrupted run with the same spec, ``--n``
and ``--seed``. Errors are :class:`~stemtwin.twin.errors.TwinError`\\ s: one line, exit status 2.
Ctrl-C stops the run, says how much of the store is written, and exits with status 130; the chunks
written so far are kept, and ``--resume`` computes only the others.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from stemtwin.twin.errors import ConfigurationError

__all__ = ["EXIT_INTERRUPTED", "add_generate_parser", "run_generate"]

#: Exit status after Ctrl-C (128 + SIGINT, as a shell reports a process stopped by it).
EXIT_INTERRUPTED = 130


def add_generate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``generate`` sub-command to ``subparsers`` (from ``ArgumentParser.add_subparsers``)."""
    p = subparsers.add_parser(
        "generate",
        help="generate a labelled synthetic data set (zarr store) from a dataset spec, locally or on Dask",
        description=(
            "Generate N labelled samples of a dataset spec into a zarr store (arrays + manifest.json), "
            "chunk by chunk on a Dask cluster. An interrupted run is completed with --resume."
        ),
    )
    p.add_argument("spec", metavar="SPEC", help="dataset spec: a .toml file, or the name of a shipped example spec")
    p.add_argument("--n", type=int, required=True, metavar="N", help="number of samples")
    p.add_argument("--out", type=Path, required=True, metavar="STORE.zarr", help="the store to write (must not exist, or be empty, unless --resume)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="base seed: the same spec, N and seed give the same bytes (default: 0)")
    p.add_argument("--resume", action="store_true", help="complete a store left by an interrupted run (same spec, --n and --seed)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes of the local Dask cluster (default: one per core; 0: no Dask, in this process)")
    p.add_argument("--scheduler", metavar="ADDR", default=None,
                   help="address of an existing Dask scheduler (tcp://host:8786); the store must be on a file system shared by every worker")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar or progress lines on stderr")
    return p


def _interrupted(out: Path) -> str:
    """The line printed after Ctrl-C: what the run left in ``out`` and how to finish it."""
    from stemtwin.twin.datasets.store import StoreError, read_manifest

    try:
        manifest = read_manifest(out)
    except (StoreError, OSError):
        return "stemtwin generate: interrupted before the store was made; run the same command again."
    done = [c for c in manifest["chunks"] if c.get("status") == "done"]
    samples = sum(c["samples"][1] - c["samples"][0] for c in done)
    return (
        f"stemtwin generate: interrupted; {len(done)} of {manifest['n_chunks']} chunks ({samples} of {manifest['n']} "
        f"samples) are written to {str(out)!r}. Run the same command with --resume to finish."
    )


def run_generate(args: argparse.Namespace) -> int:
    """Run ``stemtwin generate`` with parsed ``args``; print a short summary; return 0 (130 after Ctrl-C)."""
    from stemtwin.twin.datasets.generate import generate
    from stemtwin.twin.datasets.spec import load_spec
    from stemtwin.twin.datasets.store import read_manifest

    if args.workers is not None and args.workers < 0:
        raise ConfigurationError(f"--workers: expected an integer >= 0 (0: no Dask, run in this process), got {args.workers}.")
    spec = load_spec(args.spec)
    t0 = time.perf_counter()
    try:
        out = generate(
            spec,
            args.n,
            args.out,
            seed=args.seed,
            resume=args.resume,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=args.progress,
        )
    except KeyboardInterrupt:
        print(_interrupted(args.out), file=sys.stderr)
        return EXIT_INTERRUPTED
    elapsed = time.perf_counter() - t0
    manifest = read_manifest(out)
    run = manifest["runs"][-1] if manifest.get("runs") else {}
    computed = int(run.get("chunks_computed", 0))
    new_samples = int(run.get("samples_computed", 0))
    per_chunk = manifest["samples_per_chunk"]
    rate = new_samples / elapsed if elapsed > 0 else float("inf")
    resumed = f", {manifest['n_chunks'] - computed} already done" if args.resume else ""
    print(
        f"wrote {out}: {manifest['n']} samples of {spec.name!r} in {manifest['n_chunks']} chunks of {per_chunk} "
        f"({computed} computed now{resumed}); {elapsed:.1f} s, {rate:.3g} samples/s"
    )
    return 0

