"""The API reference (docs/reference/, built by mkdocs) covers every public module, and every
public name in it has a docstring. The docstring check is the one ``mkdocs build --strict``
runs (docs/_ext/genmod_griffe.py); it needs griffe, installed with the ``docs`` extra."""

from __future__ import annotations

import importlib.util
import logging
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"

#: the modules a plugin author may use (docs/architecture.md, "Public paths for plugin authors")
PUBLIC_MODULES = [
    "genmod",
    "genmod.contract",
    "genmod.contract.components",
    "genmod.contract.options",
    "genmod.contract.errors",
    "genmod.contract.hookspecs",
    "genmod.contract.metrics",
    "genmod.contract.extractors",
    "genmod.contract.samplers",
    "genmod.data",
    "genmod.model.vae",
    "genmod.model.elbo",
    "genmod.model.iwae",
    "genmod.evaluate.sample_quality",
    "genmod.evaluate.disentanglement",
    "genmod.config",
    "genmod.testing",
    "genmod.api",
]
if (ROOT / "core" / "genmod" / "contract" / "observers.py").exists():
    PUBLIC_MODULES.append("genmod.contract.observers")


def documented_modules() -> list[str]:
    found = []
    for page in sorted(REFERENCE.glob("*.md")):
        found += re.findall(r"^::: ([\w.]+)\s*$", page.read_text(), re.MULTILINE)
    return found


def extension():
    pytest.importorskip("griffe")
    spec = importlib.util.spec_from_file_location(
        "genmod_griffe", ROOT / "docs" / "_ext" / "genmod_griffe.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_public_module_has_a_reference_page():
    missing = sorted(set(PUBLIC_MODULES) - set(documented_modules()))
    assert not missing, f"modules missing from docs/reference/: {missing}"


def test_every_page_of_docs_is_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = [p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")]
    missing = sorted(p for p in pages if not p.startswith("_") and p not in nav)
    assert not missing, f"pages missing from mkdocs.yml nav: {missing}"


def test_internal_names_are_marked_internal_on_their_pages():
    ext = extension()
    text = "\n".join(page.read_text() for page in REFERENCE.glob("*.md"))
    unmarked = [
        path
        for path in ext.INTERNAL
        if path.rsplit(".", 1)[-1] not in text and not path.endswith(".tfd")
    ]
    assert not unmarked, f"internal names not listed as internal in docs/reference/: {unmarked}"


def test_every_public_name_has_a_docstring():
    ext = extension()
    import griffe

    loader = griffe.GriffeLoader(search_paths=[str(ROOT / "core")])
    package = loader.load("genmod")
    loader.resolve_aliases(implicit=False, external=False)
    ext._comment_docstrings(package)
    missing = [path for path in ext.missing_docstrings(package) if path not in ext.PENDING]
    assert not missing, (
        "public names without a docstring (write one, or prefix the name with _, or list it "
        f"in INTERNAL in docs/_ext/genmod_griffe.py with the reason): {missing}"
    )


def _fake_package(tmp_path: Path, source: str):
    import griffe

    (tmp_path / "fakepkg").mkdir()
    (tmp_path / "fakepkg" / "__init__.py").write_text(source)
    loader = griffe.GriffeLoader(search_paths=[str(tmp_path)])
    package = loader.load("fakepkg")
    loader.resolve_aliases(implicit=False, external=False)
    return package


def test_the_check_reports_a_public_function_without_a_docstring(tmp_path):
    ext = extension()
    package = _fake_package(
        tmp_path,
        '"""A module."""\n\n'
        "def documented():\n"
        '    """Has one."""\n\n'
        "def bare():\n"
        "    pass\n\n"
        "def _private():\n"
        "    pass\n\n"
        "class Thing:\n"
        '    """A class."""\n\n'
        "    def method(self):\n"
        "        pass\n",
    )
    assert ext.missing_docstrings(package, ["fakepkg"]) == ["fakepkg.Thing.method", "fakepkg.bare"]


def test_a_docstring_naming_a_missing_symbol_is_a_warning(tmp_path, caplog):
    ext = extension()
    package = _fake_package(
        tmp_path,
        '"""See :func:`present` and :class:`~fakepkg.Absent`."""\n\n'
        "def present():\n"
        '    """Here."""\n',
    )
    rendered = {"fakepkg.present": "fakepkg.present"}
    with caplog.at_level(logging.WARNING, logger=ext.logger.name):
        text = ext._rewrite(package, package.docstring.value, package.modules_collection, rendered)
    assert "[`present`][fakepkg.present]" in text
    assert "`Absent`" in text
    assert any("'fakepkg.Absent'" in record.getMessage() for record in caplog.records)
