"""Conformance checks of built components: shapes, dtypes, gradients, graph mode, save/restore.

Every check takes ``build``, a zero-argument callable returning a *fresh* component (the
save/restore check builds a second one and restores the first one's weights into it, the way
``genmod.api.load_run`` rebuilds a run from its configuration). Inputs are drawn from fixed
seeds, so a check gives the same verdict every time. Imports TensorFlow.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from genmod.contract.components import (
    Decoder,
    Encoder,
    Likelihood,
    Objective,
    ObjectiveOutput,
    PosteriorFamily,
    Prior,
)
from genmod.contract.errors import ConfigError, PluginError
from genmod.contract.units import EIGHT_BIT, SUPPORTS
from genmod.data import Dataset, DatasetArrays, declared_data_shape, load_checked
from genmod.model.checks import untracked_variables
from genmod.plugins import EVALUATION_HOOKS, Registry
from genmod.testing.errors import ConformanceError, require
from genmod.testing.options import check_options, lookup

REQUIRED_METRICS = ("loss", "elbo", "reconstruction", "kl")

# -- helpers -------------------------------------------------------------------------------


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in tf.convert_to_tensor(t).shape)


def _finite(t: Any) -> bool:
    return bool(np.all(np.isfinite(np.asarray(t, dtype=np.float64))))


def _is_float(t: tf.Tensor) -> bool:
    return tf.as_dtype(t.dtype).is_floating


def _check_distribution(
    dist: Any, who: str, what: str, batch: Sequence[int], event: Sequence[int]
) -> None:
    require(hasattr(dist, "log_prob"), who, f"{what} is {type(dist).__name__}, not a distribution")
    got_batch = tuple(dist.batch_shape.as_list())
    got_event = tuple(dist.event_shape.as_list())
    require(
        got_batch == tuple(batch) and got_event == tuple(event),
        who,
        f"{what} has batch shape {list(got_batch)} and event shape {list(got_event)}; "
        f"expected batch {list(batch)} and event {list(event)}",
    )
    require(dist.dtype == tf.float32, who, f"{what} has dtype {dist.dtype}, expected float32")


def _var_name(var: Any) -> str:
    return str(getattr(var, "path", None) or var.name)


def _check_gradients(
    who: str, tape: tf.GradientTape, loss: tf.Tensor, variables: Sequence[tf.Variable], what: str
) -> None:
    """Every variable gets a finite gradient that is not identically zero."""
    grads = tape.gradient(loss, list(variables))
    for var, grad in zip(variables, grads, strict=True):
        require(grad is not None, who, f"no gradient reaches {_var_name(var)} from {what}")
        grad = tf.convert_to_tensor(grad)
        require(_finite(grad), who, f"the gradient of {_var_name(var)} is not finite")
        require(
            bool(tf.reduce_any(grad != 0)),
            who,
            f"the gradient of {_var_name(var)} from {what} is zero everywhere "
            "(is the variable used?)",
        )


def _check_graph_mode(who: str, eager: tf.Tensor, fn: Callable[[], tf.Tensor]) -> None:
    """The same computation inside a ``tf.function`` (as in training) gives the same numbers."""
    try:
        graph = tf.function(fn)()
    except Exception as exc:  # noqa: BLE001 - reported as a contract failure
        raise ConformanceError(
            f"{who}: fails inside tf.function (training runs compiled): {type(exc).__name__}: {exc}"
        ) from exc
    require(
        np.allclose(np.asarray(graph), np.asarray(eager), rtol=1e-4, atol=1e-4),
        who,
        "gives different numbers inside tf.function than eagerly",
    )


def _check_save_restore(
    who: str, original: Any, build: Callable[[], Any], evaluate: Callable[[Any], tf.Tensor]
) -> None:
    """Weights saved as genmod saves them (an ordered list) restore into a fresh build."""
    expected = np.asarray(evaluate(original))
    variables = list(original.variables)
    if not variables:
        return
    clone = build()
    evaluate(clone)  # creates the clone's variables
    clone_vars = list(clone.variables)
    require(
        [tuple(v.shape) for v in clone_vars] == [tuple(v.shape) for v in variables],
        who,
        "a second build creates different variables (number, order or shapes), so saved "
        "weights cannot be restored; build every variable in __init__/build in a fixed order",
    )
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "weights")
        tf.train.Checkpoint(model=variables).write(path)
        tf.train.Checkpoint(model=clone_vars).read(path).assert_existing_objects_matched()
    got = np.asarray(evaluate(clone))
    require(
        np.allclose(got, expected, rtol=1e-5, atol=1e-5),
        who,
        "a restored copy gives different outputs from the saved one",
    )


_PY_CALLBACK = (
    "a Python callback (tf.py_function, tf.numpy_function), which a SavedModel cannot hold"
)
#: operations a SavedModel cannot hold (Python callbacks) or whose draws do not come from the
#: seed argument (stateful generators), so an export could not reproduce genmod's numbers
UNEXPORTABLE_OPS = {
    **{op: _PY_CALLBACK for op in ("PyFunc", "PyFuncStateless", "EagerPyFunc")},
    **{
        op: "a stateful random generator, which ignores the seed: draw with tf.random.stateless_* "
        "from the seed argument"
        for op in (
            "RandomStandardNormal",
            "RandomUniform",
            "RandomUniformInt",
            "TruncatedNormal",
            "RandomShuffle",
            "Multinomial",
            "RandomGamma",
            "RandomPoisson",
            "RandomPoissonV2",
            "StatefulStandardNormalV2",
            "StatefulUniform",
            "StatefulUniformFullInt",
            "StatefulUniformInt",
            "StatefulTruncatedNormal",
            "StatefulRandomBinomial",
        )
    },
}


def _graph_ops(graph_def: Any) -> set[str]:
    """Operation types of a GraphDef, those of its function library (loop bodies) included."""
    ops = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        ops.update(node.op for node in function.node_def)
    return ops


def _check_exportable(
    who: str,
    what: str,
    fn: Callable[..., Any],
    specs: Sequence[tf.TensorSpec],
    examples: Sequence[Sequence[tf.Tensor]],
) -> None:
    """``fn`` traces as ``genmod export`` traces it (a ``tf.function`` with ``specs``: fixed
    dtypes, a free batch dimension, no autograph), holds no operation a SavedModel cannot
    reproduce (:data:`UNEXPORTABLE_OPS`), and the traced graph gives the eager numbers for
    every example (batches of different sizes)."""
    try:
        traced = tf.function(fn, input_signature=list(specs), autograph=False)
        concrete = traced.get_concrete_function()
    except Exception as exc:  # noqa: BLE001 - reported as a contract failure
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ConformanceError(
            f"{who}: {what} cannot be traced with a free batch dimension (genmod export "
            f"traces it so; use tf.shape(x)[0], not x.shape[0] or Python loops over the "
            f"batch): {type(exc).__name__}: {first}"
        ) from exc
    found = sorted(_graph_ops(concrete.graph.as_graph_def()) & set(UNEXPORTABLE_OPS))
    require(
        not found,
        who,
        f"{what} cannot be exported: it uses "
        + "; ".join(f"{op}, {UNEXPORTABLE_OPS[op]}" for op in found),
    )
    for example in examples:
        want = tf.nest.flatten(fn(*example))
        got = tf.nest.flatten(concrete(*example))
        batch = int(example[0].shape[0]) if example[0].shape.rank else int(example[0])
        require(
            all(
                np.allclose(np.asarray(g), np.asarray(w), rtol=1e-4, atol=1e-4)
                for g, w in zip(got, want, strict=True)
            ),
            who,
            f"{what} traced with a free batch dimension gives different numbers from eager "
            f"for a batch of {batch}",
        )


def _trapezoid(values: np.ndarray, points: np.ndarray) -> float:
    """The trapezoid-rule integral of ``values`` sampled at ``points``."""
    return float(np.sum(0.5 * (values[1:] + values[:-1]) * np.diff(points)))


def _inputs(data_shape: Sequence[int], batch: int, condition_dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.uniform(0.0, 1.0, (batch, *data_shape)), tf.float32)
    condition = None
    if condition_dim:
        condition = tf.one_hot(rng.integers(0, condition_dim, batch), condition_dim)
    return x, condition


def _check_tracked(who: str, component: Any) -> None:
    """Fail a component holding variables that the assembled model would not track."""
    hidden = untracked_variables(component)
    require(
        not hidden,
        who,
        f"holds variables that Keras does not track: {', '.join(hidden[:5])}. genmod trains, "
        "checkpoints and restores only tracked weights: assign Keras layers or add_weight "
        "variables to attributes of the component itself (or lists/dicts of them), not to "
        "plain Python objects",
    )


def _built(build: Callable[[], Any], expected: type, who: str) -> Any:
    obj = build()
    require(
        isinstance(obj, expected),
        who,
        f"build() returned {type(obj).__name__}, not a {expected.__module__}.{expected.__name__}",
    )
    return obj


# -- the checks ----------------------------------------------------------------------------


def check_encoder(build: Callable[[], Encoder], *, batch_size: int = 3, who: str = "") -> None:
    """An encoder maps ``[batch, *data_shape]`` to ``[batch, param_size]`` and q(z|x) with
    batch ``[batch]`` and event ``[latent_dim]`` (float32); every trainable variable gets a
    gradient from log q(z|x); batch size 1 and ``tf.function`` work; weights restore."""
    encoder = _built(build, Encoder, who or "encoder")
    who = who or f"encoder {type(encoder).__name__}"
    x, condition = _inputs(encoder.data_shape, batch_size, encoder.condition_dim)

    def params_of(enc: Encoder, n: int = batch_size) -> tf.Tensor:
        return enc(x[:n], condition[:n]) if condition is not None else enc(x[:n])

    params = params_of(encoder)
    require(
        _shape(params) == (batch_size, encoder.param_size) and _is_float(params),
        who,
        f"call() returned {params.dtype.name} {list(_shape(params))}; expected float "
        f"[{batch_size}, {encoder.param_size}] (the posterior family's num_params())",
    )
    require(_finite(params), who, "call() returned non-finite values")
    q = encoder.distribution(x, condition)
    _check_distribution(q, who, "distribution(x)", [batch_size], [encoder.latent_dim])
    require(bool(encoder.trainable_variables), who, "has no trainable variables after one call")
    z = tf.random.stateless_normal([batch_size, encoder.latent_dim], seed=[1, 2])
    with tf.GradientTape() as tape:
        loss = -tf.reduce_sum(encoder.distribution(x, condition).log_prob(z))
    _check_gradients(who, tape, loss, encoder.trainable_variables, "log q(z|x)")
    one = params_of(encoder, 1)
    require(_shape(one) == (1, encoder.param_size), who, "fails for a batch of one")
    _check_graph_mode(who, params, lambda: params_of(encoder))
    specs = [tf.TensorSpec([None, *encoder.data_shape], tf.float32)]
    if condition is not None:
        specs.append(tf.TensorSpec([None, encoder.condition_dim], tf.float32))
    _check_exportable(
        who,
        "call(x)",
        lambda *inputs: encoder(*inputs),
        specs,
        [
            (x[:1],) if condition is None else (x[:1], condition[:1]),
            (x,) if condition is None else (x, condition),
        ],
    )
    _check_tracked(who, encoder)
    _check_save_restore(who, encoder, build, params_of)


def check_decoder(build: Callable[[], Decoder], *, batch_size: int = 3, who: str = "") -> None:
    """A decoder maps z ``[batch, latent_dim]`` to ``[batch, *data_shape, params_per_element]``
    float32 via ``decode``, also with a leading sample dimension; every trainable variable gets a
    gradient; ``tf.function`` works; weights restore."""
    decoder = _built(build, Decoder, who or "decoder")
    who = who or f"decoder {type(decoder).__name__}"
    _, condition = _inputs((1,), batch_size, decoder.condition_dim)
    z = tf.random.stateless_normal([batch_size, decoder.latent_dim], seed=[3, 4])

    def decode(dec: Decoder, z: tf.Tensor = z) -> tf.Tensor:
        return dec.decode(z, condition)

    out = decode(decoder)
    expected = (batch_size, *decoder.data_shape, decoder.params_per_element)
    require(
        _shape(out) == expected and out.dtype == tf.float32,
        who,
        f"decode(z) returned {out.dtype.name} {list(_shape(out))}; expected float32 "
        f"{list(expected)}",
    )
    require(_finite(out), who, "decode(z) returned non-finite values")
    z2 = tf.random.stateless_normal([2, batch_size, decoder.latent_dim], seed=[5, 6])
    out2 = decode(decoder, z2)
    require(
        _shape(out2) == (2, *expected),
        who,
        f"decode() of z with a sample dimension [2, {batch_size}, latent] returned "
        f"{list(_shape(out2))}, expected {[2, *expected]}",
    )
    require(
        np.allclose(out2[1], decode(decoder, z2[1]), rtol=1e-4, atol=1e-4),
        who,
        "decoding a stack of samples differs from decoding each sample",
    )
    require(bool(decoder.trainable_variables), who, "has no trainable variables after one call")
    weights = tf.random.stateless_normal(expected, seed=[7, 8])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(decode(decoder) * weights)
    _check_gradients(who, tape, loss, decoder.trainable_variables, "its outputs")
    _check_graph_mode(who, out, lambda: decode(decoder))
    specs = [tf.TensorSpec([None, decoder.latent_dim], tf.float32)]
    if condition is not None:
        specs.append(tf.TensorSpec([None, decoder.condition_dim], tf.float32))
    _check_exportable(
        who,
        "decode(z)",
        lambda *inputs: decoder.decode(*inputs),
        specs,
        [
            (z[:1],) if condition is None else (z[:1], condition[:1]),
            (z,) if condition is None else (z, condition),
        ],
    )
    _check_tracked(who, decoder)
    _check_save_restore(who, decoder, build, decode)


def _data_in_support(support: str, shape: Sequence[int], seed: int) -> tf.Tensor:
    rng = np.random.default_rng(seed)
    if support == "binary":
        values = rng.integers(0, 2, shape)
    elif support == "unit_interval":
        values = rng.uniform(0.01, 0.99, shape)
    elif support == EIGHT_BIT:
        values = rng.integers(0, 256, shape) / 255.0  # the 256 values k/255
    else:
        values = rng.uniform(0.0, 1.0, shape)  # grey levels: what genmod feeds real likelihoods
    return tf.constant(values, tf.float32)


def check_likelihood(
    build: Callable[[], Likelihood], *, batch_size: int = 3, who: str = ""
) -> None:
    """A likelihood turns ``[*lead, *data_shape, params_per_element]`` into a float32
    distribution with batch ``lead`` and event ``data_shape`` whose ``log_prob`` of data in its
    support is finite; ``image(params, seed=...)`` (and ``mean(params)`` unless ``has_mean`` is
    false) are finite ``[batch, *data_shape]``, the same picture for the same seed; gradients
    reach the parameters and every trainable variable; ``tf.function`` works; weights restore."""
    likelihood = _built(build, Likelihood, who or "likelihood")
    who = who or f"likelihood {type(likelihood).__name__}"
    require(
        likelihood.support in SUPPORTS,
        who,
        f"support is {likelihood.support!r}; it must be one of {', '.join(SUPPORTS)}",
    )
    per = likelihood.params_per_element
    require(isinstance(per, int) and per >= 1, who, f"params_per_element is {per!r}")
    data_shape = likelihood.data_shape
    params = tf.random.stateless_normal([batch_size, *data_shape, per], seed=[9, 10])
    x = _data_in_support(likelihood.support, [batch_size, *data_shape], 0)

    def log_prob(lik: Likelihood, params: tf.Tensor = params) -> tf.Tensor:
        return lik.distribution(params).log_prob(x)

    dist = likelihood.distribution(params)
    _check_distribution(dist, who, "distribution(params)", [batch_size], data_shape)
    lp = log_prob(likelihood)
    require(
        _shape(lp) == (batch_size,) and lp.dtype == tf.float32 and _finite(lp),
        who,
        f"log_prob(x) is {lp.dtype.name} {list(_shape(lp))}; expected finite float32 "
        f"[{batch_size}] (one number per data item, in nats)",
    )
    if likelihood.has_mean:
        mean = likelihood.mean(params)
        require(
            _shape(mean) == (batch_size, *data_shape) and _finite(mean),
            who,
            f"mean(params) has shape {list(_shape(mean))}; expected {[batch_size, *data_shape]}",
        )
    seed = tf.constant([19, 20], tf.int32)
    picture = likelihood.image(params, seed=seed)
    require(
        _shape(picture) == (batch_size, *data_shape) and _finite(picture),
        who,
        f"image(params, seed=...) has shape {list(_shape(picture))}; expected finite "
        f"{[batch_size, *data_shape]}",
    )
    require(
        np.array_equal(np.asarray(likelihood.image(params, seed=seed)), np.asarray(picture)),
        who,
        "image(params, seed=...) gives a different picture for the same seed",
    )
    lead = tf.random.stateless_normal([2, batch_size, *data_shape, per], seed=[11, 12])
    _check_distribution(
        likelihood.distribution(lead),
        who,
        "distribution() with a sample dimension",
        [2, batch_size],
        data_shape,
    )
    with tf.GradientTape() as tape:
        tape.watch(params)
        loss = -tf.reduce_sum(log_prob(likelihood))
    grads = tape.gradient(loss, [params, *likelihood.trainable_variables])
    require(
        grads[0] is not None and _finite(grads[0]) and bool(tf.reduce_any(grads[0] != 0)),
        who,
        "log_prob(x) has no usable gradient with respect to the decoder's parameters",
    )
    for var, grad in zip(likelihood.trainable_variables, grads[1:], strict=True):
        require(grad is not None and _finite(grad), who, f"no gradient reaches {_var_name(var)}")
    _check_graph_mode(who, lp, lambda: log_prob(likelihood))

    def served(params: tf.Tensor, x: tf.Tensor, seed: tf.Tensor) -> list[tf.Tensor]:
        out = [likelihood.distribution(params).log_prob(x), likelihood.image(params, seed=seed)]
        return [*out, likelihood.mean(params)] if likelihood.has_mean else out

    _check_exportable(
        who,
        "log_prob, image" + (" and mean" if likelihood.has_mean else ""),
        served,
        [
            tf.TensorSpec([None, *data_shape, per], tf.float32),
            tf.TensorSpec([None, *data_shape], tf.float32),
            tf.TensorSpec([2], tf.int32),
        ],
        [(params[:1], x[:1], seed), (params, x, seed)],
    )
    _check_tracked(who, likelihood)
    _check_save_restore(who, likelihood, build, log_prob)


def check_likelihood_normalised(
    build: Callable[[], Likelihood], *, tolerance: float = 1e-2, who: str = ""
) -> float:
    """For a likelihood over a tiny item, the density integrates (sums) to one.

    ``build`` must give a likelihood whose ``data_shape`` has one element (continuous support,
    integrated numerically with the trapezoid rule over the support, or ``[-100, 100]`` for
    ``real``) or at most 10 elements (binary support, summed exactly over all ``2^n`` items);
    an ``8bit`` likelihood is summed exactly over the 256 values ``k/255`` of one element.
    Returns the total probability.
    """
    likelihood = _built(build, Likelihood, who or "likelihood")
    who = who or f"likelihood {type(likelihood).__name__}"
    shape = likelihood.data_shape
    size = int(np.prod(shape))
    params = tf.random.stateless_normal([1, *shape, likelihood.params_per_element], seed=[13, 14])
    dist = likelihood.distribution(params)
    if likelihood.support == "binary":
        require(size <= 10, who, f"binary normalisation needs <= 10 elements, got {size}")
        grid = np.array(np.meshgrid(*[[0.0, 1.0]] * size, indexing="ij")).reshape(size, -1).T
        items = tf.constant(grid.reshape(-1, 1, *shape), tf.float32)  # [2^n, 1, *shape]
        total = float(np.sum(np.exp(np.asarray(dist.log_prob(items), np.float64))))
    elif likelihood.support == EIGHT_BIT:
        require(size == 1, who, f"8-bit normalisation needs one element, got {size}")
        items = tf.constant((np.arange(256) / 255.0).reshape(-1, 1, *shape), tf.float32)
        total = float(np.sum(np.exp(np.asarray(dist.log_prob(items), np.float64))))
    else:
        require(size == 1, who, f"continuous normalisation needs one element, got {size}")
        low, high = (0.0, 1.0) if likelihood.support == "unit_interval" else (-100.0, 100.0)
        points = np.linspace(low, high, 200_001)
        if likelihood.support == "unit_interval":
            points = points[1:-1]  # densities may be infinite at the end points
        items = tf.constant(points.reshape(-1, 1, *shape), tf.float32)
        density = np.exp(np.asarray(dist.log_prob(items), np.float64)).reshape(-1)
        total = _trapezoid(density, points)
    require(
        math.isfinite(total) and abs(total - 1.0) <= tolerance,
        who,
        f"p(x|z) sums/integrates to {total:.6f} over its support, not 1: it is not a "
        "normalised distribution (so its ELBO is not a bound on log p(x))",
    )
    return total


def check_prior(build: Callable[[], Prior], *, who: str = "") -> None:
    """A prior gives a float32 distribution with batch ``[]`` and event ``[latent_dim]``; its
    samples and their log-probabilities are finite; its trainable variables (if any) get
    gradients from log p(z); ``tf.function`` works; weights restore."""
    prior = _built(build, Prior, who or "prior")
    who = who or f"prior {type(prior).__name__}"
    dist = prior.distribution()
    _check_distribution(dist, who, "distribution()", [], [prior.latent_dim])
    samples = dist.sample(5, seed=[15, 16])
    require(
        _shape(samples) == (5, prior.latent_dim) and _finite(samples),
        who,
        f"sample(5) gave {list(_shape(samples))}, expected finite [5, {prior.latent_dim}]",
    )
    z = tf.random.stateless_normal([5, prior.latent_dim], seed=[17, 18])

    def log_prob(p: Prior) -> tf.Tensor:
        return p.distribution().log_prob(z)

    lp = log_prob(prior)
    require(
        _shape(lp) == (5,) and _finite(lp),
        who,
        f"log_prob(z) of z [5, latent_dim] gave {list(_shape(lp))}, expected finite [5]",
    )
    if prior.trainable_variables:
        with tf.GradientTape() as tape:
            loss = -tf.reduce_sum(log_prob(prior))
        _check_gradients(who, tape, loss, prior.trainable_variables, "log p(z)")
    _check_graph_mode(who, lp, lambda: log_prob(prior))
    seed = tf.constant([15, 16], tf.int32)
    _check_exportable(
        who,
        "sample(n, seed) and log_prob(z)",
        lambda n, seed, z: [
            prior.distribution().sample(n, seed=seed),
            prior.distribution().log_prob(z),
        ],
        [
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([2], tf.int32),
            tf.TensorSpec([None, prior.latent_dim], tf.float32),
        ],
        [(tf.constant(1), seed, z[:1]), (tf.constant(5), seed, z)],
    )
    _check_tracked(who, prior)
    _check_save_restore(who, prior, build, log_prob)


def check_prior_normalised(
    build: Callable[[], Prior], *, tolerance: float = 1e-2, who: str = ""
) -> float:
    """For a prior built with ``latent_dim=1``, the density integrates to one over
    ``[-100, 100]`` (trapezoid rule). Returns the integral."""
    prior = _built(build, Prior, who or "prior")
    who = who or f"prior {type(prior).__name__}"
    require(prior.latent_dim == 1, who, "normalisation is checked with latent_dim=1")
    points = np.linspace(-100.0, 100.0, 200_001)
    log_p = prior.distribution().log_prob(tf.constant(points.reshape(-1, 1), tf.float32))
    total = _trapezoid(np.exp(np.asarray(log_p, np.float64)).reshape(-1), points)
    require(
        math.isfinite(total) and abs(total - 1.0) <= tolerance,
        who,
        f"p(z) integrates to {total:.6f}, not 1: it is not a normalised density",
    )
    return total


def check_posterior(
    build: Callable[[], PosteriorFamily], *, batch_size: int = 3, who: str = ""
) -> None:
    """A posterior family maps ``[batch, num_params()]`` to a float32 distribution with batch
    ``[batch]`` and event ``[latent_dim]``; samples are reparameterised (gradients reach the
    parameters) and every parameter column affects log q; ``tf.function`` works."""
    family = _built(build, PosteriorFamily, who or "posterior")
    who = who or f"posterior {type(family).__name__}"
    size = family.num_params()
    require(isinstance(size, int) and size >= 1, who, f"num_params() returned {size!r}")
    params = tf.random.stateless_normal([batch_size, size], seed=[19, 20])
    q = family(params)
    _check_distribution(q, who, "the distribution", [batch_size], [family.latent_dim])
    try:
        # log q at points q did not sample: a flow needs its bijector's inverse for these
        other = family(params).log_prob(tf.zeros([batch_size, family.latent_dim]) + 0.5)
        # and with a leading sample dimension, as importance sampling (genmod evaluate) does
        stacked = family(params).log_prob(tf.zeros([5, batch_size, family.latent_dim]) + 0.25)
    except NotImplementedError as exc:
        raise ConformanceError(
            f"{who}: q.log_prob(z) fails for a z that q did not sample ({exc}); genmod evaluate "
            "and the kit need log q at any z: give a flow's bijectors an inverse "
            "(_inverse and _inverse_log_det_jacobian)"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - reported as a contract failure
        raise ConformanceError(
            f"{who}: q.log_prob fails for z of shape [5, {batch_size}, {family.latent_dim}] (a "
            f"leading sample dimension, as genmod evaluate uses): {type(exc).__name__}: "
            f"{str(exc).splitlines()[0][:200]}"
        ) from exc
    require(
        _shape(other) == (batch_size,) and _shape(stacked) == (5, batch_size),
        who,
        f"log_prob gives shapes {list(_shape(other))} and {list(_shape(stacked))} for z of "
        f"shapes [{batch_size}, D] and [5, {batch_size}, D]; expected [{batch_size}] and "
        f"[5, {batch_size}]",
    )
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(params)
        q = family(params)
        z = q.sample(seed=[21, 22])
        log_q = q.log_prob(tf.stop_gradient(z) + 0.5)
    sample_grad = tape.gradient(z, params)
    require(
        sample_grad is not None and bool(tf.reduce_any(sample_grad != 0)),
        who,
        "samples are not reparameterised: no gradient flows from z to the encoder's outputs",
    )
    columns = np.any(np.asarray(tape.gradient(log_q, params)) != 0, axis=0)
    require(
        bool(np.all(columns)),
        who,
        f"parameter columns {np.flatnonzero(~columns).tolist()} do not affect log q(z|x)",
    )
    lp = q.log_prob(tf.zeros([batch_size, family.latent_dim]))
    _check_graph_mode(
        who, lp, lambda: family(params).log_prob(tf.zeros([batch_size, family.latent_dim]))
    )
    try:
        location = family.location(q)
    except Exception as exc:  # noqa: BLE001 - reported as a contract failure
        raise ConformanceError(
            f"{who}: location(q) failed ({type(exc).__name__}: {exc}); pictures and active "
            "units need one code per item: override PosteriorFamily.location"
        ) from exc
    require(
        _shape(location) == (batch_size, family.latent_dim) and _finite(location),
        who,
        f"location(q) has shape {list(_shape(location))} (or is not finite); expected "
        f"[{batch_size}, {family.latent_dim}]",
    )

    def served(params: tf.Tensor, seed: tf.Tensor) -> list[tf.Tensor]:
        q = family(params)
        z = q.sample(seed=seed)
        return [family.location(q), z, q.log_prob(z)]

    _check_exportable(
        who,
        "location, sample and log_prob",
        served,
        [tf.TensorSpec([None, size], tf.float32), tf.TensorSpec([2], tf.int32)],
        [(params[:1], tf.constant([27, 28])), (params, tf.constant([27, 28]))],
    )
    _check_tracked(who, family)
    if family.trainable_variables:
        with tf.GradientTape() as tape:
            q = family(params)
            z = q.sample(seed=[25, 26])
            loss = tf.reduce_sum(z) - tf.reduce_sum(q.log_prob(z))  # as the ELBO uses them
        _check_gradients(who, tape, loss, family.trainable_variables, "z and log q(z|x)")
        _check_in_encoder(who, family, params)
    _check_save_restore(
        who,
        family,
        build,
        lambda f: f(params).log_prob(tf.zeros([batch_size, family.latent_dim])),
    )


def _check_in_encoder(who: str, family: PosteriorFamily, params: tf.Tensor) -> None:
    """The family's weights are among an encoder's (and so the assembled model's) variables."""

    class _ParamsEncoder(Encoder):
        def call(self, x, condition=None):
            return x

    encoder = _ParamsEncoder(
        data_shape=(int(params.shape[-1]),), latent_dim=family.latent_dim, posterior=family
    )
    encoder.distribution(params)
    ids = {id(v) for v in encoder.trainable_variables}
    missing = [_var_name(v) for v in family.trainable_variables if id(v) not in ids]
    require(
        not missing,
        who,
        f"weights {missing[:5]} are not among the encoder's trainable variables",
    )


def _tiny_model(registry: Registry | None, data_shape: Sequence[int]) -> Any:
    """A small built-in VAE (mlp, bernoulli, normal, diagonal) to evaluate objectives on."""
    from genmod.config import RunConfig
    from genmod.model.assembly import build_model
    from genmod.plugins import get_registry

    registry = registry or get_registry()
    config = RunConfig(
        encoder="mlp",
        decoder="mlp",
        encoder_options={"hidden": (8,)},
        decoder_options={"hidden": (8,)},
        latent_dim=2,
    ).resolve(registry)
    return build_model(config, registry, tuple(data_shape)).model


def check_objective(
    build: Callable[[], Objective],
    *,
    model: Any = None,
    registry: Registry | None = None,
    batch_size: int = 4,
    who: str = "",
) -> None:
    """An objective returns an :class:`ObjectiveOutput` whose loss is a finite float32 scalar
    and whose metrics are exactly ``metric_names`` (including loss, elbo, reconstruction, kl),
    each a finite scalar; the same seed gives the same numbers; the loss has a gradient for
    every trainable variable of the model; it runs inside ``tf.function``.

    ``model`` defaults to a small built-in MLP VAE with Bernoulli likelihood on 4x4 images.
    """
    objective = _built(build, Objective, who or "objective")
    who = who or f"objective {type(objective).__name__}"
    model = model if model is not None else _tiny_model(registry, (4, 4, 1))
    names = tuple(objective.metric_names)
    missing = [m for m in REQUIRED_METRICS if m not in names]
    require(not missing, who, f"metric_names {names} lacks {missing}")
    x = _data_in_support(model.likelihood.support, [batch_size, *model.data_shape], 1)
    condition = tf.zeros([batch_size, model.condition_dim]) if model.condition_dim else None
    step = tf.constant(0, tf.int64)

    def run(seed: Sequence[int] = (23, 24)) -> ObjectiveOutput:
        return objective(model, x, condition, seed=tf.constant(seed, tf.int32), step=step)

    with tf.GradientTape() as tape:
        out = run()
    require(isinstance(out, ObjectiveOutput), who, f"returned {type(out).__name__}")
    require(
        _shape(out.loss) == () and out.loss.dtype == tf.float32 and _finite(out.loss),
        who,
        f"loss is {out.loss.dtype.name} {list(_shape(out.loss))}; expected a finite float32 scalar",
    )
    require(
        set(out.metrics) == set(names),
        who,
        f"metrics {sorted(out.metrics)} differ from metric_names {sorted(names)}",
    )
    for key, value in out.metrics.items():
        require(
            _shape(value) == () and _finite(value), who, f"metric {key!r} is not a finite scalar"
        )
    _check_gradients(who, tape, out.loss, model.trainable_variables, "the loss")
    again = run()
    require(float(again.loss) == float(out.loss), who, "the same seed gave a different loss")
    _check_graph_mode(who, out.loss, lambda: run().loss)


def check_dataset(
    build: Callable[[], Dataset], *, data_dir: str | Path | None = None, who: str = ""
) -> DatasetArrays | None:
    """A dataset follows the rule of :class:`genmod.data.Dataset`, checked by the same code
    ``genmod run`` uses (:func:`genmod.data.validate_loaded`): ``data_shape`` (a class attribute,
    or set by ``load()``) is a tuple of positive ints; with ``data_dir`` the dataset is also
    loaded, and after ``load()`` ``data_shape`` equals the arrays' item shape, the arrays are
    ``[n, *data_shape]`` (uint8, or float32 in [0, 1]) and labels are ints in
    ``0..num_classes-1`` (or None). Returns the checked arrays (None without ``data_dir``)."""
    dataset = _built(build, Dataset, who or "dataset")
    who = who or f"dataset {getattr(dataset, 'name', '') or type(dataset).__name__!r}"
    try:
        declared_data_shape(dataset, who)  # may still be unset: load() may set it
        if data_dir is None:
            return None
        return load_checked(dataset, Path(data_dir), who)
    except PluginError as exc:
        raise ConformanceError(str(exc)) from None


# -- by registered name -------------------------------------------------------------------


def check_observer(
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    registry: Registry | None = None,
    run_dir: str | Path | None = None,
) -> None:
    """A registered run observer builds from its declared options into a
    :class:`~genmod.contract.observers.RunObserver` and handles every event of a short run
    (start, two epochs with checkpoints, an evaluation, the end) without raising. Events are
    given a temporary run folder unless ``run_dir`` is given. (``check_component("observer",
    name)`` calls this.)"""
    from genmod.contract.observers import RunObserver
    from genmod.contract.options import resolve_options
    from genmod.plugins import get_registry

    registry = registry or get_registry()
    try:
        spec = registry.get("observer", name)
    except ConfigError as exc:
        raise ConformanceError(f"observer {name!r} is not registered: {exc}") from None
    who = f"observer {name!r} (plugin {spec.plugin!r})"
    try:
        values = resolve_options(spec.options, dict(options or {}), who, from_strings=False)
    except ConfigError as exc:
        raise ConformanceError(f"{who}: its options do not validate: {exc}") from None
    observer = _built(lambda: spec.load()(**values), RunObserver, who)
    metrics = {"epoch": 1, "train_loss": 150.0, "test_elbo": -140.0, "train_seconds": 1.0}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(run_dir) if run_dir is not None else Path(folder)
        events = [
            ("on_run_start", lambda: observer.on_run_start({"latent_dim": 2}, root, False)),
            ("on_epoch_end", lambda: observer.on_epoch_end(1, dict(metrics))),
            ("on_checkpoint", lambda: observer.on_checkpoint(root / "ckpt-1", 1, False)),
            ("on_epoch_end", lambda: observer.on_epoch_end(2, {**metrics, "epoch": 2})),
            ("on_checkpoint", lambda: observer.on_checkpoint(root / "best" / "ckpt-2", 2, True)),
            ("on_evaluation", lambda: observer.on_evaluation({"run_dir": str(root), "nll": 90.0})),
            ("on_run_end", lambda: observer.on_run_end("finished", None)),
        ]
        for event, call in events:
            try:
                call()
            except Exception as exc:  # noqa: BLE001 - reported as a contract failure
                raise ConformanceError(
                    f"{who}: {event} raised {type(exc).__name__}: {exc} (genmod would disable "
                    "the observer for the rest of the run)"
                ) from exc


def check_component(
    kind: str,
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    registry: Registry | None = None,
    data_shape: Sequence[int] = (28, 28, 1),
    latent_dim: int = 4,
    condition_dim: int = 0,
    data_dir: str | Path | None = None,
    normalisation: bool = True,
    context: Callable[[], Any] | None = None,
    model: Any = None,
    cache_dir: str | Path | None = None,
) -> None:
    """Check a registered component the way ``genmod run`` builds it, options included.

    Runs :func:`check_options` and the kind's check. Encoders are built with the ``diagonal``
    posterior and decoders for one parameter per element unless a likelihood needs more.
    With ``normalisation`` (default), likelihoods are also built for a one-element item (or a
    2x2 binary image) and priors with ``latent_dim=1`` and their densities integrated
    (:func:`check_likelihood_normalised`, :func:`check_prior_normalised`); a component that
    refuses such a tiny shape with a ConfigError is not checked this way.
    Encoders and decoders that declare ``conditional = True`` are checked with
    ``condition_dim=10`` unless another value is given.
    ``data_dir``: datasets are also loaded from there. Each build first seeds Keras' global
    random generators with 0 (``keras.utils.set_random_seed``), so verdicts are repeatable.

    The evaluation kinds ``metric``, ``extractor`` and ``sampler`` are built from their
    options alone and checked by :func:`genmod.testing.evaluation.check_metric` (on
    ``context``, a factory of metric contexts; default the synthetic one),
    :func:`~genmod.testing.evaluation.check_extractor` (its cache in ``cache_dir``, default a
    temporary folder) and :func:`~genmod.testing.evaluation.check_sampler` (bound to
    ``model``, default a standard normal prior of ``latent_dim`` 4).
    """
    if kind == "observer":
        check_observer(name, options, registry=registry)
        return
    if kind in EVALUATION_HOOKS:
        from genmod.testing.evaluation import check_evaluation_component

        check_evaluation_component(
            kind,
            name,
            options,
            registry=registry,
            context=context,
            model=model,
            cache_dir=cache_dir,
        )
        return
    registry, spec = lookup(kind, name, registry)
    values = check_options(kind, name, options, registry=registry)
    who = f"{kind} {name!r} (plugin {spec.plugin!r})"
    factory = spec.load()
    if condition_dim == 0 and getattr(factory, "conditional", False):
        condition_dim = 10  # a conditional network needs a condition; ten classes, like MNIST

    def build(**kwargs: Any) -> Callable[[], Any]:
        def make() -> Any:
            keras.utils.set_random_seed(0)
            obj = factory(**kwargs, **values)
            for key in ("data_shape", "latent_dim", "params_per_element", "condition_dim"):
                if key in kwargs and hasattr(obj, key):
                    asked = tuple(kwargs[key]) if key == "data_shape" else kwargs[key]
                    require(
                        getattr(obj, key) == asked,
                        who,
                        f"was built with {key}={asked!r} but reports {getattr(obj, key)!r}",
                    )
            return obj

        return make

    shape = tuple(int(d) for d in data_shape)
    if kind == "encoder":
        posterior = registry.get("posterior", "diagonal").load()(latent_dim=latent_dim)
        check_encoder(
            build(
                data_shape=shape,
                latent_dim=latent_dim,
                posterior=posterior,
                condition_dim=condition_dim,
            ),
            who=who,
        )
    elif kind == "decoder":
        check_decoder(
            build(
                data_shape=shape,
                latent_dim=latent_dim,
                params_per_element=2,
                condition_dim=condition_dim,
            ),
            who=who,
        )
    elif kind == "likelihood":
        check_likelihood(build(data_shape=shape), who=who)
        if normalisation:
            tiny = (2, 2, 1) if build(data_shape=shape)().support == "binary" else (1, 1, 1)
            try:
                build(data_shape=tiny)()
            except ConfigError:
                return
            check_likelihood_normalised(build(data_shape=tiny), who=who)
    elif kind == "prior":
        check_prior(build(latent_dim=latent_dim), who=who)
        if normalisation:
            try:
                build(latent_dim=1)()
            except ConfigError:
                return
            check_prior_normalised(build(latent_dim=1), who=who)
    elif kind == "posterior":
        check_posterior(build(latent_dim=latent_dim), who=who)
    elif kind == "objective":
        check_objective(build(), registry=registry, who=who)
    elif kind == "dataset":
        check_dataset(build(), data_dir=data_dir, who=who)
