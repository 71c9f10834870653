"""The training loop: data held as tensors, in-graph shuffling and binarization, several
optimizer steps per ``tf.function`` call, metrics summed on the device, optionally replicated
with a ``tf.distribute`` strategy (see :mod:`genmod.train.distribute`) and in mixed precision (see
:mod:`genmod.train.precision`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from genmod.contract.errors import ConfigError, GenmodError
from genmod.model.preprocess import binarize_images, one_hot_labels, to_unit_interval
from genmod.train.precision import make_optimizer

__all__ = ["Trainer", "TrainingDiverged", "binarize_images", "one_hot_labels", "to_unit_interval"]


class TrainingDiverged(GenmodError):
    """The loss became NaN or infinite."""


class Trainer:
    """Trains a model with an objective on in-memory data.

    ``images``: uint8 or float ``[n, *data_shape]``; ``labels``: int ``[n]`` (needed when the
    model is conditional). The random state (shuffles, binarization, z samples) lives in a
    ``tf.random.Generator`` seeded by ``seed``, so a run is reproducible on the CPU and its
    state can be checkpointed.

    ``strategy``: a ``tf.distribute`` strategy whose scope the model was built in (``None``: no
    replication). ``batch_size`` is then the global batch, split evenly across replicas.
    ``precision``: the Keras policy the model was built under (``mixed_float16`` adds loss
    scaling). ``jit_compile``: compile each optimizer step with XLA. ``learning_rate``: a
    number, or a callable that takes the steps per epoch and returns a number or a Keras
    ``LearningRateSchedule`` (see :func:`genmod.train.schedules.make_schedule`).
    ``clip_grad_norm`` > 0: clip gradients to that global norm.
    """

    def __init__(
        self,
        model,
        objective,
        images: np.ndarray,
        labels: np.ndarray | None,
        *,
        binarize: str,
        batch_size: int,
        learning_rate,
        seed: int,
        steps_per_execution: int = 50,
        strategy: tf.distribute.Strategy | None = None,
        precision: str = "float32",
        jit_compile: bool = False,
        clip_grad_norm: float = 0.0,
    ) -> None:
        n = int(images.shape[0])
        if batch_size > n:
            raise ConfigError(
                f"--batch-size {batch_size} is larger than the training set ({n} items); "
                f"use at most {n}."
            )
        if model.condition_dim and labels is None:
            raise ConfigError("a conditional model needs a dataset with labels.")
        self.model = model
        self.objective = objective
        self.binarize = binarize
        self.batch_size = int(batch_size)
        self.steps_per_epoch = n // self.batch_size  # the last partial batch is dropped
        self.steps_per_execution = int(steps_per_execution)
        self.images = tf.constant(images)
        self.labels = tf.constant(labels) if labels is not None else None
        self.num_items = n
        self.strategy = strategy
        self.num_replicas = int(strategy.num_replicas_in_sync) if strategy is not None else 1
        if self.batch_size % self.num_replicas:
            raise ConfigError(
                f"--batch-size {self.batch_size} cannot be split evenly across "
                f"{self.num_replicas} replicas; use a multiple of {self.num_replicas}."
            )
        self.replica_batch_size = self.batch_size // self.num_replicas
        if jit_compile and self.num_replicas > 1:
            # XLA compiles one step for all replicas and then reads each replica's variables
            # from the first replica's device, which TensorFlow refuses (measured on two
            # logical CPU devices); until that is solved, refuse rather than fail mid-run.
            raise ConfigError(
                f"--jit-compile is not supported with {self.num_replicas} replicas; leave it "
                "out with --strategy mirrored/multiworker on several devices."
            )
        self.variables = list(model.trainable_variables)
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            if callable(learning_rate):  # a schedule of the step, given steps per epoch
                learning_rate = learning_rate(self.steps_per_epoch)
            self.optimizer = make_optimizer(learning_rate, precision, clip_grad_norm=clip_grad_norm)
            self.optimizer.build(self.variables)
        # The generator lives outside the strategy scope: it is only used in the cross-replica
        # part of a step, and every worker draws the same numbers from the same seed.
        self.rng = tf.random.Generator.from_seed(int(seed))
        self.metric_names = tuple(objective.metric_names)
        step = self._replica_step
        if jit_compile:
            step = tf.function(step, jit_compile=True, reduce_retracing=True)
        self._compiled_step = step
        self._train_chunk = tf.function(self._train_chunk_eager)

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step (after the schedule), per step."""
        inner = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        return float(tf.convert_to_tensor(inner.learning_rate).numpy())

    def set_learning_rate(self, value: float) -> None:
        """Set a constant learning rate (reduce-on-plateau); a checkpointed optimizer variable."""
        inner = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        inner.learning_rate.assign(float(value))

    @property
    def step_count(self) -> int:
        """Optimizer steps taken so far (also under a strategy, whose variables are mirrored)."""
        return int(tf.convert_to_tensor(self.optimizer.iterations.value).numpy())

    def _gather(self, indices: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The raw items (uint8 or float) and labels (int; zeros when unlabelled) at ``indices``."""
        raw_labels = (
            tf.gather(self.labels, indices)
            if self.labels is not None
            else tf.zeros(tf.shape(indices), tf.int32)
        )
        return tf.gather(self.images, indices), raw_labels

    def _prepare(self, raw_images: tf.Tensor, raw_labels: tf.Tensor, seed: tf.Tensor):
        x = binarize_images(raw_images, self.binarize, seed)
        condition = None
        if self.model.condition_dim:
            condition = one_hot_labels(raw_labels, self.model.condition_dim)
        return x, condition

    def train_step(self, x: tf.Tensor, condition: tf.Tensor | None, seed: tf.Tensor):
        """One optimizer step on a prepared batch; returns the metric vector (float32)."""
        with tf.GradientTape() as tape:
            out = self.objective(
                self.model, x, condition, seed=seed, step=self.optimizer.iterations
            )
            # Per-example loss / global batch: gradients are summed over replicas.
            loss = out.loss / self.num_replicas if self.num_replicas > 1 else out.loss
            scaled = self.optimizer.scale_loss(loss)  # x loss scale under mixed_float16
        grads = tape.gradient(scaled, self.variables)
        pairs = [(g, v) for g, v in zip(grads, self.variables, strict=True) if g is not None]
        self.optimizer.apply_gradients(pairs)
        return tf.stack([tf.cast(out.metrics[k], tf.float32) for k in self.metric_names])

    def _replica_step(
        self, raw_images: tf.Tensor, raw_labels: tf.Tensor, seeds: tf.Tensor
    ) -> tf.Tensor:
        """One step on this replica's slice of the global batch (raw items ``[batch, ...]``,
        labels ``[batch]``); ``seeds``: int32 ``[2, 2]`` (data, z). Returns this replica's
        metric means (float32 ``[num_metrics]``)."""
        data_seed, z_seed = seeds[:, 0], seeds[:, 1]
        if self.num_replicas > 1:
            replica = tf.distribute.get_replica_context().replica_id_in_sync_group
            replica = tf.cast(replica, tf.int32)
            size = self.replica_batch_size
            raw_images = raw_images[replica * size : (replica + 1) * size]
            raw_labels = raw_labels[replica * size : (replica + 1) * size]
            data_seed = data_seed + tf.stack([0, replica])  # fresh noise for every slice
            z_seed = z_seed + tf.stack([0, replica])
        x, condition = self._prepare(raw_images, raw_labels, data_seed)
        return self.train_step(x, condition, z_seed)

    def _train_chunk_eager(self, order: tf.Tensor, start: tf.Tensor, count: tf.Tensor):
        sums = tf.zeros([len(self.metric_names)], tf.float32)
        for i in tf.range(count):
            step = start + i
            indices = order[step * self.batch_size : (step + 1) * self.batch_size]
            seeds = tf.cast(self.rng.make_seeds(2), tf.int32)
            # The global batch is gathered where the data lives; only that batch (not the data
            # set) is sent to the replicas, each of which takes its own slice.
            raw_images, raw_labels = self._gather(indices)
            if self.strategy is None:
                sums += self._compiled_step(raw_images, raw_labels, seeds)
            else:
                per_replica = self.strategy.run(
                    self._compiled_step, args=(raw_images, raw_labels, seeds)
                )
                sums += self.strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None)
        return sums

    def train_epoch(
        self,
        progress: Callable[[int, dict[str, float]], None] | None = None,
        *,
        shuffle_seed: tf.Tensor | None = None,
        start_step: int = 0,
        start_sums: np.ndarray | None = None,
    ) -> dict[str, float]:
        """One pass over the (reshuffled) training set; returns metric means over the epoch.

        ``progress(steps_done, running_means)`` is called after every chunk of steps, when
        ``self.epoch_sums`` holds the metric sums (float64) of the steps done so far.
        ``shuffle_seed`` (int64 ``[2]``) fixes the epoch's permutation; by default it is drawn
        from the run's generator. ``start_step`` and ``start_sums`` continue an epoch that was
        stopped after that many steps (resume from a mid-epoch checkpoint).
        """
        if shuffle_seed is None:
            shuffle_seed = self.rng.make_seeds(1)[:, 0]
        order = tf.random.experimental.stateless_shuffle(
            tf.range(self.num_items), seed=shuffle_seed
        )
        totals = np.zeros(len(self.metric_names), np.float64)
        if start_sums is not None:
            totals += np.asarray(start_sums, np.float64)
        done = int(start_step)
        self.epoch_sums = totals.copy()
        while done < self.steps_per_epoch:
            count = min(self.steps_per_execution, self.steps_per_epoch - done)
            sums = self._train_chunk(
                order, tf.constant(done, tf.int32), tf.constant(count, tf.int32)
            ).numpy()
            if not np.all(np.isfinite(sums)):
                raise TrainingDiverged(
                    f"the loss became NaN or infinite during steps {done + 1}-{done + count} of "
                    "the epoch. Try a lower --learning-rate, or check the data and likelihood."
                )
            totals += sums
            done += count
            self.epoch_sums = totals.copy()
            if progress is not None:
                progress(done, dict(zip(self.metric_names, totals / done, strict=True)))
        return {k: float(v) for k, v in zip(self.metric_names, totals / done, strict=True)}
