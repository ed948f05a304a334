"""Monolayer Mo(1−x)Re(x)S2 with short-range Re order and S vacancies.

Geometry
--------
A 2H (trigonal prismatic) monolayer with a = 3.16 Å, the Mo–Mo distance of bulk 2H-MoS2 (Joensen et
al., "A study of single-layer and restacked MoS2 by X-ray diffraction and X-ray absorption
spectroscopy", J. Phys. C: Solid State Phys. (1987)), in a rectangular, periodic cell a × a·√3 with two
cations per cell, zigzag direction along x. The cations lie in the plane z = height/2 on a
triangular lattice, indexed as in :mod:`.lattice_gas`: cation (i, j) sits at
x = a·(i + (j mod 2)/2), y = j·a·√3/2. Each cation has an S column at (x + a/2, y + a·√3/6), on the
other triangular sublattice; the two S of a column share x and y and lie at z = height/2 ± 1.56 Å
(S–S 3.12 Å across the layer *(est.; DFT-relaxed value)*). Each cation thus has 3 S columns
(6 S) at a/√3 = 1.82 Å in projection and a cation–S bond of 2.40 Å.

Alloy order
-----------
The cations start as a random alloy with exactly round(x·N) Re, then relax by Kawasaki-swap
Metropolis sweeps of the lattice gas with unlike-pair energies w1 (nearest) and w2 (next-nearest
neighbours) [kT] at the reduced temperature T (Vlcek et al., npj Comput. Mater. 7 (2021),
doi 10.1038/s41524-021-00507-7). w > 0 clusters Re; w < 0 makes Re and Mo alternate.

Lattice relaxation (Vegard's law)
---------------------------------
With ``re_lattice_mismatch`` m ≠ 0 the cations and their S columns move off the ideal lattice so that
the local lattice constant follows Vegard's law, a(r) ≈ a·(1 + m·(f(r) − f̄)):

1. The local Re fraction f(r) is the Re occupancy of the cation sites smoothed by a periodic Gaussian
   of standard deviation ``RELAXATION_SMOOTHING``·a (one lattice constant *(est.)*): f = (G∗ρ_Re)/(G∗ρ_cation),
   with ρ the point densities of Re and of all cations. f̄ is its mean over the cell.
2. The local isotropic eigenstrain is ε*(r) = m·(f(r) − f̄) (zero mean over the cell).
3. The displacement is irrotational, u = ∇φ, with a dilatation div u = ∇²φ = 2ε*(r): the strain tensor
   is the Hessian of φ, isotropic (εxx = εyy = ε*) inside a large round Re-rich cluster, uniaxial
   across a straight band. φ is solved by FFT on a periodic grid over the cell (spacing a/4 along x,
   a·√3/4 along y, so that every cation sits on a node), with the k = 0 term dropped: u has zero
   mean and the cell keeps its size.
4. Each cation moves by u at its site, and the S of its column (column k belongs to cation k) by the
   same u; positions are wrapped into the periodic cell.

This is the free (Vegard) dilatation. An elastically embedded inclusion would only reach a fraction
(1 + ν)/2 ≈ 0.6 of it (plane stress, ν ≈ 0.25 *(est.)*), so m is an effective mismatch. The relaxation
is deterministic given the cation arrangement, is skipped entirely for m = 0 (the structure is then
identical to the unrelaxed one), and is not redone when the beam dynamics later swap cations.

A suggested value is m ≈ +0.013 *(est.; not in PHYSICS.md)*. The triclinic cell of bulk ReS2, as
tabulated by Wikipedia ("Rhenium disulfide"; primary source not checked), has a = 6.352 Å and
b = 6.446 Å, i.e. pseudo-hexagonal cation spacings a/2 = 3.18 Å and b/2 = 3.22 Å (mean ≈ 3.20 Å),
against 3.16 Å for MoS2: +0.5 % to +2.0 % depending on direction, +1.3 % on average. ReS2 itself is a
distorted 1T′ structure, so the value stands for the average cation spacing, not a 2H-ReS2 phase.

Labels
------
Site classes ``("Mo", "Re", "S2", "S1")``: S2 is an S of an intact column, S1 the S left alone in a
column that lost the other (a vacancy). ``defect_id`` numbers the vacancies and marks the remaining
S of each; -1 elsewhere. ``atom_labels["config_class"]`` holds the 7-site configuration class
(0..127; see :func:`.lattice_gas.local_configuration`) and ``atom_labels["re_neighbours"]`` the
number of Re among the 6 nearest cations (0..6), both -1 for S. ``atom_labels["lattice_site"]`` holds
each cation's flat lattice index i·n2 + j (into the occupation of shape ``parameters["lattice_shape"]``,
-1 for S), and ``atom_labels["s_column"]`` the S column each S belongs to (-1 for cations); column k
sits at the cation site k shifted by (a/2, a·√3/6). The beam dynamics
(:mod:`stemtwin.twin.dynamics.alloy`) use these to find lattice neighbours and column partners after
atoms are removed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from ase import Atoms

from ..errors import ConfigurationError
from ..rng import RNGLike, as_generator
from ..validation import require_in_range, require_int, require_non_negative, require_pair, require_positive
from .lattice_gas import (
    DEFAULT_TEMPERATURE,
    MIN_SHAPE,
    kawasaki_sweeps,
    lattice_positions,
    local_configuration,
    random_alloy,
)
from .sample import Sample

__all__ = [
    "build_mos2_res2",
    "MOS2_RES2_SITE_CLASSES",
    "MOS2_LATTICE_CONSTANT",
    "S_HEIGHT",
    "PAIR_ENERGY_LIMIT",
    "MISMATCH_LIMIT",
    "RELAXATION_SMOOTHING",
    "SUGGESTED_RE_LATTICE_MISMATCH",
    "vegard_displacements",
]

#: Lattice constant (Mo–Mo distance) of 2H-MoS2 [Å].
MOS2_LATTICE_CONSTANT = 3.16
#: Height of each S above or below the cation plane [Å] *(est.)*.
S_HEIGHT = 1.56
#: Largest magnitude allowed for the pair energies w1 and w2 [kT] (PHYSICS.md).
PAIR_ENERGY_LIMIT = 2.0

#: Largest magnitude allowed for ``re_lattice_mismatch`` (dimensionless).
MISMATCH_LIMIT = 0.2
#: Standard deviation of the Gaussian that smooths the Re occupancy into f(r), in lattice constants
#: *(est.)*.
RELAXATION_SMOOTHING = 1.0
#: Suggested ``re_lattice_mismatch``: mean pseudo-hexagonal cation spacing of triclinic ReS2
#: (≈ 3.20 Å, from a = 6.352 Å and b = 6.446 Å) against 3.16 Å of MoS2 *(est.; not in PHYSICS.md)*.
SUGGESTED_RE_LATTICE_MISMATCH = 0.013
#: Grid nodes per half lattice step of the relaxation grid (nodes every a/4 along x, a·√3/4 along y).
_RELAXATION_UPSAMPLING = 2

#: Site classes of the Mo(1−x)Re(x)S2 builder, in index order.
MOS2_RES2_SITE_CLASSES: tuple[str, ...] = ("Mo", "Re", "S2", "S1")
_MO, _RE, _S2, _S1 = range(4)


def _resolve_count(count: int | None, density: float | None, area_nm2: float) -> int:
    if count is not None and density is not None:
        raise ConfigurationError("Give either `n_s_vacancies` or `s_vacancy_density`, not both.")
    if density is not None:
        d = require_non_negative("s_vacancy_density", density, "nm⁻²")
        return int(round(d * area_nm2))
    return require_int("n_s_vacancies", 0 if count is None else count, minimum=0)


def _wrap(xy: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Positions wrapped into [0, box) (the modulo of a tiny negative number can round to box)."""
    xy = np.mod(xy, box)
    return np.where(xy >= box, xy - box, xy)


def vegard_displacements(
    occupation: np.ndarray,
    lattice_constant: float,
    mismatch: float,
    smoothing: float = RELAXATION_SMOOTHING,
) -> tuple[np.ndarray, np.ndarray]:
    """In-plane displacements of the cation sites for a Vegard-law relaxation of the alloy.

    See the module docstring ("Lattice relaxation"): f(r) is the Gaussian-smoothed Re fraction,
    ε* = m·(f − f̄), and u = ∇φ with ∇²φ = 2ε*, solved by FFT on a periodic grid.

    Parameters
    ----------
    occupation
        Lattice-gas occupation (n1, n2), 1 for Re and 0 for Mo, in the indexing of
        :func:`.lattice_gas.lattice_positions`.
    lattice_constant
        Nearest-neighbour distance a of the ideal lattice [Å].
    mismatch
        Fractional lattice mismatch m of the Re-rich end (dimensionless).
    smoothing
        Standard deviation of the smoothing Gaussian, in lattice constants.

    Returns
    -------
    displacement : ndarray of shape (n1, n2, 2)
        (ux, uy) of every cation site [Å]; mean zero over the sites.
    fraction : ndarray of shape (n1, n2)
        The local Re fraction f at every site.
    """
    occ = np.asarray(occupation, dtype=np.float64)
    n1, n2 = occ.shape
    a = float(lattice_constant)
    up = _RELAXATION_UPSAMPLING
    # Nodes every a/(2·up) along x and a·√3/(2·up) along y; site (i, j) sits on node
    # (up·(2i + j mod 2), up·j).
    mx, my = 2 * up * n1, up * n2
    dx, dy = a / (2 * up), a * math.sqrt(3.0) / (2 * up)
    i, j = np.meshgrid(np.arange(n1), np.arange(n2), indexing="ij")
    node_x, node_y = up * (2 * i + j % 2), up * j
    re_density = np.zeros((mx, my))
    cation_density = np.zeros((mx, my))
    re_density[node_x, node_y] = occ
    cation_density[node_x, node_y] = 1.0
    kx = 2.0 * np.pi * np.fft.fftfreq(mx, d=dx)
    ky = 2.0 * np.pi * np.fft.fftfreq(my, d=dy)
    k2 = kx[:, None] ** 2 + ky[None, :] ** 2
    sigma = smoothing * a
    gaussian = np.exp(-0.5 * k2 * sigma**2)
    smooth_re = np.fft.ifft2(np.fft.fft2(re_density) * gaussian).real
    smooth_cation = np.fft.ifft2(np.fft.fft2(cation_density) * gaussian).real
    fraction = smooth_re / smooth_cation  # the cation density is uniform to ~1e-11 once smoothed
    eigenstrain = mismatch * (fraction - fraction.mean())
    source = np.fft.fft2(2.0 * eigenstrain)
    safe_k2 = np.where(k2 > 0, k2, 1.0)
    phi_hat = np.where(k2 > 0, -source / safe_k2, 0.0)
    ux = np.fft.ifft2(1j * kx[:, None] * phi_hat).real
    uy = np.fft.ifft2(1j * ky[None, :] * phi_hat).real
    displacement = np.stack([ux[node_x, node_y], uy[node_x, node_y]], axis=-1)
    return displacement, fraction[node_x, node_y]


def build_mos2_res2(
    extent: float | tuple[float, float] = (30.0, 30.0),
    *,
    re_fraction: float = 0.25,
    w1: float = 0.0,
    w2: float = 0.0,
    temperature: float = DEFAULT_TEMPERATURE,
    sweeps: int = 200,
    n_s_vacancies: int | None = None,
    s_vacancy_density: float | None = None,
    height: float = 10.0,
    re_lattice_mismatch: float = 0.0,
    rng: RNGLike = None,
) -> Sample:
    """Build a periodic Mo(1−x)Re(x)S2 monolayer with lattice-gas Re order and S vacancies.

    Parameters
    ----------
    extent
        Requested cell size (x, y) [Å]; rounded to whole rectangular cells (3.16 × 5.47 Å), at
        least 4 × 3 of them (12.6 × 16.4 Å).
    re_fraction
        Re fraction x of the cations, within [0, 1]; the cell holds exactly round(x·N) Re.
    w1, w2
        Unlike-pair energies of nearest and next-nearest cation neighbours [kT], within [−2, 2].
        w > 0 clusters Re, w < 0 orders Re and Mo alternately, 0 leaves a random alloy.
    temperature
        Reduced temperature T > 0 of the Metropolis acceptance exp(−ΔH/T).
    sweeps
        Kawasaki-swap Monte Carlo sweeps (N attempted swaps each) from the random start.
    n_s_vacancies
        Number of S vacancies: one S removed from each of this many random columns.
    s_vacancy_density
        Areal density of S vacancies [nm⁻²], rounded to a count over the cell area; not with
        ``n_s_vacancies``.
    height
        Cell height along the beam (z) [Å], more than 3.12 Å; the layer lies in its middle.
    re_lattice_mismatch
        Fractional difference m between the ReS2-like and the MoS2 in-plane lattice constants
        (dimensionless), within [−0.2, 0.2]. With m ≠ 0 the cations and their S columns relax by a
        Vegard-law displacement field (module docstring, "Lattice relaxation"), so that Re-rich
        regions are locally dilated by about m·(f − f̄); displacements are a few hundredths of an Å
        for m ≈ 0.015. 0 (the default) leaves every atom on the ideal lattice. Suggested physical
        value ``SUGGESTED_RE_LATTICE_MISMATCH`` = 0.013 *(est.)*.
    rng
        Random generator or seed. The alloy and the vacancies draw from separate child streams, so
        adding vacancies leaves the cation arrangement of a seed unchanged.

    Returns
    -------
    Sample
        Site classes ``MOS2_RES2_SITE_CLASSES``; cations come first, in the flat (C) order of the
        lattice-gas occupation, then the S column by column (lower S first).

    Raises
    ------
    ConfigurationError
        For an extent too small, parameters out of range, both a vacancy count and a density, or
        more vacancies than S columns.
    """
    rng = as_generator(rng)
    ext = require_pair("extent", extent, "Å")
    x = require_in_range("re_fraction", re_fraction, 0.0, 1.0)
    w1 = require_in_range("w1", w1, -PAIR_ENERGY_LIMIT, PAIR_ENERGY_LIMIT, "kT")
    w2 = require_in_range("w2", w2, -PAIR_ENERGY_LIMIT, PAIR_ENERGY_LIMIT, "kT")
    temperature = require_positive("temperature", temperature, "reduced units")
    sweeps = require_int("sweeps", sweeps, minimum=0)
    height = require_positive("height", height, "Å")
    mismatch = require_in_range("re_lattice_mismatch", re_lattice_mismatch, -MISMATCH_LIMIT, MISMATCH_LIMIT)
    if height <= 2 * S_HEIGHT:
        raise ConfigurationError(
            f"`height` must exceed the S–S thickness {2 * S_HEIGHT:.2f} Å of the layer [Å], got {height!r}."
        )

    a = MOS2_LATTICE_CONSTANT
    b = a * math.sqrt(3.0)
    nx = max(1, int(round(ext[0] / a)))
    ny = max(1, int(round(ext[1] / b)))
    min_nx, min_ny = MIN_SHAPE[0], MIN_SHAPE[1] // 2
    if nx < min_nx or ny < min_ny:
        raise ConfigurationError(
            f"`extent` must hold at least {min_nx} × {min_ny} rectangular cells ({min_nx * a:.1f} × "
            f"{min_ny * b:.1f} Å) for the lattice gas [Å], got {tuple(ext)!r} ({nx} × {ny} cells)."
        )
    shape = (nx, 2 * ny)
    box = np.array([nx * a, ny * b])
    area_nm2 = float(box[0] * box[1]) / 100.0
    n_vacancies = _resolve_count(n_s_vacancies, s_vacancy_density, area_nm2)
    n_cations = nx * 2 * ny
    if n_vacancies > n_cations:
        raise ConfigurationError(
            f"Cannot make {n_vacancies} S vacancies with at most one per column: the "
            f"{box[0]:.1f} × {box[1]:.1f} Å cell has {n_cations} S columns. Lower `n_s_vacancies` or "
            "`s_vacancy_density`, or enlarge `extent`."
        )

    alloy_rng, vacancy_rng = rng.spawn(2)
    occupation = random_alloy(shape, x, alloy_rng)
    occupation = kawasaki_sweeps(occupation, w1, w2, temperature, sweeps, alloy_rng)
    config_class, re_neighbours = local_configuration(occupation)

    cation_xy = lattice_positions(shape, a).reshape(-1, 2)
    column_xy = (cation_xy + np.array([a / 2, a * math.sqrt(3.0) / 6])) % box
    if mismatch != 0.0:
        # Vegard relaxation: every cation and the S column it owns move together (deterministic).
        displacement = vegard_displacements(occupation, a, mismatch)[0].reshape(-1, 2)
        cation_xy = _wrap(cation_xy + displacement, box)
        column_xy = _wrap(column_xy + displacement, box)
    z0 = height / 2
    # Lower and upper S of every column, column by column; then drop the removed ones.
    s_xy = np.repeat(column_xy, 2, axis=0)
    s_z = np.tile([z0 - S_HEIGHT, z0 + S_HEIGHT], n_cations)
    s_class = np.full(2 * n_cations, _S2, dtype=np.int16)
    s_defect = np.full(2 * n_cations, -1, dtype=np.int32)
    columns = vacancy_rng.choice(n_cations, size=n_vacancies, replace=False)
    removed_side = vacancy_rng.integers(2, size=n_vacancies)
    removed = 2 * columns + removed_side
    remaining = 2 * columns + 1 - removed_side
    s_class[remaining] = _S1
    s_defect[remaining] = np.arange(n_vacancies)
    keep = np.setdiff1d(np.arange(2 * n_cations), removed)

    cation_is_re = occupation.ravel().astype(bool)
    symbols = list(np.where(cation_is_re, "Re", "Mo")) + ["S"] * len(keep)
    positions = np.concatenate(
        [
            np.column_stack([cation_xy, np.full(n_cations, z0)]),
            np.column_stack([s_xy[keep], s_z[keep]]),
        ]
    )
    atoms = Atoms(symbols=symbols, positions=positions, cell=[box[0], box[1], height], pbc=True)
    n_s = len(keep)
    site_class = np.concatenate([np.where(cation_is_re, _RE, _MO).astype(np.int16), s_class[keep]])
    defect_id = np.concatenate([np.full(n_cations, -1, dtype=np.int32), s_defect[keep]])
    atom_labels = {
        "config_class": np.concatenate([config_class.ravel(), np.full(n_s, -1)]).astype(np.int16),
        "re_neighbours": np.concatenate([re_neighbours.ravel(), np.full(n_s, -1)]).astype(np.int8),
        "lattice_site": np.concatenate([np.arange(n_cations), np.full(n_s, -1)]).astype(np.int32),
        "s_column": np.concatenate([np.full(n_cations, -1), keep // 2]).astype(np.int32),
    }
    n_re = int(cation_is_re.sum())
    parameters: dict[str, Any] = {
        "extent": tuple(float(v) for v in box),
        "re_fraction": x,
        "w1": w1,
        "w2": w2,
        "temperature": temperature,
        "sweeps": sweeps,
        "re_lattice_mismatch": mismatch,
        "lattice_shape": shape,
        "n_cations": n_cations,
        "n_re": n_re,
        "n_mo": n_cations - n_re,
        "n_s": n_s,
        "n_s_vacancies": n_vacancies,
    }
    return Sample(
        atoms=atoms,
        site_class=site_class,
        site_class_names=MOS2_RES2_SITE_CLASSES,
        defect_id=defect_id,
        name="mos2-res2",
        atom_labels=atom_labels,
        parameters=parameters,
    )
