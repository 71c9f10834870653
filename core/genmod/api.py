"""The Python API: everything ``genmod run`` does, in a few calls.

    from genmod.api import RunConfig, train
    result = train(RunConfig(encoder="cnn", epochs=1), data_dir="data/mnist", out_dir="runs/a")
    print(result.test["elbo"])             # nats
    run = load_run("runs/a")               # the trained model, ready to sample from
    images = run.model.sample(16)

Importing this module imports TensorFlow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from genmod import rundir
from genmod.build import build_model, condition_dim_for, load_dataset
from genmod.config import RunConfig
from genmod.errors import RunDirError
from genmod.evaluation import evaluate_elbo
from genmod.plugins import Registry, get_registry
from genmod.training import Trainer

__all__ = ["LoadedRun", "RunConfig", "RunResult", "load_run", "train"]


@dataclass
class RunResult:
    """What :func:`train` returns: the run folder, the model and the last epoch's numbers."""

    run_dir: Path
    config: RunConfig
    model: Any
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def test(self) -> dict[str, float]:
        """The last epoch's test metrics: elbo, reconstruction, kl (nats per item)."""
        last = self.history[-1]
        return {k[len("test_") :]: v for k, v in last.items() if k.startswith("test_")}


def _checkpoint(model, trainer: Trainer | None, epoch: tf.Variable | None) -> tf.train.Checkpoint:
    # Variables are tracked as ordered lists: Keras 3 layer names are process-global counters,
    # so name-based matching would not survive a restart, while the construction order does.
    parts: dict[str, Any] = {"model": list(model.variables)}
    if trainer is not None:
        parts["optimizer"] = list(trainer.optimizer.variables)
        parts["rng"] = trainer.rng
    if epoch is not None:
        parts["epoch"] = epoch
    return tf.train.Checkpoint(**parts)


def train(
    config: RunConfig,
    *,
    data_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    registry: Registry | None = None,
    log: Callable[[str], None] | None = None,
    progress: Callable[[int, int, int, dict[str, float]], None] | None = None,
) -> RunResult:
    """Train a model described by ``config`` and write a run folder.

    ``progress(epoch, steps_done, steps_per_epoch, running_means)`` is called during each
    epoch; ``log`` receives one line per epoch. Raises :class:`genmod.errors.GenmodError`
    subclasses for bad input.
    """
    registry = registry or get_registry()
    log = log or (lambda line: None)
    config = config.resolve(registry)
    _, data = load_dataset(config, registry, data_dir)
    condition_dim = condition_dim_for(config, registry, data)  # before the run folder exists
    out = Path(out_dir) if out_dir else rundir.default_run_dir(config)
    run_dir = rundir.prepare_run_dir(out, overwrite=overwrite)

    keras.utils.set_random_seed(config.seed)
    assembled = build_model(config, registry, data.data_shape, condition_dim)
    model = assembled.model
    rundir.write_config(
        run_dir,
        config,
        {
            "resolved_binarize": assembled.binarize,
            "data_shape": list(data.data_shape),
            "condition_dim": int(model.condition_dim),
        },
    )
    trainer = Trainer(
        model,
        assembled.objective,
        data.x_train,
        data.y_train,
        binarize=assembled.binarize,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        seed=config.seed,
        steps_per_execution=config.steps_per_execution,
    )
    epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    manager = tf.train.CheckpointManager(
        _checkpoint(model, trainer, epoch_var), run_dir / rundir.CHECKPOINT_DIR, max_to_keep=3
    )
    history: list[dict[str, Any]] = []
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()

        def on_progress(done: int, means: dict[str, float], epoch: int = epoch) -> None:
            if progress is not None:
                progress(epoch, done, trainer.steps_per_epoch, means)

        train_metrics = trainer.train_epoch(on_progress)
        train_seconds = time.perf_counter() - started
        test_metrics = evaluate_elbo(
            model,
            data.x_test,
            data.y_test,
            binarize=assembled.binarize,
            batch_size=config.eval_batch_size,
            seed=config.eval_seed,
        )
        record: dict[str, Any] = {"epoch": epoch, "step": int(trainer.optimizer.iterations)}
        record.update({f"train_{k}": v for k, v in train_metrics.items()})
        record.update({f"test_{k}": v for k, v in test_metrics.items()})
        record["train_seconds"] = round(train_seconds, 3)
        record["images_per_second"] = round(
            trainer.steps_per_epoch * trainer.batch_size / train_seconds, 1
        )
        epoch_var.assign(epoch)
        manager.save(checkpoint_number=epoch)
        rundir.append_metrics(run_dir, record)
        history.append(record)
        log(
            f"epoch {epoch}/{config.epochs}: train loss {train_metrics['loss']:.2f} "
            f"(reconstruction {train_metrics['reconstruction']:.2f}, kl {train_metrics['kl']:.2f})"
            f" | test ELBO {test_metrics['elbo']:.2f} nats | {train_seconds:.1f}s"
        )
    _checkpoint(model, None, None).write(str(run_dir / rundir.MODEL_DIR / "weights"))
    rundir.write_summary(run_dir, {"epochs": config.epochs, "final": history[-1]})
    return RunResult(run_dir, config, model, history)


@dataclass
class LoadedRun:
    """A trained run loaded back: its config, metadata and model (weights restored)."""

    run_dir: Path
    config: RunConfig
    meta: dict[str, Any]
    model: Any

    @property
    def binarize(self) -> str:
        return str(self.meta.get("resolved_binarize", "dynamic"))


def load_run(run_dir: str | Path, registry: Registry | None = None) -> LoadedRun:
    """Rebuild a run's model from its ``config.toml`` and restore its final weights."""
    registry = registry or get_registry()
    run_dir = Path(run_dir)
    config, meta = rundir.read_config(run_dir)
    config = config.resolve(registry)
    data_shape = tuple(meta.get("data_shape") or ())
    if not data_shape:
        raise RunDirError(f"{str(run_dir)!r}: config.toml lacks data_shape.")
    assembled = build_model(config, registry, data_shape, int(meta.get("condition_dim", 0)))
    weights = run_dir / rundir.MODEL_DIR / "weights"
    if not tf.io.gfile.exists(str(weights) + ".index"):
        raise RunDirError(f"{str(run_dir)!r} has no final weights (did the run finish?).")
    _checkpoint(assembled.model, None, None).read(str(weights)).assert_existing_objects_matched()
    return LoadedRun(run_dir, config, meta, assembled.model)
