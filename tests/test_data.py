"""MNIST reading, validation, download and binarization."""

from __future__ import annotations

import gzip
import shutil
import struct

import numpy as np
import pytest

from genmod.contract.errors import DataError
from genmod.data.idx import parse_idx
from genmod_builtins.mnist_loader import FILES, MNIST


def test_real_mnist_matches_published_statistics(mnist_arrays):
    data = mnist_arrays
    assert data.x_train.shape == (60000, 28, 28, 1) and data.x_train.dtype == np.uint8
    assert data.x_test.shape == (10000, 28, 28, 1)
    assert data.x_train.mean() == pytest.approx(33.3184, abs=1e-3)
    assert data.x_test.mean() == pytest.approx(33.7912, abs=1e-3)
    assert np.bincount(data.y_train).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert np.bincount(data.y_test).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]


def test_parse_idx_round_trip_and_truncation():
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    payload = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2, 3, 4) + array.tobytes()
    np.testing.assert_array_equal(parse_idx(payload), array)
    with pytest.raises(DataError, match="truncated"):
        parse_idx(payload[:-1])
    with pytest.raises(DataError, match="not an IDX"):
        parse_idx(b"\x1f\x8b" + payload[2:])


def _copy_mnist(src, dst):
    dst.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy(src / name, dst / name)
    return dst


def test_missing_folder_and_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        MNIST().load(tmp_path / "nowhere")
    with pytest.raises(DataError, match="lacks train-images-idx3-ubyte.gz") as info:
        MNIST().load(tmp_path)
    assert "cache folder" in str(info.value)


def test_truncated_gzip_is_a_clear_error(tmp_path, mnist_dir):
    folder = _copy_mnist(mnist_dir, tmp_path / "mnist")
    target = folder / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(DataError, match="truncated or corrupt"):
        MNIST().load(folder)


def test_wrong_content_fails_the_checksum(tmp_path, mnist_dir):
    folder = _copy_mnist(mnist_dir, tmp_path / "mnist")
    labels = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    tampered = labels[:-1] + bytes([(labels[-1] + 1) % 10])
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(tampered))
    with pytest.raises(DataError, match="SHA-256"):
        MNIST().load(folder)


def test_download_into_cache_verifies_and_loads(tmp_path, monkeypatch, mnist_dir):
    monkeypatch.setenv("GENMOD_CACHE_DIR", str(tmp_path / "cache"))
    dataset = MNIST()
    dataset.mirrors = ("http://127.0.0.1:9/unreachable/", mnist_dir.as_uri() + "/")
    data = dataset.load(None)
    assert data.x_test.shape == (10000, 28, 28, 1)
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == sorted(FILES)


def test_offline_download_says_where_to_put_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("GENMOD_CACHE_DIR", str(tmp_path / "cache"))
    dataset = MNIST()
    dataset.mirrors = ("http://127.0.0.1:9/",)
    with pytest.raises(DataError) as info:
        dataset.load(None)
    message = str(info.value)
    assert "could not download train-images-idx3-ubyte.gz" in message
    assert str(tmp_path / "cache" / "mnist") in message and "--data-dir" in message


def test_download_with_wrong_checksum_is_rejected(tmp_path, monkeypatch, mnist_dir):
    mirror = _copy_mnist(mnist_dir, tmp_path / "mirror")
    (mirror / "train-images-idx3-ubyte.gz").write_bytes(
        (mirror / "t10k-images-idx3-ubyte.gz").read_bytes()
    )
    monkeypatch.setenv("GENMOD_CACHE_DIR", str(tmp_path / "cache"))
    dataset = MNIST()
    dataset.mirrors = (mirror.as_uri() + "/",)
    with pytest.raises(DataError, match="checksum mismatch"):
        dataset.load(None)
    assert not (tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_binarizations():
    import tensorflow as tf

    from genmod.model.preprocess import binarize_images

    images = tf.constant(np.array([[0, 100, 128, 255]] * 2000, np.uint8))
    static = binarize_images(images, "static", tf.constant([0, 0])).numpy()
    assert static[0].tolist() == [0.0, 0.0, 1.0, 1.0]
    grey = binarize_images(images, "none", tf.constant([0, 0])).numpy()
    np.testing.assert_allclose(grey[0], [0, 100 / 255, 128 / 255, 1.0], rtol=1e-6)
    a = binarize_images(images, "dynamic", tf.constant([1, 2])).numpy()
    b = binarize_images(images, "dynamic", tf.constant([1, 2])).numpy()
    c = binarize_images(images, "dynamic", tf.constant([1, 3])).numpy()
    np.testing.assert_array_equal(a, b)  # same seed, same sample
    assert not np.array_equal(a, c)  # a fresh sample for another seed
    assert set(np.unique(a)) <= {0.0, 1.0}
    np.testing.assert_allclose(a.mean(axis=0), [0, 100 / 255, 128 / 255, 1.0], atol=0.04)
