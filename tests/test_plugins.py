"""Plugin discovery, registration, conflicts, failures and laziness."""

from __future__ import annotations

import json
import subprocess
import sys
import types
import warnings
from importlib import metadata

import pytest
from click.testing import CliRunner

from genmod import hookimpl
from genmod.cli import cli
from genmod.contract.errors import ConfigError, PluginError
from genmod.contract.options import Option
from genmod.plugins import PluginLoadWarning, get_manager, get_registry, register_plugin

BUILTIN_ENTRY_POINTS = {"mlp", "cnn", "likelihoods", "priors", "posteriors", "objectives", "mnist"}


def _plugin(**hooks):
    module = types.ModuleType("fake_plugin")
    for name, func in hooks.items():
        setattr(module, name, hookimpl(func))
    return module


def test_builtins_come_through_the_entry_point_group():
    points = {ep.name: ep.value for ep in metadata.entry_points(group="genmod")}
    assert BUILTIN_ENTRY_POINTS <= set(points)
    registry = get_registry()
    assert registry.get("encoder", "cnn").plugin == "cnn"
    assert registry.get("decoder", "mlp").plugin == "mlp"
    assert registry.get("dataset", "mnist").plugin == "mnist"
    assert {"bernoulli", "gaussian"} <= set(registry.names("likelihood"))
    assert {"elbo", "beta-vae"} <= set(registry.names("objective"))
    assert "normal" in registry.names("prior")


def test_plugin_registered_at_runtime_appears_in_cli():
    def register_encoders(register):
        register(
            "tiny",
            "genmod_builtins.mlp_networks:MLPEncoder",
            description="a tiny test encoder",
            options=[Option("hidden", "ints", (8,), "widths")],
        )

    register_plugin(_plugin(register_encoders=register_encoders), "tiny-plugin")
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "tiny-plugin (runtime" in result.output
    assert "encoder tiny: a tiny test encoder" in result.output
    data = json.loads(CliRunner().invoke(cli, ["plugins", "--json"]).output)
    tiny = next(p for p in data if p["name"] == "tiny-plugin")
    assert tiny["hooks"] == ["register_encoders"]
    assert tiny["components"][0]["options"][0]["default"] == [8]


def test_duplicate_component_names_are_an_error_naming_both_plugins():
    def register_encoders(register):
        register("mlp", "genmod_builtins.mlp_networks:MLPEncoder")

    register_plugin(_plugin(register_encoders=register_encoders), "copycat")
    with pytest.raises(PluginError) as info:
        get_registry()
    assert "'mlp'" in str(info.value) and "'copycat'" in str(info.value)
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 2
    assert "copycat" in result.output and "registered by two plugins" in result.output


def test_plugin_raising_in_a_hook_warns_once_and_the_rest_works():
    def register_priors(register):
        raise RuntimeError("boom")

    with pytest.warns(PluginLoadWarning, match="'broken'.*RuntimeError: boom") as caught:
        register_plugin(_plugin(register_priors=register_priors), "broken")
        registry = get_registry()
        get_manager()._registry = None
        get_registry()  # rebuilt: no second warning
    assert len([w for w in caught if issubclass(w.category, PluginLoadWarning)]) == 1
    assert "normal" in registry.names("prior")


def test_strict_mode_makes_plugin_failures_fatal(monkeypatch):
    monkeypatch.setenv("GENMOD_STRICT_PLUGINS", "1")

    def register_priors(register):
        raise RuntimeError("boom")

    register_plugin(_plugin(register_priors=register_priors), "broken")
    with pytest.raises(PluginError, match="GENMOD_STRICT_PLUGINS"):
        get_registry()


def test_misspelt_hook_is_reported():
    with pytest.warns(PluginLoadWarning, match="unknown hook 'register_encoder'"):
        register_plugin(_plugin(register_encoder=lambda register: None), "typo")
    assert get_manager().infos["typo"].error


def test_wrong_hook_signature_is_reported():
    with pytest.warns(PluginLoadWarning, match="'badsig'"):
        register_plugin(_plugin(register_encoders=lambda register, extra: None), "badsig")


def test_entry_point_that_fails_to_import_warns_and_cli_works(monkeypatch):
    real = metadata.entry_points

    def fake_entry_points(**kwargs):
        found = list(real(**kwargs))
        if kwargs.get("group") == "genmod":
            found.append(metadata.EntryPoint("ghost", "genmod_no_such_module_xyz", "genmod"))
        return found

    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry = get_registry()
    messages = [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]
    assert len(messages) == 1 and "'ghost'" in messages[0] and "ModuleNotFoundError" in messages[0]
    assert "mlp" in registry.names("encoder")


def test_allow_and_block_lists_apply_before_import(monkeypatch):
    monkeypatch.setenv("GENMOD_DISABLE_PLUGINS", "cnn")
    registry = get_registry()
    assert "cnn" not in registry.names("encoder") and "mlp" in registry.names("encoder")
    from genmod import plugins

    plugins.reset_manager()
    monkeypatch.delenv("GENMOD_DISABLE_PLUGINS")
    monkeypatch.setenv("GENMOD_PLUGINS", "mlp,mnist")
    assert set(get_manager().infos) == {"mlp", "mnist"}


def test_unknown_name_lists_the_available_names():
    with pytest.raises(ConfigError) as info:
        get_registry().get("encoder", "cnnn")
    assert "cnn, mlp" in str(info.value)


def test_commands_hook_adds_a_cli_command():
    import click

    def register_commands(cli):
        @cli.command(name="hello-test")
        def hello():
            click.echo("hello from a plugin")

    register_plugin(_plugin(register_commands=register_commands), "greeter")
    group = click.Group(commands=dict(cli.commands))
    get_manager().add_commands(group)
    result = CliRunner().invoke(group, ["hello-test"])
    assert result.output.strip() == "hello from a plugin"


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["plugins"],
        ["run", "--help"],
        ["sweep", "--help"],
        ["recipes"],
        ["recipes", "cnn-iaf"],
    ],
)
def test_listing_does_not_import_tensorflow(args):
    code = (
        "import sys\n"
        "from genmod.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
        "assert 'keras' not in sys.modules, 'keras was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
