"""What the cluster executors share: submit each task as one job, follow the jobs, report them.

:class:`SubmittingExecutor` is the loop of the ``slurm`` and ``ray`` executors; each subclass
only says how its engine opens (:meth:`~SubmittingExecutor.session`), submits a task as a job
that calls :func:`genmod.studies.launch.run_to_end` on a worker, tells which jobs have ended,
fetches a job's :class:`~genmod.studies.launch.Outcome` and cancels a job. The rest is here:

- at most ``jobs`` jobs submitted at once (``--jobs``; default: every task at once, the
  cluster's scheduler queues them);
- each submission reported as started (with the job's name, ``slurm job 4242``), each end
  reported with the run's exit code, its last error line and its time; a job that could not be
  submitted, or that ended without an outcome (killed by the scheduler, a lost node), is a
  failed task, and the others go on;
- on SIGINT or SIGTERM, nothing more is submitted, every job is cancelled (its worker relays
  SIGTERM to the run, which saves a checkpoint), and the sweep waits until each stopped run has
  let go of its folder's lock (at most :attr:`SubmittingExecutor.release_seconds`) before it
  reports them as interrupted; a second signal stops the waiting (the runs finish saving on
  their own, and hold their locks until then).

No TensorFlow here, and no engine: the subclasses import theirs when they are built.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import signal
import time
from collections.abc import Iterator, Sequence
from typing import Any

from genmod.studies.executors import Reporter, Task
from genmod.studies.launch import EXIT_NOT_STARTED, Outcome, signals_recorded, wait_released

__all__ = ["EXIT_LOST", "SubmittingExecutor", "one_line"]

#: the exit code recorded for a job that ended without an outcome (see :class:`Outcome`)
EXIT_LOST = 1


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An engine's exception as one line: its type and its first non-empty line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text[:limit]


@dataclasses.dataclass
class _Job:
    """A submitted task: the engine's handle, its name for the user, when it was submitted,
    and whether the sweep cancelled it."""

    task: Task
    handle: Any
    label: str
    submitted: float
    cancelled: bool = False


class SubmittingExecutor:
    """Runs each task as one job of a cluster engine (see the module). Subclasses set
    :attr:`name` and implement :meth:`session`, :meth:`submit`, :meth:`finished`,
    :meth:`outcome` and :meth:`cancel`."""

    name = "cluster"
    #: seconds between two looks at the jobs
    poll_seconds = 1.0
    #: after a stop, how long to wait for stopped runs to save their checkpoint
    release_seconds = 300.0

    def __init__(self, jobs: int | None) -> None:
        """``jobs``: at most this many jobs submitted at once (None: all of them)."""
        self.jobs = jobs

    def _at_once(self) -> str:
        return f"at most {self.jobs} at once" if self.jobs else "all submitted at once"

    # --- what a subclass implements -------------------------------------------------------

    @contextlib.contextmanager
    def session(self, tasks: Sequence[Task]) -> Iterator[None]:
        """The engine, ready for :meth:`submit` during the block (connect, start a local
        cluster...) and closed after it. Default: nothing to open."""
        yield

    def submit(self, task: Task) -> tuple[Any, str]:
        """Submit ``task`` as a job that calls :func:`~genmod.studies.launch.run_to_end`;
        return the engine's handle and the job's name for the user (``slurm job 4242``).
        Raises whatever the engine raises when it refuses the job."""
        raise NotImplementedError

    def finished(self, handles: Sequence[Any]) -> list[bool]:
        """For each of ``handles``, whether its job has ended (succeeded, failed or
        cancelled)."""
        raise NotImplementedError

    def outcome(self, handle: Any, *, cancelled: bool) -> Outcome | None:
        """The :class:`Outcome` of an ended job; None when a ``cancelled`` job has none (it
        never ran, or its worker was stopped before it returned). Raises the engine's
        exception when a job ended without one for another reason (the worker died, the
        scheduler killed it)."""
        raise NotImplementedError

    def cancel(self, handle: Any) -> None:
        """Cancel a job: drop it from the queue, or stop its worker (which relays SIGTERM to
        the run)."""
        raise NotImplementedError

    # --- the loop ---------------------------------------------------------------------------

    def execute(self, tasks: Sequence[Task], reporter: Reporter) -> int | None:
        """See :meth:`genmod.studies.executors.Executor.execute` and the module."""
        waiting = collections.deque(tasks)
        flying: list[_Job] = []
        # the engine first: it may install signal handlers of its own (Ray does), which the
        # sweep's replace while the tasks run
        with self.session(tasks), signals_recorded() as received:
            try:
                while waiting or flying:
                    if received:
                        waiting.clear()
                        self._cancel_all(flying)
                        if len(received) > 1:
                            break
                    while waiting and (self.jobs is None or len(flying) < self.jobs):
                        job = self._submit(waiting.popleft(), reporter)
                        if job is not None:
                            flying.append(job)
                    ended = self.finished([job.handle for job in flying]) if flying else []
                    for job in [job for job, end in zip(flying, ended, strict=True) if end]:
                        flying.remove(job)
                        self._report(job, reporter, received)
                    if waiting or flying:
                        time.sleep(self.poll_seconds)
                for job in flying:  # a second signal: stopped, not waited for
                    self._report_stopped(job, reporter)
                flying.clear()
            finally:
                self._cancel_all(flying)  # only after an error of the sweep itself
        return received[0] if received else None

    def _submit(self, task: Task, reporter: Reporter) -> _Job | None:
        try:
            handle, label = self.submit(task)
        except Exception as exc:  # the engine refused it: this task fails, the others go on
            reporter.started(task, None, None)
            reporter.ended(
                task,
                EXIT_NOT_STARTED,
                error=f"could not submit it: {one_line(exc)}",
                interrupted=False,
                seconds=0.0,
            )
            return None
        reporter.started(task, None, None, job=label)
        return _Job(task, handle, label, time.monotonic())

    def _cancel_all(self, flying: Sequence[_Job]) -> None:
        for job in flying:
            if not job.cancelled:
                job.cancelled = True
                with contextlib.suppress(Exception):  # it may have ended meanwhile
                    self.cancel(job.handle)

    def _report(self, job: _Job, reporter: Reporter, received: list[int]) -> None:
        try:
            outcome = self.outcome(job.handle, cancelled=job.cancelled)
            problem = None
        except Exception as exc:
            outcome, problem = None, one_line(exc)
        if job.cancelled:
            wait_released(
                [job.task.run_dir],
                timeout=self.release_seconds,
                give_up=lambda: len(received) > 1,
            )
        if outcome is None and job.cancelled:
            self._report_stopped(job, reporter)
        elif outcome is None:
            reporter.ended(
                job.task,
                EXIT_LOST,
                error=f"{job.label} ended without an outcome: {problem}",
                interrupted=False,
                seconds=time.monotonic() - job.submitted,
            )
        else:
            stopped = job.cancelled or outcome.stopped is not None
            reporter.ended(
                job.task,
                outcome.exit_code,
                error=outcome.error,
                interrupted=stopped and outcome.exit_code != 0,
                seconds=outcome.seconds,
            )

    def _report_stopped(self, job: _Job, reporter: Reporter) -> None:
        """A cancelled job with no outcome: recorded as stopped by SIGTERM (resumable)."""
        reporter.ended(
            job.task,
            -int(signal.SIGTERM),
            error=None,
            interrupted=True,
            seconds=time.monotonic() - job.submitted,
        )
