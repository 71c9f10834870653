"""Gaussian posterior families q(z|x) built from encoder outputs."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from genmod.contract.components import PosteriorFamily

tfd = tfp.distributions
tfb = tfp.bijectors


class DiagonalGaussian(PosteriorFamily):
    """N(mu, diag(sigma^2)) with sigma = softplus(raw) + min_scale.

    Parameters: ``[mu (latent_dim), raw (latent_dim)]``. We use softplus of a raw output rather
    than exp of a log-variance: softplus grows linearly, so a large pre-activation early in
    training cannot overflow or explode the gradients, and ``min_scale`` keeps sigma away from 0
    so log q(z|x) stays finite.
    """

    def __init__(self, *, latent_dim: int, min_scale: float = 1e-5) -> None:
        super().__init__(latent_dim=latent_dim)
        self.min_scale = float(min_scale)

    def num_params(self) -> int:
        return 2 * self.latent_dim

    def call(self, params):
        loc, raw = tf.split(params, 2, axis=-1)
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.nn.softplus(raw) + self.min_scale)


class FullCovarianceGaussian(PosteriorFamily):
    """N(mu, L L^T) with L lower-triangular; its diagonal is softplus(raw) + min_scale.

    Parameters: ``latent_dim`` means then ``latent_dim * (latent_dim + 1) / 2`` entries of L
    (filled by ``tfp.bijectors.FillScaleTriL``).
    """

    def __init__(self, *, latent_dim: int, min_scale: float = 1e-5) -> None:
        super().__init__(latent_dim=latent_dim)
        self.fill = tfb.FillScaleTriL(
            diag_bijector=tfb.Chain([tfb.Shift(float(min_scale)), tfb.Softplus()]),
        )

    def num_params(self) -> int:
        d = self.latent_dim
        return d + d * (d + 1) // 2

    def call(self, params):
        loc = params[..., : self.latent_dim]
        scale_tril = self.fill.forward(params[..., self.latent_dim :])
        return tfd.MultivariateNormalTriL(loc=loc, scale_tril=scale_tril)
