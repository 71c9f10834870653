"""The built-in ``pixelcnn`` likelihood: an exact, normalised, causal autoregressive p(x|z) whose
sampler agrees with its one-pass log_prob, conditioned at every layer or at the head only (whose
log_prob shares one stack pass across importance samples); assembled into models, run from the
CLI."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from genmod.cli import cli
from genmod.config import RunConfig
from genmod.contract.errors import ConfigError
from genmod.model.assembly import build_model
from genmod.plugins import get_registry
from genmod.testing import check_component
from genmod.testing.components import check_likelihood_normalised
from genmod.train.precision import precision_policy
from genmod_builtins.autoregressive_impl import PixelCNNLikelihood

SMALL = {"features": 3, "filters": 8, "layers": 3, "kernel_size": 3, "first_kernel_size": 5}
MODES = ("layers", "head")  # the `conditioning` option


def _likelihood(shape=(6, 6, 1), seed=0, **options) -> PixelCNNLikelihood:
    """A small PixelCNN with every weight (biases included) drawn at random, nonzero."""
    keras.utils.set_random_seed(seed)
    lik = PixelCNNLikelihood(data_shape=shape, **{**SMALL, **options})
    rng = np.random.default_rng(seed)
    for var in lik.variables:
        var.assign(rng.normal(0.0, 0.5, var.shape).astype(np.float32))
    return lik


def _params(lik, lead, seed=1) -> tf.Tensor:
    return tf.random.stateless_normal([*lead, *lik.data_shape, lik.params_per_element], [seed, 2])


def _binary(shape, seed=3) -> tf.Tensor:
    return tf.cast(tf.random.stateless_uniform(shape, [seed, 4]) < 0.5, tf.float32)


@pytest.mark.parametrize("conditioning", MODES)
def test_log_prob_is_the_sum_of_the_per_pixel_conditionals_computed_one_pixel_at_a_time(
    conditioning,
):
    lik = _likelihood(conditioning=conditioning)
    h, w, _ = lik.data_shape
    params = _params(lik, [1])
    x = _binary([1, h, w, 1]).numpy()
    noise = _binary([h * w, h, w, 1], seed=5).numpy()
    # Variant i keeps the pixels before i (raster order) and replaces pixel i and all later ones
    # with noise: pixel i's logit must not see them.
    flat = np.arange(h * w).reshape(h, w, 1)
    variants = np.where(flat[None] < np.arange(h * w)[:, None, None, None], x, noise)
    logits = lik.logits(tf.constant(variants), tf.repeat(params[..., 0, :], h * w, axis=0))
    logits = np.asarray(logits, np.float64).reshape(h * w, h * w)[
        np.arange(h * w), np.arange(h * w)
    ]
    p = 1.0 / (1.0 + np.exp(-logits))
    pixels = x.reshape(-1).astype(np.float64)
    by_hand = np.sum(pixels * np.log(p) + (1.0 - pixels) * np.log(1.0 - p))
    log_prob = lik.distribution(params).log_prob(x)
    assert log_prob.dtype == tf.float32 and log_prob.shape == (1,)
    assert float(log_prob[0]) == pytest.approx(by_hand, rel=1e-5, abs=1e-4)


def _receptive_field(lik, r, c) -> set[tuple[int, int]]:
    """The earlier pixels the logit of (r, c) depends on, from the architecture: the row above
    through every vertical layer's link, the pixels to the left through the horizontal stack."""
    a, half, layers = lik.first_half, lik.half, lik.num_layers
    h, w, _ = lik.data_shape
    field = {(r, j) for j in range(c - a - (layers - 1) * half, c) if j >= 0}
    for i in range(layers):
        spread = a + i * half  # vertical layer i: rows r-spread .. r-1, columns c +- spread
        left = spread + (layers - 1 - i) * half  # then the later horizontal layers
        for row in range(max(r - spread, 0), r):
            field |= {(row, j) for j in range(max(c - left, 0), min(c + spread, w - 1) + 1)}
    return field


@pytest.mark.parametrize("conditioning", MODES)
@pytest.mark.parametrize("pixel", [(5, 4), (2, 7), (6, 0)])
def test_each_logit_sees_exactly_the_earlier_pixels_of_its_receptive_field(pixel, conditioning):
    lik = _likelihood(shape=(8, 8, 1), conditioning=conditioning)
    r, c = pixel
    params = _params(lik, [1])
    x = _binary([1, 8, 8, 1])
    with tf.GradientTape() as tape:
        tape.watch(x)
        logit = lik.logits(x, params[..., 0, :])[0, r, c]
    grad = np.abs(tape.gradient(logit, x).numpy()[0, :, :, 0])
    seen = {(i, j) for i in range(8) for j in range(8) if grad[i, j] > 0}
    later = {(i, j) for i in range(8) for j in range(8) if i * 8 + j >= r * 8 + c}
    assert not seen & later, f"pixel {pixel} sees itself or later pixels: {sorted(seen & later)}"
    assert seen == _receptive_field(lik, r, c)
    if r > 0 and c < 7:
        assert (r - 1, c + 1) in seen  # no blind spot: the pixel above-right


@pytest.mark.parametrize("conditioning", MODES)
def test_probabilities_of_all_binary_images_sum_to_one(conditioning):
    lik = _likelihood(shape=(3, 3, 1), conditioning=conditioning)
    assert check_likelihood_normalised(lambda: lik, tolerance=1e-4) == pytest.approx(1.0, abs=1e-4)
    # the same by hand, for two different z at once
    grid = np.array(np.meshgrid(*[[0.0, 1.0]] * 9, indexing="ij")).reshape(9, -1).T
    items = tf.constant(grid.reshape(-1, 1, 3, 3, 1), tf.float32)  # [512, 1, 3, 3, 1]
    log_p = lik.distribution(_params(lik, [2])).log_prob(items)  # [512, 2] (head: 512 stacks)
    assert log_p.shape == (512, 2)
    np.testing.assert_allclose(np.exp(np.asarray(log_p, np.float64)).sum(axis=0), 1.0, atol=1e-4)


@pytest.mark.parametrize("conditioning", MODES)
def test_seeded_samples_are_reproducible_binary_and_drawn_from_the_logits_log_prob_uses(
    conditioning,
):
    lik = _likelihood(conditioning=conditioning)
    params = _params(lik, [4])
    seed = tf.constant([7, 8], tf.int32)
    first = lik.image(params, seed=seed)
    assert first.shape == (4, 6, 6, 1) and first.dtype == tf.float32
    assert set(np.unique(first.numpy())) <= {0.0, 1.0}
    np.testing.assert_array_equal(lik.image(params, seed=seed), first)
    assert not np.array_equal(lik.image(params, seed=[7, 9]), first)
    # the incremental sampler's logits are the one-pass (teacher-forced) logits of its sample
    x, logits = lik._sample_flat(params[..., 0, :], seed)
    np.testing.assert_array_equal(x, first)
    np.testing.assert_allclose(logits, lik.logits(x, params[..., 0, :]), rtol=1e-5, atol=1e-5)
    # ... and log_prob's
    by_logits = -tf.reduce_sum(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=x[..., 0], logits=logits), axis=[1, 2]
    )
    np.testing.assert_allclose(lik.distribution(params).log_prob(x), by_logits, rtol=1e-5)
    samples = lik.distribution(params).sample(3, seed=seed)
    assert samples.shape == (3, 4, 6, 6, 1)
    with pytest.raises(NotImplementedError, match="no closed-form mean"):
        lik.mean(params)


@pytest.mark.parametrize("conditioning", MODES)
def test_the_first_two_pixels_follow_their_conditionals(conditioning):
    lik = _likelihood(shape=(2, 3, 1), first_kernel_size=3, conditioning=conditioning)
    n = 4000
    params = tf.repeat(_params(lik, [1], seed=11), n, axis=0)
    x = lik.image(params, seed=[3, 3]).numpy().reshape(n, -1)
    maps = params[:1, ..., 0, :]

    def probability(pixel: int, first: float) -> float:
        """p(x_pixel = 1 | x_0 = first), from the teacher-forced logits."""
        given = np.zeros((1, 2, 3, 1), np.float32)
        given[0, 0, 0, 0] = first
        logit = float(lik.logits(tf.constant(given), maps)[0, 0, pixel])
        return 1.0 / (1.0 + math.exp(-logit))

    p0 = probability(0, 0.0)  # pixel 0 sees no pixel at all
    assert probability(0, 1.0) == p0
    assert abs(x[:, 0].mean() - p0) < 4 * math.sqrt(p0 * (1 - p0) / n)
    for first in (0.0, 1.0):
        chosen = x[x[:, 0] == first, 1]
        p1 = probability(1, first)
        assert abs(chosen.mean() - p1) < 4 * math.sqrt(p1 * (1 - p1) / len(chosen)) + 1e-3


@pytest.mark.parametrize("conditioning", MODES)
def test_log_prob_broadcasts_over_leading_sample_dimensions(conditioning):
    lik = _likelihood(conditioning=conditioning)
    params = _params(lik, [2, 3])  # [K, batch, H, W, 1, F], as for importance sampling
    x = _binary([3, 6, 6, 1])
    dist = lik.distribution(params)
    assert dist.batch_shape == (2, 3) and dist.event_shape == (6, 6, 1) and dist.dtype == tf.float32
    log_p = dist.log_prob(x)
    assert log_p.shape == (2, 3)
    for k in range(2):
        np.testing.assert_allclose(log_p[k], lik.distribution(params[k]).log_prob(x), rtol=1e-5)
    np.testing.assert_allclose(tf.function(dist.log_prob)(x), log_p, rtol=1e-5)
    assert lik.image(params, seed=[1, 1]).shape == (2, 3, 6, 6, 1)


def test_head_conditioning_shares_one_stack_pass_across_samples_with_the_same_result():
    lik = _likelihood(conditioning="head")
    params = _params(lik, [4, 3])  # [K, B, H, W, 1, F]
    x = _binary([3, 6, 6, 1])  # [B, H, W, 1]
    broadcast = tf.broadcast_to(x, [4, 3, 6, 6, 1])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(params)
        shared = lik.distribution(params).log_prob(x)  # the stacks run on the 3 images
        everything = lik.distribution(params).log_prob(broadcast)  # ... on all 12
    assert shared.shape == everything.shape == (4, 3)
    np.testing.assert_allclose(shared, everything, rtol=1e-6, atol=1e-5)
    # the same as the plain teacher-forced logits of every (sample, item) pair
    flat = lik.logits(tf.reshape(broadcast, [12, 6, 6, 1]), tf.reshape(params, [12, 6, 6, 3]))
    plain = -tf.reduce_sum(
        tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.reshape(broadcast, [12, 6, 6]), logits=flat
        ),
        axis=[1, 2],
    )
    np.testing.assert_allclose(tf.reshape(shared, [12]), plain, rtol=1e-6, atol=1e-5)
    # gradients too: to the decoder's parameters and to every weight
    sources = [params, *lik.trainable_variables]
    for a, b in zip(
        tape.gradient(shared, sources), tape.gradient(everything, sources), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_head_conditioning_runs_the_stacks_once_per_image_and_the_head_once_per_sample():
    lik = _likelihood(conditioning="head")
    x_spec = tf.TensorSpec([3, 6, 6, 1], tf.float32)
    params_spec = tf.TensorSpec([5, 3, 6, 6, 1, 3], tf.float32)
    graph = (
        tf.function(lambda x, p: lik.distribution(p).log_prob(x))
        .get_concrete_function(x_spec, params_spec)
        .graph
    )
    convs = [op for op in graph.get_operations() if op.type == "Conv2D"]
    per_image = [op for op in convs if op.outputs[0].shape[0] == 3]
    per_sample = [op for op in convs if op.outputs[0].shape[0] == 15]
    assert len(per_image) + len(per_sample) == len(convs)
    # vertical, link, horizontal and output per layer, then the head's x part
    assert len(per_image) == 4 * lik.num_layers + 1
    assert len(per_sample) == 2  # the head's condition and its logit
    with pytest.raises(ValueError, match="conditioning='head'"):
        _likelihood().shared_logits(tf.zeros([1, 6, 6, 1]), tf.zeros([1, 6, 6, 3]))


@pytest.mark.parametrize(
    ("shape", "options", "message"),
    [
        ((784,), {}, r"binary images \[height, width, 1\].*\[784\]"),
        ((28, 28, 3), {}, r"\[28, 28, 3\]"),
        ((6, 6, 1), {"kernel_size": 4}, "kernel_size must be odd"),
        ((6, 6, 1), {"first_kernel_size": 1}, "first_kernel_size must be an integer >= 3"),
        ((6, 6, 1), {"conditioning": "gates"}, "conditioning must be one of layers, head"),
    ],
)
def test_what_it_cannot_model_is_a_config_error(shape, options, message):
    with pytest.raises(ConfigError, match=message):
        PixelCNNLikelihood(data_shape=shape, **options)


@pytest.mark.parametrize("conditioning", MODES)
def test_it_conforms_with_small_options(conditioning):
    options = {**SMALL, "conditioning": conditioning}
    check_component("likelihood", "pixelcnn", options, data_shape=(6, 6, 1))


@pytest.mark.parametrize(
    ("encoder", "options", "conditioning"),
    [("mlp", {"hidden": (16,)}, "layers"), ("cnn", {"filters": (4, 8)}, "layers")]
    + [("cnn", {"filters": (4, 8)}, "head")],
)
def test_assembled_with_the_builtin_networks(encoder, options, conditioning):
    registry = get_registry()
    config = RunConfig(
        encoder=encoder,
        likelihood="pixelcnn",
        likelihood_options={"features": 4, "filters": 8, "layers": 2, "conditioning": conditioning},
        encoder_options=options,
        decoder_options=dict(options) if encoder == "mlp" else {"filters": (8, 4)},
        latent_dim=2,
    ).resolve(registry)
    assembled = build_model(config, registry, (28, 28, 1))
    model = assembled.model
    assert assembled.binarize == "dynamic" and model.decoder.params_per_element == 4
    x = _binary([2, 28, 28, 1])
    with tf.GradientTape() as tape:
        z = model.posterior(x).sample(seed=[1, 2])
        log_px = model.observation(z).log_prob(x)
    assert log_px.shape == (2,) and np.all(np.isfinite(log_px))
    grads = tape.gradient(log_px, model.trainable_variables)
    assert all(g is not None for g in grads)  # the PixelCNN's weights are the model's
    # per layer: vertical, horizontal, link and output kernels and biases, and a condition
    # kernel per layer ("layers") or one at the head ("head"); the head's two kernels and biases
    expected = 2 * 9 + 4 if conditioning == "layers" else 2 * 8 + 5
    assert len(model.likelihood.trainable_variables) == expected
    samples = model.sample(3, seed=tf.constant([4, 5], tf.int32))
    assert samples.shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(model.sample(3, seed=tf.constant([4, 5], tf.int32)), samples)


@pytest.mark.parametrize("conditioning", MODES)
def test_mixed_precision_networks_still_give_float32_log_probs(conditioning):
    with precision_policy("mixed_bfloat16"):
        lik = PixelCNNLikelihood(data_shape=(5, 5, 1), **SMALL, conditioning=conditioning)
    assert lik.vertical[0].compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in lik.variables)
    params = _params(lik, [2])
    x = _binary([2, 5, 5, 1])
    log_p = lik.distribution(params).log_prob(x)
    assert log_p.dtype == tf.float32 and np.all(np.isfinite(log_p))
    assert lik.distribution(params[None]).log_prob(x).shape == (1, 2)
    assert lik.image(params, seed=[1, 2]).dtype == tf.float32


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_cli_run_pictures_sample_and_evaluate(tmp_path, mnist_dir):
    out = tmp_path / "p"
    result = invoke(
        "run", "--likelihood", "pixelcnn", "--likelihood-opt", "filters=8",
        "--likelihood-opt", "layers=2", "--encoder", "cnn", "--train-size", 256,
        "--test-size", 64, "--validation-size", 0, "--epochs", 1, "--latent-dim", 4,
        "--data-dir", mnist_dir, "--out", out, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert np.isfinite(last["test_elbo"]) and last["test_elbo"] < 0
    for name in ("samples/epoch-0001.png", "samples.gif", "reconstructions.png", "traversal.png"):
        assert (out / "pictures" / name).stat().st_size > 0, name
    result = invoke("sample", out, "-n", 4, "--seed", 3, "--json")
    assert result.exit_code == 0, result.output
    assert (out / "pictures" / "sample.png").exists()
    result = invoke(
        "evaluate", out, "-k", 2, "--test-size", 8, "--data-dir", mnist_dir, "--json"
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert np.isfinite(shown["nll"]) and shown["nll"] > 0 and shown["num_samples"] == 2
