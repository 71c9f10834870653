"""A small ResNet encoder and decoder for images ``[height, width, channels]``.

Residual blocks are pre-activation blocks (He et al., "Identity Mappings in Deep Residual
Networks", 2016): ``out = shortcut(x) + conv(act(conv(act(x))))``, with a 1x1 convolution as
the shortcut when the block changes the number of channels (after 2x2 average pooling when it
halves the resolution).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from genmod.contract.components import Decoder, Encoder
from genmod.contract.errors import ConfigError


class ResidualBlock(keras.layers.Layer):
    """Pre-activation residual block with 3x3 convolutions; ``strides`` 2 halves the size."""

    def __init__(self, channels: int, *, strides: int = 1, activation: str = "relu", **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.strides = int(strides)
        self.act = keras.layers.Activation(activation)
        self.conv1 = keras.layers.Conv2D(channels, 3, strides=strides, padding="same")
        self.conv2 = keras.layers.Conv2D(channels, 3, padding="same")
        self.shortcut: keras.layers.Layer | None = None

    def build(self, input_shape) -> None:
        if self.strides != 1 or int(input_shape[-1]) != self.channels:
            # Downsampling shortcut: 2x2 average pooling, then a 1x1 convolution ("ResNet-D").
            # A strided 1x1 convolution would do too, but its filter gradient corrupts memory
            # in TensorFlow 2.21's oneDNN CPU kernels for small channel counts.
            layers = []
            if self.strides != 1:
                layers.append(keras.layers.AveragePooling2D(self.strides, padding="same"))
            layers.append(keras.layers.Conv2D(self.channels, 1))
            self.shortcut = keras.Sequential(layers)

    def call(self, x):
        h = self.conv1(self.act(x))
        h = self.conv2(self.act(h))
        skip = self.shortcut(x) if self.shortcut is not None else x
        return skip + h


def _require_image(data_shape: Sequence[int], who: str) -> None:
    if len(data_shape) != 3:
        raise ConfigError(
            f"the resnet {who} needs image data [height, width, channels]; this dataset's items "
            f"have shape {list(data_shape)}."
        )


class ResNetEncoder(Encoder):
    """Stem conv, then per entry of ``channels`` a stride-2 residual block followed by
    ``blocks - 1`` more; activation, flatten (plus the condition), dense to the posterior."""

    def __init__(
        self,
        *,
        channels: Sequence[int] = (16, 32),
        blocks: int = 1,
        activation: str = "relu",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        _require_image(self.data_shape, "encoder")
        self.stem = keras.layers.Conv2D(channels[0], 3, padding="same", name="stem")
        self.stages = []
        for width in channels:
            self.stages.append(ResidualBlock(width, strides=2, activation=activation))
            self.stages.extend(
                ResidualBlock(width, activation=activation) for _ in range(blocks - 1)
            )
        self.act = keras.layers.Activation(activation)
        self.flatten = keras.layers.Flatten()
        self.head = keras.layers.Dense(self.param_size, name="posterior_params")

    def call(self, x, condition=None):
        h = self.stem(x)
        for block in self.stages:
            h = block(h)
        h = self.flatten(self.act(h))
        if condition is not None:
            h = tf.concat([h, tf.cast(condition, h.dtype)], axis=-1)
        return self.head(h)


class ResNetDecoder(Decoder):
    """Dense to a ``[h / 2^k, w / 2^k, channels[0]]`` map; per entry of ``channels``: 2x
    nearest-neighbour upsampling and ``blocks`` residual blocks; activation and a 3x3 conv to
    ``data channels * params_per_element`` outputs."""

    def __init__(
        self,
        *,
        channels: Sequence[int] = (32, 16),
        blocks: int = 1,
        activation: str = "relu",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        _require_image(self.data_shape, "decoder")
        height, width, data_channels = self.data_shape
        factor = 2 ** len(channels)
        if height % factor or width % factor:
            raise ConfigError(
                f"the resnet decoder upsamples x{factor} ({len(channels)} stages), which cannot "
                f"reach {height}x{width}; give fewer channels (decoder option channels=...)."
            )
        self.start_shape = (height // factor, width // factor, int(channels[0]))
        self.dense = keras.layers.Dense(
            self.start_shape[0] * self.start_shape[1] * self.start_shape[2], name="dense"
        )
        self.stages = []
        for width_ in channels:
            self.stages.append(keras.layers.UpSampling2D(2))
            self.stages.extend(ResidualBlock(width_, activation=activation) for _ in range(blocks))
        self.act = keras.layers.Activation(activation)
        self.head = keras.layers.Conv2D(
            data_channels * self.params_per_element, 3, padding="same", name="params"
        )

    def call(self, z, condition=None):
        h = z
        if condition is not None:
            h = tf.concat([h, tf.cast(condition, h.dtype)], axis=-1)
        h = tf.reshape(self.dense(h), [-1, *self.start_shape])
        for layer in self.stages:
            h = layer(h)
        out = self.head(self.act(h))
        return tf.reshape(out, [-1, *self.data_shape, self.params_per_element])
