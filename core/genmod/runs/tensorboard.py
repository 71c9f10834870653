"""TensorBoard scalars and images written with TensorFlow's core ``tf.summary.write``.

TensorFlow 2.21 no longer installs the ``tensorboard`` package, and without it
``tf.summary.scalar``/``image`` refuse to work. The event files are the same either way: a
summary is a tensor plus metadata naming the TensorBoard plugin that shows it. Writing them
here keeps genmod free of that dependency; install ``tensorboard`` only to *view* a run
(``pip install 'genmod[tensorboard]'``, then ``tensorboard --logdir runs``).
tests/test_tensorboard_reader.py reads a run's event files with TensorBoard's own data
provider (the reader behind ``tensorboard --logdir``) and checks every scalar and image.
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.core.framework import summary_pb2


def _metadata(plugin: str, data_class: int) -> bytes:
    """The metadata TensorBoard's own summary ops write: the plugin's name (its plugin data,
    version 0, is empty) and the data class its data provider filters on."""
    meta = summary_pb2.SummaryMetadata()
    meta.plugin_data.plugin_name = plugin
    meta.data_class = data_class
    return meta.SerializeToString()


_SCALARS = _metadata("scalars", summary_pb2.DATA_CLASS_SCALAR)
_IMAGES = _metadata("images", summary_pb2.DATA_CLASS_BLOB_SEQUENCE)


def scalar(tag: str, value: float, step: int) -> None:
    """A float32 scalar shown on TensorBoard's Scalars tab (inside ``writer.as_default()``)."""
    tf.summary.write(tag, tf.constant(value, tf.float32), step=step, metadata=_SCALARS)


def png_image(tag: str, png: bytes, width: int, height: int, step: int) -> None:
    """One PNG-encoded image on the Images tab: a string tensor ``[width, height, png]``
    (width and height in pixels as decimal strings), TensorBoard's image summary layout."""
    tensor = tf.constant([str(width).encode(), str(height).encode(), png])
    tf.summary.write(tag, tensor, step=step, metadata=_IMAGES)
