"""Where a run's settings come from, merged in one place: defaults < config file < command line.

:func:`from_command_line` is the one way in for ``genmod run``: it reads ``--config FILE``
(:mod:`genmod.config.files`), merges it under the options given on the command line, and
returns the resolved :class:`~genmod.config.settings.RunConfig`. No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from genmod.config.files import ConfigFile
from genmod.config.settings import BINARIZATIONS, COMPONENT_FIELDS, RunConfig
from genmod.contract.errors import ConfigError
from genmod.contract.options import parse_assignments

if TYPE_CHECKING:
    from genmod.plugins.registry import Registry


def merge(
    defaults: dict[str, Any], file_values: dict[str, Any], given: dict[str, Any]
) -> dict[str, Any]:
    """Run settings from three layers: defaults < config file < options given explicitly.

    Component options (``*_options`` tables) merge key by key, except that when the command
    line names a *different* component than the file, the file's options for it are dropped
    (they belong to the other component).
    """
    values = dict(defaults)
    values.update(file_values)
    for name_field, options_field in COMPONENT_FIELDS.values():
        file_options = dict(file_values.get(options_field, {}))
        if name_field in given and given[name_field] != file_values.get(name_field):
            file_options = {}
        values[options_field] = {**file_options, **given.get(options_field, {})}
    for key, value in given.items():
        if not key.endswith("_options"):
            values[key] = value
    return values


def conflicts(stored: RunConfig, wanted: RunConfig, keys: set[str]) -> list[str]:
    """The settings among ``keys`` where ``wanted`` differs from the ``stored`` run (both
    resolved); ``epochs`` may change on resume and is never a conflict."""
    found = []
    for f in dataclasses.fields(RunConfig):
        if f.name in keys and f.name != "epochs":
            old, new = getattr(stored, f.name), getattr(wanted, f.name)
            if old != new:
                found.append(f"{f.name} (run: {old!r}, given: {new!r})")
    return found


#: RunConfig fields that are one plain value each (not a component or its options).
_COMPONENT_KEYS = {key for pair in COMPONENT_FIELDS.values() for key in pair}
SCALAR_FIELDS = tuple(
    f.name for f in dataclasses.fields(RunConfig) if f.name not in _COMPONENT_KEYS
)


def from_command_line(
    params: dict[str, Any],
    explicit: set[str] | None = None,
    file: ConfigFile | None = None,
    *,
    registry: Registry,
) -> tuple[RunConfig, set[str]]:
    """The resolved :class:`RunConfig` from ``genmod run`` parameters over an optional config
    file, and the settings the user gave (in the file or explicitly on the command line).

    ``explicit`` names the parameters given on the command line (or by environment); the
    others are click's defaults, which a config file overrides. ``None``: all given.
    """
    explicit = set(params) if explicit is None else explicit
    given: dict[str, Any] = {}
    for kind, (name_field, options_field) in COMPONENT_FIELDS.items():
        if name_field in explicit:
            given[name_field] = params[name_field]
        if f"{kind}_opts" in explicit and params[f"{kind}_opts"]:
            given[options_field] = parse_assignments(params[f"{kind}_opts"], f"--{kind}-opt")
    scalar_keys = [key for key in SCALAR_FIELDS if key in params]  # eval_seed has no option
    for key in scalar_keys:
        if key in explicit:
            given[key] = params[key]
    if given.get("binarize", "auto") not in BINARIZATIONS:
        raise ConfigError(
            f"--binarize got {given['binarize']!r}; accepted: {', '.join(BINARIZATIONS)}."
        )
    defaults = {k: params[k] for k in scalar_keys}
    defaults.update({name: params[name] for name, _ in COMPONENT_FIELDS.values()})
    file_values = file.values if file is not None else {}
    values = merge(defaults, file_values, given)
    config = RunConfig(**values).resolve(registry, from_strings=True)
    return config, set(file_values) | set(given)
