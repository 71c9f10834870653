"""The built-in ``genmod`` sub-commands, one module each.

Every module defines plain :class:`click.Command` objects and imports only
:mod:`genmod.cli.common`, :mod:`genmod.cli.training` and the layers below the CLI; the group
in :mod:`genmod.cli.app` adds :data:`BUILTIN_COMMANDS` to itself, so no command imports the
module that imports it.
"""

from genmod.cli.commands.compare import compare
from genmod.cli.commands.evaluate import evaluate
from genmod.cli.commands.export import export
from genmod.cli.commands.new_plugin import new_plugin
from genmod.cli.commands.pictures import interpolate, reconstruct, sample, traverse
from genmod.cli.commands.plugins import plugins
from genmod.cli.commands.recipes import recipes
from genmod.cli.commands.resume import resume
from genmod.cli.commands.run import run
from genmod.cli.commands.runs import runs
from genmod.cli.commands.sweep import sweep

#: in the order `genmod --help` lists them (click sorts by name anyway)
BUILTIN_COMMANDS = (
    run,
    resume,
    runs,
    compare,
    sweep,
    evaluate,
    export,
    sample,
    reconstruct,
    interpolate,
    traverse,
    plugins,
    recipes,
    new_plugin,
)

__all__ = ["BUILTIN_COMMANDS"]
