"""Beam-driven dynamics of graphene with Si dopants and vacancies: exact kinetic Monte Carlo.

Description
-----------
Every electron that passes near an atom may change the structure. :class:`GrapheneDynamics` turns
each :class:`~stemtwin.twin.dynamics.base.Exposure` into a sequence of discrete events, sampled
exactly (Gillespie) along the exposure in time order:

- ``si_jump`` — a 3-fold Si swaps places with one of its C neighbours by Si–C bond inversion when
  the beam hits that C (Susi et al., PRL 113, 115501 (2014)).
- ``si_conversion`` — 3-fold → 4-fold: a C neighbour of a 3-fold Si is knocked out and the Si
  relaxes to the centre of the divacancy this leaves (planar, bonded to four C); 4-fold → 3-fold: a
  C adatom from the surface contamination fills one half of the divacancy and the Si returns to a
  lattice site (buckled).
- ``knock_on`` — a C atom is ejected (vibration-assisted knock-on, Meyer et al., PRL 108, 196102
  (2012); :mod:`.knock_on`), leaving a vacancy.
- ``vacancy_migration`` — a C atom at the edge of a monovacancy hops into it, so the vacancy moves
  by one bond. Two vacancies that come to share an edge atom coalesce at once into a divacancy
  (``vacancy_coalescence``: the shared C, left with one bond, moves into one of the two empty
  sites, chosen at random). Off by default: no measured cross section backs it.

The model
---------
Each channel c (one per (Si, neighbour) for jumps and 3→4 conversions, one per 4-fold Si for 4→3,
one per C for knock-on, one per (edge atom, monovacancy) for migration) has a per-electron
probability that is a Gaussian in the beam position r:

    q_c(r) = a_c exp(−|r − r_c|² / 2 s_c²).

*Si jumps* follow the parked-beam model of PHYSICS.md: the rate towards neighbour i is a Gaussian
centred ``si_jump_offset`` = 0.85 bond lengths from the Si towards that neighbour, with variance
``si_jump_covariance`` = 0.1 bond² per axis (s = 0.45 Å), and a peak ``si_jump_peak_rate`` =
0.23 s⁻¹ at ``si_jump_reference_current`` = 30 pA. Dividing by the electron rate I/e at that current
gives the peak per-electron probability a = 0.23 s⁻¹ / 1.87 × 10⁸ e s⁻¹ = 1.23 × 10⁻⁹, so the same
model covers parked beams and rasters: a position that delivers N electrons contributes
N q_c(r) expected jumps. Integrated over the beam position this is an effective cross section
a · 2π s² ≈ 0.16 b per neighbour, consistent with the ≈ 0.1 b of PHYSICS.md and the 0.05–0.9 b
measured for similar dopants at 60 kV (Su et al., Sci. Adv. 5, eaav2252 (2019)). The jump rate is
taken as independent of beam energy (it was measured at 60 kV) *(est.)*.

*Cross-section processes* (knock-on, conversions, migration) use the probe as a normalised
Gaussian of standard deviation ``probe_sigma`` (0.34 Å, FWHM 0.8 Å) around the atom that receives
the dose, a = σ / (2π σ_p²), truncated at 4 σ_p exactly as :func:`~.base.per_atom_dose`, so the
expected number of events is σ·D with D the per-atom dose.

Default constants
-----------------
====================================  =========  ===============================================
constant                              default    source / reason
====================================  =========  ===============================================
``si_jump_peak_rate``                 0.23 s⁻¹   PHYSICS.md parked-beam model, at 30 pA
``si_jump_offset``                    0.85 bond  PHYSICS.md
``si_jump_covariance``                0.1 bond²  PHYSICS.md
``si_conversion_cross_section``       0.015 b    *(est.)* 0.1 × the jump (0.16 b) per neighbour
                                                 C, dose at that C: 3→4 is "rarer" (Susi 2014)
``si_reconversion_cross_section``     0.005 b    *(est.)* 4→3 needs a C adatom to arrive;
                                                 a third of 3→4, dose at the Si
``knock_on_threshold``                21 eV      *(est.)* PHYSICS.md, E_d of pristine C
``vacancy_edge_threshold``            15 eV      *(est.)* C with a missing neighbour is bound
                                                 more weakly (two bonds instead of three)
``temperature``, ``debye_temperature`` 300 K,    Debye model of out-of-plane vibrations
                                      1287 K     (Tewary & Yang, PRB 79, 125416 (2009))
``vacancy_migration_cross_section``   0.05 b     *(est.)* beam-driven hops are observed but
                                                 rarer than Si jumps; process off by default
``probe_sigma``                       0.34 Å     FWHM 0.8 Å, as :func:`~.base.per_atom_dose`
====================================  =========  ===============================================

Knock-on cross sections (¹²C, 300 K): pristine 3.3 × 10⁻²⁰ / 6.4 × 10⁻⁶ / 0.47 b and vacancy edge
1.4 × 10⁻³ / 5.2 / 17.6 b at 60 / 80 / 100 kV (:mod:`.knock_on`).

Simplifications (documented choices)
------------------------------------
- C bonded to a Si are never knocked out by ``knock_on``; the Si processes own them (the 3→4
  conversion *is* the knock-out of a C neighbour of a 3-fold Si). Si is never knocked out (E_max
  ≤ 8.6 eV at 100 kV for ²⁸Si).
- A Si jumps (or converts 3→4) only through a fully coordinated C (three bonds) that is bonded to
  no other Si, so two Si never bond; a 3→4 conversion needs three C neighbours; a 4→3 conversion
  needs the intact four-C ring.
- The 4→3 adatom comes from an implicit reservoir: the atom count grows by one.
- Vacancy migration moves only monovacancies (every neighbouring site occupied) and only C atoms
  not bonded to Si. Divacancies are immobile. Coalescence is part of the migration process: with
  it off, vacancies that share an edge atom (after knock-on) merge their defect ids only.
- Atoms stay on ideal lattice sites (the builder's geometry): relaxations (< 0.1 Å) are neglected.
  A jumping Si keeps its buckling height; a 4-fold Si is planar at the divacancy centre.

Site classes and defect ids
---------------------------
After every event the classes of the atoms whose bonds changed are recomputed from the bonds (C–C
and 3-fold Si–C < 1.7 Å, Si–C < 2.05 Å in projection), as the builder assigns them: a Si with four
C is ``Si_4fold``, else ``Si_3fold``; a C bonded to a Si is ``C_bonded_Si`` (it carries that Si's
defect id); a C with fewer than three bonds is ``C_vacancy_edge``; any other C is ``C_pristine``
(id -1). A Si keeps its defect id as it moves. A new vacancy gets a new id, or the id of the
vacancy it grows; the edge atoms of vacancies that border the same empty site share one id (the
smallest), so coalescing vacancies become one defect.

Kinetic Monte Carlo
-------------------
Within one call the hazard of every channel is piecewise constant over the exposure positions
(electrons arrive uniformly within each dwell). An Exp(1) threshold is drawn and the cumulative
hazard of all channels is walked position by position; the first event happens where it crosses
the threshold, at time ``times[p] + fraction × dwell_time``, in a channel drawn in proportion to
its hazard there. The event is applied, the channels it touched are rebuilt, and the walk resumes
from the same point with a fresh threshold until the exposure is used up. Channels are found
sparsely with periodic ``cKDTree`` queries. A call first compares the threshold with a cheap upper
bound of the summed hazard (peak amplitudes summed per ~1 Å cell); when the threshold exceeds it
nothing can happen and the call returns at once, exactly. A call in which nothing happens returns
the very same ``Sample`` object (so the microscope can skip re-rendering). Bonds, channels and
trees are cached per ``Sample`` object (and beam energy), and the state after a call with events
is cached for the sample it returns, so the next call does not rebuild it.

Cost (benchmarks/bench_kmc.py): about 100 µs of CPU per event and 10–20 µs per scan-line call in
which nothing happens.

Events
------
``Event(time, kind, atoms, details)`` with ``atoms`` the indices in the sample just before that
event (a removed atom shifts later indices down by one for later events) and ``details`` holding
plain Python values: ``position`` (where it happened [Å]), ``beam`` (probe position [Å]),
``from``/``to`` positions, ``from_class``/``to_class`` and ``defect_id``.

Version History
---------------
- v0: initial version.
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from ase import Atoms
from scipy.spatial import cKDTree

from ..errors import ConfigurationError
from ..samples.graphene import CC_BOND, GRAPHENE_SITE_CLASSES, SI_C_BOND_3FOLD
from ..samples.sample import Sample
from ..validation import require_in_range, require_non_negative, require_positive
from .base import Event, Exposure, ProcessSwitches
from .knock_on import BARN_TO_A2, vibration_assisted_cross_section

__all__ = ["GrapheneDynamics", "ELEMENTARY_CHARGE"]

#: Elementary charge [C].
ELEMENTARY_CHARGE = 1.602176634e-19

_PRISTINE, _C_SI, _SI3, _SI4, _C_VAC = range(5)
_JUMP, _CONV, _RECONV, _KNOCK, _MIGR = range(5)
_KIND_PROCESS = ("si_jump", "si_conversion", "si_conversion", "knock_on", "vacancy_migration")
_GROUP_JUMP, _GROUP_PROBE = 0, 1

_CC_CUT = 1.7  # C–C and 3-fold Si–C bonds in projection [Å] (second neighbours at 2.46 Å)
_SIC_CUT = 2.05  # Si–C bonds in projection [Å] (4-fold Si–C is 1.88 Å)
_MAX_BONDS = 4
_SI_BUCKLE = math.sqrt(max(SI_C_BOND_3FOLD**2 - CC_BOND**2, 0.0))
_PROBE_CUTOFF = 4.0  # probe Gaussian truncated at 4 σ, as per_atom_dose
_JUMP_CUTOFF = 5.0  # jump Gaussian truncated at 5 s (weight < 4e-6)
_COS120, _SIN120 = -0.5, math.sqrt(3.0) / 2.0
_CACHE_SIZE = 4


def _wrap(xy: np.ndarray, box: np.ndarray) -> np.ndarray:
    out = np.mod(xy, box)
    return np.where(out >= box, 0.0, out)


def _mic(d: np.ndarray, box: np.ndarray) -> np.ndarray:
    return d - box * np.round(d / box)


def _sorted_bonds(nbr: np.ndarray) -> np.ndarray:
    """Bond lists in a canonical order (ascending, -1 last), so equal structures give equal tables."""
    big = np.iinfo(np.int64).max
    out = np.sort(np.where(nbr < 0, big, nbr), axis=1)
    return np.where(out == big, -1, out)


class _Config:
    """One configuration as arrays; ``nbr`` lists each atom's bonded atoms (-1 padded)."""

    __slots__ = ("xy", "z", "num", "cls", "did", "nbr", "box", "z_plane", "tables")

    def __init__(
        self,
        xy: np.ndarray,
        z: np.ndarray,
        num: np.ndarray,
        cls: np.ndarray,
        did: np.ndarray,
        nbr: np.ndarray,
        box: np.ndarray,
        z_plane: float,
    ) -> None:
        self.xy, self.z, self.num, self.cls, self.did, self.nbr = xy, z, num, cls, did, nbr
        self.box, self.z_plane = box, z_plane
        self.tables: dict[float, _Table] = {}

    @property
    def alive(self) -> np.ndarray:
        return np.ones(len(self.num), dtype=bool)

    @property
    def numl(self) -> list[int]:
        return self.num.tolist()

    @classmethod
    def from_sample(cls, sample: Sample) -> _Config:
        box = np.asarray(sample.extent, dtype=np.float64)
        num = np.asarray(sample.numbers, dtype=np.int64)
        bad = sorted(set(np.unique(num).tolist()) - {6, 14})
        if bad:
            raise ConfigurationError(
                f"GrapheneDynamics handles C and Si only; sample {sample.name!r} holds atomic numbers {bad}."
            )
        xy = _wrap(np.asarray(sample.positions[:, :2], dtype=np.float64), box)
        z = np.asarray(sample.positions[:, 2], dtype=np.float64).copy()
        n = len(num)
        pairs = cKDTree(xy, boxsize=box).query_pairs(_SIC_CUT, output_type="ndarray")
        i, j = pairs[:, 0], pairs[:, 1]
        d = np.hypot(*_mic(xy[j] - xy[i], box).T)
        si_i, si_j = num[i] == 14, num[j] == 14
        bonded = np.where(si_i | si_j, (si_i != si_j) & (d < _SIC_CUT), d < _CC_CUT)
        i, j = i[bonded], j[bonded]
        src = np.concatenate([i, j])
        dst = np.concatenate([j, i])
        order = np.argsort(src, kind="stable")
        src, dst = src[order], dst[order]
        counts = np.bincount(src, minlength=n)
        if counts.max(initial=0) > _MAX_BONDS:
            raise ConfigurationError(
                f"Sample {sample.name!r} has an atom with {counts.max()} neighbours within {_SIC_CUT} Å; "
                "GrapheneDynamics needs graphene geometry (C–C 1.42 Å), as built by build_graphene."
            )
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.arange(len(src)) - starts[src]
        nbr = np.full((n, _MAX_BONDS), -1, dtype=np.int64)
        nbr[src, rank] = dst
        nbr = _sorted_bonds(nbr)
        carbon = num == 6
        z_plane = float(np.median(z[carbon])) if carbon.any() else float(np.median(z))
        return cls(
            xy,
            z,
            num,
            np.asarray(sample.site_class, dtype=np.int64).copy(),
            np.asarray(sample.defect_id, dtype=np.int64).copy(),
            nbr,
            box,
            z_plane,
        )


class _Channels:
    """A struct of arrays, one row per channel.

    Fields: kind, owner atom, target atom, centre [Å], peak per-electron probability, width group,
    and the target site [Å] of a migration channel (NaN otherwise).
    """

    __slots__ = ("kind", "owner", "target", "centre", "amp", "group", "site")

    def __init__(
        self,
        kind: np.ndarray,
        owner: np.ndarray,
        target: np.ndarray,
        centre: np.ndarray,
        amp: np.ndarray,
        group: np.ndarray,
        site: np.ndarray,
    ) -> None:
        self.kind, self.owner, self.target = kind, owner, target
        self.centre, self.amp, self.group, self.site = centre, amp, group, site

    @classmethod
    def make(
        cls, kind: int, owner: np.ndarray, target: np.ndarray | int, centre: np.ndarray, amp: Any, group: int
    ) -> _Channels:
        k = len(owner)
        return cls(
            np.full(k, kind, dtype=np.int64),
            np.asarray(owner, dtype=np.int64),
            np.broadcast_to(np.asarray(target, dtype=np.int64), (k,)).copy(),
            np.asarray(centre, dtype=np.float64).reshape(k, 2),
            np.broadcast_to(np.asarray(amp, dtype=np.float64), (k,)).copy(),
            np.full(k, group, dtype=np.int64),
            np.full((k, 2), np.nan),
        )

    @classmethod
    def concat(cls, parts: list[_Channels]) -> _Channels:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.make(_KNOCK, np.zeros(0, dtype=np.int64), -1, np.zeros((0, 2)), 0.0, _GROUP_PROBE)
        if len(parts) == 1:
            return parts[0]
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__slots__))

    def rows(self) -> list[tuple]:
        """The channels as tuples (kind, owner, target, cx, cy, amp, group, sx, sy)."""
        return list(
            zip(
                self.kind.tolist(),
                self.owner.tolist(),
                self.target.tolist(),
                self.centre[:, 0].tolist(),
                self.centre[:, 1].tolist(),
                self.amp.tolist(),
                self.group.tolist(),
                self.site[:, 0].tolist(),
                self.site[:, 1].tolist(),
                strict=True,
            )
        )

    def __len__(self) -> int:
        return len(self.kind)


class _Amps:
    """Per-electron peak probabilities of each channel kind at one beam energy (0 when switched off)."""

    __slots__ = ("jump", "conv", "reconv", "pristine", "edge", "migr", "offset", "inv2s2", "rcut")

    def __init__(self, model: GrapheneDynamics, energy: float) -> None:
        on = model.processes
        norm = BARN_TO_A2 / (2 * math.pi * model.probe_sigma**2)
        self.jump = model.si_jump_probability if "si_jump" in on else 0.0
        self.conv = model.si_conversion_cross_section * norm if "si_conversion" in on else 0.0
        self.reconv = model.si_reconversion_cross_section * norm if "si_conversion" in on else 0.0
        pristine, edge = model._knock_sigma(energy) if "knock_on" in on else (0.0, 0.0)
        self.pristine, self.edge = pristine * norm, edge * norm
        self.migr = model.vacancy_migration_cross_section * norm if "vacancy_migration" in on else 0.0
        self.offset = model.si_jump_offset
        s = model.si_jump_sigma
        # 1/2s² and the cutoff [Å] of the two Gaussian widths (jump profile, probe)
        self.inv2s2 = (0.5 / s**2, 0.5 / model.probe_sigma**2)
        self.rcut = (_JUMP_CUTOFF * s, _PROBE_CUTOFF * model.probe_sigma)


class _Table:
    """All channels of one configuration at one beam energy: periodic trees per width, and a hazard bound.

    The bound ``B[cell]`` sums the peak amplitudes of every channel that reaches any point of a
    ~1 Å cell, so Σ_p N_p B[cell(r_p)] ≥ the exact hazard of an exposure: a call whose Exp(1)
    threshold exceeds it has no event, and costs no tree query.
    """

    __slots__ = ("channels", "amps", "box", "trees", "cells", "cell_size", "bound_grid")

    def __init__(self, channels: _Channels, amps: _Amps, box: np.ndarray) -> None:
        self.channels, self.amps, self.box = channels, amps, box
        self.trees: list[tuple[cKDTree, np.ndarray, int]] = []
        for group in (_GROUP_JUMP, _GROUP_PROBE):
            idx = np.flatnonzero(channels.group == group)
            if idx.size:
                self.trees.append((cKDTree(_wrap(channels.centre[idx], box), boxsize=box), idx, group))
        self.cells = np.maximum(1, np.floor(box / 1.0)).astype(np.int64)
        self.cell_size = box / self.cells
        grid = np.zeros(int(self.cells[0] * self.cells[1]))
        if len(channels):
            reach = np.asarray(amps.rcut)[channels.group] + 1e-6  # a margin against round-off
            lo = np.floor((channels.centre - reach[:, None]) / self.cell_size).astype(np.int64)
            hi = np.floor((channels.centre + reach[:, None]) / self.cell_size).astype(np.int64)
            span = int((hi - lo).max()) + 1
            for ox in range(span):
                for oy in range(span):
                    ok = (lo[:, 0] + ox <= hi[:, 0]) & (lo[:, 1] + oy <= hi[:, 1])
                    cx = (lo[ok, 0] + ox) % self.cells[0]
                    cy = (lo[ok, 1] + oy) % self.cells[1]
                    grid += np.bincount(cx * self.cells[1] + cy, weights=channels.amp[ok], minlength=grid.size)
        self.bound_grid = grid

    def bound(self, positions: np.ndarray, electrons: np.ndarray) -> float:
        """An upper bound on the summed hazard of an exposure (positions need not be wrapped)."""
        cell = np.floor(positions / self.cell_size).astype(np.int64) % self.cells
        return float(np.dot(electrons, self.bound_grid[cell[:, 0] * self.cells[1] + cell[:, 1]]))


class GrapheneDynamics:
    """Si jumps, Si 3↔4-fold conversions, knock-on and vacancy migration in graphene under the beam.

    See the module docstring for the physics, the default constants and their sources.

    Parameters
    ----------
    processes
        ``None`` (every process except ``vacancy_migration``), an iterable of process names to
        enable, or a mapping name -> bool (unnamed processes keep their default).
    si_jump_peak_rate
        Peak Si jump rate towards one neighbour with the beam parked at the optimum [1/s], at
        ``si_jump_reference_current``.
    si_jump_reference_current
        Probe current at which ``si_jump_peak_rate`` holds [pA].
    si_jump_offset
        Distance of the rate maximum from the Si towards the neighbour [bond lengths].
    si_jump_covariance
        Variance of the Gaussian rate profile per axis [bond²].
    si_conversion_cross_section
        3-fold → 4-fold: cross section for knocking out one C neighbour of a 3-fold Si, dose at
        that C [b] *(est.)*.
    si_reconversion_cross_section
        4-fold → 3-fold (a C adatom fills half the divacancy), dose at the Si [b] *(est.)*.
    knock_on_threshold
        Displacement threshold E_d of pristine C [eV] *(est.)*.
    vacancy_edge_threshold
        Displacement threshold of C at a vacancy edge [eV] *(est.)*; ``None`` uses
        ``knock_on_threshold``.
    temperature
        Sample temperature [K].
    debye_temperature
        Out-of-plane Debye temperature [K].
    mass_number
        Mass of the C isotope [u] (13 for ¹³C graphene).
    vacancy_migration_cross_section
        Cross section for an edge C to hop into its monovacancy, dose at that C [b] *(est.)*.
    probe_sigma
        Standard deviation of the Gaussian probe [Å].

    Raises
    ------
    UnknownNameError
        For an unknown process name (with a did-you-mean hint).
    ConfigurationError
        For a non-finite or out-of-range parameter.

    Examples
    --------
    >>> from stemtwin.twin import Microscope, build_graphene
    >>> sample = build_graphene((30, 30), n_si_3fold=2, rng=0)
    >>> scope = Microscope(sample, dynamics=[GrapheneDynamics(["si_jump", "knock_on"])], rng=1)
    """

    name = "graphene"
    PROCESSES: tuple[str, ...] = ("si_jump", "si_conversion", "knock_on", "vacancy_migration")
    #: Processes that are off unless asked for.
    DEFAULT_OFF: tuple[str, ...] = ("vacancy_migration",)

    def __init__(
        self,
        processes: Iterable[str] | Mapping[str, bool] | None = None,
        *,
        si_jump_peak_rate: float = 0.23,
        si_jump_reference_current: float = 30.0,
        si_jump_offset: float = 0.85,
        si_jump_covariance: float = 0.1,
        si_conversion_cross_section: float = 0.015,
        si_reconversion_cross_section: float = 0.005,
        knock_on_threshold: float = 21.0,
        vacancy_edge_threshold: float | None = 15.0,
        temperature: float = 300.0,
        debye_temperature: float = 1287.0,
        mass_number: float = 12.0,
        vacancy_migration_cross_section: float = 0.05,
        probe_sigma: float = 0.34,
    ) -> None:
        defaults = {name: name not in self.DEFAULT_OFF for name in self.PROCESSES}
        if processes is None:
            self.processes = ProcessSwitches(self.PROCESSES, defaults)
        elif isinstance(processes, Mapping):
            ProcessSwitches(self.PROCESSES, processes)  # validates the names and values
            self.processes = ProcessSwitches(self.PROCESSES, {**defaults, **dict(processes)})
        else:
            self.processes = ProcessSwitches(self.PROCESSES, processes)
        self.si_jump_peak_rate = require_non_negative("si_jump_peak_rate", si_jump_peak_rate, "1/s")
        self.si_jump_reference_current = require_positive("si_jump_reference_current", si_jump_reference_current, "pA")
        self.si_jump_offset = require_in_range("si_jump_offset", si_jump_offset, 0.0, 2.0, "bond lengths")
        self.si_jump_covariance = require_in_range("si_jump_covariance", si_jump_covariance, 1e-4, 10.0, "bond²")
        self.si_conversion_cross_section = require_non_negative(
            "si_conversion_cross_section", si_conversion_cross_section, "b"
        )
        self.si_reconversion_cross_section = require_non_negative(
            "si_reconversion_cross_section", si_reconversion_cross_section, "b"
        )
        self.knock_on_threshold = require_positive("knock_on_threshold", knock_on_threshold, "eV")
        self.vacancy_edge_threshold = (
            self.knock_on_threshold
            if vacancy_edge_threshold is None
            else require_positive("vacancy_edge_threshold", vacancy_edge_threshold, "eV")
        )
        self.temperature = require_non_negative("temperature", temperature, "K")
        self.debye_temperature = require_positive("debye_temperature", debye_temperature, "K")
        self.mass_number = require_positive("mass_number", mass_number, "u")
        self.vacancy_migration_cross_section = require_non_negative(
            "vacancy_migration_cross_section", vacancy_migration_cross_section, "b"
        )
        self.probe_sigma = require_positive("probe_sigma", probe_sigma, "Å")
        self._cache: OrderedDict[int, tuple[Sample, _Config]] = OrderedDict()
        self._sigma: dict[float, tuple[float, float]] = {}

    # -- derived constants ------------------------------------------------------------------------
    @property
    def si_jump_probability(self) -> float:
        """Peak per-electron jump probability towards one neighbour: rate / (I/e) at the reference current."""
        return self.si_jump_peak_rate * ELEMENTARY_CHARGE / (self.si_jump_reference_current * 1e-12)

    @property
    def si_jump_sigma(self) -> float:
        """Standard deviation of the jump-rate Gaussian per axis [Å]."""
        return math.sqrt(self.si_jump_covariance) * CC_BOND

    @property
    def si_jump_cross_section(self) -> float:
        """Effective jump cross section per neighbour, peak probability × 2π s² [b]."""
        return self.si_jump_probability * 2 * math.pi * self.si_jump_sigma**2 / BARN_TO_A2

    def knock_on_cross_sections(self, energy: float) -> dict[str, float]:
        """Vibration-assisted knock-on cross sections [b] of pristine and vacancy-edge C at ``energy`` [eV]."""
        pristine, edge = self._knock_sigma(require_positive("energy", energy, "eV"))
        return {"C_pristine": pristine, "C_vacancy_edge": edge}

    def _knock_sigma(self, energy: float) -> tuple[float, float]:
        key = float(energy)
        if key not in self._sigma:
            values = [
                vibration_assisted_cross_section(
                    key, 6, self.mass_number, threshold, self.temperature, self.debye_temperature
                )
                for threshold in (self.knock_on_threshold, self.vacancy_edge_threshold)
            ]
            self._sigma[key] = (float(values[0]), float(values[1]))
        return self._sigma[key]

    def __repr__(self) -> str:
        return f"GrapheneDynamics(processes={list(self.processes.enabled)})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = OrderedDict()  # derived data, rebuilt on demand
        return state

    # -- the BeamDynamics protocol --------------------------------------------------------------
    def evolve(self, sample: Sample, exposure: Exposure, rng: np.random.Generator) -> tuple[Sample, list[Event]]:
        """Return the sample after ``exposure`` and its events in time order; never mutates ``sample``.

        When nothing happens the very same ``sample`` object comes back, with no events.
        """
        self._check_sample(sample)
        positions, electrons = self._check_exposure(exposure)
        if positions is None or not self.processes.enabled:
            return sample, []
        cfg = self._config(sample)
        table = self._table(cfg, float(exposure.energy))
        if not len(table.channels):
            return sample, []
        threshold = rng.standard_exponential()
        if threshold > table.bound(positions, electrons):
            return sample, []
        pos = _wrap(positions, cfg.box)
        pairs = self._pairs(table, pos)
        if not threshold <= float(np.dot(electrons[pairs[0]], pairs[2])):
            return sample, []
        return _Run(self, sample, cfg, table, exposure, pos, electrons, pairs, rng).run(threshold)

    def expected_events(self, sample: Sample, exposure: Exposure) -> dict[str, float]:
        """Expected number of events of each enabled process for ``exposure`` on the present structure.

        First order: the summed hazard Σ_p N_p q_c(r_p) of the present channels, ignoring the changes
        events make (exact for the first event; the mean count while events are rare).
        """
        self._check_sample(sample)
        out = dict.fromkeys(self.processes.enabled, 0.0)
        positions, electrons = self._check_exposure(exposure)
        if positions is None or not out:
            return out
        cfg = self._config(sample)
        table = self._table(cfg, float(exposure.energy))
        if not len(table.channels):
            return out
        p, c, g = self._pairs(table, _wrap(positions, cfg.box))
        per_kind = np.bincount(table.channels.kind[c], weights=electrons[p] * g, minlength=5)
        for kind, value in enumerate(per_kind.tolist()):
            name = _KIND_PROCESS[kind]
            if name in out:
                out[name] += value
        return out

    # -- validation -------------------------------------------------------------------------------
    def _check_sample(self, sample: Sample) -> None:
        if not isinstance(sample, Sample):
            raise ConfigurationError(f"`sample` must be a Sample, got {type(sample).__name__}.")
        if sample.site_class_names != GRAPHENE_SITE_CLASSES:
            raise ConfigurationError(
                f"GrapheneDynamics needs a graphene sample with site classes {list(GRAPHENE_SITE_CLASSES)} "
                f"(from build_graphene), got {sample.name!r} with {list(sample.site_class_names)}."
            )

    @staticmethod
    def _check_exposure(exposure: Exposure) -> tuple[np.ndarray | None, np.ndarray]:
        positions = np.asarray(exposure.positions, dtype=np.float64)
        electrons = np.asarray(exposure.electrons, dtype=np.float64)
        n = len(positions)
        if n == 0:
            return None, electrons
        if positions.shape != (n, 2) or electrons.shape != (n,) or np.shape(exposure.times) != (n,):
            raise ConfigurationError(
                "`exposure` arrays must have shapes positions (n, 2), electrons (n,) and times (n,), got "
                f"{positions.shape}, {electrons.shape} and {np.shape(exposure.times)}."
            )
        total = float(electrons.sum())
        if not math.isfinite(total) or electrons.min() < 0:
            raise ConfigurationError("`exposure.electrons` must be finite and >= 0 [e⁻].")
        if total == 0.0:
            return None, electrons
        if not math.isfinite(float(positions.sum())):
            raise ConfigurationError("`exposure.positions` must be finite [Å].")
        if not exposure.energy > 0 or not math.isfinite(exposure.energy):
            raise ConfigurationError(f"`exposure.energy` must be positive [eV], got {exposure.energy!r}.")
        if not exposure.dwell_time >= 0 or not math.isfinite(exposure.dwell_time):
            raise ConfigurationError(f"`exposure.dwell_time` must be >= 0 [s], got {exposure.dwell_time!r}.")
        return positions, electrons

    # -- caches -----------------------------------------------------------------------------------
    def _config(self, sample: Sample) -> _Config:
        key = id(sample)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is sample:
            self._cache.move_to_end(key)
            return hit[1]
        cfg = _Config.from_sample(sample)
        self._remember(sample, cfg)
        return cfg

    def _remember(self, sample: Sample, cfg: _Config) -> None:
        self._cache[id(sample)] = (sample, cfg)
        self._cache.move_to_end(id(sample))
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    def _table(self, cfg: _Config, energy: float) -> _Table:
        table = cfg.tables.get(energy)
        if table is None:
            amps = _Amps(self, energy)
            table = _Table(_build_all(cfg, amps), amps, cfg.box)
            cfg.tables[energy] = table
        return table

    @staticmethod
    def _pairs(table: _Table, pos: np.ndarray, tree: cKDTree | None = None) -> tuple[np.ndarray, ...]:
        """(position index, channel index, per-electron probability) of every pair within reach."""
        ps, cs, gs = [], [], []
        for chan_tree, idx, group in table.trees:
            if tree is None:
                tree = cKDTree(pos, boxsize=table.box)
            sdm = tree.sparse_distance_matrix(chan_tree, table.amps.rcut[group], output_type="ndarray")
            if sdm.size:
                ci = idx[sdm["j"]]
                ps.append(sdm["i"].astype(np.int64))
                cs.append(ci)
                gs.append(table.channels.amp[ci] * np.exp(-(sdm["v"] ** 2) * table.amps.inv2s2[group]))
        if not ps:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        return np.concatenate(ps), np.concatenate(cs), np.concatenate(gs)


# -- channels ------------------------------------------------------------------------------------


def _build_all(st: Any, amps: _Amps) -> _Channels:
    """Every channel of a configuration (vectorised; ``st`` has xy, num, cls, nbr, box, alive)."""
    num, cls, nbr, xy, box = st.num, st.cls, st.nbr, st.xy, st.box
    alive = st.alive
    parts: list[_Channels] = []
    count = (nbr >= 0).sum(axis=1)
    if amps.jump > 0 or amps.conv > 0:
        si = np.flatnonzero(alive & (num == 14) & (cls == _SI3))
        if si.size:
            s = np.repeat(si, _MAX_BONDS)
            c = nbr[si].ravel()
            ok = c >= 0
            s, c = s[ok], c[ok]
            ring = nbr[c]
            si_bonds = ((ring >= 0) & (num[np.where(ring >= 0, ring, 0)] == 14)).sum(axis=1)
            ok = (num[c] == 6) & (count[c] == 3) & (si_bonds == 1)
            s, c = s[ok], c[ok]
            if c.size:
                d = _mic(xy[c] - xy[s], box)
                if amps.jump > 0:
                    centre = _wrap(xy[s] + amps.offset * d, box)
                    parts.append(_Channels.make(_JUMP, s, c, centre, amps.jump, _GROUP_JUMP))
                full = count[s] == 3
                if amps.conv > 0 and full.any():
                    parts.append(_Channels.make(_CONV, s[full], c[full], xy[c[full]], amps.conv, _GROUP_PROBE))
    if amps.reconv > 0:
        si4 = np.flatnonzero(alive & (num == 14) & (cls == _SI4))
        if si4.size:
            ring = nbr[si4]
            ok = (count[si4] == 4) & np.all(num[np.where(ring >= 0, ring, 0)] == 6, axis=1)
            if ok.any():
                parts.append(_Channels.make(_RECONV, si4[ok], -1, xy[si4[ok]], amps.reconv, _GROUP_PROBE))
    if amps.pristine > 0 or amps.edge > 0:
        carbon = np.flatnonzero(alive & (num == 6) & ((cls == _PRISTINE) | (cls == _C_VAC)))
        amp = np.where(cls[carbon] == _C_VAC, amps.edge, amps.pristine)
        keep = amp > 0
        if keep.any():
            parts.append(_Channels.make(_KNOCK, carbon[keep], -1, xy[carbon[keep]], amp[keep], _GROUP_PROBE))
    if amps.migr > 0:
        parts.append(_migration_channels(st, amps))
    return _Channels.concat(parts)


def _build_few(st: _Run, owners: Iterable[int], amps: _Amps) -> list[tuple]:
    """The channels owned by a few atoms, as tuples (kind, owner, target, cx, cy, amp, group, sx, sy).

    The same rules as :func:`_build_all`, in plain Python: after an event only a handful of atoms
    need new channels, and per-call numpy overhead would dominate.
    """
    num, cls, nbr, xy, alive = st.numl, st.cls, st.nbr, st.xy, st.alive  # numl: a list, fast to index
    bx, by = float(st.box[0]), float(st.box[1])
    nan = math.nan
    out: list[tuple] = []
    for a in owners:
        if not alive[a]:
            continue
        ca = cls[a]
        if num[a] == 14:
            if ca == _SI3 and (amps.jump > 0 or amps.conv > 0):
                row = [b for b in nbr[a].tolist() if b >= 0]
                xa, ya = xy[a].tolist()
                for c in row:
                    if num[c] != 6:
                        continue
                    ring = [b for b in nbr[c].tolist() if b >= 0]
                    if len(ring) != 3 or any(b != a and num[b] == 14 for b in ring):
                        continue
                    xc, yc = xy[c].tolist()
                    dx, dy = xc - xa, yc - ya
                    dx -= bx * round(dx / bx)
                    dy -= by * round(dy / by)
                    if amps.jump > 0:
                        cx, cy = (xa + amps.offset * dx) % bx, (ya + amps.offset * dy) % by
                        cx, cy = (cx if cx < bx else 0.0), (cy if cy < by else 0.0)
                        out.append((_JUMP, a, c, cx, cy, amps.jump, _GROUP_JUMP, nan, nan))
                    if amps.conv > 0 and len(row) == 3:
                        out.append((_CONV, a, c, xc, yc, amps.conv, _GROUP_PROBE, nan, nan))
            elif ca == _SI4 and amps.reconv > 0:
                row = [b for b in nbr[a].tolist() if b >= 0]
                if len(row) == 4 and all(num[b] == 6 for b in row):
                    xa, ya = xy[a].tolist()
                    out.append((_RECONV, a, -1, xa, ya, amps.reconv, _GROUP_PROBE, nan, nan))
        elif ca == _PRISTINE or ca == _C_VAC:
            amp = amps.edge if ca == _C_VAC else amps.pristine
            if amp > 0:
                xa, ya = xy[a].tolist()
                out.append((_KNOCK, a, -1, xa, ya, amp, _GROUP_PROBE, nan, nan))
    return out


def _migration_channels(st: Any, amps: _Amps) -> _Channels:
    """One channel per (edge C not bonded to Si, monovacancy it borders)."""
    sites = _vacant_sites(st)
    if sites is None:
        return _Channels.concat([])
    site_xy, gen, label, counts = sites
    movers = (counts[label] == 3) & (st.cls[gen] == _C_VAC)
    if not movers.any():
        return _Channels.concat([])
    b = gen[movers]
    ch = _Channels.make(_MIGR, b, label[movers], st.xy[b], amps.migr, _GROUP_PROBE)
    ch.site = site_xy[label[movers]]
    return ch


def _vacant_sites(st: Any) -> tuple[np.ndarray, ...] | None:
    """Empty lattice sites: (site xy (g, 2), generator atom (s,), site label (s,), generators per site (g,)).

    A generator is a C atom next to the empty site. A C atom's three lattice directions follow
    from any of its bonds of bond length (to C, or to a 3-fold Si); a direction with no bonded atom
    points at an empty site. Sites within 1 Å of a Si (the two halves of a divacancy that holds a
    4-fold Si) are not empty.
    """
    num, cls, nbr, xy, box, alive = st.num, st.cls, st.nbr, st.xy, st.box, st.alive
    cand = np.flatnonzero(alive & (num == 6) & ((cls == _C_VAC) | (cls == _C_SI)))
    if cand.size == 0:
        return None
    nb = nbr[cand]
    valid = nb >= 0
    vec = _mic(xy[np.where(valid, nb, 0)] - xy[cand][:, None, :], box)
    lattice = valid & (np.abs(np.hypot(vec[..., 0], vec[..., 1]) - CC_BOND) < 0.15)
    has = lattice.any(axis=1)
    if not has.any():
        return None
    cand, vec, valid, lattice = cand[has], vec[has], valid[has], lattice[has]
    u0 = vec[np.arange(len(cand)), np.argmax(lattice, axis=1)]
    u1 = np.stack([_COS120 * u0[:, 0] - _SIN120 * u0[:, 1], _SIN120 * u0[:, 0] + _COS120 * u0[:, 1]], axis=1)
    u2 = np.stack([_COS120 * u0[:, 0] + _SIN120 * u0[:, 1], -_SIN120 * u0[:, 0] + _COS120 * u0[:, 1]], axis=1)
    dirs = np.stack([u0, u1, u2], axis=1)  # (k, 3, 2), bond length
    gap = dirs[:, :, None, :] - vec[:, None, :, :]  # (k, 3, 4, 2)
    occupied = np.any(valid[:, None, :] & (np.hypot(gap[..., 0], gap[..., 1]) < 0.3), axis=2)
    sites = xy[cand][:, None, :] + dirs
    si = np.flatnonzero(alive & (num == 14))
    if si.size:
        dsi = _mic(sites[:, :, None, :] - xy[si][None, None, :, :], box)
        occupied |= np.any(np.hypot(dsi[..., 0], dsi[..., 1]) < 1.0, axis=2)
    k_idx, d_idx = np.nonzero(~occupied)
    if k_idx.size == 0:
        return None
    gen = cand[k_idx]
    pts = _wrap(sites[k_idx, d_idx], box)
    diff = _mic(pts[:, None, :] - pts[None, :, :], box)
    first_close = np.argmax(np.hypot(diff[..., 0], diff[..., 1]) < 0.3, axis=1)
    uniq, label = np.unique(first_close, return_inverse=True)
    label = label.reshape(-1)
    counts = np.bincount(label)
    site_xy = pts[uniq]
    # A site with all three neighbours present is exactly their centroid; using it (rather than
    # one neighbour's bond geometry) keeps round-off from growing as vacancies hop back and forth.
    mono = np.flatnonzero(counts == 3)
    if mono.size:
        members = np.argsort(label, kind="stable").reshape(-1)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        trio = members[starts[mono][:, None] + np.arange(3)[None, :]]  # (m, 3) generator slots
        anchor = xy[gen[trio[:, 0]]]
        rel = _mic(xy[gen[trio]] - anchor[:, None, :], box)
        site_xy[mono] = _wrap(anchor + rel.mean(axis=1), box)
    return site_xy, gen, label, counts


# -- one evolve call with events ---------------------------------------------------------------


class _Run:
    """The working state of one ``evolve`` call in which at least one event happens.

    Atom indices stay those of the input sample during the call (removed atoms are flagged, added
    atoms appended), and the new sample is compacted at the end. Hazards live on (unique probe
    position, channel) pairs: a "head" block sorted by position (the channels found at the start)
    and a "tail" of pairs of channels rebuilt after events, merged into the head now and then.
    Channels are numbered in the order they enter; a channel rebuilt after an event is a new one and
    the old one is flagged dead.
    """

    def __init__(
        self,
        model: GrapheneDynamics,
        sample: Sample,
        cfg: _Config,
        table: _Table,
        exposure: Exposure,
        pos: np.ndarray,
        electrons: np.ndarray,
        pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
        rng: np.random.Generator,
    ) -> None:
        self.model, self.sample, self.rng, self.amps = model, sample, rng, table.amps
        self.box, self.z_plane = cfg.box, cfg.z_plane
        self.xy, self.z, self.num = cfg.xy.copy(), cfg.z.copy(), cfg.num.copy()
        self.numl: list[int] = self.num.tolist()
        self.cls, self.did, self.nbr = cfg.cls.copy(), cfg.did.copy(), cfg.nbr.copy()
        self.n0 = len(self.num)
        self.alive = np.ones(self.n0, dtype=bool)
        self.removed: list[int] = []
        self.next_id = int(self.did.max(initial=-1)) + 1
        self.migration = self.amps.migr > 0
        self.electrons = electrons
        self.times = np.asarray(exposure.times, dtype=np.float64)
        self.dwell = float(exposure.dwell_time)
        self.raw_positions = np.asarray(exposure.positions, dtype=np.float64)
        # Unique probe positions: a parked beam is one position however many times it is listed.
        key = np.round(pos[:, 0], 9) + 1j * np.round(pos[:, 1], 9)
        _, first, inv = np.unique(key, return_index=True, return_inverse=True)
        self.uniq, self.inv, self.nu = pos[first], inv.reshape(-1), len(first)
        self.utree = cKDTree(self.uniq, boxsize=self.box) if self.nu > 32 else None
        if self.nu == len(pos):  # all distinct: reuse the pairs of the first pass
            u, c, g = self.inv[pairs[0]], pairs[1], pairs[2]
        else:
            u, c, g = model._pairs(table, self.uniq, self.utree)
        active, local = np.unique(c, return_inverse=True)
        t = table.channels
        self.kind: list[int] = t.kind[active].tolist()
        self.owner: list[int] = t.owner[active].tolist()
        self.target: list[int] = t.target[active].tolist()
        self.site: list[list[float]] = t.site[active].tolist()
        self.dead = np.zeros(max(64, 2 * len(active)), dtype=bool)
        # Migration channels depend on the empty sites around, not on one owner: they are rebuilt
        # together whenever an event changes the empty sites or the vacancy edges.
        self.by_owner: dict[int, list[int]] = {}
        self.migr: list[int] = []
        for ch, (owner, kind) in enumerate(zip(self.owner, self.kind, strict=True)):
            (self.migr if kind == _MIGR else self.by_owner.setdefault(owner, [])).append(ch)
        self.sites_changed = False
        self._set_head(u, local.reshape(-1), g)

    def _set_head(self, u: np.ndarray, c: np.ndarray, g: np.ndarray) -> None:
        order = np.argsort(u, kind="stable")
        self.hu, self.hc, self.hg = u[order], c[order], g[order]
        self.hoff = np.searchsorted(self.hu, np.arange(self.nu + 1)).tolist()
        self.tu = np.zeros(0, dtype=np.int64)
        self.tc = np.zeros(0, dtype=np.int64)
        self.tg = np.zeros(0)
        self.G = np.bincount(self.hu, weights=self.hg * ~self.dead[self.hc], minlength=self.nu)

    # -- the KMC loop ---------------------------------------------------------------------------
    def run(self, threshold: float) -> tuple[Sample, list[Event]]:
        events: list[Event] = []
        j, f = 0, 0.0
        rng, electrons, inv = self.rng, self.electrons, self.inv
        while True:
            hazard = electrons[j:] * self.G[inv[j:]]
            hazard[0] *= 1.0 - f
            cum = np.cumsum(hazard)
            k = int(np.searchsorted(cum, threshold))
            if k >= len(cum):
                break
            p = j + k
            before = float(cum[k - 1]) if k > 0 else 0.0
            frac = min((f if k == 0 else 0.0) + (threshold - before) / float(electrons[p] * self.G[inv[p]]), 1.0)
            ch = self._pick(int(inv[p]))
            if ch >= 0:
                time = float(self.times[p] + frac * self.dwell)
                new_events, touched = self._apply(ch, time, self.raw_positions[p])
                events.extend(new_events)
                self._refresh(touched)
            j, f = p, frac
            threshold = rng.standard_exponential()
        return self._finish(), events

    def _pick(self, u: int) -> int:
        """Draw the channel of an event at unique position ``u`` in proportion to its hazard."""
        a, b = self.hoff[u], self.hoff[u + 1]
        chans = self.hc[a:b]
        weights = self.hg[a:b] * ~self.dead[chans]
        if self.tu.size:
            here = self.tu == u
            if here.any():
                tail = self.tc[here]
                chans = np.concatenate([chans, tail])
                weights = np.concatenate([weights, self.tg[here] * ~self.dead[tail]])
        if chans.size == 0:
            return -1
        cum = np.cumsum(weights)
        k = int(np.searchsorted(cum, self.rng.random() * cum[-1], side="right"))
        return int(chans[min(k, chans.size - 1)])

    def _refresh(self, touched: set[int]) -> None:
        """Rebuild the channels of the atoms an event touched (and of Si bonded to them)."""
        nbr, num, dead = self.nbr, self.numl, self.dead
        owners = set(touched)
        for a in touched:
            for b in nbr[a].tolist():
                if b >= 0 and num[b] == 14:
                    owners.add(b)
        for o in owners:
            for ch in self.by_owner.pop(o, ()):
                dead[ch] = True
        new = _build_few(self, owners, self.amps)
        if self.migration and self.sites_changed:
            for ch in self.migr:
                dead[ch] = True
            self.migr = []
            new += _migration_channels(self, self.amps).rows()
        self.sites_changed = False
        if new:
            self._register(new)
        self.G = np.bincount(self.hu, weights=self.hg * ~self.dead[self.hc], minlength=self.nu)
        if self.tu.size:
            self.G += np.bincount(self.tu, weights=self.tg * ~self.dead[self.tc], minlength=self.nu)

    def _register(self, new: list[tuple]) -> None:
        """Register new channels (tuples from :func:`_build_few`) and their pairs with the probe positions."""
        amps, box = self.amps, self.box
        if self.nu == 1:  # a parked beam: a few channels against one position, in plain Python
            ux, uy = self.uniq[0].tolist()
            bx, by = self.box.tolist()
            keep, values = [], []
            for k, row in enumerate(new):
                dx, dy = row[3] - ux, row[4] - uy
                dx -= bx * round(dx / bx)
                dy -= by * round(dy / by)
                d2 = dx * dx + dy * dy
                group = row[6]
                if d2 <= amps.rcut[group] ** 2:
                    keep.append(k)
                    values.append(row[5] * math.exp(-d2 * amps.inv2s2[group]))
            if not keep:
                return
            ci = np.array(keep, dtype=np.int64)
            self._append(new, np.zeros(len(keep), dtype=np.int64), ci, np.array(values))
            return
        arr = np.array([row[3:7] for row in new], dtype=np.float64)  # cx, cy, amp, group
        centres, amp, group = arr[:, :2], arr[:, 2], arr[:, 3].astype(np.int64)
        rcut = np.asarray(amps.rcut)[group]
        if self.utree is None:
            d = _mic(self.uniq[:, None, :] - centres[None, :, :], box)
            d2 = d[..., 0] ** 2 + d[..., 1] ** 2
            ui, ci = np.nonzero(d2 <= rcut[None, :] ** 2)
            d2 = d2[ui, ci]
        else:
            lists = self.utree.query_ball_point(centres, rcut)
            lens = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
            ui = np.fromiter((u for x in lists for u in x), dtype=np.int64, count=int(lens.sum()))
            ci = np.repeat(np.arange(len(new)), lens)
            d = _mic(self.uniq[ui] - centres[ci], box)
            d2 = d[:, 0] ** 2 + d[:, 1] ** 2
        if ui.size == 0:
            return
        self._append(new, ui, ci, amp[ci] * np.exp(-d2 * np.asarray(amps.inv2s2)[group[ci]]))

    def _append(self, new: list[tuple], ui: np.ndarray, ci: np.ndarray, g: np.ndarray) -> None:
        """Number the channels in ``new`` and add their pairs (position ui, row ci of new, probability g)."""
        first = len(self.kind)
        for ch, row in enumerate(new, start=first):
            self.kind.append(row[0])
            self.owner.append(row[1])
            self.target.append(row[2])
            self.site.append([row[7], row[8]])
            (self.migr if row[0] == _MIGR else self.by_owner.setdefault(row[1], [])).append(ch)
        if len(self.kind) > len(self.dead):
            self.dead = np.concatenate([self.dead, np.zeros(max(len(self.dead), len(new)), dtype=bool)])
        self.tu = np.concatenate([self.tu, ui])
        self.tc = np.concatenate([self.tc, first + ci])
        self.tg = np.concatenate([self.tg, g])
        if self.tu.size > 256 + self.hu.size // 2:  # merge the tail into the head, dropping dead pairs
            u = np.concatenate([self.hu, self.tu])
            c = np.concatenate([self.hc, self.tc])
            g = np.concatenate([self.hg, self.tg])
            live = ~self.dead[c]
            self._set_head(u[live], c[live], g[live])

    # -- structure updates ------------------------------------------------------------------------
    def _index_before(self, w: int) -> int:
        """Index of working atom ``w`` in the sample just before the current event."""
        return w - bisect.bisect_left(self.removed, w)

    def _neighbours(self, a: int) -> list[int]:
        return [b for b in self.nbr[a].tolist() if b >= 0]

    def _replace_bond(self, a: int, old: int, new: int) -> None:
        """In ``a``'s bond list, replace ``old`` by ``new`` (-1 removes it; old -1 adds ``new``)."""
        row = self.nbr[a]
        lst = row.tolist()
        if new >= 0 and new in lst:
            if old >= 0 and old in lst:
                row[lst.index(old)] = -1
            return
        if old in lst:
            row[lst.index(old)] = new
        elif new >= 0:
            row[lst.index(-1)] = new

    def _set_bonds(self, a: int, partners: list[int]) -> None:
        self.nbr[a] = -1
        self.nbr[a, : len(partners)] = partners

    def _remove(self, a: int) -> None:
        self.alive[a] = False
        self.nbr[a] = -1
        bisect.insort(self.removed, a)

    def _add_atom(self, number: int, xy: np.ndarray, z: float) -> int:
        w = len(self.num)
        self.xy = np.vstack([self.xy, xy[None, :]])
        self.z = np.append(self.z, z)
        self.num = np.append(self.num, number)
        self.numl.append(number)
        self.cls = np.append(self.cls, _PRISTINE)
        self.did = np.append(self.did, -1)
        self.nbr = np.vstack([self.nbr, np.full((1, _MAX_BONDS), -1, dtype=np.int64)])
        self.alive = np.append(self.alive, True)
        return w

    def _xy(self, a: int) -> tuple[float, float]:
        x, y = self.xy[a].tolist()
        return (x, y)

    def _apply(self, ch: int, time: float, beam: np.ndarray) -> tuple[list[Event], set[int]]:
        kind, owner, target = self.kind[ch], self.owner[ch], self.target[ch]
        beam_xy = (float(beam[0]), float(beam[1]))
        if kind == _JUMP:
            return self._jump(owner, target, time, beam_xy)
        if kind == _CONV:
            return self._convert_3_to_4(owner, target, time, beam_xy)
        if kind == _RECONV:
            return self._convert_4_to_3(owner, time, beam_xy)
        if kind == _KNOCK:
            return self._knock(owner, time, beam_xy)
        return self._migrate(owner, np.array(self.site[ch]), time, beam_xy)

    def _jump(self, s: int, c: int, time: float, beam: tuple[float, float]) -> tuple[list[Event], set[int]]:
        atoms = (self._index_before(s), self._index_before(c))
        ns, nc = self._neighbours(s), self._neighbours(c)
        start, end = self._xy(s), self._xy(c)
        for a in ns:
            if a != c:
                self._replace_bond(a, s, c)
        for b in nc:
            if b != s:
                self._replace_bond(b, c, s)
        self._set_bonds(s, [c if b == s else b for b in nc])
        self._set_bonds(c, [s if a == c else a for a in ns])
        self.xy[[s, c]] = self.xy[[c, s]]
        touched = {s, c, *ns, *nc}
        self._relabel(touched, None)
        details = {
            "position": end,
            "from": start,
            "to": end,
            "beam": beam,
            "from_class": "Si_3fold",
            "to_class": "Si_3fold",
            "defect_id": int(self.did[s]),
        }
        return [Event(time=time, kind="si_jump", atoms=atoms, details=details)], touched

    def _convert_3_to_4(self, s: int, c: int, time: float, beam: tuple[float, float]) -> tuple[list[Event], set[int]]:
        atoms = (self._index_before(s), self._index_before(c))
        ns, nc = self._neighbours(s), self._neighbours(c)
        start, removed_xy = self._xy(s), self._xy(c)
        centre = _wrap(self.xy[s] + 0.5 * _mic(self.xy[c] - self.xy[s], self.box), self.box)
        others = [b for b in nc if b != s]
        for b in others:
            self._replace_bond(b, c, s)
        self._set_bonds(s, [a for a in ns if a != c] + others)
        self._remove(c)
        self.xy[s] = centre
        self.z[s] = self.z_plane
        touched = {s, c, *ns, *nc}
        self._relabel(touched, None)
        details = {
            "position": self._xy(s),
            "from": start,
            "to": self._xy(s),
            "removed_carbon": removed_xy,
            "beam": beam,
            "direction": "3->4",
            "from_class": "Si_3fold",
            "to_class": "Si_4fold",
            "defect_id": int(self.did[s]),
        }
        return [Event(time=time, kind="si_conversion", atoms=atoms, details=details)], touched

    def _convert_4_to_3(self, s: int, time: float, beam: tuple[float, float]) -> tuple[list[Event], set[int]]:
        atoms = (self._index_before(s),)
        ring = self._neighbours(s)
        start = self._xy(s)
        rel = _mic(self.xy[ring] - self.xy[s], self.box)
        # The two C next to the same half of the divacancy are a lattice constant (2.46 Å) apart.
        dist = np.hypot(*(rel[1:] - rel[0]).T)
        partner = 1 + int(np.argmin(np.abs(dist - math.sqrt(3.0) * CC_BOND)))
        pair_a = [ring[0], ring[partner]]
        pair_b = [r for k, r in enumerate(ring) if k not in (0, partner)]
        half = (rel[0] + rel[partner]) / 4  # from the Si to the empty site next to pair_a
        site_a, site_b = self.xy[s] + half, self.xy[s] - half
        if self.rng.random() < 0.5:
            pair_a, pair_b, site_a, site_b = pair_b, pair_a, site_b, site_a
        new = self._add_atom(6, _wrap(site_a, self.box), self.z_plane)
        for r in pair_a:
            self._replace_bond(r, s, new)
        self._set_bonds(new, [s, *pair_a])
        self._set_bonds(s, [new, *pair_b])
        self.xy[s] = _wrap(site_b, self.box)
        self.z[s] = self.z_plane + _SI_BUCKLE
        touched = {s, new, *ring}
        self._relabel(touched, None)
        details = {
            "position": self._xy(s),
            "from": start,
            "to": self._xy(s),
            "added_carbon": self._xy(new),
            "added_atom": self._index_before(new),
            "beam": beam,
            "direction": "4->3",
            "from_class": "Si_4fold",
            "to_class": "Si_3fold",
            "defect_id": int(self.did[s]),
        }
        return [Event(time=time, kind="si_conversion", atoms=atoms, details=details)], touched

    def _knock(self, a: int, time: float, beam: tuple[float, float]) -> tuple[list[Event], set[int]]:
        atoms = (self._index_before(a),)
        site_class = GRAPHENE_SITE_CLASSES[int(self.cls[a])]
        if self.cls[a] == _C_VAC and self.did[a] >= 0:
            vid = int(self.did[a])  # the vacancy grows
        else:
            vid = self.next_id
            self.next_id += 1
        na = self._neighbours(a)
        where = self._xy(a)
        for b in na:
            self._replace_bond(b, a, -1)
        self._remove(a)
        touched = {a, *na}
        self._relabel(touched, vid)
        merged = self._merge_vacancies(na, vid)
        details = {
            "position": where,
            "beam": beam,
            "from_class": site_class,
            "to_class": "vacancy",
            "defect_id": merged[0],
        }
        if len(merged) > 1:
            details["merged_defect_ids"] = merged
        events = [Event(time=time, kind="knock_on", atoms=atoms, details=details)]
        if self.migration:
            events += self._coalesce(na, time, beam, touched)
        return events, touched

    def _migrate(
        self, b: int, site: np.ndarray, time: float, beam: tuple[float, float]
    ) -> tuple[list[Event], set[int]]:
        atoms = (self._index_before(b),)
        vid = int(self.did[b])
        site_xy, gen, label, _ = _vacant_sites(self)  # a migration channel implies an empty site
        d = _mic(site_xy - site, self.box)
        target = int(np.argmin(np.hypot(d[:, 0], d[:, 1])))
        partners = [g for g in gen[label == target].tolist() if g != b]
        old = self._neighbours(b)
        start = self._xy(b)
        for a in old:
            self._replace_bond(a, b, -1)
        for a in partners:
            self._replace_bond(a, -1, b)
        self._set_bonds(b, partners)
        self.xy[b] = _wrap(site, self.box)
        touched = {b, *old, *partners}
        self._relabel(touched, vid)
        # The site left empty at `start` is bordered by `b` and its old neighbours; with fewer than
        # two old neighbours it is next to another empty site: the hop made a divacancy.
        merged = self._merge_vacancies([b, *old], vid)
        details = {
            "position": self._xy(b),
            "from": start,
            "to": self._xy(b),
            "vacancy_from": self._xy(b),
            "vacancy_to": start,
            "beam": beam,
            "from_class": "C_vacancy_edge",
            "to_class": GRAPHENE_SITE_CLASSES[int(self.cls[b])],
            "defect_id": merged[0],
        }
        if len(merged) > 1:
            details["merged_defect_ids"] = merged
        kind = "vacancy_coalescence" if len(old) < 2 else "vacancy_migration"
        events = [Event(time=time, kind=kind, atoms=atoms, details=details)]
        events += self._coalesce([b, *old], time, beam, touched)
        return events, touched

    def _merge_vacancies(self, border: list[int], vid: int) -> list[int]:
        """Give every vacancy that borders the same empty site one id (the smallest); return the ids."""
        cls, did = self.cls, self.did
        ids = {vid}
        ids.update(int(did[g]) for g in border if self.alive[g] and cls[g] == _C_VAC and did[g] >= 0)
        merged = sorted(ids)
        for other in merged[1:]:
            did[(cls == _C_VAC) & (did == other)] = merged[0]
        return merged

    def _coalesce(self, border: list[int], time: float, beam: tuple[float, float], touched: set[int]) -> list[Event]:
        """Two vacancies that share an edge atom coalesce into a divacancy.

        The shared C (one bond left, between two empty sites) moves into one of the two sites,
        chosen at random; its old site and the other empty site then form a divacancy.
        """
        for x in border:
            if not self.alive[x] or self.cls[x] != _C_VAC:
                continue
            row = self._neighbours(x)
            if len(row) != 1:
                continue
            sites = _vacant_sites(self)
            if sites is None:
                return []
            site_xy, gen, label, _ = sites
            mine = np.unique(label[gen == x])
            if len(mine) != 2:
                continue
            t = int(mine[int(self.rng.integers(2))])
            partners = [g for g in gen[label == t].tolist() if g != x]
            ring = [g for g in gen[np.isin(label, mine)].tolist() if g != x]
            atoms = (self._index_before(x),)
            start = self._xy(x)
            y = row[0]
            self._replace_bond(y, x, -1)
            for g in partners:
                self._replace_bond(g, -1, x)
            self._set_bonds(x, partners)
            self.xy[x] = site_xy[t]
            moved = {x, y, *partners}
            self._relabel(moved, int(self.did[x]))
            touched |= moved
            merged = self._merge_vacancies([x, y, *ring], int(self.did[x]))
            details = {
                "position": self._xy(x),
                "from": start,
                "to": self._xy(x),
                "vacancy_to": start,
                "beam": beam,
                "from_class": "C_vacancy_edge",
                "to_class": GRAPHENE_SITE_CLASSES[int(self.cls[x])],
                "defect_id": merged[0],
                "merged_defect_ids": merged,
            }
            return [Event(time=time, kind="vacancy_coalescence", atoms=atoms, details=details)]
        return []

    def _relabel(self, atoms: set[int], vacancy_id: int | None) -> None:
        """Site classes and defect ids of ``atoms`` from their bonds.

        Si keep their id; a C bonded to a Si takes its id; a C with fewer than three bonds is a
        vacancy edge and keeps its vacancy id, or takes ``vacancy_id`` (the vacancy the event
        made or moved), or the id of the vacancy it borders; any other C is pristine (id -1).
        """
        num, cls, did, alive = self.numl, self.cls, self.did, self.alive
        orphans = []
        for a in atoms:
            if not alive[a]:
                self.sites_changed = True
                continue
            row = [b for b in self.nbr[a].tolist() if b >= 0]
            if num[a] == 14:
                cls[a] = _SI4 if len(row) >= 4 else _SI3
                continue
            if cls[a] == _C_VAC or len(row) < 3:
                self.sites_changed = True
            si = [b for b in row if num[b] == 14]
            if si:
                cls[a] = _C_SI
                did[a] = min(int(did[b]) for b in si)
            elif len(row) < 3:
                if not (cls[a] == _C_VAC and did[a] >= 0):
                    if vacancy_id is None:
                        orphans.append(a)
                    else:
                        did[a] = vacancy_id
                cls[a] = _C_VAC
            else:
                cls[a] = _PRISTINE
                did[a] = -1
        if orphans:
            self._adopt(orphans)

    def _adopt(self, orphans: list[int]) -> None:
        """Give new vacancy-edge atoms the id of the vacancy they border (or a fresh one)."""
        sites = _vacant_sites(self)
        for a in orphans:
            vid = -1
            if sites is not None:
                _, gen, label, _ = sites
                others = gen[np.isin(label, label[gen == a]) & (gen != a)].tolist()
                ids = [
                    int(self.did[g]) for g in others if self.cls[g] == _C_VAC and self.did[g] >= 0 and g not in orphans
                ]
                vid = min(ids, default=-1)
            if vid < 0:
                vid = self.next_id
                self.next_id += 1
            self.did[a] = vid

    # -- the new sample ---------------------------------------------------------------------------
    def _finish(self) -> Sample:
        sample = self.sample
        keep = np.flatnonzero(self.alive)
        keep_orig = keep[keep < self.n0]
        keep_new = keep[keep >= self.n0]
        atoms = sample.atoms[keep_orig] if len(keep_orig) < self.n0 else sample.atoms.copy()
        if keep_new.size:
            atoms += Atoms(numbers=self.num[keep_new], positions=np.zeros((keep_new.size, 3)))
        atoms.positions = np.column_stack([self.xy[keep], self.z[keep]])
        labels = {}
        for name, values in sample.atom_labels.items():
            extra = np.full(keep_new.size, _fill_value(values.dtype), dtype=values.dtype)
            labels[name] = np.concatenate([values[keep_orig], extra])
        new = sample.replace(atoms=atoms, site_class=self.cls[keep], defect_id=self.did[keep], atom_labels=labels)
        remap = np.full(len(self.num), -1, dtype=np.int64)
        remap[keep] = np.arange(keep.size)
        nbr = self.nbr[keep]
        nbr = _sorted_bonds(np.where(nbr >= 0, remap[np.where(nbr >= 0, nbr, 0)], -1))
        # The same arrays a rebuild from the new sample would give, so that a cache miss (after
        # pickling, say) changes nothing downstream.
        cfg = _Config(
            _wrap(np.asarray(new.positions[:, :2], dtype=np.float64), self.box),
            np.asarray(new.positions[:, 2], dtype=np.float64).copy(),
            self.num[keep].copy(),
            self.cls[keep].copy(),
            self.did[keep].copy(),
            nbr,
            self.box,
            self.z_plane,
        )
        self.model._remember(new, cfg)
        return new


def _fill_value(dtype: np.dtype) -> Any:
    if np.issubdtype(dtype, np.floating):
        return np.nan
    if np.issubdtype(dtype, np.bool_):
        return False
    if np.issubdtype(dtype, np.integer):
        return -1
    return ""
