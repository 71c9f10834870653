"""Numeric precision of the networks: float32 or Keras mixed precision. Imports TensorFlow.

Under ``mixed_float16`` / ``mixed_bfloat16`` the layers compute in 16 bits while their variables
stay float32. Distributions and log-probabilities are always float32: the component base
classes (:mod:`genmod.contract.components`) cast network outputs to float32 before building them.
float16 has a narrow exponent range, so its gradients need loss scaling
(:class:`keras.optimizers.LossScaleOptimizer`); bfloat16 has float32's range and does not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras

from genmod.config import PRECISIONS
from genmod.contract.errors import ConfigError


def check_precision(name: str) -> str:
    if name not in PRECISIONS:
        raise ConfigError(f"--precision got {name!r}; accepted: {', '.join(PRECISIONS)}.")
    return name


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[None]:
    """Set Keras's global dtype policy to ``name`` while building and training, then restore it.

    Layers take their policy when they are constructed, so build the model inside this block.
    """
    check_precision(name)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def make_optimizer(
    learning_rate, precision: str, *, clip_grad_norm: float = 0.0
) -> keras.optimizers.Optimizer:
    """Adam, wrapped in a dynamic :class:`LossScaleOptimizer` for ``mixed_float16``.

    ``learning_rate``: a number or a Keras ``LearningRateSchedule`` of the optimizer step.
    ``clip_grad_norm`` > 0 clips the gradients to that global norm (of the unscaled gradients
    under loss scaling) before Adam sees them.
    """
    clip = {"global_clipnorm": float(clip_grad_norm)} if clip_grad_norm else {}
    optimizer = keras.optimizers.Adam(learning_rate, **clip)
    if check_precision(precision) == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
