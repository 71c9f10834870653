"""Layer 1 (bottom), contract: what a plugin author writes against.

Owns the component interfaces (:mod:`~genmod.contract.components`: encoders, decoders,
likelihoods, priors, posterior families, objectives), the hook specifications
(:mod:`~genmod.contract.hookspecs`), component option declarations
(:mod:`~genmod.contract.options`), run observers (:mod:`~genmod.contract.observers`), the
data supports and bits per dimension (:mod:`~genmod.contract.units`) and the
user-error classes (:mod:`~genmod.contract.errors`).
Imports no other genmod layer.

Everything is importable from here: ``from genmod.contract import Encoder, Option,
ConfigError, hookimpl``. The interfaces import TensorFlow, so they are looked up on first use:
a hook module that imports only :class:`Option` and ``hookimpl`` stays free of TensorFlow.
"""

from __future__ import annotations

from typing import Any

from genmod.contract.errors import ConfigError, DataError, GenmodError, PluginError, RunDirError
from genmod.contract.hookspecs import hookimpl, hookspec
from genmod.contract.observers import RUN_STATUSES, RunObserver
from genmod.contract.options import OPTION_TYPES, Option

_COMPONENTS = (
    "Decoder",
    "Encoder",
    "Likelihood",
    "Objective",
    "ObjectiveOutput",
    "PosteriorFamily",
    "Prior",
)

__all__ = [
    "OPTION_TYPES",
    "RUN_STATUSES",
    "ConfigError",
    "DataError",
    "GenmodError",
    "Option",
    "PluginError",
    "RunDirError",
    "RunObserver",
    "hookimpl",
    "hookspec",
    *_COMPONENTS,
]


def __getattr__(name: str) -> Any:
    if name in _COMPONENTS:
        from genmod.contract import components

        return getattr(components, name)
    raise AttributeError(f"module 'genmod.contract' has no attribute {name!r}")
