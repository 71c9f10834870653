"""Priors with trainable parameters: a diagonal Gaussian, a mixture of Gaussians, the VampPrior.

Only the ``learned-normal`` prior has a closed-form KL with Gaussian posteriors; with the other
two, :func:`genmod.model.elbo.kl_divergence` falls back to the one-sample Monte Carlo estimate
``log q(z|x) - log p(z)`` and the metrics say so (``kl_analytic`` false).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from genmod.contract.components import Prior
from genmod.contract.errors import ConfigError

tfd = tfp.distributions


#: the most pseudo-input elements (K * prod(data_shape)) a VampPrior will create
MAX_PSEUDO_INPUT_ELEMENTS = 50_000_000


class LearnedDiagonalNormalPrior(Prior):
    """p(z) = N(mu, diag(sigma^2)); mu starts at 0, sigma = softplus(raw) + min_scale starts
    at 1 (so training starts from the standard normal). KL with Gaussian posteriors is
    analytic. (With a single Gaussian a learned prior adds no modelling power, as TFP's
    examples/vae.py notes; it is here as the simplest learned prior and as a baseline.)"""

    def __init__(self, *, latent_dim: int, min_scale: float = 1e-3, **kwargs) -> None:
        super().__init__(latent_dim=latent_dim, **kwargs)
        self.min_scale = float(min_scale)
        self.loc = self.add_weight(shape=(self.latent_dim,), initializer="zeros", name="loc")
        raw = math.log(math.expm1(max(1.0 - self.min_scale, 1e-6)))
        self.raw_scale = self.add_weight(
            shape=(self.latent_dim,), initializer=keras.initializers.Constant(raw), name="raw"
        )

    def distribution(self):
        scale = tf.nn.softplus(tf.cast(self.raw_scale, tf.float32)) + self.min_scale
        return tfd.MultivariateNormalDiag(loc=tf.cast(self.loc, tf.float32), scale_diag=scale)


class MixtureOfGaussiansPrior(Prior):
    """p(z) = sum_k pi_k N(mu_k, diag(sigma_k^2)), everything learned.

    As in TensorFlow Probability's ``examples/vae.py`` (``make_mixture_prior``; its
    ``mixture_components`` flag defaults to 100): a ``MixtureSameFamily`` of
    ``MultivariateNormalDiag`` components with ``sigma = softplus(raw)`` and ``Categorical``
    logits. Initialisation differs: means ~ N(0, 1) (seeded by the run's seed), scales 1,
    equal weights; TFP used Glorot-uniform for all three. There is no closed-form KL.
    """

    def __init__(
        self, *, latent_dim: int, components: int = 100, min_scale: float = 1e-3, **kwargs
    ) -> None:
        super().__init__(latent_dim=latent_dim, **kwargs)
        k, d = int(components), self.latent_dim
        self.components = k
        self.min_scale = float(min_scale)
        self.loc = self.add_weight(
            shape=(k, d), initializer=keras.initializers.RandomNormal(0.0, 1.0), name="loc"
        )
        raw = math.log(math.expm1(max(1.0 - self.min_scale, 1e-6)))
        self.raw_scale = self.add_weight(
            shape=(k, d), initializer=keras.initializers.Constant(raw), name="raw_scale"
        )
        self.logits = self.add_weight(shape=(k,), initializer="zeros", name="logits")

    def distribution(self):
        scale = tf.nn.softplus(tf.cast(self.raw_scale, tf.float32)) + self.min_scale
        return tfd.MixtureSameFamily(
            mixture_distribution=tfd.Categorical(logits=tf.cast(self.logits, tf.float32)),
            components_distribution=tfd.MultivariateNormalDiag(
                loc=tf.cast(self.loc, tf.float32), scale_diag=scale
            ),
        )


class VampPrior(Prior):
    """p(z) = (1/K) sum_k q(z | u_k): the encoder's posterior at K learned pseudo-inputs
    (Tomczak & Welling, "VAE with a VampPrior", 2018; K = 500 is their MNIST setting).

    Pseudo-inputs have the data's shape and live in [0, 1] like the data: ``u = sigmoid(r)``
    with ``r`` initialised N(0, 0.1) (mid-grey images). They are created in :meth:`bind`,
    which also keeps the model's ``encoder.distribution`` (a bound method, so Keras does not
    track the encoder twice). Mixture weights are uniform, as in the paper. Not available for
    conditional models (pseudo-inputs have no labels). There is no closed-form KL.
    """

    def __init__(self, *, latent_dim: int, components: int = 500, **kwargs) -> None:
        super().__init__(latent_dim=latent_dim, **kwargs)
        self.components = int(components)
        self._posterior_at = None
        self.raw_pseudo_inputs = None

    def bind(self, model) -> None:
        data_shape = tuple(int(d) for d in model.data_shape)
        if model.condition_dim:
            raise ConfigError(
                "the vampprior cannot be used with a conditional encoder: its pseudo-inputs "
                "have no labels to condition on. Use prior normal, learned-normal or mixture "
                "with conditional models."
            )
        size = int(np.prod(data_shape)) if data_shape else 0
        if size < 1:
            raise ConfigError(
                f"the vampprior needs data items with at least one element to build "
                f"pseudo-inputs; this dataset's items have shape {list(data_shape)}."
            )
        if self.components * size > MAX_PSEUDO_INPUT_ELEMENTS:
            raise ConfigError(
                f"the vampprior with {self.components} pseudo-inputs of shape "
                f"{list(data_shape)} would need {self.components * size:,} parameters (more "
                f"than {MAX_PSEUDO_INPUT_ELEMENTS:,}). Use fewer components "
                "(--prior-opt components=N)."
            )
        self.raw_pseudo_inputs = self.add_weight(
            shape=(self.components, *data_shape),
            initializer=keras.initializers.RandomNormal(0.0, 0.1),
            name="raw_pseudo_inputs",
        )
        self._posterior_at = model.encoder.distribution

    @property
    def pseudo_inputs(self) -> tf.Tensor:
        """The K pseudo-inputs, float32 ``[K, *data_shape]`` in (0, 1)."""
        return tf.sigmoid(tf.cast(self.raw_pseudo_inputs, tf.float32))

    def distribution(self):
        if self._posterior_at is None:
            raise ConfigError("the vampprior must be bound to a model (VAE) before use.")
        q = self._posterior_at(self.pseudo_inputs)
        return tfd.MixtureSameFamily(
            mixture_distribution=tfd.Categorical(logits=tf.zeros([self.components])),
            components_distribution=q,
        )
