"""The Student-t prior p(z) = prod_i StudentT(z_i; df, 0, s_i)."""

from __future__ import annotations

import math

import tensorflow as tf
import tensorflow_probability as tfp

from genmod.contract.components import Prior

tfd = tfp.distributions


class StudentTPrior(Prior):
    """Independent Student-t with ``df`` degrees of freedom, location 0 and scales ``s``.

    Heavier tails than N(0, I) let a few codes sit far out without a large KL penalty. With
    ``learn_scale`` the scales are trained, kept positive as ``softplus(raw) + 1e-3``;
    otherwise they stay at ``init_scale``. There is no closed-form KL to a Gaussian posterior,
    so genmod estimates the KL by Monte Carlo. Log-densities are in nats.
    """

    def __init__(
        self,
        *,
        df: float = 5.0,
        learn_scale: bool = True,
        init_scale: float = 1.0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.df = float(df)
        self.learn_scale = bool(learn_scale)
        self.init_scale = float(init_scale)
        if self.learn_scale:
            raw = math.log(math.expm1(max(self.init_scale - 1e-3, 1e-6)))  # inverse softplus
            self.raw_scale = self.add_weight(
                shape=(self.latent_dim,),
                initializer=tf.constant_initializer(raw),
                name="raw_scale",
            )

    def scale(self) -> tf.Tensor:
        """The scales ``[latent_dim]``, float32."""
        if self.learn_scale:
            return tf.nn.softplus(tf.cast(self.raw_scale, tf.float32)) + 1e-3
        return tf.fill([self.latent_dim], self.init_scale)

    def distribution(self):
        scale = self.scale()
        return tfd.Independent(
            tfd.StudentT(df=self.df, loc=tf.zeros_like(scale), scale=scale),
            reinterpreted_batch_ndims=1,
        )
