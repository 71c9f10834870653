"""Plugins cannot hijack or disable the core (issue 12): a plugin command named like an
existing one is refused, a third-party entry point named like a built-in never displaces it,
`genmod new-plugin` refuses built-in names, and every piece of advice in these errors works
when followed (each test runs what the message suggests and checks that it succeeds)."""

from __future__ import annotations

import os
import re
import shutil
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
from genmod.config import RunConfig
from genmod.contract.errors import ConfigError, PluginError
from genmod.plugins import (
    PluginLoadWarning,
    get_manager,
    get_registry,
    register_plugin,
    unregister_plugin,
)

MLP_ENCODER = "genmod_builtins.mlp_networks:MLPEncoder"
MLP_DECODER = "genmod_builtins.mlp_networks:MLPDecoder"


# -- helpers -------------------------------------------------------------------------------------
def _distribution(root: Path, dist: str, entry_point: str, source: str) -> Path:
    """Lay out an installed distribution ``dist`` declaring the genmod entry point
    ``entry_point`` (its hook module written from ``source``), the way pip would."""
    module = dist.replace("-", "_")
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[genmod]\n{entry_point} = {module}\n")
    return info


def _uninstall(root: Path, dist: str) -> None:
    """What `pip uninstall DIST` does to a distribution laid out by :func:`_distribution`."""
    module = dist.replace("-", "_")
    (root / f"{module}.py").unlink()
    shutil.rmtree(root / f"{module}-1.0.dist-info")


def _genmod(args: list[str], root: Path, **env: str) -> subprocess.CompletedProcess:
    """`genmod ARGS` in a fresh process, with ``root`` on the path (the installed fakes)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GENMOD_")}
    environment.update(PYTHONPATH=str(root), **env)
    code = "from genmod.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=environment
    )


def _advice(message: str, what: str) -> str:
    """The value of one `...` piece of advice: ``GENMOD_DISABLE_PLUGINS=``, ``pip uninstall``."""
    found = re.search(rf"`{re.escape(what)}([^`]*)`", message)
    assert found, f"no `{what}...` advice in: {message}"
    return found.group(1)


def _plugin_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]


def _plugin(**hooks):
    module = types.ModuleType("hijack_fixture_plugin")
    for name, func in hooks.items():
        setattr(module, name, hookimpl(func))
    return module


def _entry_points_in_order(monkeypatch, order) -> None:
    """Make importlib.metadata return the genmod entry points in ``order(list)``'s order."""
    real = metadata.entry_points

    def fake(**kwargs):
        found = list(real(**kwargs))
        return order(found) if kwargs.get("group") == "genmod" else found

    monkeypatch.setattr(metadata, "entry_points", fake)


def _third_party_first(points):
    return sorted(points, key=lambda ep: ep.dist.metadata["Name"] == "genmod")


def _builtins_first(points):
    return sorted(points, key=lambda ep: ep.dist.metadata["Name"] != "genmod")


ORDERS = pytest.mark.parametrize(
    "order", [_third_party_first, _builtins_first], ids=["third-party-first", "built-in-first"]
)


def _resolves(**settings) -> RunConfig:
    """What `genmod run` does before TensorFlow: every name looked up, the decoder chosen."""
    return RunConfig(**settings).resolve(get_registry())


@pytest.fixture(autouse=True)
def forget_fake_modules():
    """The fake distributions' hook modules are imported from temporary folders: forget them."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith(("genmod_mlp", "genmod_copycat", "genmod_twin", "genmod_alpha")):
            del sys.modules[name]


# -- commands ------------------------------------------------------------------------------------
HIJACK_RUN = """
    import click
    from genmod import hookimpl

    @hookimpl
    def register_commands(cli):
        @cli.command(name="run")
        def run():
            click.echo("HIJACKED")

        @cli.command(name="hijack-extra")
        def extra():
            click.echo("extra command works")
"""


def test_a_plugin_command_named_run_does_not_replace_genmod_run(tmp_path):
    _distribution(tmp_path, "genmod-hijack", "hijack", HIJACK_RUN)
    done = _genmod(["run", "--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "HIJACKED" not in done.stdout and "--encoder" in done.stdout  # genmod's own run
    assert "'run'" in done.stderr and "'hijack' (from genmod-hijack)" in done.stderr
    assert "genmod itself keeps 'run'" in done.stderr
    extra = _genmod(["hijack-extra"], tmp_path)  # the plugin's other commands still work
    assert extra.returncode == 0 and extra.stdout.strip() == "extra command works"


def test_in_strict_mode_a_command_clash_is_fatal_and_its_advice_works(tmp_path):
    _distribution(tmp_path, "genmod-hijack", "hijack", HIJACK_RUN)
    done = _genmod(["--help"], tmp_path, GENMOD_STRICT_PLUGINS="1")
    assert done.returncode == 2
    error = done.stderr.strip()
    assert error.startswith("Error: ") and "GENMOD_STRICT_PLUGINS" in error
    assert "'run'" in error and "'hijack'" in error and "genmod itself" in error

    disabled = _advice(error, "GENMOD_DISABLE_PLUGINS=")
    assert disabled == "hijack"
    followed = _genmod(
        ["run", "--help"], tmp_path, GENMOD_STRICT_PLUGINS="1", GENMOD_DISABLE_PLUGINS=disabled
    )
    assert followed.returncode == 0, followed.stderr
    assert "--encoder" in followed.stdout and followed.stderr == ""

    assert _advice(error, "pip uninstall ") == "genmod-hijack"
    _uninstall(tmp_path, "genmod-hijack")
    followed = _genmod(["run", "--help"], tmp_path, GENMOD_STRICT_PLUGINS="1")
    assert followed.returncode == 0, followed.stderr


def _owners_and_group():
    import click

    from genmod.cli.app import COMMAND_OWNERS

    return dict(COMMAND_OWNERS), click.Group(commands=dict(cli.commands))


def test_a_clash_between_two_plugins_keeps_the_first_and_names_both():
    import click

    def first(cli):
        @cli.command(name="report")
        def report():
            click.echo("first")

    def second(cli):
        @cli.command(name="report")
        def report():
            click.echo("second")

    register_plugin(_plugin(register_commands=first), "first-plugin")
    register_plugin(_plugin(register_commands=second), "second-plugin")
    owners, group = _owners_and_group()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        get_manager().add_commands(group, owners)
    (message,) = _plugin_warnings(caught)
    assert "'first-plugin'" in message and "'second-plugin'" in message and "'report'" in message
    assert CliRunner().invoke(group, ["report"]).output.strip() == "first"
    assert owners["report"] == "first-plugin"

    # the advice for a runtime plugin: unregister it; followed, nothing is reported
    call = _advice(message, "genmod.plugins.unregister_plugin(")
    assert call == "'second-plugin')"
    unregister_plugin("second-plugin")
    owners, group = _owners_and_group()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_manager().add_commands(group, owners)
    assert CliRunner().invoke(group, ["report"]).output.strip() == "first"


def test_a_plugin_cannot_remove_a_builtin_command(monkeypatch):
    def register_commands(cli):
        cli.commands.pop("run")
        del cli.commands["evaluate"]

    register_plugin(_plugin(register_commands=register_commands), "remover")
    owners, group = _owners_and_group()
    with pytest.warns(PluginLoadWarning, match="'remover' tried to remove the command 'run'"):
        get_manager().add_commands(group, owners)
    assert group.commands["run"] is cli.commands["run"]
    assert group.commands["evaluate"] is cli.commands["evaluate"]
    monkeypatch.setenv("GENMOD_STRICT_PLUGINS", "1")
    owners, group = _owners_and_group()
    with pytest.raises(PluginError, match="remove the command 'run'"):
        get_manager().add_commands(group, owners)
    assert group.commands["run"] is cli.commands["run"]


def test_a_plugin_adding_its_own_command_twice_is_not_a_clash():
    import click

    def register_commands(cli):
        @cli.command(name="twice")
        def twice():
            click.echo("ok")

    register_plugin(_plugin(register_commands=register_commands), "twice-plugin")
    owners, group = _owners_and_group()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_manager().add_commands(group, owners)
        get_manager().add_commands(group, owners)  # main() called again in the same process
    assert CliRunner().invoke(group, ["twice"]).output.strip() == "ok"


# -- entry-point names ---------------------------------------------------------------------------
FAKE_MLP = """
    from genmod import hookimpl

    @hookimpl
    def register_priors(register):
        register("fake-mlp-prior", "genmod_builtins.priors_impl:StandardNormalPrior")
"""


@ORDERS
def test_a_third_party_entry_point_named_like_a_builtin_never_displaces_it(
    tmp_path, monkeypatch, order
):
    _distribution(tmp_path, "genmod-mlp", "mlp", FAKE_MLP)
    monkeypatch.syspath_prepend(str(tmp_path))
    _entry_points_in_order(monkeypatch, order)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry = get_registry()
    (message,) = _plugin_warnings(caught)
    assert "two installed distributions declare the genmod plugin 'mlp'" in message
    assert "genmod's built-in genmod_builtins.mlp" in message and "genmod-mlp" in message
    info = get_manager().infos["mlp"]
    assert info.builtin and info.distribution == "genmod" and info.module == "genmod_builtins.mlp"
    assert registry.get("encoder", "mlp").factory == MLP_ENCODER
    assert "fake-mlp-prior" not in registry.names("prior")
    assert _resolves().decoder == "mlp"  # was: unknown encoder 'mlp'


@ORDERS
def test_in_strict_mode_a_displacing_entry_point_is_fatal_and_uninstalling_it_works(
    tmp_path, monkeypatch, order
):
    _distribution(tmp_path, "genmod-mlp", "mlp", FAKE_MLP)
    monkeypatch.syspath_prepend(str(tmp_path))
    _entry_points_in_order(monkeypatch, order)
    monkeypatch.setenv("GENMOD_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError) as info:
        get_registry()
    message = str(info.value)
    assert "genmod-mlp" in message and "built-in" in message
    assert "GENMOD_DISABLE_PLUGINS=" not in message  # it would skip the built-in too
    _uninstall(tmp_path, _advice(message, "pip uninstall "))
    plugins.reset_manager()
    assert _resolves().encoder == "mlp"


def test_the_displacing_entry_point_from_the_issue_through_the_cli(tmp_path, mnist_dir):
    """The report: a distribution declaring `mlp`, found first on the path, and `genmod run`."""
    _distribution(tmp_path, "genmod-mlp", "mlp", FAKE_MLP)
    args = ["run", "--epochs", "1", "--train-size", "64", "--test-size", "32"]
    args += ["--validation-size", "0", "--encoder-opt", "hidden=8", "--decoder-opt", "hidden=8"]
    args += ["--latent-dim", "2", "--data-dir", str(mnist_dir), "--quiet"]
    done = _genmod([*args, "--out", str(tmp_path / "run")], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "genmod-mlp" in done.stderr and "built-in" in done.stderr


def test_two_third_party_distributions_declaring_one_name_keep_the_first(tmp_path, monkeypatch):
    one = tmp_path / "one"
    two = tmp_path / "two"
    one.mkdir()
    two.mkdir()
    _distribution(one, "genmod-alpha", "shared-name", FAKE_MLP)
    _distribution(two, "genmod-beta", "shared-name", FAKE_MLP.replace("fake-mlp", "beta"))
    monkeypatch.syspath_prepend(str(two))
    monkeypatch.syspath_prepend(str(one))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry = get_registry()
    (message,) = _plugin_warnings(caught)
    assert "genmod-alpha" in message and "genmod-beta" in message
    assert get_manager().infos["shared-name"].distribution == "genmod-alpha"
    assert "fake-mlp-prior" in registry.names("prior")
    _uninstall(two, _advice(message, "pip uninstall "))  # the advice silences the warning
    plugins.reset_manager()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "fake-mlp-prior" in get_registry().names("prior")


def test_a_runtime_plugin_named_like_a_builtin_leaves_the_builtin_alone():
    def register_encoders(register):
        register("other", MLP_ENCODER)

    with pytest.warns(PluginLoadWarning, match="'mlp' was not registered: the name is taken"):
        register_plugin(_plugin(register_encoders=register_encoders), "mlp")
    info = get_manager().infos["mlp"]
    assert info.builtin and info.error is None
    assert get_registry().get("encoder", "mlp").plugin == "mlp"


# -- component clashes: the advice works ---------------------------------------------------------
COPYCAT = """
    from genmod import hookimpl

    @hookimpl
    def register_encoders(register):
        register("mlp", "genmod_builtins.mlp_networks:MLPEncoder", description="a copy")

    @hookimpl
    def register_priors(register):
        register("copycat-prior", "genmod_builtins.priors_impl:StandardNormalPrior")
"""


@ORDERS
def test_a_component_clash_with_a_builtin_advises_removing_the_third_party_one(
    tmp_path, monkeypatch, order
):
    _distribution(tmp_path, "genmod-copycat", "copycat", COPYCAT)
    monkeypatch.syspath_prepend(str(tmp_path))
    _entry_points_in_order(monkeypatch, order)
    with pytest.raises(PluginError) as info:
        get_registry()
    message = str(info.value)
    assert "the encoder name 'mlp' is registered by two plugins" in message
    assert "'mlp' (built-in)" in message and "'copycat' (from genmod-copycat)" in message
    assert _advice(message, "GENMOD_DISABLE_PLUGINS=") == "copycat"  # was: =mlp
    assert _advice(message, "pip uninstall ") == "genmod-copycat"

    monkeypatch.setenv("GENMOD_DISABLE_PLUGINS", "copycat")
    plugins.reset_manager()
    config = _resolves()  # was: no decoder named like the encoder mlp
    assert (config.encoder, config.decoder) == ("mlp", "mlp")
    assert get_registry().get("encoder", "mlp").plugin == "mlp"


def test_the_clash_advice_keeps_what_is_already_disabled(tmp_path, monkeypatch):
    _distribution(tmp_path, "genmod-copycat", "copycat", COPYCAT)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("GENMOD_DISABLE_PLUGINS", "cnn")
    with pytest.raises(PluginError) as info:
        get_registry()
    assert _advice(str(info.value), "GENMOD_DISABLE_PLUGINS=") == "cnn,copycat"


def test_a_component_clash_through_the_cli_and_its_advice(tmp_path, mnist_dir):
    _distribution(tmp_path, "genmod-copycat", "copycat", COPYCAT)
    clash = _genmod(["plugins"], tmp_path)
    assert clash.returncode == 2 and "registered by two plugins" in clash.stderr
    disabled = _advice(clash.stderr, "GENMOD_DISABLE_PLUGINS=")
    args = ["run", "--epochs", "1", "--train-size", "64", "--test-size", "32"]
    args += ["--validation-size", "0", "--encoder-opt", "hidden=8", "--decoder-opt", "hidden=8"]
    args += ["--latent-dim", "2", "--data-dir", str(mnist_dir), "--quiet"]
    args += ["--out", str(tmp_path / "run")]
    followed = _genmod(args, tmp_path, GENMOD_DISABLE_PLUGINS=disabled, GENMOD_STRICT_PLUGINS="1")
    assert followed.returncode == 0, followed.stderr
    assert (tmp_path / "run" / "config.toml").exists()


def test_a_runtime_copycat_is_advised_to_be_unregistered():
    def register_encoders(register):
        register("mlp", MLP_ENCODER)

    register_plugin(_plugin(register_encoders=register_encoders), "copycat")
    with pytest.raises(PluginError) as info:
        get_registry()
    message = str(info.value)
    assert "GENMOD_DISABLE_PLUGINS" not in message  # it would not skip a runtime plugin
    assert _advice(message, "genmod.plugins.unregister_plugin(") == "'copycat')"
    unregister_plugin("copycat")
    assert _resolves().decoder == "mlp"


TWIN_PAIR = """
    from genmod import hookimpl

    @hookimpl
    def register_encoders(register):
        register("twin", "genmod_builtins.mlp_networks:MLPEncoder")

    @hookimpl
    def register_decoders(register):
        register("twin", "genmod_builtins.mlp_networks:MLPDecoder")
"""
TWIN_ENCODER_ONLY = """
    from genmod import hookimpl

    @hookimpl
    def register_encoders(register):
        register("twin", "genmod_builtins.mlp_networks:MLPEncoder")
"""


def _two_twins(tmp_path, monkeypatch, pair_first: bool) -> str:
    _distribution(tmp_path, "genmod-twin-pair", "twin-pair", TWIN_PAIR)
    _distribution(tmp_path, "genmod-twin-encoder", "twin-encoder", TWIN_ENCODER_ONLY)
    monkeypatch.syspath_prepend(str(tmp_path))

    def order(points):
        ranks = {"twin-pair": 0 if pair_first else 1, "twin-encoder": 1 if pair_first else 0}
        return sorted(points, key=lambda ep: ranks.get(ep.name, -1))

    _entry_points_in_order(monkeypatch, order)
    with pytest.raises(PluginError) as info:
        get_registry()
    return str(info.value)


def test_a_clash_of_two_third_party_plugins_advises_removing_one_of_them(tmp_path, monkeypatch):
    message = _two_twins(tmp_path, monkeypatch, pair_first=True)
    assert "'twin-pair' (from genmod-twin-pair)" in message
    assert "'twin-encoder' (from genmod-twin-encoder)" in message
    assert "built-in" not in message.split("A built-in plugin is never")[0]
    disabled = _advice(message, "GENMOD_DISABLE_PLUGINS=")
    assert disabled == "twin-encoder" and "--decoder" not in message
    monkeypatch.setenv("GENMOD_DISABLE_PLUGINS", disabled)
    plugins.reset_manager()
    assert _resolves(encoder="twin").decoder == "twin"


def test_advice_that_removes_a_decoder_others_need_says_what_to_pass(tmp_path, monkeypatch):
    message = _two_twins(tmp_path, monkeypatch, pair_first=False)
    disabled = _advice(message, "GENMOD_DISABLE_PLUGINS=")
    assert disabled == "twin-pair"  # it also takes the decoder 'twin' away ...
    assert "`--encoder twin` then needs `--decoder NAME`" in message  # ... and says so
    left = re.search(r"decoders left: ([^)]*)\)", message).group(1).split(", ")
    assert "mlp" in left and "twin" not in left

    monkeypatch.setenv("GENMOD_DISABLE_PLUGINS", disabled)
    plugins.reset_manager()
    with pytest.raises(ConfigError, match="no decoder named like the encoder 'twin'"):
        _resolves(encoder="twin")  # what happens without the second half of the advice
    config = _resolves(encoder="twin", decoder="mlp")
    assert config.decoder == "mlp" and get_registry().get("encoder", "twin").plugin == (
        "twin-encoder"
    )


# -- new-plugin ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, clash",
    [
        ("mlp", "'mlp'"),  # a built-in entry point
        ("genmod-priors", "'priors'"),  # the same, with the distribution prefix
        ("learned_priors", "'learned-priors'"),  # entry point learned_priors
        ("builtins", "'builtins'"),  # the package genmod_builtins
        ("bernoulli", "'bernoulli'"),  # a built-in component
        ("learned", "'learned-normal'"),  # its prior learned-normal is a built-in prior
    ],
)
def test_new_plugin_refuses_names_that_clash_with_builtins(tmp_path, name, clash):
    result = CliRunner().invoke(cli, ["new-plugin", name, "--dir", str(tmp_path)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "reserved" in lines[0]
    assert clash in lines[0] and "mlp, mnist" in lines[0]  # the reserved names are listed
    assert list(tmp_path.iterdir()) == []
    suggested = re.search(r"such as '([^']+)'", lines[0]).group(1)  # the advice works too
    ok = CliRunner().invoke(cli, ["new-plugin", suggested, "--dir", str(tmp_path)])
    assert ok.exit_code == 0, ok.output


def test_new_plugin_reads_the_reserved_names_from_the_installed_entry_points(tmp_path, monkeypatch):
    builtin = next(ep for ep in metadata.entry_points(group="genmod") if ep.name == "mlp")
    shiny = metadata.EntryPoint("shiny", builtin.value, "genmod")._for(builtin.dist)
    real = metadata.entry_points

    def fake(**kwargs):
        found = list(real(**kwargs))
        return [*found, shiny] if kwargs.get("group") == "genmod" else found

    monkeypatch.setattr(metadata, "entry_points", fake)
    result = CliRunner().invoke(cli, ["new-plugin", "shiny", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "'shiny'" in result.output and "reserved" in result.output
    from genmod.plugins.scaffold import reserved_names

    assert "shiny" in reserved_names()
    with pytest.raises(ConfigError):
        from genmod.plugins.scaffold import write_skeleton

        write_skeleton("shiny", tmp_path)
