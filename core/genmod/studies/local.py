"""The local executor: a pool of ``genmod`` processes on this machine, one GPU each.

``--jobs N`` runs start at once (default: one per visible GPU, else 1). The GPUs are read
cheaply, without TensorFlow: ``CUDA_VISIBLE_DEVICES`` when it is set, else ``nvidia-smi -L``
(:func:`visible_gpus`). They are shared out between the job slots: with as many jobs as GPUs
each job sees one (its own ``CUDA_VISIBLE_DEVICES``); with fewer jobs each sees several (a
``--strategy mirrored`` run uses them); with more jobs they are dealt round-robin.

Each run's standard output and error are appended to ``RUN/stdout.log`` and ``RUN/stderr.log``
(one header line per attempt). The children run in their own session, so a Ctrl-C in the
terminal reaches the sweep only: on SIGINT or SIGTERM the sweep starts nothing more, sends
SIGTERM to every run (each saves a checkpoint and exits), waits for them and returns the
signal; a second signal kills the runs at once (work since their last checkpoint is lost; they
stay resumable). No TensorFlow here.
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import Any

from genmod.contract.errors import ConfigError
from genmod.contract.options import Option
from genmod.studies.executors import Reporter, Task
from genmod.studies.launch import (
    EXIT_NOT_STARTED,
    Started,
    failure_line,
    not_started_line,
    signals_recorded,
    start_process,
)

__all__ = ["LocalExecutor", "slot_gpus", "visible_gpus"]

#: how often the pool looks at its processes, in seconds
POLL_SECONDS = 0.1


def visible_gpus(environ: Mapping[str, str] | None = None) -> list[str]:
    """The GPUs a child process may be given, as ``CUDA_VISIBLE_DEVICES`` entries: the entries
    of ``CUDA_VISIBLE_DEVICES`` when it is set (up to the first invalid one, ``-1``, as CUDA
    reads it; empty: none), else the indices ``nvidia-smi -L`` lists, else none."""
    environ = os.environ if environ is None else environ
    given = environ.get("CUDA_VISIBLE_DEVICES")
    if given is not None:
        found = []
        for entry in given.split(","):
            entry = entry.strip()
            if not entry or entry.startswith("-"):
                break
            found.append(entry)
        return found
    program = shutil.which("nvidia-smi")
    if program is None:
        return []
    try:
        listed = subprocess.run(
            [program, "-L"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if listed.returncode != 0:
        return []
    return re.findall(r"^GPU (\d+):", listed.stdout, re.MULTILINE)


def slot_gpus(gpus: Sequence[str], jobs: int) -> list[str | None]:
    """The ``CUDA_VISIBLE_DEVICES`` value of each of ``jobs`` slots (None for all: no GPUs
    known, so the environment is left as it is)."""
    if not gpus:
        return [None] * jobs
    if jobs <= len(gpus):
        return [",".join(gpus[slot::jobs]) for slot in range(jobs)]
    return [gpus[slot % len(gpus)] for slot in range(jobs)]


class _Launched:
    """A started task: its attempt (process, stderr offset, start time) and its slot."""

    def __init__(self, task: Task, attempt: Started, slot: int) -> None:
        self.task, self.attempt, self.slot = task, attempt, slot
        self.process = attempt.process
        self.signalled = False


class LocalExecutor:
    """Runs tasks as child processes of this one, ``jobs`` at a time (see the module)."""

    name = "local"
    #: ``--executor-opt``: none (``--jobs`` is the local pool's only setting)
    OPTIONS: tuple[Option, ...] = ()

    @classmethod
    def from_options(cls, jobs: int | None, options: Mapping[str, Any]) -> LocalExecutor:
        """The pool of ``jobs`` processes (``options`` is always empty: see :data:`OPTIONS`)."""
        return cls(jobs)

    def __init__(self, jobs: int | None = None, *, gpus: Sequence[str] | None = None) -> None:
        """``jobs``: processes at once (None: one per GPU in ``gpus``, else 1); ``gpus``: the
        ``CUDA_VISIBLE_DEVICES`` entries to share out (None: :func:`visible_gpus`)."""
        if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
            raise ConfigError(f"--jobs got {jobs!r}; it must be an integer >= 1.")
        self.gpus = list(visible_gpus() if gpus is None else gpus)
        self.jobs = jobs if jobs is not None else max(len(self.gpus), 1)
        self.slots = slot_gpus(self.gpus, self.jobs)

    def describe(self) -> str:
        """``local, 2 jobs, GPUs 0,1`` (or ``no GPU``)."""
        gpus = f"GPUs {','.join(self.gpus)}" if self.gpus else "no GPU known"
        return f"local, {self.jobs} job{'s' if self.jobs != 1 else ''}, {gpus}"

    def _launch(self, task: Task, slot: int, reporter: Reporter) -> _Launched | None:
        env = dict(os.environ)
        if self.slots[slot] is not None:
            env["CUDA_VISIBLE_DEVICES"] = self.slots[slot]
        try:
            attempt = start_process(task, env=env)
        except OSError as exc:
            reporter.started(task, 0, self.slots[slot])
            reporter.ended(
                task,
                EXIT_NOT_STARTED,
                error=not_started_line(task, exc),
                interrupted=False,
                seconds=0.0,
            )
            return None
        reporter.started(task, attempt.process.pid, self.slots[slot])
        return _Launched(task, attempt, slot)

    def execute(self, tasks: Sequence[Task], reporter: Reporter) -> int | None:
        """See :meth:`genmod.studies.executors.Executor.execute`."""
        waiting = collections.deque(tasks)
        running: list[_Launched] = []
        free = list(range(self.jobs))
        killed = False
        with signals_recorded() as received:
            try:
                while waiting or running:
                    if received:
                        waiting.clear()
                        for launched in running:
                            if not launched.signalled:
                                launched.signalled = True
                                _signal(launched.process, signal.SIGTERM)
                        if len(received) > 1 and not killed:
                            killed = True
                            for launched in running:
                                _signal(launched.process, signal.SIGKILL)
                    while waiting and free:
                        slot = free.pop(0)
                        launched = self._launch(waiting.popleft(), slot, reporter)
                        if launched is None:
                            free.insert(0, slot)
                        else:
                            running.append(launched)
                    for launched in [r for r in running if r.process.poll() is not None]:
                        running.remove(launched)
                        free.append(launched.slot)
                        free.sort()
                        self._report_end(launched, reporter)
                    if waiting or running:
                        time.sleep(POLL_SECONDS)
            finally:
                for launched in running:  # only after an error of the sweep itself
                    _signal(launched.process, signal.SIGTERM)
                for launched in running:
                    launched.process.wait()
        return received[0] if received else None

    def _report_end(self, launched: _Launched, reporter: Reporter) -> None:
        code = int(launched.process.returncode)
        reporter.ended(
            launched.task,
            code,
            error=failure_line(launched.task, code, launched.attempt.offset),
            interrupted=launched.signalled and code != 0,  # a run may finish as it is told
            seconds=time.monotonic() - launched.attempt.started,
        )


def _signal(process: subprocess.Popen, number: int) -> None:
    """Send ``number`` to a child that may have ended already."""
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(number)
