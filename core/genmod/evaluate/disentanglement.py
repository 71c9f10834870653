"""Disentanglement scores of a representation against ground-truth factors. numpy only.

Codes are float arrays ``[items, code_dims]`` (e.g. the posterior's location for each image),
factors are integer arrays ``[items, factors]`` (each column one ground-truth factor's value
index: shape, scale, position, ...). Each function states its estimator choices, since the
numbers depend on them; they are deterministic given their inputs.

* :func:`mutual_information_gap` (MIG; Chen et al. 2018, "Isolating sources of
  disentanglement in VAEs"): for each factor, the gap between the two code dimensions that
  share the most mutual information with it, divided by the factor's entropy, averaged over
  factors. Codes are discretized into ``bins`` equal-width bins per dimension (20 by default,
  as in Locatello et al. 2019's disentanglement_lib), so the mutual information is that of
  the histogram, in nats, and the score is in ``[0, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MIGResult", "discretize", "discrete_mutual_information", "mutual_information_gap"]


def discretize(codes: np.ndarray, bins: int = 20) -> np.ndarray:
    """Integer bin indices ``[items, code_dims]`` in ``[0, bins)``: each dimension cut into
    ``bins`` equal-width bins between its own minimum and maximum (a constant dimension
    falls in bin 0). Invariant to shifting and positively rescaling a dimension."""
    if bins < 2:
        raise ValueError(f"bins must be at least 2; got {bins}.")
    codes = np.asarray(codes, dtype=np.float64)
    low, high = codes.min(axis=0), codes.max(axis=0)
    width = np.where(high > low, high - low, 1.0)
    index = np.floor((codes - low) / width * bins).astype(np.int64)
    return np.clip(index, 0, bins - 1)


def _entropy(labels: np.ndarray) -> float:
    _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    return float(-np.sum(p * np.log(p)))


def discrete_mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) in nats of two integer label vectors ``[items]``, from their joint counts."""
    _, a_index = np.unique(a, return_inverse=True)
    _, b_index = np.unique(b, return_inverse=True)
    joint = np.zeros((a_index.max() + 1, b_index.max() + 1))
    np.add.at(joint, (a_index, b_index), 1.0)
    joint /= joint.sum()
    outer = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    nonzero = joint > 0
    return float(np.sum(joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])))


@dataclass(frozen=True)
class MIGResult:
    """MIG and what it came from: ``per_factor`` gaps (normalised by each factor's entropy),
    ``mutual_information`` ``[code_dims, factors]`` in nats, ``factor_entropy`` in nats, and
    the estimator's settings (``bins``, ``items``)."""

    score: float
    per_factor: list[float]
    mutual_information: np.ndarray
    factor_entropy: list[float]
    bins: int
    items: int


def mutual_information_gap(codes: np.ndarray, factors: np.ndarray, *, bins: int = 20) -> MIGResult:
    """MIG of ``codes`` ``[items, code_dims]`` (at least 2 dimensions) against integer
    ``factors`` ``[items, factors]``; a factor with a single value (entropy 0) is refused."""
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise ValueError(
            f"codes must be [items, code_dims] and factors [items, factors] with the same items; "
            f"got {list(codes.shape)} and {list(factors.shape)}."
        )
    if codes.shape[1] < 2:
        raise ValueError("MIG needs at least 2 code dimensions (it is a gap between the top two).")
    if not np.issubdtype(factors.dtype, np.integer):
        raise ValueError("factors must be integer value indices (discretize continuous ones).")
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes hold NaN or infinite values.")
    binned = discretize(codes, bins)
    entropy = [_entropy(factors[:, k]) for k in range(factors.shape[1])]
    constant = [k for k, h in enumerate(entropy) if h == 0.0]
    if constant:
        raise ValueError(f"factor {constant[0]} takes a single value; MIG needs it to vary.")
    information = np.array(
        [
            [
                discrete_mutual_information(binned[:, j], factors[:, k])
                for k in range(factors.shape[1])
            ]
            for j in range(codes.shape[1])
        ]
    )
    top_two = np.sort(information, axis=0)[::-1][:2]
    gaps = [float(g) for g in (top_two[0] - top_two[1]) / np.array(entropy)]
    return MIGResult(float(np.mean(gaps)), gaps, information, entropy, bins, len(codes))
