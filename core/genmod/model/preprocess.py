"""How data items become model inputs: scaling to [0, 1], binarization, one-hot labels.

Shared by training, evaluation and pictures, so all three see the same inputs. Imports
TensorFlow.
"""

from __future__ import annotations

import tensorflow as tf

from genmod.contract.errors import ConfigError


def to_unit_interval(images: tf.Tensor) -> tf.Tensor:
    """uint8 0..255 -> float32 [0, 1]; floats are passed through as float32."""
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 255.0
    return tf.cast(images, tf.float32)


def binarize_images(images: tf.Tensor, mode: str, seed: tf.Tensor) -> tf.Tensor:
    """Apply a binarization to a batch of intensities in [0, 1] (float32 out).

    ``dynamic``: x ~ Bernoulli(intensity), a fresh sample for each stateless ``seed``;
    ``static``: 1 where intensity > 0.5 (as the TensorFlow CVAE tutorial); ``none``: unchanged.
    """
    x = to_unit_interval(images)
    if mode == "dynamic":
        return tf.cast(tf.random.stateless_uniform(tf.shape(x), seed) < x, tf.float32)
    if mode == "static":
        return tf.cast(x > 0.5, tf.float32)
    if mode == "none":
        return x
    raise ConfigError(f"unknown binarization {mode!r}; accepted: dynamic, static, none.")


def one_hot_labels(labels: tf.Tensor, condition_dim: int) -> tf.Tensor:
    """Integer labels ``[batch]`` -> float32 one-hot ``[batch, condition_dim]``."""
    return tf.one_hot(tf.cast(labels, tf.int32), condition_dim, dtype=tf.float32)
