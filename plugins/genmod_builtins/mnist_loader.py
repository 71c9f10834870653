"""MNIST from the four standard IDX ``.gz`` files: found locally, or downloaded and verified."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genmod.contract.errors import DataError
from genmod.data import Dataset, DatasetArrays, default_cache_dir
from genmod.data.base import require_dir
from genmod.data.download import download_verified
from genmod.data.idx import parse_idx, read_payload, sha256

#: file name -> SHA-256 of the uncompressed IDX payload (as published with the data set)
FILES = {
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)


class MNIST(Dataset):
    """MNIST: uint8 images ``[n, 28, 28, 1]``, int64 labels ``[n]``.

    ``data_dir`` must hold the four files (uncompressed payloads are checked against their
    published SHA-256). With ``data_dir=None`` the per-user cache is used and missing files are
    downloaded there.
    """

    name = "mnist"
    data_shape = (28, 28, 1)
    num_classes = 10
    mirrors: tuple[str, ...] = MIRRORS

    def load(self, data_dir: Path | None) -> DatasetArrays:
        if data_dir is None:
            folder = default_cache_dir("mnist")
            for filename, digest in FILES.items():
                if not (folder / filename).exists():
                    download_verified(filename, self.mirrors, folder, digest)
        else:
            folder = require_dir(Path(data_dir), "MNIST data")
            missing = [f for f in FILES if not (folder / f).exists()]
            if missing:
                raise DataError(
                    f"the MNIST folder {str(folder)!r} lacks {', '.join(missing)}. It must hold "
                    f"the four standard files: {', '.join(FILES)}. Put them there, or leave out "
                    "--data-dir (and GENMOD_DATA_DIR) to download them into the cache folder "
                    f"{str(default_cache_dir('mnist'))!r}."
                )
        arrays = {name: self._read(folder / name) for name in FILES}
        x_train = arrays["train-images-idx3-ubyte.gz"]
        y_train = arrays["train-labels-idx1-ubyte.gz"]
        x_test = arrays["t10k-images-idx3-ubyte.gz"]
        y_test = arrays["t10k-labels-idx1-ubyte.gz"]
        return DatasetArrays(
            x_train=x_train[..., None],
            y_train=y_train.astype(np.int64),
            x_test=x_test[..., None],
            y_test=y_test.astype(np.int64),
            num_classes=10,
        )

    @staticmethod
    def _read(path: Path) -> np.ndarray:
        payload = read_payload(path)
        if sha256(payload) != FILES[path.name]:
            raise DataError(
                f"{str(path)!r} is not the standard MNIST file: the SHA-256 of its content does "
                "not match the published one (truncated, corrupt or a different data set). "
                "Replace it with the original file."
            )
        return parse_idx(payload, str(path))
