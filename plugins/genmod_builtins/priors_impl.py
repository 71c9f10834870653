"""Priors over the latent vector."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from genmod.contract.components import Prior

tfd = tfp.distributions


class StandardNormalPrior(Prior):
    """p(z) = N(0, I_latent_dim), as ``MultivariateNormalDiag`` (so analytic KLs apply)."""

    def distribution(self):
        zeros = tf.zeros([self.latent_dim], tf.float32)
        return tfd.MultivariateNormalDiag(loc=zeros, scale_diag=tf.ones_like(zeros))
