"""Bernoulli and Gaussian likelihoods over whole data items."""

from __future__ import annotations

import math

import tensorflow as tf
import tensorflow_probability as tfp

from genmod.contract.components import Likelihood

tfd = tfp.distributions


class BernoulliLikelihood(Likelihood):
    """p(x|z) = prod_i Bernoulli(x_i; sigmoid(logit_i)). Support: binary data {0, 1}.

    Decoder parameters: one logit per element. ``log_prob`` is minus the summed sigmoid
    cross-entropy, in nats.
    """

    params_per_element = 1
    support = "binary"

    def distribution(self, params):
        logits = params[..., 0]
        return tfd.Independent(
            tfd.Bernoulli(logits=logits, dtype=tf.float32),
            reinterpreted_batch_ndims=len(self.data_shape),
        )

    def mean(self, params):
        return tf.sigmoid(params[..., 0])


class GaussianLikelihood(Likelihood):
    """p(x|z) = prod_i Normal(x_i; mu_i, sigma). Support: real values (grey levels in [0, 1]).

    Decoder parameters: one mean per element (identity, unconstrained). The standard deviation
    ``sigma`` is a single learned scalar shared by all elements, kept positive as
    ``softplus(s) + min_scale`` (softplus rather than exp so that its gradient stays bounded).
    Log-densities of continuous data are in nats and may be positive.
    """

    params_per_element = 1
    support = "real"

    def __init__(self, *, init_scale: float = 0.3, min_scale: float = 1e-3, **kwargs) -> None:
        super().__init__(**kwargs)
        self.min_scale = float(min_scale)
        target = max(float(init_scale) - self.min_scale, 1e-6)
        raw = math.log(math.expm1(target))  # inverse softplus
        self.raw_scale = self.add_weight(
            shape=(), initializer=tf.constant_initializer(raw), name="raw_scale"
        )

    @property
    def scale(self) -> tf.Tensor:
        return tf.nn.softplus(tf.cast(self.raw_scale, tf.float32)) + self.min_scale

    def distribution(self, params):
        loc = params[..., 0]
        return tfd.Independent(
            tfd.Normal(loc=loc, scale=self.scale),
            reinterpreted_batch_ndims=len(self.data_shape),
        )

    def mean(self, params):
        return params[..., 0]
