"""`genmod new-plugin NAME`: write a ready-to-install plugin skeleton."""

from __future__ import annotations

from pathlib import Path

import click

from genmod.cli.common import handle_errors


@click.command(name="new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Folder in which to create genmod-NAME/.",
)
@handle_errors
def new_plugin(name: str, parent: str) -> None:
    """Write a plugin skeleton genmod-NAME/ that installs and passes its test.

    It holds a pyproject.toml declaring the `genmod` entry point, a light hook module
    registering one prior (NAME-normal), the prior itself, and a test that runs genmod's
    conformance kit. Next: pip install -e 'genmod-NAME[test]' and run pytest in it.

    Names that would clash with genmod's built-in plugins (their entry points such as mlp or
    priors, the package genmod_builtins, component names such as bernoulli) are refused, since
    a third-party plugin can never take a built-in's place.
    """
    from genmod.plugins.scaffold import write_skeleton

    root = write_skeleton(name, Path(parent))
    click.echo(f"wrote {root}")
    click.echo(f"next: pip install -e '{root}[test]' && python -m pytest {root}")
