"""The ``discretized-logistic`` likelihood for 8-bit images and bits per dimension.

The likelihood's masses are checked against an independent float64 numpy computation of the
same mixture (differences of the logistic CDF at the bin edges), their normalisation over the
256 values of a pixel (edge bins and extreme parameters included), and the conversion of nats
to bits/dim on hand-computed cases. CLI runs on grey-level MNIST and on a tiny colour dataset
show bits/dim in every report; bad input is exit 2.
"""

from __future__ import annotations

import json
import math
import types
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from genmod import hookimpl
from genmod.cli.app import cli
from genmod.contract.units import EIGHT_BIT, bits_per_dim, item_dimensions, reports_bits_per_dim
from genmod.data import Dataset, DatasetArrays
from genmod.plugins import register_plugin

LN2 = math.log(2.0)


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


# ----------------------------------------------------------------------- bits per dimension
def test_bits_per_dim_on_hand_computed_cases():
    # a uniform distribution over the 256 values of every element is exactly 8 bits/dim
    assert bits_per_dim(-784 * math.log(256.0), 784) == pytest.approx(8.0, abs=1e-12)
    # 6000 nats over a 32x32x3 item: 6000 / (3072 * 0.693147...) = 6000 / 2129.348... = 2.817764
    assert bits_per_dim(-6000.0, 3072) == pytest.approx(2.817764, abs=1e-6)
    # one nat per dimension is 1/ln 2 = 1.442695 bits
    assert bits_per_dim(-10.0, 10) == pytest.approx(1.442695, abs=1e-6)
    assert item_dimensions((32, 32, 3)) == 3072 and item_dimensions((28, 28, 1)) == 784
    assert reports_bits_per_dim(EIGHT_BIT)
    assert not any(reports_bits_per_dim(s) for s in ("binary", "unit_interval", "real"))
    with pytest.raises(ValueError, match="dimensions"):
        bits_per_dim(-1.0, 0)


# ------------------------------------------------------------------------ the distribution
def _likelihood(components: int, shape=(2, 2, 3)):
    from genmod_builtins.discretized_logistic_impl import DiscretizedLogisticLikelihood

    return DiscretizedLogisticLikelihood(data_shape=shape, components=components)


def _extreme_params(components: int, shape, seed: int) -> np.ndarray:
    """Random parameters ``[6, *shape, 3K]`` with far-out locations, clamped log-scales (both
    ends) and very unequal mixture weights in some items."""
    rng = np.random.default_rng(seed)
    k = components
    params = rng.normal(size=(6, *shape, 3 * k))
    params[1, ..., k : 2 * k] = rng.uniform(-1e4, 1e4, size=(*shape, k))  # far outside [0, 1]
    params[2, ..., 2 * k :] = -30.0  # below the clamp: the narrowest components
    params[3, ..., 2 * k :] = 30.0  # above the clamp: the widest
    params[4, ..., :k] = rng.uniform(-60, 60, size=(*shape, k))  # one component dominates
    params[5, ..., k : 2 * k] = rng.choice([0.0, 1.0, -0.001, 1.001, 0.5 / 255], (*shape, k))
    params[5, ..., 2 * k :] = -7.0  # sharp components at and beside the edge bins
    return params.astype(np.float32)


def _all_values_log_probs(likelihood, params: np.ndarray) -> np.ndarray:
    """log P(x = k/255) of every element for all 256 k: ``[256, batch, *shape]``."""
    import tensorflow as tf

    per_element = likelihood.distribution(tf.constant(params)).distribution
    values = (np.arange(256) / 255.0).reshape(256, *([1] * (params.ndim - 1)))
    return np.asarray(per_element.log_prob(tf.constant(values, tf.float32)), np.float64)


@pytest.mark.parametrize("components", [1, 3, 5])
def test_the_256_values_of_every_element_sum_to_one(components):
    shape = (2, 2, 3)
    likelihood = _likelihood(components, shape)
    assert likelihood.params_per_element == 3 * components
    params = _extreme_params(components, shape, seed=components)
    log_probs = _all_values_log_probs(likelihood, params)
    assert np.all(np.isfinite(log_probs)) and np.all(log_probs <= 1e-6)
    np.testing.assert_allclose(np.exp(log_probs).sum(axis=0), 1.0, atol=1e-5)


def test_the_edge_bins_take_the_tails():
    # a component far below 0 puts (almost) all its mass in bin 0, one far above 1 in bin 255
    likelihood = _likelihood(1, (1, 1, 1))
    params = np.array([[-3.0, -7.0], [4.0, -7.0], [0.5, -7.0]], np.float32)
    params = np.concatenate([np.zeros((3, 1), np.float32), params], axis=1).reshape(3, 1, 1, 1, 3)
    probs = np.exp(_all_values_log_probs(likelihood, params))[:, :, 0, 0, 0]  # [256, 3]
    assert probs[0, 0] == pytest.approx(1.0, abs=1e-6)
    assert probs[255, 1] == pytest.approx(1.0, abs=1e-6)
    # a sharp component at 0.5 (s = e^-7) sits on the edge between bins 127 and 128
    # (0.5 = 127.5/255): bin 127 gets F(0.5) - F(126.5/255) = 1/2 - sigmoid(-(1/255) e^7)
    side = 1.0 / (1.0 + math.exp(math.exp(7.0) / 255.0))
    assert probs[127, 2] == pytest.approx(0.5 - side, abs=1e-5)
    assert probs[128, 2] == pytest.approx(0.5 - side, abs=1e-5)
    assert probs[126, 2] == pytest.approx(side - 1.0 / (1.0 + math.exp(2 * math.exp(7.0) / 255)))


def _numpy_log_prob(params: np.ndarray, x: np.ndarray, components: int) -> np.ndarray:
    """An independent float64 computation: log sum_j pi_j (F_j(upper) - F_j(lower)) per element,
    with F the logistic CDF 1 / (1 + exp(-(t - mu) / s)), the lower edge of bin 0 at -inf and
    the upper edge of bin 255 at +inf, and the log-scale clamped to [-7, 7]."""
    params = params.astype(np.float64)
    k = components
    logits, mu = params[..., :k], params[..., k : 2 * k]
    s = np.exp(np.clip(params[..., 2 * k :], -7.0, 7.0))
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    level = np.rint(x * 255.0)[..., None]
    upper = np.where(level == 255, np.inf, (level + 0.5) / 255.0)
    lower = np.where(level == 0, -np.inf, (level - 0.5) / 255.0)

    def cdf(t):
        return 1.0 / (1.0 + np.exp(-(t - mu) / s))

    return np.log(np.sum(weights * (cdf(upper) - cdf(lower)), axis=-1))


@pytest.mark.parametrize("components", [1, 4])
def test_log_prob_matches_an_independent_numpy_computation(components):
    import tensorflow as tf

    shape = (3, 3, 2)
    rng = np.random.default_rng(10 + components)
    k = components
    params = rng.normal(size=(5, *shape, 3 * k))
    params[..., k : 2 * k] = rng.uniform(-0.1, 1.1, size=(5, *shape, k))  # locations
    params[..., 2 * k :] = rng.uniform(-8.0, -1.0, size=(5, *shape, k))  # log-scales (clamped)
    params[0, ..., k : 2 * k] = -0.02  # items 0 and 1: the edge bins, with mass there
    params[1, ..., k : 2 * k] = 1.02
    params = params.astype(np.float32)
    near = params[..., k] + rng.normal(scale=0.05, size=(5, *shape))  # near component 0
    levels = np.clip(np.rint(near * 255.0), 0, 255)
    levels[0], levels[1] = 0, 255  # both edge bins appear
    x = (levels / 255.0).astype(np.float32)
    likelihood = _likelihood(components, shape)
    with np.errstate(divide="ignore", over="ignore"):
        per_element = _numpy_log_prob(params, x.astype(np.float64), components)
    # the comparison is meaningful where the masses are not vanishingly small
    assert np.mean(per_element > -20) > 0.5
    ours = np.asarray(likelihood.distribution(tf.constant(params)).distribution.log_prob(x))
    mask = per_element > -30
    np.testing.assert_allclose(ours[mask], per_element[mask], rtol=1e-4, atol=1e-4)
    # the likelihood sums the elements of an item: one number per item, in nats
    item = np.asarray(likelihood.distribution(tf.constant(params)).log_prob(x))
    assert item.shape == (5,)
    np.testing.assert_allclose(item, ours.reshape(5, -1).sum(axis=1), rtol=1e-5)


def test_the_mean_is_within_half_a_bin_of_the_exact_mean_and_drives_pictures():
    import tensorflow as tf

    shape = (2, 2, 1)
    likelihood = _likelihood(3, shape)
    params = _extreme_params(3, shape, seed=7)
    probs = np.exp(_all_values_log_probs(likelihood, params))
    exact = np.tensordot(np.arange(256) / 255.0, probs, axes=(0, 0))  # sum_k k/255 P(k)
    mean = np.asarray(likelihood.mean(tf.constant(params)))
    assert mean.shape == (6, *shape) and np.all((mean >= 0) & (mean <= 1))
    assert np.max(np.abs(mean - exact)) <= 0.5 / 255 + 1e-4
    picture = likelihood.image(tf.constant(params), seed=tf.constant([1, 2], tf.int32))
    np.testing.assert_array_equal(np.asarray(picture), mean)


def test_samples_are_8_bit_values_with_the_masses_frequencies():
    import tensorflow as tf

    likelihood = _likelihood(2, (1, 1, 1))
    params = np.array([[0.3, -0.4, 0.2, 0.7, -3.0, -2.5]], np.float32).reshape(1, 1, 1, 1, 6)
    dist = likelihood.distribution(tf.constant(params))
    draws = np.asarray(dist.sample(20000, seed=tf.constant([3, 4], tf.int32))).ravel()
    levels = draws * 255.0
    np.testing.assert_allclose(levels, np.rint(levels), atol=1e-3)
    probs = np.exp(_all_values_log_probs(likelihood, params))[:, 0, 0, 0, 0]
    assert abs(draws.mean() - float(np.sum(probs * np.arange(256) / 255.0))) < 0.01


def test_components_must_be_a_positive_integer():
    from genmod.contract.errors import ConfigError

    with pytest.raises(ConfigError, match="components got 0"):
        _likelihood(0)


def test_binary_likelihoods_report_no_bits_per_dim():
    from genmod.api import RunConfig, build
    from genmod.evaluate.elbo import evaluate_elbo

    images = np.zeros((4, 28, 28, 1), np.uint8)
    binary = build(RunConfig(latent_dim=2))
    assert "bits_per_dim" not in evaluate_elbo(binary, images, None, binarize="static")
    eight_bit = build(RunConfig(latent_dim=2, likelihood="discretized-logistic"))
    result = evaluate_elbo(eight_bit, images, None, binarize="none")
    assert result["bits_per_dim"] == pytest.approx(bits_per_dim(result["elbo"], 784))


# ------------------------------------------------------------------------------ the CLI
def _read_metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_a_grey_level_mnist_run_reports_bits_per_dim_everywhere(tmp_path, mnist_dir):
    run = tmp_path / "dl"
    result = invoke(
        "run", "--likelihood", "discretized-logistic", "--likelihood-opt", "components=2",
        "--epochs", 1, "--train-size", 256, "--test-size", 128, "--validation-size", 64,
        "--batch-size", 64, "--latent-dim", 4, "--data-dir", mnist_dir, "--out", run,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = _read_metrics(run)[-1]
    for split in ("test", "validation"):
        bits = record[f"{split}_bits_per_dim"]
        assert math.isfinite(bits) and bits > 0
        assert bits == pytest.approx(-record[f"{split}_elbo"] / (784 * LN2), rel=1e-12)
    assert f"{record['test_bits_per_dim']:.3f} bits/dim" in result.output.splitlines()[-1]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["final"]["test_bits_per_dim"] == record["test_bits_per_dim"]
    config = (run / "config.toml").read_text()
    assert 'resolved_binarize = "none"' in config  # auto: 8-bit data are never binarized

    evaluated = invoke("evaluate", run, "--samples", 3, "--test-size", 32, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    found = json.loads(evaluated.output)
    assert found["bits_per_dim"] == pytest.approx(-found["log_likelihood"] / (784 * LN2))
    assert found["elbo_bits_per_dim"] == pytest.approx(-found["elbo"] / (784 * LN2))
    assert math.isfinite(found["bits_per_dim"]) and found["bits_per_dim"] > 0
    human = invoke("evaluate", run, "--samples", 2, "--test-size", 16, "--quiet").output
    assert human.count("bits/dim") == 2, human  # the IWAE NLL and the ELBO

    listed = invoke("runs", tmp_path)
    assert listed.exit_code == 0 and "bits/dim" in listed.output
    as_json = json.loads(invoke("runs", tmp_path, "--json").output)[0]
    assert as_json["test_bits_per_dim"] == record["test_bits_per_dim"]
    assert "bits_per_dim" in as_json["evaluation"]


class _Colour(Dataset):
    """32x32x3 uint8 images of random colour blocks, with labels (a fake CIFAR)."""

    name = "tiny-colour"
    data_shape = (32, 32, 3)
    num_classes = 4

    def __init__(self, dtype: str = "uint8") -> None:
        self.dtype = dtype

    def load(self, data_dir):
        rng = np.random.default_rng(0)

        def images(n: int) -> np.ndarray:
            blocks = rng.integers(0, 256, size=(n, 4, 4, 3), dtype=np.uint8)
            x = np.repeat(np.repeat(blocks, 8, axis=1), 8, axis=2)
            if self.dtype == "float32":
                return (x / 255.0 + 0.001).clip(0, 1).astype(np.float32)  # off the 8-bit grid
            return x

        labels = rng.integers(0, 4, size=48)
        return DatasetArrays(images(32), labels[:32], images(16), labels[32:], 4)


def _register_colour() -> None:
    module = types.ModuleType("tiny_colour_plugin")

    def register_datasets(register):
        register("tiny-colour", _Colour, description="fake 32x32x3 uint8 images")
        register("tiny-float", lambda: _Colour("float32"), description="fake float images")

    module.register_datasets = hookimpl(register_datasets)
    register_plugin(module, "tiny-colour-plugin")


COLOUR_RUN = (
    "--likelihood", "discretized-logistic", "--encoder", "mlp", "--encoder-opt", "hidden=16",
    "--decoder-opt", "hidden=16", "--epochs", 1, "--validation-size", 8, "--batch-size", 8,
    "--latent-dim", 2,
)  # fmt: skip


@pytest.mark.slow
def test_a_colour_run_reports_bits_per_dim_over_32x32x3(tmp_path):
    _register_colour()
    run = tmp_path / "colour"
    result = invoke("run", "--dataset", "tiny-colour", *COLOUR_RUN, "--json", "--out", run)
    assert result.exit_code == 0, result.output
    final = json.loads(result.output.strip().splitlines()[-1])["final"]
    assert final["test_bits_per_dim"] == pytest.approx(-final["test_elbo"] / (3072 * LN2))
    assert math.isfinite(final["test_bits_per_dim"])
    assert (run / "pictures" / "samples" / "epoch-0001.png").exists()


def test_binarizing_8_bit_data_is_refused_with_the_flag_named(tmp_path, mnist_dir):
    for mode in ("dynamic", "static"):
        result = invoke(
            "run", "--likelihood", "discretized-logistic", "--binarize", mode, "--epochs", 1,
            "--train-size", 64, "--test-size", 32, "--validation-size", 16,
            "--data-dir", mnist_dir, "--out", tmp_path / mode,
        )  # fmt: skip
        assert result.exit_code == 2, result.output
        assert f"--binarize {mode}" in result.output and "--binarize none" in result.output
        assert not (tmp_path / mode).exists()  # refused before the run folder was made


def test_bad_components_and_off_grid_data_are_exit_2(tmp_path):
    _register_colour()
    zero = invoke(
        "run", "--dataset", "tiny-colour", *COLOUR_RUN, "--likelihood-opt", "components=0",
        "--out", tmp_path / "zero",
    )  # fmt: skip
    assert zero.exit_code == 2 and "components" in zero.output, zero.output
    off_grid = invoke("run", "--dataset", "tiny-float", *COLOUR_RUN, "--out", tmp_path / "f")
    assert off_grid.exit_code == 2, off_grid.output
    assert "tiny-float" in off_grid.output and "float32" in off_grid.output
    assert not (tmp_path / "f").exists()


def test_8_bit_likelihoods_take_only_unbinarized_data():
    from genmod.api import RunConfig
    from genmod.contract.errors import ConfigError
    from genmod.model.assembly import resolve_binarization

    for given in ("auto", "none"):
        assert resolve_binarization(RunConfig(binarize=given), EIGHT_BIT, "dl") == "none"
    for given in ("dynamic", "static"):
        with pytest.raises(ConfigError, match=f"--binarize {given} makes binary data"):
            resolve_binarization(RunConfig(binarize=given), EIGHT_BIT, "dl")


def test_genmod_runs_shows_bits_per_dim_only_for_runs_that_have_it(tmp_path):
    from genmod.config import RunConfig, write_config
    from genmod.runs import folder as rundir

    for name, bits in (("binary", None), ("eight-bit", 2.28111)):
        run = tmp_path / name
        run.mkdir()
        write_config(run, RunConfig(epochs=1), {"data_shape": [28, 28, 1], "condition_dim": 0})
        record = {"epoch": 1, "test_elbo": -1239.62}
        evaluation = {"log_likelihood": -1280.0, "num_samples": 4, "active_units": 3}
        if bits is not None:
            record["test_bits_per_dim"] = bits
            evaluation["bits_per_dim"] = 2.355
        rundir.append_metrics(run, record)
        (run / "evaluation.json").write_text(json.dumps(evaluation))
    lines = invoke("runs", tmp_path).output.splitlines()
    binary = next(line for line in lines if line.startswith("binary"))
    eight = next(line for line in lines if line.startswith("eight-bit"))
    assert "bits/dim" not in binary and "-1239.62" in binary
    assert "-1239.62 (2.281 bits/dim)" in eight
    assert "log_likelihood -1280.00 (2.355 bits/dim), num_samples 4, active_units 3" in eight
    listed = {Path(i["run"]).name: i for i in json.loads(invoke("runs", tmp_path, "--json").output)}
    assert "test_bits_per_dim" not in listed["binary"]
    assert listed["eight-bit"]["test_bits_per_dim"] == 2.28111
