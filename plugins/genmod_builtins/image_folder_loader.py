"""The ``image-folder`` dataset: one's own PNG/JPEG files, read with Pillow.

Layout of ``--data-dir DIR`` (hidden files, whose names start with ``.``, are skipped):

- ``DIR/<class>/*.png|jpg|jpeg``: labelled, one sub-folder per class; labels 0..K-1 follow the
  sorted folder names; or ``DIR/*.png|jpg|jpeg``: unlabelled.
- ``DIR/train/`` and ``DIR/test/`` (both, each laid out as above): the given split, with the
  class names taken from ``train/`` (``test/`` may lack some classes, not add any). Otherwise
  all images are shuffled with ``seed`` and ``test_fraction`` of them become the test set.

Both sets are shuffled with ``seed`` (so ``--train-size``/``--test-size`` and the validation
set draw from every class). Images are resized to ``size`` (height, width; one number for a
square) with Pillow's Lanczos filter; without ``size`` all images must share the first one's
size. ``channels`` 1 or 3 converts to grey or RGB (alpha is dropped); 0 (the default) gives 3
when any image is in colour, else 1. Output: uint8 ``[n, H, W, C]``. No TensorFlow.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from genmod.contract.errors import ConfigError, DataError
from genmod.data import Dataset, DatasetArrays
from genmod_builtins.data_splits import shuffled, split_indices
from genmod_builtins.memory_guard import check_fits

EXTENSIONS = (".png", ".jpg", ".jpeg")
_GREY_MODES = {"1", "L", "LA"}


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


class ImageFolder(Dataset):
    """PNG/JPEG images from a folder tree (see the module docstring for the layout).

    ``size``: ``()`` (keep the images' own size, which must then be the same for all), ``(s,)``
    (s x s) or ``(height, width)``. ``channels``: 0 (from the images), 1 (grey) or 3 (RGB).
    ``test_fraction`` and ``seed``: the split when there are no ``train/`` and ``test/``
    folders, and the shuffle. An unreadable or non-image file, an empty folder, or mixed sizes
    without ``size`` are a :class:`DataError` naming the file or folder. ``data_shape`` and
    ``num_classes`` are set by :meth:`load`.
    """

    name = "image-folder"
    data_shape = None

    def __init__(
        self,
        size: Sequence[int] = (),
        channels: int = 0,
        test_fraction: float = 0.1,
        seed: int = 0,
    ) -> None:
        size = tuple(int(s) for s in size)
        if len(size) > 2 or any(s < 1 for s in size):
            raise ConfigError(
                f"dataset 'image-folder': option 'size' got {','.join(map(str, size))}; give "
                "one number (a square, such as size=28) or height,width (such as size=32,48)."
            )
        if channels not in (0, 1, 3):
            raise ConfigError(
                f"dataset 'image-folder': option 'channels' got {channels}; accepted: 0 (from "
                "the images), 1 (grey), 3 (RGB)."
            )
        self.size = size * 2 if len(size) == 1 else size
        self.channels = channels
        self.test_fraction = float(test_fraction)
        self.seed = int(seed)
        self.num_classes = 0

    def load(self, data_dir: Path | None) -> DatasetArrays:
        if data_dir is None:
            raise DataError(
                "the image-folder dataset needs its folder: pass --data-dir DIR (or set "
                "GENMOD_DATA_DIR), DIR holding one sub-folder of images per class, or the "
                "images themselves."
            )
        root = Path(data_dir)
        if not root.is_dir():
            raise DataError(f"the image folder {str(root)!r} does not exist or is not a folder.")
        halves = [name for name in ("train", "test") if (root / name).is_dir()]
        if len(halves) == 1 and any(p.is_dir() for p in _visible(root / halves[0])):
            other = "test" if halves[0] == "train" else "train"
            raise DataError(
                f"the image folder {str(root)!r} has {halves[0]}/ with sub-folders but no "
                f"{other}/: a given split needs both train/ and test/ (each with one sub-folder "
                "per class), or put the class folders directly in it."
            )
        if (root / "train").is_dir() and (root / "test").is_dir():
            classes, train_files = self._scan(root / "train", None)
            _, test_files = self._scan(root / "test", classes)
        else:
            classes, files = self._scan(root, None)
            train, test = split_indices(len(files), self.test_fraction, self.seed, repr(str(root)))
            train_files = [files[i] for i in sorted(train)]
            test_files = [files[i] for i in sorted(test)]
        every = train_files + test_files
        probes = [self._probe(path) for path, _ in every]  # headers only: sizes and modes
        target = self.size or self._common_size(probes, every)
        channels = self.channels or (3 if any(colour for _, colour in probes) else 1)
        check_fits(
            len(every),
            (*target, channels),
            f"the {len(every)} images of {str(root)!r}",
            "give a smaller --dataset-opt size=HEIGHT,WIDTH",
        )
        images = np.stack([self._pixels(path, target, channels) for path, _ in every])
        labels = np.array([label for _, label in every], dtype=np.int64)
        n_train = len(train_files)
        order_train = shuffled(n_train, self.seed)
        order_test = n_train + shuffled(len(test_files), self.seed + 1)
        labelled = bool(classes)
        self.data_shape = (target[0], target[1], channels)
        self.num_classes = len(classes)
        return DatasetArrays(
            x_train=images[order_train],
            y_train=labels[order_train] if labelled else None,
            x_test=images[order_test],
            y_test=labels[order_test] if labelled else None,
            num_classes=len(classes),
        )

    @staticmethod
    def _scan(folder: Path, classes: list[str] | None) -> tuple[list[str], list[tuple[Path, int]]]:
        """(class names, [(file, label)]) of one folder; label -1 when unlabelled. ``classes``:
        the names a test folder must draw from (``None``: this folder decides)."""
        entries = _visible(folder)
        subfolders = [p for p in entries if p.is_dir()]
        if not subfolders:
            if classes:
                raise DataError(
                    f"the image folder {str(folder)!r} has no class sub-folders, but the "
                    f"training folder has ({', '.join(classes)}); lay out both the same way."
                )
            files = [(ImageFolder._image_file(p), -1) for p in entries]
            if not files:
                raise DataError(
                    f"the image folder {str(folder)!r} is empty: put PNG or JPEG files in it, "
                    "or one sub-folder of them per class."
                )
            return [], files
        stray = [p for p in entries if not p.is_dir()]
        if stray:
            raise DataError(
                f"{str(stray[0])!r} lies next to the class sub-folders of {str(folder)!r}; "
                "put every image in its class's sub-folder (or use no sub-folders at all)."
            )
        names = [p.name for p in subfolders]
        if classes is None:
            classes = names
        elif classes == []:
            raise DataError(
                f"the image folder {str(folder)!r} has class sub-folders but the training "
                "folder has none; lay out both the same way."
            )
        unknown = [n for n in names if n not in classes]
        if unknown:
            raise DataError(
                f"the test folder {str(folder)!r} has class {unknown[0]!r}, which the training "
                f"folder lacks (its classes: {', '.join(classes)})."
            )
        files = []
        for sub in subfolders:
            inside = _visible(sub)
            if not inside:
                raise DataError(
                    f"the class folder {str(sub)!r} is empty: put its PNG or JPEG files in it, "
                    "or remove it."
                )
            label = classes.index(sub.name)
            files += [(ImageFolder._image_file(p), label) for p in inside]
        return classes, files

    @staticmethod
    def _image_file(path: Path) -> Path:
        if path.is_dir():
            raise DataError(
                f"{str(path)!r} is a folder inside a class folder; images must lie directly "
                "in their class's folder."
            )
        if not path.is_file():
            raise DataError(
                f"{str(path)!r} is not a regular file (a broken link, a pipe or a device); "
                "images must be PNG or JPEG files."
            )
        if path.suffix.lower() not in EXTENSIONS:
            raise DataError(
                f"{str(path)!r} is not an image file genmod reads (accepted: PNG and JPEG, "
                f"{', '.join(EXTENSIONS)}); remove it or move it out of the data folder."
            )
        return path

    @staticmethod
    def _probe(path: Path) -> tuple[tuple[int, int], bool]:
        """(width, height) and whether the image is in colour, from its header."""
        with _opened(path) as image:
            if image.mode in ("I", "F") or image.mode.startswith("I;16"):
                raise DataError(
                    f"{str(path)!r} has {image.mode} pixels (16-bit or more per channel); "
                    "genmod reads 8-bit images: convert it to 8 bits per channel."
                )
            width, height = image.size
            # EXIF orientations 5-8 turn the picture a quarter: _pixels returns it upright
            if image.getexif().get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8):
                width, height = height, width
            return (width, height), image.mode not in _GREY_MODES

    @staticmethod
    def _common_size(probes, files) -> tuple[int, int]:
        width, height = probes[0][0]
        for (size, _), (path, _) in zip(probes, files, strict=True):
            if size != (width, height):
                raise DataError(
                    f"{str(path)!r} is {size[0]}x{size[1]} (width x height) but "
                    f"{str(files[0][0])!r} is {width}x{height}; images of mixed sizes need a "
                    f"common size: --dataset-opt size={height},{width} (height,width) or "
                    f"size={height} (a square)."
                )
        return height, width

    @staticmethod
    def _pixels(path: Path, size: tuple[int, int], channels: int) -> np.ndarray:
        """The decoded image, resized to ``size`` (height, width), uint8 ``[H, W, channels]``."""
        from PIL import Image, ImageOps

        with _opened(path) as image:
            # phone photos store their rotation in EXIF; show them the way a viewer does
            image = ImageOps.exif_transpose(image)
            if image.mode == "P" and "transparency" in image.info:
                image = image.convert("RGBA")  # what Pillow asks for (else it warns on stderr)
            image = image.convert("L" if channels == 1 else "RGB")
            if image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.LANCZOS)
            array = np.asarray(image, dtype=np.uint8)
        return array[..., None] if channels == 1 else array


_EXIF_ORIENTATION = 0x0112  # the EXIF tag that says how the camera was held


@contextmanager
def _opened(path: Path) -> Iterator:
    """``PIL.Image.open`` (PNG or JPEG only), any failure to read or decode the file inside the
    block being a :class:`DataError` naming it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # up to twice Pillow's pixel limit it only warns (on stderr, in the middle of genmod's
            # output); above that it raises DecompressionBombError, a DataError below. The
            # memory the decoded images take is checked before decoding (_check_memory).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=("PNG", "JPEG")) as image:
                yield image
    except Image.DecompressionBombError as exc:
        raise DataError(f"{str(path)!r} is too large to read safely: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(
            f"{str(path)!r} could not be read as a PNG or JPEG image ({type(exc).__name__}: "
            f"{exc}); the file is corrupt or not an image."
        ) from None
