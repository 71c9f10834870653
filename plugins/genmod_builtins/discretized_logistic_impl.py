"""A mixture of discretized logistics per element, for 8-bit images (PixelCNN++ style).

The model of Salimans et al. (2017, "PixelCNN++", section 2.1), written here from its
definition: each element of an item is one of the 256 values ``k/255`` (``k = 0..255``; what
:func:`genmod.model.preprocess.to_unit_interval` makes of uint8 data), and

    P(k) = sum_j pi_j [F_j(k/255 + 1/510) - F_j(k/255 - 1/510)],

with ``F_j`` the CDF of a logistic with location ``mu_j`` and scale ``s_j``, the lowest bin's
lower edge at minus infinity (``P(0)`` uses ``F_j(1/510)``) and the highest bin's upper edge at
plus infinity (``P(255)`` uses ``1 - F_j(254.5/255)``), so the 256 masses sum to one exactly.
Imports TensorFlow.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from genmod.contract.components import Likelihood
from genmod.contract.errors import ConfigError
from genmod.contract.units import EIGHT_BIT

tfd = tfp.distributions

#: the number of values an 8-bit element takes
BINS = 256
#: half the width of one bin on the [0, 1] scale (bins are centred on k/255)
HALF_BIN = 0.5 / (BINS - 1)
#: the smallest log-scale: exp(-7) ~ 0.0009, about half a bin's half-width (PixelCNN++'s bound)
MIN_LOG_SCALE = -7.0
#: the largest log-scale: exp(7) ~ 1100 data ranges, far wider than any useful component; it
#: keeps a bin's width on the standardised scale (exp(-log_scale) / 255) a normal float32
MAX_LOG_SCALE = 7.0


def split_params(params: tf.Tensor, components: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``[..., 3 * components]`` -> mixture logits, locations, clamped log-scales, each
    ``[..., components]`` (float32)."""
    params = tf.cast(params, tf.float32)
    logits = params[..., :components]
    locs = params[..., components : 2 * components]
    log_scales = tf.clip_by_value(params[..., 2 * components :], MIN_LOG_SCALE, MAX_LOG_SCALE)
    return logits, locs, log_scales


def component_log_masses(x: tf.Tensor, locs: tf.Tensor, log_scales: tf.Tensor) -> tf.Tensor:
    """log P_j(bin of x) of every component, ``[..., K]`` for ``x`` ``[...]`` in [0, 1].

    ``x`` is mapped to its bin ``k = round(255 x)`` (clipped to 0..255). With ``a`` and ``b``
    the standardised upper and lower bin edges, ``a = (k/255 + 1/510 - mu) / s`` and ``b = a -
    1/(255 s)``, the interior bins use the exact identity

        log(sigmoid(a) - sigmoid(b)) = -softplus(-a) - softplus(b) + log(1 - exp(-(a - b))),

    in which every term is finite and computed without cancellation (no fall-back to the density
    at the bin centre is needed, however small the mass); bin 0 is ``log sigmoid(a)`` and bin
    255 ``log(1 - sigmoid(b)) = -softplus(b)``.
    """
    k = tf.clip_by_value(tf.round(tf.cast(x, tf.float32) * (BINS - 1)), 0.0, BINS - 1.0)
    centre = (k / (BINS - 1))[..., tf.newaxis]
    inv_scale = tf.exp(-log_scales)
    upper = inv_scale * (centre - locs + HALF_BIN)
    lower = inv_scale * (centre - locs - HALF_BIN)
    log_cdf_upper = -tf.nn.softplus(-upper)  # log F(upper edge)
    log_sf_lower = -tf.nn.softplus(lower)  # log (1 - F(lower edge))
    log_gap = tf.math.log(-tf.math.expm1(-inv_scale / (BINS - 1)))  # log(1 - e^-(a - b))
    interior = log_cdf_upper + log_sf_lower + log_gap
    k = k[..., tf.newaxis]
    return tf.where(k < 0.5, log_cdf_upper, tf.where(k > BINS - 1.5, log_sf_lower, interior))


def clipped_mean(logits: tf.Tensor, locs: tf.Tensor, log_scales: tf.Tensor) -> tf.Tensor:
    """The mixture's mean of ``clip(Y, 0, 1)``, ``[...]`` in [0, 1].

    For one logistic, ``E[clip(Y, 0, 1)] = int_0^1 P(Y > t) dt = s (softplus(mu / s) -
    softplus((mu - 1) / s))``. The 8-bit value is ``round(255 clip(Y, 0, 1)) / 255``, so this
    differs from the exact mean of the 256-value distribution by at most half a bin (1/510).
    With ``a = mu / s`` and ``d = 1 / s`` the bracket is ``softplus(a) - softplus(a - d)``, which
    for ``mu > 1/2`` is computed as ``d - (softplus(d - a) - softplus(-a))`` (the same number,
    since ``softplus(t) = t + softplus(-t)``) so that far-out locations lose no precision.
    """
    inv_scale = tf.exp(-log_scales)
    a = locs * inv_scale
    low = tf.nn.softplus(a) - tf.nn.softplus(a - inv_scale)
    high = inv_scale - (tf.nn.softplus(inv_scale - a) - tf.nn.softplus(-a))
    per_component = tf.clip_by_value(tf.where(locs > 0.5, high, low) / inv_scale, 0.0, 1.0)
    mean = tf.reduce_sum(tf.nn.softmax(logits, axis=-1) * per_component, axis=-1)
    return tf.clip_by_value(mean, 0.0, 1.0)


class DiscretizedLogisticMixture(tfd.Distribution):
    """Per-element mixture of discretized logistics over the 256 values ``k/255``.

    ``logits``, ``locs`` and ``log_scales``: float32 ``[..., K]`` (log-scales are clamped to
    ``[MIN_LOG_SCALE, MAX_LOG_SCALE]``); batch shape ``[...]``, event shape ``[]``.
    ``log_prob`` (nats) is the log of the bin mass of :func:`component_log_masses` mixed with
    softmax weights; ``sample`` draws a component, a logistic value, and rounds it to its bin;
    ``mean`` is :func:`clipped_mean`.
    """

    def __init__(
        self,
        logits,
        locs,
        log_scales,
        validate_args: bool = False,
        allow_nan_stats: bool = True,
        name: str = "DiscretizedLogisticMixture",
    ) -> None:
        parameters = dict(locals())
        with tf.name_scope(name) as scope:
            self._logits = tf.convert_to_tensor(logits, tf.float32)
            self._locs = tf.convert_to_tensor(locs, tf.float32)
            self._log_scales = tf.clip_by_value(
                tf.convert_to_tensor(log_scales, tf.float32), MIN_LOG_SCALE, MAX_LOG_SCALE
            )
            super().__init__(
                dtype=tf.float32,
                reparameterization_type=tfd.NOT_REPARAMETERIZED,
                validate_args=validate_args,
                allow_nan_stats=allow_nan_stats,
                parameters=parameters,
                name=scope,
            )

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return {
            "logits": tfp.util.ParameterProperties(event_ndims=1),
            "locs": tfp.util.ParameterProperties(event_ndims=1),
            "log_scales": tfp.util.ParameterProperties(event_ndims=1),
        }

    def _event_shape(self):
        return tf.TensorShape([])

    def _event_shape_tensor(self):
        return tf.constant([], tf.int32)

    def _log_prob(self, x):
        log_weights = tf.nn.log_softmax(self._logits, axis=-1)
        masses = component_log_masses(x, self._locs, self._log_scales)
        return tf.reduce_logsumexp(log_weights + masses, axis=-1)

    def _mean(self):
        return clipped_mean(self._logits, self._locs, self._log_scales)

    def _sample_n(self, n, seed=None):
        component_seed, value_seed = tfp.random.split_seed(seed, n=2)
        shape = tf.concat([[n], tf.shape(self._logits)], 0)
        # Gumbel-max: argmax(logits + Gumbel noise) is a draw from softmax(logits)
        u = tf.random.stateless_uniform(shape, component_seed, minval=1e-7, maxval=1.0 - 1e-7)
        choice = tf.one_hot(
            tf.argmax(self._logits - tf.math.log(-tf.math.log(u)), axis=-1),
            tf.shape(self._logits)[-1],
            dtype=tf.float32,
        )
        loc = tf.reduce_sum(choice * self._locs, axis=-1)
        scale = tf.exp(tf.reduce_sum(choice * self._log_scales, axis=-1))
        v = tf.random.stateless_uniform(shape[:-1], value_seed, minval=1e-7, maxval=1.0 - 1e-7)
        y = loc + scale * (tf.math.log(v) - tf.math.log1p(-v))  # the logistic's inverse CDF
        k = tf.clip_by_value(tf.round(y * (BINS - 1)), 0.0, BINS - 1.0)
        return k / (BINS - 1)


class DiscretizedLogisticLikelihood(Likelihood):
    """p(x|z) = prod_i sum_j pi_ij DLogistic(x_i; mu_ij, s_ij): 8-bit data, ``support = "8bit"``.

    Each element (pixel and channel) is one of the 256 values ``k/255`` and has its own mixture
    of ``components`` discretized logistics (module docstring; Salimans et al. 2017). Channels
    are independent given z (PixelCNN++'s dependence of a pixel's green and blue on its red is
    left out): the decoder alone models how they go together. ``log_prob`` is a probability
    mass over the 256 values of every element, summed over the item, in nats, so it is never
    positive and ``-log_prob / (D ln 2)`` is bits per dimension.

    Decoder parameters: ``3 * components`` per element, in this order: the mixture weights'
    logits, the locations (identity, on the [0, 1] scale of the data) and the log-scales
    (clamped to ``[-7, 7]``; below ``-7`` a component would be narrower than half a bin, where
    the likelihood can grow no further but gradients blow up). Runs use ``--binarize none``
    (``auto`` picks it; binarizations are refused). :meth:`mean` is the mixture's mean of the
    value clipped to [0, 1] (:func:`clipped_mean`), so pictures show what the model expects.
    """

    support = EIGHT_BIT

    def __init__(self, *, components: int = 5, **kwargs) -> None:
        if isinstance(components, bool) or not isinstance(components, int) or components < 1:
            raise ConfigError(
                f"likelihood 'discretized-logistic': components got {components!r}; it must be "
                "an integer >= 1."
            )
        super().__init__(**kwargs)
        self.components = int(components)
        self.params_per_element = 3 * self.components

    def distribution(self, params):
        logits, locs, log_scales = split_params(params, self.components)
        return tfd.Independent(
            DiscretizedLogisticMixture(logits, locs, log_scales),
            reinterpreted_batch_ndims=len(self.data_shape),
        )

    def mean(self, params):
        return clipped_mean(*split_params(params, self.components))
