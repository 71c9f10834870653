"""Conformance of a component's declared options (no TensorFlow needed)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genmod.config import COMPONENT_FIELDS, RunConfig
from genmod.config import files as config_files
from genmod.contract.errors import ConfigError, GenmodError
from genmod.contract.options import format_value, parse_assignments, resolve_options
from genmod.plugins import (
    EVALUATION_HOOKS,
    KINDS,
    METRIC_KIND,
    ComponentSpec,
    Registry,
    accepts_keywords,
    get_registry,
)
from genmod.testing.errors import ConformanceError, require

#: a name no component may declare as an option, used to check unknown options are refused
_UNKNOWN_OPTION = "surely_not_an_option_of_this_component"


def lookup(kind: str, name: str, registry: Registry | None) -> tuple[Registry, ComponentSpec]:
    """The registry and the spec of a registered component (a clear failure when missing)."""
    kinds = (*KINDS, *EVALUATION_HOOKS)
    require(kind in kinds, f"{kind} {name!r}", f"unknown kind; kinds are {', '.join(kinds)}")
    registry = registry or get_registry()
    try:
        return registry, registry.get(kind, name)
    except GenmodError as exc:
        raise ConformanceError(f"{kind} {name!r} is not registered: {exc}") from None


def _config_for(kind: str, name: str, options: Mapping[str, Any], registry: Registry) -> RunConfig:
    """A run configuration that selects this component (the rest keep genmod's defaults)."""
    name_field, options_field = COMPONENT_FIELDS[kind]
    values: dict[str, Any] = {name_field: name, options_field: dict(options)}
    if kind == "encoder" and name not in registry.names("decoder"):
        values["decoder"] = registry.names("decoder")[0] if registry.names("decoder") else None
    if kind == "decoder":
        encoders = registry.names("encoder")
        values["encoder"] = name if name in encoders else (encoders[0] if encoders else name)
    return RunConfig(**values)


def check_options(
    kind: str,
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    registry: Registry | None = None,
) -> dict[str, Any]:
    """Check the options a registered component declares; return its resolved options.

    ``options`` (typed values, as in Python or a config file) are merged over the defaults.
    The checks: every default passes its own validation; the factory accepts every declared
    option as a keyword; each value survives the command line (formatted as ``KEY=VALUE`` and
    parsed back) and the run folder's ``config.toml`` (written and read back); an unknown
    option is refused with a :class:`genmod.contract.errors.ConfigError`.

    The evaluation kinds (``metric``, ``extractor``, ``sampler``) are not part of a run's
    configuration: their values must survive the option of ``genmod evaluate`` instead
    (``--metric-opt NAME.KEY=VALUE``, ``--extractor-opt KEY=VALUE``, ``--sampler-opt
    KEY=VALUE``, parsed by genmod's own parsers) and the JSON records they are written to
    (``evaluation.json``, ``RUN/samplers/NAME.json``).
    """
    registry, spec = lookup(kind, name, registry)
    who = f"{kind} {name!r} (plugin {spec.plugin!r})"
    names = [opt.name for opt in spec.options]
    require(len(set(names)) == len(names), who, f"declares an option twice: {names}")
    for opt in spec.options:
        try:
            normalised = opt.validate(opt.default, who)
        except ConfigError as exc:
            raise ConformanceError(
                f"{who}: the default of option {opt.name!r} is invalid: {exc}"
            ) from None
        require(
            normalised == opt.default,
            who,
            f"the default of option {opt.name!r} is {opt.default!r}, which validates to "
            f"{normalised!r}; declare it in its normal form (tuples for lists, floats for "
            "floats) so recorded configurations compare equal",
        )
    factory = spec.load()
    require(
        accepts_keywords(factory, names),
        who,
        f"its factory {spec.factory!r} does not accept all declared options {names} as keywords",
    )
    if kind in EVALUATION_HOOKS:
        return _check_evaluation_options(kind, spec, options or {}, who)

    config = _config_for(kind, name, options or {}, registry)
    options_field = COMPONENT_FIELDS[kind][1]
    try:
        resolved = config.resolve(registry)
    except ConfigError as exc:
        raise ConformanceError(
            f"{who}: the options {dict(options or {})} do not resolve: {exc}"
        ) from None
    values = getattr(resolved, options_field)

    as_strings = {key: format_value(value) for key, value in values.items()}
    from_cli = getattr(
        _config_for(kind, name, as_strings, registry).resolve(registry, from_strings=True),
        options_field,
    )
    require(
        from_cli == values,
        who,
        f"options do not survive the command line: {as_strings} parsed back as {from_cli}, "
        f"expected {values}",
    )

    with tempfile.TemporaryDirectory() as folder:
        config_files.write_config(Path(folder), resolved, {"data_shape": [1]})
        reread, _ = config_files.read_config(Path(folder))
    from_toml = getattr(reread.resolve(registry), options_field)
    require(
        from_toml == values,
        who,
        f"options do not survive config.toml: read back {from_toml}, expected {values}",
    )

    unknown = _config_for(kind, name, {**values, _UNKNOWN_OPTION: 1}, registry)
    try:
        unknown.resolve(registry)
    except ConfigError:
        pass
    else:
        raise ConformanceError(f"{who}: an unknown option was accepted")
    return dict(values)


def _check_evaluation_options(
    kind: str, spec: ComponentSpec, options: Mapping[str, Any], who: str
) -> dict[str, Any]:
    """:func:`check_options` for a metric, extractor or sampler: the given values resolve,
    survive ``genmod evaluate``'s option parsing and a JSON record, and an unknown option is
    refused."""
    try:
        values = resolve_options(spec.options, dict(options), who, from_strings=False)
    except ConfigError as exc:
        raise ConformanceError(
            f"{who}: the options {dict(options)} do not resolve: {exc}"
        ) from None

    as_strings = [f"{key}={format_value(value)}" for key, value in values.items()]
    try:
        if kind == METRIC_KIND:
            from genmod.evaluate.suite import parse_metric_options

            parsed = parse_metric_options([f"{spec.name}.{pair}" for pair in as_strings])
            given: Mapping[str, Any] = parsed.get(spec.name, {})
        else:
            given = parse_assignments(as_strings, f"--{kind}-opt")
        from_cli = resolve_options(spec.options, given, who, from_strings=True)
    except ConfigError as exc:
        raise ConformanceError(
            f"{who}: options do not survive the command line ({'; '.join(as_strings)}): {exc}"
        ) from None
    require(
        from_cli == values,
        who,
        f"options do not survive the command line: {as_strings} parsed back as {from_cli}, "
        f"expected {values}",
    )

    try:
        recorded = json.loads(json.dumps(values, allow_nan=False))
        from_json = resolve_options(spec.options, recorded, who, from_strings=False)
    except (TypeError, ValueError) as exc:
        raise ConformanceError(
            f"{who}: options cannot be recorded as JSON ({type(exc).__name__}: {exc})"
        ) from None
    require(
        from_json == values,
        who,
        f"options do not survive a JSON record: read back {from_json}, expected {values}",
    )

    try:
        resolve_options(spec.options, {**values, _UNKNOWN_OPTION: 1}, who, from_strings=False)
    except ConfigError:
        pass
    else:  # pragma: no cover - resolve_options always refuses unknown names
        raise ConformanceError(f"{who}: an unknown option was accepted")
    return dict(values)
