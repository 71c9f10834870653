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

    Ground-truth factors, for datasets generated from known factors of variation (dSprites,
    3D Shapes, the procedural ``sprites``), which the disentanglement metrics need:
    ``factors_*``: integer ``[n, len(factor_names)]`` value indices (column k is factor k's
    value as an index ``0..factor_sizes[k]-1``: shape, scale, position, ...), or ``None``;
    ``factor_names``: one name per column; ``factor_sizes``: how many values each factor takes
    (an empty tuple: the largest index + 1 seen in either split).
    """

    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    num_classes: int = 0
    factors_train: np.ndarray | None = None
    factors_test: np.ndarray | None = None
    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()

    @property
    def has_factors(self) -> bool:
        """Whether the test split carries ground-truth factors."""
        return self.factors_test is not None

    @property
    def data_shape(self) -> tuple[int, ...]:
        """The shape of one item, ``x_train.shape[1:]`` (MNIST: ``(28, 28, 1)``)."""
        return tuple(self.x_train.shape[1:])

    def hold_out(self, count: int) -> tuple[DatasetArrays, np.ndarray | None, np.ndarray | None]:
        """Split off the last ``count`` training items (a run's validation set): the rest,
        and the held-out images and labels (``None`` when ``count`` is 0 or there are no
        labels). ``count`` must leave at least one training item (the caller says why not)."""
        n = len(self.x_train)
        if not 0 <= count < n:
            raise ValueError(f"cannot hold out {count} of {n} training items")
        x_held = self.x_train[n - count :] if count else None
        y_held = self.y_train[n - count :] if (count and self.y_train is not None) else None
        rest = dataclasses.replace(
            self,
            x_train=self.x_train[: n - count],
            y_train=None if self.y_train is None else self.y_train[: n - count],
            factors_train=None if self.factors_train is None else self.factors_train[: n - count],
        )
        return rest, x_held, y_held

    def limited(self, train_size: int | None, test_size: int | None) -> DatasetArrays:
        """The first ``train_size`` training and ``test_size`` test items (None keeps all)."""

        def cut(a: np.ndarray | None, n: int | None) -> np.ndarray | None:
            return a if a is None or n is None else a[:n]

        return dataclasses.replace(
            self,
            x_train=cut(self.x_train, train_size),
            y_train=cut(self.y_train, train_size),
            x_test=cut(self.x_test, test_size),
            y_test=cut(self.y_test, test_size),
            factors_train=cut(self.factors_train, train_size),
            factors_test=cut(self.factors_test, test_size),
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
    - Factors, when given, are integer arrays ``[n, F]`` (one row per item of the split) with
      ``F = len(factor_names) >= 1`` unique names, values in ``0..factor_sizes[k]-1``
      (``factor_sizes`` may be left empty: it is then filled in from the values).

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
    factor_sizes = _check_factors(arrays, who)
    return dataclasses.replace(
        arrays,
        num_classes=num_classes,
        factor_names=tuple(arrays.factor_names),
        factor_sizes=factor_sizes,
    )


def _check_factors(arrays: DatasetArrays, who: str) -> tuple[int, ...]:
    """The rule for ground-truth factors (see :class:`Dataset`); returns ``factor_sizes``."""
    given = [s for s in ("train", "test") if getattr(arrays, f"factors_{s}") is not None]
    raw = arrays.factor_names
    names = tuple(raw) if isinstance(raw, (tuple, list)) else ()
    if not given:
        if raw or arrays.factor_sizes:
            raise PluginError(
                f"{who}: factor_names/factor_sizes are set but factors_train and factors_test "
                "are None; return the factors or leave the names out."
            )
        return ()
    if (
        not names
        or not all(isinstance(n, str) and n for n in names)
        or len(set(names)) != len(names)
    ):
        raise PluginError(
            f"{who}: factor_names is {arrays.factor_names!r}; it must name every factor column "
            "once (non-empty, unique strings)."
        )
    tops = []
    for split in given:
        f = getattr(arrays, f"factors_{split}")
        n = len(getattr(arrays, f"x_{split}"))
        if not isinstance(f, np.ndarray) or not np.issubdtype(f.dtype, np.integer):
            kind = f.dtype if isinstance(f, np.ndarray) else type(f).__name__
            raise PluginError(
                f"{who}: factors_{split} is {kind}; expected integer value indices [n, factors]."
            )
        if f.shape != (n, len(names)):
            raise PluginError(
                f"{who}: factors_{split} has shape {list(f.shape)}; expected [{n}, {len(names)}] "
                f"(one row per item of x_{split}, one column per factor in factor_names)."
            )
        if n and int(f.min()) < 0:
            raise PluginError(f"{who}: factors_{split} holds negative indices; expected >= 0.")
        tops.append(f.max(axis=0) if n else np.zeros(len(names), np.int64))
    top = np.max(np.stack(tops), axis=0)
    if not arrays.factor_sizes:
        return tuple(int(t) + 1 for t in top)
    sizes = arrays.factor_sizes
    if len(sizes) != len(names) or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in sizes
    ):
        raise PluginError(
            f"{who}: factor_sizes is {sizes!r}; expected {len(names)} positive ints (one per "
            "factor), or an empty tuple."
        )
    for k, (size, seen) in enumerate(zip(sizes, top, strict=True)):
        if seen >= size:
            raise PluginError(
                f"{who}: factor {names[k]!r} has index {int(seen)} but factor_sizes says "
                f"{int(size)} values (0..{int(size) - 1})."
            )
    return tuple(int(s) for s in sizes)


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
