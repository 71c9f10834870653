"""Corruption is detected before training and only corruption is quarantined (tiny runs).

Each checkpoint (and the final weights) has a manifest of checksums written at save time;
resume verifies the checkpoint it chooses before any step runs, moves corrupt ones aside,
refuses a checkpoint of another model (an edited config.toml) without changing a file, and
never starts again from scratch over checkpoints that exist."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_resume import assert_same_weights, epochs_in_metrics, tiny

from genmod.api import load_run, resume, train
from genmod.cli import cli
from genmod.config import files as config_files
from genmod.contract.errors import RunDirError


def folder_hashes(run_dir: Path) -> dict[str, str]:
    """Every file of the folder with its SHA-256 (and every folder, as a name)."""
    found = {}
    for folder, dirs, files in os.walk(run_dir):
        for name in dirs:
            found[os.path.relpath(os.path.join(folder, name), run_dir)] = "folder"
        for name in files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, run_dir)] = hashlib.sha256(
                Path(path).read_bytes()
            ).hexdigest()
    return found


def scramble(path: Path, seed: int = 0) -> None:
    """Write 64 random bytes into the middle of ``path`` (a bad disk, not a crash: the size
    stays). Today's TensorFlow then fails on some tensors only, after others were restored."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = (
        np.random.default_rng(seed).integers(0, 256, 64, np.uint8).tobytes()
    )
    path.write_bytes(bytes(data))


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def straight(tmp_path_factory, mnist_dir):
    """The uninterrupted two-epoch run the recovered runs are compared with."""
    return train(tiny(), data_dir=mnist_dir, out_dir=tmp_path_factory.mktemp("s") / "run")


@pytest.mark.parametrize("manifest", [True, False], ids=["manifest", "older-run"])
def test_random_bytes_fall_back_before_any_step_and_the_run_finishes_exactly(
    tmp_path, mnist_dir, straight, manifest
):
    run = tmp_path / "r"
    train(tiny(), data_dir=mnist_dir, out_dir=run)
    ckpt_dir = run / "checkpoints"
    assert (ckpt_dir / "ckpt-20.sha256.json").is_file()
    if not manifest:  # a checkpoint of an older genmod is verified by reading it whole
        for record in ckpt_dir.glob("ckpt-*.sha256.json"):
            record.unlink()
    scramble(next(ckpt_dir.glob("ckpt-20.data-*")))
    events: list[tuple] = []
    resumed = resume(
        run,
        log=lambda line: events.append(("log", line)),
        progress=lambda epoch, done, total, means: events.append(("step", epoch, done)),
    )
    lines = [e[1] for e in events if e[0] == "log"]
    corrupt = next(
        i for i, e in enumerate(events) if e[0] == "log" and "ckpt-20 is corrupt" in e[1]
    )
    first_step = next(i for i, e in enumerate(events) if e[0] == "step")
    assert corrupt < first_step, events  # decided before any work was spent
    assert any("resuming from ckpt-10" in line for line in lines), lines
    assert (ckpt_dir / "unreadable" / "ckpt-20.index").exists()
    assert_same_weights(resumed.model, straight.model)
    assert epochs_in_metrics(run) == [1, 2]
    # the manager's bookkeeping no longer names the moved checkpoint: training further works
    again = resume(run, epochs=4)
    assert again.history[-1]["epoch"] == 4
    assert epochs_in_metrics(run) == [1, 2, 3, 4]
    kept = sorted(p.name for p in ckpt_dir.glob("ckpt-*.index"))
    assert kept == ["ckpt-20.index", "ckpt-30.index", "ckpt-40.index"]
    manifests = sorted(p.name for p in ckpt_dir.glob("ckpt-*.sha256.json"))
    assert manifests == ["ckpt-20.sha256.json", "ckpt-30.sha256.json", "ckpt-40.sha256.json"]


@pytest.mark.parametrize("manifest", [True, False], ids=["manifest", "older-run"])
def test_an_edited_config_is_a_clear_error_that_changes_no_file(tmp_path, mnist_dir, manifest):
    run = tmp_path / "r"
    train(tiny(epochs=1), data_dir=mnist_dir, out_dir=run)
    if not manifest:
        for record in (run / "checkpoints").rglob("*.sha256.json"):
            record.unlink()
    config_file = run / "config.toml"
    text = config_file.read_text()
    assert "latent_dim = 2\n" in text
    config_file.write_text(text.replace("latent_dim = 2\n", "latent_dim = 3\n"))
    before = folder_hashes(run)
    match = "latent_dim" if manifest else "model variable"
    with pytest.raises(RunDirError, match=match):
        resume(run, epochs=2)
    assert folder_hashes(run) == before  # nothing moved aside, config.toml not rewritten
    result = invoke("resume", run, "--epochs", 2, "--quiet")
    assert result.exit_code == 2, result.output
    assert "does not match" in result.stderr and "config.toml" in result.stderr
    assert folder_hashes(run) == before
    # put the setting back: the good checkpoint is still there and the run continues
    config_file.write_text(text)
    logs: list[str] = []
    resume(run, epochs=2, log=logs.append)
    assert any("resuming from ckpt-10" in line for line in logs), logs
    assert epochs_in_metrics(run) == [1, 2]
    assert config_files.read_config(run)[0].epochs == 2


def test_truncated_weights_and_checkpoints_are_one_line_naming_the_file(tmp_path, mnist_dir):
    run = tmp_path / "r"
    train(tiny(epochs=1), data_dir=mnist_dir, out_dir=run)
    weights = next((run / "model").glob("weights.data-*"))
    good = weights.read_bytes()
    weights.write_bytes(good[: len(good) // 2])
    for with_manifest in (True, False):
        if not with_manifest:
            (run / "model" / "weights.sha256.json").unlink()
        result = invoke("sample", run, "--out", tmp_path / "s.png")
        assert result.exit_code == 2, result.output
        message = result.stderr.strip()
        assert len(message.splitlines()) == 1, message
        assert weights.name in message and "Traceback" not in message, message
        with pytest.raises(RunDirError, match=weights.name):
            load_run(run)
    data = next((run / "checkpoints").glob("ckpt-10.data-*"))
    data.write_bytes(data.read_bytes()[:50])
    result = invoke("sample", run, "--checkpoint", "latest", "--out", tmp_path / "s.png")
    assert result.exit_code == 2, result.output
    assert data.name in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s.png").exists()


def test_when_every_checkpoint_is_corrupt_nothing_restarts(tmp_path, mnist_dir):
    run = tmp_path / "r"
    train(tiny(epochs=1), data_dir=mnist_dir, out_dir=run)
    for data in (run / "checkpoints").glob("ckpt-*.data-*"):
        scramble(data)
    with pytest.raises(RunDirError, match="no readable checkpoint.*nothing was trained"):
        resume(run, epochs=2)
    assert (run / "checkpoints" / "unreadable" / "ckpt-10.index").exists()
    before = folder_hashes(run)
    # the next resume finds only moved-aside checkpoints: a clear error, not a fresh start
    with pytest.raises(RunDirError, match="moved aside as corrupt.*--overwrite"):
        resume(run, epochs=2)
    result = invoke("resume", run, "--quiet")
    assert result.exit_code == 2 and "will not start the run again" in result.stderr
    assert folder_hashes(run) == before
    assert epochs_in_metrics(run) == [1]
