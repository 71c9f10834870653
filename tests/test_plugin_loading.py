"""Robust loading of third-party plugins: real distributions on the path, slow or heavy hook
modules, clashing entry points, bad names, factories that fail when used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
import warnings
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from genmod import hookimpl, plugins
from genmod.cli import cli
from genmod.contract.errors import PluginError
from genmod.plugins import (
    PluginLoadWarning,
    PluginSlowWarning,
    get_manager,
    get_registry,
    register_plugin,
)


def _plugin(**hooks):
    module = types.ModuleType("loading_fixture_plugin")
    for name, func in hooks.items():
        setattr(module, name, hookimpl(func))
    return module


def _fake_distribution(root: Path, name: str, module_source: str) -> None:
    """Lay out an installed distribution (dist-info + module) the way pip would, without pip."""
    module = name.replace("-", "_")
    (root / f"{module}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{module}-0.3.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3.1\n")
    (info / "entry_points.txt").write_text(f"[genmod]\n{name} = {module}\n")


PLUGIN_SOURCE = """
    import os
    from pathlib import Path
    from genmod import hookimpl

    Path(os.environ["MARKER"]).write_text("imported")

    @hookimpl
    def register_priors(register):
        register("fake-prior", "genmod_builtins.priors_impl:StandardNormalPrior",
                 description="a prior from an installed distribution")
"""


def _genmod(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GENMOD_")}
    environment.update(PYTHONPATH=str(tmp_path), MARKER=str(tmp_path / "marker"), **env)
    code = "from genmod.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=environment
    )


def test_an_installed_distribution_is_listed_with_its_name_version_and_hooks(tmp_path):
    _fake_distribution(tmp_path, "genmod-fakeplug", PLUGIN_SOURCE)
    done = _genmod(["plugins", "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    entry = next(p for p in json.loads(done.stdout) if p["name"] == "genmod-fakeplug")
    assert entry["distribution"] == "genmod-fakeplug" and entry["version"] == "0.3.1"
    assert entry["hooks"] == ["register_priors"]
    assert entry["components"][0]["name"] == "fake-prior"
    assert entry["import_seconds"] >= 0
    text = _genmod(["plugins"], tmp_path).stdout
    assert "genmod-fakeplug (genmod-fakeplug 0.3.1; genmod_fakeplug)" in text
    assert "  hooks: register_priors" in text


@pytest.mark.parametrize(
    "env",
    [{"GENMOD_DISABLE_PLUGINS": "genmod-fakeplug"}, {"GENMOD_PLUGINS": "mlp,mnist"}],
)
def test_allow_and_block_lists_stop_the_import_itself(tmp_path, env):
    _fake_distribution(tmp_path, "genmod-fakeplug", PLUGIN_SOURCE)
    done = _genmod(["plugins"], tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert "fake-prior" not in done.stdout
    assert not (tmp_path / "marker").exists(), "the blocked plugin's module was imported"
    assert _genmod(["plugins"], tmp_path).returncode == 0
    assert (tmp_path / "marker").exists()  # the marker works: without the lists it is imported


def _with_extra_entry_points(monkeypatch, *extra: metadata.EntryPoint) -> None:
    real = metadata.entry_points

    def fake_entry_points(**kwargs):
        found = list(real(**kwargs))
        return found + list(extra) if kwargs.get("group") == "genmod" else found

    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)


def test_a_slow_hook_module_is_reported_and_still_loaded(tmp_path, monkeypatch):
    (tmp_path / "genmod_slowpoke.py").write_text(
        "import time\ntime.sleep(0.3)\n" + textwrap.dedent(PLUGIN_SOURCE)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("MARKER", str(tmp_path / "marker"))
    monkeypatch.setenv("GENMOD_PLUGIN_IMPORT_WARN_SECONDS", "0.1")
    _with_extra_entry_points(
        monkeypatch, metadata.EntryPoint("slowpoke", "genmod_slowpoke", "genmod")
    )
    with pytest.warns(PluginSlowWarning, match=r"'slowpoke' .*took 0\.\d s to import"):
        registry = get_registry()
    assert registry.get("prior", "fake-prior").plugin == "slowpoke"
    assert get_manager().infos["slowpoke"].import_seconds >= 0.3


def test_a_hook_module_importing_a_heavy_library_is_reported(tmp_path, monkeypatch):
    (tmp_path / "genmod_fake_heavy_lib.py").write_text("VALUE = 1\n")
    (tmp_path / "genmod_eager.py").write_text(
        "import genmod_fake_heavy_lib\n" + textwrap.dedent(PLUGIN_SOURCE)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("MARKER", str(tmp_path / "marker"))
    monkeypatch.setattr(plugins.manager, "HEAVY_MODULES", ("genmod_fake_heavy_lib",))
    _with_extra_entry_points(monkeypatch, metadata.EntryPoint("eager", "genmod_eager", "genmod"))
    with pytest.warns(PluginSlowWarning, match="'eager'.*imported genmod_fake_heavy_lib"):
        get_registry()


def test_two_distributions_declaring_the_same_plugin_name_are_reported(monkeypatch):
    _with_extra_entry_points(
        monkeypatch, metadata.EntryPoint("mlp", "genmod_builtins.cnn", "genmod")
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry = get_registry()
    messages = [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]
    assert len(messages) == 1 and "two installed distributions declare" in messages[0]
    assert "'mlp'" in messages[0] and "genmod_builtins.cnn" in messages[0]
    assert registry.get("encoder", "mlp").factory == "genmod_builtins.mlp_networks:MLPEncoder"


@pytest.mark.parametrize("name", ["bad/name", "has space", "a=b", "", "-leading"])
def test_component_names_that_would_break_the_cli_or_run_folders_are_refused(name):
    def register_priors(register):
        register(name, "genmod_builtins.priors_impl:StandardNormalPrior")

    register_plugin(_plugin(register_priors=register_priors), "badname")
    with pytest.warns(PluginLoadWarning, match="'badname'.*invalid name"):
        registry = get_registry()
    assert "normal" in registry.names("prior")


def test_a_factory_naming_a_missing_module_is_reported_when_used(tmp_path, mnist_dir):
    def register_encoders(register):
        register("ghost", "genmod_no_such_module_xyz.networks:Encoder", description="typo")

    register_plugin(_plugin(register_encoders=register_encoders), "ghost-plugin")
    listing = CliRunner().invoke(cli, ["plugins"])
    assert listing.exit_code == 0 and "encoder ghost: typo" in listing.output  # lazy: fine
    args = ["run", "--encoder", "ghost", "--decoder", "mlp", "--epochs", "1"]
    args += ["--train-size", "64", "--test-size", "64", "--data-dir", str(mnist_dir)]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "r"), "-q"])
    assert result.exit_code == 2, result.output
    assert "Error: plugin 'ghost-plugin': the encoder 'ghost' could not be loaded" in result.output
    assert "ModuleNotFoundError" in result.output and "Traceback" not in result.output


def test_a_factory_that_raises_is_reported_with_the_plugin_name(monkeypatch):
    from genmod.config import RunConfig
    from genmod.model.assembly import build_model

    def explode(**kwargs):
        raise ValueError("negative width")

    def register_priors(register):
        register("explodes", explode)

    register_plugin(_plugin(register_priors=register_priors), "boom-plugin")
    config = RunConfig(prior="explodes", encoder_options={"hidden": (4,)})
    config = config.resolve(get_registry())
    with pytest.raises(PluginError, match="'boom-plugin'.*ValueError: negative width"):
        build_model(config, get_registry(), (4, 4, 1))
    monkeypatch.setenv("GENMOD_STRICT_PLUGINS", "1")
    with pytest.raises(ValueError, match="negative width"):
        build_model(config, get_registry(), (4, 4, 1))


def test_a_plugin_that_forgot_the_hookimpl_decorator_is_reported():
    module = types.ModuleType("undecorated")
    module.register_priors = lambda register: None  # no @hookimpl
    with pytest.warns(PluginLoadWarning, match="'undecorated'.*register_priors lack the @genmod"):
        register_plugin(module, "undecorated")
    assert "no genmod hook" in get_manager().infos["undecorated"].error


def test_plugins_check_imports_every_factory_and_fails_on_a_missing_one():
    assert CliRunner().invoke(cli, ["plugins", "--check"]).exit_code == 0

    def register_encoders(register):
        register("ghost", "genmod_no_such_module_xyz.networks:Encoder", description="typo")

    register_plugin(_plugin(register_encoders=register_encoders), "ghost-plugin")
    result = CliRunner().invoke(cli, ["plugins", "--check"])
    assert result.exit_code == 2
    assert "FACTORY FAILED: plugin 'ghost-plugin': the encoder 'ghost'" in result.output
    assert "Error: 1 component factory(ies) could not be loaded" in result.output
    as_json = CliRunner().invoke(cli, ["plugins", "--check", "--json"])
    entry = next(p for p in json.loads(as_json.stdout) if p["name"] == "ghost-plugin")
    assert "ModuleNotFoundError" in entry["components"][0]["factory_error"]
    mlp = next(p for p in json.loads(as_json.stdout) if p["name"] == "mlp")
    assert mlp["components"][0]["factory_error"] is None
