"""MNIST from the four standard IDX ``.gz`` files: found locally, or downloaded and verified.

The reading, checking and downloading are :class:`genmod_builtins.idx_datasets.IDXDataset`'s,
shared with Fashion-MNIST and Kuzushiji-MNIST; this module pins MNIST's files and mirrors.
"""

from __future__ import annotations

from genmod_builtins.idx_datasets import IDXDataset

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


class MNIST(IDXDataset):
    """MNIST: uint8 images ``[n, 28, 28, 1]``, int64 labels ``[n]``.

    ``data_dir`` must hold the four files (uncompressed payloads are checked against their
    published SHA-256). With ``data_dir=None`` the per-user cache is used and missing files are
    downloaded there.
    """

    name = "mnist"
    title = "MNIST"
    files = FILES
    checksum = "payload"
    mirrors: tuple[str, ...] = MIRRORS
