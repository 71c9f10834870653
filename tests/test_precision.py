"""Mixed precision: bfloat16 networks train with float32 log-probabilities; option checks."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from genmod.api import train
from genmod.config import RunConfig
from genmod.contract.errors import ConfigError
from genmod.model.assembly import build_model
from genmod.plugins import get_registry
from genmod.train.precision import make_optimizer, precision_policy


def _tiny(**overrides) -> RunConfig:
    values = dict(
        encoder="cnn",
        encoder_options={"filters": (8, 16)},
        decoder_options={"filters": (16, 8)},
        epochs=1,
        train_size=640,
        test_size=200,
        batch_size=64,
        steps_per_execution=5,
    )
    values.update(overrides)
    return RunConfig(**values)


def test_mixed_bfloat16_computes_in_bfloat16_but_log_probs_are_float32():
    config = _tiny(precision="mixed_bfloat16").resolve(get_registry())
    with precision_policy("mixed_bfloat16"):
        model = build_model(config, get_registry(), (28, 28, 1)).model
    assert keras.config.dtype_policy().name == "float32"  # restored afterwards
    conv = model.encoder.convs[0]
    assert conv.compute_dtype == "bfloat16" and conv.variable_dtype == "float32"
    assert all(v.dtype == "float32" for v in model.variables)
    x = tf.cast(tf.random.stateless_uniform([3, 28, 28, 1], [1, 2]) < 0.5, tf.float32)
    assert conv(x).dtype == tf.bfloat16
    q = model.posterior(x)
    z = q.sample(seed=[3, 4])
    log_px = model.observation(z).log_prob(x)
    assert q.dtype == tf.float32 and z.dtype == tf.float32
    assert log_px.dtype == tf.float32 and log_px.shape == (3,)
    assert np.all(np.isfinite(log_px.numpy()))


def test_mixed_bfloat16_run_trains_with_finite_metrics(tmp_path, mnist_dir):
    config = _tiny(precision="mixed_bfloat16", train_size=1280, learning_rate=3e-3)
    result = train(config, data_dir=mnist_dir, out_dir=tmp_path / "r")
    last = result.history[-1]
    for key in ("train_loss", "train_kl", "test_elbo", "test_reconstruction", "test_kl"):
        assert np.isfinite(last[key]), key
    # 20 steps from an untrained model at about -543 nats (float32 reaches about -229).
    assert last["test_elbo"] > -300
    assert keras.config.dtype_policy().name == "float32"


def test_mixed_float16_gets_loss_scaling_and_float32_does_not():
    assert isinstance(make_optimizer(1e-3, "mixed_float16"), keras.optimizers.LossScaleOptimizer)
    plain = make_optimizer(1e-3, "float32")
    assert not isinstance(plain, keras.optimizers.LossScaleOptimizer)
    assert isinstance(plain, keras.optimizers.Adam)


def test_mixed_float16_training_steps_stay_finite():
    from genmod.train.trainer import Trainer

    config = _tiny(precision="mixed_float16").resolve(get_registry())
    with precision_policy("mixed_float16"):
        assembled = build_model(config, get_registry(), (28, 28, 1))
    images = np.random.default_rng(0).integers(0, 256, (128, 28, 28, 1), dtype=np.uint8)
    trainer = Trainer(
        assembled.model,
        assembled.objective,
        images,
        None,
        binarize="dynamic",
        batch_size=32,
        learning_rate=1e-3,
        seed=0,
        precision="mixed_float16",
    )
    before = [v.numpy().copy() for v in trainer.variables]
    metrics = trainer.train_epoch()
    assert all(np.isfinite(v) for v in metrics.values())
    # Dynamic loss scaling starts at 2^15 and skips the steps whose float16 gradients overflow
    # (lowering the scale each time), so not every one of the 4 steps is applied.
    assert 1 <= trainer.step_count <= 4
    assert float(trainer.optimizer.dynamic_scale.numpy()) <= 2.0**15
    assert any(
        not np.allclose(b, v.numpy()) for b, v in zip(before, trainer.variables, strict=True)
    )


@pytest.mark.parametrize(
    ("field", "value", "option"),
    [("precision", "float64", "--precision"), ("strategy", "tpu", "--strategy")],
)
def test_bad_precision_or_strategy_names_the_option(field, value, option):
    from genmod.contract.errors import ConfigError

    with pytest.raises(ConfigError, match=option):
        RunConfig(**{field: value}).validate_scalars()


# ------------------------------------------------------------------------ --precision auto
def test_hardware_bfloat16_reads_the_cpu_flags(tmp_path, monkeypatch):
    from genmod.train import precision

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    with_bf16 = tmp_path / "cpuinfo-bf16"
    with_bf16.write_text("processor : 0\nflags : fpu sse2 avx512f avx512_bf16 avx2\n")
    plain = tmp_path / "cpuinfo-plain"
    plain.write_text("processor : 0\nflags : fpu sse2 avx512f avx2\n")
    assert precision.hardware_bfloat16(str(with_bf16)) == "CPU with avx512_bf16"
    assert precision.hardware_bfloat16(str(plain)) is None
    assert precision.hardware_bfloat16(str(tmp_path / "missing")) is None


@pytest.mark.parametrize(
    "native, expected", [("CPU with amx_bf16", "mixed_bfloat16"), (None, "float32")]
)
def test_auto_chooses_bfloat16_only_on_native_hardware(monkeypatch, native, expected):
    from genmod.train import precision

    monkeypatch.setattr(precision, "hardware_bfloat16", lambda *a: native)
    lines: list[str] = []
    assert precision.choose_precision("auto", lines.append) == expected
    assert lines and expected in lines[0] and "--precision float32" in lines[0]
    assert precision.choose_precision("float32") == "float32"  # explicit choices stay
    with pytest.raises(ConfigError, match="accepted policies"):
        precision.check_precision("auto")  # a policy must be chosen before building


def test_a_run_records_the_policy_auto_chose_and_resumes_with_it(tmp_path, mnist_dir, monkeypatch):
    from genmod.api import resume
    from genmod.config import read_config
    from genmod.train import precision

    monkeypatch.setattr(precision, "hardware_bfloat16", lambda *a: "CPU with avx512_bf16")
    config = RunConfig(
        encoder="mlp",
        latent_dim=2,
        epochs=1,
        train_size=256,
        test_size=64,
        validation_size=64,
        batch_size=64,
        precision="auto",
    )
    logs: list[str] = []
    train(config, data_dir=mnist_dir, out_dir=tmp_path / "r", log=logs.append)
    assert read_config(tmp_path / "r")[0].precision == "mixed_bfloat16"
    assert any(line.startswith("--precision auto: mixed_bfloat16") for line in logs)
    monkeypatch.setattr(precision, "hardware_bfloat16", lambda *a: None)  # another machine
    resumed = resume(tmp_path / "r", epochs=2)
    assert read_config(tmp_path / "r")[0].precision == "mixed_bfloat16"
    assert resumed.model.encoder.compute_dtype == "bfloat16"
