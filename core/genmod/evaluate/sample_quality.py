"""Sample-quality statistics between two sets of features: the Fréchet distance (FID), the
kernel inception distance (KID) and improved precision and recall. numpy only, no TensorFlow.

Features are float arrays ``[items, dims]``: a feature extractor's outputs for real (test)
images and for generated ones. These functions only compare the two sets; which extractor
produced them, how many samples and which images are the caller's to record. Every function is
deterministic given its inputs (and ``seed`` where subsets are drawn).

* :func:`frechet_distance`: ``|mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))`` between the
  Gaussians fitted to the two sets (Heusel et al. 2017), the trace of the matrix square root
  taken from the eigenvalues of ``S_r^(1/2) S_g S_r^(1/2)`` (symmetric, so no complex parts).
* :func:`kernel_inception_distance`: the unbiased estimator of MMD^2 with the cubic polynomial
  kernel ``k(a, b) = (a.b / dims + 1)^3`` (Bińkowski et al. 2018), averaged over random subsets.
* :func:`precision_recall`: the k-nearest-neighbour manifold estimate of Kynkäänniemi et al.
  (2019): precision is the share of generated items inside some real item's k-NN ball,
  recall the share of real items inside some generated item's k-NN ball.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DISTANCE_ROWS",
    "GaussianStatistics",
    "KIDResult",
    "frechet_distance",
    "gaussian_statistics",
    "kernel_inception_distance",
    "precision_recall",
    "unbiased_mmd2",
]


def _features(name: str, values: np.ndarray, minimum: int) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be [items, dims]; got shape {list(array.shape)}.")
    if array.shape[0] < minimum:
        raise ValueError(
            f"{name} has {array.shape[0]} items; this estimate needs at least {minimum}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values.")
    return array


@dataclass(frozen=True)
class GaussianStatistics:
    """Mean ``[dims]`` and covariance ``[dims, dims]`` (float64) of a feature set, with the
    number of items they came from."""

    mean: np.ndarray
    covariance: np.ndarray
    items: int


def gaussian_statistics(features: np.ndarray) -> GaussianStatistics:
    """The mean and the unbiased covariance (divisor ``items - 1``) of ``features``
    ``[items, dims]`` (at least 2 items)."""
    array = _features("features", features, 2)
    return GaussianStatistics(array.mean(axis=0), np.cov(array, rowvar=False), len(array))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (eigenvalues
    below zero, from rounding, are taken as zero)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(real: GaussianStatistics, generated: GaussianStatistics) -> float:
    """The squared Fréchet (2-Wasserstein) distance between N(mu_r, S_r) and N(mu_g, S_g),
    in squared feature units; 0 for equal statistics, never negative."""
    if real.mean.shape != generated.mean.shape:
        raise ValueError(
            f"the feature sets have {real.mean.shape[0]} and {generated.mean.shape[0]} "
            "dimensions; they must come from the same extractor."
        )
    root = _psd_sqrt(real.covariance)
    middle = root @ generated.covariance @ root
    cross = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None))))
    mean_term = float(np.sum((real.mean - generated.mean) ** 2))
    trace = float(np.trace(real.covariance) + np.trace(generated.covariance))
    return max(mean_term + trace - 2.0 * cross, 0.0)


def _polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def unbiased_mmd2(real: np.ndarray, generated: np.ndarray) -> float:
    """The unbiased estimate of MMD^2 between two feature sets under the cubic polynomial
    kernel: the mean off-diagonal kernel within each set minus twice the mean across."""
    real = _features("real features", real, 2)
    generated = _features("generated features", generated, 2)
    m, n = len(real), len(generated)
    k_rr = _polynomial_kernel(real, real)
    k_gg = _polynomial_kernel(generated, generated)
    k_rg = _polynomial_kernel(real, generated)
    within_r = (k_rr.sum() - np.trace(k_rr)) / (m * (m - 1))
    within_g = (k_gg.sum() - np.trace(k_gg)) / (n * (n - 1))
    return float(within_r + within_g - 2.0 * k_rg.mean())


@dataclass(frozen=True)
class KIDResult:
    """KID: the mean and the standard deviation over subsets of the unbiased MMD^2, with how
    it was estimated."""

    mean: float
    std: float
    subsets: int
    subset_size: int


def kernel_inception_distance(
    real: np.ndarray,
    generated: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> KIDResult:
    """KID between two feature sets: :func:`unbiased_mmd2` on ``subsets`` pairs of random
    subsets of ``subset_size`` items (without replacement within a subset; the size is cut to
    the smaller set when that is smaller), drawn with numpy's PCG64 from ``seed``. The
    defaults are those of Bińkowski et al.'s reference code."""
    real = _features("real features", real, 2)
    generated = _features("generated features", generated, 2)
    if real.shape[1] != generated.shape[1]:
        raise ValueError(
            f"the feature sets have {real.shape[1]} and {generated.shape[1]} dimensions; "
            "they must come from the same extractor."
        )
    if subsets < 1 or subset_size < 2:
        raise ValueError(
            f"KID needs subsets >= 1 and subset_size >= 2; got {subsets}, {subset_size}."
        )
    size = min(subset_size, len(real), len(generated))
    rng = np.random.default_rng(seed)
    values = [
        unbiased_mmd2(
            real[rng.choice(len(real), size, replace=False)],
            generated[rng.choice(len(generated), size, replace=False)],
        )
        for _ in range(subsets)
    ]
    return KIDResult(float(np.mean(values)), float(np.std(values)), subsets, size)


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = np.sum(a**2, axis=1)[:, None] + np.sum(b**2, axis=1)[None, :] - 2.0 * a @ b.T
    return np.clip(squared, 0.0, None)


#: rows of the distance matrix held at once by precision/recall (memory: rows x items x 8 B)
DISTANCE_ROWS = 1024


def _knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each item to its k-th nearest other item (``DISTANCE_ROWS`` rows
    of the distance matrix at a time)."""
    radii = np.empty(len(features))
    for start in range(0, len(features), DISTANCE_ROWS):
        block = _squared_distances(features[start : start + DISTANCE_ROWS], features)
        rows = np.arange(block.shape[0])
        block[rows, start + rows] = np.inf  # an item is not its own neighbour
        radii[start : start + len(rows)] = np.partition(block, k - 1, axis=1)[:, k - 1]
    return radii


def _coverage(manifold: np.ndarray, radii: np.ndarray, probes: np.ndarray) -> float:
    """Share of ``probes`` inside at least one ball (centre ``manifold[i]``, squared radius
    ``radii[i]``)."""
    inside = 0
    for start in range(0, len(probes), DISTANCE_ROWS):
        block = _squared_distances(probes[start : start + DISTANCE_ROWS], manifold)
        inside += int(np.sum(np.any(block <= radii[None, :], axis=1)))
    return inside / len(probes)


def precision_recall(real: np.ndarray, generated: np.ndarray, *, k: int = 3) -> tuple[float, float]:
    """``(precision, recall)`` in ``[0, 1]`` (Kynkäänniemi et al. 2019, k = 3 as in the paper):
    precision is the share of generated items within the k-NN radius of some real item,
    recall the share of real items within the k-NN radius of some generated item. Memory:
    :data:`DISTANCE_ROWS` x ``items`` float64 distances at a time."""
    if k < 1:
        raise ValueError(f"precision/recall needs k >= 1; got {k}.")
    real = _features("real features", real, k + 1)
    generated = _features("generated features", generated, k + 1)
    if real.shape[1] != generated.shape[1]:
        raise ValueError(
            f"the feature sets have {real.shape[1]} and {generated.shape[1]} dimensions; "
            "they must come from the same extractor."
        )
    precision = _coverage(real, _knn_radii(real, k), generated)
    recall = _coverage(generated, _knn_radii(generated, k), real)
    return precision, recall
