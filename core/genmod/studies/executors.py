"""Executors: what starts a study's runs. The interface, and the choice by name.

A sweep hands an :class:`Executor` the runs to start as :class:`Task` objects (the ``genmod
run``/``genmod resume`` command line of each, and its run folder) and a :class:`Reporter` that
it tells when each one starts and ends; the executor decides where and how many at once. Each
run's standard output and error land in its run folder (:data:`genmod.runs.folder.OUTPUT_LOGS`).

``local`` (:class:`genmod.studies.local.LocalExecutor`) is a pool of processes on this machine.
``slurm`` (through submitit) and ``ray`` are planned (:data:`PLANNED_EXECUTORS`): each would be
one more class with the same :meth:`Executor.execute`, chosen by ``genmod sweep --executor``.
No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from genmod.contract.errors import ConfigError

__all__ = [
    "EXECUTORS",
    "PLANNED_EXECUTORS",
    "Executor",
    "Reporter",
    "Task",
    "exit_description",
    "last_error_line",
    "make_executor",
]

#: the executors ``genmod sweep --executor`` accepts
EXECUTORS = ("local",)
#: executors designed for but not built yet -> the optional extra each will need
PLANNED_EXECUTORS = {"slurm": "submitit", "ray": "ray"}


@dataclasses.dataclass(frozen=True)
class Task:
    """One run to start: its name in the study, ``action`` (``run`` for a new run, ``resume``
    for one that has a folder), the full command line, and its run folder (where its output
    goes)."""

    name: str
    action: str
    argv: tuple[str, ...]
    run_dir: Path


class Reporter(Protocol):
    """What an executor tells the sweep; called from the thread that called ``execute``."""

    def started(self, task: Task, pid: int, gpus: str | None) -> None:
        """``task`` started as process ``pid``, seeing the GPUs ``gpus`` (None: unchanged)."""

    def ended(
        self, task: Task, exit_code: int, *, error: str | None, interrupted: bool, seconds: float
    ) -> None:
        """``task`` ended with ``exit_code`` (negative: killed by that signal); ``error`` is the
        last line of its standard error when the code is not 0; ``interrupted``: the executor
        stopped it because the sweep was told to stop (then it is resumable, not failed)."""


class Executor(Protocol):
    """Starts tasks and reports on them."""

    #: the name ``--executor`` chooses it by
    name: str

    def describe(self) -> str:
        """One phrase for the sweep's first line, e.g. ``local, 2 jobs, GPUs 0 and 1``."""

    def execute(self, tasks: Sequence[Task], reporter: Reporter) -> int | None:
        """Run every task (in order, as many at once as the executor allows), calling the
        reporter as each starts and ends; a failed task never stops the others. Returns the
        signal number (SIGINT, SIGTERM) that stopped the sweep, after every started task was
        stopped at its last checkpoint and reported, or None when all ran."""


def make_executor(name: str, *, jobs: int | None = None) -> Executor:
    """The executor called ``name`` with ``jobs`` tasks at once (None: its default). An unknown
    or planned name is a :class:`ConfigError` that lists the executors."""
    if name == "local":
        from genmod.studies.local import LocalExecutor

        return LocalExecutor(jobs)
    if name in PLANNED_EXECUTORS:
        raise ConfigError(
            f"--executor {name} is planned but not built yet (it will need "
            f"`pip install 'genmod[{PLANNED_EXECUTORS[name]}]'`); accepted now: "
            f"{', '.join(EXECUTORS)}."
        )
    raise ConfigError(f"--executor got {name!r}; accepted: {', '.join(EXECUTORS)}.")


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
    characters), or None when there is none."""
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
