"""The ``reconstruction-mse`` metric: how far a model's reconstructions are from the test images.

Registered by :mod:`genmod_resnet.plugin` (``genmod evaluate RUN --metric
reconstruction-mse``); genmod imports this module only when the metric is used, since it
imports TensorFlow.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from genmod.contract.errors import ConfigError
from genmod.contract.metrics import Metric, MetricContext, MetricResult, MetricValue

#: test images decoded at once
BATCH = 100


class ReconstructionMSE(Metric):
    """Mean squared error between the test images as stored (``[0, 1]``) and their
    reconstructions through the posterior location: the likelihood's picture of p(x|z) at
    z = the location (mean) of q(z|x), averaged over pixels and images."""

    needs = ("model", "test_data")
    version = "1"
    #: recorded with every value: which release of this plugin computed it
    libraries = ("genmod-resnet",)

    def __init__(self, max_items: int = 1000) -> None:
        if max_items < 1:
            raise ConfigError(f"reconstruction-mse: max_items={max_items}; it must be >= 1.")
        self.max_items = int(max_items)

    def compute(self, context: MetricContext) -> MetricResult:
        model = context.model
        n = min(self.max_items, context.test_size)
        images = context.test_images()[:n].astype(np.float64)
        codes = context.codes()[:n]  # posterior locations, computed once per evaluation
        labels = context.data.y_test[:n] if model.condition_dim else None
        squared = []
        for b, start in enumerate(range(0, n, BATCH)):
            stop = min(start + BATCH, n)
            condition = None
            if labels is not None:
                condition = tf.one_hot(labels[start:stop], model.condition_dim)
            params = model.decoder.decode(tf.constant(codes[start:stop]), condition)
            # the mean of p(x|z); one sample from this seed for a likelihood without a mean
            seed = tf.constant([context.seed, b], tf.int32)
            pictures = np.asarray(model.likelihood.image(params, seed=seed), np.float64)
            squared.append(((pictures - images[start:stop]) ** 2).reshape(stop - start, -1))
            context.progress(stop, n)
        per_image = np.concatenate(squared).mean(axis=1)
        method = {
            "estimator": "mean over images and pixels of (x - x_hat)^2, x_hat the likelihood's "
            "picture (its mean) of p(x|z) at z = the location of q(z|x)",
            "images": f"the first {n} test images as stored, scaled to [0, 1] (not binarized)",
            "codes": "posterior locations of the test images as the model sees them "
            "(binarized as the run's test ELBO for binary likelihoods)",
            "items": n,
            "picture_seeds": "stateless [seed, batch index] of batches of "
            f"{BATCH}, for a likelihood without a mean",
        }
        values = {
            "reconstruction_mse": MetricValue(
                float(per_image.mean()), "squared pixel units", higher_is_better=False
            ),
        }
        return MetricResult(values, method)
