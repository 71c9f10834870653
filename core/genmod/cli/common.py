"""What the ``genmod`` commands share: error handling, common options, quiet TensorFlow."""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from typing import Any

import click

from genmod.config import RunConfig
from genmod.contract.errors import GenmodError
from genmod.plugins import PluginLoadWarning

DEFAULTS = RunConfig()


def show_plugin_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, PluginLoadWarning):
        click.echo(f"Warning: {message}", err=True)
    else:
        original_showwarning(message, category, filename, lineno, file, line)


original_showwarning = warnings.showwarning


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn genmod's user errors into a one-paragraph message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GenmodError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)

    return wrapper


def run_data_dir_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--data-dir`` for commands that work on an existing run folder."""
    return click.option(
        "--data-dir",
        envvar="GENMOD_DATA_DIR",
        type=click.Path(file_okay=False),
        help="Folder with the dataset's files (env GENMOD_DATA_DIR). Default: the folder the "
        "run was trained with.",
    )(func)


def quiet_tensorflow() -> None:
    """Import TensorFlow now, with its log level raised and its start-up lines filtered
    (see :mod:`genmod.cli.quiet_import`); commands call this just before they need TensorFlow."""
    from genmod.cli.quiet_import import import_tensorflow_quietly

    import_tensorflow_quietly()
