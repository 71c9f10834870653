"""The built-in datasets beyond MNIST, on tiny fixture files written in the exact published
formats: Fashion-MNIST and KMNIST (IDX .gz), CIFAR-10 (binary batches in a tar.gz), npz and
image folders. Loading, the CLI (1 epoch, pictures, finite test ELBO, conditional networks
where there are labels) and bad input (exit 2, the file and the problem named)."""

from __future__ import annotations

import gzip
import io
import json
import math
import struct
import subprocess
import sys
import tarfile

import numpy as np
import pytest
from click.testing import CliRunner

from genmod.cli import cli
from genmod.contract.errors import DataError
from genmod.data import validate_loaded
from genmod.data.download import download_verified, sha256_file
from genmod_builtins import cifar10_loader
from genmod_builtins.cifar10_loader import CIFAR10
from genmod_builtins.idx_datasets import FILE_NAMES, KMNIST, FashionMNIST
from genmod_builtins.image_folder_loader import ImageFolder
from genmod_builtins.npz_loader import NpzDataset

TINY = ["--epochs", "1", "--batch-size", "8", "--validation-size", "8", "--quiet"]
MLP = ["--encoder-opt", "hidden=32", "--decoder-opt", "hidden=32", "--latent-dim", "4"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------- fixture writers


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file (type 0x08, unsigned bytes) as in the MNIST documentation."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_idx_dataset(folder, n_train=40, n_test=16, seed=0):
    """The four IDX .gz files; returns (folder, x_train, y_train, x_test, y_test)."""
    folder.mkdir(parents=True, exist_ok=True)
    r = rng(seed)
    x_train = r.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    x_test = r.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    y_train = np.arange(n_train, dtype=np.uint8) % 10
    y_test = np.arange(n_test, dtype=np.uint8) % 10
    for name, array in zip(FILE_NAMES, (x_train, y_train, x_test, y_test), strict=True):
        (folder / name).write_bytes(gzip.compress(idx_bytes(array)))
    return folder, x_train, y_train, x_test, y_test


def pin_idx(monkeypatch, cls, folder):
    """Pin ``cls``'s checksums to the fixture files (as if they were the published ones)."""
    monkeypatch.setattr(cls, "files", {n: sha256_file(folder / n) for n in FILE_NAMES})


def cifar_records(images_hwc: np.ndarray, labels: np.ndarray) -> bytes:
    """CIFAR-10 binary records: a label byte, then the red, green and blue 32x32 planes."""
    out = bytearray()
    for image, label in zip(images_hwc, labels, strict=True):
        out.append(int(label))
        for c in range(3):
            out += image[:, :, c].tobytes()  # one plane, row by row
    return bytes(out)


def write_cifar_archive(folder, per_batch=6, n_test=8, seed=0):
    """cifar-10-binary.tar.gz with the six batches under cifar-10-batches-bin/; returns
    (archive, x_train, y_train, x_test, y_test) with images channels-last."""
    folder.mkdir(parents=True, exist_ok=True)
    r = rng(seed)
    batches = {}
    xs, ys = [], []
    for i in range(1, 6):
        x = r.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
        y = r.integers(0, 10, per_batch)
        batches[f"data_batch_{i}.bin"] = cifar_records(x, y)
        xs.append(x)
        ys.append(y)
    x_test = r.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8)
    y_test = r.integers(0, 10, n_test)
    batches["test_batch.bin"] = cifar_records(x_test, y_test)
    batches["batches.meta.txt"] = b"airplane\nautomobile\n"
    archive = folder / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in batches.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive, np.concatenate(xs), np.concatenate(ys), x_test, y_test


def write_png(path, array: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_image_folder(root, classes=("cat", "dog", "owl"), per_class=12, size=(20, 24), rgb=True):
    r = rng(1)
    for c, name in enumerate(classes):
        for i in range(per_class):
            shape = (*size, 3) if rgb else size
            array = r.integers(0, 256, shape, dtype=np.uint8)
            array[0, 0] = c * 50  # a mark that tells the class
            write_png(root / name / f"{i:03d}.png", array)
    return root


# ---------------------------------------------------------------- download


def test_download_verifies_the_file_checksum(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "a.tar.gz").write_bytes(b"archive bytes")
    digest = sha256_file(mirror / "a.tar.gz")
    target = download_verified("a.tar.gz", [mirror.as_uri()], tmp_path / "c", file_sha256=digest)
    assert target.read_bytes() == b"archive bytes"
    with pytest.raises(DataError, match="checksum mismatch"):
        download_verified("a.tar.gz", [mirror.as_uri()], tmp_path / "d", file_sha256="0" * 64)
    assert not (tmp_path / "d" / "a.tar.gz").exists()
    with pytest.raises(ValueError, match="exactly one"):
        download_verified("a.tar.gz", [mirror.as_uri()], tmp_path / "e", "1", file_sha256="2")


# ---------------------------------------------------------------- Fashion-MNIST, KMNIST


@pytest.mark.parametrize("cls", [FashionMNIST, KMNIST])
def test_idx_datasets_load_the_published_format(tmp_path, monkeypatch, cls):
    folder, x_train, y_train, x_test, y_test = write_idx_dataset(tmp_path / cls.name)
    pin_idx(monkeypatch, cls, folder)
    data = validate_loaded(cls(), cls().load(folder))
    assert data.x_train.shape == (40, 28, 28, 1) and data.x_train.dtype == np.uint8
    np.testing.assert_array_equal(data.x_train[..., 0], x_train)
    np.testing.assert_array_equal(data.x_test[..., 0], x_test)
    assert data.y_train.dtype == np.int64 and data.y_test.tolist() == y_test.tolist()
    assert data.num_classes == 10 and cls.data_shape == (28, 28, 1)


def test_the_pinned_checksums_are_those_of_the_published_files():
    # the fixture tests replace them, so check them here: one digest per file, all distinct
    for cls in (FashionMNIST, KMNIST):
        assert sorted(cls.files) == sorted(FILE_NAMES) and cls.checksum == "file"
        assert all(len(d) == 64 and int(d, 16) >= 0 for d in cls.files.values())
    assert FashionMNIST.files["t10k-labels-idx1-ubyte.gz"].startswith("67da17c76eaf")
    assert KMNIST.files["t10k-labels-idx1-ubyte.gz"].startswith("20bb9a0ef54c")
    assert CIFAR10.archive_sha256.startswith("c4a38c50a1bc")


def test_an_idx_file_that_is_not_the_published_one_is_refused(tmp_path):
    folder, *_ = write_idx_dataset(tmp_path / "f")  # checksums are not pinned to the fixture
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz' is not the published"):
        FashionMNIST().load(folder)
    with pytest.raises(DataError, match="the Kuzushiji-MNIST folder .* lacks t10k"):
        (folder / "t10k-images-idx3-ubyte.gz").unlink()
        KMNIST().load(folder)


def test_idx_download_into_the_cache_and_offline_failure(tmp_path, monkeypatch):
    mirror, x_train, *_ = write_idx_dataset(tmp_path / "mirror")
    pin_idx(monkeypatch, FashionMNIST, mirror)
    monkeypatch.setenv("GENMOD_CACHE_DIR", str(tmp_path / "cache"))
    dataset = FashionMNIST()
    dataset.mirrors = ("http://127.0.0.1:9/unreachable/", mirror.as_uri() + "/")
    np.testing.assert_array_equal(dataset.load(None).x_train[..., 0], x_train)
    assert sorted(p.name for p in (tmp_path / "cache" / "fashion-mnist").iterdir()) == sorted(
        FILE_NAMES
    )
    offline = KMNIST()
    offline.mirrors = ("http://127.0.0.1:9/",)
    with pytest.raises(DataError) as info:
        offline.load(None)
    message = str(info.value)
    assert "could not download train-images-idx3-ubyte.gz" in message
    assert str(tmp_path / "cache" / "kmnist") in message and "--data-dir" in message


def test_fashion_mnist_trains_from_the_cli_with_a_conditional_network(tmp_path, monkeypatch):
    folder, *_ = write_idx_dataset(tmp_path / "fashion")
    pin_idx(monkeypatch, FashionMNIST, folder)
    out = tmp_path / "run"
    result = invoke(
        "run", "--dataset", "fashion-mnist", "--data-dir", folder, "--out", out,
        "--encoder", "cmlp", *MLP, *TINY,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_trained(out)


def test_kmnist_trains_from_the_cli(tmp_path, monkeypatch):
    folder, *_ = write_idx_dataset(tmp_path / "kmnist")
    pin_idx(monkeypatch, KMNIST, folder)
    out = tmp_path / "run"
    result = invoke(
        "run", "--dataset", "kmnist", "--data-dir", folder, "--out", out, "--encoder", "mlp",
        *MLP, *TINY,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_trained(out)


def assert_trained(out, colour=False):
    """A finished run folder: a finite test ELBO, a sample grid and reconstructions (RGB for
    colour data)."""
    from PIL import Image

    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished"
    assert math.isfinite(summary["final"]["test_elbo"]) and summary["final"]["test_elbo"] < 0
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert math.isfinite(lines[-1]["test_elbo"])
    for picture in ("samples/epoch-0001.png", "reconstructions.png"):
        with Image.open(out / "pictures" / picture) as image:
            if colour:
                assert image.mode == "RGB", image.mode
                pixels = np.asarray(image).astype(int)
                assert (pixels[..., 0] != pixels[..., 1]).any(), "a colour grid drawn in grey"


# ---------------------------------------------------------------- CIFAR-10


def test_an_idx_header_whose_size_overflows_int64_is_a_data_error():
    from genmod.data.idx import parse_idx

    # 2**22 * 2**21 * 2**21 = 2**64 items: numpy's int64 product wraps to 0, which matched an
    # empty payload and then failed in reshape with a ValueError (a traceback)
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2**22, 2**21, 2**21)
    with pytest.raises(DataError, match=r"crafted is truncated or corrupt: .*18446744073709551616"):
        parse_idx(header, "crafted")


def test_cifar10_reads_the_binary_records_channels_last(tmp_path, monkeypatch):
    archive, x_train, y_train, x_test, y_test = write_cifar_archive(tmp_path / "c")
    monkeypatch.setattr(CIFAR10, "archive_sha256", sha256_file(archive))
    data = validate_loaded(CIFAR10(), CIFAR10().load(archive.parent))
    assert data.x_train.shape == (30, 32, 32, 3) and data.x_train.dtype == np.uint8
    assert data.y_train.dtype == np.int64 and data.num_classes == 10
    np.testing.assert_array_equal(data.x_train, x_train)
    np.testing.assert_array_equal(data.y_train, y_train)
    np.testing.assert_array_equal(data.x_test, x_test)
    # independently of the writer: byte 1 + 1024 * c + 32 * row + col is pixel (row, col, c)
    raw = tarfile.open(archive).extractfile("cifar-10-batches-bin/test_batch.bin").read()
    assert data.x_test[0, 2, 5, 1] == raw[1 + 1024 * 1 + 32 * 2 + 5]
    assert data.y_test[1] == raw[3073]
    np.testing.assert_array_equal(CIFAR10().load(archive).y_test, y_test)  # the archive itself


def test_cifar10_reads_the_extracted_folder(tmp_path, monkeypatch):
    archive, x_train, *_ = write_cifar_archive(tmp_path / "c")
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    data = CIFAR10().load(tmp_path / "x")  # the folder holding cifar-10-batches-bin/
    np.testing.assert_array_equal(data.x_train, x_train)
    data = CIFAR10().load(tmp_path / "x" / "cifar-10-batches-bin")
    np.testing.assert_array_equal(data.x_train, x_train)


def test_cifar10_bad_batches_name_the_file(tmp_path):
    archive, *_ = write_cifar_archive(tmp_path / "c")
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    batch = tmp_path / "x" / "cifar-10-batches-bin" / "data_batch_3.bin"
    batch.write_bytes(batch.read_bytes()[:-5])
    with pytest.raises(DataError, match=r"data_batch_3.bin' holds 18433 bytes, not a whole"):
        CIFAR10().load(tmp_path / "x")
    batch.write_bytes(bytes([12]) + bytes(3072))
    with pytest.raises(DataError, match=r"data_batch_3.bin': record 0 has label 12"):
        CIFAR10().load(tmp_path / "x")
    with pytest.raises(DataError, match="holds neither cifar-10-binary.tar.gz nor"):
        CIFAR10().load(tmp_path)


def test_cifar10_corrupt_or_foreign_archives_are_refused(tmp_path, monkeypatch):
    archive, *_ = write_cifar_archive(tmp_path / "c")
    with pytest.raises(DataError, match="is not the published cifar-10-binary.tar.gz"):
        CIFAR10().load(archive.parent)  # the fixture is not the published archive
    archive.write_bytes(archive.read_bytes()[:2000])  # truncated
    monkeypatch.setattr(CIFAR10, "archive_sha256", sha256_file(archive))
    with pytest.raises(DataError, match=r"cifar-10-binary.tar.gz' could not be read as a tar"):
        CIFAR10().load(archive.parent)


def test_cifar10_download_and_offline_failure(tmp_path, monkeypatch):
    archive, x_train, *_ = write_cifar_archive(tmp_path / "mirror")
    monkeypatch.setattr(CIFAR10, "archive_sha256", sha256_file(archive))
    monkeypatch.setenv("GENMOD_CACHE_DIR", str(tmp_path / "cache"))
    dataset = CIFAR10()
    dataset.mirrors = (archive.parent.as_uri() + "/",)
    np.testing.assert_array_equal(dataset.load(None).x_train, x_train)
    assert (tmp_path / "cache" / "cifar10" / "cifar-10-binary.tar.gz").exists()
    monkeypatch.setenv("GENMOD_CACHE_DIR", str(tmp_path / "cache2"))
    dataset.mirrors = ("http://127.0.0.1:9/",)
    with pytest.raises(DataError, match="could not download cifar-10-binary.tar.gz"):
        dataset.load(None)


def test_cifar10_trains_from_the_cli_with_a_conditional_cnn(tmp_path, monkeypatch):
    archive, *_ = write_cifar_archive(tmp_path / "c")
    monkeypatch.setattr(cifar10_loader.CIFAR10, "archive_sha256", sha256_file(archive))
    out = tmp_path / "run"
    result = invoke(
        "run", "--dataset", "cifar10", "--data-dir", archive.parent, "--out", out,
        "--encoder", "ccnn", "--encoder-opt", "filters=8,8", "--decoder-opt", "filters=8,8",
        "--latent-dim", "4", *TINY,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_trained(out, colour=True)


def test_a_corrupt_cifar_archive_is_exit_2_from_the_cli(tmp_path):
    archive, *_ = write_cifar_archive(tmp_path / "c")
    result = invoke("run", "--dataset", "cifar10", "--data-dir", archive.parent,
                    "--out", tmp_path / "r", *TINY)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "cifar-10-binary.tar.gz" in result.output and "SHA-256" in result.output
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- npz


def test_npz_with_both_splits_keeps_them_and_adds_a_channel_axis(tmp_path):
    r = rng()
    x_train = r.integers(0, 256, (30, 10, 12), dtype=np.uint8)
    x_test = r.integers(0, 256, (6, 10, 12), dtype=np.uint8)
    np.savez(tmp_path / "mine.npz", x_train=x_train, x_test=x_test,
             y_train=np.arange(30) % 4, y_test=np.arange(6) % 4)  # fmt: skip
    dataset = NpzDataset()
    data = validate_loaded(dataset, dataset.load(tmp_path))
    assert data.x_train.shape == (30, 10, 12, 1) and dataset.data_shape == (10, 12, 1)
    np.testing.assert_array_equal(data.x_train[..., 0], x_train)  # order kept
    assert data.num_classes == 4 and data.y_test.tolist() == [0, 1, 2, 3, 0, 1]


def test_npz_single_array_is_split_reproducibly_and_floats_stay_float(tmp_path):
    x = rng().random((40, 8, 8, 3)).astype(np.float64)
    file = tmp_path / "colour.npz"
    np.savez(file, x=x)
    a = NpzDataset(path=str(file), test_fraction=0.25).load(None)
    b = NpzDataset(path="colour.npz", test_fraction=0.25).load(tmp_path)
    assert a.x_train.shape == (30, 8, 8, 3) and a.x_test.shape == (10, 8, 8, 3)
    assert a.x_train.dtype == np.float32 and a.y_train is None and a.num_classes == 0
    np.testing.assert_array_equal(a.x_test, b.x_test)
    together = np.concatenate([a.x_train, a.x_test]).astype(np.float64)
    np.testing.assert_allclose(np.sort(together.ravel()), np.sort(x.astype(np.float32).ravel()))
    c = NpzDataset(path=str(file), test_fraction=0.25, seed=5).load(None)
    assert not np.array_equal(a.x_test, c.x_test)


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"x_train": np.zeros((4, 5, 5, 2), np.uint8), "x_test": np.zeros((2, 5, 5, 2), np.uint8)},
         r"x_train has shape \[4, 5, 5, 2\]; expected \[n, height, width\]"),
        ({"x_train": np.zeros((4, 5, 5), np.uint8), "x_test": np.zeros((2, 6, 5), np.uint8)},
         r"x_train items have shape \[5, 5, 1\] but x_test items \[6, 5, 1\]"),
        ({"x": np.zeros((6, 5, 5), np.uint8), "y": np.arange(5)},
         r"y has shape \[5\]; expected \[6\]"),
        ({"x": np.zeros((6, 5, 5), np.uint8), "y": np.arange(6) - 1.0},
         r"y has dtype float64; labels must be integers"),
        ({"x": np.zeros((6, 5, 5), np.uint8), "y": np.arange(6) - 1},
         r"y has label -1; labels must be >= 0"),
        ({"x": np.full((6, 5, 5), 2.0)}, r"x is float64 with values in \[2, 2\]"),
        ({"x": np.zeros((6, 5, 5), np.int32)}, r"x has dtype int32; expected uint8"),
        ({"x": np.zeros((0, 5, 5), np.uint8)}, r"x has shape \[0, 5, 5, 1\], which is empty"),
        ({"images": np.zeros((6, 5, 5), np.uint8)},
         r"holds images; expected x_train and x_test .*, or x \(labels y optional\)"),
        ({"x_train": np.zeros((4, 5, 5), np.uint8), "x_test": np.zeros((2, 5, 5), np.uint8),
          "y_train": np.zeros(4, np.int64)}, r"has y_train but no y_test"),
    ],
)  # fmt: skip
def test_npz_bad_arrays_name_the_file_and_the_problem(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    result = invoke("run", "--dataset", "npz", "--data-dir", tmp_path, "--out", tmp_path / "r",
                    *TINY)  # fmt: skip
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())  # undo line wrapping
    assert "bad.npz" in text
    assert __import__("re").search(message, text), text
    assert "Traceback" not in result.output


def test_npz_labels_above_num_classes_and_pickles_and_broken_files(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros((6, 4, 4), np.uint8), y=np.arange(6))
    with pytest.raises(DataError, match=r"a.npz': y_train has label 5, out of range for "):
        NpzDataset(num_classes=5).load(tmp_path)
    np.savez(tmp_path / "b.npz", x=np.array([{"a": 1}] * 3, dtype=object))
    with pytest.raises(DataError, match=r"b.npz': the array 'x' holds Python objects"):
        NpzDataset(path="b.npz").load(tmp_path)
    (tmp_path / "c.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match=r"c.npz' could not be read as a numpy .npz file"):
        NpzDataset(path="c.npz").load(tmp_path)
    with pytest.raises(DataError, match=r"holds 3 .npz files \(a.npz, b.npz, c.npz\)"):
        NpzDataset().load(tmp_path)
    with pytest.raises(DataError, match="needs its file"):
        NpzDataset().load(None)
    np.save(tmp_path / "d.npy", np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(DataError, match=r"d.npy' is a single numpy array \(.npy\), not an .npz"):
        NpzDataset(path="d.npy").load(tmp_path)


def _zip_with(path, members):
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _npy_header(shape, descr="|u1"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def test_npz_crafted_members_are_refused_before_anything_is_allocated(tmp_path):
    # a header declaring 12 GB of data that the member does not hold: refused from the zip's
    # own member size, without allocating (numpy alone allocates first, then fails or OOMs)
    _zip_with(tmp_path / "lie.npz", {"x.npy": _npy_header((10**6, 64, 64, 3)) + bytes(1000)})
    with pytest.raises(
        DataError,
        match=r"lie.npz': the array 'x' declares shape \[1000000, 64, "
        r"64, 3\] of uint8 \(12,288,000,000 bytes\) but holds 1,000 bytes",
    ):
        NpzDataset(path="lie.npz").load(tmp_path)  # fmt: skip
    # a member that is not a .npy at all (numpy hands its raw bytes back)
    _zip_with(tmp_path / "raw.npz", {"x.npy": b"not an array"})
    with pytest.raises(DataError, match=r"raw.npz': the member 'x.npy' \(key 'x'\) is not a numpy"):
        NpzDataset(path="raw.npz").load(tmp_path)
    # a .npy header that does not parse (numpy raises tokenize.TokenError here)
    _zip_with(
        tmp_path / "hdr.npz",
        {"x.npy": b"\x93NUMPY\x01\x00\x20\x00{'descr': '|u1', " + b" " * 9 + b"\n"},
    )
    with pytest.raises(DataError, match=r"hdr.npz': the array 'x' has a corrupt .npy header"):
        NpzDataset(path="hdr.npz").load(tmp_path)
    # object dtype in the header is refused before reading
    _zip_with(tmp_path / "obj.npz", {"x.npy": _npy_header((3,), "|O") + bytes(24)})
    with pytest.raises(DataError, match=r"obj.npz': the array 'x' holds Python objects"):
        NpzDataset(path="obj.npz").load(tmp_path)
    # a text file: named as not a zip, not blamed on pickles
    (tmp_path / "text.npz").write_text("hello, not an archive")
    with pytest.raises(DataError, match=r"text.npz' could not be read .*not a zip file"):
        NpzDataset(path="text.npz").load(tmp_path)


def test_npz_reads_only_its_keys_and_names_the_others(tmp_path):
    x = rng().integers(0, 256, (10, 4, 4), dtype=np.uint8)
    # docs: "Other keys are ignored" -- even an object array under another key
    np.savez(tmp_path / "a.npz", x=x, notes=np.array([{"a": 1}], dtype=object))
    arrays = NpzDataset(path="a.npz", test_fraction=0.2).load(tmp_path)
    assert np.array_equal(np.sort(np.concatenate([arrays.x_train, arrays.x_test]), axis=0),
                          np.sort(x[..., None], axis=0))  # fmt: skip
    np.savez(tmp_path / "b.npz", images=x, labels=np.arange(10))
    with pytest.raises(DataError, match=r"b.npz' holds images, labels; expected x_train"):
        NpzDataset(path="b.npz").load(tmp_path)
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(DataError, match=r"folder.npz' \(option path\) is not a file"):
        NpzDataset(path="folder.npz").load(tmp_path)


def test_npz_labels_that_are_not_class_indices_are_refused(tmp_path):
    x = np.zeros((10, 4, 4), np.uint8)
    # ids or years as labels would make a one-hot of a billion classes (an out-of-memory crash)
    np.savez(tmp_path / "ids.npz", x=x, y=np.full(10, 10**9))
    with pytest.raises(
        DataError,
        match=r"ids.npz': y_train has label 1000000000, so 1000000001 "
        r"classes for 10 items; labels must be class indices",
    ):
        NpzDataset(path="ids.npz").load(tmp_path)  # fmt: skip
    assert NpzDataset(path="ids.npz", num_classes=10**9 + 1).requested_classes == 10**9 + 1
    with pytest.raises(DataError, match=r"num_classes 1000000001 is more than genmod takes"):
        NpzDataset(path="ids.npz", num_classes=10**9 + 1).load(tmp_path)
    # uint64 labels above int64's range: the value in the file, not a wrapped negative one
    np.savez(tmp_path / "u64.npz", x=x, y=np.full(10, 2**63 + 5, np.uint64))
    with pytest.raises(DataError, match=r"u64.npz': y has label 9223372036854775813;"):
        NpzDataset(path="u64.npz").load(tmp_path)
    # a few unused classes are fine: labels 0 and 7 of 10 items give 8 classes
    np.savez(tmp_path / "ok.npz", x=x, y=np.array([0, 7] * 5))
    assert NpzDataset(path="ok.npz").load(tmp_path).num_classes == 8


def test_npz_colour_trains_from_the_cli(tmp_path):
    np.savez(tmp_path / "c.npz", x=rng().random((48, 8, 8, 3)).astype(np.float32))
    out = tmp_path / "run"
    result = invoke("run", "--dataset", "npz", "--data-dir", tmp_path, "--out", out,
                    "--dataset-opt", "test_fraction=0.25", "--encoder", "mlp", *MLP,
                    *TINY)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_trained(out, colour=True)


def test_npz_grey_labelled_trains_a_conditional_network_from_the_cli(tmp_path):
    r = rng()
    grey = tmp_path / "grey.npz"
    np.savez(grey, x_train=r.integers(0, 256, (40, 12, 12), dtype=np.uint8),
             y_train=np.arange(40) % 3, x_test=r.integers(0, 256, (8, 12, 12), dtype=np.uint8),
             y_test=np.arange(8) % 3)  # fmt: skip
    out = tmp_path / "run"
    result = invoke("run", "--dataset", "npz", "--dataset-opt", f"path={grey}", "--out", out,
                    "--encoder", "cmlp", *MLP, *TINY)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_trained(out)


# ---------------------------------------------------------------- image folders


def test_image_folder_with_class_folders(tmp_path):
    root = write_image_folder(tmp_path / "pets")
    dataset = ImageFolder(test_fraction=0.25)
    data = validate_loaded(dataset, dataset.load(root))
    assert data.x_train.shape == (27, 20, 24, 3) and data.x_test.shape == (9, 20, 24, 3)
    assert data.num_classes == 3 and dataset.data_shape == (20, 24, 3)
    # labels follow the sorted folder names (cat 0, dog 1, owl 2): the pixel mark says which
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        np.testing.assert_array_equal(x[:, 0, 0, 0], y * 50)
    assert len(set(data.y_train[:9].tolist())) > 1  # shuffled: a prefix holds several classes


def test_image_folder_resizes_converts_and_reads_train_test_folders(tmp_path):
    root = tmp_path / "data"
    write_image_folder(root / "train", classes=("a", "b"), per_class=5, size=(30, 30))
    write_image_folder(root / "test", classes=("b",), per_class=3, size=(16, 40), rgb=False)
    dataset = ImageFolder(size=(12,), channels=1)
    data = dataset.load(root)
    assert data.x_train.shape == (10, 12, 12, 1) and data.x_test.shape == (3, 12, 12, 1)
    assert data.y_test.tolist() == [1, 1, 1] and data.num_classes == 2
    from PIL import Image

    one = np.asarray(Image.open(root / "test" / "b" / "000.png").resize((12, 12), Image.LANCZOS))
    assert any(np.array_equal(x[..., 0], one) for x in data.x_test)
    colour = ImageFolder(size=(8, 6)).load(root)  # a colour train set: 3 channels for all
    assert colour.x_test.shape == (3, 8, 6, 3)
    assert (colour.x_test[..., 0] == colour.x_test[..., 2]).all()  # grey images, repeated


def test_image_folder_without_class_folders_is_unlabelled_and_reads_jpeg(tmp_path):
    r = rng()
    for i in range(9):
        write_png(tmp_path / "flat" / f"{i}.png", r.integers(0, 256, (9, 7), dtype=np.uint8))
    write_png(tmp_path / "flat" / "9.JPG", np.full((9, 7), 200, np.uint8))  # JPEG by content
    (tmp_path / "flat" / ".DS_Store").write_bytes(b"hidden files are skipped")
    data = ImageFolder().load(tmp_path / "flat")
    assert data.y_train is None and data.num_classes == 0
    assert data.x_train.shape == (9, 9, 7, 1) and data.x_test.shape == (1, 9, 7, 1)
    everything = np.concatenate([data.x_train, data.x_test])
    assert any(np.abs(x.astype(int) - 200).max() <= 3 for x in everything)  # the lossy JPEG


def test_image_folder_refuses_16_bit_images_naming_them(tmp_path):
    from PIL import Image

    write_png(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    Image.fromarray(np.full((4, 4), 40000, np.uint16)).save(tmp_path / "deep.png")
    with pytest.raises(DataError, match=r"deep.png' has I;16 pixels"):
        ImageFolder().load(tmp_path)


@pytest.mark.parametrize(
    ("break_it", "names", "message"),
    [
        (lambda root: (root / "dog" / "notes.txt").write_text("hi"), "notes.txt",
         "is not an image file genmod reads"),
        (lambda root: (root / "cat" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken"),
         "broken.png", "could not be read as a PNG or JPEG image"),
        (lambda root: write_png(root / "owl" / "big.png", np.zeros((21, 24, 3), np.uint8)),
         "big.png", "images of mixed sizes need a common size: --dataset-opt size=20,24"),
        (lambda root: (root / "emu").mkdir(), "emu", "is empty"),
    ],
)  # fmt: skip
def test_image_folder_bad_input_is_exit_2_naming_the_file(tmp_path, break_it, names, message):
    root = write_image_folder(tmp_path / "pets", per_class=3)
    break_it(root)
    result = invoke("run", "--dataset", "image-folder", "--data-dir", root,
                    "--out", tmp_path / "r", *TINY)  # fmt: skip
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert names in text and message in text, text
    assert "Traceback" not in result.output


def test_image_folder_refuses_pipes_and_broken_links_without_hanging(tmp_path):
    import os

    root = write_image_folder(tmp_path / "pets", per_class=3)
    os.mkfifo(root / "cat" / "pipe.png")  # opening it for reading would block forever
    with pytest.raises(DataError, match=r"pipe.png' is not a regular file"):
        ImageFolder().load(root)
    (root / "cat" / "pipe.png").unlink()
    (root / "dog" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(DataError, match=r"gone.png' is not a regular file"):
        ImageFolder().load(root)


def test_image_folder_too_large_for_memory_is_refused_before_decoding(tmp_path, monkeypatch):
    from genmod_builtins import image_folder_loader, memory_guard

    root = write_image_folder(tmp_path / "pets", per_class=2)  # 6 images
    monkeypatch.setattr(memory_guard, "memory_bytes", lambda: 2 * 2**30)  # 2 GiB
    opened = []

    def pixels(path, size, channels):
        assert size == (8, 8), "decoding started at the refused size"
        opened.append(path)
        return np.zeros((*size, channels), np.uint8)

    monkeypatch.setattr(image_folder_loader.ImageFolder, "_pixels", staticmethod(pixels))
    # 6 x 20000 x 20000 x 3 bytes = 6.7 GiB: an out-of-memory crash if it were decoded
    with pytest.raises(
        DataError,
        match=r"the 6 images of '.*pets' at 20000x20000x3 need 6.7 GiB of memory, more than "
        r"half of this machine's 2.0 GiB; give a smaller --dataset-opt size=HEIGHT,WIDTH",
    ):
        ImageFolder(size=(20000,)).load(root)  # fmt: skip
    assert opened == []
    ImageFolder(size=(8,)).load(root)  # 1 KiB: fine
    assert len(opened) == 6


def test_image_folder_prints_no_pillow_warnings(tmp_path, monkeypatch):
    import warnings

    from PIL import Image

    root = write_image_folder(tmp_path / "pets", per_class=2)  # 20x24 = 480 pixels each
    palette = Image.fromarray(rng().integers(0, 256, (20, 24, 3), dtype=np.uint8)).convert("P")
    palette.save(root / "cat" / "clear.png", transparency=bytes(range(8)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300)  # 480 pixels: Pillow's bomb *warning*
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning Pillow prints on stderr fails the test
        arrays = ImageFolder().load(root)
    assert arrays.x_train.shape[1:] == (20, 24, 3) and len(arrays.x_train) + len(arrays.x_test) == 7
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200)  # above twice the limit: refused
    with pytest.raises(DataError, match=r"is too large to read safely"):
        ImageFolder().load(root)


def test_image_folder_with_train_but_no_test_says_so(tmp_path):
    root = write_image_folder(tmp_path / "data" / "train", per_class=2).parent
    with pytest.raises(DataError, match=r"has train/ with sub-folders but no test/: a given "):
        ImageFolder().load(root)


def test_an_empty_image_folder_is_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    result = invoke("run", "--dataset", "image-folder", "--data-dir", tmp_path / "empty",
                    "--out", tmp_path / "r", *TINY)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "empty" in result.output and "Traceback" not in result.output
    result = invoke("run", "--dataset", "image-folder", "--dataset-opt", "size=1,2,3",
                    "--data-dir", tmp_path / "empty", "--out", tmp_path / "r", *TINY)  # fmt: skip
    assert result.exit_code == 2 and "height,width" in result.output


@pytest.mark.parametrize("encoder", ["cnn", "ccnn"])
def test_image_folder_trains_from_the_cli(tmp_path, encoder):
    root = write_image_folder(tmp_path / "pets", per_class=16, size=(16, 16))
    out = tmp_path / encoder
    result = invoke(
        "run", "--dataset", "image-folder", "--data-dir", root, "--dataset-opt", "size=8",
        "--dataset-opt", "test_fraction=0.25", "--out", out, "--encoder", encoder,
        "--encoder-opt", "filters=8,8", "--decoder-opt", "filters=8,8", "--latent-dim", "4",
        *TINY,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_trained(out, colour=True)
    config = (out / "config.toml").read_text()
    assert 'dataset = "image-folder"' in config and "size = [8]" in config


# ---------------------------------------------------------------- the conformance kit


def test_every_new_dataset_passes_the_conformance_kit_on_its_fixture(tmp_path, monkeypatch):
    from genmod.testing import check_component

    for cls in (FashionMNIST, KMNIST):
        folder, *_ = write_idx_dataset(tmp_path / cls.name)
        pin_idx(monkeypatch, cls, folder)
        check_component("dataset", cls.name, data_dir=folder)
    archive, *_ = write_cifar_archive(tmp_path / "cifar")
    monkeypatch.setattr(CIFAR10, "archive_sha256", sha256_file(archive))
    check_component("dataset", "cifar10", data_dir=archive.parent)
    (tmp_path / "npz").mkdir()
    np.savez(tmp_path / "npz" / "a.npz", x=np.zeros((10, 5, 7), np.uint8), y=np.arange(10) % 2)
    check_component("dataset", "npz", {"test_fraction": 0.3}, data_dir=tmp_path / "npz")
    root = write_image_folder(tmp_path / "pets", per_class=4)
    check_component("dataset", "image-folder", {"size": (6, 4), "channels": 1}, data_dir=root)


# ---------------------------------------------------------------- listing


def test_genmod_plugins_lists_the_datasets_without_importing_tensorflow_or_numpy_loaders():
    code = (
        "import sys; from genmod.cli import cli\n"
        "try:\n    cli(['plugins'])\nexcept SystemExit:\n    pass\n"
        "bad = [m for m in ('tensorflow', 'genmod_builtins.npz_loader', 'PIL', 'h5py', "
        "'genmod_builtins.factor_datasets', 'genmod_builtins.sprites_render') "
        "if m in sys.modules]\n"
        "print('IMPORTED', bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "IMPORTED []" in result.stdout
    names = ("fashion-mnist", "kmnist", "cifar10", "npz", "image-folder", "sprites", "dsprites")
    for name in (*names, "shapes3d"):
        assert f"dataset {name}: " in result.stdout
    assert "test_fraction (float, default 0.1)" in result.stdout


def test_image_folder_turns_exif_rotated_photos_upright(tmp_path):
    """A phone photo stored 6 wide x 4 high with orientation 6 (turned a quarter) is 4 wide x 6
    high when viewed; it must load that way and not count as a different size."""
    from PIL import Image

    from genmod_builtins.image_folder_loader import ImageFolder

    for k in range(4):
        folder = tmp_path / "photos" / ("a" if k % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        upright = Image.new("RGB", (4, 6), (200, 10, 10))
        upright.putpixel((0, 0), (0, 255, 0))
        if k == 0:
            stored = upright.transpose(Image.Transpose.ROTATE_90)  # 6 wide x 4 high
            exif = Image.Exif()
            exif[0x0112] = 6
            stored.save(folder / f"{k}.jpg", exif=exif, quality=95)
        else:
            upright.save(folder / f"{k}.png")
    arrays = ImageFolder(test_fraction=0.25).load(tmp_path / "photos")
    assert arrays.data_shape == (6, 4, 3)


def test_cifar10_with_the_discretized_logistic_reports_bits_per_dim(tmp_path, monkeypatch):
    """The issue's command, `--dataset cifar10 --likelihood discretized-logistic`, with no
    --binarize: auto keeps the 8-bit values, and the run reports bits/dim (D = 3072)."""
    archive, *_ = write_cifar_archive(tmp_path / "c")
    monkeypatch.setattr(cifar10_loader.CIFAR10, "archive_sha256", sha256_file(archive))
    out = tmp_path / "run"
    result = invoke(
        "run", "--dataset", "cifar10", "--likelihood", "discretized-logistic",
        "--data-dir", archive.parent, "--out", out, "--encoder", "cnn",
        "--encoder-opt", "filters=8,8", "--decoder-opt", "filters=8,8", "--latent-dim", "4",
        *TINY,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert_trained(out, colour=True)
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    expected = -record["test_elbo"] / (32 * 32 * 3 * math.log(2))
    assert math.isclose(record["test_bits_per_dim"], expected, rel_tol=1e-6)
    assert 'resolved_binarize = "none"' in (out / "config.toml").read_text()
