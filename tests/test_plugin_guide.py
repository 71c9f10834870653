"""The plugin guide's walk-through works as written: its files are assembled from the guide's
code blocks, loaded like an installed plugin, and its own tests pass."""

from __future__ import annotations

import importlib
import importlib.util
import re
import tomllib
from pathlib import Path

from genmod.plugins import get_registry, register_plugin

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugin-guide.md"


def guide_files() -> dict[str, str]:
    """``# file: PATH`` code blocks of the guide, by path."""
    blocks = re.findall(
        r"```(?:python|toml)\n# file: (\S+)\n(.*?)```", GUIDE.read_text(), re.DOTALL
    )
    return dict(blocks)


def test_the_guide_walk_through_builds_a_working_plugin(
    tmp_path, monkeypatch, run_plugin_test_file
):
    files = guide_files()
    assert {
        "pyproject.toml",
        "src/genmod_logistic/plugin.py",
        "src/genmod_logistic/likelihoods.py",
        "tests/test_conformance.py",
    } <= set(files)
    root = tmp_path / "genmod-logistic"
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    project = tomllib.loads((root / "pyproject.toml").read_text())
    entry_points = project["project"]["entry-points"]["genmod"]
    assert entry_points == {"logistic": "genmod_logistic.plugin"}

    monkeypatch.syspath_prepend(str(root / "src"))
    plugin = importlib.import_module(entry_points["logistic"])
    register_plugin(plugin, "logistic")
    assert get_registry().get("likelihood", "logistic").plugin == "logistic"

    assert run_plugin_test_file(root / "tests/test_conformance.py", "genmod_logistic") == 2
