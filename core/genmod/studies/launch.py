"""One attempt at a task, shared by every executor: its command, its logs, how it ended.

Whatever starts a run (the local pool, a Slurm job through submitit, a Ray task), the attempt is
the same: the task's ``genmod run``/``genmod resume`` command line runs as a process in its own
session, its standard output and error are appended to ``RUN/stdout.log`` and ``RUN/stderr.log``
after one header line (:func:`log_header`), and a non-zero exit is described by the last line
it wrote to standard error (:func:`failure_line`).

- :func:`start_process` starts it and returns at once (the local pool polls its processes);
- :func:`run_to_end` starts it, waits for it and returns an :class:`Outcome`: what a cluster
  worker (a submitit job, a Ray task) runs. A stop request reaching the worker (a
  ``KeyboardInterrupt``, from ``ray.cancel`` or submitit's local ``cancel``; or one of the
  signals it is told to relay, e.g. Slurm's SIGTERM and its time-limit signal) is relayed to
  the run as SIGTERM, so it saves a checkpoint and exits; the outcome then says it was stopped;
- :func:`signals_recorded` is the sweep side of stopping: SIGINT and SIGTERM recorded, not
  raised, while the executor works; :func:`wait_released` waits until stopped runs have let go
  of their run folders (each run holds its folder's lock until it has saved its checkpoint).

No TensorFlow here, and no executor's extra: this module runs on the workers too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import shlex
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from genmod.config.files import CONFIG_FILE
from genmod.runs.folder import OUTPUT_LOGS
from genmod.runs.lock import holder_state
from genmod.studies.executors import Task, exit_description, last_error_line
from genmod.studies.state import now_stamp

__all__ = [
    "EXIT_NOT_STARTED",
    "Outcome",
    "Started",
    "failure_line",
    "log_header",
    "not_started_line",
    "run_to_end",
    "signals_handled",
    "signals_recorded",
    "start_process",
    "wait_released",
]

#: the exit code recorded for a task whose process could not be started (or submitted)
EXIT_NOT_STARTED = 127
#: how often :func:`run_to_end` and :func:`wait_released` look, in seconds
POLL_SECONDS = 0.2


def log_header(task: Task, where: str | None = None) -> str:
    """The line each attempt starts its logs with: ``--- genmod sweep, TIME: ACTION: COMMAND``
    (``where``, e.g. ``on node12``, goes after the time). One line: newlines are escaped."""
    command = shlex.join(task.argv).replace("\n", "\\n")
    place = f", {where}" if where else ""
    return f"--- genmod sweep, {now_stamp()}{place}: {task.action}: {command}\n"


@dataclasses.dataclass
class Started:
    """A started attempt: its process, the size of ``stderr.log`` when it started (its own
    lines come after that offset) and its start on the monotonic clock."""

    process: subprocess.Popen
    offset: int
    started: float


def start_process(
    task: Task,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    where: str | None = None,
) -> Started:
    """Start ``task.argv`` as a process in its own session (a terminal's Ctrl-C does not reach
    it: whoever started it relays a stop), its standard input empty and its output appended to
    the run folder's logs after a :func:`log_header` line (the folder is made when missing).
    ``env``: its whole environment (default: this one's), with ``PYTHONUNBUFFERED=1`` added;
    ``cwd``: where it runs (default: here), so relative paths in the command mean what they
    meant to the sweep. Raises ``OSError`` when the program cannot be started."""
    task.run_dir.mkdir(parents=True, exist_ok=True)
    header = log_header(task, where).encode("utf-8")
    environment = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
    handles: list[IO[bytes]] = []
    try:
        for name in OUTPUT_LOGS:
            handles.append(open_log(task.run_dir / name))  # closed below, once Popen holds it
            handles[-1].write(header)
            handles[-1].flush()
        offset = handles[1].tell()
        process = subprocess.Popen(
            list(task.argv),
            stdin=subprocess.DEVNULL,
            stdout=handles[0],
            stderr=handles[1],
            env=environment,
            cwd=cwd,
            start_new_session=True,
        )
    finally:
        for handle in handles:
            handle.close()
    return Started(process, offset, time.monotonic())


def failure_line(task: Task, exit_code: int, offset: int = 0) -> str | None:
    """None for exit code 0; else the last line the attempt wrote to ``stderr.log`` after
    ``offset``, or the exit code in words (``killed by SIGKILL``) when it wrote none."""
    if exit_code == 0:
        return None
    return last_error_line(task.run_dir / OUTPUT_LOGS[1], offset) or exit_description(exit_code)


def open_log(path: Path) -> IO[bytes]:
    """``path`` opened to append to, refusing with ``OSError`` (naming the file) anything but a
    regular file: a FIFO planted there would block the sweep (it is opened without blocking),
    a symbolic link would send the run's output elsewhere."""
    if path.is_symlink():
        raise OSError(errno.ELOOP, "a symbolic link (a run's logs are never links)", str(path))
    if path.exists() and not stat.S_ISREG(os.lstat(path).st_mode):
        raise OSError(errno.EINVAL, "not a regular file (a FIFO, socket or device)", str(path))
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o644)
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped in between: the same refusal
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file (a FIFO, socket or device)", str(path))
    os.set_blocking(fd, True)
    return os.fdopen(fd, "ab")


def not_started_line(task: Task, exc: OSError) -> str:
    """The error recorded for a task whose program could not be started (or whose log in the
    run folder could not be opened: then that file is named)."""
    if exc.filename is not None and Path(str(exc.filename)).name in OUTPUT_LOGS:
        return f"cannot write {str(exc.filename)!r}: {exc.strerror or exc}"
    return f"could not start {task.argv[0]!r}: {exc.strerror or exc}"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How an attempt on a worker ended: the run's ``exit_code`` (negative: killed by that
    signal; :data:`EXIT_NOT_STARTED`: never started), its ``error`` line (None on success),
    its ``seconds``, the ``host`` and ``pid`` it ran as, and ``stopped``: why the worker
    stopped it (``cancelled``, or a signal's name such as ``SIGUSR2``), None when it ended by
    itself. Plain data: it travels back from a submitit job or a Ray task by pickle."""

    exit_code: int
    error: str | None
    seconds: float
    host: str
    pid: int
    stopped: str | None = None


def run_to_end(
    task: Task,
    cwd: str,
    *,
    relay: Sequence[int] = (),
    where: str | None = None,
) -> Outcome:
    """Run ``task`` to its end on this machine (a cluster worker) and return its
    :class:`Outcome`; never raises for the run's own failure.

    The run starts in ``cwd`` (the sweep's working folder, on a filesystem the workers share)
    with this process's environment (so the GPUs the cluster gave the worker). A
    ``KeyboardInterrupt`` while it runs, or one of the signals in ``relay`` (handled only when
    this is the main thread; the previous handlers come back afterwards), sends it SIGTERM once:
    it saves a checkpoint and exits, and this waits for that. ``where`` goes into the log
    header (default: ``on HOST``). A ``run`` task whose folder already holds a
    ``config.toml`` (the scheduler started the same job again, after a preemption or a node
    failure) runs its :attr:`~genmod.studies.executors.Task.resume_argv` instead."""
    host = socket.gethostname()
    if task.action == "run" and task.resume_argv and (task.run_dir / CONFIG_FILE).is_file():
        task = dataclasses.replace(task, action="resume", argv=task.resume_argv)
    try:
        started = start_process(task, cwd=cwd, where=where or f"on {host}")
    except OSError as exc:
        return Outcome(EXIT_NOT_STARTED, not_started_line(task, exc), 0.0, host, 0)
    stopped: list[str] = []

    def stop(reason: str) -> None:
        if not stopped:
            stopped.append(reason)
            with contextlib.suppress(ProcessLookupError):
                started.process.send_signal(signal.SIGTERM)

    def handle(signum: int, frame: Any) -> None:
        stop(signal.Signals(signum).name)

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        previous = {number: signal.signal(number, handle) for number in relay}
    try:
        while started.process.poll() is None:
            try:
                started.process.wait(timeout=POLL_SECONDS)
            except subprocess.TimeoutExpired:
                pass
            except KeyboardInterrupt:
                stop("cancelled")
    finally:
        _restore(previous)
    code = int(started.process.returncode)
    return Outcome(
        exit_code=code,
        error=failure_line(task, code, started.offset),
        seconds=time.monotonic() - started.started,
        host=host,
        pid=started.process.pid,
        stopped=stopped[0] if stopped else None,
    )


@contextlib.contextmanager
def signals_handled(
    handler: Callable[[int, Any], None], numbers: Sequence[int] = (signal.SIGINT, signal.SIGTERM)
) -> Iterator[None]:
    """``handler`` handles the signals ``numbers`` while the block runs (in the main thread
    only: elsewhere nothing changes); the previous handlers come back at its end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in numbers}
    try:
        yield
    finally:
        _restore(previous)


@contextlib.contextmanager
def signals_recorded() -> Iterator[list[int]]:
    """SIGINT and SIGTERM are appended to the yielded list instead of raising, while the block
    runs (in the main thread only; elsewhere the list stays empty). The previous handlers come
    back at its end."""
    received: list[int] = []
    with signals_handled(lambda signum, frame: received.append(signum)):
        yield received


def _restore(previous: Mapping[int, Any]) -> None:
    """Put back signal handlers (one installed outside Python, which Python reports as None,
    becomes the default action)."""
    for number, handler in previous.items():
        signal.signal(number, signal.SIG_DFL if handler is None else handler)


def wait_released(
    run_dirs: Sequence[Path], *, timeout: float, give_up: Callable[[], bool] = lambda: False
) -> list[Path]:
    """Wait until no live process holds the lock of any of ``run_dirs`` (a stopped run lets go
    once its checkpoint is saved), at most ``timeout`` seconds, or until ``give_up()`` is true.
    Returns the folders still held then."""
    deadline = time.monotonic() + timeout
    held = list(run_dirs)
    while True:
        held = [run_dir for run_dir in held if holder_state(run_dir) == "held"]
        if not held or time.monotonic() >= deadline or give_up():
            return held
        time.sleep(POLL_SECONDS)
