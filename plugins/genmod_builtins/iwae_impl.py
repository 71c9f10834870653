"""The IWAE objective (Burda, Grosse & Salakhutdinov 2015)."""

from __future__ import annotations

import tensorflow as tf

from genmod.contract.components import Objective, ObjectiveOutput
from genmod.model.elbo import kl_divergence
from genmod.model.iwae import iwae_bound, log_importance_weights


class IWAEObjective(Objective):
    """loss = -mean_x log (1/K) sum_k w_k, w_k = p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x).

    The K samples are reparameterised, so the bound is trained directly; the decoder runs on
    ``[K, batch, latent_dim]`` codes (K times the memory of the ELBO). With K = 1 this is the
    ELBO with a Monte Carlo KL. Metrics: ``loss``, ``iwae`` (the bound, nats), and the true
    ``elbo`` from the same samples: ``reconstruction`` (mean over k of log p(x|z_k)) minus
    ``kl`` (analytic when TFP has it, else the K-sample estimate), so runs compare with
    ELBO-trained ones.
    """

    metric_names = ("loss", "elbo", "reconstruction", "kl", "iwae")

    def __init__(self, *, samples: int = 5) -> None:
        self.samples = int(samples)

    def __call__(self, model, x, condition=None, *, seed, step):
        q = model.posterior(x, condition)
        log_w, log_px_z, z = log_importance_weights(model, x, condition, q, self.samples, seed)
        bound = tf.reduce_mean(iwae_bound(log_w))
        reconstruction = tf.reduce_mean(log_px_z)
        try:
            kl, _ = kl_divergence(q, model.prior_distribution())
        except ValueError:  # no closed form: the K-sample estimate of E_q[log q - log p]
            kl = tf.reduce_mean(log_px_z - log_w, axis=0)
        kl = tf.reduce_mean(kl)
        loss = -bound
        metrics = {
            "loss": loss,
            "elbo": reconstruction - kl,
            "reconstruction": reconstruction,
            "kl": kl,
            "iwae": bound,
        }
        return ObjectiveOutput(loss, metrics)
