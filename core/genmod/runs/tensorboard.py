"""TensorBoard scalars and images written with TensorFlow's core ``tf.summary.write``.

TensorFlow 2.21 no longer installs the ``tensorboard`` package, and without it
``tf.summary.scalar``/``image`` refuse to work. The event files are the same either way: a
summary is a tensor plus metadata naming the TensorBoard plugin that shows it. Writing them
here keeps genmod free of that dependency; install ``tensorboard`` only to *view* a run
(``tensorboard --logdir RUN/tensorboard``).
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.core.framework import summary_pb2


def _metadata(plugin: str) -> bytes:
    meta = summary_pb2.SummaryMetadata()
    meta.plugin_data.plugin_name = plugin
    return meta.SerializeToString()


_SCALARS = _metadata("scalars")
_IMAGES = _metadata("images")


def scalar(tag: str, value: float, step: int) -> None:
    """A float32 scalar shown on TensorBoard's Scalars tab (inside ``writer.as_default()``)."""
    tf.summary.write(tag, tf.constant(value, tf.float32), step=step, metadata=_SCALARS)


def png_image(tag: str, png: bytes, width: int, height: int, step: int) -> None:
    """One PNG-encoded image on the Images tab (tensor: width, height, encoded image)."""
    tensor = tf.constant([str(width).encode(), str(height).encode(), png])
    tf.summary.write(tag, tensor, step=step, metadata=_IMAGES)
