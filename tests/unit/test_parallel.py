"""Local Dask workers get malloc settings that keep large numpy arrays off mmap (a 2× speed matter)."""

from __future__ import annotations

import os

from stemtwin.twin.parallel import WORKER_MALLOC_ENV, dask_client


def _environ() -> dict[str, str | None]:
    return {key: os.environ.get(key) for key in WORKER_MALLOC_ENV}


def test_local_workers_raise_the_mmap_threshold_over_dasks_trim_setting() -> None:
    with dask_client(1, None) as client:
        (environ,) = client.run(_environ).values()
    assert environ == {key: str(value) for key, value in WORKER_MALLOC_ENV.items()}
    assert int(environ["MALLOC_MMAP_THRESHOLD_"]) >= 256 * 256 * 8 * 2  # two 256² float64 frames
