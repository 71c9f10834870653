"""CIFAR-10 from its *binary* distribution (``cifar-10-binary.tar.gz``); nothing is unpickled.

Each of ``data_batch_1.bin`` .. ``data_batch_5.bin`` (training) and ``test_batch.bin`` (test)
is a sequence of 3,073-byte records: one label byte (0..9), then 3,072 pixel bytes, the 32x32
red plane, then green, then blue, each row by row. No TensorFlow.
"""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path
from typing import ClassVar

import numpy as np

from genmod.contract.errors import DataError
from genmod.data import Dataset, DatasetArrays, default_cache_dir
from genmod.data.download import download_verified, sha256_file

ARCHIVE = "cifar-10-binary.tar.gz"
FOLDER = "cifar-10-batches-bin"
TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_BATCH = "test_batch.bin"
HEIGHT = WIDTH = 32
CHANNELS = 3
RECORD = 1 + CHANNELS * HEIGHT * WIDTH  # 3073 bytes

# SHA-256 and size (170,052,171 bytes) of the archive as published at
# https://www.cs.toronto.edu/~kriz/cifar.html, from TensorFlow Datasets' pinned checksums
# (tensorflow_datasets/url_checksums/cifar10.txt, version 4.9.10); the CIFAR page itself gives
# its MD5, c32a1d4ab5d03f1284b67883e8d87530.
ARCHIVE_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)


def parse_batch(data: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """One binary batch -> (uint8 images ``[n, 32, 32, 3]`` channels-last, int64 labels ``[n]``).

    ``source`` names the file in errors: a size that is not a whole number of 3,073-byte
    records, no records, or a label byte above 9 is a :class:`DataError`."""
    if len(data) == 0 or len(data) % RECORD:
        raise DataError(
            f"{source} holds {len(data)} bytes, not a whole number of CIFAR-10 records "
            f"({RECORD} bytes each: 1 label byte and 3072 pixel bytes); the file is truncated "
            "or not a CIFAR-10 binary batch."
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        bad = int(np.argmax(labels > 9))
        raise DataError(
            f"{source}: record {bad} has label {int(labels[bad])}; CIFAR-10 labels are 0..9. "
            "The file is corrupt or not a CIFAR-10 binary batch."
        )
    images = records[:, 1:].reshape(-1, CHANNELS, HEIGHT, WIDTH).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


class CIFAR10(Dataset):
    """CIFAR-10: 50,000 train / 10,000 test colour images, uint8 ``[n, 32, 32, 3]``, int64
    labels 0..9 (airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck).

    ``load(folder)`` reads, from ``folder``: ``cifar-10-binary.tar.gz`` (checked against its
    published SHA-256, then read without extracting it), or the extracted
    ``cifar-10-batches-bin/`` folder, or the six ``.bin`` batches directly in ``folder``.
    ``load(None)`` uses the archive in the per-user cache folder
    (:func:`genmod.data.default_cache_dir` ``("cifar10")``), downloading and verifying it
    first when it is missing. ``archive_sha256`` is the pinned digest (tests of fixtures set
    their own).
    """

    name = "cifar10"
    data_shape = (HEIGHT, WIDTH, CHANNELS)
    num_classes = 10
    archive_sha256: ClassVar[str] = ARCHIVE_SHA256
    mirrors: tuple[str, ...] = MIRRORS

    def load(self, data_dir: Path | None) -> DatasetArrays:
        if data_dir is None:
            folder = default_cache_dir(self.name)
            if not (folder / ARCHIVE).exists():
                download_verified(ARCHIVE, self.mirrors, folder, file_sha256=self.archive_sha256)
            return self._from_archive(folder / ARCHIVE)
        folder = Path(data_dir).expanduser()
        if not folder.exists():
            raise DataError(f"the CIFAR-10 data folder {str(folder)!r} does not exist.")
        if folder.is_file() and folder.name.endswith(".tar.gz"):
            return self._from_archive(folder)
        if not folder.is_dir():
            raise DataError(
                f"the CIFAR-10 data path {str(folder)!r} is not a folder (nor {ARCHIVE})."
            )
        for candidate in (folder, folder / FOLDER):
            if all((candidate / name).is_file() for name in (*TRAIN_BATCHES, TEST_BATCH)):
                return self._from_folder(candidate)
        if (folder / ARCHIVE).is_file():
            return self._from_archive(folder / ARCHIVE)
        raise DataError(
            f"the CIFAR-10 folder {str(folder)!r} holds neither {ARCHIVE} nor the extracted "
            f"{FOLDER}/ folder with {', '.join(TRAIN_BATCHES)} and {TEST_BATCH} (the binary "
            "version from https://www.cs.toronto.edu/~kriz/cifar.html; the Python version is "
            "not read, since genmod never unpickles). Put one of them there, or leave out "
            "--data-dir (and GENMOD_DATA_DIR) to download the archive into the cache folder "
            f"{str(default_cache_dir(self.name))!r}."
        )

    def _from_folder(self, folder: Path) -> DatasetArrays:
        def read(name: str) -> tuple[np.ndarray, np.ndarray]:
            path = folder / name
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise DataError(f"{str(path)!r} could not be read: {exc}.") from None
            return parse_batch(data, repr(str(path)))

        return self._assemble(read)

    def _from_archive(self, archive: Path) -> DatasetArrays:
        if self.archive_sha256 and sha256_file(archive) != self.archive_sha256:
            raise DataError(
                f"{str(archive)!r} is not the published {ARCHIVE}: its SHA-256 does not match "
                "the pinned one (truncated, corrupt or a different file). Delete it and download "
                "it again, or point --data-dir at the extracted folder."
            )
        wanted = {f"{FOLDER}/{name}": name for name in (*TRAIN_BATCHES, TEST_BATCH)}
        found: dict[str, bytes] = {}
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar:  # one pass over the stream: no seeking back in the gzip
                    if member.isfile() and member.name in wanted:
                        handle = tar.extractfile(member)
                        assert handle is not None  # a regular file
                        found[wanted[member.name]] = handle.read()
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise DataError(
                f"{str(archive)!r} could not be read as a tar.gz archive ({type(exc).__name__}: "
                f"{exc}); the file is probably truncated or corrupt. Delete it and download it "
                "again."
            ) from None

        def read(name: str) -> tuple[np.ndarray, np.ndarray]:
            if name not in found:
                raise DataError(
                    f"{str(archive)!r} lacks {FOLDER}/{name}; it is not the CIFAR-10 binary "
                    "archive."
                )
            return parse_batch(found[name], f"{str(archive)!r} ({FOLDER}/{name})")

        return self._assemble(read)

    @staticmethod
    def _assemble(read) -> DatasetArrays:
        train = [read(name) for name in TRAIN_BATCHES]
        x_test, y_test = read(TEST_BATCH)
        return DatasetArrays(
            x_train=np.concatenate([x for x, _ in train]),
            y_train=np.concatenate([y for _, y in train]),
            x_test=x_test,
            y_test=y_test,
            num_classes=10,
        )
