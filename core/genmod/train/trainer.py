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
from genmod.train import nonfinite
from genmod.train.precision import make_optimizer

__all__ = ["Trainer", "TrainingDiverged", "binarize_images", "one_hot_labels", "to_unit_interval"]


class TrainingDiverged(GenmodError):
    """The loss or the gradients became NaN or infinite (the bad steps were not applied).

    ``step``: the first bad step of the stretch that stopped the run, 1-based within its epoch
    (``None`` when unknown); ``term``: the term blamed (one of :data:`nonfinite.TERMS`, or
    ``None``); ``advice``: the remedies, the last sentence of the message (the run loop puts
    it after what it adds)."""

    def __init__(
        self,
        message: str,
        *,
        step: int | None = None,
        term: str | None = None,
        advice: str = "",
    ) -> None:
        super().__init__(f"{message} {advice}" if advice else message)
        self.what = message
        self.step = step
        self.term = term
        self.advice = advice


def check_batch_size(batch_size: int, n: int) -> None:
    """Refuse a batch larger than the ``n`` training items (a :class:`ConfigError`)."""
    if batch_size > n:
        raise ConfigError(
            f"--batch-size {batch_size} is larger than the training set ({n} items); "
            f"use at most {n}."
        )


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

    The non-finite guard: a step whose loss, reconstruction or KL term, or any gradient is NaN
    or infinite is not applied (the weights and the optimizer's state, its step count
    included, stay as they were) and is counted. ``on_nonfinite="stop"`` raises
    :class:`TrainingDiverged` at the first such step; ``"skip"`` goes on and raises only after
    ``max_nonfinite_steps`` of them in a row. The counters (:attr:`nonfinite_total`,
    :attr:`nonfinite_consecutive`, :attr:`nonfinite_epoch`) are int64 variables for checkpoints.
    Under ``mixed_float16`` the loss-scale optimizer handles non-finite gradients itself (it
    skips the step and lowers the scale), so only the loss and its terms are guarded there.
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
        on_nonfinite: str = "stop",
        max_nonfinite_steps: int = 3,
    ) -> None:
        n = int(images.shape[0])
        check_batch_size(batch_size, n)
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
        if on_nonfinite not in ("stop", "skip"):
            raise ConfigError(f"--on-nonfinite got {on_nonfinite!r}; accepted: stop, skip.")
        self.on_nonfinite = on_nonfinite
        self.nonfinite_limit = 1 if on_nonfinite == "stop" else int(max_nonfinite_steps)
        self.precision = precision
        self.guard_gradients = precision != "mixed_float16"
        counter = dict(dtype=tf.int64, trainable=False)
        self.nonfinite_total = tf.Variable(0, **counter)
        self.nonfinite_consecutive = tf.Variable(0, **counter)
        self.nonfinite_epoch = tf.Variable(0, **counter)  # bad steps of the current epoch
        # the first bad step of the current stretch (step in epoch, its flags and seeds)
        self._first_bad_step = tf.Variable(0, dtype=tf.int32, trainable=False)
        self._first_bad_flags = tf.Variable(
            tf.zeros([len(nonfinite.TERMS)], tf.float32), trainable=False
        )
        self._first_bad_seeds = tf.Variable(tf.zeros([2, 2], tf.int32), trainable=False)
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
        metrics = tf.stack([tf.cast(out.metrics[k], tf.float32) for k in self.metric_names])
        flags = self._nonfinite_flags(loss, out.metrics, [g for g, _ in pairs])
        self._apply_if_finite(tf.reduce_all(flags == 0.0), pairs)
        return tf.concat([metrics, flags], axis=0)

    def _nonfinite_flags(self, loss, metrics, grads) -> tf.Tensor:
        """float32 ``[len(nonfinite.TERMS)]``: 1.0 where that term is NaN or infinite."""

        def bad(tensor) -> tf.Tensor:
            if isinstance(tensor, tf.IndexedSlices):  # sparse gradients (embeddings)
                tensor = tensor.values
            return tf.logical_not(tf.reduce_all(tf.math.is_finite(tf.cast(tensor, tf.float32))))

        values = {
            "loss": bad(loss),
            "reconstruction": bad(metrics["reconstruction"]),
            "kl": bad(metrics["kl"]),
            "gradients": (
                tf.reduce_any(tf.stack([bad(g) for g in grads]))
                if grads and self.guard_gradients
                else tf.constant(False)
            ),
        }
        flags = tf.cast(tf.stack([values[k] for k in nonfinite.TERMS]), tf.float32)
        if self.num_replicas > 1:  # every replica must take the same decision
            context = tf.distribute.get_replica_context()
            flags = tf.minimum(context.all_reduce(tf.distribute.ReduceOp.SUM, flags), 1.0)
        return flags

    def _apply_if_finite(self, finite: tf.Tensor, pairs) -> None:
        """Apply the gradients only when ``finite`` (a bool scalar, equal on every replica);
        otherwise leave the weights and the optimizer's variables untouched."""

        def apply() -> tf.Tensor:
            self.optimizer.apply_gradients(pairs)
            return tf.constant(True)

        def skip() -> tf.Tensor:
            return tf.constant(False)

        if self.strategy is None or tf.__internal__.distribute.strategy_supports_no_merge_call():
            tf.cond(finite, apply, skip)
            return

        # Under a strategy that merges, apply_gradients calls merge_call, which a cond in a
        # replica context may not contain: decide in the cross-replica context (as Keras's
        # LossScaleOptimizer does).
        def cross_replica(distribution, finite, pairs):
            decision = distribution.experimental_local_results(finite)[0]

            def apply_all() -> tf.Tensor:
                distribution.extended.call_for_each_replica(
                    self.optimizer.apply_gradients, args=(pairs,)
                )
                return tf.constant(True)

            tf.cond(decision, apply_all, skip)

        tf.distribute.get_replica_context().merge_call(cross_replica, args=(finite, pairs))

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
        """Up to ``count`` steps from step ``start`` of the epoch. Returns float32
        ``[num_metrics + 1]``: the metric sums over the steps that were applied, then the number
        of steps taken (fewer than ``count`` when the non-finite limit was reached)."""
        m = len(self.metric_names)
        sums = tf.zeros([m], tf.float32)
        i = tf.constant(0, tf.int32)
        limit = tf.constant(self.nonfinite_limit, tf.int64)
        while i < count and self.nonfinite_consecutive < limit:
            step = start + i
            indices = order[step * self.batch_size : (step + 1) * self.batch_size]
            seeds = tf.cast(self.rng.make_seeds(2), tf.int32)
            # The global batch is gathered where the data lives; only that batch (not the data
            # set) is sent to the replicas, each of which takes its own slice.
            raw_images, raw_labels = self._gather(indices)
            if self.strategy is None:
                out = self._compiled_step(raw_images, raw_labels, seeds)
            else:
                per_replica = self.strategy.run(
                    self._compiled_step, args=(raw_images, raw_labels, seeds)
                )
                out = self.strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None)
            flags = out[m:]
            if tf.reduce_any(flags > 0.0):
                if self.nonfinite_consecutive == 0:
                    self._first_bad_step.assign(step)
                    self._first_bad_flags.assign(tf.cast(flags > 0.0, tf.float32))
                    self._first_bad_seeds.assign(seeds)
                self.nonfinite_consecutive.assign_add(1)
                self.nonfinite_total.assign_add(1)
                self.nonfinite_epoch.assign_add(1)
            else:
                self.nonfinite_consecutive.assign(0)
                sums += out[:m]
            i += 1
        return tf.concat([sums, tf.cast(tf.reshape(i, [1]), tf.float32)], axis=0)

    def _nonfinite_error(self, order: tf.Tensor) -> TrainingDiverged:
        """The error for a stretch of non-finite steps that reached the limit, naming the term
        (and, by an eager replay of its first step, the component) that went non-finite."""
        step = int(self._first_bad_step.numpy())
        flags = self._first_bad_flags.numpy()
        term = nonfinite.first_term(flags)
        seeds = self._first_bad_seeds
        indices = order[step * self.batch_size : (step + 1) * self.batch_size]
        raw_images, raw_labels = self._gather(indices)
        x, condition = self._prepare(raw_images, raw_labels, seeds[:, 0])
        component = nonfinite.describe_components(self.model, x, condition, seeds[:, 1])
        streak = int(self.nonfinite_consecutive.numpy())
        message = (
            f"step {step + 1} of the epoch (optimizer step {self.step_count + 1}) became NaN or "
            f"infinite: {nonfinite.TERM_WORDS[term]} went non-finite first"
            + (f"; {component}" if component else "")
            + ". The update was not applied"
            + (
                f" ({streak} non-finite steps in a row; --max-nonfinite-steps "
                f"{self.nonfinite_limit}, {int(self.nonfinite_total.numpy())} in the run)."
                if self.on_nonfinite == "skip"
                else " (--on-nonfinite stop)."
            )
        )
        advice = nonfinite.remedies(self.learning_rate, self.precision)
        return TrainingDiverged(message, step=step + 1, term=term, advice=advice)

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
        m = len(self.metric_names)
        totals = np.zeros(m, np.float64)
        if start_sums is not None:
            totals += np.asarray(start_sums, np.float64)
        done = int(start_step)
        if done == 0:
            self.nonfinite_epoch.assign(0)
        self.epoch_sums = totals.copy()
        while done < self.steps_per_epoch:
            count = min(self.steps_per_execution, self.steps_per_epoch - done)
            out = self._train_chunk(
                order, tf.constant(done, tf.int32), tf.constant(count, tf.int32)
            ).numpy()
            sums, taken = out[:m], out[m]
            if not np.all(np.isfinite(out)):  # only the applied steps are summed: a last guard
                raise TrainingDiverged(
                    f"the loss became NaN or infinite during steps {done + 1}-{done + count} of "
                    "the epoch.",
                    advice=nonfinite.remedies(self.learning_rate, self.precision),
                )
            # the chunk stops early at the non-finite limit (possibly on its last step)
            if int(self.nonfinite_consecutive.numpy()) >= self.nonfinite_limit:
                raise self._nonfinite_error(order)
            if int(taken) != count:
                raise RuntimeError(f"a chunk of {count} steps took {int(taken)}")
            totals += sums
            done += count
            self.epoch_sums = totals.copy()
            if progress is not None:
                means = totals / max(self._applied(done), 1)
                progress(done, dict(zip(self.metric_names, means, strict=True)))
        if self._applied(done) == 0 and done:
            raise self._nonfinite_error(order)
        means = totals / max(self._applied(done), 1)
        return {k: float(v) for k, v in zip(self.metric_names, means, strict=True)}

    def _applied(self, done: int) -> int:
        """Steps applied among the first ``done`` of this epoch (the others were non-finite)."""
        return max(done - int(self.nonfinite_epoch.numpy()), 0)
