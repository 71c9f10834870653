"""The ``pixelcnn`` likelihood: a gated PixelCNN over binary images, conditioned on the decoder.

p(x|z) = prod_i Bernoulli(x_i; sigmoid(l_i(x_<i, h(z)))) over the pixels of an ``[H, W, 1]``
image in raster order (row by row, left to right), where ``h(z)`` is the decoder's output map
``[H, W, features]`` and ``l_i`` the logit a gated PixelCNN (van den Oord et al. 2016,
"Conditional Image Generation with PixelCNN Decoders") computes from the pixels before ``i``.
Where the latent code enters is the ``conditioning`` option:

* ``layers`` (default; PixelVAE, Gulrajani et al. 2016): 1x1 convolutions of the decoder's map
  are added before the gate of every gated layer, so the stacks themselves depend on z;
* ``head``: the stacks see only x, and the map enters at the output head only,
  ``hidden = conv1x1(relu(stack_out)) + conv1x1(h(z))``, ``logit = conv1x1(relu(hidden))``.
  Then the stacks' output does not depend on z, and ``log_prob`` of items ``x`` ``[B, ...]``
  under parameters with more samples ``[K, B, ...]`` (importance sampling) runs the stacks once
  per item and only the head (two 1x1 convolutions, the first one split into its x and z parts)
  once per sample.

The network has two stacks, which together see every earlier pixel within the receptive field
(no blind spot):

* the *vertical* stack sees the rows strictly above the current one (first layer: kernel
  ``[first_kernel_size // 2, first_kernel_size]`` over the rows above; later layers:
  ``[kernel_size // 2 + 1, kernel_size]`` over the current and earlier rows of the layer
  below, whose row ``r`` itself only depends on the pixels above row ``r``);
* the *horizontal* stack sees the pixels to the left in the current row (first layer, mask
  type A: ``[1, first_kernel_size // 2]`` strictly to the left; later layers, mask type B:
  ``[1, kernel_size // 2 + 1]`` over the current and earlier columns of the layer below), plus
  the vertical stack's pre-activations through a 1x1 convolution; it has a residual connection.

Every layer computes ``tanh(a) * sigmoid(b)`` of ``conv(input) [+ cond(h(z))]`` split in two.
The causal kernels are implemented by padding on the top/left and ``valid`` convolutions, so no
weight is masked or wasted. A head of two 1x1 convolutions (ReLU before each) gives one logit
per pixel; with ``conditioning="head"`` a 1x1 convolution of h(z) is added to its hidden layer.

``log_prob`` runs the network once on the whole image (teacher forcing). Sampling is sequential:
one row of the vertical stack per image row, one column of the horizontal stack per pixel, each
computed from the small window of earlier activations it depends on, inside one ``tf.function``
with two ``tf.while_loop`` s (rows, then columns).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from genmod.contract.components import Likelihood
from genmod.contract.errors import ConfigError

tfd = tfp.distributions

#: where the decoder's map enters the network (the ``conditioning`` option)
CONDITIONING = ("layers", "head")


def _gate(pre: tf.Tensor) -> tf.Tensor:
    """``tanh(a) * sigmoid(b)`` of the two halves of the last axis."""
    a, b = tf.split(pre, 2, axis=-1)
    return tf.tanh(a) * tf.sigmoid(b)


def _pad(t: tf.Tensor, top: int = 0, left: int = 0, right: int = 0) -> tf.Tensor:
    """Zero padding of ``[n, h, w, c]`` on the top, left and right."""
    return tf.pad(t, [[0, 0], [top, 0], [left, right], [0, 0]])


def _valid_from(index_of_first: tf.Tensor, length: int, axis: int, dtype) -> tf.Tensor:
    """A 0/1 mask that keeps the positions ``index_of_first + i >= 0`` of a window of
    ``length`` along ``axis`` (1: rows, 2: columns) of a ``[n, h, w, c]`` tensor."""
    keep = tf.cast(index_of_first + tf.range(length) >= 0, dtype)
    return tf.reshape(keep, [1, length, 1, 1] if axis == 1 else [1, 1, length, 1])


class PixelCNNLikelihood(Likelihood):
    """p(x|z): a gated PixelCNN over binary ``[H, W, 1]`` images, conditioned on the decoder's
    ``[H, W, features]`` map at every gated layer (``conditioning="layers"``, PixelVAE) or at the
    output head only (``conditioning="head"``). Support: binary data {0, 1}.

    Decoder parameters: ``features`` numbers per pixel (``params_per_element`` is set per
    instance). ``log_prob`` is exact, in nats, computed in one pass of the network. There is no
    closed-form mean: :meth:`mean` raises ``NotImplementedError`` and :meth:`image`, which
    pictures use, draws one sample of p(x|z) per z from its seed (sequentially, one pixel at a
    time). See the module docstring for the architecture.
    """

    support = "binary"
    has_mean = False

    def __init__(
        self,
        *,
        data_shape: Sequence[int],
        features: int = 8,
        filters: int = 32,
        layers: int = 5,
        kernel_size: int = 3,
        first_kernel_size: int = 7,
        conditioning: str = "layers",
        **kwargs,
    ) -> None:
        super().__init__(data_shape=data_shape, **kwargs)
        shape = self.data_shape
        if len(shape) != 3 or shape[-1] != 1:
            raise ConfigError(
                f"the pixelcnn likelihood models binary images [height, width, 1] only (one grey "
                f"channel: no colour, its masks order pixels, not the channels of a pixel); the "
                f"dataset gives items of shape {list(shape)}. Use another likelihood (such as "
                f"bernoulli, which models every channel) instead."
            )
        for name, value, low in (
            ("features", features, 1),
            ("filters", filters, 1),
            ("layers", layers, 1),
            ("kernel_size", kernel_size, 1),
            ("first_kernel_size", first_kernel_size, 3),
        ):
            if int(value) != value or value < low:
                raise ConfigError(f"pixelcnn: {name} must be an integer >= {low}, got {value!r}.")
        for name, value in (("kernel_size", kernel_size), ("first_kernel_size", first_kernel_size)):
            if value % 2 == 0:
                raise ConfigError(f"pixelcnn: {name} must be odd, got {value}.")
        if conditioning not in CONDITIONING:
            raise ConfigError(
                f"pixelcnn: conditioning must be one of {', '.join(CONDITIONING)}, got "
                f"{conditioning!r}."
            )
        self.conditioning = conditioning
        self.height, self.width = shape[0], shape[1]
        self.params_per_element = int(features)
        self.features = int(features)
        self.filters = int(filters)
        self.num_layers = int(layers)
        self.kernel_size = int(kernel_size)
        self.first_kernel_size = int(first_kernel_size)
        # first layer: rows/columns strictly before; later layers: `half` before and the current
        self.first_half = self.first_kernel_size // 2
        self.half = self.kernel_size // 2
        # how far back the later layers reach, in rows (vertical) and columns (horizontal)
        self.reach = (self.num_layers - 1) * self.half

        f2 = 2 * self.filters
        a, k, half = self.first_half, self.kernel_size, self.half

        def conv(channels: int, kernel, name: str, bias: bool = True) -> keras.layers.Conv2D:
            return keras.layers.Conv2D(channels, kernel, padding="valid", use_bias=bias, name=name)

        self.vertical = [conv(f2, (a, self.first_kernel_size), "vertical_0")]
        self.vertical += [conv(f2, (half + 1, k), f"vertical_{i}") for i in range(1, layers)]
        self.horizontal = [conv(f2, (1, a), "horizontal_0")]
        self.horizontal += [conv(f2, (1, half + 1), f"horizontal_{i}") for i in range(1, layers)]
        self.links = [conv(f2, 1, f"vertical_to_horizontal_{i}") for i in range(layers)]
        # per gated layer (conditioning "layers") or at the head only ("head")
        in_layers = conditioning == "layers"
        self.conditions = (
            [conv(2 * f2, 1, f"condition_{i}", bias=False) for i in range(layers)]
            if in_layers
            else []
        )
        self.outputs = [conv(self.filters, 1, f"horizontal_out_{i}") for i in range(layers)]
        self.head_hidden = conv(self.filters, 1, "head_hidden")
        self.head_condition = (
            None if in_layers else conv(self.filters, 1, "head_condition", bias=False)
        )
        self.head_logit = conv(1, 1, "head_logit")
        # Every variable exists from construction, in a fixed order (save/restore by order);
        # "layers" keeps the order it always had.
        for i in range(layers):
            inputs = 1 if i == 0 else self.filters
            self.vertical[i].build((None, None, None, inputs))
            self.horizontal[i].build((None, None, None, inputs))
            self.links[i].build((None, None, None, f2))
            if in_layers:
                self.conditions[i].build((None, None, None, self.features))
            self.outputs[i].build((None, None, None, self.filters))
        self.head_hidden.build((None, None, None, self.filters))
        if self.head_condition is not None:
            self.head_condition.build((None, None, None, self.features))
        self.head_logit.build((None, None, None, self.filters))
        self.built = True

    # -- the network ---------------------------------------------------------------------------

    @property
    def _dtype(self):
        """The layers' compute dtype (float32, or 16 bits under mixed precision)."""
        return tf.as_dtype(self.vertical[0].compute_dtype)

    def _weights(self) -> dict[str, list[tuple[tf.Tensor, tf.Tensor | None]]]:
        """Every convolution's ``(kernel, bias)`` in the layers' compute dtype (float32, or 16
        bits under mixed precision), read once per pass (the sampler's loops reuse them).
        ``conditions`` (per gated layer) is empty and ``head_condition`` holds one convolution
        with ``conditioning="head"``; the other way round with ``"layers"``."""
        dtype = self._dtype

        def read(layer: keras.layers.Conv2D) -> tuple[tf.Tensor, tf.Tensor | None]:
            bias = tf.cast(layer.bias, dtype) if layer.use_bias else None
            return tf.cast(layer.kernel, dtype), bias

        groups = {
            "vertical": self.vertical,
            "horizontal": self.horizontal,
            "links": self.links,
            "conditions": self.conditions,
            "outputs": self.outputs,
            "head": [self.head_hidden, self.head_logit],
            "head_condition": [self.head_condition] if self.head_condition is not None else [],
        }
        return {name: [read(layer) for layer in layers] for name, layers in groups.items()}

    @staticmethod
    def _conv(x: tf.Tensor, weights: tuple[tf.Tensor, tf.Tensor | None]) -> tf.Tensor:
        kernel, bias = weights
        y = tf.nn.conv2d(x, kernel, strides=1, padding="VALID")
        return y if bias is None else tf.nn.bias_add(y, bias)

    def _head(self, h: tf.Tensor, w, condition: tf.Tensor | None = None) -> tf.Tensor:
        """Float32 logits ``[n, h, w]`` from the stack's output ``h`` ``[n, h, w, filters]``;
        ``condition``: the head's share of the decoder map (``conditioning="head"``)."""
        hidden = self._conv(tf.nn.relu(h), w["head"][0])
        if condition is not None:
            hidden += condition
        return tf.cast(self._conv(tf.nn.relu(hidden), w["head"][1])[..., 0], tf.float32)

    def _condition_maps(self, features: tf.Tensor, w) -> list[list[tf.Tensor]] | None:
        """Per layer, the decoder map's contributions to the vertical and horizontal stacks
        (``None`` with ``conditioning="head"``: the stacks see only x)."""
        if not w["conditions"]:
            return None
        features = tf.cast(features, self._dtype)
        return [tf.split(self._conv(features, c), 2, axis=-1) for c in w["conditions"]]

    def _head_condition(self, features: tf.Tensor, w) -> tf.Tensor | None:
        """The decoder map's contribution to the head's hidden layer, ``[n, H, W, filters]``
        (``None`` with ``conditioning="layers"``)."""
        if not w["head_condition"]:
            return None
        return self._conv(tf.cast(features, self._dtype), w["head_condition"][0])

    def _stacks(self, x: tf.Tensor, w, conditions: list[list[tf.Tensor]] | None) -> tf.Tensor:
        """The horizontal stack's output ``[n, H, W, filters]`` for ``x`` ``[n, H, W, 1]``,
        teacher-forced; ``conditions`` from :meth:`_condition_maps` (``None``: x only)."""
        a, half = self.first_half, self.half
        x = tf.cast(x, self._dtype)
        v_in = _pad(x[:, :-1], top=a, left=a, right=a)  # row r sees rows r-a .. r-1
        h_in = _pad(x[:, :, :-1], left=a)  # column c sees columns c-a .. c-1
        h = None
        for i in range(self.num_layers):
            v_pre = self._conv(v_in, w["vertical"][i])
            if conditions is not None:
                v_pre += conditions[i][0]
            link = self._conv(v_pre, w["links"][i])
            h_pre = self._conv(h_in, w["horizontal"][i]) + link
            if conditions is not None:
                h_pre += conditions[i][1]
            out = self._conv(_gate(h_pre), w["outputs"][i])
            h = out if i == 0 else h + out
            if i + 1 < self.num_layers:
                v_in = _pad(_gate(v_pre), top=half, left=half, right=half)
                h_in = _pad(h, left=half)
        return h

    def logits(self, x: tf.Tensor, features: tf.Tensor) -> tf.Tensor:
        """Teacher-forced logits, float32 ``[n, H, W]``: ``logits[:, r, c]`` depends only on the
        pixels of ``x`` ``[n, H, W, 1]`` before ``(r, c)`` in raster order, and on ``features``
        ``[n, H, W, features]``."""
        w = self._weights()
        stack = self._stacks(x, w, self._condition_maps(features, w))
        return self._head(stack, w, self._head_condition(features, w))

    def shared_logits(self, x: tf.Tensor, maps: tf.Tensor) -> tf.Tensor:
        """Teacher-forced logits, float32 ``[*batch, H, W]``, of ``x`` ``[*x_lead, H, W, 1]``
        under the decoder's ``maps`` ``[*maps_lead, H, W, features]``, ``batch`` the broadcast
        of the two leads; ``conditioning="head"`` only.

        The stacks, which do not see z, run once per item of ``x`` (``x_lead``), and the head's
        hidden layer is split into its x part (computed with the stacks) and its z part (one
        1x1 convolution per item of ``maps``), added with broadcasting; only the last 1x1
        convolution runs once per item of ``batch``. The same logits, up to round-off, as
        :meth:`logits` of both broadcast to ``batch`` (a test checks this), for the cost of
        one stack pass per item of ``x`` instead of one per importance sample.
        """
        if self.conditioning != "head":
            raise ValueError("shared_logits needs conditioning='head': the stacks depend on z")
        w = self._weights()
        image = [self.height, self.width]
        x_lead, maps_lead = tf.shape(x)[:-3], tf.shape(maps)[:-3]
        stack = self._stacks(tf.reshape(x, [-1, *image, 1]), w, None)
        from_x = self._conv(tf.nn.relu(stack), w["head"][0])
        from_z = self._head_condition(tf.reshape(maps, [-1, *image, self.features]), w)
        hidden = tf.reshape(from_x, tf.concat([x_lead, [*image, self.filters]], 0)) + tf.reshape(
            from_z, tf.concat([maps_lead, [*image, self.filters]], 0)
        )
        hidden = tf.reshape(hidden, [-1, *image, self.filters])
        logits = tf.cast(self._conv(tf.nn.relu(hidden), w["head"][1])[..., 0], tf.float32)
        batch = tf.broadcast_dynamic_shape(x_lead, maps_lead)
        return tf.reshape(logits, tf.concat([batch, image], 0))

    @tf.function(autograph=False, reduce_retracing=True)
    def _sample_flat(self, features: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Ancestral sampling in raster order: ``(x [n, H, W, 1], logits [n, H, W])`` for
        ``features`` ``[n, H, W, features]``; ``logits`` are those each pixel was drawn from.

        Row r of the vertical stack is computed once per image row, from the window of rows
        above it that it depends on; each pixel then runs the horizontal stack on the window
        of columns to its left that its logit depends on. Windows reaching before row or column
        0 are zero-padded and their out-of-image positions zeroed after every layer, as the
        padding of :meth:`logits` does, so both give the same logits.
        """
        height, width, a, half = self.height, self.width, self.first_half, self.half
        reach, layers, f2 = self.reach, self.num_layers, 2 * self.filters
        w = self._weights()
        n = tf.shape(features)[0]
        uniform = tf.random.stateless_uniform(tf.stack([n, height, width]), seed)
        conditions = self._condition_maps(features, w)  # None with conditioning="head"
        head_condition = self._head_condition(features, w)  # None with conditioning="layers"
        dtype = self._dtype
        # the decoder's contributions, padded so that windows reaching before row 0 fit
        cond_v = [_pad(v, top=reach) for v, _ in conditions] if conditions else None
        cond_h = [h for _, h in conditions] if conditions else None
        top, left = reach + a, reach + a  # the image sits at [top:, left:] of x_pad
        x_pad = tf.zeros(tf.stack([n, top + height, left + width, 1]), tf.float32)
        # per column c: which of the columns c-reach .. c lie in the image, and where c sits
        keep_cols = tf.reshape(
            tf.cast(tf.range(width)[:, None] - reach + tf.range(reach + 1)[None, :] >= 0, dtype),
            [width, 1, 1, reach + 1, 1],
        )
        place = tf.reshape(tf.one_hot(tf.range(width) + left, left + width), [width, 1, 1, -1, 1])
        place_row = tf.reshape(
            tf.one_hot(tf.range(height) + top, top + height), [height, 1, -1, 1, 1]
        )

        def row_step(r, x_pad, logits_rows):
            # the vertical stack's row r, from the rows above it (reach + a rows of pixels)
            window = tf.slice(x_pad, [0, r, left, 0], [-1, top, width, 1])
            v_in = _pad(tf.cast(window, dtype), left=a, right=a)
            links = []
            for i in range(layers):
                rows = reach + 1 - i * half  # this layer's output rows: r - rows + 1 .. r
                v_pre = self._conv(v_in, w["vertical"][i])
                if cond_v is not None:
                    start = [0, r + reach - rows + 1, 0, 0]
                    v_pre += tf.slice(cond_v[i], start, [-1, rows, width, f2])
                link = self._conv(v_pre[:, -1:], w["links"][i])
                if cond_h is not None:
                    link += tf.slice(cond_h[i], [0, r, 0, 0], [-1, 1, width, f2])
                links.append(link)
                if i + 1 < layers:
                    v = _gate(v_pre) * _valid_from(r - rows + 1, rows, 1, dtype)
                    v_in = _pad(v, left=half, right=half)
            links = _pad(tf.concat(links, axis=-1), left=reach)  # [n, 1, reach + W, layers*2F]
            uniform_row = tf.gather(uniform, r, axis=1)  # [n, W]
            if head_condition is not None:  # the head's condition along row r
                head_row = tf.slice(head_condition, [0, r, 0, 0], [-1, 1, width, self.filters])

            def column_step(c, row, logits_row):
                h_in = tf.cast(tf.slice(row, [0, 0, c, 0], [-1, 1, left, 1]), dtype)
                link = tf.slice(links, [0, 0, c, 0], [-1, 1, reach + 1, layers * f2])
                keep = tf.gather(keep_cols, c)  # [1, 1, reach + 1, 1]
                h = None
                for i in range(layers):
                    cols = reach + 1 - i * half  # output columns c - cols + 1 .. c
                    h_pre = self._conv(h_in, w["horizontal"][i])
                    h_pre += link[:, :, reach + 1 - cols :, i * f2 : (i + 1) * f2]
                    out = self._conv(_gate(h_pre), w["outputs"][i])
                    h = out if i == 0 else h[:, :, -cols:] + out
                    if i + 1 < layers:
                        h = h * keep[:, :, reach + 1 - cols :]
                        h_in = h
                cond = (
                    tf.slice(head_row, [0, 0, c, 0], [-1, 1, 1, self.filters])
                    if head_condition is not None
                    else None
                )
                logit = tf.reshape(self._head(h[:, :, -1:], w, cond), [-1])  # [n]
                bit = tf.cast(tf.gather(uniform_row, c, axis=1) < tf.sigmoid(logit), tf.float32)
                row = row + tf.reshape(bit, [-1, 1, 1, 1]) * tf.gather(place, c)
                return c + 1, row, logits_row.write(c, logit)

            row0 = tf.zeros(tf.stack([n, 1, left + width, 1]), tf.float32)
            _, row, logits_row = tf.while_loop(
                lambda c, *_: c < width,
                column_step,
                (tf.constant(0), row0, tf.TensorArray(tf.float32, size=width)),
                parallel_iterations=1,
            )
            x_pad = x_pad + tf.gather(place_row, r) * row
            return r + 1, x_pad, logits_rows.write(r, tf.transpose(logits_row.stack()))

        _, x_pad, logits_rows = tf.while_loop(
            lambda r, *_: r < height,
            row_step,
            (tf.constant(0), x_pad, tf.TensorArray(tf.float32, size=height)),
            parallel_iterations=1,
        )
        return x_pad[:, top:, left:], tf.transpose(logits_rows.stack(), [1, 0, 2])

    # -- the contract --------------------------------------------------------------------------

    @staticmethod
    def _maps(params: tf.Tensor) -> tf.Tensor:
        """The decoder's parameters ``[*lead, H, W, 1, features]`` as maps
        ``[*lead, H, W, features]``."""
        return tf.convert_to_tensor(params, tf.float32)[..., 0, :]

    def distribution(self, params):
        return PixelCNNBernoulli(self, self._maps(params))

    def sample_images(self, maps: tf.Tensor, seed) -> tf.Tensor:
        """One binary sample of p(x|z) per item of the decoder's ``maps``
        ``[*lead, H, W, features]``: float32 ``[*lead, H, W, 1]``; the same stateless ``seed``
        (int32 ``[2]``) gives the same images."""
        maps = tf.convert_to_tensor(maps, tf.float32)
        lead = tf.shape(maps)[:-3]
        flat = tf.reshape(maps, [-1, self.height, self.width, self.features])
        seed = tf.cast(tfp.random.sanitize_seed(seed), tf.int32)
        x, _ = self._sample_flat(flat, seed)
        out = tf.reshape(x, tf.concat([lead, [self.height, self.width, 1]], 0))
        return tf.ensure_shape(out, maps.shape[:-1].concatenate([1]))

    def image(self, params, *, seed):
        """One sample of p(x|z) per z (binary pixels), drawn from ``seed``: a PixelCNN has no
        closed-form mean, so pictures show samples, not means. ``params``: the decoder's
        ``[*lead, H, W, 1, features]``; returns float32 ``[*lead, H, W, 1]``."""
        return self.sample_images(self._maps(params), seed)

    def mean(self, params):
        """Not available: the mean of an autoregressive p(x|z) has no closed form."""
        raise NotImplementedError(
            "the pixelcnn likelihood has no closed-form mean (each pixel depends on the ones "
            "before it); use image(params, seed=...) for one sample of p(x|z) instead"
        )


class PixelCNNBernoulli(tfd.Distribution):
    """p(x|z) of :class:`PixelCNNLikelihood` for the decoder's maps ``[*lead, H, W, F]`` (its
    parameters without the channel axis): batch shape ``lead``, event shape ``[H, W, 1]``,
    float32 binary values.

    ``log_prob(x)`` broadcasts ``x`` ``[..., H, W, 1]`` against the batch shape and runs the
    network once (teacher forcing); with ``conditioning="head"`` the stacks run once per item
    of ``x``, not of the broadcast batch (:meth:`PixelCNNLikelihood.shared_logits`), so ``x``
    ``[B, ...]`` under parameters ``[K, B, ...]`` costs one stack pass per image and K heads.
    ``sample`` draws the pixels one at a time, in raster order.
    """

    def __init__(
        self,
        likelihood: PixelCNNLikelihood,
        params: tf.Tensor,
        validate_args: bool = False,
        allow_nan_stats: bool = True,
        name: str = "PixelCNNBernoulli",
    ) -> None:
        parameters = dict(locals())
        self._likelihood = likelihood
        self._params = tf.convert_to_tensor(params, tf.float32)
        super().__init__(
            dtype=tf.float32,
            reparameterization_type=tfd.NOT_REPARAMETERIZED,
            validate_args=validate_args,
            allow_nan_stats=allow_nan_stats,
            parameters=parameters,
            name=name,
        )

    @property
    def params(self) -> tf.Tensor:
        """The decoder's maps ``[*lead, H, W, F]``."""
        return self._params

    def _data_shape(self) -> list[int]:
        return [self._likelihood.height, self._likelihood.width, 1]

    def _batch_shape(self):
        return self._params.shape[:-3]

    def _batch_shape_tensor(self):
        return tf.shape(self._params)[:-3]

    def _event_shape(self):
        return tf.TensorShape(self._data_shape())

    def _event_shape_tensor(self):
        return tf.constant(self._data_shape(), tf.int32)

    def _log_prob(self, x):
        lik = self._likelihood
        x = tf.convert_to_tensor(x, tf.float32)
        batch = tf.broadcast_dynamic_shape(tf.shape(x)[:-3], tf.shape(self._params)[:-3])
        static = tf.broadcast_static_shape(x.shape[:-3], self._params.shape[:-3])
        if lik.conditioning == "head":
            logits = lik.shared_logits(x, self._params)  # [*batch, H, W]
            labels = tf.broadcast_to(x[..., 0], tf.shape(logits))
            per_pixel = -tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
            return tf.ensure_shape(tf.reduce_sum(per_pixel, axis=[-2, -1]), static)
        x = tf.broadcast_to(x, tf.concat([batch, self._data_shape()], 0))
        params = tf.broadcast_to(
            self._params, tf.concat([batch, [lik.height, lik.width, lik.features]], 0)
        )
        flat_x = tf.reshape(x, [-1, lik.height, lik.width, 1])
        flat_params = tf.reshape(params, [-1, lik.height, lik.width, lik.features])
        logits = lik.logits(flat_x, flat_params)
        # log Bernoulli(x; sigmoid(l)) = -softplus(-l) for x = 1, -softplus(l) for x = 0
        per_pixel = -tf.nn.sigmoid_cross_entropy_with_logits(labels=flat_x[..., 0], logits=logits)
        out = tf.reshape(tf.reduce_sum(per_pixel, axis=[1, 2]), batch)
        return tf.ensure_shape(out, static)

    def _sample_n(self, n, seed=None):
        lik = self._likelihood
        batch = tf.shape(self._params)[:-3]
        params = tf.broadcast_to(
            self._params[tf.newaxis], tf.concat([[n], tf.shape(self._params)], 0)
        )
        x = lik.sample_images(params, seed)
        return tf.reshape(x, tf.concat([[n], batch, self._data_shape()], 0))
