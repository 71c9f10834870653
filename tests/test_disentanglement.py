"""MIG (genmod.evaluate.disentanglement) on representations whose answer is known: the
factors themselves, a random code, a permuted and a rescaled code, an entangled code."""

from __future__ import annotations

import numpy as np
import pytest

from genmod.evaluate.disentanglement import (
    discrete_mutual_information,
    discretize,
    mutual_information_gap,
)


def _factors(items: int = 4000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, 4, items), rng.integers(0, 5, items)], axis=1)


def test_mutual_information_by_hand():
    a = np.array([0, 0, 1, 1])
    assert discrete_mutual_information(a, a) == pytest.approx(np.log(2))
    assert discrete_mutual_information(a, np.array([0, 1, 0, 1])) == pytest.approx(0.0)
    # b = a for three of four items: H(a) - H(a|b) computed from the 2x2 table by hand
    b = np.array([0, 0, 1, 0])
    joint = np.array([[2, 0], [1, 1]]) / 4
    pa, pb = joint.sum(1), joint.sum(0)
    want = sum(
        joint[i, j] * np.log(joint[i, j] / (pa[i] * pb[j]))
        for i in range(2)
        for j in range(2)
        if joint[i, j]
    )
    assert discrete_mutual_information(a, b) == pytest.approx(want)


def test_the_factors_themselves_score_the_maximum():
    factors = _factors()
    code = factors.astype(float) + 0.5  # one code dimension per factor, bins keep the values apart
    result = mutual_information_gap(code, factors, bins=20)
    assert result.score > 0.99 and result.bins == 20 and result.items == len(factors)
    np.testing.assert_allclose(np.diag(result.mutual_information), result.factor_entropy, rtol=1e-9)


def test_a_random_code_scores_near_zero():
    factors = _factors()
    code = np.random.default_rng(1).normal(size=(len(factors), 4))
    assert mutual_information_gap(code, factors).score < 0.05


def test_permuting_and_rescaling_dimensions_changes_nothing():
    factors = _factors()
    rng = np.random.default_rng(2)
    code = np.concatenate(
        [factors + rng.normal(0, 0.3, factors.shape), rng.normal(size=(len(factors), 2))], axis=1
    )
    base = mutual_information_gap(code, factors).score
    permuted = code[:, [3, 1, 2, 0]]
    rescaled = code * np.array([3.0, 0.01, 7.0, 2.0]) - 5.0
    assert 0.2 < base < 0.99
    assert mutual_information_gap(permuted, factors).score == pytest.approx(base)
    assert mutual_information_gap(rescaled, factors).score == pytest.approx(base)


def test_a_factor_spread_over_two_dimensions_has_no_gap():
    factors = _factors()
    copy = factors[:, :1].astype(float)
    code = np.concatenate([copy, copy, factors[:, 1:].astype(float)], axis=1)
    result = mutual_information_gap(code, factors)
    assert result.per_factor[0] == pytest.approx(0.0) and result.per_factor[1] > 0.99


def test_discretize_uses_equal_width_bins_per_dimension():
    codes = np.array([[0.0, 5.0], [1.0, 5.0], [0.5, 5.0], [0.99, 5.0]])
    np.testing.assert_array_equal(discretize(codes, bins=2), [[0, 0], [1, 0], [1, 0], [1, 0]])


@pytest.mark.parametrize(
    ("codes", "factors", "words"),
    [
        (np.zeros((10, 1)), np.zeros((10, 1), int), "at least 2 code dimensions"),
        (np.zeros((10, 3)), np.zeros((9, 1), int), "same items"),
        (np.zeros((10, 3)), np.zeros((10, 1)), "integer value indices"),
        (np.zeros((10, 3)), np.zeros((10, 1), int), "single value"),
    ],
)
def test_bad_input_says_what_is_needed(codes, factors, words):
    with pytest.raises(ValueError) as error:
        mutual_information_gap(codes, factors)
    assert words in str(error.value)
