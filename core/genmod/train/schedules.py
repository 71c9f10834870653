"""Learning-rate schedules, reduce-on-plateau and early stopping. Imports TensorFlow.

Every schedule is a pure function of state that the run's checkpoints already hold, so a
resumed run follows exactly the same learning rates as an uninterrupted one:

* ``constant``: ``learning_rate`` throughout.
* ``exponential``: ``learning_rate * lr_decay_rate ** (t / lr_decay_epochs)`` where ``t`` is the
  (fractional) number of epochs done, ``optimizer.iterations / steps_per_epoch``; never below
  ``lr_min``.
* ``cosine``: from ``learning_rate`` down to ``lr_min`` along half a cosine over
  ``lr_decay_epochs`` epochs, then ``lr_min``.
* ``plateau``: ``learning_rate``, multiplied by ``lr_decay_rate`` each time the validation ELBO
  has not improved for ``lr_patience`` epochs (counted from the best epoch or the last
  reduction, whichever is later), never below ``lr_min``. The rate is the optimizer's own
  learning-rate variable and the epoch of the last reduction is a checkpointed variable.

Early stopping ends the run when the validation ELBO has not improved for
``early_stopping_patience`` epochs; :class:`genmod.train.loop.RunLoop` then exports the best
checkpoint's weights as the run's model.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from genmod.config import RunConfig

__all__ = ["EpochDecay", "make_schedule", "plateau_update", "should_stop_early"]


class EpochDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Exponential or cosine decay in epochs (see the module docstring), a function of the
    optimizer step only. ``kind``: ``"exponential"`` or ``"cosine"``; rates per step, epochs
    counted as ``step / steps_per_epoch``."""

    def __init__(
        self,
        kind: str,
        initial: float,
        *,
        steps_per_epoch: int,
        decay_epochs: float,
        decay_rate: float,
        minimum: float,
    ) -> None:
        if kind not in ("exponential", "cosine"):
            raise ValueError(f"EpochDecay kind must be exponential or cosine, not {kind!r}")
        self.kind = kind
        self.initial = float(initial)
        self.steps_per_epoch = int(steps_per_epoch)
        self.decay_epochs = float(decay_epochs)
        self.decay_rate = float(decay_rate)
        self.minimum = float(minimum)

    def __call__(self, step):
        epochs = tf.cast(step, tf.float32) / float(self.steps_per_epoch)
        if self.kind == "exponential":
            rate = self.initial * tf.pow(self.decay_rate, epochs / self.decay_epochs)
        else:
            progress = tf.minimum(epochs / self.decay_epochs, 1.0)
            cosine = 0.5 * (1.0 + tf.cos(math.pi * progress))
            rate = self.minimum + (self.initial - self.minimum) * cosine
        return tf.maximum(rate, self.minimum)

    def get_config(self) -> dict:
        return {
            "kind": self.kind,
            "initial": self.initial,
            "steps_per_epoch": self.steps_per_epoch,
            "decay_epochs": self.decay_epochs,
            "decay_rate": self.decay_rate,
            "minimum": self.minimum,
        }


def make_schedule(config: RunConfig, steps_per_epoch: int) -> float | EpochDecay:
    """What the optimizer gets as its learning rate: a number (``constant``, ``plateau``) or an
    :class:`EpochDecay` (``exponential``, ``cosine``)."""
    if config.lr_schedule in ("exponential", "cosine"):
        return EpochDecay(
            config.lr_schedule,
            config.learning_rate,
            steps_per_epoch=max(1, steps_per_epoch),
            decay_epochs=config.lr_decay_epochs or config.epochs,
            decay_rate=config.lr_decay_rate,
            minimum=config.lr_min,
        )
    return float(config.learning_rate)


def plateau_update(
    config: RunConfig, *, epoch: int, best_epoch: int, last_reduction: int, current: float
) -> float | None:
    """After ``epoch``: the reduced learning rate when the plateau rule fires, else ``None``.

    Fires when ``epoch - max(best_epoch, last_reduction) >= lr_patience`` and the rate is still
    above ``lr_min``; the new rate is ``max(current * lr_decay_rate, lr_min)``.
    """
    if config.lr_schedule != "plateau":
        return None
    if epoch - max(best_epoch, last_reduction) < config.lr_patience:
        return None
    if current <= config.lr_min * (1 + 1e-6):
        return None
    return max(current * config.lr_decay_rate, config.lr_min)


def should_stop_early(config: RunConfig, *, epoch: int, best_epoch: int) -> bool:
    """Whether early stopping ends the run after ``epoch`` (patience 0: never)."""
    patience = config.early_stopping_patience
    return bool(patience) and best_epoch > 0 and epoch - best_epoch >= patience
