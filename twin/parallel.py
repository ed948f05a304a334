"""Dask clients for the project's fan-outs (benchmark runs, data generation).

Both fan-outs run single-threaded tasks in worker processes: a new ``LocalCluster`` on this machine by
default, or an existing cluster given by its scheduler address.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from .errors import ConfigurationError

__all__ = ["dask_client", "SCHEDULER_TIMEOUT"]

#: How long to wait for an existing scheduler to answer.
SCHEDULER_TIMEOUT = "10s"


@contextlib.contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``scheduler``, or of a new local cluster.

    Parameters
    ----------
    workers
        Processes of the local cluster, one thread each (None: one per core). Ignored with ``scheduler``.
    scheduler
        Address of an existing scheduler, e.g. ``tcp://host:8786``.

    Raises
    ------
    ConfigurationError
        The scheduler cannot be reached (the message names ``--scheduler``).
    """
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if scheduler is not None:
            try:
                client = stack.enter_context(Client(scheduler, timeout=SCHEDULER_TIMEOUT))
            except (OSError, TimeoutError, ValueError) as err:
                raise ConfigurationError(f"--scheduler: cannot reach the Dask scheduler at {scheduler!r}: {err}") from None
        else:
            count = workers if workers is not None else max(1, os.cpu_count() or 1)
            cluster = stack.enter_context(
                LocalCluster(n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40)
            )
            client = stack.enter_context(Client(cluster))
        yield client
