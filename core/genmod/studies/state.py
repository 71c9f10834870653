"""The state of each run of a study, read from its folder, and the sweep's record of attempts.

A run is (:data:`STATES`):

- ``done``: its ``summary.json`` says ``finished``;
- ``running``: a process holds its writer lock (:func:`genmod.runs.lock.holder_state`), or the
  sweep on this host started it and the process is still alive (before it takes the lock);
- ``failed``: the sweep's last attempt at it exited with a non-zero code, and not because the
  sweep stopped it;
- ``unfinished``: its folder holds a ``config.toml`` (the run started) but it is not done: a
  sweep continues it with ``genmod resume``;
- ``pending``: nothing of it yet (no folder, or only the launcher's logs);
- ``foreign``: its folder is not the planned run (another configuration, a link; told by
  :func:`genmod.studies.sweep.study_status`, not here): a sweep refuses the study until it is
  moved out.

The attempts live in ``STUDY/sweep-state.json``, written atomically by the sweep that holds the
study's lock: per run, each attempt's action (``run``/``resume``), pid and host (of the sweep's
child; a cluster job has no pid here but its ``job``, e.g. ``slurm job 4242``), start and end,
exit code, last error line and whether it was interrupted. No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import socket
from pathlib import Path
from typing import Any

from genmod.config import toml as tomlio
from genmod.config.files import CONFIG_FILE
from genmod.runs import folder as rundir
from genmod.runs.lock import describe_holder, holder_state, read_holder

__all__ = [
    "STATES",
    "STATE_FILE",
    "Attempts",
    "RunStatus",
    "now_stamp",
    "run_status",
]

#: the states of a run, in the order ``genmod sweep --status`` counts them
STATES = ("done", "running", "failed", "unfinished", "pending", "foreign")
#: the largest sweep-state.json read (10,000 runs of a few attempts take a few MiB)
MAX_STATE_BYTES = 64 << 20
#: the sweep's record of attempts in every study folder
STATE_FILE = "sweep-state.json"


def now_stamp() -> str:
    """The time now, UTC, as ``2026-12-02T17:40:03Z``."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Attempts:
    """The attempts of every run of a study (``STUDY/sweep-state.json``). Only the sweep that
    holds the study's lock writes it (:meth:`started`, :meth:`ended`); anyone may read it."""

    def __init__(self, study_dir: Path) -> None:
        self.path = Path(study_dir) / STATE_FILE
        self.runs: dict[str, list[dict[str, Any]]] = {}
        #: why the record could not be read (None: it could, or there is none); the run folders
        #: still tell done from not done, only the history of attempts is lost
        self.damaged: str | None = self._read() if self.path.exists() else None

    def _read(self) -> str | None:
        """Read the record into :attr:`runs`; returns why it could not be (None: it could)."""
        if not rundir.is_regular_file(self.path):
            return "not a regular file"
        if self.path.stat().st_size > MAX_STATE_BYTES:
            return f"larger than {MAX_STATE_BYTES >> 20} MiB"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            return f"not valid JSON ({type(exc).__name__})"
        runs = data.get("runs") if isinstance(data, dict) else None
        if not isinstance(runs, dict):
            return "no table of runs"
        self.runs = {
            name: [a for a in attempts if isinstance(a, dict)]
            for name, attempts in runs.items()
            if isinstance(name, str) and isinstance(attempts, list)
        }
        return None

    def set_aside(self) -> Path | None:
        """Move a damaged record out of the way (``sweep-state.damaged-STAMP.json``, kept for
        the user to read) before this sweep writes a new one; returns where it went."""
        if self.damaged is None:
            return None
        kept = self.path.with_name(f"sweep-state.damaged-{now_stamp().replace(':', '')}.json")
        try:
            os.replace(self.path, kept)
        except OSError:
            return None
        return kept

    def of(self, name: str) -> list[dict[str, Any]]:
        """The attempts at run ``name``, oldest first."""
        return self.runs.get(name, [])

    def last(self, name: str) -> dict[str, Any] | None:
        """The latest attempt at run ``name`` (None before the first)."""
        attempts = self.of(name)
        return attempts[-1] if attempts else None

    def started(self, name: str, action: str, pid: int | None, **extra: Any) -> dict[str, Any]:
        """Record that ``action`` (``run``/``resume``) of run ``name`` started as process
        ``pid`` on this host (None: elsewhere, a cluster job); returns the attempt (``extra``
        adds fields, e.g. ``gpus``, ``job``)."""
        attempt = {
            "action": action,
            "pid": pid,
            "host": socket.gethostname(),
            "started": now_stamp(),
            **extra,
        }
        self.runs.setdefault(name, []).append(attempt)
        self.save()
        return attempt

    def ended(
        self, name: str, exit_code: int, *, error: str | None, interrupted: bool, seconds: float
    ) -> None:
        """Record how the latest attempt at run ``name`` ended."""
        attempt = self.last(name)
        if attempt is None:
            return
        attempt.update(
            ended=now_stamp(),
            seconds=round(seconds, 1),
            exit_code=exit_code,
            error=error,
            interrupted=interrupted,
        )
        self.save()

    def save(self) -> None:
        """Write the record (atomically)."""
        tomlio.write_atomic(
            self.path, json.dumps({"format": 1, "runs": self.runs}, indent=2) + "\n"
        )


@dataclasses.dataclass(frozen=True)
class RunStatus:
    """A run's state (:data:`STATES`), epochs done, attempts so far, and a note: the holder of
    a running run, the exit code and error line of a failed one."""

    name: str
    state: str
    epochs_done: int
    attempts: int
    note: str = ""
    exit_code: int | None = None
    error: str | None = None


def _alive_here(attempt: dict[str, Any], name: str) -> bool:
    """Whether the process of an attempt without an end still runs (on this host). Where
    ``/proc`` tells a process's command line, it must name the run (a reused pid does not)."""
    pid = attempt.get("pid")
    if attempt.get("host") != socket.gethostname() or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc here (macOS): trust the pid
    return name.encode("utf-8") in command


def run_status(study_dir: Path, name: str, attempts: Attempts) -> RunStatus:
    """The state of run ``name`` of the study in ``study_dir``, from its folder and the
    sweep's attempts; reads only, never blocks or locks."""
    run_dir = Path(study_dir) / name
    summary = rundir.read_summary(run_dir)
    done = summary.get("epochs_done", 0)
    epochs = done if isinstance(done, int) and not isinstance(done, bool) and done >= 0 else 0
    tried = len(attempts.of(name))
    last = attempts.last(name)

    def status(state: str, note: str = "", **extra: Any) -> RunStatus:
        return RunStatus(name, state, epochs, tried, note, **extra)

    if summary.get("status") == "finished":
        return status("done")
    if holder_state(run_dir) == "held":
        return status("running", describe_holder(read_holder(run_dir)))
    if last is not None and "exit_code" not in last and _alive_here(last, name):
        return status("running", f"pid {last.get('pid')} ({last.get('action')}, starting)")
    if last is not None and last.get("exit_code") not in (None, 0) and not last.get("interrupted"):
        code = last["exit_code"]
        return status("failed", f"exit {code}", exit_code=code, error=last.get("error"))
    if (run_dir / CONFIG_FILE).is_file():
        return status("unfinished", str(summary.get("status", "")))
    return status("pending")
