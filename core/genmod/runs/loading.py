"""Loading a trained run back: its config, metadata and model with weights restored.

Importing this module imports TensorFlow.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tensorflow as tf

from genmod.config import RunConfig, read_config
from genmod.contract.errors import ConfigError, RunDirError
from genmod.data.download import sha256_file
from genmod.model.assembly import build_model
from genmod.plugins import Registry, get_registry
from genmod.runs import folder as rundir
from genmod.runs.checkpoints import (
    READ_ERRORS,
    CorruptCheckpoint,
    checkpoint_files,
    checkpoint_prefixes,
    compare_model,
    first_line,
    model_checkpoint,
    verify_files,
)
from genmod.runs.trust import check_links


@dataclass
class LoadedRun:
    """A trained run loaded back: its config, metadata and model (weights restored)."""

    run_dir: Path
    config: RunConfig
    meta: dict[str, Any]
    model: Any
    #: the checkpoint prefix the weights were read from (``RUN/model/weights`` for ``final``)
    weights: Path | None = None

    def weights_sha256(self) -> str:
        """One SHA-256 over the weight files read (index and data shards, in name order): a
        fingerprint of the trained model, for files fitted to it (``RUN/samplers/``)."""
        digest = hashlib.sha256()
        for path in checkpoint_files(self.weights) if self.weights is not None else []:
            digest.update(f"{Path(path).name}:{sha256_file(Path(path))}\n".encode())
        return digest.hexdigest()

    @property
    def binarize(self) -> str:
        """The binarization the run trained with: ``"dynamic"``, ``"static"`` or ``"none"``."""
        return str(self.meta.get("resolved_binarize", "dynamic"))


def load_run(
    run_dir: str | Path, registry: Registry | None = None, *, checkpoint: str = "final"
) -> LoadedRun:
    """Rebuild a run's model from its ``config.toml`` and restore its weights.

    ``checkpoint``: ``final`` (the exported model of a finished run), ``best`` (best
    validation ELBO) or ``latest`` (the newest training checkpoint, e.g. of an interrupted run).
    """
    registry = registry or get_registry()
    run_dir = Path(run_dir)
    config, meta = read_config(run_dir)
    check_links(run_dir)  # a shared run folder must not lead genmod elsewhere
    config = config.resolve(registry, drop_unknown_observers=True)  # observers: not the model
    data_shape = tuple(meta.get("data_shape") or ())
    if not data_shape:
        raise RunDirError(f"{str(run_dir)!r}: config.toml lacks data_shape.")
    assembled = build_model(config, registry, data_shape, int(meta.get("condition_dim", 0)))
    weights = _weights_prefix(run_dir, checkpoint)
    _verify_weights(run_dir, checkpoint, weights, assembled.model)
    try:
        reader = model_checkpoint(assembled.model).read(str(weights))
        reader.expect_partial().assert_existing_objects_matched()
    except READ_ERRORS as exc:
        raise RunDirError(
            f"{str(run_dir)!r}: the {checkpoint} weights ({_names(weights)}) cannot be read: "
            f"{first_line(exc)}"
        ) from None
    return LoadedRun(run_dir, config, meta, assembled.model, weights)


def _names(prefix: Path) -> str:
    return ", ".join(str(p) for p in checkpoint_files(prefix))


def _verify_weights(run_dir: Path, which: str, prefix: Path, model) -> None:
    """Check the weights' files before reading them: against their manifest (when they have
    one), else by reading every tensor. A :class:`RunDirError` names the damaged file."""
    what = f"{str(run_dir)!r}: the {which} weights"
    try:
        verified = verify_files(prefix) is not None
    except CorruptCheckpoint as exc:
        raise RunDirError(f"{what} are corrupt: {exc}. Copy the run again.") from None
    index = Path(str(prefix) + ".index")
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        shapes = reader.get_variable_to_shape_map()
    except READ_ERRORS as exc:
        raise RunDirError(
            f"{what} cannot be read: {index} is truncated or corrupt ({first_line(exc)})."
        ) from None
    if not verified:
        try:
            for key in shapes:
                reader.get_tensor(key)
        except READ_ERRORS as exc:
            data = ", ".join(str(p) for p in checkpoint_files(prefix)[1:]) or f"{prefix}.data-*"
            raise RunDirError(
                f"{what} cannot be read: {data} is truncated or corrupt ({first_line(exc)})."
            ) from None
    detail = compare_model(reader, model.variables)
    if detail:
        raise RunDirError(
            f"{what} ({prefix}) do not match the model its config.toml describes: {detail}. "
            "Was config.toml edited after training?"
        )


def _weights_prefix(run_dir: Path, which: str) -> Path:
    if which == "final":
        for folder in (rundir.MODEL_DIR, rundir.MODEL_DIR + ".old"):  # .old: killed mid-swap
            prefix = run_dir / folder / "weights"
            if tf.io.gfile.exists(str(prefix) + ".index"):
                return prefix
        if any((run_dir / f).is_dir() for f in (rundir.MODEL_DIR, rundir.MODEL_DIR + ".old")):
            raise RunDirError(
                f"{str(run_dir / rundir.MODEL_DIR)!r} exists but holds no weights.index: the "
                "final weights are damaged or incomplete. The checkpoints in "
                f"{str(run_dir / rundir.CHECKPOINT_DIR)!r} still hold the trained model (Python: "
                "load_run(RUN, checkpoint='best' or 'latest'))."
            )
        raise RunDirError(
            f"{str(run_dir)!r} has no final weights (did the run finish?). Use "
            f"`genmod resume {run_dir}` to finish it, or, in Python, load_run(RUN, "
            "checkpoint='latest')."
        )
    if which not in ("best", "latest"):
        raise ConfigError(f"checkpoint must be final, best or latest, not {which!r}.")
    folder = run_dir / rundir.CHECKPOINT_DIR
    if which == "best":
        folder = folder / rundir.BEST_DIR
    prefixes = checkpoint_prefixes(folder)
    if not prefixes:
        raise RunDirError(f"{str(run_dir)!r} has no {which} checkpoint in {folder}.")
    return prefixes[0]
