"""What the ``genmod`` commands share: error handling, common options, quiet TensorFlow."""

from __future__ import annotations

import errno
import functools
import os
import re
import sys
import threading
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import click

from genmod.config import RunConfig
from genmod.contract.errors import GenmodError
from genmod.plugins import PluginLoadWarning, strict_mode

DEFAULTS = RunConfig()


def show_plugin_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, PluginLoadWarning):
        click.echo(f"Warning: {message}", err=True)
    else:
        original_showwarning(message, category, filename, lineno, file, line)


original_showwarning = warnings.showwarning


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn genmod's user errors into a one-paragraph message and exit code 2.

    Any other exception (typically from a plugin's code, e.g. a distribution method it does not
    implement) also ends in one ``Error:`` paragraph naming the exception and where it was
    raised, with exit code 2; ``GENMOD_STRICT_PLUGINS=1`` shows the full traceback instead.
    A run keeps its last checkpoint either way (``genmod resume`` continues it).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GenmodError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            raise  # the reader went away (`genmod runs | head`): click ends quietly
        except OSError as exc:  # a path the user gave: read-only, not a folder, no permission
            if strict_mode():
                raise
            click.echo(f"Error: {os_error_message(exc)}", err=True)
            sys.exit(2)
        except Exception as exc:
            if strict_mode():
                raise
            click.echo(f"Error: {unexpected_error_message(exc)}", err=True)
            sys.exit(2)

    return wrapper


def os_error_message(exc: OSError) -> str:
    """One line for a failed file operation: what failed, on which path, and why."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    where = f" ({' -> '.join(map(repr, paths))})" if paths else ""
    hint = {
        errno.EROFS: "the file system is read-only; choose another --out",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.EACCES: "check the permissions of the folder",
        errno.EPERM: "check the permissions of the folder",
        errno.ENOSPC: "the disk is full; free some space",
    }.get(exc.errno or 0, "check the path")
    return f"{reason}{where}: {hint}."


def unexpected_error_message(exc: BaseException) -> str:
    """One paragraph for an exception that is not a :class:`GenmodError`: its type, message
    and the innermost place it was raised (a plugin's file, usually)."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (raised at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", x).strip() for x in str(exc).splitlines()]
    lines = [x for x in lines if x]
    text = lines[0] if lines else ""
    if text.startswith("Exception encountered when calling") and len(lines) > 1:
        text = f"{lines[1]} ({text.rstrip('.')})"  # Keras puts the real message second
    text = text[:300]
    return (
        f"{type(exc).__name__}: {text}{where}. This is a bug in genmod or in a plugin's "
        "component; set GENMOD_STRICT_PLUGINS=1 to see the full traceback."
    )


def run_interruptibly(work: Callable[[], Any], *, what: str, message: str | None = None) -> Any:
    """Run ``work()`` in a worker thread and return its result (or raise its exception).

    A long TensorFlow call does not return to Python until it is done, so Ctrl-C would wait
    for it; here the main thread only waits, and Ctrl-C ends the process within a tenth of a
    second with exit code 130 and one line (``message``, by default: ``what`` wrote nothing, its
    results being written at the end, atomically; a run-folder lock dies with the process).
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="genmod-work", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        click.echo(message or f"Interrupted: {what} stopped; nothing was written.", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)  # the worker is inside TensorFlow; nothing of it needs to finish
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


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


def sampler_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--sampler NAME`` and ``--sampler-opt KEY=VALUE`` (genmod sample, genmod evaluate):
    where generated images' codes come from (docs/metrics.md, "Latent samplers")."""
    func = click.option(
        "--sampler-opt",
        "sampler_opts",
        multiple=True,
        metavar="KEY=VALUE",
        help="An option of the sampler, e.g. components=20 (repeatable).",
    )(func)
    return click.option(
        "--sampler",
        default="prior",
        show_default=True,
        metavar="NAME",
        help="Where generated codes come from: prior (z ~ p(z)), gmm (a Gaussian mixture "
        "fitted to the training codes, saved in RUN/samplers/ and reused), or a plugin's.",
    )(func)


def comma_separated(values: tuple[str, ...]) -> list[str]:
    """A repeatable option that also takes commas: ``--value fid --value mig,kid`` as
    ``[fid, mig, kid]`` (blanks dropped)."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def printable(text: str) -> str:
    """``text`` as stdout can encode it (``?`` for what it cannot, e.g. ``±`` on ASCII)."""
    encoding = getattr(click.get_text_stream("stdout"), "encoding", None) or "utf-8"
    try:
        return text.encode(encoding, errors="replace").decode(encoding)
    except LookupError:
        return text
