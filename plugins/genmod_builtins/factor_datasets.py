"""Datasets with ground-truth factors of variation, for the disentanglement metrics:
``sprites`` (generated here, see :mod:`genmod_builtins.sprites_render`), ``dsprites`` (Matthey
et al. 2017) and ``shapes3d`` (Burgess & Kim 2018). Numpy (and h5py, imported when an HDF5
file is read); no TensorFlow, nothing unpickled.

Each returns every item of the grid it reads (or a seeded random subset of ``max_items``),
split by a seeded permutation into training and test items; ``factors_*`` hold each item's
factor value indices, split the same way, and ``y_*`` its shape (one of the factors).
"""

from __future__ import annotations

import math
import tokenize
import zipfile
import zlib
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

from genmod.contract.errors import ConfigError, DataError
from genmod.data import Dataset, DatasetArrays, default_cache_dir
from genmod.data.download import download_verified
from genmod_builtins import sprites_render
from genmod_builtins.data_splits import shuffled, split_indices
from genmod_builtins.memory_guard import check_fits

#: the bytes read from a file at a time (a block of whole images)
BLOCK_BYTES = 32 << 20
_NPY_MAGIC = b"\x93NUMPY"


class Sprites(Dataset):
    """Binary sprites on the full grid of (shape, scale, rotation, pos_x, pos_y), generated in
    memory (``data_dir`` is not used): uint8 ``[n, size, size, 1]`` in {0, 255}, labels the
    shape (0 square, 1 ellipse, 2 heart). See :mod:`genmod_builtins.sprites_render`."""

    name = "sprites"
    num_classes = len(sprites_render.SHAPES)

    def __init__(
        self,
        size: int = 32,
        scales: int = 4,
        rotations: int = 8,
        positions: int = 8,
        test_fraction: float = 0.1,
        seed: int = 0,
    ) -> None:
        most = sprites_render.max_positions(size)
        if positions > most:
            raise ConfigError(
                f"dataset 'sprites': positions={positions} at size={size} would put neighbouring "
                f"positions less than a quarter pixel apart; at most {most} fit (or raise size)."
            )
        self.grid = (int(size), int(scales), int(rotations), int(positions))
        self.test_fraction, self.seed = float(test_fraction), int(seed)
        self.data_shape = (int(size), int(size), 1)

    def load(self, data_dir: Path | None) -> DatasetArrays:
        size, scales, rotations, positions = self.grid
        sizes = (len(sprites_render.SHAPES), scales, rotations, positions, positions)
        n = math.prod(sizes)
        check_fits(
            2 * n,
            self.data_shape,
            f"the {n:,} sprites (and their split copies)",
            "use fewer scales, rotations or positions, or a smaller size",
        )
        images, factors = sprites_render.render_grid(size, scales, rotations, positions)
        train, test = split_indices(n, self.test_fraction, self.seed, "the sprites grid")
        return DatasetArrays(
            x_train=images[train],
            y_train=factors[train, 0],
            x_test=images[test],
            y_test=factors[test, 0],
            num_classes=self.num_classes,
            factors_train=factors[train],
            factors_test=factors[test],
            factor_names=sprites_render.FACTOR_NAMES,
            factor_sizes=sizes,
        )


class _Source:
    """An opened file: ``n`` items, their ``factors`` (int ``[n, F]``), the item ``shape``,
    and ``gather(rows, out, dest)``, which writes item ``rows[j]`` (sorted) to ``out[dest[j]]``."""

    def __init__(self, n: int, factors: np.ndarray, shape: tuple[int, ...], gather) -> None:
        self.n, self.factors, self.shape, self.gather = n, factors, shape, gather


class _FactorFile(Dataset):
    """The common loader of ``dsprites`` and ``shapes3d``: locate or download the file, choose
    ``max_items`` rows, read only those images into one array in the split's order."""

    title = ""  # the dataset's name in messages
    download_name = ""  # the file downloaded into the cache folder
    file_sha256 = ""
    mirrors: tuple[str, ...] = ()
    file_names: tuple[str, ...] = ()  # the published files, looked for in --data-dir
    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()
    label_factor = "shape"

    def __init__(self, test_fraction: float = 0.1, seed: int = 0, max_items: int = 0) -> None:
        self.test_fraction, self.seed = float(test_fraction), int(seed)
        self.max_items = int(max_items)

    def locate(self, data_dir: Path | None) -> Path:
        if data_dir is None:
            folder = default_cache_dir(self.name)
            if not (folder / self.download_name).is_file():
                download_verified(
                    self.download_name, self.mirrors, folder, file_sha256=self.file_sha256
                )
            return folder / self.download_name
        path = Path(data_dir).expanduser()
        if path.is_file() and path.suffix in {Path(n).suffix for n in self.file_names}:
            return path
        if not path.is_dir():
            what = "does not exist" if not path.exists() else "is not a folder nor the file"
            raise DataError(f"the {self.title} data folder {str(path)!r} {what}.")
        for name in self.file_names:
            if (path / name).is_file():
                return path / name
        raise DataError(
            f"the {self.title} folder {str(path)!r} holds none of {', '.join(self.file_names)}; "
            "put the published file there, or leave out --data-dir (and GENMOD_DATA_DIR) to "
            f"download it into {str(default_cache_dir(self.name))!r}."
        )

    def open(self, file: Path, where: str, stack) -> _Source:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self, data_dir: Path | None) -> DatasetArrays:
        file = self.locate(data_dir)
        where = repr(str(file))
        with ExitStack() as stack:
            source = self.open(file, where, stack)
            rows = np.arange(source.n)
            if 0 < self.max_items < source.n:
                rows = np.sort(shuffled(source.n, self.seed)[: self.max_items])
            check_fits(
                len(rows),
                source.shape,
                f"the {len(rows):,} {self.title} images",
                "read fewer with --dataset-opt max_items=N",
            )
            train, test = split_indices(len(rows), self.test_fraction, self.seed, where)
            order = np.concatenate([train, test])
            dest = np.empty(len(rows), np.int64)
            dest[order] = np.arange(len(rows))
            images = np.empty((len(rows), *source.shape), np.uint8)
            source.gather(rows, images, dest)
        factors = source.factors[rows][order]
        labels = factors[:, self.factor_names.index(self.label_factor)]
        cut = len(train)
        return DatasetArrays(
            x_train=images[:cut],
            y_train=labels[:cut],
            x_test=images[cut:],
            y_test=labels[cut:],
            num_classes=self.num_classes,
            factors_train=factors[:cut],
            factors_test=factors[cut:],
            factor_names=self.factor_names,
            factor_sizes=self.factor_sizes,
        )


def _blocks(n: int, rows: np.ndarray, item_bytes: int, read_block, read_rows=None):
    """Yield (positions j in ``rows``, their images) block by block: a whole block of items
    (``read_block(start, stop)``) where many are wanted, else ``read_rows(sorted rows)``."""
    step = max(1, BLOCK_BYTES // item_bytes)
    for start in range(0, n, step):
        stop = min(n, start + step)
        lo, hi = np.searchsorted(rows, [start, stop])
        if lo == len(rows):
            return
        if read_rows is not None and 4 * (hi - lo) < stop - start:
            if hi > lo:
                yield slice(lo, hi), read_rows(rows[lo:hi])
            continue
        block = read_block(start, stop)
        if hi > lo:
            yield slice(lo, hi), block[rows[lo:hi] - start]


def _h5py():
    import h5py  # comes with Keras; imported only when an HDF5 file is read

    return h5py


def _h5_open(file: Path, where: str, stack):
    h5py = _h5py()
    try:
        return stack.enter_context(h5py.File(file, "r"))
    except OSError as exc:
        raise DataError(
            f"{where} could not be read as an HDF5 file ({exc}); it is truncated, corrupt or "
            "not HDF5. Delete it and download it again."
        ) from None


def _h5_array(h5, key: str, where: str, shape: tuple, kind: str, expected: str):
    """The HDF5 dataset ``key``, checked to be ``shape`` (None: any length) of dtype kind(s)."""
    try:
        obj = h5[key]
    except (KeyError, TypeError, ValueError):
        obj = None
    if not isinstance(obj, _h5py().Dataset):
        raise DataError(f"{where} has no dataset {key!r}; expected {expected}.")
    _check_layout(where, key, obj.shape, obj.dtype, shape, kind, expected)
    return obj


def _check_layout(where, key, got_shape, dtype, shape, kind, expected) -> None:
    """Refuse an array whose shape is not ``shape`` (None: any length) or whose dtype is not
    of ``kind``: numpy kind letters (``"iu"``: integers), or ``"uint8"`` exactly."""
    ok = len(got_shape) == len(shape) and all(
        want is None or want == got for want, got in zip(shape, got_shape, strict=True)
    )
    typed = dtype == np.uint8 if kind == "uint8" else dtype.kind in kind
    if not ok or not typed or dtype.hasobject:
        raise DataError(f"{where}: {key} is {list(got_shape)} of {dtype}; expected {expected}.")


@contextmanager
def _reading(where: str):
    """Turn a read error of a truncated or corrupt file into a one-line DataError."""
    try:
        yield
    except DataError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(
            f"{where} could not be read ({type(exc).__name__}: {exc}); it is truncated or "
            "corrupt. Delete it and download it again."
        ) from None


class DSprites(_FactorFile):
    """dSprites: 737,280 binary 64x64 sprites, every combination of shape (3), scale (6),
    orientation (40), pos_x (32), pos_y (32) once; uint8 ``[n, 64, 64, 1]`` in {0, 255}, labels
    the shape. Reads ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5`` or ``.npz`` (only its
    ``imgs`` and ``latents_classes``; the pickled ``metadata`` entry is never read)."""

    name = title = "dsprites"
    data_shape = (64, 64, 1)
    num_classes = 3
    stem = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64"
    download_name = stem + ".hdf5"
    file_names = (stem + ".hdf5", stem + ".npz")
    # The SHA-256 and size (28,024,106 bytes) pinned by TensorFlow Datasets 4.9.10
    # (tensorflow_datasets/datasets/dsprites/checksums.tsv) for
    # https://github.com/deepmind/dsprites-dataset/blob/master/<file>?raw=true
    file_sha256 = "729fa22e884c9c500e1f17415d580746b4c5894fbbb780a1319bbcfa39a745bb"
    mirrors = (
        "https://github.com/deepmind/dsprites-dataset/raw/master/",
        "https://raw.githubusercontent.com/deepmind/dsprites-dataset/master/",
    )
    factor_names = ("shape", "scale", "orientation", "pos_x", "pos_y")
    factor_sizes = (3, 6, 40, 32, 32)
    LAYOUT = "imgs [n, 64, 64] uint8 (0/1) and latents classes [n, 6] integers (dSprites)"

    def open(self, file: Path, where: str, stack) -> _Source:
        if file.suffix == ".npz":
            n, classes, stream = self._npz(file, where, stack)
        else:
            h5 = _h5_open(file, where, stack)
            imgs = _h5_array(h5, "imgs", where, (None, 64, 64), "uint8", self.LAYOUT)
            latents = _h5_array(h5, "latents/classes", where, (None, 6), "iu", self.LAYOUT)
            with _reading(where):
                n, classes = imgs.shape[0], latents[()]
            stream = (lambda a, b: imgs[a:b]), (lambda rows: imgs[rows])
        if len(classes) != n:
            raise DataError(
                f"{where} holds {n} images but {len(classes)} rows of latent classes; "
                "expected one row per image."
            )
        if n == 0:
            raise DataError(f"{where} holds no images.")
        factors = classes[:, 1:].astype(np.int64)  # column 0, the colour, is constant
        for k, (name, size) in enumerate(zip(self.factor_names, self.factor_sizes, strict=True)):
            low, high = int(factors[:, k].min()), int(factors[:, k].max())
            if low < 0 or high >= size:
                raise DataError(
                    f"{where}: the latent class {name!r} takes values {low}..{high}; dSprites "
                    f"has {size} (0..{size - 1})."
                )

        def gather(rows, out, dest):
            with _reading(where):
                for positions, data in _blocks(n, rows, 4096, *stream):
                    if data.size and data.max() > 1:
                        raise DataError(
                            f"{where}: imgs holds values up to {data.max()}; dSprites pixels "
                            "are 0 or 1."
                        )
                    out[dest[positions]] = (data * np.uint8(255))[..., None]

        return _Source(n, factors, self.data_shape, gather)

    def _npz(self, file: Path, where: str, stack):
        with _reading(where):
            archive = stack.enter_context(zipfile.ZipFile(file))
        names = {i.filename.removesuffix(".npy"): i for i in archive.infolist()}
        for key in ("imgs", "latents_classes"):
            if key not in names:
                raise DataError(f"{where} has no array {key!r}; expected {self.LAYOUT}.")
        member = stack.enter_context(archive.open(names["imgs"]))
        shape, dtype = _npy_header(member, names["imgs"], "imgs", where)
        _check_layout(where, "imgs", shape, dtype, (None, 64, 64), "uint8", self.LAYOUT)
        with archive.open(names["latents_classes"]) as handle:
            lshape, ldtype = _npy_header(handle, names["latents_classes"], "latents_classes", where)
            _check_layout(where, "latents_classes", lshape, ldtype, (None, 6), "iu", self.LAYOUT)
            handle.seek(0)
            with _reading(where):
                classes = np.lib.format.read_array(handle, allow_pickle=False)

        def read_block(start, stop):  # the stream is read in order, block after block
            data = member.read((stop - start) * 4096)
            if len(data) != (stop - start) * 4096:
                raise DataError(f"{where}: imgs is cut short; the file is truncated.")
            return np.frombuffer(data, np.uint8).reshape(-1, 64, 64)

        return shape[0], classes, (read_block,)


def _npy_header(member, info: zipfile.ZipInfo, key: str, where: str):
    """(shape, dtype) of an ``.npy`` member, its stream left at the data; refuses object
    arrays, Fortran order and headers that declare more data than the member holds."""
    fmt = np.lib.format
    try:
        if member.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
            raise DataError(f"{where}: {key!r} is not a numpy array (.npy).")
        member.seek(0)
        major, _ = fmt.read_magic(member)
        read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
        shape, fortran, dtype = read(member)
    except DataError:
        raise
    except (ValueError, SyntaxError, TypeError, tokenize.TokenError, EOFError, OSError) as exc:
        raise DataError(f"{where}: the array {key!r} has a corrupt .npy header ({exc}).") from None
    if dtype.hasobject or fortran:
        what = (
            "Python objects, which genmod does not unpickle"
            if dtype.hasobject
            else ("in Fortran order")
        )
        raise DataError(f"{where}: the array {key!r} holds {what}; expected numbers in C order.")
    if member.tell() + math.prod(shape) * dtype.itemsize > info.file_size:
        raise DataError(f"{where}: the array {key!r} is cut short; the file is truncated.")
    return shape, dtype


class Shapes3D(_FactorFile):
    """3D Shapes: 480,000 colour 64x64 renderings, every combination of floor_hue (10),
    wall_hue (10), object_hue (10), scale (8), shape (4), orientation (15) once; uint8
    ``[n, 64, 64, 3]``, labels the shape. Reads ``3dshapes.h5`` (``images``, ``labels``); the
    factor indices are the ranks of each label column's distinct values over the whole file."""

    name = title = "shapes3d"
    data_shape = (64, 64, 3)
    num_classes = 4
    download_name = "3dshapes.h5"
    file_names = ("3dshapes.h5",)
    # The SHA-256 and size (267,573,662 bytes) pinned by TensorFlow Datasets 4.9.10
    # (tensorflow_datasets/datasets/shapes3d/checksums.tsv) for
    # https://storage.googleapis.com/3d-shapes/3dshapes.h5
    file_sha256 = "0a0f6ed98baff276a50f3a081a7434d788da63cb135a98189b2a5b5769be1785"
    mirrors = ("https://storage.googleapis.com/3d-shapes/",)
    factor_names = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
    factor_sizes = (10, 10, 10, 8, 4, 15)
    LAYOUT = "images [n, 64, 64, 3] uint8 and labels [n, 6] float factor values (3D Shapes)"

    def open(self, file: Path, where: str, stack) -> _Source:
        h5 = _h5_open(file, where, stack)
        images = _h5_array(h5, "images", where, (None, 64, 64, 3), "uint8", self.LAYOUT)
        labels = _h5_array(h5, "labels", where, (None, 6), "f", self.LAYOUT)
        with _reading(where):
            n, values = images.shape[0], labels[()]
        if len(values) != n or n == 0:
            raise DataError(
                f"{where} holds {n} images but {len(values)} rows of labels; expected one row "
                "per image."
            )
        if not np.isfinite(values).all():
            raise DataError(f"{where}: labels holds NaN or infinite values.")
        factors = np.empty(values.shape, np.int64)
        for k, (name, size) in enumerate(zip(self.factor_names, self.factor_sizes, strict=True)):
            distinct, factors[:, k] = np.unique(values[:, k], return_inverse=True)
            if len(distinct) != size:
                raise DataError(
                    f"{where}: labels column {k} ({name}) takes {len(distinct)} distinct values; "
                    f"3D Shapes has {size}."
                )

        def gather(rows, out, dest):
            blocks = _blocks(n, rows, 64 * 64 * 3, lambda a, b: images[a:b], lambda r: images[r])
            with _reading(where):
                for positions, data in blocks:
                    out[dest[positions]] = data

        return _Source(n, factors, self.data_shape, gather)
