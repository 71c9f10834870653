"""The ELBO and beta-VAE objectives."""

from __future__ import annotations

import tensorflow as tf

from genmod.components import Objective, ObjectiveOutput
from genmod.elbo import elbo_terms


class ELBOObjective(Objective):
    """loss = -mean ELBO = -mean(E_q[log p(x|z)] - KL(q(z|x) || p(z))), one z sample."""

    def __call__(self, model, x, condition=None, *, seed, step):
        terms = elbo_terms(model, x, condition, seed=seed)
        elbo = tf.reduce_mean(terms.elbo)
        loss = -elbo
        return ObjectiveOutput(
            loss,
            {
                "loss": loss,
                "elbo": elbo,
                "reconstruction": tf.reduce_mean(terms.reconstruction),
                "kl": tf.reduce_mean(terms.kl),
            },
        )


class BetaVAEObjective(Objective):
    """loss = -mean(E_q[log p(x|z)] - beta * KL). Metrics keep the true ELBO (beta = 1)."""

    def __init__(self, *, beta: float = 4.0) -> None:
        self.beta = float(beta)

    def __call__(self, model, x, condition=None, *, seed, step):
        terms = elbo_terms(model, x, condition, seed=seed)
        reconstruction = tf.reduce_mean(terms.reconstruction)
        kl = tf.reduce_mean(terms.kl)
        loss = -(reconstruction - self.beta * kl)
        return ObjectiveOutput(
            loss,
            {"loss": loss, "elbo": reconstruction - kl, "reconstruction": reconstruction, "kl": kl},
        )
