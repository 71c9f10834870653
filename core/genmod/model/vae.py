"""The assembled model: encoder, decoder, likelihood and prior as one trackable Keras layer."""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from genmod.contract.components import Decoder, Encoder, Likelihood, Prior

tfd = tfp.distributions


class VAE(keras.layers.Layer):
    """A variational auto-encoder built from components.

    ``condition_dim`` is 0 for unconditional models; otherwise every method that takes a
    ``condition`` needs one of shape ``[batch, condition_dim]``.
    """

    def __init__(
        self,
        *,
        encoder: Encoder,
        decoder: Decoder,
        likelihood: Likelihood,
        prior: Prior,
        data_shape: tuple[int, ...],
        latent_dim: int,
        condition_dim: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.prior = prior
        self.data_shape = tuple(data_shape)
        self.latent_dim = int(latent_dim)
        self.condition_dim = int(condition_dim)
        prior.bind(self)  # priors that need the encoder or data shape (VampPrior) hook in here

    def build(self, input_shape=None) -> None:
        # Sub-layers build themselves on first call; nothing of our own to create.
        pass

    def posterior(self, x: tf.Tensor, condition: tf.Tensor | None = None) -> tfd.Distribution:
        """q(z|x): batch ``[batch]``, event ``[latent_dim]``."""
        return self.encoder.distribution(x, condition)

    def posterior_location(self, x: tf.Tensor, condition: tf.Tensor | None = None) -> tf.Tensor:
        """One code per item, ``[batch, latent_dim]``: q(z|x)'s mean where it has one (see
        :meth:`genmod.contract.components.PosteriorFamily.location`)."""
        return self.encoder.location(x, condition)

    def observation(self, z: tf.Tensor, condition: tf.Tensor | None = None) -> tfd.Distribution:
        """p(x|z): batch ``z.shape[:-1]``, event ``data_shape``."""
        return self.likelihood.distribution(self.decoder.decode(z, condition))

    def prior_distribution(self) -> tfd.Distribution:
        """p(z): batch ``[]``, event ``[latent_dim]``."""
        return self.prior.distribution()

    def call(self, x: tf.Tensor, condition: tf.Tensor | None = None) -> tf.Tensor:
        """Reconstruction of ``x`` through the posterior location (builds variables): the
        likelihood's :meth:`~genmod.contract.components.Likelihood.image` (the mean of p(x|z);
        one sample from the fixed seed ``[0, 0]`` for a likelihood without a mean)."""
        z = self.posterior_location(x, condition)
        params = self.decoder.decode(z, condition)
        return self.likelihood.image(params, seed=tf.constant([0, 0], tf.int32))

    def build_variables(self) -> None:
        """Create every variable by running a dummy batch of two through the model."""
        x = tf.zeros((2, *self.data_shape), tf.float32)
        condition = tf.zeros((2, self.condition_dim)) if self.condition_dim else None
        self(x, condition) if condition is not None else self(x)
        self.prior.distribution()

    def sample(
        self, n: int, condition: tf.Tensor | None = None, *, seed: tf.Tensor | None = None
    ) -> tf.Tensor:
        """Pictures of p(x|z) for ``n`` draws z ~ p(z): ``[n, *data_shape]``.

        The likelihood's :meth:`~genmod.contract.components.Likelihood.image`: the means of
        p(x|z), or, for a likelihood without a mean (``pixelcnn``), one sample of p(x|z) per z
        drawn from ``seed`` folded with 1 (z itself is drawn from ``seed``).
        """
        z = self.prior_distribution().sample(n, seed=seed)
        if seed is None and self.likelihood.has_mean:
            image_seed = tf.constant([0, 0], tf.int32)  # unused by mean(): no random draw
        else:  # with seed=None, a fresh random seed, like z's
            image_seed = tf.random.experimental.stateless_fold_in(
                tf.cast(tfp.random.sanitize_seed(seed), tf.int32), 1
            )
        return self.likelihood.image(self.decoder.decode(z, condition), seed=image_seed)
