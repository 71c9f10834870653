"""The importance-sampled log-likelihood against a model whose log p(x) is known exactly."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from genmod.contract.errors import ConfigError
from genmod.evaluate.loglik import active_units, check_num_samples, iwae_log_likelihood
from genmod.model.iwae import iwae_bound

tfd = tfp.distributions


class LinearGaussianModel:
    """p(z) = N(0, I_d), p(x|z) = N(W z + b, s^2 I): log p(x) = log N(x; b, W W^T + s^2 I).

    q(z|x) is the exact posterior N(m, C) with C = (I + W^T W / s^2)^-1,
    m = C W^T (x - b) / s^2, moved by ``shift`` and with its covariance times ``inflate``
    (shift 0 and inflate 1 give the exact posterior).
    """

    condition_dim = 0

    def __init__(self, seed: int, shift: float = 0.1, inflate: float = 2.0):
        rng = np.random.default_rng(seed)
        self.w = rng.normal(size=(6, 2))
        self.b = rng.normal(size=6)
        self.s = 0.5
        self.shift, self.inflate = shift, inflate

    def posterior(self, x, condition=None):
        x = np.asarray(x, np.float64)
        cov = np.linalg.inv(np.eye(2) + self.w.T @ self.w / self.s**2)
        mean = (x - self.b) @ self.w @ cov.T / self.s**2 + self.shift
        chol = np.linalg.cholesky(cov * self.inflate)
        return tfd.MultivariateNormalTriL(
            tf.constant(mean, tf.float32),
            tf.constant(np.broadcast_to(chol, (len(x), 2, 2)), tf.float32),
        )

    def observation(self, z, condition=None):
        loc = tf.linalg.matvec(tf.constant(self.w, tf.float32), z) + self.b.astype(np.float32)
        return tfd.Independent(tfd.Normal(loc, self.s), reinterpreted_batch_ndims=1)

    def prior_distribution(self):
        return tfd.MultivariateNormalDiag(tf.zeros(2), tf.ones(2))

    def log_marginal(self, x) -> np.ndarray:
        cov = self.w @ self.w.T + self.s**2 * np.eye(6)
        diff = np.asarray(x, np.float64) - self.b
        _, logdet = np.linalg.slogdet(cov)
        maha = np.einsum("bi,ij,bj->b", diff, np.linalg.inv(cov), diff)
        return -0.5 * (maha + logdet + 6 * np.log(2 * np.pi))


@pytest.fixture
def model_and_data():
    model = LinearGaussianModel(seed=0)
    x = np.random.default_rng(1).normal(size=(5, 6)).astype(np.float32)
    return model, x, model.log_marginal(x)


def test_estimator_converges_to_the_closed_form_log_marginal(model_and_data):
    model, x, log_px = model_and_data
    out = iwae_log_likelihood(model, x, num_samples=5000, chunk_size=500, seed=(3, 4))
    # The ELBO of this deliberately poor q is far below log p(x); the K=5000 estimate is not.
    assert np.all(out["elbo"].numpy() < log_px - 0.3)
    np.testing.assert_allclose(out["log_likelihood"].numpy(), log_px, atol=0.05)


def test_estimate_is_exact_at_the_true_posterior():
    model = LinearGaussianModel(seed=2, shift=0.0, inflate=1.0)
    x = np.random.default_rng(3).normal(size=(4, 6)).astype(np.float32)
    out = iwae_log_likelihood(model, x, num_samples=3, seed=(1, 1))
    np.testing.assert_allclose(out["log_likelihood"].numpy(), model.log_marginal(x), atol=1e-3)


def test_estimate_increases_with_k_on_average_and_stays_at_or_above_the_elbo():
    model = LinearGaussianModel(seed=0, shift=0.3, inflate=3.0)  # a poor q: K matters
    x = np.random.default_rng(1).normal(size=(5, 6)).astype(np.float32)
    log_px = model.log_marginal(x)
    means = []
    for k in (1, 10, 100):
        runs = [
            iwae_log_likelihood(model, x, num_samples=k, chunk_size=50, seed=(s, k))
            for s in range(20)
        ]
        estimates = np.array([r["log_likelihood"].numpy() for r in runs])
        elbos = np.array([r["elbo"].numpy() for r in runs])
        means.append(estimates.mean(axis=0))
        if k == 10:  # K = 1 is the ELBO itself (with a Monte Carlo KL)
            assert np.all(estimates.mean(axis=0) > elbos.mean(axis=0))
        if k == 100:
            assert np.all(estimates > elbos + 0.1)
    # Averaged over seeds and items the bound grows with K; item by item from K=1 to K=100.
    grand = [float(np.mean(m)) for m in means]
    assert grand[0] < grand[1] < grand[2]
    assert np.all(means[0] < means[2])
    # A lower bound in expectation: the K=100 mean is not above log p(x) beyond its noise.
    standard_error = estimates.std(axis=0, ddof=1) / np.sqrt(len(estimates))
    assert np.all(means[2] < log_px + 3 * standard_error)


def test_chunking_does_not_change_the_estimator(model_and_data):
    model, x, _ = model_and_data
    one_chunk = iwae_log_likelihood(model, x, num_samples=2000, chunk_size=2000, seed=(5, 5))
    chunked = iwae_log_likelihood(model, x, num_samples=2000, chunk_size=300, seed=(6, 6))
    np.testing.assert_allclose(
        one_chunk["log_likelihood"].numpy(), chunked["log_likelihood"].numpy(), atol=0.05
    )


def test_iwae_bound_is_a_stable_log_mean_exp():
    log_w = tf.constant([[-1000.0, 5.0], [-1001.0, 5.0], [-1002.0, 5.0]])
    expected = np.log(np.mean(np.exp([0.0, -1.0, -2.0]))) - 1000.0
    np.testing.assert_allclose(iwae_bound(log_w).numpy(), [expected, 5.0], rtol=1e-6)


def test_active_units_use_burdas_covariance_threshold():
    rng = np.random.default_rng(0)
    means = np.stack(
        [rng.normal(0, 1.0, 1000), rng.normal(0, 0.2, 1000), rng.normal(0, 0.05, 1000)], axis=1
    )
    assert active_units(means) == 2  # variances ~1, 0.04 (> 0.01) and 0.0025 (< 0.01)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_invalid_number_of_samples_is_a_clear_error(bad):
    with pytest.raises(ConfigError, match="--samples"):
        check_num_samples(bad)


def test_genmod_evaluate_reports_its_progress_image_batch_by_image_batch(tmp_path, mnist_dir):
    """What the terminal display of `genmod evaluate` (count, rate, time left) is fed: one
    update per batch of test images, ending at the total."""
    from genmod.api import train
    from genmod.config import RunConfig
    from genmod.evaluate.run import evaluate_run

    config = RunConfig(
        encoder="mlp",
        encoder_options={"hidden": (16,)},
        decoder_options={"hidden": (16,)},
        latent_dim=2,
        epochs=1,
        train_size=128,
        test_size=64,
        validation_size=0,
        batch_size=64,
    )
    run_dir = train(config, data_dir=mnist_dir, out_dir=tmp_path / "run").run_dir
    updates: list[tuple[int, int]] = []
    evaluate_run(
        run_dir,
        num_samples=3,
        batch_size=20,
        test_size=64,
        data_dir=mnist_dir,
        progress=lambda done, total: updates.append((done, total)),
    )
    assert updates == [(20, 64), (40, 64), (60, 64), (64, 64)]
