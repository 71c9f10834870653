"""Posterior collapse: per-dimension KL, active units, the warning, and the I(x; z) estimate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from genmod.config import RunConfig
from genmod.runs import folder as rundir


def test_mutual_information_is_zero_for_a_posterior_that_ignores_x():
    import tensorflow as tf
    import tensorflow_probability as tfp

    from genmod.evaluate.collapse import mutual_information

    tfd = tfp.distributions
    n, d = 300, 3
    q = tfd.MultivariateNormalDiag(loc=tf.fill([n, d], 0.7), scale_diag=tf.fill([n, d], 0.5))
    z = q.sample(seed=[1, 2])
    assert mutual_information(q, z, chunk=64) == pytest.approx(0.0, abs=1e-6)


def test_mutual_information_matches_the_gaussian_channel():
    """x ~ N(0, 1), q(z|x) = N(a x, s^2) per dimension: I = d/2 log(1 + a^2 / s^2)."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    from genmod.evaluate.collapse import mutual_information

    tfd = tfp.distributions
    rng = np.random.default_rng(0)
    n, d, a, s = 3000, 2, 1.0, 1.0
    x = rng.standard_normal((n, d)).astype(np.float32)
    q = tfd.MultivariateNormalDiag(loc=a * x, scale_diag=tf.fill([n, d], s))
    z = q.sample(seed=[3, 4])
    exact = d / 2 * math.log(1 + a**2 / s**2)  # 0.693 nats
    # independent check of the estimator: numpy, all N x N densities at once
    zn = z.numpy().astype(np.float64)
    log_q = -0.5 * (((zn[:, None, :] - a * x[None, :, :]) / s) ** 2).sum(-1) - d * (
        math.log(s) + 0.5 * math.log(2 * math.pi)
    )
    own = np.diag(log_q)
    top = log_q.max(axis=1)
    aggregate = top + np.log(np.exp(log_q - top[:, None]).sum(axis=1)) - math.log(n)
    numpy_estimate = float(np.mean(own - aggregate))
    estimate = mutual_information(q, z, chunk=500)
    assert estimate == pytest.approx(numpy_estimate, abs=1e-3)
    assert estimate == pytest.approx(exact, abs=0.05)
    assert estimate <= math.log(n)


def test_per_dimension_kl_sums_to_the_kl_and_shows_an_unused_dimension():
    import tensorflow as tf
    import tensorflow_probability as tfp

    from genmod.evaluate.collapse import per_dimension_kl

    tfd = tfp.distributions
    loc = tf.constant([[1.0, 0.0], [-1.0, 0.0]])
    scale = tf.constant([[0.5, 1.0], [0.5, 1.0]])
    q = tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)
    p = tfd.MultivariateNormalDiag(loc=tf.zeros(2), scale_diag=tf.ones(2))
    kl = per_dimension_kl(q, p).numpy()
    expected_first = 0.5 * (1.0 + 0.25 - 1.0 - math.log(0.25))  # KL(N(±1, .5²) || N(0, 1))
    np.testing.assert_allclose(kl[:, 0], expected_first, rtol=1e-5)
    np.testing.assert_allclose(kl[:, 1], 0.0, atol=1e-6)
    np.testing.assert_allclose(kl.sum(axis=1), tfd.kl_divergence(q, p).numpy(), rtol=1e-5)
    tril = tfd.MultivariateNormalTriL(loc=loc, scale_tril=tf.linalg.diag(scale))
    assert per_dimension_kl(tril, p) is None  # not factorized: not reported


def tiny(**overrides) -> RunConfig:
    values = dict(
        encoder="mlp",
        encoder_options={"hidden": (32,)},
        decoder_options={"hidden": (32,)},
        latent_dim=3,
        epochs=4,
        train_size=256,
        test_size=100,
        validation_size=0,
        batch_size=64,
        eval_batch_size=100,
        seed=2,
    )
    values.update(overrides)
    return RunConfig(**values)


def test_a_collapsed_run_warns_once_and_reports_kl_per_dimension(tmp_path, mnist_dir):
    from genmod.api import train

    lines: list[str] = []
    # beta = 10000 pushes q(z|x) onto the prior within the first epoch: the KL goes to ~0
    config = tiny(
        objective="beta-vae", objective_options={"beta": 1e4}, learning_rate=3e-3, epochs=6
    )
    train(config, data_dir=mnist_dir, out_dir=tmp_path / "r", log=lines.append)
    records = [
        json.loads(line)
        for line in (tmp_path / "r" / rundir.METRICS_FILE).read_text().split("\n")
        if line.strip()
    ]
    for record in records:
        assert len(record["kl_per_dim"]) == 3 and 0 <= record["active_units"] <= 3
        assert sum(record["kl_per_dim"]) == pytest.approx(record["test_kl"], rel=1e-3, abs=1e-4)
    assert records[-1]["test_kl"] < 0.1
    warnings = [line for line in lines if "posterior looks collapsed" in line]
    assert len(warnings) == 1, lines
    assert "free bits" in warnings[0] and "warm-up" in warnings[0] and "beta < 1" in warnings[0]


def test_a_healthy_run_does_not_warn(tmp_path, mnist_dir):
    from genmod.api import train

    lines: list[str] = []
    train(tiny(epochs=3), data_dir=mnist_dir, out_dir=tmp_path / "r", log=lines.append)
    assert not [line for line in lines if "collapsed" in line]
    last = json.loads((tmp_path / "r" / rundir.METRICS_FILE).read_text().splitlines()[-1])
    assert last["active_units"] >= 1 and last["test_kl"] > 1.0


def test_evaluate_records_the_mutual_information_and_its_estimator(tmp_path, mnist_dir):
    from genmod.api import train
    from genmod.evaluate.run import evaluate_run

    train(tiny(epochs=1), data_dir=mnist_dir, out_dir=tmp_path / "r")
    result = evaluate_run(tmp_path / "r", num_samples=2, test_size=50)
    saved = json.loads((tmp_path / "r" / "evaluation.json").read_text())
    assert saved["mi_items"] == 50 and saved["mi_upper_bound"] == pytest.approx(math.log(50))
    assert 0.0 <= saved["mutual_information"] <= math.log(50) + 1e-6
    assert saved["mutual_information"] > 0.1  # a trained 3-d code does carry information
    assert "Hoffman & Johnson" in saved["mi_estimator"]
    assert result["mutual_information"] == saved["mutual_information"]


def test_per_dimension_kl_inside_a_tf_function_with_tensor_valued_ndims():
    """A prior may hold Independent's reinterpreted_batch_ndims as a tensor (as the example
    plugin's student-t prior does); inside a tf.function that must not break the epoch."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    from genmod.evaluate.collapse import per_dimension_kl

    tfd = tfp.distributions

    @tf.function
    def both():
        q = tfd.Independent(tfd.Normal(tf.zeros([2, 3]), 1.0), reinterpreted_batch_ndims=1)
        p_normal = tfd.Independent(
            tfd.Normal(tf.zeros([3]), 2.0), reinterpreted_batch_ndims=tf.constant(1)
        )
        p_student = tfd.Independent(
            tfd.StudentT(5.0, tf.zeros([3]), 1.0), reinterpreted_batch_ndims=tf.constant(1)
        )
        return per_dimension_kl(q, p_normal), per_dimension_kl(q, p_student)

    normal, student = both()
    expected = np.log(2.0) + 1.0 / 8.0 - 0.5  # KL(N(0,1) || N(0,4)) per dimension
    np.testing.assert_allclose(normal.numpy(), np.full([2, 3], expected), rtol=1e-5)
    assert student is None  # TFP has no closed-form KL(Normal || StudentT)
