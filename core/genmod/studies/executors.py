"""Executors: what starts a study's runs. The interface, the choice by name, their options.

A sweep hands an :class:`Executor` the runs to start as :class:`Task` objects (the ``genmod
run``/``genmod resume`` command line of each, and its run folder) and a :class:`Reporter` that
it tells when each one starts and ends; the executor decides where and how many at once. Each
run's standard output and error land in its run folder (:data:`genmod.runs.folder.OUTPUT_LOGS`);
:mod:`genmod.studies.launch` holds that part, shared by every executor.

:data:`EXECUTORS`, chosen by ``genmod sweep --executor``:

- ``local`` (:class:`genmod.studies.local.LocalExecutor`): a pool of processes on this machine;
- ``slurm`` (:class:`genmod.studies.slurm.SlurmExecutor`): each run a Slurm job, through
  submitit (``pip install 'genmod[slurm]'``);
- ``ray`` (:class:`genmod.studies.ray_cluster.RayExecutor`): each run a Ray task, on a running
  cluster or a local one started for the study (``pip install 'genmod[ray]'``).

Each takes its own ``--executor-opt KEY=VALUE`` options (:func:`executor_options`), declared as
:class:`genmod.contract.options.Option` in its ``OPTIONS``. No TensorFlow here, and neither
submitit nor Ray: an executor imports its engine only when it is built (:func:`make_executor`).
"""

from __future__ import annotations

import dataclasses
import importlib
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from genmod.config import toml as tomlio
from genmod.contract.errors import ConfigError
from genmod.contract.options import Option, resolve_options

__all__ = [
    "EXECUTORS",
    "EXTRAS",
    "Executor",
    "Reporter",
    "Task",
    "executor_class",
    "executor_options",
    "exit_description",
    "last_error_line",
    "make_executor",
    "require_extra",
]

#: the executors ``genmod sweep --executor`` accepts
EXECUTORS = ("local", "slurm", "ray")
#: executor -> (the module it needs, the genmod extra that installs it)
EXTRAS = {"slurm": ("submitit", "slurm"), "ray": ("ray", "ray")}
#: executor -> where its class is (imported only when asked for)
_CLASSES = {
    "local": ("genmod.studies.local", "LocalExecutor"),
    "slurm": ("genmod.studies.slurm", "SlurmExecutor"),
    "ray": ("genmod.studies.ray_cluster", "RayExecutor"),
}
#: an example --executor-opt of each executor, for the refusal of a malformed one
_EXAMPLES = {"local": "none: use --jobs", "slurm": "partition=gpu", "ray": "num_gpus=1"}


@dataclasses.dataclass(frozen=True)
class Task:
    """One run to start: its name in the study, ``action`` (``run`` for a new run, ``resume``
    for one that has a folder), the full command line, and its run folder (where its output
    goes)."""

    name: str
    action: str
    argv: tuple[str, ...]
    run_dir: Path
    #: for a ``run`` task, the command that continues it once its folder exists (a cluster
    #: job that the scheduler starts again, e.g. after a preemption, resumes instead)
    resume_argv: tuple[str, ...] = ()


class Reporter(Protocol):
    """What an executor tells the sweep; called from the thread that called ``execute``."""

    def started(
        self, task: Task, pid: int | None, gpus: str | None, *, job: str | None = None
    ) -> None:
        """``task`` started as process ``pid`` on this host, seeing the GPUs ``gpus`` (None:
        unchanged); or, for a cluster, ``pid`` None and ``job`` the engine's name for it
        (``slurm job 4242``, ``ray task 1a2b...``): submitted, perhaps still queued."""

    def ended(
        self, task: Task, exit_code: int, *, error: str | None, interrupted: bool, seconds: float
    ) -> None:
        """``task`` ended with ``exit_code`` (negative: killed by that signal); ``error`` is the
        last line of its standard error when the code is not 0; ``interrupted``: it was
        stopped to save a checkpoint, because the sweep was told to stop or because the
        cluster ended its time (then it is resumable, not failed)."""


class Executor(Protocol):
    """Starts tasks and reports on them. Its class also declares ``OPTIONS`` (a tuple of
    :class:`~genmod.contract.options.Option`: what ``--executor-opt`` accepts) and has
    ``from_options(jobs, options)``, which :func:`make_executor` builds it with."""

    #: the name ``--executor`` chooses it by
    name: str

    def describe(self) -> str:
        """One phrase for the sweep's first line, e.g. ``local, 2 jobs, GPUs 0 and 1``."""

    def execute(self, tasks: Sequence[Task], reporter: Reporter) -> int | None:
        """Run every task (in order, as many at once as the executor allows), calling the
        reporter as each starts and ends; a failed task never stops the others. Returns the
        signal number (SIGINT, SIGTERM) that stopped the sweep, after every started task was
        stopped at its last checkpoint and reported, or None when all ran."""


def executor_class(name: str) -> type:
    """The class of the executor called ``name`` (its module imports no engine); an unknown
    name is a :class:`ConfigError` that lists :data:`EXECUTORS`."""
    if name not in _CLASSES:
        raise ConfigError(f"--executor got {name!r}; accepted: {', '.join(EXECUTORS)}.")
    module, attribute = _CLASSES[name]
    return getattr(importlib.import_module(module), attribute)


def executor_options(name: str, pairs: Sequence[str] | Mapping[str, Any]) -> dict[str, Any]:
    """The options of executor ``name`` from ``--executor-opt KEY=VALUE`` strings (or a
    mapping of strings), every one checked and the others defaulted. An unknown key, a value of
    the wrong type or out of range, or a key given twice is a one-line :class:`ConfigError`
    that lists the accepted options. Imports no engine (``genmod sweep --dry-run`` checks
    them too)."""
    declared: tuple[Option, ...] = executor_class(name).OPTIONS
    owner = f"--executor {name}"
    if isinstance(pairs, Mapping):
        given = dict(pairs)
    else:
        given = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or not key:
                raise ConfigError(
                    f"--executor-opt expects KEY=VALUE (for example {_EXAMPLES[name]}), got "
                    f"{pair!r}."
                )
            if key in given:
                raise ConfigError(f"--executor-opt {key} is given twice; give it once.")
            if not value.strip():
                raise ConfigError(
                    f"--executor-opt {key}= has no value; give one ({_EXAMPLES[name]}) or leave "
                    f"{key} out for its default."
                )
            given[key] = value.strip()
    known = {option.name for option in declared}
    unknown = sorted(set(given) - known)
    if unknown:
        accepted = (
            ", ".join(option.name for option in declared)
            + ' (genmod sweep --help; docs/studies.md, "Executors")'
            if declared
            else f"none ({name} takes no --executor-opt; --jobs sets how many runs at once)"
        )
        raise ConfigError(
            f"{owner}: unknown option {', '.join(map(repr, unknown))}; accepted: {accepted}."
        )
    return resolve_options(declared, given, owner, from_strings=True)


def require_extra(name: str) -> Any:
    """Import and return the engine module executor ``name`` needs (None for ``local``); a
    missing one is a one-line :class:`ConfigError` naming the extra to install."""
    if name not in EXTRAS:
        return None
    module, extra = EXTRAS[name]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"--executor {name} needs the {module} package, which is not installed here "
            f"({exc}); install it with `pip install 'genmod[{extra}]'`, or use --executor local."
        ) from None


def make_executor(
    name: str, *, jobs: int | None = None, options: Sequence[str] | Mapping[str, Any] = ()
) -> Executor:
    """The executor called ``name`` with ``jobs`` tasks at once (None: its default) and its
    ``--executor-opt`` ``options`` (:func:`executor_options`). Refusals are one-line
    :class:`ConfigError`: an unknown name (listing :data:`EXECUTORS`), a bad option (listing
    the accepted ones), a missing extra (naming ``pip install 'genmod[EXTRA]'``). Builds
    nothing on a cluster: an engine starts in :meth:`Executor.execute`."""
    resolved = executor_options(name, options)
    require_extra(name)
    return executor_class(name).from_options(jobs, resolved)


def exit_description(exit_code: int) -> str:
    """``exit 2``, or ``killed by SIGKILL`` for a negative code."""
    if exit_code < 0:
        try:
            return f"killed by {signal.Signals(-exit_code).name}"
        except ValueError:
            return f"killed by signal {-exit_code}"
    return f"exit {exit_code}"


def last_error_line(path: Path, offset: int = 0, *, limit: int = 300) -> str | None:
    """The last non-empty line written to ``path`` after byte ``offset`` (cut to ``limit``
    characters), or None when there is none (or ``path`` is not a regular file)."""
    if not tomlio.is_regular_file(path):
        return None
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            end = handle.tell()
            handle.seek(max(offset, end - 65536))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1][:limit] if lines else None
