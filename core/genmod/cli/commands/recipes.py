"""`genmod recipes`: the shipped recipes and what they measured (never imports TensorFlow)."""

from __future__ import annotations

import json

import click

from genmod.cli.common import handle_errors
from genmod.config.recipes import get_recipe, list_recipes


def _measured_line(measured: dict) -> str:
    if not measured:
        return "not measured yet"
    parts = []
    if "nll" in measured:
        where = ", ".join(
            str(p)
            for p in (
                f"K={measured['num_samples']}" if "num_samples" in measured else None,
                f"{measured['test_images']} test images" if "test_images" in measured else None,
            )
            if p
        )
        parts.append(f"NLL {measured['nll']:.2f} nats" + (f" ({where})" if where else ""))
    if "test_elbo" in measured:
        parts.append(f"test ELBO {measured['test_elbo']:.2f}")
    if "train_minutes" in measured:
        parts.append(f"{measured['train_minutes']:.0f} min of training")
    if "machine" in measured:
        parts.append(str(measured["machine"]))
    if "date" in measured:
        parts.append(str(measured["date"]))
    return "; ".join(parts) or "measured (see the file)"


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def recipes(name: str | None, as_json: bool) -> None:
    """List the shipped recipes with their measured results, or print recipe NAME.

    A recipe is a plain TOML run configuration: `genmod run --recipe NAME` trains it (options
    given on the command line override it), and `genmod recipes NAME > my.toml` gives a copy
    to edit and train with `genmod run --config my.toml`.
    """
    if name is not None:
        recipe = get_recipe(name)
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "name": recipe.name,
                        "version": recipe.version,
                        "description": recipe.description,
                        "settings": recipe.settings.values,
                        "measured": recipe.measured,
                    },
                    indent=2,
                )
            )
        else:
            click.echo(recipe.text, nl=False)
        return
    found = list_recipes()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": r.name,
                        "version": r.version,
                        "description": r.description,
                        "measured": r.measured,
                    }
                    for r in found
                ],
                indent=2,
            )
        )
        return
    for recipe in found:
        click.echo(f"{recipe.label}: {recipe.description}")
        click.echo(f"    measured: {_measured_line(recipe.measured)}")
    click.echo("\n`genmod recipes NAME` prints one; `genmod run --recipe NAME` trains it.")
