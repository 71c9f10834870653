"""`genmod plugins`: what is installed (never imports TensorFlow, unless ``--check``)."""

from __future__ import annotations

import json
from typing import Any

import click

from genmod.cli.common import handle_errors, quiet_tensorflow
from genmod.contract.errors import PluginError
from genmod.plugins import Registry, get_manager


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--check",
    is_flag=True,
    help="Also import every component's factory (this imports TensorFlow) and fail (exit "
    "code 2) if any cannot be loaded.",
)
@handle_errors
def plugins(as_json: bool, check: bool) -> None:
    """List installed plugins, their versions, hooks and the components they provide."""
    manager = get_manager()
    registry = manager.registry
    infos = manager.plugin_infos()
    factory_errors = _check_factories(registry) if check else {}
    if as_json:
        out = []
        for info in infos:
            components = []
            for kind, name in info.components:
                spec = registry.get(kind, name)
                components.append(
                    {
                        "kind": kind,
                        "name": name,
                        "description": spec.description,
                        "options": [
                            {
                                "name": o.name,
                                "type": o.type,
                                "default": _jsonable(o.default),
                                "help": o.help,
                                "choices": list(o.choices) if o.choices else None,
                            }
                            for o in spec.options
                        ],
                    }
                )
                if check:
                    components[-1]["factory_error"] = factory_errors.get((kind, name))
            out.append(
                {
                    "name": info.name,
                    "distribution": info.distribution,
                    "version": info.version,
                    "module": info.module,
                    "hooks": info.hooks,
                    "components": components,
                    "error": info.error,
                    "import_seconds": info.import_seconds,
                }
            )
        click.echo(json.dumps(out, indent=2))
        _report_factory_errors(factory_errors)
        return
    for info in infos:
        origin = f"{info.distribution} {info.version}" if info.distribution else "runtime"
        click.echo(f"{info.name} ({origin}; {info.module})")
        if info.error:
            click.echo(f"  FAILED: {info.error}")
        if info.hooks:
            click.echo(f"  hooks: {', '.join(info.hooks)}")
        for kind, name in info.components:
            spec = registry.get(kind, name)
            click.echo(f"  {kind} {name}: {spec.description}")
            for opt in spec.options:
                click.echo(f"      {opt.describe()}")
            if (kind, name) in factory_errors:
                click.echo(f"      FACTORY FAILED: {factory_errors[kind, name]}")
    if check and not factory_errors:
        from genmod.plugins import KINDS

        count = sum(len(registry.specs(kind)) for kind in KINDS)
        click.echo(f"--check: all {count} component factories imported.")
    _report_factory_errors(factory_errors)


def _check_factories(registry: Registry) -> dict[tuple[str, str], str]:
    """Import every component's factory; (kind, name) -> error message for those that fail."""
    from genmod.plugins import REGISTER_HOOKS

    quiet_tensorflow()
    errors: dict[tuple[str, str], str] = {}
    for kind in REGISTER_HOOKS:  # the component kinds and the observers
        for spec in registry.specs(kind):
            try:
                spec.load()
            except PluginError as exc:
                errors[kind, spec.name] = str(exc)
    return errors


def _report_factory_errors(errors: dict[tuple[str, str], str]) -> None:
    if errors:
        raise PluginError(
            f"{len(errors)} component factory(ies) could not be loaded: "
            + "; ".join(errors.values())
        )


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
