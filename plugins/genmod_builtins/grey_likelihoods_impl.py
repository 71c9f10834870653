"""The continuous Bernoulli and the Gaussian with a decoder-given scale per element."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from genmod.contract.components import Likelihood

tfd = tfp.distributions


class ContinuousBernoulliLikelihood(Likelihood):
    """p(x|z) = prod_i CB(x_i; lambda_i), lambda_i = sigmoid(logit_i).

    Support: the unit interval [0, 1] (``support = "unit_interval"``): grey levels, the default
    ``--binarize none``; binarized data also lie in [0, 1]. The density is the Bernoulli's
    ``lambda^x (1 - lambda)^(1 - x)`` times its normalising constant ``C(lambda)``, so unlike
    the Bernoulli likelihood on grey levels it is a proper density (Loaiza-Ganem & Cunningham,
    2019). Densities can be positive; values are in nats and not comparable with
    binarized-MNIST numbers. Decoder parameters: one logit per element. :meth:`mean` is the
    distribution's mean (not lambda), so pictures show what the model expects.
    """

    params_per_element = 1
    support = "unit_interval"

    def distribution(self, params):
        return tfd.Independent(
            tfd.ContinuousBernoulli(logits=params[..., 0]),
            reinterpreted_batch_ndims=len(self.data_shape),
        )


class PerPixelGaussianLikelihood(Likelihood):
    """p(x|z) = prod_i N(x_i; mu_i, sigma_i^2) with mu_i and sigma_i both from the decoder.

    Decoder parameters: two per element, ``[mu (identity), raw]`` with
    ``sigma = softplus(raw) + min_scale`` (default floor 0.01). Support: real values
    (``support = "real"``); meant for grey levels in [0, 1] (``--binarize none``). The floor
    matters: MNIST has many pixels that are exactly 0, and without it the model can shrink
    sigma there and make the density grow without bound.
    """

    params_per_element = 2
    support = "real"

    def __init__(self, *, min_scale: float = 1e-2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.min_scale = float(min_scale)

    def distribution(self, params):
        scale = tf.nn.softplus(params[..., 1]) + self.min_scale
        return tfd.Independent(
            tfd.Normal(loc=params[..., 0], scale=scale),
            reinterpreted_batch_ndims=len(self.data_shape),
        )

    def mean(self, params):
        return params[..., 0]
