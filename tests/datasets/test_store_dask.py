"""`generate` on Dask: 1 and 2 workers give the serial run's bytes; an interrupted Dask run resumes
byte for byte; a worker killed between a chunk's data and its marker is replaced and the chunk redone.

One 2-worker cluster started here serves the runs through ``scheduler=`` (the existing-cluster
path); ``workers=1`` exercises the default local cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import zarr

from stemtwin.twin.datasets import store as st
from stemtwin.twin.datasets.generate import TASKS_PER_THREAD, InjectedFault, generate
from stemtwin.twin.datasets.spec import parse_spec

N = 30  # eight chunks of 4, the last of 2
N_CHUNKS = 8
SEED = 3
WINDOW = 2 * TASKS_PER_THREAD  # chunks in flight at once on the 2-worker, 1-thread cluster


def tiny_spec():
    return parse_spec(
        {
            "dataset": {"name": "tiny-haadf", "samples_per_chunk": 4},
            "sample": {"family": "graphene", "frames_per_structure": 2, "params": {"extent": [14.0, 14.0]}},
            "instrument": {"engine": "fast", "modality": "haadf", "pixels": 16, "fov": 7.0, "dose": [1e4, 1e5], "distortion": [0.0, 1.0]},
            "labels": {"store": ["atoms", "masks"]},
        }
    )


def _arrays(path: Path) -> dict[str, np.ndarray]:
    group = zarr.open_group(str(path), mode="r", zarr_format=3)
    return {name: group[name][...] for name in st.read_manifest(path)["arrays"]}


def _same(a: Path, b: Path) -> None:
    ma, mb = st.read_manifest(a), st.read_manifest(b)
    assert mb["complete"]
    assert [c["sha256"] for c in ma["chunks"]] == [c["sha256"] for c in mb["chunks"]]
    xa, xb = _arrays(a), _arrays(b)
    for name in xa:
        assert xa[name].dtype == xb[name].dtype and np.array_equal(xa[name], xb[name], equal_nan=True), name
    # the chunk files themselves are byte-identical (flat keys c.<k>.0.0, one file per array and chunk)
    files = sorted(f for name in ma["arrays"] for f in (a / name).glob("c.*"))
    assert len(files) == len(ma["arrays"]) * ma["n_chunks"]
    for f in files:
        assert f.read_bytes() == (b / f.relative_to(a)).read_bytes(), f


@pytest.fixture(scope="module")
def spec():
    return tiny_spec()


@pytest.fixture(scope="module")
def serial(tmp_path_factory, spec) -> Path:
    return generate(spec, N, tmp_path_factory.mktemp("serial") / "s.zarr", seed=SEED, workers=0, progress=False)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40) as c:
        yield c.scheduler_address


def test_one_local_worker_matches_serial(serial: Path, spec, tmp_path: Path) -> None:
    out = generate(spec, N, tmp_path / "one.zarr", seed=SEED, workers=1, progress=False)
    _same(serial, out)
    man = st.read_manifest(out)
    assert man["runs"][-1]["mode"] == "local cluster, 1 workers"
    pids = {m["worker"]["pid"] for m in st.read_markers(out, man).values()}
    assert len(pids) == 1  # one worker process computed every chunk


def test_two_workers_interrupted_then_resumed_match_serial(serial: Path, spec, cluster: str, tmp_path: Path) -> None:
    out = tmp_path / "two.zarr"
    with pytest.raises(InjectedFault):
        generate(spec, N, out, seed=SEED, scheduler=cluster, progress=False, fault_after=1)
    man = st.read_manifest(out)
    assert man["n_chunks"] == N_CHUNKS and 1 <= man["chunks_done"] < N_CHUNKS and man["runs"][-1]["status"] == "interrupted"
    assert not (out / ".stemtwin" / "lock").exists()
    # Tasks already running when the run stopped may still finish (and write their markers) before
    # or while the resume runs: both write the same bytes, so the result is the same either way. Only
    # the first WINDOW chunks were ever submitted, so at least N_CHUNKS - WINDOW are left to the resume.
    generate(spec, N, out, seed=SEED, scheduler=cluster, progress=False, resume=True)
    resumed = st.read_manifest(out)["runs"][-1]
    assert resumed["status"] == "complete" and resumed["resume"]
    assert N_CHUNKS - WINDOW <= resumed["chunks_computed"] == resumed["chunks_todo"] <= N_CHUNKS - man["chunks_done"]
    _same(serial, out)


def test_a_worker_killed_mid_chunk_is_replaced_and_the_chunk_redone(serial: Path, spec, cluster: str, tmp_path: Path) -> None:
    import os

    from distributed import Client

    sentinels = tmp_path / "crash"
    sentinels.mkdir()
    for k in set(range(N_CHUNKS)) - {1}:  # only chunk 1's first attempt dies (after its data, before its marker)
        (sentinels / str(k)).touch()
    with Client(cluster) as client:
        before = set(client.run(os.getpid).values())
        out = generate(spec, N, tmp_path / "crash.zarr", seed=SEED, scheduler=cluster, progress=False, _crash_once=sentinels)
        client.wait_for_workers(2, timeout=30)
        after = set(client.run(os.getpid).values())
    assert (sentinels / "1").exists() and len(after) == 2 and len(before & after) == 1  # one worker died and was replaced
    _same(serial, out)
    assert st.read_manifest(out)["runs"][-1]["status"] == "complete"


def test_unreachable_scheduler_is_a_clear_error_and_writes_nothing(spec, tmp_path: Path, monkeypatch) -> None:
    from stemtwin.twin import parallel
    from stemtwin.twin.errors import ConfigurationError

    monkeypatch.setattr(parallel, "SCHEDULER_TIMEOUT", "1s")
    with pytest.raises(ConfigurationError, match="--scheduler: cannot reach the Dask scheduler"):
        generate(spec, 4, tmp_path / "x.zarr", seed=SEED, scheduler="tcp://127.0.0.1:1", progress=False)
    assert list(tmp_path.iterdir()) == []
