"""Learning, reproducibility and reloading on real MNIST slices (CPU)."""

from __future__ import annotations

import numpy as np
import pytest

from genmod.api import load_run, train
from genmod.config import RunConfig


def small_config(**overrides):
    values = dict(encoder="mlp", epochs=1, train_size=3000, test_size=500, batch_size=64)
    values.update(overrides)
    return RunConfig(**values)


def test_training_improves_the_test_elbo_far_beyond_the_untrained_model(tmp_path, mnist_dir):
    from genmod.evaluate.elbo import evaluate_elbo
    from genmod.model.assembly import build_model
    from genmod.plugins import get_registry

    config = small_config(epochs=3).resolve(get_registry())
    from genmod_builtins.mnist_loader import MNIST

    data = MNIST().load(mnist_dir).limited(3000, 500)
    untrained = build_model(config, get_registry(), data.data_shape).model
    before = evaluate_elbo(untrained, data.x_test, None, binarize="dynamic")["elbo"]
    result = train(config, data_dir=mnist_dir, out_dir=tmp_path / "r")
    after = result.test["elbo"]
    assert before < -500  # an untrained decoder is near 784 * log(2) = 543 nats
    assert after > -200 and after > before + 300


@pytest.mark.parametrize("encoder", ["mlp", "cnn"])
def test_same_seed_gives_the_same_numbers_on_cpu(tmp_path, mnist_dir, encoder):
    config = small_config(encoder=encoder, train_size=1024, test_size=200, seed=3)
    a = train(config, data_dir=mnist_dir, out_dir=tmp_path / "a").history[-1]
    b = train(config, data_dir=mnist_dir, out_dir=tmp_path / "b").history[-1]
    c = train(
        small_config(encoder=encoder, train_size=1024, test_size=200, seed=4),
        data_dir=mnist_dir,
        out_dir=tmp_path / "c",
    ).history[-1]
    for key in ("train_loss", "train_kl", "test_elbo", "test_kl"):
        assert a[key] == b[key]
    assert a["test_elbo"] != c["test_elbo"]


def test_loaded_run_reproduces_the_reported_test_elbo(tmp_path, mnist_dir, mnist_arrays):
    from genmod.evaluate.elbo import evaluate_elbo

    result = train(small_config(likelihood="gaussian"), data_dir=mnist_dir, out_dir=tmp_path / "r")
    assert result.history[-1]["test_elbo"] == pytest.approx(result.test["elbo"])
    run = load_run(tmp_path / "r")
    assert run.binarize == "none"
    again = evaluate_elbo(run.model, mnist_arrays.x_test[:500], None, binarize=run.binarize)
    assert again["elbo"] == pytest.approx(result.test["elbo"], rel=1e-6)
    assert np.isfinite(again["elbo"])
    samples = run.model.sample(4, seed=[1, 2]).numpy()
    assert samples.shape == (4, 28, 28, 1)


def test_beta_vae_reports_the_true_elbo(tmp_path, mnist_dir):
    result = train(
        small_config(objective="beta-vae", objective_options={"beta": 2.0}, train_size=640),
        data_dir=mnist_dir,
        out_dir=tmp_path / "r",
    )
    last = result.history[-1]
    expected_loss = -(last["train_reconstruction"] - 2.0 * last["train_kl"])
    assert last["train_loss"] == pytest.approx(expected_loss, rel=1e-4)
    assert last["train_elbo"] == pytest.approx(
        last["train_reconstruction"] - last["train_kl"], rel=1e-4
    )
