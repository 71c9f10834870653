"""The model zoo from `genmod run` / the API on small MNIST slices, and its errors."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from genmod import hookimpl
from genmod.api import load_run, train
from genmod.cli import cli
from genmod.config import RunConfig
from genmod.contract.errors import ConfigError, PluginError
from genmod.data import Dataset, DatasetArrays
from genmod.plugins import register_plugin

TINY = {"hidden": (32,)}


def tiny(**overrides) -> RunConfig:
    values = dict(
        encoder="mlp",
        epochs=1,
        train_size=640,
        test_size=100,
        validation_size=0,
        batch_size=64,
        encoder_options=dict(TINY),
        decoder_options=dict(TINY),
    )
    values.update(overrides)
    return RunConfig(**values)


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


class _Unlabelled(Dataset):
    name = "blobs"
    data_shape = (28, 28, 1)

    def __init__(self, shape=(28, 28, 1)):
        self.shape = tuple(shape)
        self.data_shape = self.shape

    def load(self, data_dir):
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, size=(128, *self.shape), dtype=np.uint8)
        return DatasetArrays(x, None, x[:32], None, num_classes=0)


class _UnlabelledPlugin:
    @hookimpl
    def register_datasets(self, register):
        register("blobs", _Unlabelled, description="random unlabelled images")
        register("scalars", lambda: _Unlabelled(shape=()), description="unlabelled numbers")


def test_conditional_model_trains_and_samples_digits_of_a_chosen_class(tmp_path, mnist_dir):
    result = train(tiny(encoder="cmlp"), data_dir=mnist_dir, out_dir=tmp_path / "c")
    assert np.isfinite(result.test["elbo"])
    assert tomllib.loads((tmp_path / "c" / "config.toml").read_text())["condition_dim"] == 10
    run = load_run(tmp_path / "c")
    assert run.model.condition_dim == 10
    sevens = run.model.sample(3, condition=tf.one_hot([7], 10), seed=[1, 2]).numpy()
    ones = run.model.sample(3, condition=tf.one_hot([1], 10), seed=[1, 2]).numpy()
    assert sevens.shape == (3, 28, 28, 1)
    assert np.all((sevens >= 0) & (sevens <= 1))
    assert not np.allclose(sevens, ones)  # same z, another label: the decoder uses the label
    with pytest.raises(ConfigError, match="needs a condition"):
        run.model.sample(2)
    from genmod.evaluate.run import evaluate_run

    evaluation = evaluate_run(tmp_path / "c", num_samples=5, test_size=20, data_dir=mnist_dir)
    assert np.isfinite(evaluation["log_likelihood"]) and evaluation["test_size"] == 20


def test_conditional_model_on_unlabelled_data_is_a_clear_error(tmp_path):
    register_plugin(_UnlabelledPlugin(), "unlabelled-test")
    with pytest.raises(ConfigError, match="has no labels"):
        train(tiny(encoder="cmlp", dataset="blobs"), out_dir=tmp_path / "u")
    assert not (tmp_path / "u").exists()  # refused before a run folder was made
    # the unconditional pieces keep working on the same data
    result = train(tiny(dataset="blobs", test_size=None), out_dir=tmp_path / "ok")
    assert np.isfinite(result.test["elbo"])


def test_full_covariance_run_then_genmod_evaluate(tmp_path, mnist_dir):
    out = tmp_path / "f"
    train(tiny(posterior="full-covariance"), data_dir=mnist_dir, out_dir=out)
    assert json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])["test_kl_analytic"]
    result = invoke(
        "evaluate", out, "--samples", 20, "--chunk-size", 7, "--test-size", 50,
        "--data-dir", mnist_dir, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    written = json.loads((out / "evaluation.json").read_text())
    assert shown == written
    assert shown["num_samples"] == 20 and shown["test_size"] == 50
    assert shown["kl_analytic"] is True
    assert shown["log_likelihood"] > shown["elbo"]
    assert shown["nll"] == pytest.approx(-shown["log_likelihood"])
    assert 0 <= shown["active_units"] <= 16
    assert shown["chunk_size"] == 7 and shown["memory_budget_mib"] is None
    text = invoke(
        "evaluate", out, "-k", 5, "--test-size", 20, "--memory-budget", 16, "--data-dir", mnist_dir
    )  # fmt: skip
    assert text.exit_code == 0 and "test log p(x)" in text.output and "active units" in text.output
    assert "samples x 20 images per chunk" in text.output


def test_evaluate_refuses_bad_k_and_missing_runs(tmp_path):
    for k in ("0", "-5"):
        result = invoke("evaluate", tmp_path, "--samples", k)
        assert result.exit_code == 2 and "Error:" in result.output and ">= 1" in result.output
    result = invoke("evaluate", tmp_path / "nothing", "--samples", 10)
    assert result.exit_code == 2 and "not a genmod run folder" in result.output
    result = invoke("evaluate", tmp_path, "--memory-budget", "0")
    assert result.exit_code == 2 and "positive" in result.output
    result = invoke("evaluate", tmp_path, "--memory-budget", "64", "--chunk-size", "5")
    assert result.exit_code == 2 and "not both" in result.output
    assert "Traceback" not in result.output


def test_mixture_prior_reports_a_monte_carlo_kl_and_iwae_reports_the_elbo(tmp_path, mnist_dir):
    result = invoke(
        "run", "--prior", "mixture", "--prior-opt", "components=5", "--objective", "iwae",
        "--objective-opt", "samples=3", "--encoder-opt", "hidden=32", "--decoder-opt",
        "hidden=32", "--train-size", 640, "--test-size", 100, "--epochs", 1, "--quiet",
        "--data-dir", mnist_dir, "--out", tmp_path / "m",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "by Monte Carlo" in result.output
    last = json.loads((tmp_path / "m" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["test_kl_analytic"] is False
    assert last["train_iwae"] >= last["train_elbo"]  # the bound is tighter on the same samples
    assert last["train_loss"] == pytest.approx(-last["train_iwae"])


def test_kl_warmup_is_recorded(tmp_path, mnist_dir):
    config = tiny(objective="elbo", objective_options={"warmup_steps": 1000, "free_bits": 0.1})
    last = train(config, data_dir=mnist_dir, out_dir=tmp_path / "w").history[-1]
    assert 0.0 < last["train_kl_weight"] < 0.02  # at most 10 of 1000 warm-up steps
    assert last["train_loss"] > -last["train_reconstruction"]  # the free-bits floor (1.6 nats)
    assert last["train_elbo"] == pytest.approx(
        last["train_reconstruction"] - last["train_kl"], rel=1e-4
    )


def test_grey_level_likelihoods_default_to_grey_levels(tmp_path, mnist_dir):
    for name in ("continuous-bernoulli", "gaussian-per-pixel"):
        result = train(tiny(likelihood=name), data_dir=mnist_dir, out_dir=tmp_path / name)
        assert np.isfinite(result.test["elbo"])
        assert load_run(tmp_path / name).binarize == "none"


def test_vampprior_is_a_mixture_of_the_posteriors_at_its_pseudo_inputs():
    from genmod.model.assembly import build_model
    from genmod.plugins import get_registry

    config = tiny(prior="vampprior", prior_options={"components": 3}).resolve(get_registry())
    model = build_model(config, get_registry(), (6, 6, 1)).model
    variables = model.variables
    assert len({id(v) for v in variables}) == len(variables)  # the encoder is not counted twice
    assert any(v is model.prior.raw_pseudo_inputs for v in model.trainable_variables)
    z = tf.random.stateless_normal([5, 16], seed=[1, 2])
    q = model.posterior(model.prior.pseudo_inputs)
    per_component = q.log_prob(z[:, None, :])  # [5, 3]
    expected = tf.reduce_logsumexp(per_component, axis=1) - np.log(3.0)
    np.testing.assert_allclose(
        model.prior_distribution().log_prob(z).numpy(), expected.numpy(), rtol=1e-5
    )


def test_vampprior_refuses_what_it_cannot_build(tmp_path, mnist_dir):
    with pytest.raises(ConfigError, match="cannot be used with a conditional encoder"):
        train(tiny(encoder="cmlp", prior="vampprior"), data_dir=mnist_dir, out_dir=tmp_path / "c")
    register_plugin(_UnlabelledPlugin(), "unlabelled-test")
    # items without a shape are refused by the dataset rule before any prior is built
    with pytest.raises(PluginError, match=r"data_shape is \(\) after load"):
        train(tiny(prior="vampprior", dataset="scalars", test_size=None), out_dir=tmp_path / "s")
    too_many = tiny(prior="vampprior", prior_options={"components": 100_000}, dataset="blobs")
    with pytest.raises(ConfigError, match="fewer components"):
        train(too_many, out_dir=tmp_path / "t")


def test_unknown_prior_and_posterior_names_list_the_choices(tmp_path):
    result = invoke("run", "--prior", "vamp", "--out", tmp_path / "x")
    assert result.exit_code == 2
    assert "unknown prior 'vamp'" in result.output and "vampprior" in result.output
    result = invoke("run", "--posterior", "full", "--out", tmp_path / "y")
    assert result.exit_code == 2 and "full-covariance" in result.output


def test_genmod_runs_shows_what_genmod_evaluate_recorded(tmp_path, mnist_dir):
    from genmod.cli.commands.runs import describe_run
    from genmod.evaluate.run import evaluate_run

    train(tiny(), data_dir=mnist_dir, out_dir=tmp_path / "r")
    result = evaluate_run(tmp_path / "r", num_samples=5, test_size=50)
    info = describe_run(tmp_path / "r")
    assert info["evaluation"]["log_likelihood"] == result["log_likelihood"]
    assert info["evaluation"]["num_samples"] == 5
