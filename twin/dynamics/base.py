"""The contract between the microscope and beam-dynamics processes.

The processes themselves (Si jumps, knock-on, alloy exchange, domain switching) are separate
modules of this package.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from scipy.spatial import cKDTree

from ..dose import electrons_per_position
from ..errors import ConfigurationError
from ..samples.sample import Sample
from ..validation import require_choice

__all__ = ["Exposure", "Event", "BeamDynamics", "ProcessSwitches", "per_atom_dose"]


@dataclass(frozen=True, eq=False)
class Exposure:
    """Where, how much and how long the beam delivered electrons in one acquisition.

    Parameters
    ----------
    positions
        Real probe positions, ndarray of shape (n, 2) [Å], in acquisition order.
    electrons
        Electrons delivered at each position, ndarray of shape (n,) [e⁻].
    times
        Time each position started, ndarray of shape (n,) [s].
    dwell_time
        Dwell per position [s].
    energy
        Beam energy [eV].
    current
        Probe current [pA].
    kind
        ``"image"``, ``"spectrum"`` or ``"spectrum_image"``.
    """

    positions: np.ndarray
    electrons: np.ndarray
    times: np.ndarray
    dwell_time: float
    energy: float
    current: float
    kind: str

    @property
    def total_electrons(self) -> float:
        """Electrons delivered in this acquisition [e⁻]."""
        return float(np.sum(self.electrons))

    @classmethod
    def parked(cls, xy: Any, seconds: float, current: float = 30.0, energy: float = 80e3) -> Exposure:
        """A beam parked at ``xy`` [Å] for ``seconds`` [s] at ``current`` [pA] and ``energy`` [eV]."""
        return cls(
            positions=np.asarray(xy, dtype=float).reshape(1, 2),
            electrons=np.array([electrons_per_position(current, seconds)]),
            times=np.array([0.0]),
            dwell_time=float(seconds),
            energy=float(energy),
            current=float(current),
            kind="spectrum",
        )



@dataclass(frozen=True)
class Event:
    """One change to the sample, for the ground-truth event log.

    Parameters
    ----------
    time
        Instrument time of the event [s].
    kind
        Process name, e.g. ``"si_jump"``.
    atoms
        Indices of the atoms involved (in the sample before the event).
    details
        Anything else worth logging (positions, classes).
    """

    time: float
    kind: str
    atoms: tuple[int, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class BeamDynamics(Protocol):
    """A process by which the beam changes the sample."""

    name: str

    def evolve(self, sample: Sample, exposure: Exposure, rng: np.random.Generator) -> tuple[Sample, list[Event]]:
        """Return the sample after ``exposure`` and the events that happened; never mutate ``sample``."""
        ...


class ProcessSwitches:
    """Validated on/off switches for the named processes of one dynamics model.

    Parameters
    ----------
    available
        Every process the model knows, in order.
    enabled
        ``None`` (all on), an iterable of names to enable, or a mapping name -> bool.

    Raises
    ------
    UnknownNameError
        For a process name the model does not have (with a did-you-mean hint).
    ConfigurationError
        For a switch value that is not a bool.
    """

    def __init__(self, available: Iterable[str], enabled: Iterable[str] | Mapping[str, bool] | None = None) -> None:
        self.available = tuple(available)
        if enabled is None:
            state = dict.fromkeys(self.available, True)
        elif isinstance(enabled, Mapping):
            state = dict.fromkeys(self.available, True)
            for name, value in enabled.items():
                require_choice("process", name, self.available)
                if not isinstance(value, (bool, np.bool_)):
                    raise ConfigurationError(f"process switch `{name}` must be true or false, got {value!r}.")
                state[name] = bool(value)
        else:
            names = list(enabled) if not isinstance(enabled, str) else [enabled]
            for name in names:
                require_choice("process", name, self.available)
            state = {name: name in names for name in self.available}
        self._state = state

    def __contains__(self, name: str) -> bool:
        return self._state.get(name, False)

    def __repr__(self) -> str:
        return f"ProcessSwitches({self._state!r})"

    @property
    def enabled(self) -> tuple[str, ...]:
        """Names of the processes switched on."""
        return tuple(name for name, on in self._state.items() if on)


def per_atom_dose(
    exposure: Exposure,
    atom_xy: np.ndarray,
    box: tuple[float, float],
    probe_sigma: float = 0.34,
    cutoff: float = 4.0,
) -> np.ndarray:
    """Electron dose each atom received from an exposure [e/Å²].

    The probe intensity is approximated by a normalised Gaussian of standard deviation
    ``probe_sigma`` [Å] (FWHM 0.8 Å, PHYSICS.md), so an atom at distance r from a probe position that
    received N electrons gets ``N exp(−r²/2σ²) / (2πσ²)``. Periodic in the cell ``box`` [Å].

    Returns
    -------
    ndarray of shape (n_atoms,)
    """
    n_atoms = len(atom_xy)
    if len(exposure.positions) == 0 or n_atoms == 0:
        return np.zeros(n_atoms)
    box_arr = np.asarray(box, dtype=np.float64)
    tree = cKDTree(np.mod(atom_xy, box_arr), boxsize=box_arr)
    probes = cKDTree(np.mod(exposure.positions, box_arr), boxsize=box_arr)
    # The structured-array output keeps pairs at zero distance (sparse matrices would drop them).
    pairs = probes.sparse_distance_matrix(tree, max_distance=cutoff * probe_sigma, output_type="ndarray")
    weight = np.exp(-(pairs["v"] ** 2) / (2 * probe_sigma**2)) / (2 * np.pi * probe_sigma**2)
    return np.bincount(pairs["j"], weights=weight * exposure.electrons[pairs["i"]], minlength=n_atoms)
