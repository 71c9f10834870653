"""The new components' numbers, checked against independent formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from genmod.config import RunConfig
from genmod.contract.errors import ConfigError, PluginError
from genmod.model.assembly import resolve_binarization
from genmod.model.elbo import kl_divergence
from genmod_builtins.grey_likelihoods_impl import (
    ContinuousBernoulliLikelihood,
    PerPixelGaussianLikelihood,
)
from genmod_builtins.learned_priors_impl import (
    LearnedDiagonalNormalPrior,
    MixtureOfGaussiansPrior,
)
from genmod_builtins.objectives_impl import free_bits_kl, kl_warmup_weight
from genmod_builtins.posteriors_impl import DiagonalGaussian

tfd = tfp.distributions


def test_continuous_bernoulli_log_prob_matches_the_normalised_formula():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 4, 2)).astype(np.float64)
    x = rng.uniform(size=(3, 4, 2))
    dist = ContinuousBernoulliLikelihood(data_shape=(4, 2)).distribution(
        tf.constant(logits, tf.float32)[..., None]
    )
    lam = 1 / (1 + np.exp(-logits))
    # C(lambda) = 2 artanh(1 - 2 lambda) / (1 - 2 lambda)  (Loaiza-Ganem & Cunningham 2019)
    log_c = np.log(2 * np.arctanh(1 - 2 * lam) / (1 - 2 * lam))
    expected = np.sum(log_c + x * np.log(lam) + (1 - x) * np.log(1 - lam), axis=(1, 2))
    np.testing.assert_allclose(dist.log_prob(x.astype(np.float32)).numpy(), expected, rtol=1e-4)
    assert dist.event_shape == [4, 2]


def test_per_pixel_gaussian_uses_the_decoders_scale_for_each_element():
    rng = np.random.default_rng(1)
    params = rng.normal(size=(2, 5, 2)).astype(np.float32)
    x = rng.uniform(size=(2, 5)).astype(np.float32)
    likelihood = PerPixelGaussianLikelihood(data_shape=(5,), min_scale=0.01)
    mean, raw = params[..., 0], params[..., 1]
    sigma = np.log1p(np.exp(raw)) + 0.01
    expected = np.sum(
        -0.5 * ((x - mean) / sigma) ** 2 - np.log(sigma) - 0.5 * math.log(2 * math.pi), axis=1
    )
    np.testing.assert_allclose(
        likelihood.distribution(tf.constant(params)).log_prob(x), expected, rtol=1e-5
    )
    assert likelihood.params_per_element == 2


def test_mixture_prior_density_matches_a_hand_written_mixture():
    prior = MixtureOfGaussiansPrior(latent_dim=3, components=4)
    prior.logits.assign([0.5, -1.0, 0.0, 2.0])
    z = np.random.default_rng(2).normal(size=(6, 3)).astype(np.float32)
    loc = prior.loc.numpy()
    scale = np.log1p(np.exp(prior.raw_scale.numpy())) + prior.min_scale
    weights = np.exp(prior.logits.numpy()) / np.exp(prior.logits.numpy()).sum()
    comp = -0.5 * (((z[:, None] - loc) / scale) ** 2 + np.log(2 * np.pi * scale**2)).sum(-1)
    expected = np.log(np.sum(weights * np.exp(comp), axis=1))
    np.testing.assert_allclose(prior.distribution().log_prob(z).numpy(), expected, rtol=1e-5)
    assert prior.distribution().event_shape == [3]
    assert len(prior.trainable_variables) == 3


def test_mixture_prior_has_no_analytic_kl_and_learned_normal_has_one():
    q = DiagonalGaussian(latent_dim=3)(tf.zeros([2, 6]))
    z = q.sample(seed=[1, 2])
    _, analytic = kl_divergence(q, MixtureOfGaussiansPrior(latent_dim=3).distribution(), z)
    assert not analytic
    learned = LearnedDiagonalNormalPrior(latent_dim=3)
    learned.loc.assign([1.0, 0.0, -1.0])
    kl, analytic = kl_divergence(q, learned.distribution(), z)
    assert analytic
    # q is N(0, softplus(0)+1e-5) per dim; p is N(loc, 1) (scale starts at 1).
    s = math.log(2) + 1e-5
    expected = sum(0.5 * (s**2 + m**2 - 1 - 2 * math.log(s)) for m in (1.0, 0.0, -1.0))
    np.testing.assert_allclose(kl.numpy(), [expected, expected], rtol=1e-3)


def test_kl_warmup_is_linear_from_zero_and_free_bits_floor_the_kl():
    weights = [float(kl_warmup_weight(tf.constant(s, tf.int64), 100)) for s in (0, 25, 100, 500)]
    assert weights == pytest.approx([0.0, 0.25, 1.0, 1.0])
    assert float(kl_warmup_weight(tf.constant(7, tf.int64), 0)) == 1.0
    assert float(free_bits_kl(tf.constant(3.0), 0.5, 16)) == pytest.approx(8.0)
    assert float(free_bits_kl(tf.constant(30.0), 0.5, 16)) == pytest.approx(30.0)
    assert float(free_bits_kl(tf.constant(3.0), 0.0, 16)) == pytest.approx(3.0)


def test_binarization_follows_the_likelihoods_support():
    auto = RunConfig()
    assert resolve_binarization(auto, "binary", "bernoulli") == "dynamic"
    assert resolve_binarization(auto, "unit_interval", "continuous-bernoulli") == "none"
    assert resolve_binarization(auto, "real", "gaussian-per-pixel") == "none"
    dynamic = RunConfig(binarize="dynamic")
    assert resolve_binarization(dynamic, "unit_interval", "continuous-bernoulli") == "dynamic"
    with pytest.raises(ConfigError, match="binary pixels"):
        resolve_binarization(RunConfig(binarize="none"), "binary", "bernoulli")
    with pytest.raises(PluginError, match="declares support 'counts'"):
        resolve_binarization(auto, "counts", "poisson")
