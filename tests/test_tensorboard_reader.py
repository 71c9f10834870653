"""TensorBoard's own reader sees every scalar and image a genmod run writes.

genmod writes its event files with TensorFlow's core ``tf.summary.write`` (no ``tensorboard``
package needed to train); this reads a real tiny run back with TensorBoard's data provider,
the reader behind ``tensorboard --logdir runs`` (event multiplexer -> data provider -> the
Scalars and Images plugins), so that promise is checked, not assumed. Needs the ``tensorboard``
package (``pip install 'genmod[test]'`` or ``'genmod[tensorboard]'``); skipped without it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from genmod.cli import cli

pytest.importorskip("tensorboard")

EPOCHS = 2


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory, mnist_dir) -> Path:
    """A folder of runs holding one 2-epoch MNIST run, ``ROOT/run``."""
    root = tmp_path_factory.mktemp("tb")
    args = [
        "run",
        "--data-dir",
        mnist_dir,
        "--out",
        root / "run",
        "--epochs",
        EPOCHS,
        "--train-size",
        256,
        "--test-size",
        128,
        "--validation-size",
        64,
        "--batch-size",
        64,
        "--eval-batch-size",
        128,
        "--encoder-opt",
        "hidden=32",
        "--decoder-opt",
        "hidden=32",
        "--quiet",
    ]
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture(scope="module")
def provider(runs_root):
    """TensorBoard's data provider over ``runs_root``, as ``tensorboard --logdir`` builds it."""
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer

    multiplexer = plugin_event_multiplexer.EventMultiplexer(
        tensor_size_guidance={"scalars": 0, "images": 0}  # 0: keep every step
    )
    multiplexer.AddRunsFromDirectory(str(runs_root))
    multiplexer.Reload()
    return data_provider.MultiplexerDataProvider(multiplexer, str(runs_root))


def _context():
    from tensorboard import context

    return context.RequestContext()


def _records(runs_root: Path) -> list[dict]:
    lines = (runs_root / "run" / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_tensorboard_finds_the_run_and_both_plugins(provider):
    runs = [run.run_name for run in provider.list_runs(_context(), experiment_id="")]
    assert runs == ["run/tensorboard"]
    plugins = provider.list_plugins(_context(), experiment_id="")
    assert {"scalars", "images"} <= set(plugins)


def test_every_scalar_has_the_steps_and_values_of_metrics_jsonl(provider, runs_root):
    records = _records(runs_root)
    assert [r["epoch"] for r in records] == list(range(1, EPOCHS + 1))
    # list-valued fields (kl_per_dim: one KL per latent dimension) are one scalar per entry,
    # tagged FIELD/NN (docs/runs.md)
    for record in records:
        for key, value in list(record.items()):
            if isinstance(value, list):
                record.update({f"{key}/{i:02d}": v for i, v in enumerate(value)})
    assert any(key.startswith("kl_per_dim/") for key in records[0])
    numeric = {
        key
        for record in records
        for key, value in record.items()
        if key != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool)
    }
    # the run writes what the docs promise: train/validation/test ELBO terms at least
    assert {"train_elbo", "validation_elbo", "test_elbo", "test_kl", "learning_rate"} <= numeric
    listed = provider.list_scalars(_context(), experiment_id="", plugin_name="scalars")
    assert set(listed) == {"run/tensorboard"}
    assert set(listed["run/tensorboard"]) == numeric
    read = provider.read_scalars(
        _context(), experiment_id="", plugin_name="scalars", downsample=1000
    )["run/tensorboard"]
    for key in sorted(numeric):
        points = read[key]
        assert [p.step for p in points] == [r["epoch"] for r in records], key
        # written as float32 scalars: equal to the JSON value rounded to float32
        expected = [np.float32(r[key]) for r in records]
        assert [np.float32(p.value) for p in points] == expected, key


def _png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def test_every_image_decodes_to_a_png_of_the_expected_size(provider, runs_root):
    pictures = runs_root / "run" / "pictures"
    tile = 28 + 2  # MNIST tile + padding, doubled by the grid's scale 2
    expected = {
        # 64 samples on an 8 x 8 grid, also written as pictures/samples/epoch-NNNN.png
        "samples": (2 * (8 * tile + 2), 2 * (8 * tile + 2)),
        # 16 test images and their reconstructions: 4 rows of 8
        "reconstructions": (2 * (8 * tile + 2), 2 * (4 * tile + 2)),
    }
    assert _png_size(pictures / "samples" / "epoch-0002.png") == expected["samples"]
    listed = provider.list_blob_sequences(_context(), experiment_id="", plugin_name="images")
    assert set(listed["run/tensorboard"]) == set(expected)
    read = provider.read_blob_sequences(
        _context(), experiment_id="", plugin_name="images", downsample=100
    )["run/tensorboard"]
    for tag, (width, height) in expected.items():
        data = read[tag]
        assert [d.step for d in data] == list(range(1, EPOCHS + 1)), tag
        for datum in data:
            # TensorBoard's image layout: width, height, then the encoded image(s)
            blobs = [provider.read_blob(_context(), blob_key=ref.blob_key) for ref in datum.values]
            assert len(blobs) == 3, tag
            assert (int(blobs[0]), int(blobs[1])) == (width, height), tag
            assert blobs[2][:8] == b"\x89PNG\r\n\x1a\n", tag
            with Image.open(io.BytesIO(blobs[2])) as image:
                image.load()
                assert image.format == "PNG" and image.size == (width, height), tag
    # the last samples image in TensorBoard is the file of that epoch, byte for byte
    last = read["samples"][-1]
    png = provider.read_blob(_context(), blob_key=last.values[2].blob_key)
    assert png == (pictures / "samples" / "epoch-0002.png").read_bytes()
