"""The dataset interface."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genmod.contract.errors import DataError


@dataclass
class DatasetArrays:
    """A dataset held in memory.

    ``x_*``: uint8 ``[n, *data_shape]`` in 0..255 or float32 in ``[0, 1]``; ``y_*``: int64
    ``[n]`` class labels in ``0..num_classes-1``, or ``None`` for unlabelled data.
    """

    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    num_classes: int = 0

    @property
    def data_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def limited(self, train_size: int | None, test_size: int | None) -> DatasetArrays:
        """The first ``train_size`` training and ``test_size`` test items (None keeps all)."""

        def cut(a: np.ndarray | None, n: int | None) -> np.ndarray | None:
            return a if a is None or n is None else a[:n]

        return DatasetArrays(
            cut(self.x_train, train_size),
            cut(self.y_train, train_size),
            cut(self.x_test, test_size),
            cut(self.y_test, test_size),
            self.num_classes,
        )


class Dataset:
    """A dataset plugin: knows its name, its data shape and how to load itself.

    Subclasses set ``name``, ``data_shape`` and ``num_classes`` (0 when unlabelled) and
    implement :meth:`load`. ``data_dir`` is the folder the user chose (``--data-dir`` or
    ``GENMOD_DATA_DIR``) or ``None`` for the per-user cache folder; ``load`` may download into
    the cache folder, and must raise :class:`genmod.contract.errors.DataError` with a clear
    message when the data is missing or corrupt.
    """

    name: str = ""
    data_shape: tuple[int, ...] = ()
    num_classes: int = 0

    def load(self, data_dir: Path | None) -> DatasetArrays:
        raise NotImplementedError


def default_cache_dir(dataset: str) -> Path:
    """The per-user cache folder for ``dataset``: ``$GENMOD_CACHE_DIR`` or the XDG cache."""
    root = os.environ.get("GENMOD_CACHE_DIR")
    if root:
        return Path(root).expanduser() / dataset
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "genmod" / dataset


def require_dir(path: Path, what: str) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"the {what} folder {str(path)!r} does not exist.")
    if not path.is_dir():
        raise DataError(f"the {what} path {str(path)!r} is not a folder.")
    return path
