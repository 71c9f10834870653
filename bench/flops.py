"""FLOP counting and the machine's matrix-product ceiling, shared by the benchmark scripts.

``layer_flops(model)`` counts forward multiply-adds x 2 per image from the layer shapes (a
training step is about 3x that: forward, input gradients, weight gradients).
``matmul_flops_per_second(dtype)`` measures the fastest thing TensorFlow does on this machine, a
large square matrix product, as an upper bound on what any implementation of a model can reach.
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf


def layer_flops(model) -> dict[str, float]:
    """Forward multiply-adds x 2 per image for Dense/Conv2D/Conv2DTranspose layers."""
    flops: dict[str, float] = {}
    x = tf.zeros([1, 28, 28, 1])

    def count(layer, out_shape, in_shape):
        if isinstance(layer, keras.layers.Conv2DTranspose):
            kh, kw, cout, cin = layer.kernel.shape
            return 2.0 * in_shape[1] * in_shape[2] * kh * kw * cin * cout
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            return 2.0 * out_shape[1] * out_shape[2] * kh * kw * cin * cout
        if isinstance(layer, keras.layers.Dense):
            return 2.0 * float(np.prod(layer.kernel.shape))
        return 0.0

    originals = {}
    for net in (model.encoder, model.decoder):
        for layer in net._flatten_layers(include_self=False):
            if isinstance(
                layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.Dense)
            ):
                originals[id(layer)] = layer

                def hook(layer=layer):
                    call = layer.call

                    def wrapped(inputs, *a, **k):
                        out = call(inputs, *a, **k)
                        flops[f"{layer.path}"] = count(layer, out.shape, inputs.shape)
                        return out

                    layer.call = wrapped

                hook()
    q = model.posterior(x)
    model.observation(q.mean())
    return flops


def matmul_flops_per_second(dtype: tf.DType, size: int = 2048, reps: int = 8) -> float:
    """FLOP/s of ``reps`` chained ``size x size`` matrix products in one ``tf.function`` call
    (best of 3 calls after a warm-up); the operands are held in ``dtype``."""
    a = tf.cast(tf.random.stateless_normal([size, size], seed=[1, 2]), dtype)
    b = tf.cast(tf.random.stateless_normal([size, size], seed=[3, 4]), dtype)

    @tf.function
    def chained(a, b):
        total = tf.constant(0.0)
        for _ in tf.range(reps):
            # The data dependency on ``total`` keeps TensorFlow from hoisting the product.
            product = tf.matmul(a + tf.cast(total * 0.0, dtype), b)
            total += tf.cast(product[0, 0], tf.float32)
        return total

    chained(a, b).numpy()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        chained(a, b).numpy()
        best = min(best, time.perf_counter() - started)
    return 2.0 * size**3 * reps / best
