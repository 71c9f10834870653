"""The built-in ``residual`` encoder and decoder: shapes for any image size, every likelihood and
posterior, the skip connection, refused shapes, parameter counts, conformance, a tiny run."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from genmod.api import build
from genmod.cli import cli
from genmod.config import RunConfig
from genmod.contract.errors import ConfigError
from genmod.model.assembly import build_model
from genmod.plugins import get_registry
from genmod.testing import check_component
from genmod.train.precision import precision_policy
from genmod_builtins.posteriors_impl import DiagonalGaussian
from genmod_builtins.residual_networks import ResidualBlock, ResidualDecoder, ResidualEncoder

SMALL = {"width": 8, "blocks": 1}  # keeps the model tests fast on two CPU cores
LIKELIHOODS = ("bernoulli", "gaussian", "continuous-bernoulli", "gaussian-per-pixel")
POSTERIORS = ("diagonal", "iaf")


def encoder(data_shape, latent_dim=4, condition_dim=0, **options):
    keras.utils.set_random_seed(0)
    return ResidualEncoder(
        data_shape=data_shape,
        latent_dim=latent_dim,
        posterior=DiagonalGaussian(latent_dim=latent_dim),
        condition_dim=condition_dim,
        **options,
    )


def decoder(data_shape, latent_dim=4, params_per_element=1, condition_dim=0, **options):
    keras.utils.set_random_seed(0)
    return ResidualDecoder(
        data_shape=data_shape,
        latent_dim=latent_dim,
        params_per_element=params_per_element,
        condition_dim=condition_dim,
        **options,
    )


def count(layer) -> int:
    return sum(int(np.prod(v.shape)) for v in layer.trainable_variables)


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (27, 20, 1), (9, 13, 3)])
def test_shapes_for_any_image_size(shape):
    x = tf.random.stateless_uniform([2, *shape], seed=[1, 2])
    enc = encoder(shape, **SMALL)
    assert enc(x).shape == (2, 8)  # diagonal posterior: 2 x latent_dim
    assert enc.distribution(x).event_shape == (4,)
    dec = decoder(shape, params_per_element=2, **SMALL)
    z = tf.random.stateless_normal([3, 2, 4], seed=[3, 4])  # a leading sample dimension
    out = dec.decode(z)
    assert out.shape == (3, 2, *shape, 2) and out.dtype == tf.float32
    h, w, _ = shape
    assert dec.start_shape == (math.ceil(h / 4), math.ceil(w / 4), 8)


def test_an_optional_condition_joins_the_features_and_z():
    shape = (12, 12, 1)
    x = tf.random.stateless_uniform([2, *shape], seed=[1, 2])
    z = tf.random.stateless_normal([2, 4], seed=[3, 4])
    a, b = tf.one_hot([0, 0], 3), tf.one_hot([2, 2], 3)
    enc = encoder(shape, condition_dim=3, **SMALL)
    dec = decoder(shape, condition_dim=3, **SMALL)
    assert not enc.conditional and not dec.conditional  # accepted, never required
    assert not np.allclose(enc(x, a), enc(x, b))
    assert not np.allclose(dec.decode(z, a), dec.decode(z, b))
    # the head sees flattened features [3, 3, 8] plus the condition
    assert enc.head.kernel.shape == (3 * 3 * 8 + 3, 8)
    assert dec.dense.kernel.shape == (4 + 3, 3 * 3 * 8)


@pytest.mark.parametrize("posterior", POSTERIORS)
@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_trains_with_every_likelihood_and_posterior(likelihood, posterior):
    config = RunConfig(
        encoder="residual",
        likelihood=likelihood,
        posterior=posterior,
        latent_dim=4,
        encoder_options=dict(SMALL),
        decoder_options=dict(SMALL),
    ).resolve(get_registry())
    keras.utils.set_random_seed(0)
    assembled = build_model(config, get_registry(), (28, 28, 1))
    model = assembled.model
    x = tf.cast(tf.random.stateless_uniform([3, 28, 28, 1], seed=[5, 6]) < 0.3, tf.float32)
    params = model.decoder.decode(tf.zeros([3, 4]))
    assert params.shape == (3, 28, 28, 1, model.likelihood.params_per_element)
    with tf.GradientTape() as tape:
        out = assembled.objective(
            model, x, seed=tf.constant([7, 8], tf.int32), step=tf.constant(0, tf.int64)
        )
    assert np.isfinite(out.loss.numpy()) and np.isfinite(out.metrics["elbo"].numpy())
    grads = tape.gradient(out.loss, model.trainable_variables)
    names = [v.path for v, g in zip(model.trainable_variables, grads, strict=True) if g is None]
    assert not names, f"no gradient reaches {names}"


def test_a_block_whose_convolutions_output_zero_is_the_identity():
    block = ResidualBlock(4, activation="relu")
    x = tf.random.stateless_normal([2, 5, 6, 4], seed=[1, 2])
    out = block(x)
    branch = block.conv_b(tf.nn.relu(block.conv_a(tf.nn.relu(x))))
    np.testing.assert_allclose(out, x + branch, rtol=1e-5, atol=1e-5)  # the skip adds x
    assert not np.allclose(out, x)
    for var in block.conv_b.weights:  # zero the second convolution only
        var.assign(tf.zeros_like(var))
    np.testing.assert_allclose(block(x), x, rtol=0, atol=0)
    with pytest.raises(ValueError, match="4 channels got an input with 3"):
        ResidualBlock(4)(tf.zeros([1, 5, 5, 3]))


def test_zeroed_blocks_leave_the_plain_strided_network():
    """With every residual branch zeroed, the encoder computes what blocks=0 computes from the
    same stem, downsampling and head weights: the blocks sit on the skip path, nothing else."""
    shape = (16, 16, 1)
    x = tf.random.stateless_uniform([2, *shape], seed=[1, 2])
    deep, plain = encoder(shape, width=6, blocks=2), encoder(shape, width=6, blocks=0)
    deep(x), plain(x)
    for block in [b for stage in deep.stage_blocks for b in stage]:
        for var in block.conv_b.weights:
            var.assign(tf.zeros_like(var))
    for source, target in [
        (deep.stem, plain.stem),
        *zip(deep.downs, plain.downs, strict=True),
        (deep.head, plain.head),
    ]:
        for s, t in zip(source.weights, target.weights, strict=True):
            t.assign(s)
    np.testing.assert_allclose(deep(x), plain(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", [encoder, decoder], ids=["encoder", "decoder"])
@pytest.mark.parametrize("shape", [(784,), (28, 28), (2, 28, 28, 1)])
def test_data_that_is_not_an_image_is_refused_in_one_line(make, shape):
    who = "encoder" if make is encoder else "decoder"
    with pytest.raises(ConfigError) as info:
        make(shape)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        f"the residual {who} needs images [height, width, channels]; the dataset gives "
        f"{list(shape)}."
    )


@pytest.mark.parametrize("make", [encoder, decoder], ids=["encoder", "decoder"])
def test_images_too_small_for_the_stages_are_refused(make):
    with pytest.raises(ConfigError, match=r"needs a height and width of at least 8; the images "
                       r"are 28x6\. Give fewer stages"):  # fmt: skip
        make((28, 6, 1), stages=3)
    make((8, 8, 1), stages=3)  # just large enough


def test_build_model_passes_the_refusal_on():
    with pytest.raises(ConfigError, match=r"the dataset gives \[784\]"):
        build(RunConfig(encoder="residual"), data_shape=(784,))


def _conv(cin, cout):
    return 9 * cin * cout + cout


def expected_counts(shape, latent=16, cond=0, width=32, stages=2, blocks=2, per_element=1):
    h, w, c = shape
    h0, w0 = math.ceil(h / 2**stages), math.ceil(w / 2**stages)
    convs = stages * (1 + 2 * blocks) * _conv(width, width)
    enc = _conv(c, width) + convs + (h0 * w0 * width + cond + 1) * 2 * latent
    dec = (latent + cond + 1) * h0 * w0 * width + convs + _conv(width, c * per_element)
    return enc, dec


@pytest.mark.parametrize(
    "options",
    [{}, {"width": 64}, {"blocks": 3}, {"blocks": 0}, {"stages": 3}, {"width": 16, "stages": 1}],
    ids=str,
)
def test_parameter_counts_follow_width_stages_and_blocks(options):
    model = build(RunConfig(encoder="residual", encoder_options=options, decoder_options=options))
    assert (count(model.encoder), count(model.decoder)) == expected_counts((28, 28, 1), **options)


def test_default_parameter_counts_against_cnn():
    assert expected_counts((28, 28, 1)) == (143_008, 119_425)  # the numbers in docs/models.md
    cnn = build(RunConfig(encoder="cnn"))
    assert (count(cnn.encoder), count(cnn.decoder)) == (92_576, 63_905)
    # one more block per stage adds two 3x3 width x width convolutions per stage
    w = 32
    assert expected_counts((28, 28, 1), blocks=3)[0] - expected_counts((28, 28, 1))[0] == (
        2 * 2 * (9 * w * w + w)
    )


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_conformance_on_an_odd_colour_image_with_a_condition(kind):
    options = {"width": 6, "stages": 3, "blocks": 1, "activation": "elu"}
    check_component(kind, "residual", options, data_shape=(27, 20, 3), condition_dim=3)


def test_mixed_bfloat16_computes_in_bfloat16_and_outputs_float32():
    config = RunConfig(
        encoder="residual", latent_dim=4, encoder_options=SMALL, decoder_options=SMALL
    ).resolve(get_registry())
    with precision_policy("mixed_bfloat16"):
        model = build_model(config, get_registry(), (28, 28, 1)).model
    block = model.encoder.stage_blocks[0][0]
    assert block.conv_a.compute_dtype == "bfloat16" and block.conv_a.variable_dtype == "float32"
    assert model.decoder.ups[0].compute_dtype == "bfloat16"
    assert all(v.dtype == "float32" for v in model.variables)
    x = tf.cast(tf.random.stateless_uniform([2, 28, 28, 1], seed=[1, 2]) < 0.5, tf.float32)
    assert model.encoder(x).dtype == tf.bfloat16
    z = model.posterior(x).sample(seed=[3, 4])
    assert model.decoder.decode(z).dtype == tf.float32
    log_px = model.observation(z).log_prob(x)
    assert log_px.dtype == tf.float32 and np.all(np.isfinite(log_px.numpy()))


def test_a_tiny_cli_run_finishes_with_a_finite_elbo(tmp_path, mnist_dir):
    out = tmp_path / "r"
    args = [
        "run", "--encoder", "residual", "--train-size", 256, "--test-size", 64, "--epochs", 1,
        "--quiet", "--data-dir", mnist_dir, "--out", out,
    ]  # fmt: skip
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert np.isfinite(last["test_elbo"]) and np.isfinite(last["train_loss"])
    assert 'decoder = "residual"' in (out / "config.toml").read_text()
