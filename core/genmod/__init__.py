"""genmod: a plugin-based framework for deep generative models on TensorFlow Probability.

Importing :mod:`genmod` is cheap: it does not import TensorFlow. The code is layered; each
layer is a sub-package that may import only the layers before it (docs/architecture.md;
``tests/test_layers.py`` enforces it)::

    contract -> config -> plugins -> data -> model -> runs -> evaluate -> export -> pictures
             -> train -> testing -> api -> studies -> cli

Plugin authors import from :mod:`genmod.contract` (interfaces, options, errors, ``hookimpl``),
:mod:`genmod.data` (datasets), :mod:`genmod.testing` (the conformance kit) and
:mod:`genmod.api` (the Python API). The module paths of genmod 0.1 (``genmod.components``,
``genmod.options``, ``genmod.training``, ...) still import, with a :class:`DeprecationWarning`
naming the new path; they go away in the next release.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from typing import Any

from genmod.contract.hookspecs import hookimpl

#: genmod's version, a PEP 440 string (also recorded in every run's ``config.toml``)
__version__ = "0.1.0"

__all__ = ["hookimpl", "__version__"]

#: module path of genmod 0.1 -> the modules that now hold its names (first match wins)
MOVED_MODULES: dict[str, tuple[str, ...]] = {
    "genmod.components": ("genmod.contract.components",),
    "genmod.hookspecs": ("genmod.contract.hookspecs",),
    "genmod.errors": ("genmod.contract.errors",),
    "genmod.options": ("genmod.contract.options",),
    "genmod.configfile": ("genmod.config.files", "genmod.config.sources"),
    "genmod.tomlio": ("genmod.config.toml",),
    "genmod.scaffold": ("genmod.plugins.scaffold",),
    "genmod.build": ("genmod.model.assembly",),
    "genmod.elbo": ("genmod.model.elbo",),
    "genmod.training": ("genmod.train.trainer", "genmod.model.preprocess"),
    "genmod.precision": ("genmod.train.precision",),
    "genmod.distribute": ("genmod.train.distribute",),
    "genmod.runloop": (
        "genmod.train.loop",
        "genmod.train.splits",
        "genmod.train.signals",
        "genmod.runs.checkpoints",
    ),
    "genmod.rundir": ("genmod.runs.folder", "genmod.config.files"),
    "genmod.tensorboard": ("genmod.runs.tensorboard",),
    "genmod.evaluation": ("genmod.evaluate.elbo",),
    "genmod.loglik": ("genmod.evaluate.loglik", "genmod.model.iwae"),
    "genmod.run_evaluation": ("genmod.evaluate.run",),
    "genmod.visuals": ("genmod.pictures.figures",),
    "genmod.quiet_import": ("genmod.cli.quiet_import",),
    "genmod.commands": ("genmod.cli.commands",),
    "genmod.commands.run": ("genmod.cli.commands.run", "genmod.cli.training"),
    "genmod.commands.runs": ("genmod.cli.commands.runs",),
    "genmod.commands.plugins": ("genmod.cli.commands.plugins",),
    "genmod.commands.evaluate": ("genmod.cli.commands.evaluate",),
    "genmod.commands.pictures": ("genmod.cli.commands.pictures",),
    "genmod.commands.resume": ("genmod.cli.commands.resume",),
    "genmod.commands.new_plugin": ("genmod.cli.commands.new_plugin",),
}


class _MovedModule(types.ModuleType):
    """Stands in for a module of genmod 0.1: its names are read from the new modules."""

    def __init__(self, name: str, targets: tuple[str, ...]) -> None:
        super().__init__(name, f"Moved: use {targets[0]} (deprecated alias).")
        self._targets = targets

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        for target in self._targets:
            module = importlib.import_module(target)
            if hasattr(module, attr):
                return getattr(module, attr)
        raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")


def _importer_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the ``import`` statement, past importlib."""
    frame, level = sys._getframe(1), 1
    while frame is not None and (
        frame.f_code.co_filename.startswith("<frozen importlib")
        or frame.f_code.co_filename == __file__
    ):
        frame, level = frame.f_back, level + 1
    return level


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the paths in :data:`MOVED_MODULES` as :class:`_MovedModule` objects."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in MOVED_MODULES:
            return None
        is_package = any(name.startswith(fullname + ".") for name in MOVED_MODULES)
        return importlib.machinery.ModuleSpec(fullname, self, is_package=is_package)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        targets = MOVED_MODULES[spec.name]
        warnings.warn(
            f"{spec.name} has moved to {targets[0]}; the old path is deprecated and goes away "
            "in the next genmod release (docs/architecture.md lists the new paths).",
            DeprecationWarning,
            stacklevel=_importer_stacklevel(),
        )
        module = _MovedModule(spec.name, targets)
        if spec.submodule_search_locations is not None:
            module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())
