"""Input validation helpers that produce messages naming the field, its units and the value received."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence
from typing import Any

from .errors import ConfigurationError, UnknownNameError

__all__ = [
    "require_positive",
    "require_non_negative",
    "require_finite",
    "require_int",
    "require_in_range",
    "require_choice",
    "require_pair",
    "suggest",
]


def _fmt_units(units: str) -> str:
    return f" [{units}]" if units else ""


def _as_float(name: str, value: Any, units: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise ConfigurationError(f"`{name}` must be a number{_fmt_units(units)}, got {value!r}.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"`{name}` must be a number{_fmt_units(units)}, got {value!r}.") from None


def require_finite(name: str, value: Any, units: str = "") -> float:
    """Return ``value`` as a float, or raise if it is not a finite number."""
    x = _as_float(name, value, units)
    if not math.isfinite(x):
        raise ConfigurationError(f"`{name}` must be finite{_fmt_units(units)}, got {value!r}.")
    return x


def require_positive(name: str, value: Any, units: str = "") -> float:
    """Return ``value`` as a float, or raise if it is not a finite number > 0."""
    x = require_finite(name, value, units)
    if x <= 0:
        raise ConfigurationError(f"`{name}` must be positive{_fmt_units(units)}, got {value!r}.")
    return x


def require_non_negative(name: str, value: Any, units: str = "") -> float:
    """Return ``value`` as a float, or raise if it is not a finite number >= 0."""
    x = require_finite(name, value, units)
    if x < 0:
        raise ConfigurationError(f"`{name}` must be >= 0{_fmt_units(units)}, got {value!r}.")
    return x


def require_in_range(name: str, value: Any, low: float, high: float, units: str = "") -> float:
    """Return ``value`` as a float, or raise if it is outside the closed interval [low, high]."""
    x = require_finite(name, value, units)
    if not low <= x <= high:
        raise ConfigurationError(f"`{name}` must be within [{low}, {high}]{_fmt_units(units)}, got {value!r}.")
    return x


def require_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise if it is not an integer within [minimum, maximum]."""
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
        hasattr(value, "__index__") and not isinstance(value, float)
    ):
        raise ConfigurationError(f"`{name}` must be an integer, got {value!r}.")
    n = int(value)
    if minimum is not None and n < minimum:
        raise ConfigurationError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    if maximum is not None and n > maximum:
        raise ConfigurationError(f"`{name}` must be an integer <= {maximum}, got {value!r}.")
    return n


def require_pair(name: str, value: Any, units: str = "", positive: bool = True) -> tuple[float, float]:
    """Return a scalar or a 2-sequence as a pair of floats (positive unless ``positive=False``)."""
    check = require_positive if positive else require_finite
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        x = check(name, value, units)
        return (x, x)
    if not isinstance(value, Sequence) and not hasattr(value, "__len__") or len(value) != 2:
        raise ConfigurationError(f"`{name}` must be a number or a pair of numbers{_fmt_units(units)}, got {value!r}.")
    return (check(f"{name}[0]", value[0], units), check(f"{name}[1]", value[1], units))


def suggest(value: str, allowed: Iterable[str]) -> str:
    """Return a ``" Did you mean 'x'?"`` hint for a misspelt name, or an empty string."""
    matches = difflib.get_close_matches(str(value), list(allowed), n=1, cutoff=0.6)
    return f" Did you mean {matches[0]!r}?" if matches else ""


def require_choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``; otherwise raise with a did-you-mean hint."""
    allowed = list(allowed)
    if not isinstance(value, str) or value not in allowed:
        hint = suggest(value, allowed) if isinstance(value, str) else ""
        raise UnknownNameError(f"Unknown {name} {value!r}.{hint} Available: {sorted(allowed)}")
    return value
