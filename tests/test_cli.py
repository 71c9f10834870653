"""The command line on a small slice of MNIST, and its errors for bad input."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from genmod.cli import cli

SMALL = ["--train-size", "512", "--test-size", "200", "--epochs", "1", "--quiet"]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_run_trains_and_writes_a_run_folder(tmp_path, mnist_dir):
    out = tmp_path / "run"
    result = invoke(
        "run",
        "--encoder",
        "mlp",
        "--encoder-opt",
        "hidden=64",
        "--decoder-opt",
        "hidden=64",
        "--data-dir",
        mnist_dir,
        "--out",
        out,
        "--epochs",
        "2",
        *SMALL[:4],
        "--quiet",
    )
    assert result.exit_code == 0, result.output
    assert "test ELBO" in result.output and "nats" in result.output
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["encoder"] == "mlp" and config["decoder"] == "mlp"
    assert config["encoder_options"]["hidden"] == [64]
    assert config["resolved_binarize"] == "dynamic"
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    for key in ("train_loss", "train_reconstruction", "train_kl", "test_elbo"):
        assert key in lines[0]
    assert (out / "model" / "weights.index").exists()
    assert json.loads((out / "summary.json").read_text())["final"]["epoch"] == 2


def test_progress_lines_are_printed_per_epoch(tmp_path, mnist_dir):
    result = invoke(
        "run", "--encoder", "mlp", "--data-dir", mnist_dir, "--out", tmp_path / "r", *SMALL[:-1]
    )
    assert result.exit_code == 0, result.output
    assert "epoch 1/1: train loss" in result.output and "test ELBO" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--encoder", "cnnn"], "unknown encoder 'cnnn'. Available encoders: ccnn, cmlp, cnn, mlp"),
        (["--dataset", "cifar"], "unknown dataset 'cifar'"),
        (["--epochs", "-1"], "--epochs got -1; it must be an integer >= 1"),
        (["--latent-dim", "0"], "--latent-dim got 0"),
        (["--objective", "beta-vae", "--objective-opt", "beta=-1"], "it must be >= 0"),
        (["--binarize", "sometimes"], "accepted: auto, dynamic, static, none"),
        (["--binarize", "none"], "models binary pixels"),
        (["--encoder-opt", "hidden=abc"], "not a valid ints"),
        (["--encoder-opt", "widths=3"], "unknown option 'widths'. Known options: activation"),
        (["--encoder-opt", "oops"], "expected key=value"),
        (["--batch-size", "100000"], "larger than the training set"),
        (["--learning-rate", "0"], "--learning-rate got 0.0"),
    ],
)
def test_bad_input_is_a_clear_error_with_exit_code_2(tmp_path, mnist_dir, args, message):
    result = invoke("run", "--data-dir", mnist_dir, "--out", tmp_path / "r", *SMALL, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_data_folder_is_a_clear_error(tmp_path):
    result = invoke("run", "--data-dir", tmp_path / "nope", "--out", tmp_path / "r", *SMALL)
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_corrupt_data_is_a_clear_error(tmp_path, mnist_dir):
    import shutil

    folder = tmp_path / "mnist"
    shutil.copytree(mnist_dir, folder)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    result = invoke("run", "--data-dir", folder, "--out", tmp_path / "r", *SMALL)
    assert result.exit_code == 2
    assert "truncated or corrupt" in result.output


def test_non_empty_output_folder_is_refused_unless_overwrite(tmp_path, mnist_dir):
    out = tmp_path / "r"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = invoke("run", "--data-dir", mnist_dir, "--out", out, *SMALL)
    assert result.exit_code == 2 and "exists and is not empty" in result.output
    result = invoke("run", "--data-dir", mnist_dir, "--out", out, "--overwrite", *SMALL)
    assert result.exit_code == 2 and "does not look like a genmod run" in result.output
    assert (out / "notes.txt").exists()


def test_every_command_documents_its_options():
    result = invoke("run", "--help")
    for option in (
        "--encoder",
        "--decoder",
        "--likelihood",
        "--prior",
        "--objective",
        "--posterior",
        "--dataset",
        "--data-dir",
        "--latent-dim",
        "--epochs",
        "--batch-size",
        "--learning-rate",
        "--seed",
        "--binarize",
        "--out",
        "--encoder-opt",
        "--overwrite",
    ):
        assert option in result.output
    assert "--json" in invoke("plugins", "--help").output


def test_a_test_set_smaller_than_the_pictures_need_still_finishes(tmp_path, mnist_dir):
    """Interpolations need pairs of test images; three images give one pair, one gives none."""
    for test_size, pairs in ((3, 1), (1, 0)):
        out = tmp_path / f"run{test_size}"
        result = invoke(
            "run",
            "--encoder",
            "mlp",
            "--data-dir",
            mnist_dir,
            "--out",
            out,
            "--epochs",
            "1",
            "--train-size",
            "128",
            "--validation-size",
            "0",
            "--test-size",
            str(test_size),
            "--quiet",
        )
        assert result.exit_code == 0, result.output
        assert (out / "pictures" / "reconstructions.png").exists()
        assert (out / "pictures" / "interpolation.png").exists() == bool(pairs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "1000"], "larger than the training set"),
        (["--encoder", "cnn", "--encoder-opt", "filters=8,8,8,8"], "at least"),
    ],
)
def test_a_refused_run_leaves_no_folder_and_the_retry_works(tmp_path, mnist_dir, args, message):
    out = tmp_path / "run"
    common = ["--data-dir", mnist_dir, "--out", out, "--train-size", "128"]
    common += ["--validation-size", "0", "--test-size", "16", "--epochs", "1", "--quiet"]
    result = invoke("run", *common, *args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not out.exists()
    retry = invoke("run", *common, "--encoder", "mlp", "--batch-size", "64")
    assert retry.exit_code == 0, retry.output


def test_a_data_folder_name_that_is_not_text_is_refused_before_training(tmp_path, mnist_dir):
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/bad\xffdir"))
    odd.mkdir()
    for name in os.listdir(mnist_dir):
        (odd / name).symlink_to(Path(mnist_dir) / name)
    out = tmp_path / "run"
    result = invoke("run", "--data-dir", odd, "--out", out, *SMALL)
    assert result.exit_code == 2 and "not valid UTF-8" in result.output, result.output
    assert not out.exists()
