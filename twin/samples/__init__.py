"""Sample builders: each returns a :class:`Sample` (``ase.Atoms`` plus per-atom labels)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..validation import require_choice
from .ferroelectric import FERROELECTRIC_SITE_CLASSES, build_ferroelectric
from .graphene import GRAPHENE_SITE_CLASSES, build_graphene
from .mos2_res2 import MOS2_RES2_SITE_CLASSES, build_mos2_res2
from .sample import GENERIC_SITE_CLASSES, Sample, validate_element

__all__ = [
    "Sample",
    "build_graphene",
    "build_ferroelectric",
    "FERROELECTRIC_SITE_CLASSES",
    "build_mos2_res2",
    "MOS2_RES2_SITE_CLASSES",
    "build_sample",
    "SAMPLE_BUILDERS",
    "GRAPHENE_SITE_CLASSES",
    "GENERIC_SITE_CLASSES",
    "validate_element",
]

#: Named sample families and their builders.
SAMPLE_BUILDERS: dict[str, Callable[..., Sample]] = {
    "graphene": build_graphene,
    "mos2-res2": build_mos2_res2,
    "ferroelectric": build_ferroelectric,
}


def build_sample(name: str, rng: Any = None, **parameters: Any) -> Sample:
    """Build a sample of the named family (see ``SAMPLE_BUILDERS``) with its parameters."""
    builder = SAMPLE_BUILDERS[require_choice("sample", name, SAMPLE_BUILDERS)]
    return builder(rng=rng, **parameters)
