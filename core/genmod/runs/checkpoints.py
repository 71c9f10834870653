"""Checkpoints in a run folder: finding, verifying and restoring them, and the final weights.

Every checkpoint genmod writes gets a *manifest* next to it, ``PREFIX.sha256.json`` (written
atomically once the checkpoint is complete): the size and SHA-256 of each of its files and the
settings of the run that wrote it. A checkpoint is verified against its manifest before any of
it is used; one without a manifest (older runs, or a kill between the two writes) is verified by
reading every tensor. Corrupt checkpoints are moved aside; a checkpoint of another model (an
edited ``config.toml``) is an error that changes nothing.

Importing this module imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import tensorflow as tf

from genmod.config import toml as tomlio
from genmod.contract.errors import RunDirError
from genmod.runs import folder as rundir
from genmod.runs.trust import checkpoint_state_paths

CHECKPOINT_PREFIX = "ckpt"
MANIFEST_SUFFIX = ".sha256.json"
UNREADABLE_DIR = "unreadable"
#: what TensorFlow raises for truncated or garbled files (IndexError: "Read less bytes than
#: requested") and for a checkpoint of another model (AssertionError, ValueError)
READ_ERRORS = (
    tf.errors.OpError,
    ValueError,
    AssertionError,
    IndexError,
    KeyError,
    OverflowError,
    UnicodeDecodeError,
)
_MODEL_KEY = re.compile(r"^model/(\d+)/\.ATTRIBUTES/VARIABLE_VALUE$")


class CorruptCheckpoint(Exception):
    """The bytes of a checkpoint are damaged (checksum mismatch, truncated, unreadable)."""


class ForeignCheckpoint(Exception):
    """A checkpoint that reads back whole but was written by another model or settings."""


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


# --------------------------------------------------------------------------------- manifests
def manifest_path(prefix: Path) -> Path:
    return Path(str(prefix) + MANIFEST_SUFFIX)


def checkpoint_files(prefix: Path) -> list[Path]:
    """The files TensorFlow wrote for the checkpoint ``prefix``: its ``.index`` and ``.data-*``."""
    prefix = Path(prefix)
    data = sorted(prefix.parent.glob(prefix.name + ".data-*"))
    return [Path(str(prefix) + ".index"), *data]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(prefix: str | Path, settings: dict[str, Any] | None = None) -> Path:
    """Record the size and SHA-256 of every file of the complete checkpoint ``prefix`` (and the
    run's ``settings``, to name an edited one later) in ``PREFIX.sha256.json``, atomically."""
    prefix = Path(prefix)
    files = {
        p.name: {"size": p.stat().st_size, "sha256": _sha256(p)} for p in checkpoint_files(prefix)
    }
    record: dict[str, Any] = {"files": files}
    if settings is not None:
        record["settings"] = json.loads(json.dumps(settings, default=list))
    path = manifest_path(prefix)
    tomlio.write_atomic(path, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path


def read_manifest(prefix: Path) -> dict[str, Any] | None:
    """The manifest of ``prefix``, or None when it has none (or an unreadable one)."""
    try:
        record = json.loads(manifest_path(prefix).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("files"), dict):
        return None
    # untrusted input: only the checkpoint's own files, never a path leading elsewhere
    for name, entry in record["files"].items():
        plain = "/" not in name and "\\" not in name and name.startswith(Path(prefix).name + ".")
        if not plain or not isinstance(entry, dict):
            return None
    return record


def remove_orphan_manifests(directory: Path) -> None:
    """Delete the manifests of checkpoints the checkpoint manager has deleted."""
    for manifest in Path(directory).glob(f"{CHECKPOINT_PREFIX}-*{MANIFEST_SUFFIX}"):
        prefix = manifest.with_name(manifest.name[: -len(MANIFEST_SUFFIX)])
        if not Path(str(prefix) + ".index").exists():
            manifest.unlink(missing_ok=True)


def verify_files(prefix: Path) -> dict[str, Any] | None:
    """Check the bytes of checkpoint ``prefix`` against its manifest (returned; None when there
    is none). Raises :class:`CorruptCheckpoint` naming the first file that differs."""
    prefix = Path(prefix)
    record = read_manifest(prefix)
    if record is None:
        return None
    for name, entry in sorted(record["files"].items()):
        path = prefix.parent / name
        if not path.is_file():
            raise CorruptCheckpoint(f"{path} is missing")
        size = path.stat().st_size
        if entry.get("size") not in (None, size):
            raise CorruptCheckpoint(f"{path} has {size} bytes, {entry.get('size')} were saved")
        if entry.get("sha256") not in (None, _sha256(path)):
            raise CorruptCheckpoint(f"{path} does not match the checksum recorded at save time")
    return record


def read_every_tensor(prefix: Path) -> tf.train.CheckpointReader:
    """Read every tensor of ``prefix`` (TensorFlow checks each one's CRC): the check for a
    checkpoint without a manifest. Raises :class:`CorruptCheckpoint`."""
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
    except READ_ERRORS as exc:
        raise CorruptCheckpoint(f"{prefix}.*: {first_line(exc)}") from None
    return reader


def verify(prefix: Path) -> tuple[tf.train.CheckpointReader, dict[str, Any] | None]:
    """Verify checkpoint ``prefix`` completely (manifest, else every tensor); returns its
    reader and manifest. Raises :class:`CorruptCheckpoint`."""
    record = verify_files(prefix)
    if record is None:
        return read_every_tensor(prefix), None
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        reader.get_variable_to_shape_map()
    except READ_ERRORS as exc:
        raise CorruptCheckpoint(f"{prefix}.*: {first_line(exc)}") from None
    return reader, record


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


# ------------------------------------------------------------------------------- matching
def compare_model(reader: tf.train.CheckpointReader, variables: Iterable[Any]) -> str | None:
    """How the model variables saved in ``reader`` differ from ``variables`` (None: they
    match), e.g. ``model variable 2 ('kernel') has shape [32, 4] in the checkpoint, [32, 8]
    now``."""
    variables = list(variables)
    shapes = reader.get_variable_to_shape_map()
    saved = {int(m.group(1)): shapes[k] for k in shapes if (m := _MODEL_KEY.match(k))}
    if not saved:
        return None  # not a checkpoint of genmod's layout: the full read decides
    if len(saved) != len(variables):
        return f"the checkpoint holds {len(saved)} model variables, the model has {len(variables)}"
    for i, variable in enumerate(variables):
        now = [int(d) for d in variable.shape]
        if list(saved.get(i, [])) != now:
            name = getattr(variable, "path", None) or getattr(variable, "name", f"#{i}")
            return (
                f"model variable {i} ({name}) has shape {list(saved.get(i, []))} in the "
                f"checkpoint, {now} in the model config.toml describes"
            )
    return None


def differing_settings(record: dict[str, Any] | None, settings: dict[str, Any] | None) -> list:
    """The settings (other than ``epochs`` and ``observers``) that differ between a manifest's
    recorded settings and ``settings``."""
    if not record or not isinstance(record.get("settings"), dict) or settings is None:
        return []
    saved = record["settings"]
    now = json.loads(json.dumps(settings, default=list))
    keys = sorted((set(saved) | set(now)) - {"epochs", "observers"})
    return [(k, saved.get(k), now.get(k)) for k in keys if saved.get(k) != now.get(k)]


def _mismatch_error(prefix: Path, detail: str, run_dir: Path | None) -> RunDirError:
    where = run_dir if run_dir is not None else prefix.parent
    return RunDirError(
        f"the checkpoint {prefix.name} of {str(where)!r} does not match the model its "
        f"config.toml describes: {detail}. Was config.toml edited after training? Put the "
        "setting back (only --epochs may change on resume); no file was changed."
    )


def _describe(diffs: list) -> str:
    return ", ".join(
        f"{k} is {now!r} in config.toml but {saved!r} in the checkpoint" for k, saved, now in diffs
    )


# -------------------------------------------------------------------------------- restore
def restore_newest_readable(
    checkpoint: tf.train.Checkpoint,
    directory: Path,
    log: Callable[[str], None],
    *,
    settings: dict[str, Any] | None = None,
    model_variables: Iterable[Any] | None = None,
    run_dir: Path | None = None,
) -> Path:
    """Restore the newest checkpoint that verifies completely (manifest checksums, else every
    tensor read) *before* any of it is used; move corrupt ones aside into
    ``directory/unreadable/`` (with a message) and fall back to the previous one.

    A checkpoint that reads back whole but belongs to another model or to other ``settings``
    (an edited ``config.toml``) raises :class:`RunDirError` and leaves every file as it was.
    """
    directory = Path(directory)
    _ = checkpoint.save_counter  # created now, so no restoration waits for a file moved later
    variables = list(model_variables) if model_variables is not None else None
    failures: list[str] = []
    moved: list[Path] = []
    for prefix in checkpoint_prefixes(directory):
        try:
            reader, record = verify(prefix)
        except CorruptCheckpoint as exc:
            failures.append(f"{prefix.name} ({exc})")
            log(
                f"checkpoint {prefix.name} is corrupt ({exc}); moved to {UNREADABLE_DIR}/, "
                "trying the previous one"
            )
            move_aside(prefix)
            moved.append(prefix)
            continue
        diffs = differing_settings(record, settings)
        if diffs:
            raise _mismatch_error(prefix, _describe(diffs), run_dir)
        detail = compare_model(reader, variables) if variables is not None else None
        if detail:
            raise _mismatch_error(prefix, detail, run_dir)
        try:
            status = checkpoint.read(str(prefix))
            status.assert_existing_objects_matched()
            status.expect_partial()  # the manager's save counter is not ours to restore
        except READ_ERRORS as exc:  # the bytes were verified: it is another model's
            raise _mismatch_error(prefix, first_line(exc), run_dir) from None
        if moved or _state_is_stale(directory):
            forget_moved(directory)
        return prefix
    if moved or _state_is_stale(directory):
        forget_moved(directory)
    detail = "; unreadable: " + ", ".join(failures) if failures else ""
    raise RunDirError(
        f"{str(directory)!r} holds no readable checkpoint to resume from{detail}. The corrupt "
        f"checkpoints were moved to {str(directory / UNREADABLE_DIR)!r}; nothing was trained. "
        "Restore good copies of them into the folder, or start the run again with "
        "`genmod run --overwrite`."
    )


def move_aside(prefix: Path) -> None:
    """Move every file of checkpoint ``prefix`` (and its manifest) into ``unreadable/``."""
    aside = prefix.parent / UNREADABLE_DIR
    aside.mkdir(exist_ok=True)
    for part in prefix.parent.glob(prefix.name + ".*"):
        part.replace(aside / part.name)


def moved_aside(directory: Path) -> list[Path]:
    """The checkpoints that were moved into ``directory/unreadable/``."""
    return checkpoint_prefixes(Path(directory) / UNREADABLE_DIR)


def _state_is_stale(directory: Path) -> bool:
    """Whether the ``checkpoint`` state file names a checkpoint that is not in ``directory``."""
    try:
        listed = checkpoint_state_paths(directory)
    except RunDirError:
        return True
    return any(not (directory / Path(p).name).with_suffix(".index").exists() for p in listed)


def forget_moved(directory: Path) -> None:
    """Point the ``checkpoint`` state file at the checkpoints still in ``directory``, so that the
    checkpoint manager neither resumes from nor deletes one that was moved aside (its next save
    used to fail with ``NotFoundError``)."""
    remaining = list(reversed(checkpoint_prefixes(directory)))  # oldest first
    state = directory / "checkpoint"
    if not remaining:
        state.unlink(missing_ok=True)
        return
    stamps = [Path(str(p) + ".index").stat().st_mtime for p in remaining]
    lines = [f'model_checkpoint_path: "{remaining[-1].name}"']
    lines += [f'all_model_checkpoint_paths: "{p.name}"' for p in remaining]
    lines += [f"all_model_checkpoint_timestamps: {t!r}" for t in stamps]
    lines.append(f"last_preserved_timestamp: {min(stamps) - 1.0!r}")
    tomlio.write_atomic(state, "\n".join(lines) + "\n")


# ------------------------------------------------------------------------------ exporting
def model_checkpoint(model) -> tf.train.Checkpoint:
    """A checkpoint of the model's variables only (the exported model, see :func:`load_run`)."""
    return tf.train.Checkpoint(model=list(model.variables))


def export_weights(model, run_dir: Path, settings: dict[str, Any] | None = None) -> Path:
    """Write the final weights to ``RUN/model/weights`` (with their manifest) without ever
    leaving a half-written ``model/``: they go to ``model.new/`` first, which then replaces
    ``model/``."""
    final = run_dir / rundir.MODEL_DIR
    fresh = run_dir / (rundir.MODEL_DIR + ".new")
    old = run_dir / (rundir.MODEL_DIR + ".old")
    for leftover in (fresh, old):
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        model_checkpoint(model).write(str(fresh / "weights"))
        write_manifest(fresh / "weights", settings)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    if final.exists():
        final.replace(old)
    fresh.replace(final)
    shutil.rmtree(old, ignore_errors=True)
    return final / "weights"
