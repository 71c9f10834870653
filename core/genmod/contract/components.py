"""The core interfaces every component implements. Imports TensorFlow.

Conventions shared by all of them:

* Data ``x`` is float32 with shape ``[batch, *data_shape]`` (MNIST: ``[batch, 28, 28, 1]``),
  values in ``[0, 1]`` (binary ``{0, 1}`` after binarization).
* A condition, when the model is conditional, is float32 ``[batch, condition_dim]``
  (for example one-hot labels); unconditional models get ``None``.
* Latent codes ``z`` are float32 ``[..., latent_dim]``; decoders accept any number of leading
  sample dimensions (``[samples, batch, latent_dim]`` for importance sampling).
* Every log-probability and KL is in nats, summed over the event (one number per data item).
* Networks are Keras 3 layers that output *parameters*; distributions are built here with
  ``tfp.distributions``, always in float32 (so mixed-precision networks stay numerically safe).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

__all__ = [
    "Decoder",
    "Encoder",
    "Likelihood",
    "Objective",
    "ObjectiveOutput",
    "PosteriorFamily",
    "Prior",
]


class PosteriorFamily:
    """How an encoder's raw outputs become q(z|x).

    Subclasses say how many numbers they need per data item (:meth:`num_params`) and build the
    distribution from a ``[batch, num_params]`` tensor; the result has batch shape ``[batch]``
    and event shape ``[latent_dim]``. Posterior families hold no variables.
    """

    def __init__(self, *, latent_dim: int) -> None:
        self.latent_dim = int(latent_dim)

    def num_params(self) -> int:
        raise NotImplementedError

    def __call__(self, params: tf.Tensor) -> tfd.Distribution:
        raise NotImplementedError


class Encoder(keras.layers.Layer):
    """q(z|x): a network from data (and an optional condition) to a posterior over z.

    Subclasses implement :meth:`call`, returning float ``[batch, self.param_size]``; the base
    class turns that into a distribution with :meth:`distribution`.

    ``conditional`` (class attribute, default ``False``): set it to ``True`` on a class (or on
    the factory a plugin registers) that *needs* a condition. When the encoder or the decoder
    of a run is conditional, :func:`genmod.model.assembly.condition_dim_for` gives the whole model
    ``condition_dim = dataset.num_classes`` (one-hot labels); a dataset without labels is then
    a clear error. Unconditional classes still accept an optional condition.
    """

    conditional: bool = False

    def __init__(
        self,
        *,
        data_shape: Sequence[int],
        latent_dim: int,
        posterior: PosteriorFamily,
        condition_dim: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.data_shape = tuple(int(d) for d in data_shape)
        self.latent_dim = int(latent_dim)
        self.posterior_family = posterior
        self.condition_dim = int(condition_dim)
        self.param_size = posterior.num_params()

    def call(self, x: tf.Tensor, condition: tf.Tensor | None = None) -> tf.Tensor:
        raise NotImplementedError

    def distribution(self, x: tf.Tensor, condition: tf.Tensor | None = None) -> tfd.Distribution:
        """q(z|x[, condition]): batch shape ``[batch]``, event shape ``[latent_dim]``, float32."""
        params = self(x, condition) if condition is not None else self(x)
        return self.posterior_family(tf.cast(params, tf.float32))


class Decoder(keras.layers.Layer):
    """A network from z (and an optional condition) to the parameters of p(x|z).

    Subclasses implement :meth:`call` for ``z`` of shape ``[n, latent_dim]`` and return
    ``[n, *data_shape, params_per_element]``. Use :meth:`decode`, which also accepts leading
    sample dimensions. ``conditional``: as for :class:`Encoder`.
    """

    conditional: bool = False

    def __init__(
        self,
        *,
        data_shape: Sequence[int],
        latent_dim: int,
        params_per_element: int,
        condition_dim: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.data_shape = tuple(int(d) for d in data_shape)
        self.latent_dim = int(latent_dim)
        self.params_per_element = int(params_per_element)
        self.condition_dim = int(condition_dim)

    def call(self, z: tf.Tensor, condition: tf.Tensor | None = None) -> tf.Tensor:
        raise NotImplementedError

    def decode(self, z: tf.Tensor, condition: tf.Tensor | None = None) -> tf.Tensor:
        """Parameters for ``z`` of shape ``[*lead, latent_dim]``: ``[*lead, *data_shape, P]``.

        ``condition`` is ``[batch, condition_dim]`` and is broadcast over sample dimensions
        in front of the batch dimension. The result is float32.
        """
        z = tf.convert_to_tensor(z)
        lead = tf.shape(z)[:-1]
        flat_z = tf.reshape(z, [-1, self.latent_dim])
        if condition is not None:
            condition = tf.broadcast_to(
                tf.cast(condition, z.dtype), tf.concat([lead, [self.condition_dim]], 0)
            )
            params = self(flat_z, tf.reshape(condition, [-1, self.condition_dim]))
        else:
            params = self(flat_z)
        out_shape = tf.concat([lead, self.data_shape, [self.params_per_element]], 0)
        return tf.cast(tf.reshape(params, out_shape), tf.float32)


class Likelihood(keras.layers.Layer):
    """p(x|z): builds a distribution over one whole data item from decoder parameters.

    Class attributes:

    * ``params_per_element``: how many decoder outputs each data element needs.
    * ``support``: the data it models: ``"binary"`` ({0, 1}), ``"unit_interval"`` ([0, 1])
      or ``"real"``. The core refuses a binarization that does not fit the support.

    :meth:`distribution` takes ``[*lead, *data_shape, params_per_element]`` float32 and returns a
    distribution with batch shape ``lead`` and event shape ``data_shape``. A likelihood may own
    variables (for example a learned noise scale).
    """

    params_per_element: int = 1
    support: str = "real"

    def __init__(self, *, data_shape: Sequence[int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_shape = tuple(int(d) for d in data_shape)

    def distribution(self, params: tf.Tensor) -> tfd.Distribution:
        raise NotImplementedError

    def mean(self, params: tf.Tensor) -> tf.Tensor:
        """The mean of p(x|z), used for pictures of reconstructions and samples."""
        return self.distribution(params).mean()

    def call(self, params: tf.Tensor) -> tf.Tensor:  # Keras needs call(); we only use mean.
        return self.mean(params)


class Prior(keras.layers.Layer):
    """p(z): :meth:`distribution` returns batch shape ``[]``, event shape ``[latent_dim]``.

    Priors may own trainable variables (a learned mixture, say); those are trained with the rest
    of the model.

    A prior that depends on other parts of the model (the VampPrior needs the encoder and the
    data shape) overrides :meth:`bind`, which :class:`genmod.model.VAE` calls once, from its
    constructor, before any variable is built. ``bind`` may create variables and must raise
    :class:`genmod.contract.errors.ConfigError` when it cannot work with the model it is given.
    Keep a reference to the model's pieces in a way Keras does not track as a sub-layer (for
    example a bound method), so that their variables are not counted twice.
    """

    def __init__(self, *, latent_dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)

    def bind(self, model) -> None:
        """Called by the VAE with itself (``genmod.model.VAE``); the default does nothing."""

    def distribution(self) -> tfd.Distribution:
        raise NotImplementedError

    def call(self, inputs=None) -> tf.Tensor:  # Keras needs call(); we only use distribution.
        return self.distribution().sample(1)


@dataclass
class ObjectiveOutput:
    """What an objective returns for one batch.

    ``loss``: scalar float32 to minimise (mean over the batch). ``metrics``: scalar float32
    batch means, in nats per data item; always includes ``elbo``, ``reconstruction`` (E_q log
    p(x|z)) and ``kl`` (KL(q(z|x) || p(z)) or its estimate), plus ``loss``.
    """

    loss: tf.Tensor
    metrics: dict[str, tf.Tensor]


class Objective:
    """A training objective: from the model and a batch to a loss and metrics (nats).

    ``metric_names`` lists the keys of :attr:`ObjectiveOutput.metrics`, in a fixed order (the
    training loop accumulates them on the device). ``step`` is the optimizer step (int64 scalar),
    for schedules such as KL warm-up; ``seed`` is a stateless seed (int32 ``[2]``) for sampling.
    """

    metric_names: tuple[str, ...] = ("loss", "elbo", "reconstruction", "kl")

    def __call__(
        self,
        model,
        x: tf.Tensor,
        condition: tf.Tensor | None = None,
        *,
        seed: tf.Tensor,
        step: tf.Tensor,
    ) -> ObjectiveOutput:
        raise NotImplementedError
