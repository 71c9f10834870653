"""The reconstruction-mse metric: the conformance kit, and a trained run evaluated by genmod."""

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from genmod.cli import cli
from genmod.plugins import get_registry
from genmod.testing import check_component, model_context


def mnist_dir() -> Path:
    """The MNIST folder (GENMOD_TEST_MNIST_DIR, GENMOD_DATA_DIR or genmod's shared test data)."""
    for candidate in (
        os.environ.get("GENMOD_TEST_MNIST_DIR"),
        os.environ.get("GENMOD_DATA_DIR"),
        str(Path(__file__).resolve().parents[4] / "shared" / "data" / "mnist"),
    ):
        if candidate and (Path(candidate) / "t10k-images-idx3-ubyte.gz").exists():
            return Path(candidate)
    pytest.skip("MNIST not found: set GENMOD_TEST_MNIST_DIR to the folder with the IDX files")


def test_the_metric_is_registered_by_this_plugin():
    spec = get_registry().get("metric", "reconstruction-mse")
    assert spec.plugin == "resnet"
    assert spec.factory == "genmod_resnet.metrics:ReconstructionMSE"  # imported only when used


def test_reconstruction_mse_conforms():
    # it decodes with the model, so the kit's synthetic context (no model) is not enough: a
    # tiny untrained VAE on the kit's synthetic images
    check_component("metric", "reconstruction-mse", context=model_context)
    check_component("metric", "reconstruction-mse", {"max_items": 10}, context=model_context)


def test_reconstruction_mse_needs_the_model():
    from genmod.testing import ConformanceError

    with pytest.raises(ConformanceError, match="needs the model"):
        check_component("metric", "reconstruction-mse")  # the default context has none


def mnist_test_images(folder: Path, n: int) -> np.ndarray:
    """The first ``n`` MNIST test images in [0, 1], read from the IDX file with numpy."""
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "rb") as handle:
        raw = np.frombuffer(handle.read(), np.uint8)
    return raw[16 : 16 + n * 784].reshape(n, 28, 28, 1).astype(np.float64) / 255.0


def test_genmod_evaluate_records_the_value_with_its_method(tmp_path):
    from genmod.api import RunConfig, load_run, train

    data = mnist_dir()
    run_dir = tmp_path / "run"
    # grey levels (no binarization): the model sees the test images as stored, so the
    # value can be recomputed below without genmod's seeded binarization
    config = RunConfig(
        encoder="mlp",
        encoder_options={"hidden": (32,)},
        decoder_options={"hidden": (32,)},
        likelihood="gaussian",
        latent_dim=2,
        epochs=1,
        train_size=512,
        test_size=128,
        validation_size=0,
        batch_size=64,
        seed=3,
    )
    train(config, data_dir=data, out_dir=run_dir)
    args = ["evaluate", str(run_dir), "--metric", "reconstruction-mse", "--metric", "elbo"]
    args += ["--samples", "10", "--test-size", "128", "--quiet"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "reconstruction_mse" in result.output and "squared pixel units" in result.output

    saved = json.loads((run_dir / "evaluation.json").read_text())
    record = saved["values"]["reconstruction_mse"]
    assert record["metric"] == "reconstruction-mse" and record["unit"] == "squared pixel units"
    assert record["higher_is_better"] is False
    method = record["method"]
    assert method["plugin"] == "resnet" and method["options"] == {"max_items": 1000}
    assert method["versions"]["genmod-resnet"] == "0.1.0"  # the distribution that computed it
    assert method["items"] == 128 and "(x - x_hat)^2" in method["estimator"]
    assert {"elbo", "reconstruction", "kl"} <= set(saved["values"])  # elbo ran beside it
    assert saved["reconstruction_mse"] == record["value"]

    # the same number from the same model, computed independently: the posterior mean of
    # each test image, decoded to the Gaussian's mean (the decoder's output), in numpy
    model = load_run(run_dir).model
    x = mnist_test_images(data, 128)
    z = model.posterior_location(x.astype(np.float32)).numpy()
    means = model.decoder.decode(z).numpy()[..., 0]  # [n, 28, 28, 1]: one mean per pixel
    expected = float(np.mean((means - x) ** 2))
    assert record["value"] == pytest.approx(expected, rel=1e-5)
    assert 0.0 < record["value"] < 0.2
