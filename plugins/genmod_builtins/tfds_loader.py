"""Image datasets of TensorFlow Datasets (TFDS) as genmod arrays.

**This dataset imports TensorFlow.** The :class:`genmod.data.Dataset` contract asks datasets to
load without TensorFlow; TFDS itself reads its files with ``tf.data``, so this adapter is the one
exception. ``tensorflow_datasets`` is imported only inside :meth:`TFDSDataset.load` (never when
genmod lists or imports its plugins), and a missing package is a :class:`ConfigError` naming the
``genmod[tfds]`` extra.

Where the data live: ``--data-dir DIR`` is TFDS's ``data_dir`` (the folder holding
``NAME/VERSION/`` folders); without it TFDS's own default is used (``$TFDS_DATA_DIR``, else
``~/tensorflow_datasets``), so downloads are shared with every other TFDS user on the machine.
Missing data are downloaded and prepared there (``download=false`` refuses instead); a failed
download (offline machine, missing manual files) is a :class:`DataError` saying where TFDS looked
and how to prepare the data elsewhere.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import numpy as np

from genmod.contract.errors import ConfigError, DataError
from genmod.data import Dataset, DatasetArrays
from genmod_builtins.memory_guard import check_fits

#: where the TFDS catalog lists its datasets (image datasets under "Image" headings)
CATALOG_URL = "https://www.tensorflow.org/datasets/catalog/overview"
#: items decoded per ``tf.data`` batch while copying a split into numpy
READ_BATCH = 2048
FIND_NAMES = (
    f'see the catalog {CATALOG_URL} or run python -c "import tensorflow_datasets as tfds; '
    'print(tfds.list_builders())"'
)
_INSTALL = "pip install 'genmod[tfds]'"


def import_tfds() -> Any:
    """The ``tensorflow_datasets`` module, or a :class:`ConfigError` telling how to install it."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as exc:
        raise ConfigError(
            f"the tfds dataset needs the tensorflow-datasets package ({exc}); install it with "
            f"{_INSTALL}."
        ) from None
    return tfds


class TFDSDataset(Dataset):
    """One image dataset of the TFDS catalog: uint8 images ``[n, H, W, C]``, int64 labels ``[n]``
    (or ``None``), ``num_classes`` from the label feature's ``ClassLabel.num_classes``.

    Options (``--dataset-opt KEY=VALUE``): ``name`` (required; a TFDS name, optionally with a
    config, ``cifar10_corrupted/brightness_1``), ``version`` (empty: the newest),
    ``train_split`` / ``test_split`` (TFDS split names or slices such as ``train[:90%]``),
    ``image_key`` (a ``tfds.features.Image`` feature), ``label_key`` (a ``ClassLabel`` feature;
    when it is absent, or empty, the data have no labels), ``size`` (``HEIGHT,WIDTH``: every
    image is resized to it with antialiased bilinear interpolation, rounded back to uint8; needed
    for datasets whose images differ in size), ``download`` (download and prepare missing data).
    Items keep TFDS's order (files are not shuffled), so a run sees the same items every time.
    """

    name = "tfds"
    data_shape: tuple[int, ...] | None = None  # set by load()
    num_classes = 0  # set by load()

    def __init__(
        self,
        name: str = "",
        version: str = "",
        train_split: str = "train",
        test_split: str = "test",
        image_key: str = "image",
        label_key: str = "label",
        size: tuple[int, ...] = (),
        download: bool = True,
    ) -> None:
        if len(size) not in (0, 2):
            raise ConfigError(
                f"dataset tfds: option 'size' got {','.join(map(str, size))}; give HEIGHT,WIDTH "
                "(two numbers, such as size=64,64) or leave it out to keep the images' size."
            )
        for option, split in (("train_split", train_split), ("test_split", test_split)):
            if not split.strip():
                raise ConfigError(f"dataset tfds: option {option!r} is empty; name a TFDS split.")
        self.tfds_name = name.strip()
        self.version = version.strip()
        self.train_split = train_split.strip()
        self.test_split = test_split.strip()
        self.image_key = image_key
        self.label_key = label_key
        self.size = tuple(int(s) for s in size)
        self.download = download

    # -- loading -----------------------------------------------------------------------------

    def load(self, data_dir: Path | None) -> DatasetArrays:
        """Both splits as numpy arrays (imports ``tensorflow_datasets`` and TensorFlow)."""
        if not self.tfds_name:  # checked here, so that the default options still build
            raise ConfigError(
                "the tfds dataset needs a TFDS dataset name: --dataset-opt name=fashion_mnist "
                f"(for the names, {FIND_NAMES})."
            )
        if data_dir is not None:
            data_dir = Path(data_dir).expanduser()
            if not data_dir.is_dir():
                raise DataError(
                    f"the TFDS data folder {str(data_dir)!r} (--data-dir or GENMOD_DATA_DIR) "
                    f"{'is not a folder' if data_dir.exists() else 'does not exist'}; create "
                    "it (TFDS downloads into it), or leave out --data-dir to use TFDS's default "
                    "folder ($TFDS_DATA_DIR or ~/tensorflow_datasets)."
                )
        tfds = import_tfds()
        builder = self._builder(tfds, data_dir)
        item_shape = self._item_shape(tfds, builder.info.features)
        num_classes = self._num_classes(tfds, builder.info.features)
        self._prepare(builder)
        self._check_memory(builder, item_shape)
        x_train, y_train = self._read(tfds, builder, self.train_split, item_shape, num_classes)
        x_test, y_test = self._read(tfds, builder, self.test_split, item_shape, num_classes)
        self.data_shape = item_shape
        self.num_classes = num_classes
        return DatasetArrays(x_train, y_train, x_test, y_test, num_classes)

    @property
    def _who(self) -> str:
        return f"the TFDS dataset {self.tfds_name!r}"

    def _builder(self, tfds: Any, data_dir: Path | None) -> Any:
        kwargs: dict[str, Any] = {}
        if data_dir is not None:
            kwargs["data_dir"] = str(data_dir)
        if self.version:
            kwargs["version"] = self.version
        try:
            return tfds.builder(self.tfds_name, **kwargs)
        except tfds.core.DatasetNotFoundError:
            known = tfds.list_builders(with_community_datasets=False)
            base = self.tfds_name.split("/")[0].split(":")[0]
            close = difflib.get_close_matches(base, known, n=3)
            hint = f"Did you mean {' or '.join(close)}? " if close else ""
            raise ConfigError(
                f"TFDS has no dataset {self.tfds_name!r} (--dataset-opt name=...). {hint}For the "
                f"names, {FIND_NAMES}."
            ) from None
        except ImportError as exc:
            raise ConfigError(
                f"TFDS needs another Python package to build {self.tfds_name!r}: {exc}."
            ) from None
        except (AssertionError, ValueError) as exc:  # unknown version or config, bad name syntax
            message = " ".join(str(exc).split())
            raise ConfigError(f"TFDS could not build {self.tfds_name!r}: {message}") from None

    def _features_list(self, features: Any) -> str:
        return ", ".join(f"{key} ({type(features[key]).__name__})" for key in features.keys())

    def _item_shape(self, tfds: Any, features: Any) -> tuple[int, ...]:
        """``(H, W, C)`` of one item after the optional resize; refuses what is not an image."""
        image_features = [
            k for k in features.keys() if isinstance(features[k], tfds.features.Image)
        ]
        if self.image_key not in features.keys():
            if not image_features:
                raise ConfigError(
                    f"{self._who} has no image feature (its features: "
                    f"{self._features_list(features)}); the tfds dataset takes image datasets "
                    "only."
                )
            raise ConfigError(
                f"{self._who} has no feature {self.image_key!r} (--dataset-opt image_key=...); "
                f"its features: {self._features_list(features)}. Image features: "
                f"{', '.join(image_features)}."
            )
        feature = features[self.image_key]
        if not isinstance(feature, tfds.features.Image):
            others = (
                f"; its image features: {', '.join(image_features)}"
                if image_features
                else ("; it has no image feature (the tfds dataset takes image datasets only)")
            )
            raise ConfigError(
                f"the feature {self.image_key!r} of {self._who} is of type "
                f"{type(feature).__name__}, not an image (tfds.features.Image){others}."
            )
        dtype = np.dtype(feature.np_dtype)
        if dtype != np.uint8:
            raise DataError(
                f"the images {self.image_key!r} of {self._who} are {dtype}; genmod takes 8-bit "
                "images (uint8) only."
            )
        height, width, channels = tuple(feature.shape)
        if channels is None:
            raise DataError(
                f"the images {self.image_key!r} of {self._who} have no fixed number of channels "
                f"(shape {tuple(feature.shape)}); genmod needs one."
            )
        if self.size:
            return (self.size[0], self.size[1], int(channels))
        if height is None or width is None:
            raise DataError(
                f"the images {self.image_key!r} of {self._who} differ in size (shape "
                f"{tuple(feature.shape)}); genmod needs one size: add --dataset-opt size=64,64 "
                "to resize every image to 64x64 (any HEIGHT,WIDTH)."
            )
        return (int(height), int(width), int(channels))

    def _num_classes(self, tfds: Any, features: Any) -> int:
        """The label feature's number of classes, or 0 when the items have no labels."""
        if not self.label_key or self.label_key not in features.keys():
            return 0
        feature = features[self.label_key]
        if not isinstance(feature, tfds.features.ClassLabel) or not feature.num_classes:
            raise ConfigError(
                f"the feature {self.label_key!r} of {self._who} is of type "
                f"{type(feature).__name__}, not a ClassLabel with a number of classes; choose "
                "another --dataset-opt label_key=... (features: "
                f"{self._features_list(features)}) or label_key= (empty) for no labels."
            )
        return int(feature.num_classes)

    def _prepare(self, builder: Any) -> None:
        """Make sure the data are on disk: download and prepare them, or refuse."""
        if builder.is_prepared():
            return
        where = str(builder.data_dir)
        root = str(getattr(builder, "data_dir_root", "") or Path(where).parents[1])
        folder = getattr(builder, "name", "") or self.tfds_name.split("/")[0].split(":")[0]
        elsewhere = (
            f"To prepare it elsewhere: on a machine with network access run `tfds build "
            f"{self.tfds_name} --data_dir DIR` (or this genmod command with --data-dir DIR), then "
            f"copy DIR/{folder} into {root!r} here, or pass the copied DIR as --data-dir. Some "
            "datasets need files downloaded by hand first (see their catalog page)."
        )
        if not self.download:
            raise DataError(
                f"{self._who} is not downloaded: {where!r} holds no prepared data, and "
                f"download=false. Leave out download=false to download it. {elsewhere}"
            )
        try:
            builder.download_and_prepare()
        except ModuleNotFoundError as exc:
            known_bug = (
                " (tensorflow-datasets 4.9.10 uses it without declaring it: "
                "tensorflow/datasets#11212)"
                if exc.name == "importlib_resources"
                else ""
            )
            raise DataError(
                f"TFDS could not prepare {self._who}: it needs the Python package {exc.name!r}"
                f"{known_bug}; install it with pip install {exc.name}."
            ) from None
        except Exception as exc:  # noqa: BLE001 - network, disk, checksum or manual-file failures
            message = " ".join(str(exc).split())[:500]
            raise DataError(
                f"downloading and preparing {self._who} into {where!r} failed "
                f"({type(exc).__name__}: {message}). If this machine is offline, that is the "
                f"cause. {elsewhere}"
            ) from None

    def _check_memory(self, builder: Any, item_shape: tuple[int, ...]) -> None:
        """Refuse splits whose uint8 arrays would not fit in memory, before reading them (only
        when TFDS knows the splits' sizes; slices such as ``train[:10%]`` included)."""
        try:
            n = sum(
                int(builder.info.splits[split].num_examples)
                for split in (self.train_split, self.test_split)
            )
        except Exception:  # an unknown split is reported when it is read, with the splits listed
            return
        advice = "load a slice (--dataset-opt train_split=train[:10000])"
        if self.size:
            advice = "give a smaller --dataset-opt size=HEIGHT,WIDTH or " + advice
        check_fits(n, item_shape, f"the {n} items of {self._who}", advice)

    def _read(
        self, tfds: Any, builder: Any, split: str, item_shape: tuple[int, ...], num_classes: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """One split as uint8 ``[n, *item_shape]`` and int64 ``[n]`` labels (or ``None``)."""
        import tensorflow as tf

        try:
            ds = builder.as_dataset(split=split, shuffle_files=False)
        except (ValueError, KeyError, AssertionError) as exc:
            splits = ", ".join(sorted(builder.info.splits.keys())) or "(unknown)"
            message = " ".join(str(exc).split())[:300]
            raise ConfigError(
                f"{self._who} has no split {split!r} ({message}). Its splits: {splits}; TFDS "
                "slices such as train[:90%] or train+test work too (--dataset-opt "
                "train_split=... / test_split=...)."
            ) from None
        image_key, label_key, size = self.image_key, self.label_key, self.size

        def pick(example: dict) -> tuple:
            image = example[image_key]
            if size:
                image = tf.image.resize(image, size, method="bilinear", antialias=True)
                image = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
            label = example[label_key] if num_classes else tf.zeros((), tf.int64)
            return image, tf.cast(label, tf.int64)

        ds = ds.map(pick, num_parallel_calls=tf.data.AUTOTUNE).batch(READ_BATCH)
        images: list[np.ndarray] = []
        labels: list[np.ndarray] = []
        try:
            for x, y in tfds.as_numpy(ds.prefetch(tf.data.AUTOTUNE)):
                images.append(x)
                labels.append(y)
        except tf.errors.ResourceExhaustedError:
            raise DataError(
                f"reading the split {split!r} of {self._who} ran out of memory (items of shape "
                f"{item_shape}); give a smaller --dataset-opt size=HEIGHT,WIDTH or load a slice "
                "(--dataset-opt train_split=train[:10000])."
            ) from None
        except tf.errors.OpError as exc:
            message = " ".join(str(exc).split())[:300]
            raise DataError(
                f"reading the split {split!r} of {self._who} from {str(builder.data_dir)!r} "
                f"failed ({type(exc).__name__}: {message}); the files may be incomplete or "
                "corrupt: delete that folder and run again to download them afresh."
            ) from None
        if not images:
            raise DataError(f"the split {split!r} of {self._who} holds no items.")
        x_all = np.concatenate(images)
        if x_all.shape[1:] != item_shape:
            raise DataError(
                f"the images of the split {split!r} of {self._who} have shape "
                f"{x_all.shape[1:]}, not the {item_shape} its features declare."
            )
        y_all = np.concatenate(labels).astype(np.int64) if num_classes else None
        return x_all.astype(np.uint8, copy=False), y_all
