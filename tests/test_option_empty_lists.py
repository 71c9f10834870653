"""A list option declared with an empty default (``Option("shape", "ints", ())``): accepted by
the kit, shown readably by ``genmod plugins``, and it survives the command line and
config.toml. List options with a non-empty default still refuse an empty value."""

from __future__ import annotations

import types

import pytest
from click.testing import CliRunner

from genmod import hookimpl
from genmod.cli import cli
from genmod.config import RunConfig
from genmod.contract.errors import ConfigError
from genmod.contract.options import Option, parse_assignments, resolve_options
from genmod.plugins import get_registry, register_plugin
from genmod.testing import check_options

SHAPE = Option("shape", "ints", (), "extra widths; empty: none")


class ShapedDataset:
    def __init__(self, *, shape=()):
        self.shape = shape


def _register_shaped() -> None:
    module = types.ModuleType("empty_default_plugin")

    def register_datasets(register):
        register("shaped", ShapedDataset, description="takes an empty-list option", options=[SHAPE])

    module.register_datasets = hookimpl(register_datasets)
    register_plugin(module, "empty-default")


def test_the_kit_accepts_an_empty_list_default():
    _register_shaped()
    assert check_options("dataset", "shaped") == {"shape": ()}
    assert check_options("dataset", "shaped", {"shape": (3, 4)}) == {"shape": (3, 4)}


def test_genmod_plugins_shows_an_empty_default_readably():
    _register_shaped()
    output = CliRunner().invoke(cli, ["plugins"], catch_exceptions=False).output
    assert "shape (ints, default (empty)): extra widths; empty: none" in output
    assert "default )" not in output


def test_an_empty_list_round_trips_through_the_command_line_and_config_toml(tmp_path):
    from genmod.config import read_config, write_config

    _register_shaped()
    registry = get_registry()
    given = parse_assignments(["shape="], "dataset 'shaped'")
    assert resolve_options([SHAPE], given, "dataset 'shaped'", from_strings=True) == {"shape": ()}
    config = RunConfig(dataset="shaped", dataset_options={"shape": ()}).resolve(registry)
    write_config(tmp_path, config, {"data_shape": [1]})
    assert "shape = []" in (tmp_path / "config.toml").read_text()
    reread, _ = read_config(tmp_path)
    assert reread.resolve(registry).dataset_options == {"shape": ()}


def test_a_list_option_with_a_non_empty_default_refuses_an_empty_value():
    hidden = Option("hidden", "ints", (8,))
    with pytest.raises(ConfigError, match="empty list; it needs at least one element"):
        hidden.validate((), "encoder 'x'")
    with pytest.raises(ConfigError, match="not a valid ints"):
        hidden.parse("", "encoder 'x'")


def test_a_str_option_without_default_reads_as_none_not_a_dangling_parenthesis():
    text = Option("name", "str", "", "the dataset's name").describe()
    assert text == "name (str, default none): the dataset's name"
