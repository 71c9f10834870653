"""Fully connected (MLP) encoder and decoder networks."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from genmod.contract.components import Decoder, Encoder


class MLPEncoder(Encoder):
    """Flatten x (concatenate the condition), ``hidden`` dense layers, dense to the posterior."""

    def __init__(
        self, *, hidden: Sequence[int] = (512, 256), activation: str = "relu", **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.flatten = keras.layers.Flatten()
        self.hidden_layers = [
            keras.layers.Dense(width, activation=activation, name=f"hidden_{i}")
            for i, width in enumerate(hidden)
        ]
        self.head = keras.layers.Dense(self.param_size, name="posterior_params")

    def call(self, x, condition=None):
        h = self.flatten(x)
        if condition is not None:
            h = tf.concat([h, tf.cast(condition, h.dtype)], axis=-1)
        for layer in self.hidden_layers:
            h = layer(h)
        return self.head(h)


class MLPDecoder(Decoder):
    """z (concatenated with the condition), ``hidden`` dense layers, dense to the parameters."""

    def __init__(
        self, *, hidden: Sequence[int] = (256, 512), activation: str = "relu", **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.hidden_layers = [
            keras.layers.Dense(width, activation=activation, name=f"hidden_{i}")
            for i, width in enumerate(hidden)
        ]
        size = int(np.prod(self.data_shape)) * self.params_per_element
        self.head = keras.layers.Dense(size, name="likelihood_params")

    def call(self, z, condition=None):
        h = z
        if condition is not None:
            h = tf.concat([h, tf.cast(condition, h.dtype)], axis=-1)
        for layer in self.hidden_layers:
            h = layer(h)
        out = self.head(h)
        return tf.reshape(out, [-1, *self.data_shape, self.params_per_element])
