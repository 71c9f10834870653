"""Disentanglement scores (genmod.evaluate.disentanglement: MIG, DCI, SAP, FactorVAE) on
representations whose answer is known: the factors themselves, a random code, a permuted and a
rescaled code, an entangled or redundant code; DCI's entropy arithmetic by hand; bad input."""

from __future__ import annotations

import numpy as np
import pytest

from genmod.evaluate.disentanglement import (
    DCIResult,
    FactorVAEResult,
    SAPResult,
    dci,
    dci_from_importance,
    discrete_mutual_information,
    discretize,
    factor_vae_score,
    mutual_information_gap,
    sap,
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


# A factor grid: 3 factors with 4, 5 and 6 values, every combination 6 times (720 items), shuffled;
# the first TRAIN items are the train split of DCI and SAP, the rest the test split.

TRAIN = 480


@pytest.fixture
def grid() -> np.ndarray:
    axes = np.meshgrid(np.arange(4), np.arange(5), np.arange(6), indexing="ij")
    combinations = np.stack(axes, axis=-1).reshape(-1, 3)
    items = np.concatenate([combinations] * 6)
    return items[np.random.default_rng(0).permutation(len(items))]


def _split(codes: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, ...]:
    return codes[:TRAIN], factors[:TRAIN], codes[TRAIN:], factors[TRAIN:]


def _noisy(factors: np.ndarray, scale: float = 0.05, seed: int = 1) -> np.ndarray:
    return factors + np.random.default_rng(seed).normal(0, scale, factors.shape)


def _entangled(factors: np.ndarray) -> np.ndarray:
    """A partly disentangled code: factor 0 alone, factor 1 mixed with factor 0, factor 2
    noisy, and a dimension of pure noise."""
    rng = np.random.default_rng(3)
    noise = rng.normal(size=(len(factors), 4))
    return np.stack(
        [
            factors[:, 0] + 0.2 * noise[:, 0],
            factors[:, 1] + 0.7 * factors[:, 0] + 0.3 * noise[:, 1],
            factors[:, 2] + 0.8 * noise[:, 2],
            noise[:, 3],
        ],
        axis=1,
    )


# DCI: the entropy arithmetic by hand


def test_dci_from_importance_by_hand_two_by_two():
    # R = [[3, 1], [0, 4]]: rows are code dimensions, columns factors.
    scores = dci_from_importance(np.array([[3.0, 1.0], [0.0, 4.0]]))
    # dim 0: P = (3/4, 1/4), H_2 = 3/4 log2(4/3) + 1/4 log2(4) = 0.811278; dim 1: P = (0, 1)
    d0 = 1 - (0.75 * np.log2(4 / 3) + 0.25 * 2)
    assert scores.disentanglement_per_dim == pytest.approx([d0, 1.0])
    assert d0 == pytest.approx(0.188722, abs=1e-6)
    # rho = row sums / total = (4, 4) / 8
    assert scores.code_weights == pytest.approx([0.5, 0.5])
    assert scores.disentanglement == pytest.approx(0.5 * d0 + 0.5, abs=1e-12)
    assert scores.disentanglement == pytest.approx(0.594361, abs=1e-6)
    # factor 0: P = (1, 0) over dims; factor 1: P = (1/5, 4/5), H_2 = 0.2 log2 5 + 0.8 log2 1.25
    c1 = 1 - (0.2 * np.log2(5) + 0.8 * np.log2(1.25))
    assert scores.completeness_per_factor == pytest.approx([1.0, c1])
    assert c1 == pytest.approx(0.278072, abs=1e-6)
    # disentanglement_lib weights factors by their share of the importance: (3, 5) / 8
    assert scores.factor_weights == pytest.approx([3 / 8, 5 / 8])
    assert scores.completeness == pytest.approx(3 / 8 + 5 / 8 * c1, abs=1e-12)
    assert scores.completeness == pytest.approx(0.548795, abs=1e-6)


def test_dci_from_importance_by_hand_three_by_two():
    # dims 0 and 1 each serve one factor, dim 2 serves both equally.
    d, c, per_dim, per_factor, code_weights, factor_weights = dci_from_importance(
        np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    )
    assert per_dim == pytest.approx([1.0, 1.0, 0.0])  # dim 2: P = (1/2, 1/2), H_2 = 1
    assert code_weights == pytest.approx([0.25, 0.25, 0.5])
    assert d == pytest.approx(0.5)
    # each factor: P = (1/2, 0, 1/2) over 3 dims, H_3 = log 2 / log 3
    assert per_factor == pytest.approx([1 - np.log(2) / np.log(3)] * 2)
    assert factor_weights == pytest.approx([0.5, 0.5])
    assert c == pytest.approx(1 - np.log(2) / np.log(3))


def test_dci_from_importance_zero_rows_and_columns_give_no_nan():
    # dim 1 and factors 1, 2 have no importance at all: they score 0 with weight 0
    scores = dci_from_importance(np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    assert scores.disentanglement_per_dim == [1.0, 0.0]
    assert scores.completeness_per_factor == [1.0, 0.0, 0.0]
    assert scores.disentanglement == 1.0 and scores.completeness == 1.0
    nothing = dci_from_importance(np.zeros((3, 2)))
    assert nothing.disentanglement == 0.0 and nothing.completeness == 0.0
    assert nothing.code_weights == pytest.approx([1 / 3] * 3)


def test_dci_from_importance_refuses_bad_matrices():
    with pytest.raises(ValueError, match="at least 2 of each"):
        dci_from_importance(np.ones((3, 1)))
    with pytest.raises(ValueError, match="non-negative"):
        dci_from_importance(np.array([[1.0, -1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="finite"):
        dci_from_importance(np.array([[1.0, np.nan], [0.0, 1.0]]))


# DCI with gradient-boosted trees


def test_dci_of_the_factors_themselves_is_near_one(grid):
    result = dci(*_split(_noisy(grid), grid))
    assert isinstance(result, DCIResult)
    assert result.disentanglement > 0.95 and result.completeness > 0.95
    assert result.informativeness > 0.95 and min(result.test_accuracy) > 0.95
    assert result.informativeness_train == pytest.approx(1.0)
    np.testing.assert_array_equal(np.argmax(result.importance, axis=0), [0, 1, 2])
    np.testing.assert_allclose(result.importance.sum(axis=0), 1.0)
    assert result.importance.shape == (3, 3)
    assert result.regressor == "gradient-boosting"
    assert result.regressor_params["random_state"] == 0
    assert result.regressor_params["n_estimators"] == 100  # scikit-learn's default
    assert (result.train_items, result.test_items, result.seed) == (TRAIN, 240, 0)


def test_dci_of_a_random_code_is_near_zero(grid):
    code = np.random.default_rng(4).normal(size=(len(grid), 4))
    result = dci(*_split(code, grid))
    assert result.disentanglement < 0.1 and result.completeness < 0.1
    # no better than guessing: chance is 1/4, 1/5, 1/6 per factor
    assert result.informativeness < 0.35


def test_dci_is_invariant_to_permuting_code_dimensions(grid):
    code = _entangled(grid)
    base = dci(*_split(code, grid))
    order = [2, 0, 3, 1]
    permuted = dci(*_split(code[:, order], grid))
    assert 0.3 < base.disentanglement < 0.95 and 0.3 < base.completeness < 0.95
    # the same up to the trees' tie-breaking and rounding (about 0.002 here)
    assert permuted.disentanglement == pytest.approx(base.disentanglement, abs=0.01)
    assert permuted.completeness == pytest.approx(base.completeness, abs=0.01)
    assert permuted.test_accuracy == pytest.approx(base.test_accuracy, abs=0.01)
    np.testing.assert_allclose(permuted.importance, base.importance[order], atol=0.01)


def test_a_factor_encoded_in_two_dimensions_lowers_completeness(grid):
    rng = np.random.default_rng(5)
    noise = rng.normal(0, 0.4, size=(len(grid), 2))
    one = np.concatenate([_noisy(grid), rng.normal(size=(len(grid), 1))], axis=1)
    two = np.concatenate([_noisy(grid), grid[:, :1] + noise[:, :1]], axis=1)
    two[:, 0] = grid[:, 0] + noise[:, 1]  # factor 0: two noisy copies, both needed
    single, redundant = dci(*_split(one, grid)), dci(*_split(two, grid))
    assert single.completeness_per_factor[0] > 0.95
    assert redundant.completeness_per_factor[0] < 0.8
    assert redundant.completeness < single.completeness - 0.05
    # the other factors keep their own dimension
    assert redundant.completeness_per_factor[1:] == pytest.approx([1.0, 1.0], abs=0.05)


def test_dci_with_a_random_forest(grid):
    result = dci(*_split(_noisy(grid), grid), regressor="random-forest", seed=3)
    params = result.regressor_params
    assert result.regressor == "random-forest" and params["random_state"] == 3
    assert params["max_features"] is None and params["n_estimators"] == 100
    assert result.disentanglement > 0.95 and result.completeness > 0.95
    assert result.informativeness > 0.95
    noise = np.random.default_rng(4).normal(size=(len(grid), 4))
    random = dci(*_split(noise, grid), regressor="random-forest")
    assert random.disentanglement < 0.1 and random.completeness < 0.1


# SAP


def test_sap_of_the_factors_themselves_is_high(grid):
    result = sap(*_split(_noisy(grid), grid))
    assert isinstance(result, SAPResult)
    # a linear SVM on one dimension separates the extreme values of a factor best, so even a
    # perfect code stays well below 1 (chance: 1/4, 1/5, 1/6)
    assert result.score > 0.35 and min(result.per_factor) > 0.3
    np.testing.assert_array_equal(np.argmax(result.score_matrix, axis=0), [0, 1, 2])
    assert result.score_matrix.shape == (3, 3) and result.constant_dims == []
    assert result.classifier == "LinearSVC"
    params = result.classifier_params
    assert (params["C"], params["class_weight"], params["random_state"]) == (0.01, "balanced", 0)
    assert (result.train_items, result.test_items) == (TRAIN, 240)


def test_sap_of_a_random_code_is_near_zero(grid):
    code = np.random.default_rng(4).normal(size=(len(grid), 4))
    assert sap(*_split(code, grid)).score < 0.06


def test_sap_is_invariant_to_permuting_code_dimensions(grid):
    code = _entangled(grid)
    base = sap(*_split(code, grid))
    order = [2, 0, 3, 1]
    permuted = sap(*_split(code[:, order], grid))
    assert base.score > 0.05
    assert permuted.score == pytest.approx(base.score)
    np.testing.assert_allclose(permuted.score_matrix, base.score_matrix[order])


def test_sap_scores_a_constant_dimension_with_the_majority_class(grid):
    factors = grid.copy()
    factors[:TRAIN, 0][factors[:TRAIN, 0] == 3] = 2  # value 2 is the most frequent in train
    code = np.concatenate([_noisy(factors), np.full((len(grid), 1), 7.0)], axis=1)
    result = sap(*_split(code, factors))
    assert result.constant_dims == [3]
    test = factors[TRAIN:]
    assert result.score_matrix[3, 0] == pytest.approx(np.mean(test[:, 0] == 2))
    values, counts = np.unique(factors[:TRAIN, 1], return_counts=True)
    majority = values[np.argmax(counts)]  # the smallest of the most frequent values
    assert result.score_matrix[3, 1] == pytest.approx(np.mean(test[:, 1] == majority))
    assert np.all(np.isfinite(result.score_matrix)) and result.score > 0.3


# FactorVAE score


def test_factor_vae_of_the_factors_themselves_is_one(grid):
    result = factor_vae_score(grid.astype(float), grid, num_train_votes=500, num_eval_votes=300)
    assert isinstance(result, FactorVAEResult)
    assert result.score == 1.0 and result.train_accuracy == 1.0
    assert result.classifier == [0, 1, 2] and result.active_dims == [0, 1, 2]
    assert result.train_votes.sum() == 500 and result.eval_votes.sum() == 300
    assert result.factors_used == [0, 1, 2] and result.chance == pytest.approx(1 / 3)
    assert result.votes_with_replacement == 0 and not result.no_active_dims
    assert result.variance_items == len(grid) and result.num_variance_estimate == 10000
    assert (result.batch_size, result.prune_threshold, result.seed) == (64, 0.05, 0)


def test_factor_vae_of_a_random_code_is_near_chance(grid):
    # a larger pool (400-600 items per value): batches of 64 from the 120-180 items per value
    # of `grid` overlap so much that the vote learns the pool's noise (about 0.4 there)
    pool = np.concatenate([grid] * 4)
    code = np.random.default_rng(4).normal(size=(len(pool), 5))
    result = factor_vae_score(code, pool, num_train_votes=1000, num_eval_votes=1000)
    assert result.score < 1 / 3 + 0.05


def test_factor_vae_is_invariant_to_permuting_and_rescaling_dimensions(grid):
    # factors 0 and 1 share dimension 0, so the majority vote can get only one of them right
    rng = np.random.default_rng(6)
    code = np.stack(
        [
            grid[:, 0] + grid[:, 1] + rng.normal(0, 0.1, len(grid)),
            grid[:, 2] + rng.normal(0, 0.5, len(grid)),
            rng.normal(size=len(grid)),
        ],
        axis=1,
    )
    settings = dict(num_train_votes=800, num_eval_votes=400, num_variance_estimate=500, seed=7)
    base = factor_vae_score(code, grid, **settings)
    order = [2, 0, 1]
    permuted = factor_vae_score(code[:, order], grid, **settings)
    rescaled = factor_vae_score(code * np.array([3.0, 0.5, 20.0]) - 1.0, grid, **settings)
    assert base.variance_items == 500
    assert 0.5 < base.score < 0.8 and base.classifier[1] == 2
    assert permuted.score == base.score and rescaled.score == base.score
    assert permuted.train_accuracy == base.train_accuracy
    np.testing.assert_array_equal(permuted.eval_votes, base.eval_votes[order])
    np.testing.assert_array_equal(rescaled.eval_votes, base.eval_votes)
    np.testing.assert_allclose(rescaled.global_variance, base.global_variance * [9, 0.25, 400])


def test_factor_vae_is_deterministic_given_the_seed(grid):
    code = _noisy(grid, scale=1.5)
    settings = dict(num_train_votes=300, num_eval_votes=300)
    first = factor_vae_score(code, grid, seed=11, **settings)
    again = factor_vae_score(code, grid, seed=11, **settings)
    other = factor_vae_score(code, grid, seed=12, **settings)
    assert first.score == again.score
    np.testing.assert_array_equal(first.train_votes, again.train_votes)
    np.testing.assert_array_equal(first.eval_votes, again.eval_votes)
    assert not np.array_equal(first.train_votes, other.train_votes)


def test_factor_vae_prunes_quiet_dimensions_and_scores_zero_without_any(grid):
    code = np.concatenate([grid.astype(float), np.full((len(grid), 1), 1.0)], axis=1)
    code[:, 1] *= 0.001  # factor 1's dimension now has a standard deviation below 0.05
    result = factor_vae_score(code, grid, num_train_votes=300, num_eval_votes=300)
    assert result.active_dims == [0, 2]
    assert result.train_votes[[1, 3]].sum() == 0 and result.classifier[1] == -1
    # fixing factor 1 leaves no active dimension quieter, so those votes are lost
    assert 0.5 < result.score < 0.8
    silent = factor_vae_score(code * 0.001, grid, num_train_votes=10, num_eval_votes=10)
    assert silent.no_active_dims and silent.score == 0.0 and silent.train_accuracy == 0.0
    assert silent.active_dims == [] and silent.train_votes.sum() == 0


def test_factor_vae_records_batches_drawn_with_replacement_and_skips_fixed_factors(grid):
    # factor 3 never varies, factor 4 has a distinct value for each item: neither is drawn
    factors = np.concatenate([grid, np.zeros((len(grid), 1), int)], axis=1)
    factors = np.concatenate([factors, np.arange(len(grid))[:, None]], axis=1)
    result = factor_vae_score(
        grid.astype(float), factors, batch_size=150, num_train_votes=200, num_eval_votes=200
    )
    assert result.factors_used == [0, 1, 2] and result.train_votes[:, 3:].sum() == 0
    # factor 0's values have 180 items, factor 1's 144 and factor 2's 120 (< 150)
    assert 0 < result.votes_with_replacement < 400
    assert result.score == 1.0


# Bad input, for every score


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda c, f: dci(c, f, c, f, regressor="svm"), "accepted: gradient-boosting"),
        (lambda c, f: dci(c[:, :1], f, c[:, :1], f), "at least 2 code dimensions"),
        (lambda c, f: dci(c, f[:, :1], c, f[:, :1]), "at least 2 factors"),
        (lambda c, f: dci(c, f, c[:, :2], f), "same code dimensions"),
        (lambda c, f: dci(c, f[:-1], c, f), "same items in the train split"),
        (lambda c, f: sap(c, f, c, f.astype(float)), "integer value indices"),
        (lambda c, f: sap(c[:, :1], f, c[:, :1], f), "at least 2 code dimensions"),
        (lambda c, f: sap(c, f, c[:0], f[:0]), "at least one item"),
        (lambda c, f: sap(c, f * 0, c, f), "factor 0 takes a single value in the train split"),
        (lambda c, f: sap(np.where(c > 1, np.nan, c), f, c, f), "NaN"),
        (lambda c, f: dci(c, f, c, f, seed=-1), "seed must be at least 0"),
        (lambda c, f: factor_vae_score(c, f[:-1]), "same items"),
        (lambda c, f: factor_vae_score(c * np.inf, f), "NaN or infinite"),
        (lambda c, f: factor_vae_score(c, f.astype(float)), "integer value indices"),
        (lambda c, f: factor_vae_score(c, f, batch_size=1), "batch_size must be at least 2"),
        (lambda c, f: factor_vae_score(c, f, num_eval_votes=0), "num_eval_votes must be"),
        (lambda c, f: factor_vae_score(c, f, prune_threshold=-1.0), "prune_threshold must be"),
        (lambda c, f: factor_vae_score(c, f[:, :1]), "at least 2 factors that vary"),
        (lambda c, f: factor_vae_score(c, f * [1, 0, 0]), "of 3 factors, 1 do ([0])"),
    ],
)
def test_bad_input_to_dci_sap_and_factor_vae_says_what_is_needed(grid, call, words):
    codes = _noisy(grid)
    with pytest.raises(ValueError) as error:
        call(codes, grid)
    assert words in str(error.value)
