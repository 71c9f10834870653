"""The ``genmod`` command group: built-in commands, then plugin commands, then run.

TensorFlow is imported only inside commands that need it.
"""

from __future__ import annotations

import os
import sys
import warnings

import click

from genmod import __version__
from genmod.cli import common, quiet_import
from genmod.cli.commands import BUILTIN_COMMANDS
from genmod.contract.errors import GenmodError
from genmod.plugins import get_manager
from genmod.plugins.manager import BUILTIN_OWNER


class OneLineUsageError(click.UsageError):
    """A usage error (a bad option value, a missing argument, an unknown command) shown as one
    line, ``Error: ... (genmod sweep --help)``, exit code 2, like every other refusal."""

    def show(self, file=None) -> None:
        where = f" ({self.ctx.command_path} --help)" if self.ctx is not None else ""
        click.echo(f"Error: {self.format_message()}{where}", file=file, err=file is None)


class GenmodGroup(click.Group):
    """The ``genmod`` group: a subcommand's usage errors become :class:`OneLineUsageError`."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if isinstance(exc, OneLineUsageError):
                raise
            one = OneLineUsageError(" ".join(exc.format_message().split()), exc.ctx)
            one.exit_code = exc.exit_code
            raise one from None


#: whether :func:`main` set TF_CPP_MIN_LOG_LEVEL (then ``--verbose`` takes it back)
_log_level_set_by_main = False


@click.group(cls=GenmodGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="genmod")
@click.option(
    "--verbose",
    is_flag=True,
    envvar="GENMOD_VERBOSE",
    help="Let TensorFlow's start-up lines, C++ log and Python warnings (and those of Keras, "
    "TFP, absl) through to stderr; without it stderr holds only genmod's own messages "
    "(env GENMOD_VERBOSE=1).",
)
def cli(verbose: bool) -> None:
    """genmod: train deep generative models (VAEs) assembled from plugins.

    Components (encoders, decoders, likelihoods, priors, posteriors, objectives, datasets)
    come from plugins; `genmod plugins` lists what is installed. Start with:

        genmod run --encoder cnn --likelihood bernoulli --data-dir PATH/TO/MNIST
    """
    quiet_import.set_verbose(verbose)
    if verbose and _log_level_set_by_main:
        os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)


#: command name -> the plugin that added it (``"genmod"`` for genmod's own commands): a plugin
#: cannot replace or remove a command it does not own (see ``PluginManager.add_commands``)
COMMAND_OWNERS: dict[str, str] = {}

for _command in BUILTIN_COMMANDS:
    cli.add_command(_command)
    COMMAND_OWNERS[_command.name] = BUILTIN_OWNER


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``genmod`` script: loads plugin commands, then runs the CLI."""
    global _log_level_set_by_main
    warnings.showwarning = common.show_plugin_warning
    if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:  # imports nothing: --help stays fast
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        _log_level_set_by_main = True
    try:
        manager = get_manager()
        manager.add_commands(cli, COMMAND_OWNERS)
    except GenmodError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    cli.main(args=argv, prog_name="genmod")


__all__ = ["COMMAND_OWNERS", "cli", "main"]
