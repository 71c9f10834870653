"""`genmod new-plugin` writes a skeleton that declares its entry point and passes its test."""

from __future__ import annotations

import importlib
import importlib.util
import tomllib

from click.testing import CliRunner

from genmod.cli import cli
from genmod.plugins import get_registry, register_plugin


def test_skeleton_declares_its_entry_point_and_passes_its_own_test(
    tmp_path, monkeypatch, run_plugin_test_file
):
    result = CliRunner().invoke(cli, ["new-plugin", "genmod-Tiny-Priors", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "genmod-tiny-priors"
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["project"]["name"] == "genmod-tiny-priors"
    assert project["project"]["entry-points"]["genmod"] == {
        "tiny-priors": "genmod_tiny_priors.plugin"
    }

    # What `pip install` would do, minus pip: the package on the path, the entry point loaded.
    monkeypatch.syspath_prepend(str(root / "src"))
    plugin = importlib.import_module("genmod_tiny_priors.plugin")
    assert "tensorflow" not in plugin.__dict__  # the hook module stays light
    register_plugin(plugin, "tiny-priors")
    assert get_registry().get("prior", "tiny-priors-normal").plugin == "tiny-priors"

    assert run_plugin_test_file(root / "tests/test_conformance.py", "genmod_tiny_priors") == 2


def test_bad_names_and_occupied_folders_are_clear_errors(tmp_path):
    bad = CliRunner().invoke(cli, ["new-plugin", "9 lives", "--dir", str(tmp_path)])
    assert bad.exit_code == 2 and "not a usable plugin name" in bad.output
    (tmp_path / "genmod-taken" / "x").mkdir(parents=True)
    taken = CliRunner().invoke(cli, ["new-plugin", "taken", "--dir", str(tmp_path)])
    assert taken.exit_code == 2 and "is not empty" in taken.output
