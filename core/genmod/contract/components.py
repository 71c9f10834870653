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
* Exportable: every method genmod calls traces inside a ``tf.function`` with fixed dtypes and
  a free batch dimension (batch sizes from ``tf.shape``), draws random numbers only with
  stateless ops from its ``seed`` argument, and uses no Python callbacks, so ``genmod export``
  serves any component without serving code (``genmod.testing`` checks it).
"""

from __future__ import annotations

import re
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


class PosteriorFamily(keras.layers.Layer):
    """How an encoder's raw outputs become q(z|x); a Keras layer, so it may own weights.

    Subclasses say how many numbers they need per data item (:meth:`num_params`) and implement
    :meth:`call`, which builds the distribution from float32 ``params`` of shape
    ``[batch, num_params]``; the result has batch shape ``[batch]``, event shape
    ``[latent_dim]`` and dtype float32. genmod calls the family object, ``family(params)``,
    which runs :meth:`call` through Keras.

    **Families with weights** (normalizing flows such as the built-in ``iaf``) create them as
    Keras layers or ``add_weight`` variables assigned to attributes of the family (directly or
    in lists/dicts), like any Keras layer. The encoder holds the family, so these weights are
    in the model's ``trainable_variables``: they are trained, checkpointed and restored on
    resume. The family runs in float32 whatever the precision policy; give its sub-layers
    ``dtype="float32"``. Weights hidden elsewhere (in a plain Python object, a global) are not
    tracked, and the conformance kit fails such a family.

    **A point in z for pictures and statistics.** Reconstructions, the latent-space pictures
    and the active-unit count need one code per item. :meth:`location` gives it: ``q.mean()``
    where the distribution has one; for a ``tfd.TransformedDistribution`` without a closed-form
    mean (a flow), the base distribution's mean pushed through the bijector; otherwise the
    mean of 16 samples from a fixed seed. Override it for a better choice. Training and
    ``genmod evaluate``'s log-likelihood never use it.

    Families written for genmod 0.1, which implement ``__call__(params)`` directly and hold
    no weights, still work.
    """

    def __init__(self, *, latent_dim: int, **kwargs) -> None:
        kwargs.setdefault("dtype", "float32")  # log-probabilities stay float32
        if kwargs.get("name") is None:
            # Keras names a layer after its class; a private class (`_Flow`) would give a name
            # that tf.function refuses as a scope, so leading underscores are dropped.
            base = re.sub(r"(?<!^)(?=[A-Z])", "_", type(self).__name__.lstrip("_")).lower()
            kwargs["name"] = f"{base or 'posterior'}_{keras.backend.get_uid(base)}"
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        # Weights are made in __init__ or by sub-layers on their first call; marking the
        # family built keeps Keras from warning about "unbuilt state" when an encoder builds.
        self.built = True

    def num_params(self) -> int:
        """Numbers per data item that the encoder must output (``param_size``)."""
        raise NotImplementedError

    def call(self, params: tf.Tensor) -> tfd.Distribution:
        """q(z|x) from float32 ``params`` ``[batch, num_params]``: batch ``[batch]``, event
        ``[latent_dim]``."""
        raise NotImplementedError

    def location(self, q: tfd.Distribution) -> tf.Tensor:
        """One code per item, float32 ``[batch, latent_dim]``: the mean of ``q`` where it has
        one, else the fallbacks described in the class docstring."""
        try:
            return q.mean()
        except NotImplementedError:
            pass
        if hasattr(q, "bijector") and hasattr(q, "distribution"):  # a TransformedDistribution
            try:
                return q.bijector.forward(q.distribution.mean())
            except NotImplementedError:
                pass
        return tf.reduce_mean(q.sample(16, seed=tf.constant([0, 0], tf.int32)), axis=0)


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
        """Implement this: posterior parameters for a batch, ``[batch, self.param_size]``.

        ``x`` is float32 ``[batch, *data_shape]`` (values in ``[0, 1]``); ``condition`` is
        float32 ``[batch, condition_dim]`` or ``None``. The output may be in the layer's compute
        dtype (16 bits under mixed precision); :meth:`distribution` casts it to float32.
        """
        raise NotImplementedError

    def distribution(self, x: tf.Tensor, condition: tf.Tensor | None = None) -> tfd.Distribution:
        """q(z|x[, condition]): batch shape ``[batch]``, event shape ``[latent_dim]``, float32."""
        params = self(x, condition) if condition is not None else self(x)
        return self.posterior_family(tf.cast(params, tf.float32))

    def location(self, x: tf.Tensor, condition: tf.Tensor | None = None) -> tf.Tensor:
        """One code per item, ``[batch, latent_dim]`` float32: the posterior family's
        :meth:`PosteriorFamily.location` of q(z|x) (its mean where it has one)."""
        return self.posterior_family.location(self.distribution(x, condition))


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
        """Implement this: likelihood parameters ``[n, *data_shape, params_per_element]``.

        ``z`` is float32 ``[n, latent_dim]`` (no leading sample dimensions: :meth:`decode`
        flattens them); ``condition`` is float32 ``[n, condition_dim]`` or ``None``.
        """
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
    * ``support``: the data it models: ``"binary"`` ({0, 1}), ``"unit_interval"`` ([0, 1]),
      ``"real"``, or ``"8bit"`` (the 256 values ``k/255``, ``k = 0..255``, that
      :func:`genmod.model.preprocess.to_unit_interval` makes of uint8 data; ``log_prob`` is then
      a probability mass over those values, and runs report bits/dim next to nats:
      :mod:`genmod.contract.units`). The core refuses a binarization that does not fit the
      support: an ``"8bit"`` likelihood takes only ``--binarize none`` (``auto`` picks it) and
      data whose values are ``k/255`` (uint8 datasets).
    * ``has_mean``: whether :meth:`mean` works (default ``True``). A likelihood without a
      closed-form mean (an autoregressive one such as the built-in ``pixelcnn``) sets it to
      ``False`` and overrides :meth:`image`.

    ``params_per_element`` may also be set per instance in ``__init__`` (it may depend on an
    option); genmod reads it from the built likelihood.

    :meth:`distribution` takes ``[*lead, *data_shape, params_per_element]`` float32 and returns a
    distribution with batch shape ``lead`` and event shape ``data_shape``. A likelihood may own
    variables (for example a learned noise scale, or a whole network).

    **Pictures** (samples, reconstructions, interpolations, ``genmod sample``) show
    :meth:`image` of the decoder's parameters: the mean of p(x|z) by default; for a likelihood
    without a mean, one sample of p(x|z) per z drawn from a fixed seed.
    """

    params_per_element: int = 1
    support: str = "real"
    has_mean: bool = True

    def __init__(self, *, data_shape: Sequence[int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.data_shape = tuple(int(d) for d in data_shape)

    def distribution(self, params: tf.Tensor) -> tfd.Distribution:
        """Implement this: p(x|z) from decoder parameters.

        ``params``: float32 ``[*lead, *data_shape, params_per_element]``. Returns a float32
        distribution with batch shape ``lead`` and event shape ``data_shape`` (wrap per-element
        distributions in ``tfd.Independent``) whose ``log_prob(x)`` is in nats, summed over the
        item, and normalised over :attr:`support`.
        """
        raise NotImplementedError

    def mean(self, params: tf.Tensor) -> tf.Tensor:
        """The mean of p(x|z), float32 ``[*lead, *data_shape]``; the default picture
        (:meth:`image`). A likelihood without a closed-form mean raises ``NotImplementedError``
        and sets ``has_mean = False``."""
        return self.distribution(params).mean()

    def image(self, params: tf.Tensor, *, seed: tf.Tensor) -> tf.Tensor:
        """What a picture of p(x|z) shows: float32 ``[*lead, *data_shape]`` in ``[0, 1]``.

        ``params``: float32 ``[*lead, *data_shape, params_per_element]``; ``seed``: a stateless
        seed (int32 ``[2]``), which genmod fixes for every picture. The default is
        :meth:`mean` (``seed`` unused), so existing likelihoods need not override it. A
        likelihood without a closed-form mean overrides it to return one sample of p(x|z) per
        item, the same for the same seed; its pictures then show samples, not means.
        """
        del seed  # the mean needs no randomness
        return self.mean(params)

    def call(self, params: tf.Tensor) -> tf.Tensor:  # Keras needs call(); we use image/mean.
        """Keras plumbing: :meth:`image` with seed ``[0, 0]``; genmod never calls it."""
        return self.image(params, seed=tf.constant([0, 0], tf.int32))


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
        """Implement this: p(z), float32, batch shape ``[]``, event shape ``[latent_dim]``.

        Called once per training step (inside ``tf.function``), so build the distribution
        from the layer's variables each time rather than caching it.
        """
        raise NotImplementedError

    def call(self, inputs=None) -> tf.Tensor:  # Keras needs call(); we only use distribution.
        """Keras plumbing: one sample of p(z), ``[1, latent_dim]``; genmod never calls it."""
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
        """Implement this: the loss and metrics of one batch.

        ``model`` is the assembled :class:`genmod.model.vae.VAE`: ``model.posterior(x,
        condition)`` is q(z|x), ``model.observation(z, condition)`` is p(x|z) and
        ``model.prior_distribution()`` is p(z); :func:`genmod.model.elbo.elbo_terms` computes the
        usual terms from them. ``x``: float32 ``[batch, *data_shape]``; ``condition``: float32
        ``[batch, condition_dim]`` or ``None``; ``seed``: a stateless seed, int32 ``[2]`` (pass it
        to ``sample(seed=...)``; split it with ``tf.random.experimental.stateless_split`` for
        several draws); ``step``: the optimizer step, int64 ``[]``. Runs inside
        ``tf.function``. Returns an :class:`ObjectiveOutput` whose metrics are in nats.
        """
        raise NotImplementedError
