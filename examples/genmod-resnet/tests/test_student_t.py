"""The Student-t prior against its closed-form density, and its options' validation."""

import math

import numpy as np
import pytest

from genmod.config import RunConfig
from genmod.contract.errors import ConfigError
from genmod.plugins import get_registry


def student_t_log_density(z: float, df: float, scale: float) -> float:
    """log of the Student-t density at z (location 0), written out from its definition."""
    return (
        math.lgamma((df + 1) / 2)
        - math.lgamma(df / 2)
        - 0.5 * math.log(df * math.pi)
        - math.log(scale)
        - (df + 1) / 2 * math.log1p((z / scale) ** 2 / df)
    )


def test_log_prob_matches_the_formula():
    from genmod_resnet.priors import StudentTPrior

    prior = StudentTPrior(latent_dim=3, df=2.5, learn_scale=False, init_scale=1.7)
    z = np.array([[0.0, -1.3, 4.0], [10.0, 0.2, -0.7]], np.float32)
    got = prior.distribution().log_prob(z).numpy()
    expected = [sum(student_t_log_density(float(v), 2.5, 1.7) for v in row) for row in z]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_learned_scale_starts_at_init_scale_and_trains():
    import tensorflow as tf
    from genmod_resnet.priors import StudentTPrior

    prior = StudentTPrior(latent_dim=2, init_scale=0.5)
    np.testing.assert_allclose(prior.scale().numpy(), [0.5, 0.5], rtol=1e-5)
    assert len(prior.trainable_variables) == 1
    with tf.GradientTape() as tape:
        loss = -tf.reduce_sum(prior.distribution().log_prob(tf.fill([4, 2], 3.0)))
    assert np.all(tape.gradient(loss, prior.raw_scale).numpy() < 0)  # far points widen it


def test_bad_df_is_a_clear_config_error():
    config = RunConfig(prior="student-t", prior_options={"df": 0.1})
    with pytest.raises(ConfigError, match="'df'.*>= 0.5"):
        config.resolve(get_registry())
