"""The numbers genmod reports, checked against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from genmod.model.elbo import elbo_terms, kl_divergence
from genmod_builtins.likelihoods_impl import BernoulliLikelihood, GaussianLikelihood
from genmod_builtins.posteriors_impl import DiagonalGaussian, FullCovarianceGaussian
from genmod_builtins.priors_impl import StandardNormalPrior

tfd = tfp.distributions


def test_analytic_kl_matches_monte_carlo_for_diagonal_posterior():
    rng = np.random.default_rng(0)
    params = tf.constant(rng.normal(size=(3, 8)), tf.float32)
    q = DiagonalGaussian(latent_dim=4)(params)
    p = StandardNormalPrior(latent_dim=4).distribution()
    analytic, is_analytic = kl_divergence(q, p)
    assert is_analytic
    z = q.sample(200_000, seed=[1, 2])
    monte_carlo = tf.reduce_mean(q.log_prob(z) - p.log_prob(z), axis=0)
    np.testing.assert_allclose(analytic.numpy(), monte_carlo.numpy(), rtol=0.02, atol=0.02)


def test_analytic_kl_matches_closed_form_formula():
    loc = np.array([[0.5, -1.0]], np.float32)
    scale = np.array([[0.3, 2.0]], np.float32)
    q = tfd.MultivariateNormalDiag(loc, scale)
    p = StandardNormalPrior(latent_dim=2).distribution()
    expected = 0.5 * np.sum(scale**2 + loc**2 - 1.0 - 2.0 * np.log(scale), axis=-1)
    np.testing.assert_allclose(kl_divergence(q, p)[0].numpy(), expected, rtol=1e-5)


def test_full_covariance_posterior_kl_matches_monte_carlo():
    rng = np.random.default_rng(1)
    family = FullCovarianceGaussian(latent_dim=3)
    q = family(tf.constant(rng.normal(size=(2, family.num_params())), tf.float32))
    assert q.event_shape == [3] and q.batch_shape == [2]
    p = StandardNormalPrior(latent_dim=3).distribution()
    z = q.sample(200_000, seed=[3, 4])
    monte_carlo = tf.reduce_mean(q.log_prob(z) - p.log_prob(z), axis=0)
    np.testing.assert_allclose(kl_divergence(q, p)[0], monte_carlo, rtol=0.02, atol=0.02)


def test_monte_carlo_fallback_when_no_analytic_kl():
    q = tfd.MultivariateNormalDiag([[0.0, 0.0]], [[1.0, 1.0]])
    p = tfd.MixtureSameFamily(
        tfd.Categorical(logits=[0.0, 0.0]),
        tfd.MultivariateNormalDiag([[1.0, 1.0], [-1.0, -1.0]], [[1.0, 1.0], [1.0, 1.0]]),
    )
    z = tf.constant([[0.3, -0.2]])
    kl, is_analytic = kl_divergence(q, p, z)
    assert not is_analytic
    np.testing.assert_allclose(kl, q.log_prob(z) - p.log_prob(z), rtol=1e-6)
    with pytest.raises(ValueError):
        kl_divergence(q, p)


def test_bernoulli_log_prob_is_minus_summed_sigmoid_cross_entropy():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(4, 28, 28, 1)).astype(np.float32)
    x = (rng.uniform(size=(4, 28, 28, 1)) < 0.3).astype(np.float32)
    dist = BernoulliLikelihood(data_shape=(28, 28, 1)).distribution(tf.constant(logits)[..., None])
    assert dist.event_shape == [28, 28, 1] and dist.batch_shape == [4]
    # Hand-written: log sigmoid(l) for x=1, log(1 - sigmoid(l)) for x=0, summed per image.
    log_sig = -np.logaddexp(0.0, -logits)
    log_one_minus = -np.logaddexp(0.0, logits)
    expected = np.sum(x * log_sig + (1 - x) * log_one_minus, axis=(1, 2, 3))
    np.testing.assert_allclose(dist.log_prob(x).numpy(), expected, rtol=1e-5)
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)
    np.testing.assert_allclose(
        dist.log_prob(x), -tf.reduce_sum(cross_entropy, axis=[1, 2, 3]), rtol=1e-5
    )


def test_gaussian_log_prob_matches_formula():
    rng = np.random.default_rng(3)
    likelihood = GaussianLikelihood(data_shape=(5, 2), init_scale=0.7)
    mean = rng.normal(size=(3, 5, 2)).astype(np.float32)
    x = rng.uniform(size=(3, 5, 2)).astype(np.float32)
    dist = likelihood.distribution(tf.constant(mean)[..., None])
    sigma = float(likelihood.scale)
    assert sigma == pytest.approx(0.7, rel=1e-5)
    expected = np.sum(
        -0.5 * ((x - mean) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi),
        axis=(1, 2),
    )
    np.testing.assert_allclose(dist.log_prob(x).numpy(), expected, rtol=1e-5)


class _LinearGaussianVAE:
    """p(z) = N(0, I), p(x|z) = N(W z + b, s^2 I): log p(x) = log N(x; b, W W^T + s^2 I).

    The posterior p(z|x) is Gaussian with covariance (I + W^T W / s^2)^-1 and mean
    cov W^T (x - b) / s^2; ``exact=True`` uses it as q, anything else uses a worse q.
    """

    condition_dim = 0

    def __init__(self, w, b, s, exact: bool):
        self.w, self.b, self.s, self.exact = w, b, s, exact

    def posterior(self, x, condition=None):
        d = self.w.shape[1]
        precision = np.eye(d) + self.w.T @ self.w / self.s**2
        cov = np.linalg.inv(precision)
        mean = (np.asarray(x) - self.b) @ self.w @ cov.T / self.s**2
        if not self.exact:
            mean = mean + 0.3
            cov = cov * 2.0
        chol = np.linalg.cholesky(cov)
        return tfd.MultivariateNormalTriL(
            tf.constant(mean, tf.float32),
            tf.constant(np.broadcast_to(chol, (len(x), d, d)), tf.float32),
        )

    def observation(self, z, condition=None):
        loc = tf.linalg.matvec(tf.constant(self.w, tf.float32), z) + self.b.astype(np.float32)
        return tfd.Independent(tfd.Normal(loc, self.s), reinterpreted_batch_ndims=1)

    def prior_distribution(self):
        return tfd.MultivariateNormalDiag(tf.zeros(self.w.shape[1]), tf.ones(self.w.shape[1]))

    def log_marginal(self, x):
        cov = self.w @ self.w.T + self.s**2 * np.eye(self.w.shape[0])
        return tfd.MultivariateNormalTriL(
            self.b.astype(np.float32), np.linalg.cholesky(cov).astype(np.float32)
        ).log_prob(x.astype(np.float32))


def test_elbo_is_below_log_marginal_and_tight_at_the_true_posterior():
    rng = np.random.default_rng(4)
    w = rng.normal(size=(6, 2))
    b = rng.normal(size=6)
    x = rng.normal(size=(5, 6)).astype(np.float32)
    exact = _LinearGaussianVAE(w, b, 0.5, exact=True)
    log_px = exact.log_marginal(x).numpy()

    # At q = p(z|x), log p(x|z) + log p(z) - log q(z|x) equals log p(x) for every z.
    q = exact.posterior(x)
    z = q.sample(seed=[5, 6])
    per_sample = (
        exact.observation(z).log_prob(x) + exact.prior_distribution().log_prob(z) - q.log_prob(z)
    )
    np.testing.assert_allclose(per_sample, log_px, atol=1e-3)

    # genmod's estimator (analytic KL, one z) is unbiased for the ELBO, so its mean over many
    # independent draws (here: 2000 copies of each x in one batch) is log p(x).
    copies = 2000
    tiled = np.tile(x, (copies, 1))

    def mean_elbo(model):
        elbo = elbo_terms(model, tiled, seed=tf.constant([7, 8])).elbo.numpy()
        return elbo.reshape(copies, len(x)).mean(axis=0)

    np.testing.assert_allclose(mean_elbo(exact), log_px, atol=0.1)
    loose = mean_elbo(_LinearGaussianVAE(w, b, 0.5, exact=False))
    assert np.all(loose < log_px - 0.3)
