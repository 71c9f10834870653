"""The inverse autoregressive flow posterior: its math against independent computations, and a
stateful posterior family trained, checkpointed, resumed exactly and evaluated."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from click.testing import CliRunner

from genmod.api import build, load_run, resume, train
from genmod.cli import cli
from genmod.config import RunConfig
from genmod.contract.components import PosteriorFamily
from genmod.testing import ConformanceError, check_component
from genmod.testing.components import check_posterior
from genmod_builtins.flows_impl import InverseAutoregressiveFlow, made_masks

tfd = tfp.distributions


def iaf(latent_dim=3, **options) -> InverseAutoregressiveFlow:
    tf.keras.utils.set_random_seed(3)
    family = InverseAutoregressiveFlow(latent_dim=latent_dim, hidden=8, context=2, **options)
    # non-trivial weights (Keras' zero biases and a forget bias would make the gates similar)
    for var in family.trainable_variables:
        var.assign(tf.random.stateless_normal(var.shape, seed=[len(var.name), 7]) * 0.5)
    return family


def params_for(family, batch=2, seed=0):
    return tf.random.stateless_normal([batch, family.num_params()], seed=[seed, 1])


def test_made_masks_let_output_i_see_only_earlier_inputs():
    first, second = made_masks(4, 10)
    connectivity = (first @ second) > 0  # input j -> output i through some hidden unit
    for j in range(4):
        for i in range(4):
            assert connectivity[j, i] == (j < i)


@pytest.mark.parametrize("steps", [1, 3])
def test_the_jacobian_is_triangular_and_its_log_det_matches_a_numerical_one(steps):
    family = iaf(steps=steps)
    params = params_for(family, batch=1)
    flow = family.flow(params[:, 6:])
    z = tf.constant([[0.3, -1.2, 0.8]])
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = flow.forward(z)
    jacobian = tape.batch_jacobian(y, z)[0].numpy()  # [out, in]
    if steps == 1:  # one step: lower-triangular (output i depends on z_<=i)
        assert np.allclose(np.triu(jacobian, 1), 0.0)
    _, log_abs_det = np.linalg.slogdet(jacobian.astype(np.float64))
    np.testing.assert_allclose(
        flow.forward_log_det_jacobian(z, event_ndims=1).numpy()[0], log_abs_det, atol=1e-5
    )
    # central differences give the same Jacobian as autodiff
    eps = 1e-3
    numeric = np.stack(
        [
            (flow.forward(z + eps * np.eye(3)[k]) - flow.forward(z - eps * np.eye(3)[k]))[0]
            / (2 * eps)
            for k in range(3)
        ],
        axis=1,
    )
    np.testing.assert_allclose(numeric, jacobian, atol=2e-3)


def test_log_q_is_the_base_density_minus_the_log_det_and_inversion_is_exact():
    family = iaf(steps=2)
    params = params_for(family, batch=4)
    q = family(params)
    z = tf.identity(q.sample(seed=[4, 5]))  # a new tensor: TFP's cache of x is not used
    flow = family.flow(params[:, 6:])
    x = flow.inverse(z)
    np.testing.assert_allclose(flow.forward(x).numpy(), z.numpy(), atol=1e-5)
    base = tfd.MultivariateNormalDiag(params[:, :3], tf.nn.softplus(params[:, 3:6]) + 1e-5)
    expected = base.log_prob(x) - flow.forward_log_det_jacobian(x, event_ndims=1)
    np.testing.assert_allclose(q.log_prob(z).numpy(), expected.numpy(), atol=1e-4)


def test_log_q_integrates_to_one_in_one_dimension():
    family = iaf(latent_dim=1, steps=2)
    params = params_for(family, batch=1)
    grid = np.linspace(-12, 12, 4001, dtype=np.float32)[:, None, None]  # [points, 1, 1]
    q = family(params)
    density = np.exp(q.log_prob(tf.constant(grid)).numpy()[:, 0])
    assert np.trapezoid(density, grid[:, 0, 0]) == pytest.approx(1.0, abs=2e-3)


def test_location_is_the_flow_of_the_base_mean_since_q_has_no_mean():
    family = iaf()
    params = params_for(family)
    q = family(params)
    with pytest.raises(NotImplementedError):
        q.mean()
    expected = family.flow(params[:, 6:]).forward(params[:, :3])
    np.testing.assert_allclose(family.location(q).numpy(), expected.numpy(), atol=1e-6)


def test_iaf_passes_the_kit_with_its_options():
    for options in ({}, {"context": 0, "steps": 1}, {"steps": 3}):
        check_component("posterior", "iaf", options)


def test_the_kit_fails_a_family_whose_weights_keras_cannot_see():
    class Holder:
        pass

    class HiddenShift(PosteriorFamily):
        def __init__(self, *, latent_dim):
            super().__init__(latent_dim=latent_dim)
            self.holder = Holder()
            self.holder.shift = tf.Variable(tf.zeros(latent_dim))

        def num_params(self):
            return 2 * self.latent_dim

        def call(self, params):
            d = self.latent_dim
            loc = params[:, :d] + self.holder.shift
            return tfd.MultivariateNormalDiag(loc, tf.nn.softplus(params[:, d:]))

    with pytest.raises(ConformanceError, match="does not track: HiddenShift.holder.shift"):
        check_posterior(lambda: HiddenShift(latent_dim=2))


def test_the_kit_fails_a_family_whose_location_cannot_be_computed():
    class NoLocation(PosteriorFamily):
        def num_params(self):
            return 2 * self.latent_dim

        def call(self, params):
            d = self.latent_dim
            return tfd.MultivariateNormalDiag(params[:, :d], tf.nn.softplus(params[:, d:]))

        def location(self, q):
            raise NotImplementedError("no mean here")

    with pytest.raises(ConformanceError, match="location"):
        check_posterior(lambda: NoLocation(latent_dim=2))


def test_a_zero_step_flow_is_refused_with_what_is_accepted(tmp_path):
    result = CliRunner().invoke(
        cli, ["run", "--posterior", "iaf", "--posterior-opt", "steps=0", "--out", tmp_path / "r"]
    )
    assert result.exit_code == 2
    assert "steps" in result.output and ">= 1" in result.output
    assert "Traceback" not in result.output


def tiny_iaf(**overrides) -> RunConfig:
    values = dict(
        encoder="mlp",
        encoder_options={"hidden": (32,)},
        decoder_options={"hidden": (32,)},
        posterior="iaf",
        posterior_options={"steps": 2, "hidden": 16, "context": 4},
        latent_dim=3,
        epochs=2,
        train_size=384,
        test_size=100,
        validation_size=100,
        batch_size=64,
        steps_per_execution=2,
        eval_batch_size=100,
        seed=11,
    )
    values.update(overrides)
    return RunConfig(**values)


def test_iaf_weights_train_checkpoint_resume_exactly_and_evaluate(tmp_path, mnist_dir):
    straight = train(tiny_iaf(), data_dir=mnist_dir, out_dir=tmp_path / "straight")
    family = straight.model.encoder.posterior_family
    made_vars = {id(v) for v in family.trainable_variables}
    assert made_vars and made_vars <= {id(v) for v in straight.model.trainable_variables}
    tf.keras.utils.set_random_seed(11)  # what train() does before building
    untrained = build(tiny_iaf()).encoder.posterior_family
    moved = [
        not np.allclose(a.numpy(), b.numpy())
        for a, b in zip(family.trainable_variables, untrained.trainable_variables, strict=True)
    ]
    assert any(moved), "the flow's weights were not trained"

    train(tiny_iaf(epochs=1), data_dir=mnist_dir, out_dir=tmp_path / "r")
    resumed = resume(tmp_path / "r", epochs=2)
    for a, b in zip(resumed.model.variables, straight.model.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    loaded = load_run(tmp_path / "r")
    for a, b in zip(loaded.model.encoder.posterior_family.variables, family.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    result = CliRunner().invoke(
        cli,
        ["evaluate", str(tmp_path / "r"), "-k", "8", "--test-size", "20", "--json"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["kl_analytic"] is False  # no closed-form KL for a flow
    assert np.isfinite(shown["log_likelihood"]) and 0 <= shown["active_units"] <= 3
    pictures = tmp_path / "r" / "pictures"
    assert (pictures / "latent.png").exists() and (pictures / "reconstructions.png").exists()


class _MeanlessFlow(PosteriorFamily):
    """A posterior a plugin author writes: a non-affine bijector, so q has no mean()."""

    def num_params(self):
        return 2 * self.latent_dim

    def call(self, params):
        d = self.latent_dim
        base = tfd.MultivariateNormalDiag(params[:, :d], tf.nn.softplus(params[:, d:]) + 1e-3)
        return tfd.TransformedDistribution(base, tfp.bijectors.Sinh())


class _BrokenEncoderFamily(PosteriorFamily):
    def num_params(self):
        return 2 * self.latent_dim

    def call(self, params):
        raise RuntimeError("the plugin's own bug")


def _posterior_plugin():
    import types

    from genmod import hookimpl

    module = types.ModuleType("meanless_plugin")

    def register_posteriors(register):
        register("sinh-flow", _MeanlessFlow, description="q without a mean")
        register("broken", _BrokenEncoderFamily, description="raises")

    module.register_posteriors = hookimpl(register_posteriors)
    return module


def test_a_posterior_without_mean_trains_and_a_plugin_bug_is_one_line(tmp_path, mnist_dir):
    from genmod.plugins import register_plugin

    register_plugin(_posterior_plugin(), "meanless")
    check_component("posterior", "sinh-flow")
    common = [
        "--encoder", "mlp", "--encoder-opt", "hidden=16", "--decoder-opt", "hidden=16",
        "--epochs", "1", "--train-size", "128", "--test-size", "50", "--validation-size", "0",
        "--latent-dim", "2", "--data-dir", str(mnist_dir), "--quiet",
    ]  # fmt: skip
    ok = CliRunner().invoke(
        cli, ["run", "--posterior", "sinh-flow", "--out", str(tmp_path / "a"), *common]
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "a" / "pictures" / "latent.png").exists()
    bad = CliRunner().invoke(
        cli, ["run", "--posterior", "broken", "--out", str(tmp_path / "b"), *common]
    )
    assert bad.exit_code == 2
    assert "Traceback" not in bad.output
    assert "RuntimeError: the plugin's own bug" in bad.output and "test_flows.py:" in bad.output
    assert "GENMOD_STRICT_PLUGINS=1" in bad.output


def test_the_kit_fails_any_component_kind_that_hides_a_variable():
    from genmod.contract.components import Prior
    from genmod.testing.components import check_prior

    class Holder:
        pass

    class HiddenScalePrior(Prior):
        def __init__(self, *, latent_dim):
            super().__init__(latent_dim=latent_dim)
            self.holder = Holder()
            self.holder.log_scale = tf.Variable(tf.zeros(latent_dim))

        def distribution(self):
            return tfd.MultivariateNormalDiag(
                tf.zeros(self.latent_dim), tf.exp(self.holder.log_scale)
            )

    with pytest.raises(ConformanceError, match="holder.log_scale"):
        check_prior(lambda: HiddenScalePrior(latent_dim=2))


def test_the_guides_flow_example_passes_the_kit_and_its_weight_is_tracked():
    import re
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[1] / "docs" / "plugin-guide.md").read_text()
    section = guide.split("### Posterior families with weights", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    namespace: dict = {}
    exec(compile(code, "plugin-guide.md", "exec"), namespace)
    family_class = namespace["ShiftedSinhFlow"]
    check_posterior(lambda: family_class(latent_dim=3))
    family = family_class(latent_dim=3)
    q = family(tf.zeros((2, 6)))
    assert family.location(q).shape == (2, 3)  # q has no mean(): the flow of the base mean
    assert [v.name for v in family.trainable_variables] == ["shift"]


def test_the_kit_fails_a_flow_without_inverse_and_names_the_rule():
    class NoInverse(tfp.bijectors.Bijector):
        def __init__(self):
            super().__init__(forward_min_event_ndims=1, name="no_inverse")

        def _forward(self, z):
            return z + 0.1 * tf.tanh(z)

        def _forward_log_det_jacobian(self, z):
            return tf.reduce_sum(tf.math.log1p(0.1 * (1 - tf.tanh(z) ** 2)), axis=-1)

    class PlanarLike(PosteriorFamily):
        def num_params(self):
            return 2 * self.latent_dim

        def call(self, params):
            d = self.latent_dim
            base = tfd.MultivariateNormalDiag(params[:, :d], tf.nn.softplus(params[:, d:]))
            return tfd.TransformedDistribution(base, NoInverse())

    with pytest.raises(ConformanceError, match="give a flow's bijectors an inverse"):
        check_posterior(lambda: PlanarLike(latent_dim=2))


def test_the_kit_checks_observers():
    import types

    from genmod import hookimpl
    from genmod.contract.observers import RunObserver
    from genmod.plugins import register_plugin

    class Fine(RunObserver):
        pass

    class Raises(RunObserver):
        def on_evaluation(self, results):
            raise KeyError("nll")

    module = types.ModuleType("observers_for_the_kit")

    def register_observers(register):
        register("fine", Fine)
        register("raises", Raises)
        register("not-an-observer", dict)

    module.register_observers = hookimpl(register_observers)
    register_plugin(module, "kit-observers")
    check_component("observer", "fine")
    with pytest.raises(ConformanceError, match="on_evaluation raised KeyError"):
        check_component("observer", "raises")
    with pytest.raises(ConformanceError, match="RunObserver"):
        check_component("observer", "not-an-observer")
