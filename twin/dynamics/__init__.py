"""Beam-induced dynamics: the sample changes as it is measured.

Every acquisition delivers electrons. The microscope hands each :class:`BeamDynamics` process the
:class:`Exposure` of every chunk of an acquisition (one scan line of a frame, one parked spectrum),
and the process returns the new sample and the events that happened, which the microscope logs.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..samples.sample import Sample
from ..validation import require_choice
from .base import BeamDynamics, Event, Exposure, ProcessSwitches, per_atom_dose

__all__ = [
    "BeamDynamics",
    "Event",
    "Exposure",
    "ProcessSwitches",
    "per_atom_dose",
    "DYNAMICS_MODELS",
    "default_dynamics",
]

#: The dynamics model of each sample family: (module, class), imported on first use.
DYNAMICS_MODELS: dict[str, tuple[str, str]] = {
    "graphene": ("graphene", "GrapheneDynamics"),
    "mos2-res2": ("alloy", "AlloyDynamics"),
    "ferroelectric": ("ferroelectric", "FerroelectricDynamics"),
}


def default_dynamics(sample: Sample | str, **parameters: Any) -> list[BeamDynamics]:
    """The default beam-dynamics model of a sample family, with its parameters.

    Parameters
    ----------
    sample
        A sample (its ``name`` is the family) or a family name.
    parameters
        Keyword arguments of the model (for example ``processes=["si_jump"]``).
    """
    family = sample.name if isinstance(sample, Sample) else sample
    module, cls = DYNAMICS_MODELS[require_choice("dynamics family", family, DYNAMICS_MODELS)]
    model = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    return [model(**parameters)]
