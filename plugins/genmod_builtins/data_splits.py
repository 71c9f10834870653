"""Splitting and shuffling one's own data reproducibly (the ``npz`` and ``image-folder``
datasets). Numpy only."""

from __future__ import annotations

import numpy as np

from genmod.contract.errors import DataError


def shuffled(n: int, seed: int) -> np.ndarray:
    """A fixed permutation of ``range(n)`` for ``seed`` (the same on every machine: numpy's
    PCG64 generator)."""
    return np.random.default_rng(seed).permutation(n)


def split_indices(n: int, test_fraction: float, seed: int, source: str) -> tuple[np.ndarray, ...]:
    """Shuffle ``n`` items with ``seed`` and cut off ``round(n * test_fraction)`` of them (at
    least 1) as the test set: returns (train indices, test indices), both non-empty.

    ``source`` names the data in the error raised when ``n`` is too small for two non-empty
    sets or ``test_fraction`` is not in (0, 1)."""
    if not 0.0 < test_fraction < 1.0:
        raise DataError(
            f"{source} has no test set, so test_fraction must split it, but it is "
            f"{test_fraction:g}; give a value between 0 and 1 (exclusive), such as 0.1."
        )
    n_test = max(1, int(round(n * test_fraction)))
    if n < 2 or n_test >= n:
        raise DataError(
            f"{source} holds {n} item(s): too few to split into a training and a test set with "
            f"test_fraction {test_fraction:g}."
        )
    order = shuffled(n, seed)
    return order[n_test:], order[:n_test]
