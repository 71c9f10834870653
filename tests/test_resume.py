"""Checkpoints and resume: exact continuation on the CPU, interruptions, faults (tiny runs)."""

from __future__ import annotations

import errno
import json
import os
import signal

import numpy as np
import pytest

from genmod.api import TrainingDiverged, TrainingInterrupted, load_run, resume, train
from genmod.config import RunConfig
from genmod.config import files as config_files
from genmod.contract.errors import RunDirError
from genmod.runs import folder as rundir


def tiny(**overrides) -> RunConfig:
    """10 steps per epoch in chunks of 3, so an epoch has several chunk boundaries."""
    values = dict(
        encoder="mlp",
        encoder_options={"hidden": (32,)},
        decoder_options={"hidden": (32,)},
        latent_dim=2,
        epochs=2,
        train_size=640,
        test_size=100,
        validation_size=100,
        batch_size=64,
        steps_per_execution=3,
        eval_batch_size=100,
        seed=5,
    )
    values.update(overrides)
    return RunConfig(**values)


def weights(model) -> list[np.ndarray]:
    return [v.numpy() for v in model.variables]


def assert_same_weights(a, b) -> None:
    wa, wb = weights(a), weights(b)
    assert len(wa) == len(wb)
    for x, y in zip(wa, wb, strict=True):
        np.testing.assert_array_equal(x, y)


def epochs_in_metrics(run_dir) -> list[int]:
    return [r["epoch"] for r in rundir.read_metrics(run_dir)]


@pytest.fixture(scope="module")
def straight(tmp_path_factory, mnist_dir):
    """The uninterrupted two-epoch run every resumed run is compared with."""
    out = tmp_path_factory.mktemp("straight") / "run"
    return train(tiny(), data_dir=mnist_dir, out_dir=out)


def test_resume_at_an_epoch_boundary_gives_the_same_weights(tmp_path, mnist_dir, straight):
    first = train(tiny(epochs=1), data_dir=mnist_dir, out_dir=tmp_path / "r")
    assert epochs_in_metrics(first.run_dir) == [1]
    resumed = resume(tmp_path / "r", epochs=2)
    assert_same_weights(resumed.model, straight.model)
    assert epochs_in_metrics(tmp_path / "r") == [1, 2]
    assert resumed.history[-1]["test_elbo"] == straight.history[-1]["test_elbo"]
    assert config_files.read_config(tmp_path / "r")[0].epochs == 2  # written back
    assert_same_weights(load_run(tmp_path / "r").model, straight.model)


def test_ctrl_c_mid_epoch_saves_a_checkpoint_and_resume_is_exact(tmp_path, mnist_dir, straight):
    def progress(epoch, done, total, means):
        if epoch == 2 and done == 6:  # after the second chunk of epoch 2
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted, match=r"after 6 of 10 steps of epoch 2") as info:
        train(tiny(), data_dir=mnist_dir, out_dir=tmp_path / "r", progress=progress)
    assert info.value.signal_number == signal.SIGINT
    assert epochs_in_metrics(tmp_path / "r") == [1]
    assert rundir.read_summary(tmp_path / "r")["status"] == "interrupted"
    logs: list[str] = []
    resumed = resume(tmp_path / "r", log=logs.append)
    assert any("epoch 1 + 6 steps" in line for line in logs), logs
    assert_same_weights(resumed.model, straight.model)
    assert epochs_in_metrics(tmp_path / "r") == [1, 2]
    again, first = resumed.history[-1], straight.history[-1]
    for key in ("train_loss", "train_kl", "validation_elbo", "test_elbo"):
        assert again[key] == first[key]


def test_a_corrupt_checkpoint_is_reported_and_the_previous_one_is_used(tmp_path, mnist_dir):
    train(tiny(), data_dir=mnist_dir, out_dir=tmp_path / "r")
    ckpt_dir = tmp_path / "r" / "checkpoints"
    newest = sorted(ckpt_dir.glob("ckpt-*.data-*"))[-1]
    assert newest.name.startswith("ckpt-20.")
    newest.write_bytes(newest.read_bytes()[:100])  # truncated by a crash
    # a metrics line that the fallback makes stale must not be duplicated
    logs: list[str] = []
    resumed = resume(tmp_path / "r", epochs=3, log=logs.append)
    assert any("ckpt-20 is corrupt" in line for line in logs), logs
    assert any("resuming from ckpt-10" in line for line in logs), logs
    assert (ckpt_dir / "unreadable" / newest.name).exists()
    assert epochs_in_metrics(tmp_path / "r") == [1, 2, 3]
    assert resumed.history[-1]["epoch"] == 3


def test_no_readable_checkpoint_is_a_clear_error(tmp_path, mnist_dir):
    train(tiny(epochs=1), data_dir=mnist_dir, out_dir=tmp_path / "r")
    for data in (tmp_path / "r" / "checkpoints").glob("ckpt-*.data-*"):
        data.write_bytes(b"garbage")
    with pytest.raises(RunDirError, match="no readable checkpoint"):
        resume(tmp_path / "r", epochs=2)


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(
    tmp_path, mnist_dir, monkeypatch
):
    import tensorflow as tf

    from genmod.train.trainer import Trainer

    original = Trainer._train_chunk_eager

    def poisoned(self, order, start, count):
        sums = original(self, order, start, count)
        bad = self.optimizer.iterations > 12  # from step 13: epoch 2
        return tf.where(bad, sums * float("nan"), sums)

    monkeypatch.setattr(Trainer, "_train_chunk_eager", poisoned)
    with pytest.raises(TrainingDiverged, match=r"NaN or infinite.*last good checkpoint \(epoch 1"):
        train(tiny(), data_dir=mnist_dir, out_dir=tmp_path / "r")
    assert epochs_in_metrics(tmp_path / "r") == [1]
    assert rundir.read_summary(tmp_path / "r")["status"] == "diverged"
    latest = load_run(tmp_path / "r", checkpoint="latest")  # the epoch-1 weights are there
    assert np.all(np.isfinite(latest.model.sample(2, seed=[1, 2]).numpy()))


def test_disk_full_while_appending_metrics_leaves_no_corrupt_file(tmp_path, mnist_dir, monkeypatch):
    real_write = os.write
    calls = {"metrics": 0}

    def failing_write(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(rundir.METRICS_FILE):
            calls["metrics"] += 1
            if calls["metrics"] == 2:  # epoch 2: half a line reaches the disk, then ENOSPC
                real_write(fd, data[: len(data) // 2])
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(rundir.os, "write", failing_write)
    with pytest.raises(RunDirError, match=r"disk is full: writing the metrics.*epoch 1"):
        train(tiny(), data_dir=mnist_dir, out_dir=tmp_path / "r")
    text = (tmp_path / "r" / "metrics.jsonl").read_text()
    assert [json.loads(line)["epoch"] for line in text.splitlines()] == [1]
    monkeypatch.undo()
    resume(tmp_path / "r")
    assert epochs_in_metrics(tmp_path / "r") == [1, 2]


def test_disk_full_while_checkpointing_is_a_clear_error(tmp_path, mnist_dir, monkeypatch):
    import tensorflow as tf

    real_save = tf.train.CheckpointManager.save

    def save(self, checkpoint_number=None, **kwargs):
        if checkpoint_number == 20:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, checkpoint_number=checkpoint_number, **kwargs)

    monkeypatch.setattr(tf.train.CheckpointManager, "save", save)
    with pytest.raises(RunDirError, match="disk is full: writing the checkpoint"):
        train(tiny(validation_size=0), data_dir=mnist_dir, out_dir=tmp_path / "r")
    names = sorted(p.name for p in (tmp_path / "r" / "checkpoints").glob("ckpt-*.index"))
    assert names == ["ckpt-10.index"]


def test_older_and_newer_formats_and_other_data_are_refused(tmp_path, mnist_dir):
    train(tiny(epochs=1), data_dir=mnist_dir, out_dir=tmp_path / "r")
    config_file = tmp_path / "r" / "config.toml"
    text = config_file.read_text()
    config_file.write_text(text.replace("format_version = 2", "format_version = 99"))
    with pytest.raises(RunDirError, match="format 99"):
        resume(tmp_path / "r", epochs=2)
    with pytest.raises(RunDirError, match="format 99"):
        load_run(tmp_path / "r")
    config_file.write_text(
        text.replace("format_version = 2", "format_version = 2\ntrain_size = 600").replace(
            "train_size = 640\n", ""
        )
    )
    with pytest.raises(RunDirError, match="differs from the data"):
        resume(tmp_path / "r", epochs=2)
    config_file.write_text(text.replace("format_version = 2", "format_version = 1"))
    with pytest.raises(RunDirError, match="only format 2 runs can be resumed"):
        resume(tmp_path / "r", epochs=2)
    load_run(tmp_path / "r")  # an older run can still be loaded and sampled from


def test_disk_full_when_the_tensorboard_writer_opens_is_a_clear_error(
    tmp_path, mnist_dir, monkeypatch
):
    import tensorflow as tf

    def full(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    monkeypatch.setattr(tf.summary, "create_file_writer", full)
    with pytest.raises(RunDirError, match="disk is full: writing the TensorBoard events"):
        train(tiny(epochs=1), data_dir=mnist_dir, out_dir=tmp_path / "r")
