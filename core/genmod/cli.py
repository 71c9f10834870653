"""The ``genmod`` command line. TensorFlow is imported only inside commands that train."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import click

from genmod import __version__
from genmod.config import RunConfig
from genmod.errors import GenmodError
from genmod.plugins import PluginLoadWarning, get_manager

DEFAULTS = RunConfig()


def _show_plugin_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, PluginLoadWarning):
        click.echo(f"Warning: {message}", err=True)
    else:
        _original_showwarning(message, category, filename, lineno, file, line)


_original_showwarning = warnings.showwarning


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
    (see :mod:`genmod.quiet_import`); commands call this just before they need TensorFlow."""
    from genmod.quiet_import import import_tensorflow_quietly

    import_tensorflow_quietly()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="genmod")
def cli() -> None:
    """genmod: train deep generative models (VAEs) assembled from plugins.

    Components (encoders, decoders, likelihoods, priors, posteriors, objectives, datasets)
    come from plugins; `genmod plugins` lists what is installed. Start with:

        genmod run --encoder cnn --likelihood bernoulli --data-dir PATH/TO/MNIST
    """


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``genmod`` script: loads plugin commands, then runs the CLI."""
    warnings.showwarning = _show_plugin_warning
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # imports nothing: --help stays fast
    try:
        manager = get_manager()
        manager.add_commands(cli)
    except GenmodError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    cli.main(args=argv, prog_name="genmod")


# Built-in commands register themselves on `cli` when imported.
from genmod.commands import evaluate as _evaluate_command  # noqa: E402, F401
from genmod.commands import new_plugin as _new_plugin_command  # noqa: E402, F401
from genmod.commands import pictures as _pictures_commands  # noqa: E402, F401
from genmod.commands import plugins as _plugins_command  # noqa: E402, F401
from genmod.commands import resume as _resume_command  # noqa: E402, F401
from genmod.commands import run as _run_command  # noqa: E402, F401
from genmod.commands import runs as _runs_command  # noqa: E402, F401

__all__ = ["cli", "handle_errors", "main", "quiet_tensorflow", "run_data_dir_option"]
