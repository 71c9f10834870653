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


def overlay(base: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    """Settings of a config file (``layer``) over those of a recipe (``base``), with the rule of
    :func:`merge`: a component's options from ``base`` are dropped when ``layer`` names another
    component of that kind."""
    values = {**base, **layer}
    for name_field, options_field in COMPONENT_FIELDS.values():
        kept = dict(base.get(options_field, {}))
        if name_field in layer and layer[name_field] != base.get(name_field):
            kept = {}
        options = {**kept, **layer.get(options_field, {})}
        if options or options_field in values:
            values[options_field] = options
    if "observers" in base or "observers" in layer:
        observers = {name: dict(opts) for name, opts in base.get("observers", {}).items()}
        for name, opts in layer.get("observers", {}).items():
            observers[name] = {**observers.get(name, {}), **opts}
        values["observers"] = observers
    return values


def conflicts(stored: RunConfig, wanted: RunConfig, keys: set[str]) -> list[str]:
    """The settings among ``keys`` where ``wanted`` differs from the ``stored`` run (both
    resolved); ``epochs`` may change on resume and is never a conflict, nor is
    ``precision = "auto"`` (the run recorded the policy it chose)."""
    found = []
    for f in dataclasses.fields(RunConfig):
        if f.name in keys and f.name != "epochs":
            old, new = getattr(stored, f.name), getattr(wanted, f.name)
            if f.name == "precision" and new == "auto":
                continue  # the run recorded the policy that `auto` chose for it
            if old != new:
                found.append(f"{f.name} (run: {old!r}, given: {new!r})")
    return found


#: RunConfig fields that are one plain value each (not a component or its options).
_COMPONENT_KEYS = {key for pair in COMPONENT_FIELDS.values() for key in pair}
#: the :class:`RunConfig` fields that are not component names or options (``--latent-dim``, ...)
SCALAR_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(RunConfig)
    if f.name not in _COMPONENT_KEYS and f.name != "observers"
)


def parse_observers(
    names: Any, opts: Any
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """``--observer NAME`` (repeatable) and ``--observer-opt NAME.KEY=VALUE`` (repeatable; each
    may hold several, separated by ``;``): the chosen names (name -> {}) in the order given, and
    the options by name (name -> {key: value string})."""
    chosen: dict[str, dict[str, str]] = {name: {} for name in names or ()}
    options: dict[str, dict[str, str]] = {}
    for pair in opts or ():
        for item in pair.split(";"):
            item = item.strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            name, dot, option = key.strip().rpartition(".")
            if not sep or not dot or not name or not option:
                raise ConfigError(
                    "--observer-opt: expected NAME.KEY=VALUE (for example "
                    f"jsonl-log.path=events.jsonl), got {item!r}."
                )
            options.setdefault(name, {})[option.replace("-", "_")] = value.strip()
    return chosen, options


def from_command_line(
    params: dict[str, Any],
    explicit: set[str] | None = None,
    file: ConfigFile | None = None,
    *,
    registry: Registry,
    recipe: ConfigFile | None = None,
) -> tuple[RunConfig, set[str]]:
    """The resolved :class:`RunConfig` from ``genmod run`` parameters over an optional config
    file over an optional recipe's settings, and the settings the user gave (in the recipe,
    the file or explicitly on the command line).

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
    file_values = overlay(
        recipe.values if recipe is not None else {}, file.values if file is not None else {}
    )
    values = merge(defaults, file_values, given)
    chosen, observer_opts = parse_observers(
        params.get("observer_names"), params.get("observer_opts")
    )
    observers = {name: dict(opts) for name, opts in file_values.get("observers", {}).items()}
    for name in chosen:
        observers.setdefault(name, {})
    for name, opts in observer_opts.items():
        if name not in observers:
            raise ConfigError(
                f"--observer-opt names the observer {name!r}, which is not chosen; add "
                f"--observer {name} (chosen: {', '.join(observers) or 'none'})."
            )
        observers[name].update(opts)
    values["observers"] = observers
    if chosen or observer_opts:
        given["observers"] = observers
    config = RunConfig(**values).resolve(registry, from_strings=True)
    return config, set(file_values) | set(given)
