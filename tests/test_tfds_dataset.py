"""The ``tfds`` dataset adapter, on TFDS's own mock data (``tfds.testing.mock_data``: random
items generated offline from each dataset's declared features; no network, no downloads)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tomllib

import numpy as np
import pytest
from click.testing import CliRunner

from genmod.cli import cli
from genmod.contract.errors import ConfigError, DataError
from genmod.data import load_checked
from genmod.testing import check_component
from genmod_builtins.tfds_loader import TFDSDataset

ITEMS = 24  # mock items per split (TFDS's mock yields the same items for every split)


@pytest.fixture
def tfds():
    return pytest.importorskip("tensorflow_datasets")


@pytest.fixture
def mock_tfds(tfds):
    """TFDS mocked for the test: every dataset has ITEMS random items, built from code only."""
    with tfds.testing.mock_data(num_examples=ITEMS, policy=tfds.testing.MockPolicy.USE_CODE):
        yield tfds


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


TINY = [
    "--epochs", "1", "--train-size", "16", "--validation-size", "8", "--test-size", "16",
    "--batch-size", "8", "--latent-dim", "2", "--quiet",
]  # fmt: skip


def items_one_by_one(tfds, name: str, split: str, image_key="image", label_key="label"):
    """The split read independently: item by item through tfds.as_numpy, no batching."""
    ds = tfds.builder(name).as_dataset(split=split, shuffle_files=False)
    items = list(tfds.as_numpy(ds))
    x = np.stack([item[image_key] for item in items])
    y = np.array([item[label_key] for item in items]) if label_key else None
    return x, y


# -- no TFDS needed ---------------------------------------------------------------------------


def test_listing_plugins_imports_neither_tfds_nor_tensorflow():
    code = (
        "import sys\n"
        "import genmod_builtins.tfds, genmod_builtins.tfds_loader\n"
        "from genmod.cli import main\n"
        "try:\n"
        "    main(['plugins'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "bad = [m for m in ('tensorflow', 'tensorflow_datasets', 'keras') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "dataset tfds:" in done.stdout and "name (str" in done.stdout


def test_a_missing_name_says_how_to_give_one(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # checked before any import
    dataset = TFDSDataset()  # the default options build (the conformance kit needs that)
    with pytest.raises(ConfigError, match=r"--dataset-opt name=fashion_mnist.*list_builders"):
        dataset.load(None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": (32,)}, "give HEIGHT,WIDTH"),
        ({"size": (1, 2, 3)}, "give HEIGHT,WIDTH"),
        ({"train_split": " "}, "option 'train_split' is empty"),
    ],
)
def test_bad_options_are_refused_before_loading(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TFDSDataset(name="mnist", **kwargs)


def test_without_tensorflow_datasets_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # `import` now fails
    with pytest.raises(ConfigError, match=r"pip install 'genmod\[tfds\]'"):
        TFDSDataset(name="mnist").load(None)


def test_the_cli_reports_tfds_errors_with_exit_code_2(tmp_path, monkeypatch):
    result = invoke("run", "--dataset", "tfds", "--out", tmp_path / "a", *TINY)
    assert result.exit_code == 2, result.output
    assert "needs a TFDS dataset name" in result.output and "Traceback" not in result.output
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    result = invoke(
        "run", "--dataset", "tfds", "--dataset-opt", "name=mnist", "--out", tmp_path / "b", *TINY
    )
    assert result.exit_code == 2, result.output
    assert "pip install 'genmod[tfds]'" in result.output


def test_data_dir_is_tfdss_data_dir(tfds, tmp_path):
    """Not mocked: --data-dir is where TFDS looks (NAME/VERSION inside it); nothing downloads."""
    result = invoke(
        "run", "--dataset", "tfds", "--dataset-opt", "name=mnist;download=false",
        "--data-dir", tmp_path, "--out", tmp_path / "run", *TINY,
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "is not downloaded" in result.output
    assert str(tmp_path / "mnist" / "3.0.1") in result.output


def test_a_data_dir_that_does_not_exist_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"'.*nowhere'.*does not exist.*~/tensorflow_datasets"):
        TFDSDataset(name="mnist").load(tmp_path / "nowhere")


# -- on TFDS's mock data ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shape"),
    [("mnist", (28, 28, 1)), ("fashion_mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))],
)
def test_arrays_have_the_datasets_shapes_dtypes_and_labels(mock_tfds, name, shape):
    dataset = TFDSDataset(name=name)
    data = load_checked(dataset, None)  # the rule genmod run applies
    assert dataset.data_shape == shape and data.data_shape == shape
    assert data.num_classes == dataset.num_classes == 10
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        assert x.shape == (ITEMS, *shape) and x.dtype == np.uint8
        assert x.max() > 1  # 0..255 grey levels, not rescaled to [0, 1]
        assert y.shape == (ITEMS,) and y.dtype == np.int64
        assert 0 <= y.min() and y.max() < 10 and len(set(y.tolist())) > 1
    # the same items, in the same order, as TFDS gives them one by one
    x_ref, y_ref = items_one_by_one(mock_tfds, name, "train")
    np.testing.assert_array_equal(data.x_train, x_ref)
    np.testing.assert_array_equal(data.y_train, y_ref)


def test_the_conformance_kit_accepts_the_adapter(mock_tfds, tmp_path):
    check_component("dataset", "tfds", {"name": "cifar10"}, data_dir=tmp_path)
    check_component("dataset", "tfds")  # default options: builds, not loaded


def test_batched_reading_keeps_order_across_batches(mock_tfds, monkeypatch):
    import genmod_builtins.tfds_loader as loader

    monkeypatch.setattr(loader, "READ_BATCH", 5)  # 24 items: batches of 5, 5, 5, 5, 4
    data = TFDSDataset(name="fashion_mnist").load(None)
    x_ref, y_ref = items_one_by_one(mock_tfds, "fashion_mnist", "test")
    np.testing.assert_array_equal(data.x_test, x_ref)
    np.testing.assert_array_equal(data.y_test, y_ref)


def test_a_dataset_without_labels_gives_none(mock_tfds):
    # binarized_mnist has an image feature only
    data = load_checked(TFDSDataset(name="binarized_mnist", test_split="test"), None)
    assert data.y_train is None and data.y_test is None and data.num_classes == 0
    # an empty label_key drops the labels of a labelled dataset
    unlabelled = TFDSDataset(name="mnist", label_key="").load(None)
    assert unlabelled.y_train is None and unlabelled.num_classes == 0


def test_images_of_different_sizes_need_the_size_option(mock_tfds):
    # tf_flowers declares Image(shape=(None, None, 3)); the mock draws sizes 5..49
    with pytest.raises(DataError, match=r"'tf_flowers' differ in size.*size=64,64"):
        TFDSDataset(name="tf_flowers", test_split="train").load(None)
    data = load_checked(TFDSDataset(name="tf_flowers", test_split="train", size=(8, 10)), None)
    assert data.x_train.shape == (ITEMS, 8, 10, 3) and data.x_train.dtype == np.uint8
    assert data.num_classes == 5


def test_resizing_matches_an_independent_antialiased_resize(mock_tfds):
    from PIL import Image

    data = TFDSDataset(name="tf_flowers", test_split="train", size=(8, 10)).load(None)
    originals = []
    ds = mock_tfds.builder("tf_flowers").as_dataset(split="train", shuffle_files=False)
    for item, resized in zip(mock_tfds.as_numpy(ds), data.x_train, strict=True):
        picture = Image.fromarray(item["image"]).resize((10, 8), Image.Resampling.BILINEAR)
        reference = np.asarray(picture, dtype=np.float64)
        originals.append(item["image"].shape)
        # TF's and Pillow's antialiased (triangle) filters agree up to rounding: one grey level
        # (plain bilinear or nearest resizing of these noise images is off by ~30 on average)
        assert np.abs(resized - reference).max() <= 1.0
    assert len({shape[:2] for shape in originals}) > 1  # the mock really varied the sizes


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"name": "fashoin_mnist"}, ConfigError, r"no dataset 'fashoin_mnist'.*fashion_mnist"),
        ({"name": "wine_quality"}, ConfigError, r"'wine_quality' has no image feature"),
        ({"name": "mnist", "image_key": "img"}, ConfigError, r"features: image \(Image\), label"),
        ({"name": "mnist", "image_key": "label"}, ConfigError, r"'label'.*not an image"),
        ({"name": "mnist", "label_key": "image"}, ConfigError, r"'image'.*not a ClassLabel"),
        ({"name": "mnist", "version": "9.9.9"}, ConfigError, r"only: 3\.0\.1"),
        ({"name": "mnist", "download": False}, DataError, r"not downloaded.*tfds build mnist"),
    ],
)
def test_unusable_datasets_and_options_are_clear_errors(mock_tfds, kwargs, error, message):
    with pytest.raises(error, match=message):
        TFDSDataset(**kwargs).load(None)


def test_an_offline_download_is_a_data_error_naming_the_folder(tfds, tmp_path, monkeypatch):
    """Not mocked: a real, empty TFDS folder; the download itself fails as it does offline."""

    def offline(self, *args, **kwargs):
        raise ConnectionError("Failed to resolve 'storage.googleapis.com' (no network)")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    with pytest.raises(DataError) as caught:
        TFDSDataset(name="mnist").load(tmp_path)
    message = str(caught.value)
    assert "ConnectionError" in message and "offline" in message
    assert str(tmp_path / "mnist" / "3.0.1") in message and "--data-dir" in message


# -- on a real prepared TFDS dataset (a tiny builder defined here, prepared offline) -------------

TINY_SPLITS = {"train": 12, "test": 8}  # genmod run draws 8 test items per picture
TINY_SHAPE = (6, 5, 1)


def tiny_items(split: str) -> list[tuple[bytes, int]]:
    """What the tiny builder writes for a split: (image bytes, label) per item."""
    rng = np.random.default_rng(TINY_SPLITS[split])
    return [
        (rng.integers(0, 256, TINY_SHAPE, dtype=np.uint8).tobytes(), i % 3)
        for i in range(TINY_SPLITS[split])
    ]


@pytest.fixture(scope="session")
def prepared_dir(tmp_path_factory):
    """A TFDS data_dir holding ``genmod_test_tiny_images/1.0.0`` prepared by TFDS itself."""
    tfds = pytest.importorskip("tensorflow_datasets")

    class GenmodTestTinyImages(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            features = {
                "image": tfds.features.Image(shape=TINY_SHAPE),
                "label": tfds.features.ClassLabel(num_classes=3),
            }
            return tfds.core.DatasetInfo(
                builder=self, features=tfds.features.FeaturesDict(features)
            )

        def _split_generators(self, dl_manager):
            return {split: self._generate_examples(split) for split in TINY_SPLITS}

        def _generate_examples(self, split):
            for i, (image, label) in enumerate(tiny_items(split)):
                pixels = np.frombuffer(image, np.uint8).reshape(TINY_SHAPE)
                yield i, {"image": pixels, "label": label}

    root = tmp_path_factory.mktemp("tfds")
    GenmodTestTinyImages(data_dir=str(root)).download_and_prepare()
    return root


def test_a_prepared_dataset_loads_all_its_items_from_data_dir(prepared_dir):
    dataset = TFDSDataset(name="genmod_test_tiny_images", download=False)  # nothing to download
    data = load_checked(dataset, prepared_dir)
    assert data.x_train.shape == (12, *TINY_SHAPE) and data.x_test.shape == (8, *TINY_SHAPE)
    assert data.num_classes == 3 and data.y_train.dtype == np.int64
    for split in TINY_SPLITS:
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        got = sorted((image.tobytes(), int(label)) for image, label in zip(x, y, strict=True))
        assert got == sorted(tiny_items(split))  # every item, each with its own label
    again = TFDSDataset(name="genmod_test_tiny_images").load(prepared_dir)
    np.testing.assert_array_equal(again.x_train, data.x_train)  # the same order every time


def test_split_slices_and_unknown_splits(prepared_dir):
    part = TFDSDataset(name="genmod_test_tiny_images", train_split="train[:30%]", test_split="test")
    assert len(part.load(prepared_dir).x_train) == 4
    with pytest.raises(ConfigError, match=r"no split 'valid'.*Its splits: test, train"):
        TFDSDataset(name="genmod_test_tiny_images", test_split="valid").load(prepared_dir)


def test_a_size_too_large_for_memory_is_refused_before_reading(prepared_dir, monkeypatch):
    from genmod_builtins import memory_guard

    monkeypatch.setattr(memory_guard, "memory_bytes", lambda: 64 * 2**20)  # 64 MiB
    # 20 items resized to 2000x2000x1 = 76 MiB (with real sizes, TensorFlow ran out of memory
    # and the error said the prepared files were corrupt, advising to delete them)
    big = TFDSDataset(name="genmod_test_tiny_images", size=(2000, 2000), download=False)
    with pytest.raises(
        DataError,
        match=r"the 20 items of the TFDS dataset 'genmod_test_tiny_images' at 2000x2000x1 need "
        r"76 MiB of memory, more than half of this machine's 64 MiB; give a smaller "
        r"--dataset-opt size=",
    ):
        big.load(prepared_dir)
    small = TFDSDataset(name="genmod_test_tiny_images", size=(8, 8), download=False)
    assert small.load(prepared_dir).x_train.shape == (12, 8, 8, 1)


def test_a_corrupt_prepared_file_is_a_data_error(prepared_dir, tmp_path):
    import shutil

    copy = tmp_path / "tfds"
    shutil.copytree(prepared_dir, copy)
    (record,) = (copy / "genmod_test_tiny_images" / "1.0.0").glob("*-train.tfrecord-*")
    record.write_bytes(record.read_bytes()[:100])  # cut short
    with pytest.raises(DataError, match=r"'train'.*incomplete or corrupt"):
        TFDSDataset(name="genmod_test_tiny_images").load(copy)


# -- genmod run through the CLI, on mock data ---------------------------------------------------


def check_run(out, dataset_name: str) -> None:
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["dataset"] == "tfds"
    assert config["dataset_options"]["name"] == dataset_name
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(metrics) == 1 and math.isfinite(metrics[0]["test_elbo"])
    assert metrics[0]["test_elbo"] < 0
    assert (out / "pictures" / "samples" / "epoch-0001.png").stat().st_size > 0
    assert (out / "pictures" / "reconstructions.png").stat().st_size > 0


def test_genmod_run_on_a_grey_tfds_dataset(mock_tfds, tmp_path):
    out = tmp_path / "run"
    result = invoke(
        "run", "--dataset", "tfds", "--dataset-opt", "name=fashion_mnist",
        "--encoder-opt", "hidden=16", "--decoder-opt", "hidden=16", "--out", out, *TINY,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "test ELBO" in result.output
    check_run(out, "fashion_mnist")
    assert tomllib.loads((out / "config.toml").read_text())["data_shape"] == [28, 28, 1]


@pytest.mark.slow
def test_genmod_run_conditional_on_tfds_labels(mock_tfds, tmp_path):
    out = tmp_path / "run"
    result = invoke(
        "run", "--dataset", "tfds", "--dataset-opt", "name=mnist", "--encoder", "cmlp",
        "--encoder-opt", "hidden=16", "--decoder-opt", "hidden=16", "--out", out, *TINY,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    check_run(out, "mnist")
    assert tomllib.loads((out / "config.toml").read_text())["condition_dim"] == 10


def test_a_conditional_run_on_unlabelled_tfds_data_is_refused(mock_tfds, tmp_path):
    result = invoke(
        "run", "--dataset", "tfds", "--dataset-opt", "name=mnist;label_key=", "--encoder",
        "cmlp", "--out", tmp_path / "run", *TINY,
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "has no labels" in result.output


@pytest.mark.slow
def test_genmod_run_on_a_colour_tfds_dataset(mock_tfds, tmp_path):
    out = tmp_path / "run"
    result = invoke(
        "run", "--dataset", "tfds", "--dataset-opt", "name=cifar10",
        "--encoder-opt", "hidden=16", "--decoder-opt", "hidden=16", "--out", out, *TINY,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    check_run(out, "cifar10")
    assert tomllib.loads((out / "config.toml").read_text())["data_shape"] == [32, 32, 3]


@pytest.mark.slow
def test_run_and_resume_on_a_prepared_dataset_in_data_dir(prepared_dir, tmp_path):
    """Not mocked: --data-dir is TFDS's data_dir; resume finds the same data (fingerprint)."""
    out = tmp_path / "run"
    sizes = ["--validation-size", "2", "--batch-size", "4", "--latent-dim", "2", "--quiet"]
    result = invoke(
        "run", "--dataset", "tfds", "--dataset-opt", "name=genmod_test_tiny_images",
        "--encoder-opt", "hidden=8", "--decoder-opt", "hidden=8", "--data-dir", prepared_dir,
        "--epochs", "1", "--out", out, *sizes,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["data_shape"] == list(TINY_SHAPE) and config["data_dir"] == str(prepared_dir)
    result = invoke("resume", out, "--epochs", "2", "--quiet")
    assert result.exit_code == 0, result.output
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert all(math.isfinite(m["test_elbo"]) for m in metrics)
