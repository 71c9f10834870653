"""The run folder: where a run keeps its configuration, metrics and weights.

Layout (format version 2; docs/runs.md describes it for users)::

    RUN/config.toml          resolved configuration (+ genmod version, format version)
    RUN/metrics.jsonl        one JSON object per finished epoch
    RUN/checkpoints/         tf.train.CheckpointManager: model, optimizer, RNG, epoch, position
    RUN/checkpoints/best/    the checkpoint with the best validation ELBO so far
    RUN/tensorboard/         TensorBoard event files (scalars, sample/reconstruction images)
    RUN/pictures/            PNG pictures (samples per epoch, samples.gif, reconstructions...)
    RUN/model/weights*       final model weights (tf.train.Checkpoint format)
    RUN/summary.json         status (running/finished/interrupted/diverged) and last metrics
    RUN/.genmod.lock(.json)  the writer's lock and its holder (genmod.runs.lock)
    RUN/stdout.log           what the run's processes printed, when their launcher (genmod
    RUN/stderr.log           sweep) captured it there; written by the launcher, not the run

Every file is written so that a kill at any moment leaves either the old or the new version
(temporary file + rename; metrics lines are appended whole or cut back). Nothing here imports
TensorFlow.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from genmod.config import toml as tomlio
from genmod.config.files import CONFIG_FILE
from genmod.config.settings import RunConfig
from genmod.contract.errors import RunDirError
from genmod.runs.lock import is_lock_file

METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
CHECKPOINT_DIR = "checkpoints"
MODEL_DIR = "model"
BEST_DIR = "best"
TENSORBOARD_DIR = "tensorboard"
PICTURES_DIR = "pictures"
#: the output of the process that writes a run, captured into the run folder by whoever
#: launched it (``genmod sweep``, a batch job): the folder checks ignore them, so a launcher
#: may create the folder and open these files before ``genmod run --out RUN`` starts
OUTPUT_LOGS = ("stdout.log", "stderr.log")


def default_run_dir(config: RunConfig, root: Path = Path("runs")) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = root / f"{stamp}-{config.encoder}-{config.likelihood}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def _contents(path: Path) -> list[Path]:
    """What a folder holds, apart from the writer's lock (:mod:`genmod.runs.lock`) and the
    launcher's :data:`OUTPUT_LOGS` (regular files only: a folder or link of that name counts)."""
    return [
        p
        for p in path.iterdir()
        if not is_lock_file(p.name)
        and not (p.name in OUTPUT_LOGS and p.is_file() and not p.is_symlink())
    ]


def check_new_run_dir(path: Path, *, overwrite: bool) -> None:
    """Refuse ``path`` for a new run as :func:`prepare_run_dir` would, touching nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"the output path {str(path)!r} exists and is not a folder.")
    if path.exists() and _contents(path):
        if not overwrite:
            raise RunDirError(
                f"the output folder {str(path)!r} exists and is not empty. Choose another --out, "
                "or pass --overwrite to replace the run in it."
            )
        if not (path / CONFIG_FILE).exists():
            raise RunDirError(
                f"--overwrite refused: {str(path)!r} is not empty and does not look like a "
                f"genmod run (no {CONFIG_FILE}); genmod will not delete it."
            )


def prepare_run_dir(path: Path, *, overwrite: bool) -> Path:
    """Create ``path`` for a new run; refuse a non-empty folder unless ``overwrite``.

    ``overwrite`` only ever deletes a previous genmod run (a folder with ``config.toml``); the
    writer's lock files stay (the caller holds that lock, :func:`genmod.runs.lock.run_lock`).
    """
    path = Path(path)
    check_new_run_dir(path, overwrite=overwrite)
    for entry in _contents(path) if path.exists() else []:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    path.mkdir(parents=True, exist_ok=True)
    return path


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or quota) is full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def append_line(path: Path, line: str) -> None:
    """Append one line to ``path`` whole, or not at all: a failed write is cut back."""
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # & ~umask
    try:
        size = os.fstat(fd).st_size
        try:
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        except OSError:
            os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    append_line(Path(run_dir) / METRICS_FILE, json.dumps(record))


def keep_metrics_up_to(run_dir: Path, epoch: int) -> list[dict[str, Any]]:
    """Rewrite ``metrics.jsonl`` with only the records of epochs ``<= epoch`` (resume); return
    them. Later records belong to work that a resumed run redoes, so they would be duplicates."""
    kept = [r for r in read_metrics(run_dir) if int(r.get("epoch", 0)) <= epoch]
    path = Path(run_dir) / METRICS_FILE
    if path.exists():
        tomlio.write_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))
    return kept


#: whether a path is a regular file (links followed): a FIFO or device planted in a shared run
#: folder would block or never end a read (:func:`genmod.config.toml.is_regular_file`)
is_regular_file = tomlio.is_regular_file


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The records of ``metrics.jsonl`` up to the first line genmod did not write ([] when
    missing or not a regular file)."""
    path = Path(run_dir) / METRICS_FILE
    if not is_regular_file(path):
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                break  # a line cut by a crash: everything before it is good
            if not isinstance(record, dict):
                break  # not a line genmod wrote: stop trusting the file there
            records.append(record)
    return records


def write_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    tomlio.write_atomic(Path(run_dir) / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")


def read_summary(run_dir: Path) -> dict[str, Any]:
    """``summary.json`` as a dict ({} when missing or unreadable)."""
    path = Path(run_dir) / SUMMARY_FILE
    if not is_regular_file(path):
        return {}
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}
