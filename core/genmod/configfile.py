"""Config files for ``genmod run --config FILE``: TOML with the keys of :class:`RunConfig`.

A run's own ``config.toml`` is a valid config file (its metadata keys are accepted, and its
``data_dir`` is used when ``--data-dir`` is not given), so ``genmod run --config
runs/a/config.toml --out runs/b`` repeats run ``a``. Options given on the command line
override the file. No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from genmod import tomlio
from genmod.config import COMPONENT_FIELDS, CONFIG_FORMAT_VERSION, RunConfig
from genmod.errors import ConfigError
from genmod.rundir import META_KEYS


@dataclasses.dataclass
class ConfigFile:
    """A parsed config file: the run settings it gives and its data folder (if any)."""

    values: dict[str, Any]
    data_dir: str | None = None


def read_config_file(path: str | Path) -> ConfigFile:
    """Parse and check ``path``: unknown keys and wrong types are errors naming the key."""
    source = str(path)
    data = tomlio.load(Path(path))
    version = data.get("format_version")
    if version is not None and (not isinstance(version, int) or version > CONFIG_FORMAT_VERSION):
        raise ConfigError(
            f"{source}: format_version {version!r} is newer than this genmod understands "
            f"({CONFIG_FORMAT_VERSION}); upgrade genmod."
        )
    meta = {k: data.pop(k) for k in META_KEYS if k in data}
    RunConfig.from_dict(data, source=source)  # unknown keys and wrong types, named
    data_dir = meta.get("data_dir")
    if data_dir is not None and not isinstance(data_dir, str):
        raise ConfigError(f"{source}: key 'data_dir' must be a string, got {data_dir!r}.")
    return ConfigFile(data, data_dir)


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
