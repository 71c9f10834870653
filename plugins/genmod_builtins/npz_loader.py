"""The ``npz`` dataset: one's own images from a numpy ``.npz`` file (never unpickled).

Keys read (others are ignored):

- ``x_train`` and ``x_test``, each with an optional label array ``y_train`` / ``y_test``; or
- ``x`` with optional labels ``y`` (also used when only ``x_train`` / ``y_train`` are there):
  shuffled with ``seed`` and split, ``test_fraction`` of it becoming the test set.

Images are ``[n, H, W]`` (grey: a channel axis is added) or ``[n, H, W, C]`` with C = 1 or 3
(channels last), any H x W, dtype uint8 (0..255) or float (float16/32/64, in [0, 1]; kept as
float32). Labels are integers ``[n]`` in ``0..num_classes-1``, given for both splits or neither.
No TensorFlow.
"""

from __future__ import annotations

import math
import tokenize
import zipfile
from pathlib import Path

import numpy as np

from genmod.contract.errors import DataError
from genmod.data import Dataset, DatasetArrays
from genmod_builtins.data_splits import split_indices

ACCEPTED = "x_train and x_test (labels y_train, y_test optional), or x (labels y optional)"
#: the keys read; any other array in the file is ignored (never read)
KEYS = ("x_train", "x_test", "y_train", "y_test", "x", "y")
#: the most classes a file's labels may give (one-hot condition vectors of conditional networks
#: are [batch, num_classes])
MAX_CLASSES = 100_000
_NPY_MAGIC = b"\x93NUMPY"


class NpzDataset(Dataset):
    """Images (and labels) from an ``.npz`` file; see the module docstring for its keys.

    ``path``: the file, absolute or relative to ``data_dir``; empty (the default): ``data_dir``
    must hold exactly one ``.npz`` file. ``test_fraction`` and ``seed``: the split when the file
    has no test set. ``num_classes``: 0 (the default) means the largest label + 1. Anything the
    file holds that breaks the rules is a :class:`DataError` naming the file, the key and what
    is accepted. ``data_shape`` is set by :meth:`load`.
    """

    name = "npz"
    data_shape = None

    def __init__(
        self, path: str = "", test_fraction: float = 0.1, seed: int = 0, num_classes: int = 0
    ) -> None:
        self.path = path
        self.test_fraction = float(test_fraction)
        self.seed = int(seed)
        self.requested_classes = int(num_classes)
        self.num_classes = int(num_classes)

    def locate(self, data_dir: Path | None) -> Path:
        """The ``.npz`` file to read, from ``path`` and ``data_dir``."""
        if self.path:
            file = Path(self.path).expanduser()
            if not file.is_absolute() and data_dir is not None:
                file = Path(data_dir) / file
            if not file.is_file():
                what = "is not a file" if file.exists() else "does not exist"
                raise DataError(f"the npz file {str(file)!r} (option path) {what}.")
            return file
        if data_dir is None:
            raise DataError(
                "the npz dataset needs its file: pass --data-dir DIR (a folder holding one .npz "
                "file) or --dataset-opt path=FILE.npz."
            )
        folder = Path(data_dir)
        if not folder.is_dir():
            raise DataError(f"the npz data folder {str(folder)!r} does not exist.")
        found = sorted(p for p in folder.iterdir() if p.suffix == ".npz" and p.is_file())
        if len(found) != 1:
            what = "no .npz file" if not found else f"{len(found)} .npz files"
            names = f" ({', '.join(p.name for p in found)})" if found else ""
            raise DataError(
                f"the npz data folder {str(folder)!r} holds {what}{names}; it must hold exactly "
                "one, or name it with --dataset-opt path=FILE.npz."
            )
        return found[0]

    def load(self, data_dir: Path | None) -> DatasetArrays:
        file = self.locate(data_dir)
        where = repr(str(file))
        arrays, names = read_npz(file, where)
        if "x_train" in arrays and "x_test" in arrays:
            x_train = self._images(arrays["x_train"], "x_train", where)
            x_test = self._images(arrays["x_test"], "x_test", where)
            y_train = self._labels(arrays.get("y_train"), "y_train", len(x_train), where)
            y_test = self._labels(arrays.get("y_test"), "y_test", len(x_test), where)
            if (y_train is None) != (y_test is None):
                given, missing = ("y_train", "y_test") if y_test is None else ("y_test", "y_train")
                raise DataError(
                    f"{where} has {given} but no {missing}: give labels for both splits or neither."
                )
            if x_train.shape[1:] != x_test.shape[1:]:
                raise DataError(
                    f"{where}: x_train items have shape {list(x_train.shape[1:])} but x_test "
                    f"items {list(x_test.shape[1:])}; both splits need the same image shape."
                )
            if x_train.dtype != x_test.dtype:
                raise DataError(
                    f"{where}: x_train is {x_train.dtype} but x_test is {x_test.dtype}; give "
                    "both splits the same dtype (uint8, or float in [0, 1])."
                )
        else:
            key = "x" if "x" in arrays else "x_train" if "x_train" in arrays else None
            if key is None:
                present = ", ".join(sorted(names)) or "nothing"
                raise DataError(f"{where} holds {present}; expected {ACCEPTED}.")
            label_key = "y" if key == "x" else "y_train"
            x = self._images(arrays[key], key, where)
            y = self._labels(arrays.get(label_key), label_key, len(x), where)
            train, test = split_indices(len(x), self.test_fraction, self.seed, f"{where} ({key})")
            x_train, x_test = x[train], x[test]
            y_train, y_test = (None, None) if y is None else (y[train], y[test])
        num_classes = self._num_classes(y_train, y_test, where)
        self.data_shape = tuple(int(d) for d in x_train.shape[1:])
        self.num_classes = num_classes
        return DatasetArrays(x_train, y_train, x_test, y_test, num_classes)

    @staticmethod
    def _images(x: np.ndarray, key: str, where: str) -> np.ndarray:
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise DataError(
                f"{where}: {key} has shape {list(x.shape)}; expected [n, height, width] (grey) "
                "or [n, height, width, channels] with 1 or 3 channels (channels last)."
            )
        if min(x.shape) == 0:
            raise DataError(f"{where}: {key} has shape {list(x.shape)}, which is empty.")
        if x.dtype == np.uint8:
            return x
        if x.dtype.kind != "f":
            raise DataError(
                f"{where}: {key} has dtype {x.dtype}; expected uint8 (0..255) or float in "
                "[0, 1] (convert 8-bit values with .astype(numpy.uint8))."
            )
        dtype, x = x.dtype, x.astype(np.float32)
        if not np.isfinite(x).all():
            raise DataError(f"{where}: {key} holds NaN or infinite values.")
        low, high = float(x.min()), float(x.max())
        if low < 0.0 or high > 1.0:
            raise DataError(
                f"{where}: {key} is {dtype} with values in [{low:g}, {high:g}]; float images "
                "must lie in [0, 1] (divide 8-bit values by 255, or store them as uint8)."
            )
        return x

    @staticmethod
    def _labels(y: np.ndarray | None, key: str, n: int, where: str) -> np.ndarray | None:
        if y is None:
            return None
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.shape != (n,):
            raise DataError(
                f"{where}: {key} has shape {list(y.shape)}; expected [{n}] (one integer label "
                "per image)."
            )
        if y.dtype.kind not in "iu":
            raise DataError(
                f"{where}: {key} has dtype {y.dtype}; labels must be integers (class indices "
                "0..num_classes-1), not one-hot vectors or floats."
            )
        if y.dtype.kind == "u" and int(y.max()) > np.iinfo(np.int64).max:
            raise DataError(
                f"{where}: {key} has label {int(y.max())}; labels are class indices "
                "0..num_classes-1."
            )
        y = y.astype(np.int64)
        if int(y.min()) < 0:
            raise DataError(
                f"{where}: {key} has label {int(y.min())}; labels must be >= 0 (0..num_classes-1)."
            )
        return y

    def _num_classes(self, y_train, y_test, where: str) -> int:
        if y_train is None:
            return 0
        high = max(int(y_train.max()), int(y_test.max()))
        if self.requested_classes > MAX_CLASSES:
            raise DataError(
                f"{where}: num_classes {self.requested_classes} is more than genmod takes "
                f"({MAX_CLASSES}); labels are class indices 0..num_classes-1."
            )
        items = len(y_train) + len(y_test)
        if not self.requested_classes and (high >= items or high >= MAX_CLASSES):
            key = "y_train" if int(y_train.max()) == high else "y_test"
            raise DataError(
                f"{where}: {key} has label {high}, so {high + 1} classes for {items} items; "
                "labels must be class indices 0..num_classes-1 (renumber them, e.g. with "
                "numpy.unique(y, return_inverse=True)), or give --dataset-opt num_classes=K."
            )
        if self.requested_classes and high >= self.requested_classes:
            key = "y_train" if int(y_train.max()) == high else "y_test"
            raise DataError(
                f"{where}: {key} has label {high}, out of range for num_classes "
                f"{self.requested_classes} (labels 0..{self.requested_classes - 1})."
            )
        return self.requested_classes or high + 1


def read_npz(file: Path, where: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """(the arrays of :data:`KEYS` in the ``.npz`` file ``file``, the names of all its
    members). Other members are not read. Each array is
    checked before it is read: a numpy ``.npy`` member, not of Python objects, whose header
    declares no more data than the member holds (so a crafted header cannot make genmod
    allocate memory for data that is not there). ``where`` names the file in the
    :class:`DataError` raised for anything else."""
    try:
        with open(file, "rb") as handle:
            start = handle.read(len(_NPY_MAGIC))
    except OSError as exc:
        raise DataError(f"{where} could not be read ({type(exc).__name__}: {exc}).") from None
    if start == _NPY_MAGIC:
        raise DataError(
            f"{where} is a single numpy array (.npy), not an .npz archive of named "
            f"arrays; expected {ACCEPTED} (write them with numpy.savez)."
        )
    try:
        with zipfile.ZipFile(file) as archive:
            members = {
                (info.filename[:-4] if info.filename.endswith(".npy") else info.filename): info
                for info in archive.infolist()
            }
            arrays = {
                key: _read_member(archive, members[key], key, where)
                for key in KEYS
                if key in members
            }
            return arrays, list(members)
    except DataError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise DataError(
            f"{where} could not be read as a numpy .npz file ({type(exc).__name__}: {exc}); "
            "it is truncated, corrupt or not an .npz file (write it with numpy.savez)."
        ) from None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, where: str):
    """One array of the archive, its ``.npy`` header checked first (see :func:`read_npz`)."""
    fmt = np.lib.format
    try:
        with archive.open(info) as member:
            if member.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
                raise DataError(
                    f"{where}: the member {info.filename!r} (key {key!r}) is not a numpy array "
                    "(.npy); write the file with numpy.savez."
                )
            member.seek(0)
            major, _ = fmt.read_magic(member)
            read_header = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
            shape, _, dtype = read_header(member)
            header_end = member.tell()
    except DataError:
        raise
    except (ValueError, SyntaxError, TypeError, tokenize.TokenError, EOFError) as exc:
        raise DataError(
            f"{where}: the array {key!r} has a corrupt .npy header ({type(exc).__name__}: "
            f"{exc}); write the file again with numpy.savez."
        ) from None
    if dtype.hasobject:
        raise DataError(
            f"{where}: the array {key!r} holds Python objects, which genmod does not "
            "unpickle; save numeric arrays (uint8 or float images, integer labels)."
        )
    needed = math.prod(shape) * dtype.itemsize
    if header_end + needed > info.file_size:
        raise DataError(
            f"{where}: the array {key!r} declares shape {list(shape)} of {dtype} "
            f"({needed:,} bytes) but holds {max(info.file_size - header_end, 0):,} bytes; the "
            "file is truncated or corrupt."
        )
    try:
        with archive.open(info) as member:
            return fmt.read_array(member, allow_pickle=False)
    except MemoryError:
        raise DataError(
            f"{where}: the array {key!r} ({list(shape)} of {dtype}, {needed / 2**30:.1f} GiB) "
            "does not fit in memory."
        ) from None
