"""The inverse autoregressive flow posterior ``iaf`` (Kingma et al. 2016), on TFP bijectors.

q(z|x) starts from a diagonal Gaussian N(mu, sigma^2) given by the encoder and applies
``steps`` IAF transformations, each computed by a MADE network (Germain et al. 2015) from the
previous z and a context vector h that the encoder also outputs::

    [m, s] = MADE_k(z, h);   sigma_k = sigmoid(s + forget_bias);
    z <- sigma_k * z + (1 - sigma_k) * m            log q -= sum_i log sigma_k,i

(the numerically stable form of the paper's equations 10-14). Output i of each MADE depends
only on z_<i, so the Jacobian is triangular and its log-determinant is the sum above. The
order of z is reversed between steps so that every dimension sees every other one. Sampling
and the log-density of its own samples take one pass per step; the log-density of any other z
inverts each step one dimension at a time (``latent_dim`` passes).

The MADE weights are Keras 3 layers owned by the family, so they are trained, checkpointed
and restored with the model. Everything runs in float32. Imports TensorFlow.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from genmod.contract.components import PosteriorFamily

tfd = tfp.distributions
tfb = tfp.bijectors


def made_masks(latent_dim: int, hidden: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks of a one-hidden-layer MADE over inputs ordered 1..D (float32 0/1 arrays).

    Hidden unit k gets degree ``1 + k mod (D - 1)`` (in 1..D-1); it may see inputs of degree
    <= its own; output i (degree i) may see hidden units of degree < i, so output i depends
    on inputs 1..i-1 only (output 1 on none: its m and s come from the context and biases).
    Returns ``(input_to_hidden [D, hidden], hidden_to_output [hidden, D])``.
    """
    inputs = np.arange(1, latent_dim + 1)
    degrees = 1 + np.arange(hidden) % max(latent_dim - 1, 1)
    first = (inputs[:, None] <= degrees[None, :]).astype(np.float32)
    second = (degrees[:, None] < inputs[None, :]).astype(np.float32)
    if latent_dim == 1:
        first[:] = 0.0  # a single dimension depends on nothing but the context
    return first, second


class MaskedDense(keras.layers.Layer):
    """A dense layer whose kernel is multiplied by a fixed 0/1 mask ``[in, out]``."""

    def __init__(self, mask: np.ndarray, *, activation: str | None = None, **kwargs) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.mask = tf.constant(mask, tf.float32)
        self.units = int(mask.shape[1])
        self.activation = keras.activations.get(activation)
        self.kernel = self.add_weight(
            shape=tuple(mask.shape), initializer="glorot_uniform", name="kernel"
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        self.built = True

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return self.activation(tf.matmul(x, self.kernel * self.mask) + self.bias)


class MADE(keras.layers.Layer):
    """``(z [..., D], h [..., C]) -> (m [..., D], s [..., D])`` with output i seeing z_<i."""

    def __init__(self, latent_dim: int, context_dim: int, hidden: int, **kwargs) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        first, second = made_masks(latent_dim, hidden)
        self.hidden_from_z = MaskedDense(first)
        self.hidden_from_h = (
            MaskedDense(np.ones((context_dim, hidden), np.float32)) if context_dim else None
        )
        self.m_out = MaskedDense(second)
        self.s_out = MaskedDense(second)
        self.built = True

    def call(self, z: tf.Tensor, h: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor]:
        pre = self.hidden_from_z(z)
        if self.hidden_from_h is not None and h is not None:
            pre = pre + self.hidden_from_h(h)
        hidden = tf.nn.elu(pre)
        return self.m_out(hidden), self.s_out(hidden)


class IAFStep(tfb.Bijector):
    """One IAF transformation ``z -> sigma * z + (1 - sigma) * m`` for a fixed context h."""

    def __init__(self, made: MADE, context: tf.Tensor | None, forget_bias: float) -> None:
        super().__init__(forward_min_event_ndims=1, validate_args=False, name="iaf_step")
        self._made = made
        self._context = context
        self._forget_bias = float(forget_bias)

    def _gates(self, z: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        context = self._context
        if context is not None:
            context = tf.broadcast_to(
                context, tf.concat([tf.shape(z)[:-1], tf.shape(context)[-1:]], 0)
            )
        m, s = self._made(z, context)
        return m, s + self._forget_bias

    def _forward(self, z: tf.Tensor) -> tf.Tensor:
        m, s = self._gates(z)
        sigma = tf.sigmoid(s)
        return sigma * z + (1.0 - sigma) * m

    def _forward_log_det_jacobian(self, z: tf.Tensor) -> tf.Tensor:
        _, s = self._gates(z)
        return tf.reduce_sum(tf.math.log_sigmoid(s), axis=-1)

    def _inverse(self, y: tf.Tensor) -> tf.Tensor:
        # m_i and sigma_i depend on z_<i only: after pass i, z_1..z_i are exact.
        z = tf.zeros_like(y)
        for _ in range(int(y.shape[-1])):
            m, s = self._gates(z)
            sigma = tf.sigmoid(s)
            z = (y - (1.0 - sigma) * m) / sigma
        return z

    def _inverse_log_det_jacobian(self, y: tf.Tensor) -> tf.Tensor:
        return -self._forward_log_det_jacobian(self._inverse(y))


class InverseAutoregressiveFlow(PosteriorFamily):
    """q(z|x) = IAF(N(mu, diag(sigma^2))): ``steps`` IAF steps over a diagonal Gaussian.

    Parameters per item: ``[mu (D), raw (D), h (context)]``, with sigma = softplus(raw) +
    min_scale. q has no closed-form mean; :meth:`location` pushes mu through the flow.
    """

    def __init__(
        self,
        *,
        latent_dim: int,
        steps: int = 2,
        hidden: int = 64,
        context: int = 16,
        forget_bias: float = 1.0,
        min_scale: float = 1e-5,
        **kwargs,
    ) -> None:
        super().__init__(latent_dim=latent_dim, **kwargs)
        self.steps = int(steps)
        self.context = int(context)
        self.forget_bias = float(forget_bias)
        self.min_scale = float(min_scale)
        self.mades = [
            MADE(self.latent_dim, self.context, int(hidden), name=f"made_{k}")
            for k in range(self.steps)
        ]

    def num_params(self) -> int:
        return 2 * self.latent_dim + self.context

    def flow(self, h: tf.Tensor | None) -> tfb.Bijector:
        """The chain of IAF steps (with order reversals between them) for context h."""
        reverse = tfb.Permute(permutation=list(range(self.latent_dim - 1, -1, -1)))
        bijectors: list[tfb.Bijector] = []
        for k, made in enumerate(self.mades):
            if k:
                bijectors.append(reverse)
            bijectors.append(IAFStep(made, h, self.forget_bias))
        return tfb.Chain(list(reversed(bijectors)))  # Chain applies the last one first

    def call(self, params: tf.Tensor) -> tfd.Distribution:
        d = self.latent_dim
        loc, raw = params[..., :d], params[..., d : 2 * d]
        h = params[..., 2 * d :] if self.context else None
        base = tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.nn.softplus(raw) + self.min_scale)
        return tfd.TransformedDistribution(base, self.flow(h))
