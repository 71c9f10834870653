"""Shipped recipes: each is a valid configuration, `--recipe` merges under the command line,
and `genmod recipes` lists and prints them."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from genmod.cli import cli
from genmod.config import RunConfig, read_config, read_config_file
from genmod.config.recipes import get_recipe, list_recipes
from genmod.contract.errors import ConfigError
from genmod.plugins import get_registry


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


RECIPES = [r.name for r in list_recipes()]


def test_there_are_recipes():
    assert "cnn-iaf" in RECIPES


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_resolves_against_the_installed_components(name):
    recipe = get_recipe(name)
    assert recipe.version >= 1 and recipe.description
    config = RunConfig.from_dict(recipe.settings.values, source=name).resolve(get_registry())
    assert config.epochs >= 1
    for key, value in recipe.settings.values.items():
        if not key.endswith("_options") and key != "observers":
            assert getattr(config, key) == value, key


@pytest.mark.parametrize("name", RECIPES)
def test_a_printed_recipe_is_a_config_file(tmp_path, name):
    done = invoke("recipes", name)
    assert done.exit_code == 0, done.output
    copy = tmp_path / "my.toml"
    copy.write_text(done.output)
    assert read_config_file(copy).values == get_recipe(name).settings.values


def test_listing_shows_versions_and_measurements():
    done = invoke("recipes")
    assert done.exit_code == 0
    for recipe in list_recipes():
        assert f"{recipe.name}@{recipe.version}:" in done.output
    listed = json.loads(invoke("recipes", "--json").output)
    assert [r["name"] for r in listed] == RECIPES
    assert all("measured" in r for r in listed)


def test_unknown_recipe_is_a_one_line_error(tmp_path):
    for args in (["recipes", "nope"], ["run", "--recipe", "nope", "--out", tmp_path / "r"]):
        done = invoke(*args)
        assert done.exit_code == 2
        assert "--recipe got 'nope'; the shipped recipes are: " in done.output
        assert "cnn-iaf" in done.output and "Traceback" not in done.output
    with pytest.raises(ConfigError):
        get_recipe("../../etc/passwd")


def test_command_line_overrides_the_recipe_and_the_run_records_it(tmp_path, mnist_dir):
    out = tmp_path / "r"
    done = invoke(
        "run",
        "--recipe",
        "cnn-iaf",
        "--encoder",
        "mlp",
        "--decoder",
        "mlp",
        "--posterior",
        "diagonal",
        "--epochs",
        "1",
        "--train-size",
        "256",
        "--validation-size",
        "64",
        "--test-size",
        "64",
        "--latent-dim",
        "4",
        "--data-dir",
        mnist_dir,
        "--out",
        out,
        "-q",
    )
    assert done.exit_code == 0, done.output
    config, meta = read_config(out)
    recipe = get_recipe("cnn-iaf")
    assert meta["recipe"] == recipe.label
    assert (config.encoder, config.posterior, config.epochs, config.latent_dim) == (
        "mlp",
        "diagonal",
        1,
        4,
    )
    # the recipe's iaf options belong to iaf: dropped with another posterior
    assert "steps" not in config.posterior_options
    # what the command line did not give comes from the recipe
    assert config.lr_schedule == recipe.settings.values["lr_schedule"]
    assert (
        config.objective_options["warmup_steps"]
        == (recipe.settings.values["objective_options"]["warmup_steps"])
    )


def test_a_config_file_overrides_the_recipe(tmp_path, fresh_plugins):
    from genmod.config.sources import from_command_line

    file = tmp_path / "over.toml"
    file.write_text('lr_schedule = "cosine"\n[posterior_options]\nsteps = 2\n')
    params = {"config_file": str(file)}
    from genmod.cli.commands.run import run as run_command

    ctx = run_command.make_context("run", ["--config", str(file)])
    params = dict(ctx.params)
    config, given = from_command_line(
        params,
        {"config_file"},
        read_config_file(file),
        registry=get_registry(),
        recipe=get_recipe("cnn-iaf").settings,
    )
    assert config.lr_schedule == "cosine" and config.posterior == "iaf"
    assert config.posterior_options["steps"] == 2  # the file's, over the recipe's 4
    assert config.posterior_options["hidden"] == 128  # the recipe's, kept
    assert "lr_patience" in given  # recipe keys count as given (resume conflicts)
