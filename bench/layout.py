"""Channels-last (NHWC) against channels-first (NCHW) for the tutorial's CNN VAE layers.

    python bench/layout.py

Builds the same encoder and decoder (the TensorFlow CVAE tutorial's layers) in both layouts as
plain Keras models, trains 20 Adam steps per ``tf.function`` call at batch 128 on random binary
images, and prints images/second (best of 3 calls) for two alternated rounds, then the ratio
NCHW / NHWC. The layout is a property of the layers, not of genmod's loop, so no genmod code is
involved.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

BATCH, STEPS, LATENT = 128, 20, 16


def networks(data_format: str) -> tuple[keras.Sequential, keras.Sequential]:
    layers = keras.layers
    start = (7, 7, 32) if data_format == "channels_last" else (32, 7, 7)
    encoder = keras.Sequential(
        [
            layers.Conv2D(32, 3, strides=2, activation="relu", data_format=data_format),
            layers.Conv2D(64, 3, strides=2, activation="relu", data_format=data_format),
            layers.Flatten(),
            layers.Dense(2 * LATENT),
        ]
    )
    decoder = keras.Sequential(
        [
            layers.Dense(7 * 7 * 32, activation="relu"),
            layers.Reshape(start),
            layers.Conv2DTranspose(
                64, 3, strides=2, padding="same", activation="relu", data_format=data_format
            ),
            layers.Conv2DTranspose(
                32, 3, strides=2, padding="same", activation="relu", data_format=data_format
            ),
            layers.Conv2DTranspose(1, 3, padding="same", data_format=data_format),
        ]
    )
    return encoder, decoder


def images_per_second(data_format: str) -> float:
    keras.utils.set_random_seed(0)
    encoder, decoder = networks(data_format)
    shape = [BATCH, 28, 28, 1] if data_format == "channels_last" else [BATCH, 1, 28, 28]
    x = tf.cast(tf.random.uniform(shape) < 0.3, tf.float32)
    encoder(x)
    decoder(tf.zeros([1, LATENT]))
    variables = encoder.trainable_variables + decoder.trainable_variables
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(variables)

    @tf.function
    def train(x):
        loss = tf.constant(0.0)
        for _ in tf.range(STEPS):
            with tf.GradientTape() as tape:
                logits = decoder(encoder(x)[:, :LATENT])
                loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(x, logits))
            grads = tape.gradient(loss, variables)
            optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss

    train(x).numpy()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        train(x).numpy()
        best = min(best, time.perf_counter() - started)
    return STEPS * BATCH / best


def main() -> None:
    rates: dict[str, list[float]] = {"channels_last": [], "channels_first": []}
    for _ in range(2):
        for data_format in rates:
            rates[data_format].append(images_per_second(data_format))
    for data_format, values in rates.items():
        print(f"{data_format}: " + ", ".join(f"{v:,.0f}" for v in values) + " images/s")
    ratio = max(rates["channels_first"]) / max(rates["channels_last"])
    print(f"NCHW / NHWC (best of each): {ratio:.2f}")


if __name__ == "__main__":
    main()
