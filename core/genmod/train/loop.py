"""The run loop: epochs with checkpoints, resume, signals, metrics, TensorBoard and pictures.

One :class:`RunLoop` trains a built model in a prepared run folder. Its checkpoints hold the
model, the optimizer, the run's random generator and the *position* in the run (finished
epochs, steps done in the current epoch, that epoch's shuffle seed and partial metric sums,
the best validation ELBO), so a resumed run continues exactly where the checkpoint was taken:
on the CPU it ends with the same weights as an uninterrupted run (tests/test_resume.py).

Order of writes after each epoch: metrics line, TensorBoard, pictures, best checkpoint, epoch
checkpoint, summary; then the run's observers (:mod:`genmod.plugins.observers`) hear of the
epoch's metrics and of the checkpoints, guarded so that an observer cannot stop or change the
run. A kill between two of them is harmless: resume restarts from the newest
readable checkpoint and first cuts ``metrics.jsonl`` back to the epochs that checkpoint holds.

Importing this module imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from genmod.config import RunConfig
from genmod.contract.errors import GenmodError, RunDirError
from genmod.data import DatasetArrays
from genmod.evaluate import collapse
from genmod.evaluate.elbo import ELBOEvaluator
from genmod.pictures import charts
from genmod.pictures import figures as visuals
from genmod.pictures import images as pictures
from genmod.plugins.observers import ObserverList
from genmod.runs import folder as rundir
from genmod.runs import tensorboard
from genmod.runs.checkpoints import (
    CHECKPOINT_PREFIX,
    CorruptCheckpoint,
    checkpoint_prefixes,
    export_weights,
    model_checkpoint,
    moved_aside,
    remove_orphan_manifests,
    remove_temporary_checkpoints,
    restore_newest_readable,
    verify_files,
    write_manifest,
)
from genmod.runs.trust import check_checkpoint_state
from genmod.train.schedules import make_schedule, plateau_update, should_stop_early
from genmod.train.signals import StopFlag
from genmod.train.splits import Splits
from genmod.train.trainer import Trainer, TrainingDiverged

PICTURE_SEED = 1234  # fixed z draws for the per-epoch sample grids, so frames are comparable


class TrainingInterrupted(GenmodError):
    """Training stopped on Ctrl-C or SIGTERM after saving a checkpoint (resume continues it)."""

    def __init__(self, message: str, signal_number: int) -> None:
        super().__init__(message)
        self.signal_number = signal_number


class _StopRequested(Exception):
    def __init__(self, done: int) -> None:
        self.done = done


@contextlib.contextmanager
def writing(what: str, run_dir: Path, epoch_done: int) -> Iterator[None]:
    """Turn a full disk while writing ``what`` into a clear :class:`RunDirError`."""
    try:
        yield
    except OSError as exc:
        if not rundir.disk_full(exc):
            raise
        raise _disk_full_error(what, run_dir, epoch_done) from exc
    except tf.errors.OpError as exc:
        if "No space left" not in str(exc) and not isinstance(
            exc, tf.errors.ResourceExhaustedError
        ):
            raise
        raise _disk_full_error(what, run_dir, epoch_done) from exc


def _disk_full_error(what: str, run_dir: Path, epoch_done: int) -> RunDirError:
    return RunDirError(
        f"the disk is full: writing the {what} of {str(run_dir)!r} failed. Nothing written "
        f"before was changed (the last checkpoint holds epoch {epoch_done}); free some space "
        f"and continue with: genmod resume {run_dir}"
    )


class RunLoop:
    """Trains ``model`` in ``run_dir`` epoch by epoch (see the module docstring)."""

    def __init__(
        self,
        run_dir: Path,
        config: RunConfig,
        assembled,
        splits: Splits,
        *,
        log: Callable[[str], None],
        progress: Callable[[int, int, int, dict[str, float]], None] | None,
        strategy: tf.distribute.Strategy | None = None,
        observers: ObserverList | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.observers = observers if observers is not None else ObserverList()
        self.resumed = False
        self.config = config
        self.model = assembled.model
        self.binarize = assembled.binarize
        self.splits = splits
        self.log = log
        self.progress = progress
        data = splits.train
        self.trainer = Trainer(
            self.model,
            assembled.objective,
            data.x_train,
            data.y_train,
            binarize=assembled.binarize,
            batch_size=config.batch_size,
            learning_rate=lambda steps_per_epoch: make_schedule(config, steps_per_epoch),
            seed=config.seed,
            steps_per_execution=config.steps_per_execution,
            # A strategy's default (one-device) instance needs no replica machinery.
            strategy=None if config.strategy == "default" else strategy,
            precision=config.precision,
            jit_compile=config.jit_compile,
            clip_grad_norm=config.clip_grad_norm,
            on_nonfinite=config.on_nonfinite,
            max_nonfinite_steps=config.max_nonfinite_steps,
        )
        m = len(self.trainer.metric_names)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.shuffle_seed = tf.Variable([0, 0], dtype=tf.int64, trainable=False)
        self.epoch_sums = tf.Variable(np.zeros(m), dtype=tf.float64, trainable=False)
        self.best_validation = tf.Variable(-np.inf, dtype=tf.float64, trainable=False)
        self.best_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        # the epoch of the last reduce-on-plateau step (checkpointed only for that schedule, so
        # checkpoints of runs without it keep the layout older genmod versions wrote)
        self.lr_reduced_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        # Variables are tracked as ordered lists: Keras 3 layer names are process-global
        # counters, so name-based matching would not survive a restart; construction order does.
        self.checkpoint = tf.train.Checkpoint(
            model=list(self.model.variables),
            optimizer=list(self.trainer.optimizer.variables),
            rng=self.trainer.rng,
            epoch=self.epoch,
            step_in_epoch=self.step_in_epoch,
            shuffle_seed=self.shuffle_seed,
            epoch_sums=self.epoch_sums,
            best_validation=self.best_validation,
            best_epoch=self.best_epoch,
        )
        if config.lr_schedule == "plateau":
            self.checkpoint.lr_reduced_epoch = self.lr_reduced_epoch
        if config.on_nonfinite == "skip":
            # the skipped-step counters (only in this mode, where skipped steps survive, so
            # that checkpoints of other runs keep the layout older genmod versions wrote)
            self.checkpoint.nonfinite_total = self.trainer.nonfinite_total
            self.checkpoint.nonfinite_consecutive = self.trainer.nonfinite_consecutive
            self.checkpoint.nonfinite_epoch = self.trainer.nonfinite_epoch
        self.stopped_early = False
        self.model_epoch: int | None = None  # the epoch whose weights the run's model holds
        self.checkpoint_dir = self.run_dir / rundir.CHECKPOINT_DIR
        self.best_dir = self.checkpoint_dir / rundir.BEST_DIR
        self.history: list[dict[str, Any]] = []
        self.evaluator = ELBOEvaluator(
            self.model,
            binarize=assembled.binarize,
            batch_size=config.eval_batch_size,
            seed=config.eval_seed,
        )
        self.collapse = collapse.CollapseMonitor(
            self.model,
            binarize=assembled.binarize,
            batch_size=config.eval_batch_size,
            seed=config.eval_seed,
        )

    # ----------------------------------------------------------------------------- restore
    def restore(self) -> None:
        """Continue from the newest readable checkpoint; cut metrics back to its epochs."""
        self.resumed = True
        remove_temporary_checkpoints(self.checkpoint_dir)
        if not checkpoint_prefixes(self.checkpoint_dir):
            aside = moved_aside(self.checkpoint_dir)
            if aside:  # never start again silently over checkpoints that exist
                raise RunDirError(
                    f"every checkpoint of {str(self.run_dir)!r} was moved aside as corrupt "
                    f"(into {str(self.checkpoint_dir / 'unreadable')!r}: "
                    f"{', '.join(p.name for p in aside)}); genmod will not start the run again "
                    "from scratch. Put good copies of them back into the checkpoints folder, or "
                    "start afresh with `genmod run --overwrite`."
                )
            # killed before the first checkpoint: the model was rebuilt from the run's seed,
            # so starting over is the same run
            self.log("no checkpoint was saved yet: starting the run from the beginning")
            self.history = rundir.keep_metrics_up_to(self.run_dir, 0)
            return
        prefix = restore_newest_readable(
            self.checkpoint,
            self.checkpoint_dir,
            self.log,
            settings=self.config.to_dict(),
            model_variables=self.model.variables,
            run_dir=self.run_dir,
        )
        epoch, step = int(self.epoch.numpy()), int(self.step_in_epoch.numpy())
        where = f"epoch {epoch}" + (f" + {step} steps" if step else "")
        self.log(f"resuming from {prefix.name} ({where} done)")
        self.history = rundir.keep_metrics_up_to(self.run_dir, epoch)

    def _managers(self) -> tuple[tf.train.CheckpointManager, tf.train.CheckpointManager]:
        def manager(directory: Path, keep: int) -> tf.train.CheckpointManager:
            # the manager deletes old checkpoints its state file lists: never outside the folder
            check_checkpoint_state(directory, self.run_dir)
            try:
                return tf.train.CheckpointManager(
                    self.checkpoint,
                    str(directory),
                    max_to_keep=keep,
                    checkpoint_name=CHECKPOINT_PREFIX,
                )
            except (tf.errors.OpError, ValueError):  # an unreadable state file: start afresh
                (directory / "checkpoint").unlink(missing_ok=True)
                return tf.train.CheckpointManager(
                    self.checkpoint,
                    str(directory),
                    max_to_keep=keep,
                    checkpoint_name=CHECKPOINT_PREFIX,
                )

        return (
            manager(self.checkpoint_dir, self.config.checkpoints_to_keep),
            manager(self.best_dir, 1),
        )

    # ------------------------------------------------------------------------------ run
    def run(self) -> list[dict[str, Any]]:
        """Train the remaining epochs; returns the metrics of every finished epoch.

        The observers hear ``on_run_start`` first and ``on_run_end`` last, whatever happens:
        ``finished``, ``interrupted`` (:class:`TrainingInterrupted`, Ctrl-C), ``diverged``
        (:class:`TrainingDiverged`) or ``failed`` (any other exception, which propagates)."""
        try:
            self.observers.on_run_start(self.config.to_dict(), self.run_dir, self.resumed)
            history = self._run()
        except (TrainingInterrupted, KeyboardInterrupt) as exc:
            self.observers.on_run_end("interrupted", str(exc) or type(exc).__name__)
            raise
        except TrainingDiverged as exc:
            self.observers.on_run_end("diverged", str(exc))
            raise
        except BaseException as exc:
            self.observers.on_run_end("failed", f"{type(exc).__name__}: {exc}")
            raise
        self.observers.on_run_end("finished", None)
        return history

    def _run(self) -> list[dict[str, Any]]:
        manager, best_manager = self._managers()
        if int(self.epoch.numpy()) >= self.config.epochs:
            self.log(
                f"the run has finished all {self.config.epochs} epochs; nothing to train "
                "(pass --epochs to train further). Rewriting the final model and pictures."
            )
        with writing("TensorBoard events", self.run_dir, int(self.epoch.numpy())):
            writer = tf.summary.create_file_writer(str(self.run_dir / rundir.TENSORBOARD_DIR))
        stop = StopFlag()
        try:
            with stop.installed():
                self._epochs(manager, best_manager, writer, stop)
                self._finish()  # a signal now is ignored: the last epoch's checkpoint is saved
        finally:
            writer.close()
        return self.history

    def _epochs(self, manager, best_manager, writer, stop: StopFlag) -> None:
        config, trainer = self.config, self.trainer
        if int(self.step_in_epoch.numpy()) == 0 and self._stops_early(int(self.epoch.numpy())):
            return  # a resumed run that had already stopped early
        for epoch in range(int(self.epoch.numpy()) + 1, config.epochs + 1):
            start_step = int(self.step_in_epoch.numpy())
            if start_step == 0:
                self.shuffle_seed.assign(trainer.rng.make_seeds(1)[:, 0])
                start_sums = None
            else:
                start_sums = self.epoch_sums.numpy()

            def on_progress(done: int, means: dict[str, float], epoch: int = epoch) -> None:
                if self.progress is not None:
                    self.progress(epoch, done, trainer.steps_per_epoch, means)
                if stop.requested:
                    raise _StopRequested(done)

            started = time.perf_counter()
            try:
                train_metrics = trainer.train_epoch(
                    on_progress,
                    shuffle_seed=self.shuffle_seed,
                    start_step=start_step,
                    start_sums=start_sums,
                )
            except _StopRequested as request:
                self._save_interrupted(manager, epoch, request.done, stop)
            except TrainingDiverged as exc:
                self._write_summary("diverged", message=str(exc))
                kept = f"epoch {epoch - 1}" + (f" + {start_step} steps" if start_step else "")
                raise TrainingDiverged(
                    f"epoch {epoch}: {exc.what} Training stopped; "
                    + (
                        f"the run folder keeps the last good checkpoint ({kept}) in "
                        f"{self.checkpoint_dir}; after a change that removes the cause, "
                        f"continue with: genmod resume {self.run_dir}."
                        if epoch > 1 or start_step
                        else "no checkpoint had been saved yet."
                    ),
                    step=exc.step,
                    term=exc.term,
                    advice=exc.advice,
                ) from None
            train_seconds = time.perf_counter() - started
            self.step_in_epoch.assign(0)
            record = self._evaluate(epoch, train_metrics, train_seconds, start_step)
            done_before = epoch - 1
            with writing("metrics", self.run_dir, done_before):
                rundir.append_metrics(self.run_dir, record)
            self.history.append(record)
            with writing("TensorBoard summaries and pictures", self.run_dir, done_before):
                self._epoch_pictures(epoch, record, writer)
            self.epoch.assign(epoch)
            step = trainer.step_count
            saved: list[tuple[str, bool]] = []
            with writing("checkpoint", self.run_dir, done_before):
                validation = record.get("validation_elbo")
                improved = validation is not None and validation > float(
                    self.best_validation.numpy()
                )
                if improved:
                    self.best_validation.assign(validation)
                    self.best_epoch.assign(epoch)
                self._reduce_on_plateau(epoch)  # before saving: the checkpoint holds the rate
                if improved:
                    saved.append((self._save(best_manager, step), True))
                saved.append((self._save(manager, step), False))
            with writing("summary", self.run_dir, epoch):
                self._write_summary("running")
            self.log(self._epoch_line(record))
            self._warn_if_collapsed(record)
            self.observers.on_epoch_end(epoch, record)
            for path, best in saved:
                self.observers.on_checkpoint(path, epoch, best)
            if self._stops_early(epoch):
                return
            if stop.requested and epoch < config.epochs:
                self._save_interrupted(manager, epoch + 1, 0, stop, saved=True)

    def _warn_if_collapsed(self, record: dict[str, Any]) -> None:
        """Warn once per stretch: when the last :data:`collapse.COLLAPSE_EPOCHS` epochs (read
        from the metrics, so a resumed run counts the epochs before it) all look collapsed."""
        streak = 0
        for past in reversed(self.history):
            if not collapse.is_collapsed(past):
                break
            streak += 1
        if streak == collapse.COLLAPSE_EPOCHS:
            self.log(collapse.collapse_advice(streak, record))

    def _reduce_on_plateau(self, epoch: int) -> None:
        current = self.trainer.learning_rate
        reduced = plateau_update(
            self.config,
            epoch=epoch,
            best_epoch=int(self.best_epoch.numpy()),
            last_reduction=int(self.lr_reduced_epoch.numpy()),
            current=current,
        )
        if reduced is None:
            return
        self.trainer.set_learning_rate(reduced)
        self.lr_reduced_epoch.assign(epoch)
        self.log(
            f"epoch {epoch}: no better validation ELBO for {self.config.lr_patience} epoch(s); "
            f"learning rate {current:.3g} -> {reduced:.3g}"
        )

    def _stops_early(self, epoch: int) -> bool:
        best = int(self.best_epoch.numpy())
        if not should_stop_early(self.config, epoch=epoch, best_epoch=best):
            return False
        self.stopped_early = True
        self.log(
            f"early stopping after epoch {epoch}: no better validation ELBO for "
            f"{epoch - best} epoch(s) (patience {self.config.early_stopping_patience}); the "
            f"run's model is the best checkpoint, epoch {best} (validation ELBO "
            f"{float(self.best_validation.numpy()):.2f} nats)"
        )
        return True

    def _save(self, manager: tf.train.CheckpointManager, step: int) -> str:
        """Save a checkpoint, then its manifest (checksums, settings; verified on resume)."""
        path = manager.save(checkpoint_number=step)
        write_manifest(Path(path), self.config.to_dict())
        remove_orphan_manifests(Path(manager.directory))
        return path

    def _save_interrupted(self, manager, epoch: int, done: int, stop: StopFlag, *, saved=False):
        name = signal.Signals(stop.signal_number).name
        if not saved:
            self.step_in_epoch.assign(done)
            self.epoch_sums.assign(self.trainer.epoch_sums)
            with writing("checkpoint", self.run_dir, epoch - 1):
                path = self._save(manager, self.trainer.step_count)
            self.observers.on_checkpoint(path, epoch - 1, False)
        self._write_summary("interrupted")
        where = (
            f"after {done} of {self.trainer.steps_per_epoch} steps of epoch {epoch}"
            if done
            else f"after epoch {epoch - 1}"
        )
        raise TrainingInterrupted(
            f"{name} received: stopped {where} and saved a checkpoint. Continue with: "
            f"genmod resume {self.run_dir}",
            int(stop.signal_number),
        )

    def _evaluate(self, epoch, train_metrics, train_seconds, start_step) -> dict[str, Any]:
        data = self.splits
        record: dict[str, Any] = {
            "epoch": epoch,
            "step": self.trainer.step_count,
        }
        record.update({f"train_{k}": v for k, v in train_metrics.items()})
        if data.x_validation is not None:
            validation = self.evaluator(data.x_validation, data.y_validation)
            record.update({f"validation_{k}": v for k, v in validation.items()})
        test = self.evaluator(data.train.x_test, data.train.y_test)
        record.update({f"test_{k}": v for k, v in test.items()})
        # posterior collapse, on the test items (genmod.evaluate.collapse)
        record.update(self.collapse(data.train.x_test, data.train.y_test))
        steps = self.trainer.steps_per_epoch - start_step
        record["learning_rate"] = self.trainer.learning_rate
        record["nonfinite_steps"] = int(self.trainer.nonfinite_epoch.numpy())  # skipped
        record["train_seconds"] = round(train_seconds, 3)
        record["images_per_second"] = round(
            steps * self.trainer.batch_size / max(train_seconds, 1e-9), 1
        )
        return record

    def _epoch_pictures(self, epoch: int, record: dict[str, Any], writer) -> None:
        pictures_dir = self.run_dir / rundir.PICTURES_DIR
        frame = visuals.samples_picture(
            self.model, pictures_dir / "samples" / f"epoch-{epoch:04d}.png", seed=PICTURE_SEED
        )
        frames = sorted((pictures_dir / "samples").glob("epoch-*.png"))
        frames = [f for f in frames if int(f.stem.split("-")[1]) <= epoch]
        pictures.save_gif(frames, pictures_dir / "samples.gif")
        charts.save_learning_curves(self.history, pictures_dir / "curves.png")
        test = self.splits.train
        recon = visuals.reconstruction_picture(
            self.model,
            test.x_test[:16],
            None if test.y_test is None else test.y_test[:16],
            pictures_dir / "reconstructions.png",
            binarize=self.binarize,
            n=16,
        )
        from PIL import Image

        with writer.as_default():
            for key, value in record.items():
                if (
                    key != "epoch"
                    and isinstance(value, (int, float))
                    and not isinstance(value, bool)
                ):
                    tensorboard.scalar(key, value, epoch)
            for i, value in enumerate(record.get("kl_per_dim") or []):
                tensorboard.scalar(f"kl_per_dim/{i:02d}", value, epoch)
            for tag, path in (("samples", frame), ("reconstructions", recon)):
                with Image.open(path) as image:
                    width, height = image.size
                tensorboard.png_image(tag, Path(path).read_bytes(), width, height, epoch)
        writer.flush()

    def _epoch_line(self, record: dict[str, Any]) -> str:
        line = (
            f"epoch {record['epoch']}/{self.config.epochs}: train loss {record['train_loss']:.2f} "
            f"(reconstruction {record['train_reconstruction']:.2f}, kl {record['train_kl']:.2f})"
        )
        if "validation_elbo" in record:
            line += f" | validation ELBO {record['validation_elbo']:.2f}"
        line += f" | test ELBO {record['test_elbo']:.2f} nats"
        if "test_bits_per_dim" in record:  # 8-bit data (genmod.contract.units)
            line += f" ({record['test_bits_per_dim']:.3f} bits/dim)"
        return line + f" | {record['train_seconds']:.1f}s"

    # ----------------------------------------------------------------------------- finish
    def _finish(self) -> None:
        epochs_done = int(self.epoch.numpy())
        self.model_epoch = epochs_done
        if self.config.early_stopping_patience and int(self.best_epoch.numpy()):
            self._restore_best_weights()
        with writing("final model", self.run_dir, epochs_done):
            export_weights(self.model, self.run_dir, self.config.to_dict())
        with writing("final pictures", self.run_dir, epochs_done):
            write_final_pictures(self.model, self.splits.train, self.run_dir, self.binarize)
        with writing("summary", self.run_dir, epochs_done):
            self._write_summary("finished")

    def _restore_best_weights(self) -> None:
        """Load the best checkpoint's model weights (verified against its manifest): with
        early stopping, the run's model is the best epoch's, not the last one's."""
        prefixes = checkpoint_prefixes(self.best_dir)
        if not prefixes:
            return
        try:
            verify_files(prefixes[0])
        except CorruptCheckpoint as exc:
            raise RunDirError(
                f"the best checkpoint of {str(self.run_dir)!r} is corrupt ({exc}); the run's "
                "model could not be set to it. Its epoch checkpoints are intact."
            ) from None
        model_checkpoint(self.model).read(str(prefixes[0])).expect_partial()
        self.model_epoch = int(self.best_epoch.numpy())

    def _write_summary(self, status: str, message: str | None = None) -> None:
        best_epoch = int(self.best_epoch.numpy())
        summary: dict[str, Any] = {
            "status": status,
            "epochs_done": int(self.epoch.numpy()),
            "epochs": self.config.epochs,
            "step": self.trainer.step_count,
            "final": self.history[-1] if self.history else None,
            "best": (
                {"epoch": best_epoch, "validation_elbo": float(self.best_validation.numpy())}
                if best_epoch
                else None
            ),
        }
        if self.stopped_early:
            summary["stopped_early"] = True
        summary["nonfinite_steps"] = int(self.trainer.nonfinite_total.numpy())
        if self.model_epoch is not None and status == "finished":
            summary["model_epoch"] = self.model_epoch
        if message:
            summary["message"] = message
        rundir.write_summary(self.run_dir, summary)


def write_final_pictures(model, data: DatasetArrays, run_dir: Path, binarize: str) -> None:
    """Reconstructions, latent space, manifold (2-d latents), interpolations and traversals."""
    out = run_dir / rundir.PICTURES_DIR
    x, y = data.x_test, data.y_test
    visuals.reconstruction_picture(model, x, y, out / "reconstructions.png", binarize=binarize)
    visuals.latent_picture(model, x, y, out / "latent.png", binarize=binarize)
    if model.latent_dim == 2:
        visuals.manifold_picture(model, out / "manifold.png")
    pairs = min(4, len(x) // 2)  # a small test set of one's own data may hold fewer than 8
    if pairs:
        visuals.interpolation_picture(
            model, x, y, out / "interpolation.png", binarize=binarize, pairs=pairs
        )
    visuals.traversal_picture(model, x, y, out / "traversal.png", binarize=binarize)
