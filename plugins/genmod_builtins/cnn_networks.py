"""Convolutional encoder and decoder networks (channels-last images ``[h, w, c]``).

Image shapes. Both networks take any image ``[height, width, channels]``, grey or colour; the
channels come from the data shape.

* Encoder: each stride-2 convolution has no padding ("valid", as in the TF tutorial), so a
  side of ``n`` becomes ``(n - kernel_size) // 2 + 1`` (28 -> 13 -> 6 with the defaults). An
  image too small for that (a side below :func:`encoder_min_size`, 7 with the defaults) is a
  :class:`ConfigError` naming the shape and the options to change.
* Decoder: the dense map is ``[ceil(h / 2^k), ceil(w / 2^k), base_channels]`` for ``k`` stride-2
  transposed convolutions, which double it ``k`` times; when ``h`` or ``w`` is not a multiple
  of ``2^k`` the map is then cropped to its top-left ``h x w`` before the output convolution
  (30 -> 8 -> 32 -> 30). For sizes that are multiples of ``2^k`` (28x28 with the defaults)
  nothing is cropped and the network is exactly the one it always was.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from genmod.contract.components import Decoder, Encoder
from genmod.contract.errors import ConfigError


def _require_image(data_shape: Sequence[int], who: str) -> None:
    if len(data_shape) != 3 or min(data_shape) < 1:
        raise ConfigError(
            f"the cnn {who} needs image data of shape [height, width, channels]; this dataset's "
            f"items have shape {list(data_shape)}. Use the mlp {who} instead."
        )


def encoder_sizes(side: int, layers: int, kernel_size: int) -> list[int]:
    """The side of the feature map after each of ``layers`` unpadded stride-2 convolutions of
    ``kernel_size``, starting from ``side``; a size below 1 means the map has vanished."""
    sizes = []
    for _ in range(layers):
        side = (side - kernel_size) // 2 + 1 if side >= kernel_size else 0
        sizes.append(side)
    return sizes


def encoder_min_size(layers: int, kernel_size: int) -> int:
    """The smallest image side that ``layers`` unpadded stride-2 convolutions of
    ``kernel_size`` leave at least one pixel of (7 for two 3x3 convolutions)."""
    side = 1
    for _ in range(layers):
        side = 2 * (side - 1) + kernel_size
    return side


class ConvEncoder(Encoder):
    """Stride-2 convolutions (no padding, as in the TF tutorial), flatten, dense to posterior.

    A condition is concatenated to the flattened features. Images with a side smaller than
    :func:`encoder_min_size` are refused with a :class:`ConfigError`.
    """

    def __init__(
        self,
        *,
        filters: Sequence[int] = (32, 64),
        kernel_size: int = 3,
        activation: str = "relu",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        _require_image(self.data_shape, "encoder")
        height, width, _ = self.data_shape
        need = encoder_min_size(len(filters), int(kernel_size))
        if height < need or width < need:
            sizes = " -> ".join(
                f"{h}x{w}"
                for h, w in zip(
                    [height, *encoder_sizes(height, len(filters), kernel_size)],
                    [width, *encoder_sizes(width, len(filters), kernel_size)],
                    strict=True,
                )
            )
            raise ConfigError(
                f"the cnn encoder's {len(filters)} unpadded stride-2 convolutions "
                f"(kernel_size={kernel_size}) need images of at least {need}x{need}; these are "
                f"{height}x{width} ({sizes}). Give fewer filters (encoder option filters=...), a "
                f"smaller kernel_size, or use the residual encoder, which pads."
            )
        self.convs = [
            keras.layers.Conv2D(f, kernel_size, strides=2, activation=activation, name=f"conv_{i}")
            for i, f in enumerate(filters)
        ]
        self.flatten = keras.layers.Flatten()
        self.head = keras.layers.Dense(self.param_size, name="posterior_params")

    def call(self, x, condition=None):
        h = x
        for conv in self.convs:
            h = conv(h)
        h = self.flatten(h)
        if condition is not None:
            h = tf.concat([h, tf.cast(condition, h.dtype)], axis=-1)
        return self.head(h)


class ConvDecoder(Decoder):
    """Dense to a ``[ceil(h/2^k), ceil(w/2^k), base_channels]`` map, k stride-2 transposed
    convolutions, a crop to the top-left ``h x w`` (a no-op when ``2^k`` divides both), then a
    stride-1 transposed convolution to ``channels * params_per_element`` outputs."""

    def __init__(
        self,
        *,
        filters: Sequence[int] = (64, 32),
        base_channels: int = 32,
        kernel_size: int = 3,
        activation: str = "relu",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        _require_image(self.data_shape, "decoder")
        height, width, channels = self.data_shape
        factor = 2 ** len(filters)
        self.start_shape = (-(-height // factor), -(-width // factor), base_channels)
        self.dense = keras.layers.Dense(
            self.start_shape[0] * self.start_shape[1] * base_channels,
            activation=activation,
            name="dense",
        )
        self.deconvs = [
            keras.layers.Conv2DTranspose(
                f, kernel_size, strides=2, padding="same", activation=activation, name=f"up_{i}"
            )
            for i, f in enumerate(filters)
        ]
        self.head = keras.layers.Conv2DTranspose(
            channels * self.params_per_element, kernel_size, padding="same", name="params"
        )

    def call(self, z, condition=None):
        h = z
        if condition is not None:
            h = tf.concat([h, tf.cast(condition, h.dtype)], axis=-1)
        h = tf.reshape(self.dense(h), [-1, *self.start_shape])
        for deconv in self.deconvs:
            h = deconv(h)
        height, width, _ = self.data_shape
        if h.shape[1] != height or h.shape[2] != width:
            h = h[:, :height, :width, :]  # drop what rounding the map up added
        out = self.head(h)
        return tf.reshape(out, [-1, *self.data_shape, self.params_per_element])
