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


ROOT = GUIDE.parents[1]


def test_the_guide_shows_the_example_plugins_metric_as_it_is():
    """``# from: PATH`` blocks of the guide are copies of files of the repository."""
    copies = dict(re.findall(r"```python\n# from: (\S+)\n(.*?)```", GUIDE.read_text(), re.DOTALL))
    assert "examples/genmod-resnet/src/genmod_resnet/metrics.py" in copies
    for path, text in copies.items():
        assert text == (ROOT / path).read_text(), f"the guide's copy of {path} is out of date"


def _guide_block(defining: str) -> dict:
    """Run the guide's Python block that defines ``defining`` and return its names."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    (block,) = [b for b in blocks if f"class {defining}(" in b]
    names: dict = {}
    exec(compile(block, f"plugin-guide.md:{defining}", "exec"), names)  # noqa: S102
    return names


def test_the_guide_extractor_and_sampler_pass_the_kit():
    from genmod.testing import check_extractor, check_sampler

    check_extractor(_guide_block("HistogramExtractor")["HistogramExtractor"])
    check_sampler(_guide_block("DiagonalGaussianSampler")["DiagonalGaussianSampler"])
