"""Shared test set-up: a private cache folder, and abTEM warmed once per process."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

# Keep the user's cache untouched and make every run start from the same state. Set before any
# stemtwin module reads it.
_CACHE = tempfile.TemporaryDirectory(prefix="stemtwin-test-cache-")
os.environ["STEMTWIN_CACHE_DIR"] = _CACHE.name
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def abtem_module() -> Iterator[object]:
    """abTEM imported and configured once per test process (the import costs seconds)."""
    from stemtwin.twin.signals.abtem_engine import import_abtem

    yield import_abtem()


@pytest.fixture(scope="session")
def small_graphene():
    """A 12 Å graphene cell with one 3-fold Si: small enough for abTEM to take seconds."""
    from stemtwin.twin import build_graphene

    return build_graphene((12.0, 12.0), n_si_3fold=1, rng=0)


@pytest.fixture(scope="session")
def defect_graphene():
    """A 30 Å graphene cell with 3-fold and 4-fold Si and vacancies."""
    from stemtwin.twin import build_graphene

    return build_graphene((30.0, 30.0), n_si_3fold=2, n_si_4fold=2, n_monovacancies=2, n_divacancies=1, rng=1)
