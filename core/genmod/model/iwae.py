"""The importance-weighted bound (Burda et al. 2015) shared by the IWAE objective and evaluation.

Imports TensorFlow.
"""

from __future__ import annotations

import tensorflow as tf


def log_importance_weights(model, x, condition, q, num_samples: int, seed) -> tuple:
    """``log w = log p(x|z) + log p(z) - log q(z|x)`` for ``num_samples`` draws z ~ q.

    ``model``: the :class:`genmod.model.vae.VAE`; ``x``: float32 ``[batch, *data_shape]``;
    ``condition``: float32 ``[batch, condition_dim]`` or ``None``; ``q``: q(z|x) with batch
    ``[batch]`` (``model.posterior(x, condition)``); ``seed``: a stateless seed, int32 ``[2]``.
    Returns ``(log_w, log_px_z, z)``, float32, with shapes ``[S, batch]``, ``[S, batch]``,
    ``[S, batch, D]`` (``S = num_samples``, ``D = latent_dim``); log-weights in nats.
    """
    z = q.sample(num_samples, seed=seed)
    log_px_z = model.observation(z, condition).log_prob(x)
    log_w = log_px_z + model.prior_distribution().log_prob(z) - q.log_prob(z)
    return log_w, log_px_z, z


def iwae_bound(log_w: tf.Tensor) -> tf.Tensor:
    """``logmeanexp`` over the first axis (numerically stable): ``[S, ...] -> [...]``.

    With ``log_w`` from :func:`log_importance_weights`, the IWAE bound on log p(x) per item,
    in nats (``S = 1`` gives the ELBO); same dtype as ``log_w``.
    """
    num = tf.cast(tf.shape(log_w)[0], log_w.dtype)
    return tf.reduce_logsumexp(log_w, axis=0) - tf.math.log(num)
