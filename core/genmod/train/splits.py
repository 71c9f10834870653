"""The data of a run: training, held-out validation and test items, and their fingerprint."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from genmod.config import RunConfig
from genmod.contract.errors import ConfigError
from genmod.data import DatasetArrays
from genmod.model.assembly import load_dataset

if TYPE_CHECKING:
    from genmod.plugins.registry import Registry


@dataclass
class Splits:
    """The data of a run: training items, the held-out validation items and the test items."""

    train: DatasetArrays  # x_train/y_train: training items; x_test/y_test: test items
    x_validation: np.ndarray | None
    y_validation: np.ndarray | None

    def fingerprint(self) -> str:
        """A short SHA-256 of the training and validation items, so that a resume on other
        data is caught."""
        digest = hashlib.sha256()
        for array in (self.train.x_train, self.train.y_train, self.x_validation):
            if array is not None:
                digest.update(str(array.shape).encode())
                digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:16]


def load_splits(config: RunConfig, registry: Registry, data_dir: str | Path | None) -> Splits:
    """Load the dataset and hold out the last ``validation_size`` training items (before
    ``train_size`` cuts the rest), so the validation set does not depend on ``train_size``."""
    _, full = load_dataset(dataclasses.replace(config, train_size=None), registry, data_dir)
    n = len(full.x_train)
    v = config.validation_size
    if v >= n:
        raise ConfigError(
            f"--validation-size {v} leaves no training items (the training set has {n}); "
            "use a smaller value, or 0 for no validation split."
        )
    rest, x_val, y_val = full.hold_out(v)
    return Splits(rest.limited(config.train_size, config.test_size), x_val, y_val)
