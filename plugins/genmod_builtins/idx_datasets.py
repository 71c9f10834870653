"""The IDX family: MNIST-format datasets from the four standard ``.gz`` files.

:class:`IDXDataset` holds what MNIST, Fashion-MNIST and Kuzushiji-MNIST share (the four file
names, finding them locally or downloading them into the cache, checking each against a pinned
SHA-256, parsing the IDX format); a subclass names its files' checksums and mirrors.
:class:`FashionMNIST` and :class:`KMNIST` live here; MNIST in
:mod:`genmod_builtins.mnist_loader`. No TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np

from genmod.contract.errors import DataError
from genmod.data import Dataset, DatasetArrays, default_cache_dir
from genmod.data.base import require_dir
from genmod.data.download import download_verified
from genmod.data.idx import parse_idx, read_payload, sha256

#: the four standard file names, in the order train images, train labels, test images, labels
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
FILE_NAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)


class IDXDataset(Dataset):
    """A 28x28 grey, 10-class dataset in the MNIST file layout: uint8 images ``[n, 28, 28, 1]``,
    int64 labels ``[n]`` in 0..9.

    Subclasses set ``name``, ``title`` (the name in messages), ``files`` (each of the four file
    names -> lowercase hex SHA-256), ``checksum`` and ``mirrors``. ``checksum`` says what the
    digests are of: ``"payload"``, the uncompressed IDX content (MNIST's pins), or ``"file"``,
    the ``.gz`` file exactly as published (Fashion-MNIST's and KMNIST's). ``load(folder)``
    needs the four files in ``folder`` and checks each; ``load(None)`` uses the per-user cache
    folder :func:`genmod.data.default_cache_dir` (``name``) and downloads missing files there,
    verified before they are kept. A missing, truncated, corrupt or different file is a
    :class:`DataError` naming it.
    """

    title: ClassVar[str] = ""
    data_shape = (28, 28, 1)
    num_classes = 10
    files: ClassVar[Mapping[str, str]] = {}
    checksum: ClassVar[str] = "payload"
    mirrors: tuple[str, ...] = ()

    def load(self, data_dir: Path | None) -> DatasetArrays:
        if data_dir is None:
            folder = default_cache_dir(self.name)
            for filename in FILE_NAMES:
                if not (folder / filename).exists():
                    digest = self.files[filename]
                    if self.checksum == "file":
                        download_verified(filename, self.mirrors, folder, file_sha256=digest)
                    else:
                        download_verified(filename, self.mirrors, folder, digest)
        else:
            folder = require_dir(Path(data_dir), f"{self.title} data")
            missing = [f for f in FILE_NAMES if not (folder / f).exists()]
            if missing:
                raise DataError(
                    f"the {self.title} folder {str(folder)!r} lacks {', '.join(missing)}. It must "
                    f"hold the four standard files: {', '.join(FILE_NAMES)}. Put them there, or "
                    "leave out --data-dir (and GENMOD_DATA_DIR) to download them into the cache "
                    f"folder {str(default_cache_dir(self.name))!r}."
                )
        x_train, y_train, x_test, y_test = (self._read(folder / name) for name in FILE_NAMES)
        for images, labels, split in ((x_train, y_train, "train"), (x_test, y_test, "t10k")):
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise DataError(
                    f"the {self.title} {split} files in {str(folder)!r} disagree: images of "
                    f"shape {list(images.shape)} and labels of shape {list(labels.shape)}."
                )
        return DatasetArrays(
            x_train=x_train[..., None],
            y_train=y_train.astype(np.int64),
            x_test=x_test[..., None],
            y_test=y_test.astype(np.int64),
            num_classes=10,
        )

    def _read(self, path: Path) -> np.ndarray:
        """One file, checked against its pinned SHA-256, parsed as IDX."""
        if self.checksum == "file":
            if sha256(path.read_bytes()) != self.files[path.name]:
                raise DataError(
                    f"{str(path)!r} is not the published {self.title} file: its SHA-256 does not "
                    "match the pinned one (truncated, corrupt or a different data set). Replace "
                    "it with the original file."
                )
            payload = read_payload(path)
        else:
            payload = read_payload(path)
            if sha256(payload) != self.files[path.name]:
                raise DataError(
                    f"{str(path)!r} is not the standard {self.title} file: the SHA-256 of its "
                    "content does not match the published one (truncated, corrupt or a "
                    "different data set). Replace it with the original file."
                )
        return parse_idx(payload, str(path))


# SHA-256 of each .gz file as published, with its size in bytes, from TensorFlow Datasets'
# pinned download checksums (tensorflow_datasets/url_checksums/fashion_mnist.txt, version
# 4.9.10). torchvision pins the same files by MD5 (torchvision/datasets/mnist.py,
# FashionMNIST.resources): 8d4fb7e6c68d591d4c3dfef9ec88bf0d, 25c81989df183df01b3e8a0aad5dffbe,
# bef4ecab320f06d8554ea6380940ec79, bb300cfdad3c16e7a12a480ee83cd310.
FASHION_FILES = {
    TRAIN_IMAGES: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",  # 26421880
    TRAIN_LABELS: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",  # 29515
    TEST_IMAGES: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",  # 4422102
    TEST_LABELS: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",  # 5148
}
#: the download address in the dataset's README (github.com/zalandoresearch/fashion-mnist)
FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)

# SHA-256 and size of each .gz file from tensorflow_datasets/url_checksums/kmnist.txt (4.9.10);
# torchvision's MD5s (KMNIST.resources): bdb82020997e1d708af4cf47b453dcf7,
# e144d726b3acfaa3e44228e80efcd344, 5c965bf0a639b31b8f53240b1b52f4d7,
# 7320c461ea6c1c855c0b718fb2a4b134.
KMNIST_FILES = {
    TRAIN_IMAGES: "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",  # 18165135
    TRAIN_LABELS: "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",  # 29497
    TEST_IMAGES: "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",  # 3041136
    TEST_LABELS: "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",  # 5120
}
#: the MNIST-format downloads in the dataset's README (github.com/rois-codh/kmnist), the
#: address torchvision and TFDS pin
KMNIST_MIRRORS = ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",)


class FashionMNIST(IDXDataset):
    """Fashion-MNIST (Zalando Research): 60,000 train / 10,000 test Zalando article images,
    uint8 ``[n, 28, 28, 1]``, int64 labels 0..9 (T-shirt/top, trouser, pullover, dress, coat,
    sandal, shirt, sneaker, bag, ankle boot)."""

    name = "fashion-mnist"
    title = "Fashion-MNIST"
    files = FASHION_FILES
    checksum = "file"
    mirrors = FASHION_MIRRORS


class KMNIST(IDXDataset):
    """Kuzushiji-MNIST (ROIS-DS CODH): 60,000 train / 10,000 test images of cursive Japanese
    hiragana, uint8 ``[n, 28, 28, 1]``, int64 labels 0..9 (o, ki, su, tsu, na, ha, ma, ya, re,
    wo)."""

    name = "kmnist"
    title = "Kuzushiji-MNIST"
    files = KMNIST_FILES
    checksum = "file"
    mirrors = KMNIST_MIRRORS
