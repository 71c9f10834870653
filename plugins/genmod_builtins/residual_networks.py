"""Residual convolutional encoder and decoder networks (channels-last images ``[h, w, c]``).

Both networks are ``width`` channels wide throughout and have ``stages`` resolution stages of
``blocks`` residual blocks each. The blocks are *pre-activation* blocks (He et al., "Identity
Mappings in Deep Residual Networks", 2016)::

    out = x + conv_b(act(conv_a(act(x))))      # conv_a, conv_b: 3x3, stride 1, "same"

so the skip path is an exact identity (no activation or projection on it) and a block whose
two convolutions output zero passes its input through unchanged. Every convolution sees an
activated input except the stem, which sees the image; the residual stream itself is linear,
so the encoder applies the activation once more before flattening, and the decoder before its
output convolution. There is no normalisation layer (batch statistics would make a VAE's
outputs depend on the rest of its batch) and no dropout.

Encoder: stem 3x3 conv to ``width`` channels; per stage, ``act`` and a stride-2 3x3 conv
("same" padding: ``ceil(n / 2)``, so odd sizes work), then the stage's blocks; ``act``,
flatten (which keeps where features are, as the ``cnn`` encoder does, rather than a global
average), the condition concatenated if one is given, dense to the posterior parameters.

Decoder, the mirror image: z (with the condition concatenated) through a dense layer to a
``[ceil(h / 2^stages), ceil(w / 2^stages), width]`` map; per stage, its blocks, then ``act``
and a stride-2 3x3 transposed conv that doubles the size; ``act``, a crop of the top-left
``h x w`` (it removes the rows and columns that rounding up added), a 3x3 conv to
``channels * params_per_element`` outputs, reshaped to ``[n, h, w, channels, params]``.

Layers take Keras' global dtype policy when they are built, like the ``cnn`` networks; under
mixed precision they compute in 16 bits and the base classes cast the outputs to float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from genmod.contract.components import Decoder, Encoder
from genmod.contract.errors import ConfigError


def check_image_shape(data_shape: Sequence[int], stages: int, who: str) -> None:
    """Refuse data that is not an image ``[h, w, c]``, or one too small for ``stages``."""
    if len(data_shape) != 3:
        raise ConfigError(
            f"the residual {who} needs images [height, width, channels]; the dataset gives "
            f"{list(data_shape)}. Use the mlp {who} for data that is not an image."
        )
    height, width, _ = data_shape
    need = 2**stages
    if height < need or width < need:
        raise ConfigError(
            f"the residual {who} halves the image {stages} times (stages={stages}), which needs "
            f"a height and width of at least {need}; the images are {height}x{width}. Give "
            f"fewer stages ({who} option stages=...)."
        )


class ResidualBlock(keras.layers.Layer):
    """Pre-activation residual block: ``x + conv_b(act(conv_a(act(x))))``, 3x3 convolutions
    with ``channels`` filters, stride 1 and "same" padding (input and output shapes agree, so
    ``x`` must already have ``channels`` channels)."""

    def __init__(self, channels: int, *, activation: str = "relu", **kwargs) -> None:
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.act = keras.layers.Activation(activation, name="act")
        self.conv_a = keras.layers.Conv2D(self.channels, 3, padding="same", name="conv_a")
        self.conv_b = keras.layers.Conv2D(self.channels, 3, padding="same", name="conv_b")

    def build(self, input_shape) -> None:
        if int(input_shape[-1]) != self.channels:
            raise ValueError(
                f"{self.name}: a residual block of {self.channels} channels got an input with "
                f"{input_shape[-1]} channels"
            )
        self.conv_a.build(input_shape)
        self.conv_b.build((*input_shape[:-1], self.channels))

    def call(self, x):
        h = self.conv_a(self.act(x))
        h = self.conv_b(self.act(h))
        return x + h

    def compute_output_shape(self, input_shape):
        return input_shape


def _blocks(stage: int, count: int, width: int, activation: str) -> list[ResidualBlock]:
    return [
        ResidualBlock(width, activation=activation, name=f"stage_{stage}_block_{j}")
        for j in range(count)
    ]


class ResidualEncoder(Encoder):
    """Stem conv; ``stages`` x (act, stride-2 3x3 conv, ``blocks`` residual blocks); act,
    flatten, concatenate the condition, dense to the posterior parameters."""

    def __init__(
        self,
        *,
        width: int = 32,
        stages: int = 2,
        blocks: int = 2,
        activation: str = "relu",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        check_image_shape(self.data_shape, stages, "encoder")
        self.act = keras.layers.Activation(activation, name="act")
        self.stem = keras.layers.Conv2D(width, 3, padding="same", name="stem")
        self.downs = [
            keras.layers.Conv2D(width, 3, strides=2, padding="same", name=f"down_{i}")
            for i in range(stages)
        ]
        self.stage_blocks = [_blocks(i, blocks, width, activation) for i in range(stages)]
        self.flatten = keras.layers.Flatten()
        self.head = keras.layers.Dense(self.param_size, name="posterior_params")

    def call(self, x, condition=None):
        h = self.stem(x)
        for down, blocks in zip(self.downs, self.stage_blocks, strict=True):
            h = down(self.act(h))
            for block in blocks:
                h = block(h)
        h = self.flatten(self.act(h))
        if condition is not None:
            h = tf.concat([h, tf.cast(condition, h.dtype)], axis=-1)
        return self.head(h)


class ResidualDecoder(Decoder):
    """Dense to a ``[ceil(h/2^s), ceil(w/2^s), width]`` map; ``stages`` x (``blocks``
    residual blocks, act, stride-2 3x3 transposed conv); act, crop to ``h x w``, 3x3 conv to
    ``channels * params_per_element`` outputs."""

    def __init__(
        self,
        *,
        width: int = 32,
        stages: int = 2,
        blocks: int = 2,
        activation: str = "relu",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        check_image_shape(self.data_shape, stages, "decoder")
        height, width_px, channels = self.data_shape
        factor = 2**stages
        self.start_shape = (-(-height // factor), -(-width_px // factor), int(width))
        self.dense = keras.layers.Dense(
            self.start_shape[0] * self.start_shape[1] * self.start_shape[2], name="dense"
        )
        self.act = keras.layers.Activation(activation, name="act")
        self.stage_blocks = [_blocks(i, blocks, width, activation) for i in range(stages)]
        self.ups = [
            keras.layers.Conv2DTranspose(width, 3, strides=2, padding="same", name=f"up_{i}")
            for i in range(stages)
        ]
        self.head = keras.layers.Conv2D(
            channels * self.params_per_element, 3, padding="same", name="params"
        )

    def call(self, z, condition=None):
        h = z
        if condition is not None:
            h = tf.concat([h, tf.cast(condition, h.dtype)], axis=-1)
        h = tf.reshape(self.dense(h), [-1, *self.start_shape])
        for blocks, up in zip(self.stage_blocks, self.ups, strict=True):
            for block in blocks:
                h = block(h)
            h = up(self.act(h))
        height, width, _ = self.data_shape
        h = self.act(h)[:, :height, :width, :]
        out = self.head(h)
        return tf.reshape(out, [-1, *self.data_shape, self.params_per_element])
