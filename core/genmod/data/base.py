"""The dataset interface."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genmod.contract.errors import DataError, PluginError


@dataclass
class DatasetArrays:
    """A dataset held in memory, as :meth:`Dataset.load` returns it.

    ``x_*``: uint8 ``[n, *data_shape]`` in 0..255 or float32 in ``[0, 1]``, ``n >= 1``;
    ``y_*``: integer ``[n]`` class labels in ``0..num_classes-1``, or ``None`` for unlabelled
    data. ``num_classes``: how many classes the labels come from; 0 (the default) means "the
    dataset's own ``num_classes``" (see :func:`validate_loaded`, which fills it in). Conditional
    models get ``num_classes``-long one-hot labels.
    """

    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    num_classes: int = 0

    @property
    def data_shape(self) -> tuple[int, ...]:
        """The shape of one item, ``x_train.shape[1:]`` (MNIST: ``(28, 28, 1)``)."""
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

    The rule genmod (``genmod run``) and the conformance kit (``check_dataset``) both apply,
    in :func:`validate_loaded`:

    - ``data_shape`` is a class attribute or is set by ``load()`` (``None`` or ``()`` until
      then); after ``load()`` it is a tuple of positive ints equal to the arrays' item shape
      (``x_train.shape[1:]`` and ``x_test.shape[1:]``).
    - ``num_classes`` is an int >= 0, a class attribute or set by ``load()``; the returned
      :class:`DatasetArrays` may give it too (``DatasetArrays.num_classes``), and then both
      must agree unless one of them is 0. The value used is the arrays' when non-zero, else the
      dataset's.
    - Labels, when given, are integer arrays ``[n]`` in ``0..num_classes-1`` (so labelled data
      needs ``num_classes >= 1``).

    A dataset that breaks the rule is a :class:`genmod.contract.errors.PluginError` naming the
    dataset, the field and the value used.
    """

    name: str = ""
    data_shape: tuple[int, ...] | None = ()
    num_classes: int = 0

    def load(self, data_dir: Path | None) -> DatasetArrays:
        """Implement this: the whole dataset as numpy arrays (:class:`DatasetArrays`).

        ``data_dir`` is the user's folder or ``None`` (then use :func:`default_cache_dir`).
        Raise :class:`genmod.contract.errors.DataError` when files are missing or corrupt.
        Must not import TensorFlow.
        """
        raise NotImplementedError


def _who(dataset: Dataset) -> str:
    return f"dataset {getattr(dataset, 'name', '') or type(dataset).__name__!r}"


def declared_data_shape(dataset: Dataset, who: str = "") -> tuple[int, ...] | None:
    """``dataset.data_shape`` as a tuple, or ``None`` while it is not set (``None`` or ``()``:
    ``load()`` may set it). Anything else than a tuple or list of positive ints is a
    :class:`PluginError` naming the value."""
    who = who or _who(dataset)
    shape = getattr(dataset, "data_shape", None)
    if shape is None or (isinstance(shape, (tuple, list)) and len(shape) == 0):
        return None
    if not isinstance(shape, (tuple, list)) or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1 for d in shape
    ):
        raise PluginError(f"{who}: data_shape is {shape!r}; it must be a tuple of positive ints.")
    return tuple(int(d) for d in shape)


def validate_loaded(dataset: Dataset, arrays: Any, who: str = "") -> DatasetArrays:
    """Check what ``dataset.load()`` returned against the rule in :class:`Dataset`; return the
    arrays with ``num_classes`` set to the value used. Raises :class:`PluginError` naming
    ``who`` (default: the dataset's name), the field and the value."""
    who = who or _who(dataset)
    if not isinstance(arrays, DatasetArrays):
        raise PluginError(
            f"{who}: load() returned {type(arrays).__name__}, not a genmod.data.DatasetArrays."
        )
    shape = declared_data_shape(dataset, who)
    if shape is None:
        raise PluginError(
            f"{who}: data_shape is {getattr(dataset, 'data_shape', None)!r} after load(); set it "
            "(a tuple of positive ints, such as (28, 28, 1)) as a class attribute or in load()."
        )
    declared = getattr(dataset, "num_classes", 0)
    given = arrays.num_classes
    for field, value in (("num_classes", declared), ("DatasetArrays.num_classes", given)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise PluginError(f"{who}: {field} is {value!r}; it must be an int >= 0.")
    if declared and given and int(declared) != int(given):
        raise PluginError(
            f"{who}: num_classes is {declared!r} but load() returned DatasetArrays.num_classes "
            f"{given!r}; they must agree (or one of them be 0)."
        )
    num_classes = int(given or declared)
    source = "DatasetArrays.num_classes" if given else "num_classes"
    for split in ("train", "test"):
        x = getattr(arrays, f"x_{split}")
        y = getattr(arrays, f"y_{split}")
        if not isinstance(x, np.ndarray):
            raise PluginError(f"{who}: x_{split} is {type(x).__name__}, not a numpy array.")
        if tuple(x.shape[1:]) != shape or len(x) == 0:
            raise PluginError(
                f"{who}: x_{split} has shape {list(x.shape)}; expected [n >= 1, *data_shape] "
                f"with data_shape {shape!r}."
            )
        if x.dtype != np.uint8:
            if x.dtype != np.float32:
                raise PluginError(
                    f"{who}: x_{split} has dtype {x.dtype}; expected uint8 (0..255) or float32 "
                    "in [0, 1]."
                )
            low, high = float(x.min()), float(x.max())
            if not (0.0 <= low and high <= 1.0):
                raise PluginError(
                    f"{who}: x_{split} is float32 in [{low:g}, {high:g}]; expected [0, 1]."
                )
        if y is None:
            continue
        if not isinstance(y, np.ndarray) or not np.issubdtype(y.dtype, np.integer):
            kind = y.dtype if isinstance(y, np.ndarray) else type(y).__name__
            raise PluginError(f"{who}: y_{split} is {kind}; expected integer labels or None.")
        if y.shape != (len(x),):
            raise PluginError(
                f"{who}: y_{split} has shape {list(y.shape)}; expected [{len(x)}] (one label "
                f"per item of x_{split})."
            )
        if num_classes < 1:
            raise PluginError(
                f"{who}: y_{split} holds labels but num_classes is 0 (both num_classes and "
                "DatasetArrays.num_classes are 0); set num_classes, or return y_* = None."
            )
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= num_classes:
            raise PluginError(
                f"{who}: y_{split} has labels in {low}..{high}; they must lie in "
                f"0..{num_classes - 1} ({source} = {num_classes})."
            )
    return dataclasses.replace(arrays, num_classes=num_classes)


def load_checked(dataset: Dataset, data_dir: Path | None, who: str = "") -> DatasetArrays:
    """``dataset.load(data_dir)``, checked by :func:`validate_loaded` (what ``genmod run`` and
    the conformance kit both call)."""
    return validate_loaded(dataset, dataset.load(data_dir), who)


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
