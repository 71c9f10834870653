"""The non-finite guard: bad steps are never applied, counted, skipped or stopped on, resumable.

A deliberately unstable likelihood (registered in-process) gives log p(x|z) = -inf to chosen
training items, so every batch holding one of them has a non-finite loss and gradients.
"""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
from click.testing import CliRunner

from genmod import hookimpl
from genmod.config import RunConfig
from genmod.contract.errors import ConfigError
from genmod.plugins import register_plugin
from genmod.runs import folder as rundir

#: the pixel sums (of x in [0, 1]) of the poisoned items; empty: the likelihood is stable
POISON: list[float] = []


class _PoisonedDistribution:
    """The stable likelihood's distribution, but log_prob is -inf for the poisoned items."""

    def __init__(self, inner, event_ndims: int, keys: list[float]) -> None:
        self._inner = inner
        self._event_ndims = event_ndims
        self._keys = list(keys)

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def log_prob(self, x):
        import tensorflow as tf

        lp = self._inner.log_prob(x)
        if not self._keys:
            return lp
        sums = tf.reduce_sum(x, axis=list(range(-self._event_ndims, 0)))
        keys = tf.constant(self._keys, tf.float32)
        hit = tf.reduce_any(tf.abs(sums[..., None] - keys) < 1e-3, axis=-1)
        return tf.where(hit, tf.constant(-np.inf, lp.dtype), lp)


def _poisoned_gaussian(**kwargs):
    from genmod_builtins.likelihoods_impl import GaussianLikelihood

    class PoisonedGaussian(GaussianLikelihood):
        def distribution(self, params):
            inner = super().distribution(params)
            return _PoisonedDistribution(inner, len(self.data_shape), POISON)

    return PoisonedGaussian(**kwargs)


@pytest.fixture
def unstable():
    """Register the ``poisoned-gaussian`` likelihood; POISON starts (and ends) empty."""

    def register_likelihoods(register):
        register("poisoned-gaussian", _poisoned_gaussian, description="unstable on purpose")

    module = types.ModuleType("unstable_plugin")
    module.register_likelihoods = hookimpl(register_likelihoods)
    register_plugin(module, "unstable")
    POISON.clear()
    yield POISON
    POISON.clear()


def tiny(**overrides) -> RunConfig:
    """8 full steps per epoch (512 training items, batch 64) in chunks of 3; the validation
    items come from the end of the training set."""
    values = dict(
        encoder="mlp",
        encoder_options={"hidden": (32,)},
        decoder_options={"hidden": (32,)},
        likelihood="poisoned-gaussian",
        latent_dim=2,
        epochs=2,
        train_size=512,
        test_size=100,
        validation_size=100,
        batch_size=64,
        steps_per_execution=3,
        eval_batch_size=100,
        seed=5,
    )
    values.update(overrides)
    return RunConfig(**values)


def unique_sum_items(images: np.ndarray, count: int) -> list[int]:
    """Indices of items whose pixel sum (x in [0, 1]) no other item shares (within 0.01)."""
    sums = images.reshape(len(images), -1).astype(np.float64).sum(axis=1) / 255.0
    found = []
    for i, value in enumerate(sums):
        if np.sum(np.abs(sums - value) < 0.01) == 1:
            found.append(i)
            if len(found) == count:
                return found
    raise AssertionError("no items with unique sums")


def poison_items(mnist_arrays, indices: list[int]) -> list[float]:
    x = mnist_arrays.x_train[indices].reshape(len(indices), -1).astype(np.float64) / 255.0
    return [float(v) for v in x.sum(axis=1)]


def metrics(run_dir) -> list[dict]:
    lines = (run_dir / rundir.METRICS_FILE).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_the_settings_are_checked():
    with pytest.raises(ConfigError, match="--on-nonfinite got 'maybe'; it must be one of stop"):
        RunConfig(on_nonfinite="maybe").validate_scalars()
    with pytest.raises(ConfigError, match="--max-nonfinite-steps got 0"):
        RunConfig(max_nonfinite_steps=0).validate_scalars()
    assert RunConfig().on_nonfinite == "stop"


def test_skip_mode_skips_each_bad_batch_counts_it_and_the_count_survives_resume(
    tmp_path, mnist_dir, mnist_arrays, unstable
):
    from genmod.api import load_run, resume, train

    (item,) = unique_sum_items(mnist_arrays.x_train[:512], 1)
    unstable.extend(poison_items(mnist_arrays, [item]))  # in exactly one batch an epoch
    run_dir = tmp_path / "r"
    train(tiny(on_nonfinite="skip"), data_dir=mnist_dir, out_dir=run_dir)
    records = metrics(run_dir)
    assert [r["nonfinite_steps"] for r in records] == [1, 1]  # one bad batch per epoch
    assert all(np.isfinite(r["train_loss"]) for r in records)
    assert records[-1]["step"] == 2 * 8 - 2  # the skipped steps were not optimizer steps
    summary = rundir.read_summary(run_dir)
    assert summary["status"] == "finished" and summary["nonfinite_steps"] == 2
    assert 'on_nonfinite = "skip"' in (run_dir / "config.toml").read_text()
    model = load_run(run_dir).model
    assert all(np.all(np.isfinite(v.numpy())) for v in model.variables)
    # the run's total lives in its checkpoint: a resumed run goes on counting from it
    resume(run_dir, epochs=3)
    assert [r["nonfinite_steps"] for r in metrics(run_dir)] == [1, 1, 1]
    assert rundir.read_summary(run_dir)["nonfinite_steps"] == 3


def test_stop_mode_exits_2_naming_the_term_and_resume_continues_from_the_last_checkpoint(
    tmp_path, mnist_dir, mnist_arrays, unstable
):
    from genmod.api import train
    from genmod.cli import cli

    run_dir = tmp_path / "r"
    train(tiny(epochs=1), data_dir=mnist_dir, out_dir=run_dir)  # stable: epoch 1 is saved
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").glob("ckpt-*.index"))
    unstable.extend(poison_items(mnist_arrays, unique_sum_items(mnist_arrays.x_train[:512], 1)))
    result = CliRunner().invoke(
        cli, ["resume", str(run_dir), "--epochs", "2", "--quiet"], catch_exceptions=False
    )
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "epoch 2: step " in text and " of the epoch (optimizer step " in text
    assert "the reconstruction term log p(x|z) went non-finite first" in text
    assert "the likelihood gave the data a log-probability of -inf or NaN" in text
    assert "The update was not applied (--on-nonfinite stop)" in text
    assert "last good checkpoint (epoch 1)" in text
    assert f"genmod resume {run_dir}" in text
    assert "--learning-rate" in text and "--clip-grad-norm" in text and "free bits" in text
    assert "Traceback" not in result.output
    assert [r["epoch"] for r in metrics(run_dir)] == [1]
    assert rundir.read_summary(run_dir)["status"] == "diverged"
    after = sorted(p.name for p in (run_dir / "checkpoints").glob("ckpt-*.index"))
    assert after == checkpoints  # nothing was saved over the last good checkpoint
    unstable.clear()  # the component is stable again
    result = CliRunner().invoke(cli, ["resume", str(run_dir), "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert [r["epoch"] for r in metrics(run_dir)] == [1, 2]
    assert rundir.read_summary(run_dir)["status"] == "finished"


def test_skip_mode_stops_after_max_consecutive_bad_steps(
    tmp_path, mnist_dir, mnist_arrays, unstable
):
    from genmod.api import TrainingDiverged, train

    x = mnist_arrays.x_train[:512].reshape(512, -1).astype(np.float64) / 255.0
    unstable.extend(float(v) for v in x.sum(axis=1))  # every batch is bad
    with pytest.raises(TrainingDiverged, match=r"3 non-finite steps in a row") as caught:
        train(
            tiny(on_nonfinite="skip", max_nonfinite_steps=3),
            data_dir=mnist_dir,
            out_dir=tmp_path / "r",
        )
    assert caught.value.step == 1 and caught.value.term == "reconstruction"
    assert "epoch 1: step 1 of the epoch (optimizer step 1)" in str(caught.value)
    assert "no checkpoint had been saved yet" in str(caught.value)


def test_a_bad_step_leaves_the_weights_and_the_optimizer_state_untouched(mnist_arrays, unstable):
    import tensorflow as tf

    from genmod.model.assembly import build_model
    from genmod.plugins import get_registry
    from genmod.train.trainer import Trainer

    n, batch = 128, 32
    images = mnist_arrays.x_train[:n]
    (item,) = unique_sum_items(images, 1)
    config = tiny().resolve(get_registry())
    assembled = build_model(config, get_registry(), images.shape[1:])
    trainer = Trainer(
        assembled.model,
        assembled.objective,
        images,
        None,
        binarize=assembled.binarize,
        batch_size=batch,
        learning_rate=1e-3,
        seed=1,
        steps_per_execution=1,
        on_nonfinite="skip",
    )
    unstable.extend(poison_items(mnist_arrays, [item]))
    seed = tf.constant([7, 8], tf.int64)
    order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=seed).numpy()
    bad = int(np.where(order == item)[0][0]) // batch  # the step (0-based) that holds it

    def state():
        return [v.numpy().copy() for v in assembled.model.variables] + [
            v.numpy().copy() for v in trainer.optimizer.variables
        ]

    snapshots = [state()]
    trainer.train_epoch(lambda done, means: snapshots.append(state()), shuffle_seed=seed)
    assert len(snapshots) == n // batch + 1
    for a, b in zip(snapshots[bad], snapshots[bad + 1], strict=True):
        np.testing.assert_array_equal(a, b)  # weights, Adam moments and iterations
    for i in range(n // batch):
        if i != bad:  # every good step did change the weights
            assert not np.array_equal(snapshots[i][0], snapshots[i + 1][0])
    assert trainer.step_count == n // batch - 1
    assert int(trainer.nonfinite_total.numpy()) == 1
    assert all(np.all(np.isfinite(v)) for v in snapshots[-1])


def test_the_replay_names_the_component_that_went_non_finite_first():
    import tensorflow as tf
    import tensorflow_probability as tfp

    from genmod.train.nonfinite import describe_components, first_term

    tfd = tfp.distributions

    class Model:
        def __init__(self, loc=0.0, mean=0.0):
            self.loc, self.mean = loc, mean

        def posterior(self, x, condition):
            return tfd.MultivariateNormalDiag(
                loc=tf.fill([2, 3], self.loc), scale_diag=tf.ones([2, 3])
            )

        def prior_distribution(self):
            return tfd.MultivariateNormalDiag(loc=tf.zeros(3), scale_diag=tf.ones(3))

        def observation(self, z, condition):
            loc = tf.fill([2, 4], self.mean) + 0.0 * tf.reduce_sum(z)
            return tfd.Independent(tfd.Normal(loc, 1.0), reinterpreted_batch_ndims=1)

    x, seed = tf.zeros([2, 4]), tf.constant([1, 2])
    assert "encoder's outputs" in describe_components(Model(loc=np.nan), x, None, seed)
    assert "decoder's outputs" in describe_components(Model(mean=np.inf), x, None, seed)
    assert describe_components(Model(), x, None, seed) == ""
    assert first_term([1.0, 1.0, 0.0, 1.0]) == "reconstruction"  # (loss, rec, kl, gradients)
    assert first_term([1.0, 0.0, 1.0, 1.0]) == "kl"
    assert first_term([1.0, 0.0, 0.0, 1.0]) == "loss"
    assert first_term([0.0, 0.0, 0.0, 1.0]) == "gradients"
