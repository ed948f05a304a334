"""Beam dynamics of Mo(1−x)Re(x)S2: S sputtering and beam-activated Mo/Re exchange.

Processes
---------
``"s_sputtering"``
    Knock-on removal of S (PHYSICS.md: S vacancies by sputtering). Each S on the exit side of the
    layer is removed with probability 1 − exp(−σD) under the dose D [e/Å²] it received
    (:func:`.base.per_atom_dose`), with σ the vibration-assisted McKinley–Feshbach cross section of
    :mod:`.knock_on` for S (Z = 16, 31.97 u) and the displacement threshold ``sputtering_threshold``,
    6.9 eV (Komsa et al., PRL 109, 035503 (2012), DFT for S in monolayer MoS2). Only the exit-side S
    is sputtered: the beam pushes a nucleus along its own direction, which drives an S of the exit
    layer out of the sheet but an S of the entrance layer into the cation plane (the bottom-layer S
    of Komsa et al.). The beam travels along +z (abTEM's multislice enters at z = 0), so the exit
    side is the S above the cation plane. The S that stays in the
    column becomes ``"S1"`` with a new vacancy ``defect_id`` (n_columns + column index, so it never
    clashes with the builder's 0..n−1); if the removed S was already alone in its column (the
    builder's vacancies remove either side), the column is left empty. An entrance-side S is never
    sputtered, so a column loses both S only when its entrance-side S was already missing.
    With vibrations at ``temperature`` in a Debye model of ``debye_temperature`` (590 K *(est.)*,
    the S out-of-plane A1g phonon of MoS2, 408 cm⁻¹), σ is about 10⁻⁵ b at 60 kV, 1.1 b at 80 kV
    and 37 b at 100 kV; the static threshold is about 92 kV.
``"cation_exchange"``
    Beam-activated Mo/Re site exchange (PHYSICS.md, *(est.)*). Every nearest-neighbour cation pair
    is attempted with probability 1 − exp(−σ_ex·D_pair), D_pair the mean dose of the two cations and
    σ_ex = ``exchange_cross_section``; an attempt on an unlike pair swaps the two species (the
    positions stay on the lattice) with the Metropolis probability min(1, exp(−ΔH/T)), where ΔH is
    the change of the lattice-gas energy with the sample's own w1, w2 and reduced temperature T
    (``sample.parameters``; :mod:`stemtwin.twin.samples.lattice_gas`). The attempt probability does
    not depend on the configuration, so the dose drives the order towards the model's equilibrium
    (detailed balance): w1 > 0 clusters Re under the beam, w = 0 leaves a random alloy random. The
    attempted pairs are processed one at a time in random order, each from the configuration the
    earlier swaps left.

Timing
------
Sputtering and exchange are rare and uncorrelated at imaging doses, so each exposure is sampled at
once from the doses the sample received, rather than position by position. Each event's time is
drawn from the exposure's positions weighted by the dose they gave the atoms involved (plus a
uniform offset within the dwell), and the events are returned in time order. Indices in an
event's ``atoms`` refer to the sample passed to :meth:`AlloyDynamics.evolve`. An exposure in which
nothing happens returns the same sample object.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from ase.data import atomic_numbers

from ..errors import ConfigurationError
from ..samples.lattice_gas import local_configuration, neighbour_indices
from ..samples.sample import Sample
from ..validation import require_non_negative, require_positive
from .base import Event, Exposure, ProcessSwitches, per_atom_dose
from .knock_on import event_probability, vibration_assisted_cross_section

__all__ = [
    "AlloyDynamics",
    "S_DISPLACEMENT_THRESHOLD",
    "S_MASS",
    "MOS2_S_DEBYE_TEMPERATURE",
    "DEFAULT_EXCHANGE_CROSS_SECTION",
    "sputtering_cross_section",
]

#: Displacement threshold of S in monolayer MoS2 [eV] (Komsa et al., PRL 109, 035503 (2012)).
S_DISPLACEMENT_THRESHOLD = 6.9
#: Mass of ³²S [u].
S_MASS = 31.972
#: Debye temperature of the out-of-plane S vibrations of MoS2 [K] *(est.; the A1g phonon, 408 cm⁻¹)*.
MOS2_S_DEBYE_TEMPERATURE = 590.0
#: Mo/Re exchange cross section [b] *(est.)*: below the 0.05–0.1 b of direct-exchange and
#: bond-inversion events of light dopants in graphene at 60 kV (Su et al., Sci. Adv. 5, eaav2252
#: (2019); PHYSICS.md), since a beam electron gives the heavy cations little energy (2.0 eV to Mo,
#: 1.0 eV to Re at 80 kV, against 15.8 eV to C).
DEFAULT_EXCHANGE_CROSS_SECTION = 0.01

_MO, _RE, _S2, _S1 = range(4)
_REQUIRED_LABELS = ("config_class", "re_neighbours", "lattice_site", "s_column")
_REQUIRED_PARAMETERS = ("lattice_shape", "w1", "w2", "temperature")


@lru_cache(maxsize=64)
def sputtering_cross_section(
    energy: float,
    displacement_threshold: float = S_DISPLACEMENT_THRESHOLD,
    temperature: float = 300.0,
    debye_temperature: float = MOS2_S_DEBYE_TEMPERATURE,
) -> float:
    """Knock-on cross section of an exit-side S of MoS2 [b] (vibration-assisted McKinley–Feshbach).

    Parameters
    ----------
    energy
        Beam energy [eV].
    displacement_threshold
        Displacement threshold of S [eV].
    temperature
        Sample temperature [K].
    debye_temperature
        Debye temperature of the out-of-plane S vibrations [K].
    """
    return float(
        vibration_assisted_cross_section(
            energy,
            atomic_numbers["S"],
            S_MASS,
            displacement_threshold,
            temperature=temperature,
            debye_temperature=debye_temperature,
        )
    )


class AlloyDynamics:
    """S sputtering and beam-activated Mo/Re exchange in Mo(1−x)Re(x)S2 (see the module docstring).

    Parameters
    ----------
    processes
        Processes to switch on: ``None`` (all), names, or a mapping name -> bool; the names are
        ``"s_sputtering"`` and ``"cation_exchange"``.
    sputtering_threshold
        Displacement threshold of an exit-side S [eV]; 6.9 eV (Komsa et al., PRL 109, 035503 (2012)).
    exchange_cross_section
        Cross section of a beam-activated exchange attempt of a nearest-neighbour cation pair [b];
        0.01 b *(est.)*, see ``DEFAULT_EXCHANGE_CROSS_SECTION``.
    temperature
        Sample temperature for the lattice vibrations of the knock-on cross section [K] (not the
        reduced lattice-gas temperature, which comes from the sample).
    debye_temperature
        Debye temperature of the out-of-plane S vibrations [K]; 590 K *(est.)*.
    probe_sigma
        Standard deviation of the Gaussian probe intensity used for the per-atom dose [Å].

    Raises
    ------
    ConfigurationError
        For a negative or non-finite parameter (naming it, with its units), and
        ``UnknownNameError`` (with a did-you-mean hint) for an unknown process.
    """

    name = "mos2-res2"
    PROCESSES: tuple[str, ...] = ("s_sputtering", "cation_exchange")

    def __init__(
        self,
        processes: Any = None,
        *,
        sputtering_threshold: float = S_DISPLACEMENT_THRESHOLD,
        exchange_cross_section: float = DEFAULT_EXCHANGE_CROSS_SECTION,
        temperature: float = 300.0,
        debye_temperature: float = MOS2_S_DEBYE_TEMPERATURE,
        probe_sigma: float = 0.34,
    ) -> None:
        self.processes = ProcessSwitches(self.PROCESSES, processes)
        self.sputtering_threshold = require_positive("sputtering_threshold", sputtering_threshold, "eV")
        self.exchange_cross_section = require_non_negative("exchange_cross_section", exchange_cross_section, "b")
        self.temperature = require_non_negative("temperature", temperature, "K")
        self.debye_temperature = require_positive("debye_temperature", debye_temperature, "K")
        self.probe_sigma = require_positive("probe_sigma", probe_sigma, "Å")

    def __repr__(self) -> str:
        return (
            f"AlloyDynamics(processes={list(self.processes.enabled)}, "
            f"sputtering_threshold={self.sputtering_threshold!r}, "
            f"exchange_cross_section={self.exchange_cross_section!r}, temperature={self.temperature!r})"
        )

    def sputtering_cross_section(self, energy: float) -> float:
        """Knock-on cross section of an exit-side S at beam energy ``energy`` [eV], in barn."""
        return sputtering_cross_section(
            float(energy), self.sputtering_threshold, self.temperature, self.debye_temperature
        )

    @staticmethod
    def exit_side_sulphur(sample: Sample) -> np.ndarray:
        """Indices of the S that the beam can sputter: those above the cation plane (the exit side)."""
        _check_sample(sample)
        is_s = np.isin(sample.site_class, (_S2, _S1))
        cation_z = float(np.mean(sample.positions[~is_s, 2]))
        return np.flatnonzero(is_s & (sample.positions[:, 2] > cation_z))

    # -- the contract ------------------------------------------------------------------------------
    def evolve(self, sample: Sample, exposure: Exposure, rng: np.random.Generator) -> tuple[Sample, list[Event]]:
        """Sample the sputtering and exchange events of one exposure; return the new sample and events."""
        if not self.processes.enabled or exposure.total_electrons <= 0:
            return sample, []
        _check_sample(sample)
        rng = np.random.default_rng(rng)
        box = sample.extent
        dose = per_atom_dose(exposure, sample.positions[:, :2], box, self.probe_sigma)
        events: list[tuple[Event, np.ndarray]] = []  # with the atoms whose dose times the event

        removed = np.zeros(len(sample), dtype=bool)
        if "s_sputtering" in self.processes:
            candidates = self.exit_side_sulphur(sample)
            candidates = candidates[dose[candidates] > 0]
            if candidates.size:
                sigma = self.sputtering_cross_section(exposure.energy)
                hit = candidates[rng.random(candidates.size) < event_probability(sigma, dose[candidates])]
                removed[hit] = True
                for i in hit:
                    events.append((_sputter_event(sample, int(i), sigma, float(dose[i])), np.array([i])))

        numbers = sample.numbers.copy()
        if "cation_exchange" in self.processes and self.exchange_cross_section > 0:
            for event, swapped in self._exchange(sample, dose, numbers, rng):
                events.append((event, swapped))

        if not events:
            return sample, []
        new = _rebuild(sample, removed, numbers)
        timed = [
            Event(
                time=_event_time(exposure, sample.positions[atoms, :2], box, self.probe_sigma, rng),
                kind=event.kind,
                atoms=event.atoms,
                details=event.details,
            )
            for event, atoms in events
        ]
        timed.sort(key=lambda e: e.time)
        return new, timed

    # -- internals ---------------------------------------------------------------------------------
    def _exchange(
        self, sample: Sample, dose: np.ndarray, numbers: np.ndarray, rng: np.random.Generator
    ) -> list[tuple[Event, np.ndarray]]:
        """Attempt the exchange of dosed nearest-neighbour cation pairs; swap ``numbers`` in place."""
        params = sample.parameters
        shape = tuple(int(v) for v in params["lattice_shape"])
        w1, w2, reduced_t = float(params["w1"]), float(params["w2"]), float(params["temperature"])
        site = sample.atom_labels["lattice_site"]
        cations = np.flatnonzero(site >= 0)
        n_sites = shape[0] * shape[1]
        atom_of = np.full(n_sites, -1, dtype=np.int64)
        atom_of[site[cations]] = cations
        site_dose = np.zeros(n_sites)
        site_dose[site[cations]] = dose[cations]
        nn, nnn = neighbour_indices(shape)
        s = np.repeat(np.arange(n_sites), 3)
        t = nn[:, :3].ravel()  # each bond once: the neighbours at 0°, 60° and 120°
        pair_dose = 0.5 * (site_dose[s] + site_dose[t])
        dosed = np.flatnonzero(pair_dose > 0)
        if dosed.size == 0:
            return []
        p_attempt = event_probability(self.exchange_cross_section, pair_dose[dosed])
        attempted = dosed[rng.random(dosed.size) < p_attempt]
        if attempted.size == 0:
            return []
        attempted = rng.permutation(attempted)
        is_re = numbers[atom_of] == atomic_numbers["Re"]
        m = np.where(is_re, 1.0, -1.0)  # spins: +1 Re, −1 Mo
        out = []
        for bond in attempted:
            a, b = int(s[bond]), int(t[bond])
            if m[a] == m[b]:
                continue
            # ΔH = m_a (h_a − h_b) + 2 w1 with the local field h = w1 Σ_nn m + w2 Σ_nnn m (the
            # derivation is in lattice_gas._swap_delta): bonds to third sites flip, the a–b bond stays.
            h_a = w1 * m[nn[a]].sum() + w2 * m[nnn[a]].sum()
            h_b = w1 * m[nn[b]].sum() + w2 * m[nnn[b]].sum()
            delta = m[a] * (h_a - h_b) + 2.0 * w1
            if delta > 0 and rng.random() >= math.exp(-delta / reduced_t):
                continue
            atom_a, atom_b = int(atom_of[a]), int(atom_of[b])
            before = ("Re" if m[a] > 0 else "Mo", "Re" if m[b] > 0 else "Mo")
            m[a], m[b] = m[b], m[a]
            numbers[atom_a], numbers[atom_b] = numbers[atom_b], numbers[atom_a]
            event = Event(
                time=0.0,
                kind="cation_exchange",
                atoms=(atom_a, atom_b),
                details={
                    "sites": (a, b),
                    "species_before": before,
                    "species_after": (before[1], before[0]),
                    "delta_energy": float(delta),
                    "dose": float(pair_dose[bond]),
                    "position": _pair_midpoint(sample, atom_a, atom_b),
                },
            )
            out.append((event, np.array([atom_a, atom_b])))
        return out


def _check_sample(sample: Sample) -> None:
    missing = [f"label {k!r}" for k in _REQUIRED_LABELS if k not in sample.atom_labels]
    missing += [f"parameter {k!r}" for k in _REQUIRED_PARAMETERS if k not in sample.parameters]
    if tuple(sample.site_class_names) != ("Mo", "Re", "S2", "S1") or missing:
        raise ConfigurationError(
            "AlloyDynamics needs a Mo(1−x)Re(x)S2 sample from build_mos2_res2 (site classes Mo, Re, S2, S1, "
            f"labels {list(_REQUIRED_LABELS)}, parameters {list(_REQUIRED_PARAMETERS)}); got a {sample.name!r} "
            f"sample{' lacking ' + ', '.join(missing) if missing else ''}."
        )


def _sputter_event(sample: Sample, index: int, sigma: float, dose: float) -> Event:
    column = int(sample.atom_labels["s_column"][index])
    partners = np.flatnonzero(sample.atom_labels["s_column"] == column)
    partners = partners[partners != index]
    return Event(
        time=0.0,
        kind="s_sputtering",
        atoms=(index,),
        details={
            "column": column,
            "position": tuple(float(v) for v in sample.positions[index]),
            "partner": int(partners[0]) if partners.size else None,
            "column_emptied": partners.size == 0,
            "dose": dose,
            "cross_section": sigma,
        },
    )


def _rebuild(sample: Sample, removed: np.ndarray, numbers: np.ndarray) -> Sample:
    """The sample with S ``removed`` and cation species ``numbers``, labels and vacancy ids updated."""
    site_class = sample.site_class.copy()
    defect_id = sample.defect_id.copy()
    column = sample.atom_labels["s_column"]
    n_columns = int(np.prod(sample.parameters["lattice_shape"]))
    for i in np.flatnonzero(removed):
        partners = np.flatnonzero((column == column[i]) & ~removed)
        for j in partners:  # the S left alone in the column marks a new vacancy
            if site_class[j] == _S2:
                site_class[j] = _S1
                defect_id[j] = n_columns + column[i]
    cation = sample.atom_labels["lattice_site"] >= 0
    site_class[cation] = np.where(numbers[cation] == atomic_numbers["Re"], _RE, _MO)
    labels = {k: np.array(v) for k, v in sample.atom_labels.items()}
    shape = tuple(int(v) for v in sample.parameters["lattice_shape"])
    occupation = np.zeros(shape[0] * shape[1], dtype=np.int8)
    occupation[labels["lattice_site"][cation]] = site_class[cation] == _RE
    config_class, re_neighbours = local_configuration(occupation.reshape(shape))
    labels["config_class"][cation] = config_class.ravel()[labels["lattice_site"][cation]]
    labels["re_neighbours"][cation] = re_neighbours.ravel()[labels["lattice_site"][cation]]
    keep = ~removed
    atoms = sample.atoms.copy()
    atoms.numbers = numbers
    atoms = atoms[np.flatnonzero(keep)]
    return sample.replace(
        atoms=atoms,
        site_class=site_class[keep],
        defect_id=defect_id[keep],
        atom_labels={k: v[keep] for k, v in labels.items()},
    )


def _pair_midpoint(sample: Sample, i: int, j: int) -> tuple[float, float]:
    box = np.asarray(sample.extent)
    a, b = sample.positions[i, :2], sample.positions[j, :2]
    d = b - a
    d -= box * np.round(d / box)
    mid = np.mod(a + d / 2, box)
    return (float(mid[0]), float(mid[1]))


def _event_time(
    exposure: Exposure, xy: np.ndarray, box: tuple[float, float], sigma: float, rng: np.random.Generator
) -> float:
    """A time drawn from the exposure's positions weighted by the dose they gave the atoms at ``xy``."""
    box_arr = np.asarray(box)
    d = np.asarray(exposure.positions)[:, None, :] - np.asarray(xy)[None, :, :]
    d -= box_arr * np.round(d / box_arr)
    weight = np.asarray(exposure.electrons) * np.exp(-(d**2).sum(axis=-1) / (2 * sigma**2)).sum(axis=1)
    total = weight.sum()
    p = int(rng.choice(len(weight), p=weight / total)) if total > 0 else int(rng.integers(len(weight)))
    return float(exposure.times[p] + rng.random() * exposure.dwell_time)

