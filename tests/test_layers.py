"""The package layout: layers import only downward, each sub-package says what it owns, the
layers below the model stay free of TensorFlow, and the paths of genmod 0.1 still import.

The layer order is the one written in docs/architecture.md and genmod/__init__.py.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import genmod

PACKAGE = Path(genmod.__file__).parent

#: bottom to top; a module may import its own layer and the layers before it
LAYERS = (
    "contract",
    "config",
    "plugins",
    "data",
    "model",
    "runs",
    "evaluate",
    "export",
    "pictures",
    "train",
    "testing",
    "api",
    "studies",
    "cli",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    """The layer index of a ``genmod...`` module; ``None`` for the root package ``genmod``
    (which every layer may import for ``__version__`` and ``hookimpl``)."""
    parts = module.split(".")
    if parts[0] != "genmod" or len(parts) == 1:
        return None
    return LAYERS.index(parts[1])


def _is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def imported_modules(source: str) -> list[tuple[int, str]]:
    """``(line, module)`` of every genmod import in ``source``, at any depth (inside
    functions too), except those under ``if TYPE_CHECKING:`` (annotations only)."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if _is_type_checking_block(node):
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names if a.name.startswith("genmod."))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "genmod":
                # `from genmod import config`: a sub-package; `from genmod import hookimpl`: root
                for alias in node.names:
                    sub = f"genmod.{alias.name}"
                    found.append((node.lineno, sub if alias.name in LAYERS else "genmod"))
            elif node.module.startswith("genmod."):
                found.append((node.lineno, node.module))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def upward_imports(module: str, source: str) -> list[str]:
    """Every import in ``source`` (the text of ``module``) of a layer above ``module``'s."""
    own = layer_of(module)
    own = 0 if own is None else own  # the root re-exports `hookimpl` from the contract
    problems = []
    for line, target in imported_modules(source):
        if target == "genmod":
            continue
        if target.split(".")[1] not in LAYERS:
            problems.append(f"{module}:{line} imports {target}, which is in no layer")
            continue
        layer = layer_of(target)
        if layer is not None and layer > own:
            problems.append(
                f"{module}:{line} imports {target} (layer {LAYERS[layer]!r} is above "
                f"{LAYERS[own]!r})"
            )
    return problems


def all_modules() -> list[tuple[str, Path]]:
    return sorted((module_name(p), p) for p in PACKAGE.rglob("*.py"))


def test_no_module_imports_from_a_layer_above_it():
    problems = []
    for module, path in all_modules():
        problems += upward_imports(module, path.read_text(encoding="utf-8"))
    assert not problems, "\n".join(problems)


def test_the_layering_check_catches_upward_imports():
    # a module-level, a function-level and a `from genmod import` upward import are caught
    source = (
        "from genmod.contract.errors import ConfigError\n"
        "from genmod import cli\n"
        "def f():\n"
        "    from genmod.train.loop import RunLoop\n"
    )
    problems = upward_imports("genmod.config.bad", source)
    assert len(problems) == 2 and "genmod.cli" in problems[0] and "train" in problems[1]
    # imports for annotations only are allowed, and so are imports of lower layers
    typed = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from genmod.plugins import X\n"
    )
    assert upward_imports("genmod.config.ok", typed) == []
    assert upward_imports("genmod.cli.ok", source) == []
    # a module outside every layer (a new top-level file) is reported too
    assert upward_imports("genmod.api", "import genmod.helpers\n")


def test_the_layers_are_exactly_the_sub_packages():
    entries = sorted(p.name for p in PACKAGE.iterdir() if p.name != "__pycache__")
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert packages | modules == set(LAYERS), entries
    assert len(entries) <= len(LAYERS) + 1, entries  # the layers and __init__.py


@pytest.mark.parametrize("layer", [layer for layer in LAYERS if layer != "api"])
def test_every_sub_package_says_what_it_owns_and_may_import(layer):
    doc = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text()))
    assert doc and "Owns" in doc and ("import" in doc), f"genmod.{layer} lacks its docstring"


def test_the_layers_below_the_model_do_not_import_tensorflow():
    light = [
        m
        for m, _ in all_modules()
        if m.split(".")[1:2] and m.split(".")[1] in ("config", "plugins", "data", "studies")
    ] + [
        "genmod",
        "genmod.contract",
        "genmod.contract.errors",
        "genmod.contract.options",
        "genmod.contract.hookspecs",
        "genmod.model",
        "genmod.runs.folder",
        "genmod.runs.lock",
        "genmod.runs.compare",
        "genmod.pictures.images",
        "genmod.cli",
        "genmod.cli.app",
        "genmod.cli.commands.sweep",
    ]
    code = (
        "import importlib, json, sys\n"
        f"for m in {light!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(k for k in ('tensorflow', 'keras') if k in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_paths_of_genmod_0_1_import_with_a_deprecation_warning():
    # (old path, a name in it, the new module that holds the name)
    cases = [
        ("genmod.components", "Encoder", "genmod.contract.components"),
        ("genmod.options", "Option", "genmod.contract.options"),
        ("genmod.errors", "ConfigError", "genmod.contract.errors"),
        ("genmod.hookspecs", "hookimpl", "genmod.contract.hookspecs"),
        ("genmod.elbo", "elbo_terms", "genmod.model.elbo"),
        ("genmod.build", "build_model", "genmod.model.assembly"),
        ("genmod.training", "binarize_images", "genmod.model.preprocess"),
        ("genmod.rundir", "read_config", "genmod.config.files"),
        ("genmod.runloop", "checkpoint_prefixes", "genmod.runs.checkpoints"),
        ("genmod.loglik", "iwae_bound", "genmod.model.iwae"),
        ("genmod.commands.run", "run_with_display", "genmod.cli.training"),
    ]
    code = (
        "import importlib, json, warnings\n"
        "out = []\n"
        f"for old, name, new in {cases!r}:\n"
        "    with warnings.catch_warnings(record=True) as caught:\n"
        "        warnings.simplefilter('always')\n"
        "        module = importlib.import_module(old)\n"
        "    same = getattr(module, name) is getattr(importlib.import_module(new), name)\n"
        "    msgs = [str(w.message) for w in caught if w.category is DeprecationWarning]\n"
        "    out.append([old, same, [m for m in msgs if old in m]])\n"
        "print(json.dumps(out))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    for old, same, messages in json.loads(out.stdout.strip().splitlines()[-1]):
        assert same, f"{old} does not give the same object as its new home"
        assert messages and "moved to" in messages[0], f"{old} did not warn"


def test_an_old_path_that_never_existed_is_still_an_import_error():
    with pytest.raises(ImportError):
        __import__("genmod.no_such_module")
