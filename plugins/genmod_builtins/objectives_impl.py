"""The ELBO and beta-VAE objectives, with optional KL warm-up and free bits."""

from __future__ import annotations

import tensorflow as tf

from genmod.contract.components import Objective, ObjectiveOutput
from genmod.model.elbo import elbo_terms


def kl_warmup_weight(step: tf.Tensor, warmup_steps: int) -> tf.Tensor:
    """Linear KL warm-up: ``min(1, step / warmup_steps)`` (float32); 1 when warm-up is off."""
    if warmup_steps <= 0:
        return tf.constant(1.0, tf.float32)
    return tf.minimum(1.0, tf.cast(step, tf.float32) / float(warmup_steps))


def free_bits_kl(kl_mean: tf.Tensor, free_bits: float, latent_dim: int) -> tf.Tensor:
    """The KL term used in the loss with free bits (Kingma et al. 2016, one group):
    ``max(mean KL, free_bits * latent_dim)``, where ``free_bits`` is in nats per latent
    dimension. Below the threshold the KL gets no gradient, so the encoder is not pushed to
    collapse dimensions. ``free_bits = 0`` returns ``kl_mean`` unchanged."""
    if free_bits <= 0:
        return kl_mean
    return tf.maximum(kl_mean, float(free_bits) * float(latent_dim))


class ELBOObjective(Objective):
    """loss = -mean(E_q[log p(x|z)] - w * KL(q(z|x) || p(z))), one z sample.

    Plain ELBO by default (w = 1). Options: ``warmup_steps`` N > 0 anneals w linearly from 0
    at step 0 to 1 at step N (Bowman et al. 2016, Sonderby et al. 2016); ``free_bits`` lambda
    > 0 replaces the KL in the loss by ``max(KL, lambda * latent_dim)``. The metrics always
    report the true ELBO (w = 1, no free bits), and ``kl_weight`` when warm-up is on.
    """

    beta = 1.0

    def __init__(self, *, warmup_steps: int = 0, free_bits: float = 0.0) -> None:
        self.warmup_steps = int(warmup_steps)
        self.free_bits = float(free_bits)
        base = ("loss", "elbo", "reconstruction", "kl")
        self.metric_names = base + (("kl_weight",) if self.warmup_steps > 0 else ())

    def __call__(self, model, x, condition=None, *, seed, step):
        terms = elbo_terms(model, x, condition, seed=seed)
        reconstruction = tf.reduce_mean(terms.reconstruction)
        kl = tf.reduce_mean(terms.kl)
        weight = self.beta * kl_warmup_weight(step, self.warmup_steps)
        loss = -(reconstruction - weight * free_bits_kl(kl, self.free_bits, model.latent_dim))
        metrics = {"loss": loss, "elbo": reconstruction - kl, "reconstruction": reconstruction}
        metrics["kl"] = kl
        if self.warmup_steps > 0:
            metrics["kl_weight"] = weight
        return ObjectiveOutput(loss, metrics)


class BetaVAEObjective(ELBOObjective):
    """loss = -mean(E_q[log p(x|z)] - beta * w * KL), with the same warm-up and free-bits
    options as ``elbo`` (w ramps to 1, so the KL weight ramps to beta). Metrics keep the true
    ELBO (beta = 1)."""

    def __init__(self, *, beta: float = 4.0, warmup_steps: int = 0, free_bits: float = 0.0) -> None:
        super().__init__(warmup_steps=warmup_steps, free_bits=free_bits)
        self.beta = float(beta)
