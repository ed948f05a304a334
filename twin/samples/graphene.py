"""Graphene with vacancies and Si dopants.

Geometry
--------
The lattice is graphene with a = 2.46 Å (C–C bond 1.42 Å) in a rectangular, periodic cell with
the zigzag direction along x. Defects are placed at random lattice sites at least
``min_separation`` apart, so each atom carries one unambiguous site class:

- *monovacancy*: one C removed; its three neighbours become ``C_vacancy_edge``.
- *divacancy*: two neighbouring C removed; their four remaining neighbours become ``C_vacancy_edge``.
- *3-fold Si* (substitutional): one C replaced by Si (``Si_3fold``), bonded to three ``C_bonded_Si``.
  The Si is buckled out of plane so that the Si–C bond is 1.77 Å *(est.; DFT bond length)*, as
  reported for 3-fold Si in graphene (Ramasse et al., Nano Lett. 13, 4989 (2013)).
- *4-fold Si*: Si at the centre of a divacancy (``Si_4fold``), planar, bonded to the four
  ``C_bonded_Si`` that surround it; the unrelaxed Si–C distance is 1.88 Å.

Relaxations of the surrounding lattice are neglected: they are below 0.1 Å, well under the probe
size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from ase import Atoms
from scipy.spatial import cKDTree

from ..errors import ConfigurationError
from ..rng import RNGLike, as_generator
from ..validation import require_int, require_non_negative, require_pair, require_positive
from .sample import Sample

__all__ = ["build_graphene", "GRAPHENE_SITE_CLASSES", "GRAPHENE_LATTICE_CONSTANT", "CC_BOND"]

#: Graphene lattice constant [Å].
GRAPHENE_LATTICE_CONSTANT = 2.46
#: C–C bond length [Å].
CC_BOND = GRAPHENE_LATTICE_CONSTANT / math.sqrt(3.0)
#: Si–C bond length of substitutional (3-fold) Si [Å] *(est.)*.
SI_C_BOND_3FOLD = 1.77

#: Site classes of the graphene builder, in index order.
GRAPHENE_SITE_CLASSES: tuple[str, ...] = (
    "C_pristine",
    "C_bonded_Si",
    "Si_3fold",
    "Si_4fold",
    "C_vacancy_edge",
)
_PRISTINE, _C_SI, _SI3, _SI4, _C_VAC = range(5)

_DEFECT_KINDS = ("si_4fold", "divacancy", "si_3fold", "monovacancy")


def _lattice(extent: tuple[float, float], height: float) -> Atoms:
    a = GRAPHENE_LATTICE_CONSTANT
    b = a * math.sqrt(3.0)
    nx = max(1, int(round(extent[0] / a)))
    ny = max(1, int(round(extent[1] / b)))
    basis = np.array([[0.0, 0.0], [a / 2, b / 6], [a / 2, b / 2], [0.0, 2 * b / 3]])
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    origins = np.stack([ix.ravel() * a, iy.ravel() * b], axis=1)
    xy = (origins[:, None, :] + basis[None, :, :]).reshape(-1, 2)
    positions = np.column_stack([xy, np.full(len(xy), height / 2)])
    return Atoms(numbers=np.full(len(xy), 6), positions=positions, cell=[nx * a, ny * b, height], pbc=True)


def _resolve_count(name: str, count: int | None, density: float | None, area_nm2: float) -> int:
    if count is not None and density is not None:
        raise ConfigurationError(f"Give either `n_{name}` or `{name}_density`, not both.")
    if density is not None:
        d = require_non_negative(f"{name}_density", density, "nm⁻²")
        return int(round(d * area_nm2))
    return require_int(f"n_{name}", 0 if count is None else count, minimum=0)


def build_graphene(
    extent: float | tuple[float, float] = (30.0, 30.0),
    *,
    n_monovacancies: int | None = None,
    n_divacancies: int | None = None,
    n_si_3fold: int | None = None,
    n_si_4fold: int | None = None,
    monovacancy_density: float | None = None,
    divacancy_density: float | None = None,
    si_3fold_density: float | None = None,
    si_4fold_density: float | None = None,
    min_separation: float = 6.0,
    height: float = 8.0,
    rng: RNGLike = None,
) -> Sample:
    """Build a periodic graphene sheet with vacancies and Si dopants.

    Each defect kind takes either a count (``n_*``) or an areal density (``*_density`` [nm⁻²],
    rounded to a count over the cell area), not both. Unset kinds default to zero.

    Parameters
    ----------
    extent
        Requested cell size (x, y) [Å]; rounded to whole rectangular unit cells (2.46 × 4.26 Å).
    n_monovacancies, n_divacancies, n_si_3fold, n_si_4fold
        Number of each defect.
    monovacancy_density, divacancy_density, si_3fold_density, si_4fold_density
        Areal density of each defect [nm⁻²].
    min_separation
        Minimum distance between defect centres [Å], so that labels do not overlap.
    height
        Cell height along the beam (z) [Å]; the sheet lies in its middle.
    rng
        Random generator or seed for defect placement.

    Returns
    -------
    Sample
        Site classes ``GRAPHENE_SITE_CLASSES``; ``defect_id`` numbers each defect and marks its
        atoms (the Si or vacancy-edge atoms and the Si's C neighbours).

    Raises
    ------
    ConfigurationError
        For a non-positive extent, negative counts or densities, or defects that do not fit.
    """
    rng = as_generator(rng)
    ext = require_pair("extent", extent, "Å")
    min_separation = require_non_negative("min_separation", min_separation, "Å")
    height = require_positive("height", height, "Å")
    atoms = _lattice(ext, height)
    box = atoms.cell.lengths()[:2]
    area_nm2 = float(box[0] * box[1]) / 100.0
    counts = {
        "si_4fold": _resolve_count("si_4fold", n_si_4fold, si_4fold_density, area_nm2),
        "divacancy": _resolve_count("divacancy", n_divacancies, divacancy_density, area_nm2),
        "si_3fold": _resolve_count("si_3fold", n_si_3fold, si_3fold_density, area_nm2),
        "monovacancy": _resolve_count("monovacancy", n_monovacancies, monovacancy_density, area_nm2),
    }
    xy = atoms.positions[:, :2] % box
    tree = cKDTree(xy, boxsize=box)

    def neighbours_of(i: int) -> np.ndarray:
        """Indices of the bonded neighbours of atom ``i``, ascending (looked up for defect sites only)."""
        found = np.array(sorted(tree.query_ball_point(xy[i], r=CC_BOND * 1.1)), dtype=int)
        return found[found != i]

    site_class = np.full(len(atoms), _PRISTINE, dtype=np.int16)
    defect_id = np.full(len(atoms), -1, dtype=np.int32)
    remove: list[int] = []
    numbers = atoms.numbers.copy()
    positions = atoms.positions.copy()
    extra_si: list[np.ndarray] = []
    extra_si_defect: list[int] = []
    centres: list[np.ndarray] = []

    def far_enough(p: np.ndarray) -> bool:
        for c in centres:
            d = np.abs(p - c)
            d = np.minimum(d, box - d)
            if math.hypot(*d) < min_separation:
                return False
        return True

    order = rng.permutation(len(atoms))
    cursor = 0
    defect_index = 0
    for kind in _DEFECT_KINDS:
        for _ in range(counts[kind]):
            while cursor < len(order) and not far_enough(xy[order[cursor]]):
                cursor += 1
            if cursor >= len(order):
                raise ConfigurationError(
                    f"Cannot place {sum(counts.values())} defects {min_separation} Å apart in a "
                    f"{box[0]:.1f} × {box[1]:.1f} Å cell: lower the counts or densities, "
                    "or enlarge `extent`."
                )
            i = int(order[cursor])
            cursor += 1
            k = defect_index
            defect_index += 1
            if kind in ("si_4fold", "divacancy"):
                near_i = neighbours_of(i)
                j = int(rng.choice(near_i))
                pair = (i, j)
                ring = sorted(set(near_i) | set(neighbours_of(j)) - set(pair))
                remove.extend(pair)
                centre = xy[i] + _minimum_image(xy[j] - xy[i], box) / 2
                centres.append(centre % box)
                if kind == "si_4fold":
                    site_class[ring] = _C_SI
                    extra_si.append(np.array([centre[0] % box[0], centre[1] % box[1], height / 2]))
                    extra_si_defect.append(k)
                else:
                    site_class[ring] = _C_VAC
                defect_id[ring] = k
            else:
                centres.append(xy[i])
                ring = list(neighbours_of(i))
                if kind == "si_3fold":
                    numbers[i] = 14
                    site_class[i] = _SI3
                    defect_id[i] = k
                    positions[i, 2] += math.sqrt(max(SI_C_BOND_3FOLD**2 - CC_BOND**2, 0.0))
                    site_class[ring] = _C_SI
                else:
                    remove.append(i)
                    site_class[ring] = _C_VAC
                defect_id[ring] = k

    keep = np.setdiff1d(np.arange(len(atoms)), np.array(remove, dtype=int))
    out = Atoms(numbers=numbers[keep], positions=positions[keep], cell=atoms.cell, pbc=True)
    site_class = site_class[keep]
    defect_id = defect_id[keep]
    if extra_si:
        out += Atoms(numbers=np.full(len(extra_si), 14), positions=np.array(extra_si))
        site_class = np.concatenate([site_class, np.full(len(extra_si), _SI4, dtype=np.int16)])
        defect_id = np.concatenate([defect_id, np.array(extra_si_defect, dtype=np.int32)])
    parameters: dict[str, Any] = {"extent": tuple(float(b) for b in box), **{f"n_{k}": v for k, v in counts.items()}}
    return Sample(
        atoms=out,
        site_class=site_class,
        site_class_names=GRAPHENE_SITE_CLASSES,
        defect_id=defect_id,
        name="graphene",
        parameters=parameters,
    )


def _minimum_image(d: np.ndarray, box: np.ndarray) -> np.ndarray:
    return d - box * np.round(d / box)
