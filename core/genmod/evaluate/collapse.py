"""Posterior collapse made visible: per-dimension KL, active units, and the mutual information
I(x; z) under the encoder, on a fixed data set (nats). Imports TensorFlow.

* Per-dimension KL: the mean over the items of KL(q(z_i|x) || p(z_i)) for each latent
  dimension i, exact when q(z|x) and p(z) factorize over the dimensions into distributions TFP
  knows the KL of (the default diagonal Gaussian posterior and standard normal prior); for other
  families it is not reported (``None``). Their sum is the mean KL term of the ELBO.
* Active units (Burda et al. 2016): the dimensions with Cov_x(E_q[z_i]) > 0.01
  (:func:`genmod.evaluate.loglik.active_units`).
* Mutual information (:func:`mutual_information`): I_q(x; z) = E_x[KL(q(z|x) || p(z))] -
  KL(q(z) || p(z)) = E_x E_{q(z|x)}[log q(z|x) - log q(z)] ("ELBO surgery", Hoffman & Johnson
  2016), with the aggregate posterior q(z) = (1/N) sum_n q(z|x_n) over the N items and one
  z ~ q(z|x_m) per item (the Monte Carlo estimator He et al. 2019 use). It lies in [0, log N].
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from genmod.evaluate.loglik import active_units, binarized_test_set
from genmod.model.preprocess import binarize_images, one_hot_labels

tfd = tfp.distributions

__all__ = [
    "COLLAPSE_EPOCHS",
    "COLLAPSE_KL_NATS",
    "MI_ESTIMATOR",
    "CollapseMonitor",
    "collapse_advice",
    "is_collapsed",
    "mutual_information",
    "per_dimension_kl",
]

#: a run whose mean KL stays below this many nats per item (or with no active unit) ...
COLLAPSE_KL_NATS = 0.1
#: ... for this many epochs in a row is warned about, once
COLLAPSE_EPOCHS = 3

MI_ESTIMATOR = (
    "I(x;z) = E_x E_q(z|x)[log q(z|x) - log q(z)], q(z) = (1/N) sum_n q(z|x_n) over the N "
    "test items, one z ~ q(z|x_m) per item (Hoffman & Johnson 2016; He et al. 2019); "
    "at most log N nats"
)


@tf.autograph.experimental.do_not_convert  # plain Python on the distribution's structure
def _factors(distribution):
    """The per-dimension distribution (batch ``[..., D]``) of a factorized one, or None."""
    if isinstance(distribution, tfd.Independent):
        inner = distribution.distribution
        # a prior may hold reinterpreted_batch_ndims as a tensor; only a known 1 counts
        ndims = tf.get_static_value(distribution.reinterpreted_batch_ndims)
        if ndims is not None and int(ndims) == 1 and inner.event_shape.rank == 0:
            return inner
    if isinstance(distribution, tfd.MultivariateNormalDiag):  # the built-in default
        return tfd.Normal(distribution.loc, distribution.scale.diag_part())
    return None


@tf.autograph.experimental.do_not_convert
def per_dimension_kl(q, p) -> tf.Tensor | None:
    """KL(q(z_i|x) || p(z_i)) per item and dimension, float32 ``[batch, D]`` (nats), or
    ``None`` when q or p does not factorize over the dimensions (or TFP lacks the KL)."""
    q_i, p_i = _factors(q), _factors(p)
    if q_i is None or p_i is None:
        return None
    try:
        return tfd.kl_divergence(q_i, p_i)
    except NotImplementedError:
        return None


def is_collapsed(record: dict) -> bool:
    """Whether one epoch's metrics look collapsed: mean test KL below
    :data:`COLLAPSE_KL_NATS`, or no active unit."""
    kl = record.get("test_kl")
    units = record.get("active_units")
    return (kl is not None and kl < COLLAPSE_KL_NATS) or units == 0


def collapse_advice(epochs: int, record: dict) -> str:
    """The one warning a collapsed run prints, in words a user can act on."""
    return (
        f"warning: the posterior looks collapsed: for {epochs} epochs the test KL stayed below "
        f"{COLLAPSE_KL_NATS} nats or no latent unit was active (now KL "
        f"{record.get('test_kl', float('nan')):.3g} nats, {record.get('active_units', '?')} "
        "active units): the decoder models the data without using z. Try a KL warm-up "
        "(--objective-opt warmup_steps=10000), free bits (--objective-opt free_bits=0.1), a "
        "weaker decoder (fewer or narrower layers), or beta < 1 (--objective beta-vae "
        "--objective-opt beta=0.5)."
    )


def mutual_information(q, z: tf.Tensor, *, chunk: int = 256) -> float:
    """The estimate of I(x; z) in the module docstring, in nats.

    ``q``: q(z|x_n) for all N items, batch shape ``[N]``; ``z``: ``[N, D]`` with ``z[m]`` drawn
    from ``q(z|x_m)``. Evaluates the N x N log-densities log q(z_m|x_n) in chunks of ``chunk``
    rows.
    """
    n = int(z.shape[0])
    total = 0.0
    for start in range(0, n, chunk):
        rows = z[start : start + chunk]
        log_q = q.log_prob(rows[:, None, :])  # [rows, N]: log q(z_m | x_n)
        own = tf.linalg.diag_part(log_q[:, start : start + chunk])  # log q(z_m | x_m)
        aggregate = tf.reduce_logsumexp(log_q, axis=1) - math.log(n)  # log q(z_m)
        total += float(tf.reduce_sum(tf.cast(own - aggregate, tf.float64)))
    return total / n


class CollapseMonitor:
    """Per-dimension KL and active units of ``model`` on a data set, every epoch.

    Items are binarized with the stateless seeds ``[seed, 2 b]`` of batch b, as
    :class:`genmod.evaluate.elbo.ELBOEvaluator` does, so they are the test ELBO's items.
    """

    def __init__(self, model, *, binarize: str, batch_size: int = 500, seed: int = 0) -> None:
        self.model = model
        self.binarize = binarize
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self._batch = tf.function(self._batch_eager, reduce_retracing=True)

    def _batch_eager(self, x_raw, y, batch_index):
        data_seed = tf.stack([tf.constant(self.seed, tf.int32), 2 * batch_index])
        x = binarize_images(x_raw, self.binarize, data_seed)
        condition = (
            one_hot_labels(y, self.model.condition_dim) if self.model.condition_dim else None
        )
        q = self.model.posterior(x, condition)
        kl = per_dimension_kl(q, self.model.prior_distribution())
        if kl is None:
            kl = tf.fill([tf.shape(x)[0], self.model.latent_dim], np.nan)
        return tf.reduce_sum(kl, axis=0), self.model.posterior_location(x, condition)

    def __call__(self, images: np.ndarray, labels: np.ndarray | None) -> dict:
        """``{"active_units": int, "kl_per_dim": [D floats] or None}`` (nats per item)."""
        n = int(images.shape[0])
        images_t = tf.constant(images)
        labels_t = tf.constant(labels) if labels is not None else None
        kl_sums = np.zeros(self.model.latent_dim, np.float64)
        means = []
        for b, start in enumerate(range(0, n, self.batch_size)):
            x_raw = images_t[start : start + self.batch_size]
            y = (
                labels_t[start : start + self.batch_size]
                if labels_t is not None
                else tf.zeros([0], tf.int64)
            )
            kl, location = self._batch(x_raw, y, tf.constant(b, tf.int32))
            kl_sums += kl.numpy()
            means.append(location.numpy())
        kl_per_dim = kl_sums / max(n, 1)
        return {
            "active_units": active_units(np.concatenate(means, axis=0)),
            "kl_per_dim": (
                [round(float(v), 6) for v in kl_per_dim]
                if np.all(np.isfinite(kl_per_dim))
                else None
            ),
        }


#: the most items :func:`evaluate_mutual_information` uses (its cost grows as N squared)
MI_MAX_ITEMS = 2000


def evaluate_mutual_information(
    model,
    images: np.ndarray,
    labels: np.ndarray | None,
    *,
    binarize: str,
    seed: int = 0,
    batch_size: int = 500,
    max_items: int = MI_MAX_ITEMS,
) -> dict:
    """``{"mutual_information", "mi_items", "mi_estimator"}``: :func:`mutual_information` on
    the first ``max_items`` of ``images``, binarized as the test ELBO does (batches of
    ``batch_size`` with seeds ``[seed, 2 b]``), z drawn with the stateless seed
    ``[seed + 2, 0]``. ``None`` when the posterior's density cannot be evaluated at every
    item's z at once (it does not broadcast over its batch)."""
    images = images[:max_items]
    x = tf.constant(binarized_test_set(images, binarize=binarize, batch_size=batch_size, seed=seed))
    condition = None
    if model.condition_dim:
        condition = one_hot_labels(tf.constant(labels[:max_items]), model.condition_dim)
    q = model.posterior(x, condition)
    z = q.sample(seed=tf.constant([seed + 2, 0], tf.int32))
    n = int(x.shape[0])
    try:
        value: float | None = mutual_information(q, z)
    except (ValueError, NotImplementedError, tf.errors.InvalidArgumentError):
        value = None  # a posterior whose log_prob does not broadcast over the items (a flow)
    return {
        "mutual_information": value,
        "mi_items": n,
        "mi_upper_bound": math.log(n) if n else 0.0,
        "mi_estimator": MI_ESTIMATOR,
    }
