"""Beam-induced dynamics: the sample changes as it is measured.

Every acquisition delivers electrons. The microscope hands each :class:`BeamDynamics` process the
:class:`Exposure` of every chunk of an acquisition (one scan line of a frame, one parked spectrum),
and the process returns the new sample and the events that happened, which the microscope logs.
"""

from __future__ import annotations

from .base import BeamDynamics, Event, Exposure, ProcessSwitches, per_atom_dose

__all__ = ["BeamDynamics", "Event", "Exposure", "ProcessSwitches", "per_atom_dose"]
