"""`genmod plugins`: what is installed (never imports TensorFlow)."""

from __future__ import annotations

import json
from typing import Any

import click

from genmod.cli import cli, handle_errors
from genmod.plugins import get_manager


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def plugins(as_json: bool) -> None:
    """List installed plugins, their versions, hooks and the components they provide."""
    manager = get_manager()
    registry = manager.registry
    infos = manager.plugin_infos()
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


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
