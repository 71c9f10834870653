"""Every built-in network (mlp, cnn, residual and the conditional cmlp, ccnn) works for the image
shapes datasets give, grey or colour, even or odd sizes, or refuses one with a ConfigError that
names the shape and the option to change; the pixelcnn likelihood refuses colour. The 28x28x1
networks keep exactly the variables they had (checkpoints of earlier runs still load)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from genmod import hookimpl
from genmod.api import build
from genmod.cli import cli
from genmod.config import RunConfig
from genmod.contract.errors import ConfigError
from genmod.data import Dataset, DatasetArrays
from genmod.model.assembly import build_model
from genmod.plugins import get_registry, register_plugin
from genmod.testing import check_component
from genmod.train.trainer import Trainer
from genmod_builtins.cnn_networks import ConvDecoder, encoder_min_size, encoder_sizes
from genmod_builtins.posteriors_impl import DiagonalGaussian

#: Small options per network (the defaults for cnn, which are cheap), keeping the tests fast.
NETWORKS = {
    "mlp": {"hidden": (8,)},
    "cmlp": {"hidden": (8,)},
    "cnn": {},
    "ccnn": {},
    "residual": {"width": 4, "blocks": 1},
}
CONDITIONAL = {"cmlp", "ccnn"}
# grey and colour, square and not, sizes 2**k does not divide, and the smallest the cnn takes
SHAPES = [
    (28, 28, 1),
    (32, 32, 3),
    (20, 24, 1),
    (30, 30, 3),
    (8, 8, 1),
    (7, 9, 3),
]
LATENT, CONDITION, PER_ELEMENT = 4, 3, 2


def _factory(kind: str, name: str):
    return get_registry().get(kind, name).load()


def _encoder(name: str, shape, condition_dim: int = 0, **options):
    keras.utils.set_random_seed(0)
    return _factory("encoder", name)(
        data_shape=shape,
        latent_dim=LATENT,
        posterior=DiagonalGaussian(latent_dim=LATENT),
        condition_dim=condition_dim,
        **{**NETWORKS[name], **options},
    )


def _decoder(name: str, shape, condition_dim: int = 0, params_per_element=PER_ELEMENT, **options):
    keras.utils.set_random_seed(0)
    return _factory("decoder", name)(
        data_shape=shape,
        latent_dim=LATENT,
        params_per_element=params_per_element,
        condition_dim=condition_dim,
        **{**NETWORKS[name], **options},
    )


def _condition(name: str, batch: int = 2):
    """One-hot labels for a conditional network; None (no condition) for the others."""
    return tf.one_hot(tf.range(batch) % CONDITION, CONDITION) if name in CONDITIONAL else None


# -- every network, every shape ------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_encoder_gives_posterior_parameters_for_every_shape(name, shape):
    condition = _condition(name)
    enc = _encoder(name, shape, condition_dim=CONDITION if condition is not None else 0)
    x = tf.random.stateless_uniform([2, *shape], seed=[1, 2])
    params = enc(x, condition) if condition is not None else enc(x)
    assert params.shape == (2, 2 * LATENT)  # diagonal Gaussian: mean and scale per latent
    assert np.all(np.isfinite(params.numpy()))
    q = enc.distribution(x, condition)
    assert q.batch_shape == (2,) and q.event_shape == (LATENT,)
    # the encoder sees every channel: changing only the last channel changes its output
    if shape[-1] > 1:
        other = tf.concat([x[..., :-1], 1.0 - x[..., -1:]], axis=-1)
        changed = enc(other, condition) if condition is not None else enc(other)
        assert not np.allclose(params, changed)


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_decoder_gives_parameters_of_the_data_shape(name, shape):
    condition = _condition(name)
    dec = _decoder(name, shape, condition_dim=CONDITION if condition is not None else 0)
    z = tf.random.stateless_normal([3, 2, LATENT], seed=[3, 4])  # a leading sample dimension
    out = dec.decode(z, condition)
    assert out.shape == (3, 2, *shape, PER_ELEMENT) and out.dtype == tf.float32
    assert np.all(np.isfinite(out.numpy()))
    # no channel or parameter is a constant left over from a crop or reshape
    spread = out.numpy().reshape(-1, shape[-1] * PER_ELEMENT).std(axis=0)
    assert np.all(spread > 0)


@pytest.mark.parametrize("name", ["cnn", "ccnn", "residual"])
def test_conv_decoder_output_channels_are_channels_times_params(name):
    condition = _condition(name)
    dec = _decoder(
        name, (30, 30, 3), CONDITION if condition is not None else 0, params_per_element=5
    )
    assert dec.decode(tf.zeros([2, LATENT]), condition).shape == (2, 30, 30, 3, 5)
    # the output convolution has 3 x 5 filters (Conv2DTranspose kernels are [k, k, out, in])
    out_axis = -2 if isinstance(dec.head, keras.layers.Conv2DTranspose) else -1
    assert dec.head.kernel.shape[out_axis] == 3 * 5


@pytest.mark.parametrize("name", ["cnn", "ccnn", "residual"])
@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_conformance_on_odd_colour_images(kind, name):
    options = NETWORKS[name]
    condition_dim = CONDITION if name in CONDITIONAL else 0
    check_component(kind, name, options, data_shape=(30, 30, 3), condition_dim=condition_dim)
    check_component(kind, name, options, data_shape=(7, 9, 1), condition_dim=condition_dim)


# -- the cnn networks' sizes ---------------------------------------------------------------


def test_the_cnn_encoder_feature_map_sizes_follow_the_valid_convolution_formula():
    assert encoder_sizes(28, 2, 3) == [13, 6]  # the TF tutorial's 28 -> 13 -> 6
    assert encoder_sizes(32, 2, 3) == [15, 7]
    assert encoder_sizes(8, 2, 3) == [3, 1]
    assert encoder_sizes(6, 2, 3) == [2, 0]  # vanished
    assert [encoder_min_size(n, 3) for n in (1, 2, 3)] == [3, 7, 15]
    assert encoder_min_size(2, 5) == 13
    for layers, kernel in [(1, 3), (2, 3), (3, 3), (2, 5), (2, 1), (4, 4)]:
        need = encoder_min_size(layers, kernel)
        assert encoder_sizes(need, layers, kernel)[-1] == 1
        assert encoder_sizes(need - 1, layers, kernel)[-1] < 1 or need == 1
    # the head's input is the flattened last map: 6x6x64 for MNIST, 7x7x64 for 32x32
    enc = _encoder("cnn", (32, 32, 3))
    enc(tf.zeros([1, 32, 32, 3]))
    assert enc.head.kernel.shape == (7 * 7 * 64, 2 * LATENT)


@pytest.mark.parametrize(
    ("shape", "start"), [((28, 28, 1), (7, 7)), ((30, 30, 3), (8, 8)), ((20, 24, 1), (5, 6))]
)
def test_the_cnn_decoder_rounds_the_map_up_and_crops_the_top_left(shape, start):
    dec = _decoder("cnn", shape)
    assert dec.start_shape == (*start, 32)
    # A decoder for the rounded-up size has the same variables; given the same weights, both
    # agree everywhere but the last row and column, where the output convolution of the
    # cropped one sees its zero padding instead of the rows the crop removed.
    h, w, c = shape
    big = _decoder("cnn", (4 * start[0], 4 * start[1], c))
    z = tf.random.stateless_normal([2, LATENT], seed=[5, 6])
    dec.decode(z), big.decode(z)  # build the variables
    assert len(dec.weights) == len(big.weights) == 8
    for source, target in zip(dec.weights, big.weights, strict=True):
        assert source.shape == target.shape
        target.assign(source)
    small, large = dec.decode(z).numpy(), big.decode(z).numpy()
    np.testing.assert_allclose(small[:, : h - 1, : w - 1], large[:, : h - 1, : w - 1], atol=1e-5)
    if (h, w) == (4 * start[0], 4 * start[1]):
        np.testing.assert_array_equal(small, large)  # nothing cropped: the same network


# -- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cnn", "ccnn"])
@pytest.mark.parametrize(
    ("shape", "options", "need"),
    [
        ((6, 6, 1), {}, 7),
        ((28, 5, 3), {}, 7),
        ((12, 12, 1), {"kernel_size": 5}, 13),
        ((14, 14, 3), {"filters": (8, 8, 8)}, 15),
    ],
)
def test_the_cnn_encoder_refuses_images_its_convolutions_would_shrink_away(
    name, shape, options, need
):
    with pytest.raises(ConfigError) as info:
        _encoder(name, shape, condition_dim=CONDITION, **options)
    message = str(info.value)
    assert "\n" not in message
    h, w, _ = shape
    assert f"need images of at least {need}x{need}; these are {h}x{w}" in message
    assert "filters=" in message and "kernel_size" in message
    # one size up is accepted
    _encoder(name, (need, need, shape[-1]), condition_dim=CONDITION, **options)


@pytest.mark.parametrize("name", ["cnn", "ccnn", "residual"])
@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize("shape", [(784,), (28, 28), (2, 28, 28, 1)])
def test_conv_networks_refuse_data_that_is_not_an_image(kind, name, shape):
    make = _encoder if kind == "encoder" else _decoder
    with pytest.raises(ConfigError) as info:
        make(name, shape, condition_dim=CONDITION)
    message = str(info.value)
    assert "[height, width, channels]" in message and str(list(shape)) in message
    assert f"mlp {kind}" in message  # says what to use instead


@pytest.mark.parametrize("shape", [(784,), (28, 28), (5,)])
def test_the_mlp_networks_take_data_of_any_shape(shape):
    x = tf.random.stateless_uniform([2, *shape], seed=[1, 2])
    assert _encoder("mlp", shape)(x).shape == (2, 2 * LATENT)
    assert _decoder("mlp", shape).decode(tf.zeros([2, LATENT])).shape == (2, *shape, PER_ELEMENT)


def test_the_residual_networks_refuse_images_smaller_than_their_stages():
    with pytest.raises(ConfigError, match=r"at least 4; the images are 3x3\. Give fewer stages"):
        _encoder("residual", (3, 3, 1))
    with pytest.raises(ConfigError, match=r"at least 4; the images are 3x9\. Give fewer stages"):
        _decoder("residual", (3, 9, 3))


@pytest.mark.parametrize("shape", [(32, 32, 3), (28, 28, 3), (28, 28, 2)])
def test_pixelcnn_refuses_colour_before_training(shape):
    config = RunConfig(encoder="cnn", likelihood="pixelcnn")
    with pytest.raises(ConfigError) as info:
        build(config, data_shape=shape)
    message = str(info.value)
    assert "\n" not in message
    assert "binary images [height, width, 1] only" in message and "no colour" in message
    assert str(list(shape)) in message


@pytest.mark.parametrize("shape", [(30, 30, 1), (20, 24, 1)])
def test_pixelcnn_with_the_cnn_decoder_on_odd_grey_sizes(shape):
    small = {"features": 3, "filters": 4, "layers": 2}
    model = build(
        RunConfig(
            encoder="cnn", likelihood="pixelcnn", latent_dim=LATENT, likelihood_options=small
        ),
        data_shape=shape,
    )  # build_model runs its shape checks on a batch of two
    x = tf.cast(tf.random.stateless_uniform([2, *shape], seed=[1, 2]) < 0.5, tf.float32)
    z = model.posterior(x).sample(seed=[3, 4])
    assert model.decoder.decode(z).shape == (2, *shape, 3)  # features=3 per pixel
    assert np.all(np.isfinite(model.observation(z).log_prob(x).numpy()))


class _Tiny(Dataset):
    name = "tiny-images"
    num_classes = 2

    def __init__(self, height: int = 5, width: int = 5, channels: int = 1):
        self.data_shape = (int(height), int(width), int(channels))

    def load(self, data_dir):
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, size=(32, *self.data_shape), dtype=np.uint8)
        y = rng.integers(0, 2, size=32).astype(np.int64)
        return DatasetArrays(x[:24], y[:24], x[24:], y[24:], num_classes=2)


class _TinyPlugin:
    @hookimpl
    def register_datasets(self, register):
        register("tiny-images", _Tiny, description="random 5x5 grey images")


def test_the_cli_refuses_a_too_small_image_in_one_line_with_exit_2(tmp_path):
    register_plugin(_TinyPlugin(), "tiny-images-plugin")
    args = [
        "run", "--dataset", "tiny-images", "--encoder", "cnn", "--epochs", 1, "--batch-size", 8,
        "--validation-size", 0, "--quiet", "--out", tmp_path / "r",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert "need images of at least 7x7; these are 5x5" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r" / "metrics.jsonl").exists()  # refused before training


# -- the 28x28x1 networks are unchanged ------------------------------------------------------

CNN_ENCODER = [
    ("conv_0/kernel", (3, 3, 1, 32)),
    ("conv_0/bias", (32,)),
    ("conv_1/kernel", (3, 3, 32, 64)),
    ("conv_1/bias", (64,)),
    ("posterior_params/kernel", (2304, 32)),
    ("posterior_params/bias", (32,)),
]


def _cnn_decoder(inputs: int, outputs: int) -> list[tuple[str, tuple[int, ...]]]:
    return [
        ("dense/kernel", (inputs, 1568)),
        ("dense/bias", (1568,)),
        ("up_0/kernel", (3, 3, 64, 32)),
        ("up_0/bias", (64,)),
        ("up_1/kernel", (3, 3, 32, 64)),
        ("up_1/bias", (32,)),
        ("params/kernel", (3, 3, outputs, 32)),
        ("params/bias", (outputs,)),
    ]


def _mlp(inputs: int, outputs: int, widths=(512, 256)) -> list[tuple[str, tuple[int, ...]]]:
    sizes = [inputs, *widths, outputs]
    names = [f"hidden_{i}" for i in range(len(widths))]
    names.append("posterior_params" if outputs == 32 else "likelihood_params")
    out = []
    for name, a, b in zip(names, sizes[:-1], sizes[1:], strict=True):
        out += [(f"{name}/kernel", (a, b)), (f"{name}/bias", (b,))]
    return out


PINNED = {  # (encoder, likelihood, condition_dim) -> encoder variables, decoder variables
    ("cnn", "bernoulli", 0): (CNN_ENCODER, _cnn_decoder(16, 1)),
    ("cnn", "pixelcnn", 0): (CNN_ENCODER, _cnn_decoder(16, 8)),
    ("cnn", "gaussian-per-pixel", 0): (CNN_ENCODER, _cnn_decoder(16, 2)),
    (
        "ccnn",
        "bernoulli",
        10,
    ): (
        [*CNN_ENCODER[:4], ("posterior_params/kernel", (2314, 32)), CNN_ENCODER[5]],
        _cnn_decoder(26, 1),
    ),
    ("mlp", "bernoulli", 0): (_mlp(784, 32), _mlp(16, 784, (256, 512))),
    ("cmlp", "bernoulli", 10): (_mlp(794, 32), _mlp(26, 784, (256, 512))),
}


@pytest.mark.parametrize(("encoder", "likelihood", "condition_dim"), sorted(PINNED), ids=str)
def test_28x28x1_variables_are_pinned(encoder, likelihood, condition_dim):
    """Names, order and shapes of the default 28x28x1 networks' variables, as before image
    shapes other than multiples of 4 were supported: checkpoints restore by order and shape."""
    model = build(RunConfig(encoder=encoder, likelihood=likelihood), condition_dim=condition_dim)

    def variables(layer):  # the path below the layer's own (uid-numbered) name
        return [(v.path.split("/", 2)[2], tuple(v.shape)) for v in layer.variables]

    want_encoder, want_decoder = PINNED[(encoder, likelihood, condition_dim)]
    assert variables(model.encoder) == want_encoder
    assert variables(model.decoder) == want_decoder


def test_the_28x28_cnn_decoder_crops_nothing():
    dec = _decoder("cnn", (28, 28, 1), params_per_element=1)
    assert isinstance(dec, ConvDecoder) and dec.start_shape == (7, 7, 32)
    z = tf.random.stateless_normal([2, LATENT], seed=[1, 2])
    h = tf.reshape(dec.dense(z), [-1, *dec.start_shape])
    for deconv in dec.deconvs:
        h = deconv(h)
    assert h.shape[1:3] == (28, 28)  # the transposed convolutions reach 28x28 exactly
    np.testing.assert_array_equal(dec(z), tf.reshape(dec.head(h), [-1, 28, 28, 1, 1]))


# -- one training step on colour -------------------------------------------------------------


@pytest.mark.parametrize("encoder", ["ccnn"])
def test_a_training_step_on_32x32x3(encoder):
    shape = (32, 32, 3)
    small = {"filters": (4, 8)}
    config = RunConfig(
        encoder=encoder,
        latent_dim=LATENT,
        encoder_options=small,
        decoder_options={"filters": (8, 4), "base_channels": 4},
    ).resolve(get_registry())
    condition_dim = 10 if encoder in CONDITIONAL else 0
    keras.utils.set_random_seed(0)
    assembled = build_model(config, get_registry(), shape, condition_dim)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(16, *shape), dtype=np.uint8)
    labels = rng.integers(0, 10, size=16).astype(np.int64)
    trainer = Trainer(
        assembled.model,
        assembled.objective,
        images,
        labels,
        binarize=assembled.binarize,
        batch_size=8,
        learning_rate=1e-3,
        seed=0,
    )
    before = [v.numpy().copy() for v in trainer.variables]
    means = trainer.train_epoch()
    assert trainer.step_count == 2
    assert all(np.isfinite(value) for value in means.values())
    assert means["elbo"] < 0  # a probability of binary pixels: log p <= 0
    moved = [
        not np.array_equal(b, v.numpy()) for b, v in zip(before, trainer.variables, strict=True)
    ]
    assert all(moved)  # every variable was trained
