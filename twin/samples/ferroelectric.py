"""PbTiO3-like perovskite with in-plane ferroelectric domains, viewed along [001].

Geometry
--------
A square grid of perovskite unit cells, a = 3.90 Å, with the beam along z. The requested extent
is rounded to whole cells (at least two along x and y). Each cell (i, j), with its origin at
(i a, j a), holds five atoms; in projection there are three kinds of column:

- ``Pb`` (A site) at the cell corner (0, 0), z = c/4;
- ``Ti`` (B site) at the cell centre (½, ½)a + u, z = 3c/4, where u is its off-centring;
- ``O_apical`` at (½, ½)a, z = c/4: the O above the Ti along the beam, so that the B column is a
  Ti–O column. It stays on the undisplaced centre by default (see ``oxygen_displacement_at_ps``);
- ``O_equatorial`` at the edge centres (½, 0)a and (0, ½)a, z = 3c/4: the pure O columns.

The cell is one unit cell thick along the beam, c = 4.15 Å *(est.; the PbTiO3 c axis)*, and
periodic in all three directions, so repeating it along z gives the columns of a thicker film.
The in-plane lattice is kept square (no spontaneous strain) so that the B-site shift is the only
polar signal. Pb is the reference frame: it is never displaced.

Polarization
------------
One polarization vector per unit cell comes from a time-dependent Landau–Ginzburg–Devonshire run
(:mod:`.tdgl`) on the grid of cells (grid spacing = a) with the PbTiO3 coefficients of PHYSICS.md.
The Ti off-centring is u = ``displacement_at_ps`` · P/Ps [Å]: 0.3 Å (30 pm) at Ps by default, in the
20–40 pm range of PHYSICS.md. Born-charge physics moves O opposite to Ti; that is optional here
(``oxygen_displacement_at_ps``, default 0, a negative value moves the O against P).

The model has no elastic or depolarizing energy, so nothing holds a domain pattern in place except
the lattice (walls about 2.5 cells wide are pinned to it): a ``"random"`` quench coarsens. With the
default 2000 steps a 40 Å cell ends as a single domain, and a 160 Å cell about half the time keeps two;
for a pattern in a small cell use fewer steps (a 80 Å cell after 60 steps has several domains of all
four variants with 90° and 180° walls) or ``"stripes"``, whose 180° walls are stable.

:func:`ferroelectric_sample_from_polarization` rebuilds the atoms, labels and fields of a sample from a
new polarization field through the same code path as the builder; the beam dynamics
(:mod:`stemtwin.twin.dynamics.ferroelectric`) use it after the polarization evolves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from ase import Atoms
from scipy.spatial import cKDTree

from ..errors import ConfigurationError
from ..rng import RNGLike, as_generator
from ..validation import require_choice, require_finite, require_int, require_pair, require_positive
from .sample import Sample
from .tdgl import DEFAULT_DT, LandauGinzburg2D, LGDParameters, domain_labels

__all__ = [
    "build_ferroelectric",
    "ferroelectric_sample_from_polarization",
    "a_site_centre_offsets",
    "FERROELECTRIC_SITE_CLASSES",
    "PEROVSKITE_A",
    "PEROVSKITE_C",
    "FERROELECTRIC_INITIAL_STATES",
]

#: In-plane lattice constant of the perovskite cell [Å].
PEROVSKITE_A = 3.90
#: Cell height along the beam (z) [Å] *(est.; the PbTiO3 c axis)*.
PEROVSKITE_C = 4.15

#: Site classes of the ferroelectric builder, in index order.
FERROELECTRIC_SITE_CLASSES: tuple[str, ...] = ("Pb", "Ti", "O_apical", "O_equatorial")
_PB, _TI, _O_AP, _O_EQ = range(4)

#: Initial states of the TDGL run.
FERROELECTRIC_INITIAL_STATES: tuple[str, ...] = ("random", "stripes", "uniform")

#: Amplitude of the noise of a "random" start, and of the noise added to "stripes" and "uniform"
#: starts to break their symmetry [P/Ps].
_QUENCH_AMPLITUDE = 0.05
_SEED_NOISE = 0.01


def _initial_state(model: LandauGinzburg2D, initial: str, rng: np.random.Generator) -> np.ndarray:
    if initial == "random":
        return model.random_state(rng, _QUENCH_AMPLITUDE)
    noise = model.random_state(rng, _SEED_NOISE)
    if initial == "stripes":
        return model.stripe_state(2, axis="x") + noise
    return model.uniform_state("+x") + noise


def build_ferroelectric(
    extent: float | tuple[float, float] = (40.0, 40.0),
    *,
    temperature: float = 25.0,
    wall_width: float = 1.0,
    relax_steps: int = 2000,
    initial: str = "random",
    displacement_at_ps: float = 0.3,
    oxygen_displacement_at_ps: float = 0.0,
    rng: RNGLike = None,
) -> Sample:
    """Build a PbTiO3-like film with in-plane polarization domains from a TDGL relaxation.

    Parameters
    ----------
    extent
        Requested cell size (x, y) [Å]; rounded to whole 3.90 Å unit cells, at least two per axis.
    temperature
        Temperature of the Landau model [°C]; must be below the Curie point, 479 °C.
    wall_width
        Width of a 180° domain wall [nm] (tangent construction; about 1 nm for PbTiO3 *(est.)*).
    relax_steps
        Number of TDGL steps (reduced step 0.1) from the initial state; 0 keeps the start.
    initial
        Start of the TDGL run: ``"random"`` (a quench from noise of 0.05 Ps: a random 90°/180°
        domain pattern that coarsens with ``relax_steps``, see the module docstring),
        ``"stripes"`` (two equal 180° domains, +x and −x, as bands of constant y, with neutral
        walls along x centred on the cell rows y = 0 and ny//2) or ``"uniform"`` (a single +x
        domain). The last two carry noise of 0.01 Ps so that their symmetry is not exact.
    displacement_at_ps
        Ti off-centring at P = Ps [Å]; u = displacement_at_ps · P/Ps. Within (0, 1].
    oxygen_displacement_at_ps
        Displacement of the cell's three O at P = Ps [Å], along P (negative: against P, as Born
        charges suggest). Within [−1, 1]; 0 leaves O on the ideal sites.
    rng
        Random generator or seed for the TDGL start.

    Returns
    -------
    Sample
        Site classes ``FERROELECTRIC_SITE_CLASSES``; ``defect_id`` is −1 everywhere. Atom labels:
        ``"Px"``, ``"Py"`` (the cell's polarization [C/m²], on each of its atoms), ``"domain_id"``,
        ``"wall_distance"`` (the cell's distance to the nearest domain wall [Å], ``inf`` for a
        single domain) and ``"off_centring"`` (|u| [Å] on Ti, 0 elsewhere). Fields on the grid of
        cells, index (i, j) for the cell with origin (i a, j a): ``"polarization"`` (nx, ny, 2)
        [C/m²], ``"domain_id"`` (nx, ny) and ``"wall_distance"`` (nx, ny) [Å]. ``parameters``
        holds the builder arguments, the rounded extent, the cell counts, the lattice constants
        and ``Ps`` [C/m²].

    Raises
    ------
    ConfigurationError
        For a temperature at or above the Curie point, a non-positive wall width, a negative
        step count, an unknown ``initial``, an extent under two cells, or displacements out of
        range.
    """
    rng = as_generator(rng)
    ext = require_pair("extent", extent, "Å")
    a, c = PEROVSKITE_A, PEROVSKITE_C
    nx, ny = (int(round(e / a)) for e in ext)
    if nx < 2 or ny < 2:
        raise ConfigurationError(
            f"`extent` must hold at least two {a} Å unit cells along x and y (>= {1.5 * a:.2f} Å before "
            f"rounding) [Å], got {extent!r}."
        )
    relax_steps = require_int("relax_steps", relax_steps, minimum=0)
    initial = require_choice("initial state", initial, FERROELECTRIC_INITIAL_STATES)
    displacement_at_ps = require_positive("displacement_at_ps", displacement_at_ps, "Å")
    if displacement_at_ps > 1.0:
        raise ConfigurationError(f"`displacement_at_ps` must be within (0, 1] [Å], got {displacement_at_ps!r}.")
    oxygen_displacement_at_ps = require_finite("oxygen_displacement_at_ps", oxygen_displacement_at_ps, "Å")
    if abs(oxygen_displacement_at_ps) > 1.0:
        raise ConfigurationError(
            f"`oxygen_displacement_at_ps` must be within [-1, 1] [Å], got {oxygen_displacement_at_ps!r}."
        )
    # Temperature and wall width are validated, with their units, by LGDParameters.
    params = LGDParameters(temperature=temperature, wall_width=wall_width, grid_spacing=a / 10.0)
    model = LandauGinzburg2D(params, (nx, ny))
    reduced = model.relax(_initial_state(model, initial, rng), relax_steps, DEFAULT_DT)
    parameters: dict[str, Any] = {
        "extent": (nx * a, ny * a),
        "n_cells": (nx, ny),
        "temperature": params.temperature,
        "wall_width": params.wall_width,
        "relax_steps": relax_steps,
        "initial": initial,
        "displacement_at_ps": displacement_at_ps,
        "oxygen_displacement_at_ps": oxygen_displacement_at_ps,
        "lattice_constant": a,
        "cell_height": c,
        "Ps": params.Ps,
        "tdgl_dt": DEFAULT_DT,
    }
    return _assemble(reduced * params.Ps, parameters, {})


def _assemble(
    polarization: np.ndarray,
    parameters: Mapping[str, Any],
    extra_fields: Mapping[str, np.ndarray],
) -> Sample:
    """The perovskite sample of a polarization [C/m²] on the grid of cells: atoms, labels, fields.

    The one code path shared by :func:`build_ferroelectric` and
    :func:`ferroelectric_sample_from_polarization`. ``parameters`` must hold ``n_cells``,
    ``lattice_constant``, ``cell_height``, ``Ps``, ``displacement_at_ps`` and
    ``oxygen_displacement_at_ps``; ``extra_fields`` are stored beside the polarization fields.
    """
    nx, ny = parameters["n_cells"]
    a, c = parameters["lattice_constant"], parameters["cell_height"]
    reduced = polarization / parameters["Ps"]
    domain_id, wall_cells = domain_labels(polarization)
    wall_distance = wall_cells * a
    u_ti = parameters["displacement_at_ps"] * reduced
    u_o = parameters["oxygen_displacement_at_ps"] * reduced

    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    origin = np.stack([ix * a, iy * a], axis=-1)  # (nx, ny, 2)
    half = a / 2
    xy = np.stack(
        [
            origin,
            origin + half + u_ti,
            origin + half + u_o,
            origin + np.array([half, 0.0]) + u_o,
            origin + np.array([0.0, half]) + u_o,
        ],
        axis=2,
    )  # (nx, ny, 5, 2)
    z = np.array([c / 4, 3 * c / 4, c / 4, 3 * c / 4, 3 * c / 4])
    positions = np.concatenate([xy.reshape(-1, 2), np.tile(z, nx * ny)[:, None]], axis=1)
    per_cell_symbols = ["Pb", "Ti", "O", "O", "O"]
    per_cell_class = np.array([_PB, _TI, _O_AP, _O_EQ, _O_EQ], dtype=np.int16)
    n_cells = nx * ny
    atoms = Atoms(symbols=per_cell_symbols * n_cells, positions=positions, cell=[nx * a, ny * a, c], pbc=True)

    def per_atom(values: np.ndarray) -> np.ndarray:
        return np.repeat(values.reshape(n_cells), 5)

    off_centring = np.zeros((n_cells, 5))
    off_centring[:, 1] = np.linalg.norm(u_ti, axis=-1).reshape(n_cells)
    fields = {"polarization": polarization, "domain_id": domain_id, "wall_distance": wall_distance}
    fields.update({name: value for name, value in extra_fields.items() if name not in fields})
    return Sample(
        atoms=atoms,
        site_class=np.tile(per_cell_class, n_cells),
        site_class_names=FERROELECTRIC_SITE_CLASSES,
        defect_id=np.full(5 * n_cells, -1, dtype=np.int32),
        name="ferroelectric",
        fields=fields,
        atom_labels={
            "Px": per_atom(polarization[..., 0]),
            "Py": per_atom(polarization[..., 1]),
            "domain_id": per_atom(domain_id),
            "wall_distance": per_atom(wall_distance),
            "off_centring": off_centring.reshape(-1),
        },
        parameters=parameters,
    )


#: Parameters a sample needs for :func:`ferroelectric_sample_from_polarization`.
_REBUILD_PARAMETERS = (
    "n_cells",
    "lattice_constant",
    "cell_height",
    "Ps",
    "displacement_at_ps",
    "oxygen_displacement_at_ps",
)


def ferroelectric_sample_from_polarization(
    sample: Sample,
    polarization: np.ndarray,
    *,
    fields: Mapping[str, np.ndarray] | None = None,
) -> Sample:
    """Rebuild a ferroelectric sample's atoms, labels and fields from a new polarization field.

    The atoms follow the polarization exactly as in :func:`build_ferroelectric` (same code path):
    Ti off-centring ``displacement_at_ps · P/Ps``, O displacement ``oxygen_displacement_at_ps ·
    P/Ps``; the labels ``Px``, ``Py``, ``domain_id``, ``wall_distance``, ``off_centring`` and the
    fields ``polarization``, ``domain_id``, ``wall_distance`` are recomputed. The beam dynamics use
    this to move the atoms after the polarization evolves.

    Parameters
    ----------
    sample
        A sample from :func:`build_ferroelectric` (or an earlier rebuild); its ``parameters`` give
        the lattice and the displacement scales and are kept unchanged.
    polarization
        New polarization, ndarray of shape (nx, ny, 2) [C/m²], one vector per unit cell.
    fields
        Further fields to store (for example the beam charge); other fields of ``sample`` besides
        the three recomputed ones are carried over unless replaced here.

    Returns
    -------
    Sample
        A new sample; ``sample`` is not modified.

    Raises
    ------
    ConfigurationError
        If ``sample`` lacks the ferroelectric builder's parameters, or ``polarization`` has the wrong
        shape or non-finite values.
    """
    missing = [key for key in _REBUILD_PARAMETERS if key not in sample.parameters]
    if missing:
        raise ConfigurationError(
            f"`sample` must come from build_ferroelectric (parameters {list(_REBUILD_PARAMETERS)}), but it lacks "
            f"{missing}; got a {sample.name!r} sample."
        )
    nx, ny = sample.parameters["n_cells"]
    P = np.asarray(polarization, dtype=float)  # noqa: N806 (the physics symbol)
    if P.shape != (nx, ny, 2):
        raise ConfigurationError(
            f"`polarization` must be an ndarray of shape ({nx}, {ny}, 2) [C/m²], one vector per unit cell, "
            f"got {P.shape}."
        )
    if not np.all(np.isfinite(P)):
        raise ConfigurationError("`polarization` must be finite [C/m²], got NaN or infinite values.")
    extra = dict(sample.fields)
    extra.update(dict(fields or {}))
    for name in ("polarization", "domain_id", "wall_distance"):
        extra.pop(name, None)
    return _assemble(P, sample.parameters, extra)


def a_site_centre_offsets(sample: Sample) -> np.ndarray:
    """Position of each Ti relative to the centre of its four surrounding Pb, in projection.

    This is the ground truth of the B-site shift that HAADF measures (PHYSICS.md). The four Pb
    are the four nearest in projection, with periodic minimum-image distances.

    Parameters
    ----------
    sample
        A sample with site classes ``"Pb"`` and ``"Ti"`` (for example from
        :func:`build_ferroelectric`) and at least two cells along x and y.

    Returns
    -------
    ndarray of shape (n_Ti, 2) [Å]
        (dx, dy) of each Ti, in the order of ``sample.indices_of("Ti")``.
    """
    pb = sample.indices_of("Pb")
    ti = sample.indices_of("Ti")
    box = np.asarray(sample.extent)
    if len(pb) < 4:
        raise ConfigurationError(f"`sample` must hold at least four Pb columns, got {len(pb)}.")
    pb_xy = sample.positions[pb, :2] % box
    ti_xy = sample.positions[ti, :2] % box
    tree = cKDTree(pb_xy, boxsize=box)
    _, nearest = tree.query(ti_xy, k=4)
    d = pb_xy[nearest] - ti_xy[:, None, :]
    d -= box * np.round(d / box)
    spread = d.max(axis=1) - d.min(axis=1)  # the four corners of a square: spread ≈ a per axis
    if np.any(spread < 0.5 * np.abs(d).max(axis=1)):
        raise ConfigurationError("`sample` Ti are not each surrounded by four distinct Pb columns.")
    return -d.mean(axis=1)
