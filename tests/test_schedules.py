"""Learning-rate schedules, reduce-on-plateau, early stopping and gradient clipping."""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from genmod.api import TrainingInterrupted, load_run, resume, train
from genmod.cli import cli
from genmod.config import RunConfig
from genmod.contract.errors import ConfigError
from genmod.runs import folder as rundir
from genmod.train import loop as loop_module
from genmod.train.precision import make_optimizer
from genmod.train.schedules import EpochDecay, plateau_update, should_stop_early


def tiny(**overrides) -> RunConfig:
    """10 steps per epoch in chunks of 3 (as in test_resume)."""
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


# ------------------------------------------------------------------------- the formulas
@pytest.mark.parametrize("step", [0, 1, 37, 100, 250, 1000, 5000])
def test_exponential_and_cosine_follow_their_formulas(step):
    per_epoch, epochs, lr, rate, floor = 50, 4, 1e-3, 0.3, 1e-5
    t = step / per_epoch
    exponential = EpochDecay(
        "exponential",
        lr,
        steps_per_epoch=per_epoch,
        decay_epochs=epochs,
        decay_rate=rate,
        minimum=floor,
    )
    cosine = EpochDecay(
        "cosine",
        lr,
        steps_per_epoch=per_epoch,
        decay_epochs=epochs,
        decay_rate=rate,
        minimum=floor,
    )
    expected_exp = max(lr * rate ** (t / epochs), floor)
    expected_cos = floor + (lr - floor) * 0.5 * (1 + math.cos(math.pi * min(t / epochs, 1.0)))
    assert float(exponential(tf.constant(step, tf.int64))) == pytest.approx(expected_exp, rel=1e-5)
    assert float(cosine(tf.constant(step, tf.int64))) == pytest.approx(expected_cos, rel=1e-5)


def test_plateau_rule_counts_from_the_best_epoch_or_the_last_reduction():
    config = RunConfig(lr_schedule="plateau", lr_patience=2, lr_decay_rate=0.5, lr_min=1e-4)
    fire = dict(best_epoch=3, last_reduction=0, current=1e-3)
    assert plateau_update(config, epoch=4, **fire) is None
    assert plateau_update(config, epoch=5, **fire) == pytest.approx(5e-4)
    assert plateau_update(config, epoch=6, best_epoch=3, last_reduction=5, current=5e-4) is None
    assert plateau_update(config, epoch=7, best_epoch=3, last_reduction=5, current=5e-4) == (
        pytest.approx(2.5e-4)
    )
    # never below the floor, and nothing more once there
    assert plateau_update(config, epoch=9, best_epoch=3, last_reduction=7, current=1.5e-4) == (
        pytest.approx(1e-4)
    )
    assert plateau_update(config, epoch=20, best_epoch=3, last_reduction=9, current=1e-4) is None
    assert plateau_update(RunConfig(), epoch=50, **fire) is None  # constant schedule


def test_early_stopping_rule():
    config = RunConfig(early_stopping_patience=3)
    assert not should_stop_early(config, epoch=5, best_epoch=3)
    assert should_stop_early(config, epoch=6, best_epoch=3)
    assert not should_stop_early(RunConfig(), epoch=60, best_epoch=3)  # 0: never
    assert not should_stop_early(config, epoch=6, best_epoch=0)  # no validation yet


def test_gradient_clipping_clips_the_global_norm_before_adam():
    var = tf.Variable([0.0, 0.0, 0.0])
    grad = tf.constant([30.0, 40.0, 0.0])  # norm 50
    optimizer = make_optimizer(1e-3, "float32", clip_grad_norm=5.0)
    optimizer.build([var])
    optimizer.apply_gradients([(grad, var)])
    first_moments = [v for v in optimizer.variables if "momentum" in v.name]
    assert first_moments, [v.name for v in optimizer.variables]
    # Adam's first moment after one step is (1 - beta_1) * g, with g clipped to norm 5
    np.testing.assert_allclose(first_moments[0].numpy(), 0.1 * grad.numpy() / 10.0, rtol=1e-5)
    unclipped = make_optimizer(1e-3, "float32")
    assert unclipped.global_clipnorm is None


# ----------------------------------------------------------------------- in a real run
class ScriptedEvaluator:
    """Stands in for the ELBO evaluator: the validation ELBO of each epoch comes from a
    script (the test ELBO is -100 throughout)."""

    script: list[float] = []

    def __init__(self, *args, **kwargs) -> None:
        self.calls = 0

    def __call__(self, images, labels):
        validation = self.calls % 2 == 0  # the loop evaluates validation, then test
        value = self.script[self.calls // 2] if validation else -100.0
        self.calls += 1
        return {"elbo": value, "reconstruction": value, "kl": 0.0}


def test_plateau_and_early_stopping_in_a_run(tmp_path, mnist_dir, monkeypatch):
    monkeypatch.setattr(loop_module, "ELBOEvaluator", ScriptedEvaluator)
    ScriptedEvaluator.script = [-100.0, -90.0, -95.0, -96.0, -97.0, -98.0, -99.0, -99.5]
    config = tiny(
        epochs=8,
        lr_schedule="plateau",
        lr_patience=2,
        early_stopping_patience=3,
        lr_decay_rate=0.5,
    )
    logs: list[str] = []
    result = train(config, data_dir=mnist_dir, out_dir=tmp_path / "r", log=logs.append)
    records = rundir.read_metrics(tmp_path / "r")
    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5]  # best 2, patience 3
    rates = [r["learning_rate"] for r in records]
    assert rates[:4] == pytest.approx([1e-3] * 4)
    assert rates[4] == pytest.approx(5e-4)  # reduced after epoch 4 (2 epochs after the best)
    assert any("learning rate 0.001 -> 0.0005" in line for line in logs)
    assert any("early stopping after epoch 5" in line for line in logs)
    summary = rundir.read_summary(tmp_path / "r")
    assert summary["stopped_early"] is True and summary["model_epoch"] == 2
    assert summary["status"] == "finished"
    assert result.model_epoch == 2
    # the run's model is the best checkpoint's
    final, best = load_run(tmp_path / "r"), load_run(tmp_path / "r", checkpoint="best")
    latest = load_run(tmp_path / "r", checkpoint="latest")
    for a, b in zip(final.model.variables, best.model.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert any(
        not np.array_equal(a.numpy(), b.numpy())
        for a, b in zip(final.model.variables, latest.model.variables, strict=True)
    )
    # resuming a stopped run trains nothing more, even with more epochs
    logs.clear()
    again = resume(tmp_path / "r", epochs=12, log=logs.append)
    assert [r["epoch"] for r in rundir.read_metrics(tmp_path / "r")] == [1, 2, 3, 4, 5]
    assert any("early stopping after epoch 5" in line for line in logs)
    assert again.model_epoch == 2


@pytest.mark.parametrize(
    "overrides",
    [
        dict(lr_schedule="cosine", lr_min=1e-4),
        dict(lr_schedule="exponential", lr_decay_rate=0.1, clip_grad_norm=1.0),
    ],
    ids=["cosine", "exponential-clipped"],
)
def test_a_scheduled_run_resumes_exactly(tmp_path, mnist_dir, overrides):
    straight = train(tiny(**overrides), data_dir=mnist_dir, out_dir=tmp_path / "straight")
    rates = [r["learning_rate"] for r in straight.history]
    assert rates[0] < 1e-3 and rates[1] < rates[0]  # the schedule really moved the rate

    def progress(epoch, done, total, means):
        if epoch == 2 and done == 6:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(TrainingInterrupted):
        train(tiny(**overrides), data_dir=mnist_dir, out_dir=tmp_path / "r", progress=progress)
    resumed = resume(tmp_path / "r")
    for a, b in zip(resumed.model.variables, straight.model.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert resumed.history[-1]["learning_rate"] == straight.history[-1]["learning_rate"]


def test_decay_epochs_are_fixed_when_the_run_starts(fresh_plugins):
    from genmod.plugins import get_registry

    resolved = RunConfig(lr_schedule="cosine", epochs=7).resolve(get_registry())
    assert resolved.lr_decay_epochs == 7
    assert RunConfig(epochs=7).resolve(get_registry()).lr_decay_epochs == 0  # unused


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "args, expected",
    [
        (["--lr-decay-rate", "1.5"], "--lr-decay-rate got 1.5; it must be a number in (0, 1)"),
        (["--lr-decay-rate", "-0.1"], "--lr-decay-rate got -0.1"),
        (["--lr-min", "0.01"], "--lr-min got 0.01; it must be a number in [0, --learning-rate"),
        (["--lr-patience", "0"], "--lr-patience got 0; it must be an integer >= 1"),
        (["--early-stopping", "-2"], "--early-stopping got -2"),
        (["--clip-grad-norm", "-1"], "--clip-grad-norm got -1.0; it must be a finite number"),
        (["--clip-grad-norm", "inf"], "--clip-grad-norm got inf"),
        (
            ["--lr-schedule", "plateau", "--validation-size", "0"],
            "--lr-schedule plateau watch the validation ELBO, but --validation-size is 0",
        ),
        (["--lr-schedule", "linear"], "'linear' is not one of"),
    ],
)
def test_bad_schedule_values_are_one_line_errors(tmp_path, args, expected):
    result = CliRunner().invoke(
        cli, ["run", "--out", str(tmp_path / "r"), "--data-dir", str(tmp_path), *args]
    )
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_config_file_with_a_bad_schedule_is_refused():
    with pytest.raises(ConfigError, match="lr_schedule"):
        RunConfig.from_dict({"lr_schedule": 3})
