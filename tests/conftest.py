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


def _pbtio3_slab(u_of_column, nz: int = 2, ny: int = 2):  # noqa: ANN001, ANN202
    """A PbTiO3 slab (a = 3.90 Å, c = 4.15 Å) of nz cells along the beam, viewed along [001]; every Ti
    in column x is off-centre by u[x] along c, recorded in ``atom_labels["off_centring"]``
    (no label when ``u_of_column`` is None)."""
    import ase
    import numpy as np

    from stemtwin.twin import Sample

    a, c = 3.9, 4.15
    nx = 2 if u_of_column is None else len(u_of_column)
    pos, sym, cls, off = [], [], [], []
    for i in range(nx):
        u = 0.0 if u_of_column is None else u_of_column[i]
        for j in range(ny):
            for k in range(nz):
                o = np.array([i * a, j * a, k * c])
                cell = (
                    ((0, 0, 0), "Pb", 0),
                    ((a / 2, a / 2, c / 2 + u), "Ti", 1),
                    ((a / 2, a / 2, 0), "O", 2),
                    ((a / 2, 0, c / 2), "O", 3),
                    ((0, a / 2, c / 2), "O", 3),
                )
                for p, el, cl in cell:
                    pos.append(o + p)
                    sym.append(el)
                    cls.append(cl)
                    off.append(u if el == "Ti" else 0.0)
    atoms = ase.Atoms(sym, positions=pos, cell=[nx * a, ny * a, nz * c], pbc=True)
    labels = {} if u_of_column is None else {"off_centring": np.array(off)}
    return Sample(atoms, np.array(cls), ("Pb", "Ti", "O_apical", "O_equatorial"), np.full(len(atoms), -1),
                  name="pbtio3", atom_labels=labels)


@pytest.fixture(scope="session")
def pbtio3_slab():  # noqa: ANN201
    """The PbTiO3 column-slab builder shared by the EELS tests: ``pbtio3_slab(u_of_column, nz=2, ny=2)``."""
    return _pbtio3_slab
