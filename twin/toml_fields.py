"""Checks of the fields of TOML files (scenarios, dataset specs), with errors that say where and what.

Every check takes the error class first, then the file (``source``), the field's location
(``where``, e.g. ``"[budget].steps"``) and the value; a bad value raises
``error("FILE: [section].field: expected …, got …")``. Loaders bind their own error class with
:func:`functools.partial`. :func:`read_named_toml` reads a file given by path or by the name of a
shipped one, never executing anything (``tomllib``).
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigurationError

__all__ = [
    "fail",
    "got",
    "check_str",
    "check_int",
    "check_bool",
    "check_table",
    "check_keys",
    "read_named_toml",
    "plain",
]

ErrorType = type[ConfigurationError]


def fail(error: ErrorType, source: str, where: str, message: str) -> ConfigurationError:
    """The error ``FILE: where: message`` (FILE is the file's name)."""
    return error(f"{Path(source).name}: {where}: {message}")


def got(value: Any) -> str:
    """``value`` and its type, for messages."""
    return f"{value!r} ({type(value).__name__})"


def _hint(name: str, options: list[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_str(error: ErrorType, source: str, where: str, value: Any, choices: Iterable[str] | None = None) -> str:
    """A non-empty string, one of ``choices`` when given."""
    if not isinstance(value, str) or not value.strip():
        raise fail(error, source, where, f"expected a non-empty string, got {got(value)}")
    if choices is not None:
        options = sorted(choices)
        if value not in options:
            raise fail(error, source, where, f"expected one of {options}, got {value!r}{_hint(value, options)}")
    return value


def check_int(error: ErrorType, source: str, where: str, value: Any, low: int, high: int) -> int:
    """An integer (not a bool) in ``low..high``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise fail(error, source, where, f"expected an integer in {low}..{high}, got {got(value)}")
    return int(value)


def check_positive(error: ErrorType, source: str, where: str, value: Any, units: str) -> float:
    """A finite number > 0 [units]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not value > 0:
        raise fail(error, source, where, f"expected a finite number > 0 [{units}], got {got(value)}")
    return float(value)


def check_bool(error: ErrorType, source: str, where: str, value: Any) -> bool:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        raise fail(error, source, where, f"expected true or false, got {got(value)}")
    return value


def check_table(error: ErrorType, source: str, where: str, value: Any) -> dict[str, Any]:
    """A TOML table, as a dict."""
    if not isinstance(value, Mapping):
        raise fail(error, source, where, f"expected a table, got {got(value)}")
    return dict(value)


def check_keys(error: ErrorType, source: str, section: str, table: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Refuse keys of ``table`` outside ``allowed``, with a did-you-mean hint."""
    options = sorted(allowed)
    for key in table:
        if key not in options:
            raise fail(error, source, f"[{section}].{key}", f"unknown field{_hint(str(key), options)}; expected one of {options}")


def read_named_toml(error: ErrorType, name_or_path: str | Path, shipped: Mapping[str, Path], kind: str) -> tuple[dict[str, Any], Path]:
    """Parse a TOML file given by path, or a shipped one by name.

    Parameters
    ----------
    error
        Error class to raise.
    name_or_path
        A key of ``shipped`` or a path.
    shipped
        Shipped names → files.
    kind
        What the file is, for messages (``"scenario"``, ``"dataset spec"``).

    Returns
    -------
    (data, path)
    """
    text = str(name_or_path)
    path = Path(text)
    if text in shipped and not path.exists():
        path = shipped[text]
    elif not (path.suffix == ".toml" or path.exists()):
        close = difflib.get_close_matches(text, list(shipped), n=1, cutoff=0.5)
        extra = f" Did you mean {close[0]!r}?" if close else ""
        raise error(f"Unknown {kind} {text!r}.{extra} Shipped: {sorted(shipped)}; or pass a .toml file.")
    if not path.is_file():
        raise error(f"{path}: no such {kind} file.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"{path}: cannot read the file: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise error(f"{path}: not valid TOML: {err}") from None
    return data, path


def plain(value: Any) -> Any:
    """``value`` with mappings as dicts (string keys) and tuples as lists: JSON-ready."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
