"""Declarative component options: parsed from CLI strings or config values, validated, recorded.

A component declares its options when it registers (no TensorFlow needed)::

    Option("hidden", "ints", default=(512, 256), help="hidden layer widths", min=1)

Types: ``int``, ``float``, ``str``, ``bool``, ``ints`` (tuple of ints, written ``512,256`` on the
command line), ``floats``. ``choices`` restricts values; ``min``/``max`` bound numbers (inclusive)
and apply to each element of a list.

A list option may be empty only when its declared default is empty (``Option("shape", "ints",
())``): the author has said "no elements" means something. The empty list is written ``shape=``
on the command line, ``shape = []`` in ``config.toml``, and shown as ``(empty)`` by
``genmod plugins``. A list option with a non-empty default refuses an empty value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from genmod.contract.errors import ConfigError

#: the accepted values of :attr:`Option.type`
OPTION_TYPES = ("int", "float", "str", "bool", "ints", "floats")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Option:
    """One option of a component, with its type, default and constraints."""

    name: str
    type: str
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if self.type not in OPTION_TYPES:
            raise ValueError(f"option {self.name!r}: type must be one of {OPTION_TYPES}")
        if self.type in ("ints", "floats") and isinstance(self.default, list):
            # a list default (`[]`, `[1, 2]`) means the same as the tuple genmod stores
            object.__setattr__(self, "default", tuple(self.default))

    def describe(self) -> str:
        """A one-line human description: name, type, default, constraints."""
        default = format_value(self.default)
        if default == "":
            # an empty list, or a str option with no default: "default )" would read as a typo
            default = "(empty)" if self.type in ("ints", "floats") else "none"
        parts = [f"{self.name} ({self.type}, default {default})"]
        if self.choices:
            parts.append("one of " + ", ".join(map(str, self.choices)))
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        text = "; ".join(parts)
        return f"{text}: {self.help}" if self.help else text

    @property
    def allows_empty(self) -> bool:
        """Whether this list option accepts the empty list (its declared default is empty)."""
        return (
            self.type in ("ints", "floats")
            and isinstance(self.default, (tuple, list))
            and len(self.default) == 0
        )

    def parse(self, raw: str, owner: str) -> Any:
        """Parse a command-line string into a validated value (``""``: the empty list, for a
        list option whose default is empty)."""
        if self.allows_empty and raw.strip() == "":
            return self.validate((), owner)
        try:
            if self.type == "int":
                value: Any = int(raw)
            elif self.type == "float":
                value = float(raw)
            elif self.type == "bool":
                lowered = raw.strip().lower()
                if lowered not in _TRUE | _FALSE:
                    raise ValueError(raw)
                value = lowered in _TRUE
            elif self.type == "ints":
                value = tuple(int(p) for p in _split_list(raw))
            elif self.type == "floats":
                value = tuple(float(p) for p in _split_list(raw))
            else:
                value = raw
        except ValueError:
            raise ConfigError(
                f"{owner}: option {self.name!r} got {raw!r}, which is not a valid {self.type}. "
                f"Accepted: {self.describe()}."
            ) from None
        return self.validate(value, owner)

    def validate(self, value: Any, owner: str) -> Any:
        """Check a typed value (from a config file or a parse); return it normalised."""
        value = self._coerce(value, owner)
        items = value if self.type in ("ints", "floats") else (value,)
        for item in items:
            if isinstance(item, float) and not math.isfinite(item):
                raise ConfigError(
                    f"{owner}: option {self.name!r} got {item!r}; it must be a finite number. "
                    f"Accepted: {self.describe()}."
                )
            if self.choices is not None and item not in self.choices:
                raise ConfigError(
                    f"{owner}: option {self.name!r} got {item!r}; accepted values are "
                    + ", ".join(map(str, self.choices))
                    + "."
                )
            if self.min is not None and item < self.min:
                raise ConfigError(
                    f"{owner}: option {self.name!r} got {item!r}; it must be >= {self.min:g}."
                )
            if self.max is not None and item > self.max:
                raise ConfigError(
                    f"{owner}: option {self.name!r} got {item!r}; it must be <= {self.max:g}."
                )
        return value

    def _coerce(self, value: Any, owner: str) -> Any:
        def bad() -> ConfigError:
            return ConfigError(
                f"{owner}: option {self.name!r} got {value!r} ({type(value).__name__}); "
                f"expected {self.type}. Accepted: {self.describe()}."
            )

        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad()
            return value
        if self.type == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad()
            return float(value)
        if self.type == "bool":
            if not isinstance(value, bool):
                raise bad()
            return value
        if self.type == "str":
            if not isinstance(value, str):
                raise bad()
            return value
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise bad()
        items = tuple(value)
        if not items and not self.allows_empty:
            raise ConfigError(
                f"{owner}: option {self.name!r} got an empty list; it needs at least one "
                f"element. Accepted: {self.describe()}."
            )
        if self.type == "ints":
            if any(isinstance(i, bool) or not isinstance(i, int) for i in items):
                raise bad()
            return items
        if any(isinstance(i, bool) or not isinstance(i, (int, float)) for i in items):
            raise bad()
        return tuple(float(i) for i in items)


def _split_list(raw: str) -> list[str]:
    parts = [p.strip() for p in raw.split(",")]
    if not parts or any(p == "" for p in parts):
        raise ValueError(raw)
    return parts


def format_value(value: Any) -> str:
    """Format a value the way it is written on the command line."""
    if isinstance(value, (tuple, list)):
        return ",".join(format_value(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_assignments(pairs: Sequence[str], owner: str) -> dict[str, str]:
    """Split CLI ``key=value`` strings (each may hold several, separated by ``;``)."""
    result: dict[str, str] = {}
    for pair in pairs:
        for item in pair.split(";"):
            item = item.strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(
                    f"{owner}: expected key=value (for example hidden=512,256), got {item!r}."
                )
            result[key.strip().replace("-", "_")] = value.strip()
    return result


def resolve_options(
    declared: Sequence[Option],
    given: Mapping[str, Any],
    owner: str,
    *,
    from_strings: bool,
) -> dict[str, Any]:
    """Merge given values over declared defaults, validating every one.

    ``from_strings`` says whether values are command-line strings (parsed) or typed values from
    a config file or Python (validated). Unknown names are an error that lists the known ones.
    """
    by_name = {opt.name: opt for opt in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        known = ", ".join(sorted(by_name)) or "(this component takes no options)"
        raise ConfigError(
            f"{owner}: unknown option {', '.join(map(repr, unknown))}. Known options: {known}."
        )
    resolved: dict[str, Any] = {}
    for opt in declared:
        if opt.name in given:
            raw = given[opt.name]
            resolved[opt.name] = (
                opt.parse(raw, owner)
                if from_strings and isinstance(raw, str)
                else opt.validate(raw, owner)
            )
        else:
            resolved[opt.name] = opt.default
    return resolved
