"""The evidence lower bound and its terms, shared by objectives and evaluation (nats)."""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


@dataclass
class ELBOTerms:
    """Per-example terms, each float32 ``[batch]`` in nats.

    ``elbo = reconstruction - kl``; ``kl_is_analytic`` says whether ``kl`` is the exact
    KL(q||p) or a one-sample Monte Carlo estimate log q(z) - log p(z).
    """

    elbo: tf.Tensor
    reconstruction: tf.Tensor
    kl: tf.Tensor
    kl_is_analytic: bool


def has_analytic_kl(q: tfd.Distribution, p: tfd.Distribution) -> bool:
    """Whether TFP has a registered closed-form KL(q||p) for these two distribution types."""
    try:
        tfd.kl_divergence(q, p)
    except NotImplementedError:
        return False
    return True


def kl_divergence(
    q: tfd.Distribution, p: tfd.Distribution, z: tf.Tensor | None = None
) -> tuple[tf.Tensor, bool]:
    """KL(q||p) per example: analytic when TFP knows it, otherwise log q(z) - log p(z) at ``z``.

    ``q``: q(z|x) with batch shape ``[batch]`` and event ``[latent_dim]``; ``p``: p(z) with
    batch ``[]``. ``z`` (drawn from q, float32 ``[batch, latent_dim]``) is required for the Monte
    Carlo fallback, else a missing closed form raises ``ValueError``. Returns ``(kl,
    analytic)``: ``kl`` float32 ``[batch]`` in nats, ``analytic`` a Python bool.
    """
    try:
        return tfd.kl_divergence(q, p), True
    except NotImplementedError:
        if z is None:
            raise ValueError(
                "no analytic KL for these distributions and no sample z given"
            ) from None
        return q.log_prob(z) - p.log_prob(z), False


def elbo_terms(
    model,
    x: tf.Tensor,
    condition: tf.Tensor | None = None,
    *,
    seed: tf.Tensor,
) -> ELBOTerms:
    """One-sample reparameterised ELBO terms for a batch ``x`` of shape ``[batch, *data_shape]``.

    ``model`` is the :class:`genmod.model.vae.VAE` an objective receives (its ``posterior``,
    ``observation`` and ``prior_distribution`` are used); ``x`` is float32; ``condition`` is
    float32 ``[batch, condition_dim]`` or ``None``. ``seed`` is a stateless seed (int32
    ``[2]``): the same seed gives the same numbers. Returns :class:`ELBOTerms`, each term float32
    ``[batch]`` in nats; gradients flow to every variable of the model.
    """
    q = model.posterior(x, condition)
    z = q.sample(seed=seed)
    reconstruction = model.observation(z, condition).log_prob(x)
    kl, analytic = kl_divergence(q, model.prior_distribution(), z)
    return ELBOTerms(reconstruction - kl, reconstruction, kl, analytic)
