"""FID, KID and precision/recall (genmod.evaluate.sample_quality) against independent
computations: closed forms, a matrix square root by another algorithm and by scipy, a kernel
sum by hand, point sets whose overlap is known."""

from __future__ import annotations

import numpy as np
import pytest

from genmod.evaluate.sample_quality import (
    GaussianStatistics,
    frechet_distance,
    gaussian_statistics,
    kernel_inception_distance,
    precision_recall,
    unbiased_mmd2,
)


def _stats(mean, covariance) -> GaussianStatistics:
    return GaussianStatistics(np.asarray(mean, float), np.asarray(covariance, float), 0)


def _sqrtm_denman_beavers(matrix: np.ndarray, steps: int = 60) -> np.ndarray:
    """A matrix square root by the Denman-Beavers iteration (works for the non-symmetric
    product S1 S2, whose eigenvalues are positive): independent of the eigen-decomposition
    the module uses."""
    y, z = matrix.copy(), np.eye(len(matrix))
    for _ in range(steps):
        y, z = (y + np.linalg.inv(z)) / 2, (z + np.linalg.inv(y)) / 2
    return y


def test_frechet_distance_of_one_dimensional_gaussians_is_the_closed_form():
    # N(0, 1) against N(1, 4): (0 - 1)^2 + (1 - 2)^2 = 2
    assert frechet_distance(_stats([0.0], [[1.0]]), _stats([1.0], [[4.0]])) == pytest.approx(2.0)


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    v1, v2 = rng.uniform(0.1, 3.0, 6), rng.uniform(0.1, 3.0, 6)
    want = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    got = frechet_distance(_stats(mu1, np.diag(v1)), _stats(mu2, np.diag(v2)))
    assert got == pytest.approx(want, rel=1e-10)


def test_frechet_distance_on_random_covariances_matches_another_square_root():
    rng = np.random.default_rng(1)
    for dims in (2, 5, 12):
        a, b = rng.normal(size=(dims, dims)), rng.normal(size=(dims, dims))
        s1, s2 = a @ a.T + 0.1 * np.eye(dims), b @ b.T + 0.1 * np.eye(dims)
        mu1, mu2 = rng.normal(size=dims), rng.normal(size=dims)
        cross = np.trace(_sqrtm_denman_beavers(s1 @ s2))
        want = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * cross
        got = frechet_distance(_stats(mu1, s1), _stats(mu2, s2))
        assert got == pytest.approx(want, rel=1e-8)
        assert got == pytest.approx(frechet_distance(_stats(mu2, s2), _stats(mu1, s1)))


def test_frechet_distance_on_random_covariances_matches_scipy():
    """Against scipy's general matrix square root (Schur method) of the non-symmetric S1 S2, the
    computation of the original FID code."""
    from scipy import linalg

    rng = np.random.default_rng(7)
    for dims in (3, 16, 64):
        a, b = rng.normal(size=(dims, 2 * dims)), rng.normal(size=(dims, 2 * dims))
        s1, s2 = a @ a.T / dims, b @ b.T / dims
        mu1, mu2 = rng.normal(size=dims), rng.normal(size=dims)
        cross = np.trace(linalg.sqrtm(s1 @ s2)).real
        want = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * cross
        assert frechet_distance(_stats(mu1, s1), _stats(mu2, s2)) == pytest.approx(want, rel=1e-7)


def test_frechet_distance_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    features = np.random.default_rng(2).normal(size=(500, 8))
    stats = gaussian_statistics(features)
    assert frechet_distance(stats, stats) == pytest.approx(0.0, abs=1e-9)
    shifted = gaussian_statistics(features + 0.5)
    assert frechet_distance(stats, shifted) == pytest.approx(8 * 0.25, rel=1e-9)
    np.testing.assert_allclose(stats.covariance, np.cov(features.T))


def test_unbiased_mmd2_by_hand():
    # k(a, b) = (a b + 1)^3 in one dimension; real {0, 1}, generated {2, 3}:
    # within real k(0,1) = 1; within generated k(2,3) = 343;
    # across (k(0,2) + k(0,3) + k(1,2) + k(1,3)) / 4 = (1 + 1 + 27 + 64) / 4 = 23.25
    got = unbiased_mmd2(np.array([[0.0], [1.0]]), np.array([[2.0], [3.0]]))
    assert got == pytest.approx(1 + 343 - 2 * 23.25)


def test_kid_is_near_zero_for_one_distribution_and_not_for_two():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(400, 4)), rng.normal(size=(400, 4))
    same = kernel_inception_distance(a, b, subsets=20, subset_size=200, seed=0)
    apart = kernel_inception_distance(a, b + 1.0, subsets=20, subset_size=200, seed=0)
    assert abs(same.mean) < 0.05 and apart.mean > 1.0
    assert same.subsets == 20 and same.subset_size == 200
    again = kernel_inception_distance(a, b, subsets=20, subset_size=200, seed=0)
    assert again == same  # seeded subsets: the same numbers every time
    assert kernel_inception_distance(a[:50], b, subset_size=1000).subset_size == 50


def test_precision_and_recall_on_point_sets_with_known_overlap():
    rng = np.random.default_rng(4)
    real = rng.uniform(size=(300, 2))
    assert precision_recall(real, real) == (1.0, 1.0)
    far = real + 100.0
    assert precision_recall(real, far) == (0.0, 0.0)
    # half the generated items are real items, half are far away: precision is exactly 1/2
    half = np.concatenate([real[:150], far[:150]])
    precision, recall = precision_recall(real, half)
    assert precision == 0.5 and recall >= 0.5
    # mode dropping: generated items cover only the left half of the real set
    wide = rng.uniform(size=(600, 2)) * [2.0, 1.0]
    left = wide[wide[:, 0] < 1.0]
    precision, recall = precision_recall(wide, left)
    share = len(left) / len(wide)
    assert precision == 1.0 and share <= recall <= share + 0.1


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: precision_recall(np.zeros((3, 2)), np.zeros((10, 2))), "at least 4"),
        (lambda: precision_recall(np.zeros((10, 2)), np.zeros((10, 3))), "same extractor"),
        (lambda: gaussian_statistics(np.zeros(5)), "must be [items, dims]"),
        (lambda: unbiased_mmd2(np.full((4, 2), np.nan), np.zeros((4, 2))), "NaN"),
        (
            lambda: kernel_inception_distance(np.zeros((4, 2)), np.zeros((4, 2)), subsets=0),
            "subsets >= 1",
        ),
    ],
)
def test_bad_input_says_what_is_needed(call, words):
    with pytest.raises(ValueError) as error:
        call()
    assert words in str(error.value)
