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

from genmod.config import toml
from genmod.config.settings import CONFIG_FORMAT_VERSION, RunConfig
from genmod.contract.errors import ConfigError, RunDirError

#: the name of the configuration file in every run folder
CONFIG_FILE = "config.toml"
#: config.toml keys that describe the run rather than configure it
META_KEYS = (
    "format_version",
    "genmod_version",
    "resolved_binarize",
    "data_shape",
    "condition_dim",
    "data_dir",
    "data_fingerprint",
    "recipe",  # a run: the recipe it came from ("name@version"); a recipe file: its [recipe]
)
#: older run-folder formats that can still be loaded (sampled from), but not resumed
READABLE_FORMATS = (1, CONFIG_FORMAT_VERSION)


@dataclasses.dataclass
class ConfigFile:
    """A parsed config file: the run settings it gives and its data folder (if any)."""

    values: dict[str, Any]
    data_dir: str | None = None


def read_config_file(path: str | Path) -> ConfigFile:
    """Parse and check ``path``: unknown keys and wrong types are errors naming the key."""
    source = str(path)
    data = toml.load(Path(path))
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


def write_config(run_dir: Path, config: RunConfig, extra: dict[str, Any]) -> None:
    """Write ``run_dir/config.toml``: the resolved ``config`` plus the run's metadata.

    ``extra`` holds the :data:`META_KEYS` entries that describe the run (data shape, resolved
    binarization, data fingerprint, ...); the format version and genmod's version are added.
    """
    from genmod import __version__

    data = {"format_version": CONFIG_FORMAT_VERSION, "genmod_version": __version__}
    data.update(extra)
    data.update(config.to_dict())
    toml.dump(data, run_dir / CONFIG_FILE)


def read_config(run_dir: Path) -> tuple[RunConfig, dict[str, Any]]:
    """The run's config and its metadata (format and genmod versions, resolved binarization)."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).exists():
        raise RunDirError(f"{str(run_dir)!r} is not a genmod run folder (no {CONFIG_FILE}).")
    data = toml.load(run_dir / CONFIG_FILE)
    version = data.get("format_version")
    if version not in READABLE_FORMATS:
        raise RunDirError(
            f"{str(run_dir)!r} was written in run-folder format {version!r}; this genmod reads "
            f"formats {', '.join(map(str, READABLE_FORMATS))}. Use the genmod version that wrote "
            f"it ({data.get('genmod_version', 'unknown')})."
        )
    meta = {k: data.pop(k) for k in META_KEYS if k in data}
    _check_meta(meta, str(run_dir / CONFIG_FILE))
    if version == 1:
        data.setdefault("validation_size", 0)  # format 1 had no validation split
    return RunConfig.from_dict(data, source=str(run_dir / CONFIG_FILE)), meta


def _check_meta(meta: dict[str, Any], source: str) -> None:
    """The metadata keys of a run's config.toml have the types genmod writes (the file is
    untrusted input): a clear :class:`RunDirError` naming the key otherwise."""

    def bad(key: str, rule: str) -> RunDirError:
        return RunDirError(f"{source}: {key} = {meta[key]!r}; it must be {rule}.")

    def count(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    shape = meta.get("data_shape")
    if shape is not None and not (
        isinstance(shape, list) and shape and all(count(d) and d >= 1 for d in shape)
    ):
        raise bad("data_shape", "a list of positive integers, such as [28, 28, 1]")
    if "condition_dim" in meta and not count(meta["condition_dim"]):
        raise bad("condition_dim", "an integer >= 0")
    if meta.get("resolved_binarize", "dynamic") not in ("dynamic", "static", "none"):
        raise bad("resolved_binarize", "one of dynamic, static, none")
    if "recipe" in meta and not isinstance(meta["recipe"], (str, dict)):
        raise bad("recipe", 'a string ("name@version") or a [recipe] table')
    for key in ("data_dir", "data_fingerprint", "genmod_version"):
        if key in meta and not isinstance(meta[key], str):
            raise bad(key, "a string")


def require_resumable(run_dir: Path, meta: dict[str, Any]) -> None:
    """Refuse to resume a run folder of an older format (its checkpoints lack the position)."""
    if meta.get("format_version") != CONFIG_FORMAT_VERSION:
        raise RunDirError(
            f"{str(run_dir)!r} was written in run-folder format {meta.get('format_version')!r} "
            f"by genmod {meta.get('genmod_version', 'unknown')}; only format "
            f"{CONFIG_FORMAT_VERSION} runs can be resumed (older ones can still be sampled from)."
        )
