"""The seam where beam-induced dynamics plug into the microscope.

Every acquisition delivers electrons. After it, the microscope hands an :class:`Exposure` to each
:class:`BeamDynamics` it holds, which returns a new sample and the events that happened. The
processes themselves (Si jumps, knock-on, alloy exchange, domain switching) are separate modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .samples.sample import Sample

__all__ = ["Exposure", "Event", "BeamDynamics"]


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
