"""Layer 13 (top), cli: the ``genmod`` command line, built on :mod:`genmod.api` and below.

Owns the click group and ``main`` (:mod:`~genmod.cli.app`), what the commands share
(:mod:`~genmod.cli.common`, :mod:`~genmod.cli.progress`, :mod:`~genmod.cli.training`), one
module per command (:mod:`genmod.cli.commands`), quiet TensorFlow imports
(:mod:`~genmod.cli.quiet_import`) and the generated CLI reference (:mod:`~genmod.cli.docs`).
May import every layer; nothing imports it. ``genmod --help`` imports no TensorFlow.

``from genmod.cli import cli, main`` keeps working; the names are looked up on first use so
that importing :mod:`genmod.cli.common` from a command does not build the group.
"""

from __future__ import annotations

from typing import Any

_FROM_APP = ("cli", "main")
_FROM_COMMON = ("DEFAULTS", "handle_errors", "quiet_tensorflow", "run_data_dir_option")

__all__ = [*_FROM_APP, *_FROM_COMMON]


def __getattr__(name: str) -> Any:
    if name in _FROM_APP:
        from genmod.cli import app

        return getattr(app, name)
    if name in _FROM_COMMON:
        from genmod.cli import common

        return getattr(common, name)
    raise AttributeError(f"module 'genmod.cli' has no attribute {name!r}")
