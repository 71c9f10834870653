"""Recipes: named, versioned run configurations shipped with genmod. No TensorFlow here.

A recipe is a plain TOML file in ``genmod/config/recipe_files/`` with the keys of a run's
``config.toml`` (:class:`~genmod.config.settings.RunConfig`) plus a ``[recipe]`` table that
describes it::

    [recipe]
    name = "cnn-iaf"            # the file is cnn-iaf.toml
    version = 1                 # bumped whenever a setting changes
    description = "..."
    [recipe.measured]           # optional: what the recipe gave, with the command that did it
    nll = 88.1                  # nats
    ...

``genmod run --recipe NAME`` trains it; settings merge as defaults < recipe < ``--config
FILE`` < command line, so any option given still wins. ``genmod recipes NAME`` prints the file
to copy and edit; the copy is a valid ``--config`` file (the ``[recipe]`` table is accepted
there and ignored).
"""

from __future__ import annotations

import dataclasses
import re
from importlib import resources
from typing import Any

from genmod.config import toml
from genmod.config.files import ConfigFile, read_config_file
from genmod.contract.errors import ConfigError

__all__ = ["Recipe", "get_recipe", "list_recipes", "recipe_text"]

_FOLDER = "recipe_files"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """One shipped recipe: its name, version, description, the run settings it gives, what it
    measured (``measured``: a table, empty when not yet measured) and its TOML text."""

    name: str
    version: int
    description: str
    settings: ConfigFile
    measured: dict[str, Any]
    text: str

    @property
    def label(self) -> str:
        """``name@version``, as runs record it."""
        return f"{self.name}@{self.version}"


def _files() -> dict[str, Any]:
    folder = resources.files("genmod.config").joinpath(_FOLDER)
    return {
        entry.name[: -len(".toml")]: entry
        for entry in folder.iterdir()
        if entry.name.endswith(".toml") and _NAME.match(entry.name[: -len(".toml")])
    }


def list_recipes() -> list[Recipe]:
    """Every shipped recipe, by name."""
    return [get_recipe(name) for name in sorted(_files())]


def get_recipe(name: str) -> Recipe:
    """The recipe ``name``; an unknown name is a :class:`ConfigError` listing the recipes."""
    files = _files()
    if name not in files:
        raise ConfigError(
            f"--recipe got {name!r}; the shipped recipes are: "
            + (", ".join(sorted(files)) or "none")
            + " (`genmod recipes` lists them with their measured results)."
        )
    entry = files[name]
    with resources.as_file(entry) as path:
        text = path.read_text(encoding="utf-8")
        data = toml.load(path)
        settings = read_config_file(path)
    meta = data.get("recipe")
    source = f"recipe {name!r}"
    if not isinstance(meta, dict) or meta.get("name") != name:
        raise ConfigError(f"{source}: its [recipe] table must give name = {name!r}.")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ConfigError(f"{source}: [recipe] version must be an integer >= 1.")
    measured = meta.get("measured", {})
    if not isinstance(measured, dict):
        raise ConfigError(f"{source}: [recipe.measured] must be a table.")
    return Recipe(
        name=name,
        version=version,
        description=str(meta.get("description", "")),
        settings=settings,
        measured=measured,
        text=text,
    )


def recipe_text(name: str) -> str:
    """The recipe's TOML file, as shipped (to copy and edit)."""
    return get_recipe(name).text
