"""Convolutional encoder and decoder networks (channels-last images ``[h, w, c]``)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from genmod.contract.components import Decoder, Encoder
from genmod.contract.errors import ConfigError


def _require_image(data_shape: Sequence[int], who: str) -> None:
    if len(data_shape) != 3:
        raise ConfigError(
            f"the cnn {who} needs image data of shape [height, width, channels]; this dataset's "
            f"items have shape {list(data_shape)}. Use the mlp {who} instead."
        )


class ConvEncoder(Encoder):
    """Stride-2 convolutions (no padding, as in the TF tutorial), flatten, dense to posterior.

    A condition is concatenated to the flattened features.
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
    """Dense to a ``[h/2^k, w/2^k, base_channels]`` map, k stride-2 transposed convolutions,
    then a stride-1 transposed convolution to ``channels * params_per_element`` outputs."""

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
        if height % factor or width % factor:
            raise ConfigError(
                f"the cnn decoder upsamples by 2 per layer ({len(filters)} layers, x{factor}), "
                f"which cannot reach {height}x{width}: height and width must be divisible by "
                f"{factor}. Give fewer filters (decoder option filters=...)."
            )
        self.start_shape = (height // factor, width // factor, base_channels)
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
        out = self.head(h)
        return tf.reshape(out, [-1, *self.data_shape, self.params_per_element])
