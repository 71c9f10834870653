"""One writer per run folder: the exclusive lock every command that writes a run folder takes.

``genmod run``, ``genmod resume``, ``genmod evaluate`` and the picture commands that write into
``RUN/pictures/`` hold :func:`run_lock` while they work; a second writer is refused at once
with a :class:`~genmod.contract.errors.RunDirError` naming the holder (exit code 2 on the
command line). Readers (``genmod runs``, ``load_run``, a picture written elsewhere with
``--out``) never touch the lock, so a training never blocks them.

Two files in the run folder (docs/runs.md, "One writer per run")::

    RUN/.genmod.lock        the lock itself: an OS lock (flock, through the filelock package)
                            on this empty file; it stays in place when released
    RUN/.genmod.lock.json   who holds it: pid, host, command, since, heartbeat (UTC); removed
                            on release

The OS lock goes away with its process, however it ends (``kill -9`` included), so a dead
holder never blocks the next writer. On a shared filesystem whose locks do not reach other
machines (or that has no flock at all) the holder record is the second line of defence: a
record from another host whose heartbeat (rewritten every :data:`HEARTBEAT_SECONDS`) is
younger than :data:`STALE_SECONDS` refuses the writer too; an older one is a crashed
machine's and is taken over. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock

from genmod.config import toml as tomlio
from genmod.config.files import CONFIG_FILE
from genmod.contract.errors import RunDirError

LOCK_FILE = ".genmod.lock"
HOLDER_FILE = ".genmod.lock.json"
#: how often a holder rewrites the heartbeat in its record
HEARTBEAT_SECONDS = 30.0
#: a record from another host whose heartbeat is older than this is a dead holder's
STALE_SECONDS = 300.0

#: the run folders this process holds (resolved path -> depth), so that a nested
#: ``run_lock`` on the same folder (a Python user's own lock around ``train``) is a no-op
_held: dict[str, int] = {}
_held_guard = threading.Lock()


def is_lock_file(name: str) -> bool:
    """Whether a file name in a run folder belongs to the lock (the lock, its holder record
    and the record's temporary files), which the folder's checks ignore."""
    return name.lstrip(".").startswith(LOCK_FILE.lstrip("."))


def this_command(fallback: str) -> str:
    """``genmod <command>`` when this process is the genmod command line, else ``fallback``
    (such as ``genmod.api.resume``, for Python API users)."""
    argv = sys.argv or [""]
    if Path(argv[0]).name in ("genmod", "genmod.exe") and len(argv) > 1:
        return f"genmod {argv[1]}"
    return fallback


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _stamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _age_seconds(stamp: Any) -> float | None:
    try:
        moment = datetime.datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    return (_now() - moment.replace(tzinfo=datetime.UTC)).total_seconds()


def read_holder(run_dir: Path) -> dict[str, Any] | None:
    """The holder record of ``run_dir`` (pid, host, command, since, heartbeat), or None when
    there is none or it cannot be read. Reading it never blocks anyone."""
    path = Path(run_dir) / HOLDER_FILE
    if path.is_symlink() or not tomlio.is_regular_file(path):
        return None  # a FIFO or device planted there would block the read
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def holder_state(run_dir: Path) -> str | None:
    """What the holder record of ``run_dir`` says, without touching the lock: ``"held"`` (its
    process runs on this host, or on another host whose heartbeat is fresh), ``"dead"`` (the
    process is gone, or its host stopped its heartbeat) or None (no record)."""
    found = read_holder(run_dir)
    if found is None:
        return None
    if found.get("host") == socket.gethostname():
        if not _pid_alive(found.get("pid")):
            return "dead"
        # a live pid may be another process that reused it (a record left by a kill -9 or a
        # container restart): where the kernel lists its locks, nobody holding the OS lock
        # means the record is a dead holder's
        if found.get("os_lock") is False:  # its filesystem has no OS locks: trust the pid
            return "held"
        return "dead" if _os_lock_taken(Path(run_dir) / LOCK_FILE) is False else "held"
    age = _age_seconds(found.get("heartbeat") or found.get("since"))
    return "held" if age is not None and age < STALE_SECONDS else "dead"


def _os_lock_taken(path: Path) -> bool | None:
    """Whether some process on this machine holds an OS lock on the file ``path``, read from
    Linux's ``/proc/locks`` without touching the lock (True/False; False when ``path`` does not
    exist), or None where that cannot be told (no ``/proc/locks``)."""
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            table = handle.read(1 << 22)
    except (OSError, ValueError):
        return None
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return False  # no lock file: nobody can hold a lock on it
    except (OSError, ValueError):
        return None
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    # each line: "1: FLOCK  ADVISORY  WRITE 4242 fe:00:2146318 0 EOF" (" -> " marks waiters)
    return any(device in line.split() for line in table.splitlines() if "->" not in line)


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False  # not a process id (0 and -1 would name groups of processes)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # exists, owned by another account
    except (TypeError, ValueError, OSError):
        return False
    return True


def _record_is_live(record: dict[str, Any] | None, *, flock_works: bool) -> bool:
    """Whether a record left in the folder names a holder that may still be writing, once
    this process holds the OS lock (or the filesystem has none)."""
    if not record:
        return False
    host, pid = record.get("host"), record.get("pid")
    if host == socket.gethostname():
        if pid == os.getpid():
            return False
        # the OS lock is reliable between the processes of one machine
        return not flock_works and _pid_alive(pid)
    age = _age_seconds(record.get("heartbeat") or record.get("since"))
    return age is not None and age < STALE_SECONDS


def describe_holder(record: dict[str, Any] | None) -> str:
    """``"pid 12 on host h (genmod run, since ...)"``: a holder record in words (each field
    cut to 80 characters, since the record is read from the folder)."""
    if not record:
        return "another process (it has not recorded itself yet)"

    def field(key: str, default: str) -> str:  # the record is read from the folder: keep short
        return str(record.get(key, default))[:80]

    text = f"pid {field('pid', '?')} on host {field('host', '?')}"
    text += f" ({field('command', 'genmod')}, since {field('since', '?')}"
    age = _age_seconds(record.get("heartbeat"))
    if age is not None and record.get("host") != socket.gethostname():
        text += f"; last heartbeat {max(age, 0):.0f} s ago"
    return text + ")"


def _refusal(
    run_dir: Path, record: dict[str, Any] | None, hint: str, what: str = "run folder"
) -> RunDirError:
    same_host = bool(record) and record.get("host") == socket.gethostname()
    if not record:
        way_out = "wait for it to finish"
    elif same_host:
        way_out = f"wait for it to finish, or stop it (kill {record.get('pid')})"
    else:
        way_out = (
            "wait for it to finish; if that machine crashed, the lock goes by itself (after "
            f"{STALE_SECONDS / 60:.0f} minutes without a heartbeat, or when the file server "
            f"notices), or delete {str(Path(run_dir) / LOCK_FILE)!r} and "
            f"{HOLDER_FILE!r} to break it"
        )
    return RunDirError(
        f"the {what} {str(run_dir)!r} is being written by {describe_holder(record)}; "
        f"{way_out}.{(' ' + hint) if hint else ''}"
    )


def _current_holder(run_dir: Path) -> dict[str, Any] | None:
    """The record of the process that holds the OS lock now. A holder that has just taken the
    lock writes its record a moment later (until then the file is missing, or a dead
    predecessor's), so wait up to a second for it."""
    for _ in range(10):
        found = read_holder(run_dir)
        if found and (found.get("host") != socket.gethostname() or _pid_alive(found.get("pid"))):
            return found
        time.sleep(0.1)
    return read_holder(run_dir)


class _Heartbeat:
    """Rewrites the holder record's ``heartbeat`` every :data:`HEARTBEAT_SECONDS`."""

    def __init__(self, run_dir: Path, record: dict[str, Any]) -> None:
        self.run_dir, self.record = run_dir, record
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="genmod-run-lock", daemon=True)

    def write(self) -> None:
        self.record["heartbeat"] = _stamp(_now())
        tomlio.write_atomic(self.run_dir / HOLDER_FILE, json.dumps(self.record, indent=2) + "\n")

    def _beat(self) -> None:
        while not self.stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(OSError):  # a full disk must not end the training here
                self.write()

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        if read_holder(self.run_dir) == self.record:  # still ours: nobody broke the lock
            with contextlib.suppress(OSError):
                (self.run_dir / HOLDER_FILE).unlink()


@contextlib.contextmanager
def run_lock(
    run_dir: str | Path,
    command: str,
    *,
    create: bool = False,
    hint: str = "",
    what: str = "run folder",
) -> Iterator[Path]:
    """Hold the exclusive writer's lock of ``run_dir`` for the ``with`` block.

    ``command`` names the holder in its record (``genmod resume``); ``create`` makes the
    folder (with its parents) when it does not exist, for a new run; without it a folder that
    is not a run (no ``config.toml``) is left untouched and unlocked, for the caller's own
    checks to report. ``hint`` is added to the refusal, e.g. ``--out`` for a picture command;
    ``what`` names the folder in it (``"study folder"`` for ``genmod sweep``, which locks a
    study folder the same way).
    Raises :class:`RunDirError` naming the holder (pid, host, command, since when) when another
    process holds the lock. Re-entrant within one process.
    """
    run_dir = Path(run_dir)
    if not create and not (run_dir / CONFIG_FILE).is_file():
        # not a run folder (yet): the caller's own checks refuse it; leave no lock file there
        yield run_dir
        return
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"the output path {str(run_dir)!r} exists and is not a folder.")
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in (LOCK_FILE, HOLDER_FILE):
        if (run_dir / name).is_symlink():
            raise RunDirError(
                f"{str(run_dir / name)!r} is a symbolic link; genmod will not lock through it "
                "(a run folder's lock files are never links). Remove it to continue."
            )
    key = os.path.realpath(run_dir)
    with _held_guard:
        if key in _held:
            _held[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield run_dir
        finally:
            with _held_guard:
                _held[key] -= 1
        return

    lock = filelock.FileLock(
        str(run_dir / LOCK_FILE), timeout=0, thread_local=False, fallback_to_soft=False
    )
    flock_works = True
    try:
        lock.acquire()
    except filelock.Timeout:
        raise _refusal(run_dir, _current_holder(run_dir), hint, what) from None
    except OSError as exc:
        if exc.errno not in (errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP):
            raise RunDirError(
                f"cannot lock the {what} {str(run_dir)!r}: {exc.strerror or exc}."
            ) from None
        flock_works = False  # no OS locks here: the holder record alone guards the folder
    heartbeat: _Heartbeat | None = None
    try:
        found = read_holder(run_dir)
        if _record_is_live(found, flock_works=flock_works):
            raise _refusal(run_dir, found, hint, what)
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "argv": " ".join(sys.argv)[:300],
            "since": _stamp(_now()),
            "os_lock": flock_works,
        }
        heartbeat = _Heartbeat(run_dir, record)
        heartbeat.write()
        heartbeat.thread.start()
        with _held_guard:
            _held[key] = 1
        try:
            yield run_dir
        finally:
            with _held_guard:
                _held.pop(key, None)
    finally:
        if heartbeat is not None:
            heartbeat.close()
        if flock_works:
            lock.release()
