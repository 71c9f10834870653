"""Test-set ELBO with fixed seeds, so numbers are comparable between runs."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from genmod.contract.units import bits_per_dim, item_dimensions, reports_bits_per_dim
from genmod.model.elbo import elbo_terms
from genmod.model.preprocess import binarize_images, one_hot_labels


class ELBOEvaluator:
    """Mean ELBO, reconstruction term and KL of ``model`` over data sets (nats per item).

    Binarization noise and z samples come from stateless seeds derived from ``seed`` and the
    batch index only, so the same model and ``seed`` always give the same numbers, whatever
    the training seed was. The compiled batch function is built once per evaluator, so a
    training loop that evaluates every epoch (validation and test) traces it only once.
    For a likelihood over 8-bit data the result also gives the ELBO in bits per dimension
    (:func:`genmod.contract.units.bits_per_dim`, an upper bound on the model's bits/dim).
    """

    def __init__(self, model, *, binarize: str, batch_size: int = 500, seed: int = 0) -> None:
        self.model = model
        self.binarize = binarize
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self._analytic_flags: list[bool] = []
        self._batch_terms = tf.function(self._batch_terms_eager, reduce_retracing=True)

    def _batch_terms_eager(self, x_raw, y, batch_index):
        data_seed = tf.stack([tf.constant(self.seed, tf.int32), 2 * batch_index])
        z_seed = tf.stack([tf.constant(self.seed, tf.int32), 2 * batch_index + 1])
        x = binarize_images(x_raw, self.binarize, data_seed)
        condition = (
            one_hot_labels(y, self.model.condition_dim) if self.model.condition_dim else None
        )
        terms = elbo_terms(self.model, x, condition, seed=z_seed)
        self._analytic_flags.append(terms.kl_is_analytic)  # recorded while tracing
        return tf.stack(
            [
                tf.reduce_sum(terms.elbo),
                tf.reduce_sum(terms.reconstruction),
                tf.reduce_sum(terms.kl),
            ]
        )

    def __call__(self, images: np.ndarray, labels: np.ndarray | None) -> dict[str, float]:
        """Returns ``{"elbo", "reconstruction", "kl", "kl_analytic"}`` for ``images`` (and
        ``"bits_per_dim"``, after ``"elbo"``, when the likelihood's support is 8-bit)."""
        n = int(images.shape[0])
        images_t = tf.constant(images)
        labels_t = tf.constant(labels) if labels is not None else None
        totals = np.zeros(3, np.float64)
        size = self.batch_size
        for b, start in enumerate(range(0, n, size)):
            x_raw = images_t[start : start + size]
            y = labels_t[start : start + size] if labels_t is not None else tf.zeros([0], tf.int64)
            totals += self._batch_terms(x_raw, y, tf.constant(b, tf.int32)).numpy()
        means = totals / n
        flags = self._analytic_flags
        bits = {}
        support = getattr(getattr(self.model, "likelihood", None), "support", "")
        if reports_bits_per_dim(support):
            dims = item_dimensions(self.model.data_shape)
            bits["bits_per_dim"] = bits_per_dim(float(means[0]), dims)
        return {
            "elbo": float(means[0]),
            **bits,
            "reconstruction": float(means[1]),
            "kl": float(means[2]),
            "kl_analytic": bool(all(flags)) if flags else True,
        }


def evaluate_elbo(
    model,
    images: np.ndarray,
    labels: np.ndarray | None,
    *,
    binarize: str,
    batch_size: int = 500,
    seed: int = 0,
) -> dict[str, float]:
    """Mean ELBO, reconstruction term and KL over ``images`` (nats per item), once.

    See :class:`ELBOEvaluator`, which to use when evaluating the same model repeatedly.
    """
    evaluator = ELBOEvaluator(model, binarize=binarize, batch_size=batch_size, seed=seed)
    return evaluator(images, labels)
