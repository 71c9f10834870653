"""Checkpoints in a run folder: finding, verifying and restoring them, and the final weights.

Importing this module imports TensorFlow.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import tensorflow as tf

from genmod.contract.errors import RunDirError
from genmod.runs import folder as rundir

CHECKPOINT_PREFIX = "ckpt"


def remove_temporary_checkpoints(directory: Path) -> None:
    """TensorFlow writes a checkpoint under ``*_temp*`` names first; remove leftovers."""
    if directory.exists():
        for leftover in directory.glob("*_temp*"):
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink()


def checkpoint_prefixes(directory: Path) -> list[Path]:
    """Checkpoint prefixes in ``directory``, newest (highest step) first."""

    def number(index: Path) -> int:
        tail = index.name[len(CHECKPOINT_PREFIX) + 1 : -len(".index")]
        return int(tail) if tail.isdigit() else -1

    indexes = [p for p in directory.glob(f"{CHECKPOINT_PREFIX}-*.index") if number(p) >= 0]
    return [p.with_suffix("") for p in sorted(indexes, key=number, reverse=True)]


def restore_newest_readable(
    checkpoint: tf.train.Checkpoint, directory: Path, log: Callable[[str], None]
) -> Path:
    """Restore the newest checkpoint that reads back whole; move unreadable ones aside into
    ``directory/unreadable/`` (with a message) and fall back to the previous one."""
    failures = []
    for prefix in checkpoint_prefixes(directory):
        try:
            status = checkpoint.read(str(prefix))
            status.assert_existing_objects_matched()
            status.expect_partial()  # the manager's save counter is not ours to restore
            return prefix
        # what TensorFlow raises for truncated or garbled files (IndexError: "Read less bytes
        # than requested"), and for a checkpoint of another model (AssertionError)
        except (tf.errors.OpError, ValueError, AssertionError, IndexError, KeyError) as exc:
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc)
            failures.append(f"{prefix.name} ({reason})")
            log(f"checkpoint {prefix.name} is unreadable ({reason}); trying the previous one")
            aside = directory / "unreadable"
            aside.mkdir(exist_ok=True)
            for part in directory.glob(prefix.name + ".*"):
                part.replace(aside / part.name)
    detail = "; unreadable: " + ", ".join(failures) if failures else ""
    raise RunDirError(f"{str(directory)!r} holds no readable checkpoint to resume from{detail}.")


def model_checkpoint(model) -> tf.train.Checkpoint:
    """A checkpoint of the model's variables only (the exported model, see :func:`load_run`)."""
    return tf.train.Checkpoint(model=list(model.variables))


def export_weights(model, run_dir: Path) -> Path:
    """Write the final weights to ``RUN/model/weights`` without ever leaving a half-written
    ``model/``: they go to ``model.new/`` first, which then replaces ``model/``."""
    final = run_dir / rundir.MODEL_DIR
    fresh = run_dir / (rundir.MODEL_DIR + ".new")
    old = run_dir / (rundir.MODEL_DIR + ".old")
    for leftover in (fresh, old):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        model_checkpoint(model).write(str(fresh / "weights"))
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    if final.exists():
        final.replace(old)
    fresh.replace(final)
    shutil.rmtree(old, ignore_errors=True)
    return final / "weights"
