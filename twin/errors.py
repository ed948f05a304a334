"""Typed errors raised by the twin.

Every error is a :class:`TwinError`. Errors about bad user input also derive from
:class:`ValueError`, so callers can catch either base, in the manner of BoTorch's
``class ConfigurationError(TwinError, ValueError)``.
"""

from __future__ import annotations

__all__ = [
    "TwinError",
    "ConfigurationError",
    "UnknownNameError",
    "FieldOfViewError",
    "StructureFileError",
    "UnsupportedError",
    "CalibrationError",
]


class TwinError(Exception):
    """Base class of every error raised by stemtwin."""


class ConfigurationError(TwinError, ValueError):
    """A parameter is out of range, of the wrong type or has the wrong units."""


class UnknownNameError(ConfigurationError, KeyError):
    """A name (element, engine, detector, sample, ...) is not one of the allowed values."""

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message.
        return str(self.args[0]) if self.args else ""


class FieldOfViewError(ConfigurationError):
    """A requested field of view or probe position lies outside the sample."""


class StructureFileError(ConfigurationError):
    """A structure file cannot be read by ASE, or holds no atoms."""


class UnsupportedError(TwinError, NotImplementedError):
    """An engine cannot produce the requested signal (for example ABF from the fast engine)."""


class CalibrationError(TwinError, RuntimeError):
    """A calibration against abTEM could not be computed or loaded."""
