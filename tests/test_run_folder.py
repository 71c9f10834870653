"""The run folder and the commands around it: config files, pictures, TensorBoard, `genmod
sample/reconstruct/interpolate/traverse/runs/resume`, and a `genmod run` killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from genmod.cli import cli

TINY = [
    "--encoder-opt",
    "hidden=32",
    "--decoder-opt",
    "hidden=32",
    "--train-size",
    "640",
    "--test-size",
    "100",
    "--validation-size",
    "100",
    "--eval-batch-size",
    "100",
    "--quiet",
]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_dir) -> Path:
    """A 2-epoch run with a 2-d latent space, made through the CLI."""
    out = tmp_path_factory.mktemp("cli") / "run"
    result = invoke(
        "run", "--data-dir", mnist_dir, "--out", out, "--epochs", 2, "--latent-dim", 2, *TINY
    )
    assert result.exit_code == 0, result.output
    return out


def test_the_run_folder_holds_pictures_tensorboard_and_the_model(trained):
    pictures = trained / "pictures"
    frames = sorted((pictures / "samples").glob("epoch-*.png"))
    assert [f.name for f in frames] == ["epoch-0001.png", "epoch-0002.png"]
    with Image.open(pictures / "samples.gif") as gif:
        assert gif.n_frames == 2
    for name in ("reconstructions", "latent", "manifold", "interpolation", "traversal"):
        with Image.open(pictures / f"{name}.png") as image:
            pixels = np.asarray(image.convert("L"), np.float32)
        assert pixels.std() > 2, name  # not a blank picture (a 20-step model is blurry)
    with Image.open(frames[-1]) as image:
        assert image.size == (2 * (8 * 30 + 2), 2 * (8 * 30 + 2))  # 8x8 tiles of 28 + 2 pad

    import tensorflow as tf

    tags = set()
    for event_file in (trained / "tensorboard").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                tags.add((value.tag, value.metadata.plugin_data.plugin_name, event.step))
    assert ("test_elbo", "scalars", 2) in tags and ("validation_elbo", "scalars", 1) in tags
    assert ("samples", "images", 1) in tags and ("reconstructions", "images", 2) in tags
    summary = json.loads((trained / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs_done"] == 2
    assert summary["best"]["validation_elbo"] == max(
        json.loads(line)["validation_elbo"]
        for line in (trained / "metrics.jsonl").read_text().splitlines()
    )


@pytest.mark.parametrize(
    ("command", "extra", "rows"),
    [
        ("sample", ["-n", "12"], None),
        ("reconstruct", ["-n", "8"], 2),
        ("interpolate", ["--pairs", "2", "--steps", "5"], 2),
        ("traverse", ["--steps", "5"], 2),
    ],
)
def test_picture_commands_write_pngs(trained, tmp_path, command, extra, rows):
    out = tmp_path / f"{command}.png"
    result = invoke(command, trained, "--out", out, "--json", *extra)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["path"] == str(out)
    with Image.open(out) as image:
        height = image.size[1]
    if rows is not None:
        assert height == 2 * (rows * 30 + 2)


def test_sample_with_a_label_on_an_unconditional_model_is_a_clear_error(trained):
    result = invoke("sample", trained, "--label", 3)
    assert result.exit_code == 2
    assert "needs a conditional model" in result.output


def test_runs_lists_runs_with_their_metrics(trained):
    result = invoke("runs", trained.parent, "--json")
    assert result.exit_code == 0, result.output
    (info,) = json.loads(result.output)
    last = json.loads((trained / "metrics.jsonl").read_text().splitlines()[-1])
    assert info["status"] == "finished" and info["epochs_done"] == 2
    assert info["test_elbo"] == last["test_elbo"]
    human = invoke("runs", trained.parent).output
    assert "finished" in human and f"{last['test_elbo']:.2f}" in human


def test_config_file_with_command_line_overrides(tmp_path, mnist_dir):
    config = tmp_path / "experiment.toml"
    config.write_text(
        'encoder = "mlp"\nlatent_dim = 3\nepochs = 5\ntrain_size = 640\ntest_size = 100\n'
        "validation_size = 100\neval_batch_size = 100\n\n"
        "[encoder_options]\nhidden = [32]\n\n[decoder_options]\nhidden = [32]\n"
    )
    out = tmp_path / "r"
    result = invoke(
        "run", "--config", config, "--epochs", 1, "--data-dir", mnist_dir, "--out", out, "-q"
    )
    assert result.exit_code == 0, result.output
    written = tomllib.loads((out / "config.toml").read_text())
    assert written["epochs"] == 1 and written["latent_dim"] == 3  # option over file; file
    assert written["encoder_options"]["hidden"] == [32] and written["batch_size"] == 64
    # the resolved config.toml is itself a config file that repeats the run (data dir included)
    again = invoke("run", "--config", out / "config.toml", "--out", tmp_path / "again", "--json")
    assert again.exit_code == 0, again.output
    report = json.loads(again.output)  # --json: one JSON object and nothing else on stdout
    first = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert report["epochs_done"] == 1 and report["final"]["test_elbo"] == first["test_elbo"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("latent_dimm = 3\n", "unknown key(s) 'latent_dimm'"),
        ('latent_dim = "3"\n', "key 'latent_dim' must be int"),
        ("[encoder_options]\nhidden = 32\n", "option 'hidden' got 32"),
        ("[encoder_options]\nwidth = [3]\n", "unknown option 'width'"),
        ("format_version = 7\n", "format_version 7 is newer"),
        ("epochs = \n", "is not valid TOML"),
    ],
)
def test_bad_config_files_are_clear_errors(tmp_path, text, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    result = invoke("run", "--config", config, "--out", tmp_path / "r")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "r").exists()


def test_resume_with_a_conflicting_option_is_refused(trained):
    result = invoke("run", "--resume", "--out", trained, "--latent-dim", 8)
    assert result.exit_code == 2
    assert "latent_dim (run: 2, given: 8)" in result.output
    result = invoke("resume", trained, "--epochs", 1)
    assert result.exit_code == 2 and "less than the 2 epoch(s)" in result.output


def _genmod(*args: str) -> subprocess.Popen:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, "-c", "from genmod.cli import main; main()", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_checkpoints(run_dir: Path, count: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if len(list((run_dir / "checkpoints").glob("ckpt-*.index"))) >= count:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    raise AssertionError("the run did not get there in time")


def test_sigkill_then_sigterm_then_resume_matches_an_uninterrupted_run(tmp_path, mnist_dir):
    from genmod.api import load_run

    args = ["--data-dir", str(mnist_dir), "--epochs", "4", "--latent-dim", "2", "--seed", "7"]
    args += [*TINY[:4], "--train-size", "2000", *TINY[6:]]
    run_dir = tmp_path / "killed"
    process = _genmod("run", *args, "--out", str(run_dir))
    _wait_for_checkpoints(run_dir, 1, process)
    process.kill()  # SIGKILL: no chance to save anything
    assert process.wait() == -signal.SIGKILL
    process = _genmod("resume", str(run_dir))
    _wait_for_checkpoints(run_dir, 2, process)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err.decode()
    assert b"SIGTERM received" in err and b"genmod resume" in err
    process = _genmod("resume", str(run_dir))
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()
    epochs = [json.loads(line)["epoch"] for line in (run_dir / "metrics.jsonl").open()]
    assert epochs == [1, 2, 3, 4]

    straight = invoke("run", *args, "--out", tmp_path / "straight")
    assert straight.exit_code == 0, straight.output
    a, b = load_run(run_dir).model, load_run(tmp_path / "straight").model
    for x, y in zip(a.variables, b.variables, strict=True):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_python_api_builds_a_model_from_names():
    from genmod.api import RunConfig, build

    model = build(RunConfig(encoder="cnn", latent_dim=2))
    assert model.latent_dim == 2
    assert tuple(model.sample(3, seed=[0, 1]).shape) == (3, 28, 28, 1)
