"""The conformance kit (genmod.testing): every registered component passes it, and it catches
components that break the contract."""

from __future__ import annotations

import types

import pytest

from genmod import hookimpl
from genmod.contract.options import Option
from genmod.plugins import KINDS, get_registry, register_plugin, reset_manager
from genmod.testing import ConformanceError, check_component, check_options

# Components whose contract needs a whole model: checked by their own tests instead.
NEEDS_A_MODEL = {
    ("prior", "vampprior"): "a mixture of q(z|u_k): needs a bound encoder (tests/test_zoo_runs.py)",
}


def _registered() -> list[tuple[str, str]]:
    registry = get_registry()
    found = [
        (kind, name)
        for kind in KINDS
        for name in registry.names(kind)
        if (kind, name) not in NEEDS_A_MODEL
    ]
    reset_manager()
    return found


@pytest.mark.parametrize(("kind", "name"), _registered(), ids=lambda v: str(v))
def test_every_registered_component_conforms(kind, name, request):
    # Only MNIST is real here; the other datasets load their own fixture files in their tests
    # (tests/test_datasets_builtin.py), so here their options and declared shape are checked.
    real = (kind, name) == ("dataset", "mnist")
    data_dir = request.getfixturevalue("mnist_dir") if real else None
    check_component(kind, name, data_dir=data_dir)


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_networks_conform_with_a_condition_and_non_default_options(kind):
    check_component(kind, "mlp", {"hidden": (6, 5), "activation": "tanh"}, condition_dim=3)
    check_component(kind, "cnn", {"filters": (4, 8), "kernel_size": 5}, condition_dim=3)
    check_component(kind, "residual", {"width": 4, "blocks": 1, "stages": 3}, condition_dim=3)


def _plugin(**hooks):
    module = types.ModuleType("conformance_fixture_plugin")
    for name, func in hooks.items():
        setattr(module, name, hookimpl(func))
    return module


def _register(kind_hook: str, name: str, factory, options=()) -> None:
    def hook(register):
        register(name, factory, description="a deliberately broken component", options=options)

    register_plugin(_plugin(**{kind_hook: hook}), f"broken-{name}")


def test_an_encoder_with_an_unused_variable_fails():
    from genmod_builtins.mlp_networks import MLPEncoder

    class Unused(MLPEncoder):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.spare = self.add_weight(shape=(3,), initializer="ones", name="spare")

    _register("register_encoders", "unused", Unused, [Option("hidden", "ints", (8,))])
    with pytest.raises(ConformanceError, match="spare"):
        check_component("encoder", "unused")


def test_a_decoder_with_the_wrong_output_shape_fails():
    from genmod_builtins.mlp_networks import MLPDecoder

    class Wrong(MLPDecoder):
        def __init__(self, *, params_per_element, **kwargs):
            super().__init__(params_per_element=1, **kwargs)  # ignores what it was asked

    _register("register_decoders", "wrong", Wrong)
    with pytest.raises(ConformanceError, match="params_per_element=2"):
        check_component("decoder", "wrong", data_shape=(4, 4, 1))


def test_an_unnormalised_likelihood_fails():
    from genmod_builtins.likelihoods_impl import BernoulliLikelihood

    class Doubled(BernoulliLikelihood):  # "probabilities" that sum to 2^n over n pixels
        def distribution(self, params):
            base = super().distribution(params)

            class Scaled:
                batch_shape, event_shape, dtype = base.batch_shape, base.event_shape, base.dtype

                def log_prob(self, x):
                    return base.log_prob(x) + 0.6931472 * 4.0

            return Scaled()

    _register("register_likelihoods", "doubled", Doubled)
    with pytest.raises(ConformanceError, match=r"sums/integrates to 1[56]\.9"):
        check_component("likelihood", "doubled", data_shape=(4, 4, 1))


def test_a_prior_with_the_wrong_event_shape_fails():
    from genmod_builtins.priors_impl import StandardNormalPrior

    class Flat(StandardNormalPrior):
        def distribution(self):
            import tensorflow_probability as tfp

            return tfp.distributions.Normal(tfp.math.softplus_inverse(1.0) * 0, 1.0)

    _register("register_priors", "flat", Flat)
    with pytest.raises(ConformanceError, match="event shape"):
        check_component("prior", "flat")


def test_a_non_reparameterised_posterior_fails():
    from genmod_builtins.posteriors_impl import DiagonalGaussian

    class Frozen(DiagonalGaussian):
        def __call__(self, params):
            import tensorflow as tf
            import tensorflow_probability as tfp

            base = super().__call__(params)
            return tfp.distributions.MultivariateNormalDiag(
                loc=base.mean(), scale_diag=tf.ones_like(base.mean())
            )

    _register("register_posteriors", "frozen", Frozen)
    with pytest.raises(ConformanceError, match="do not affect log q"):
        check_component("posterior", "frozen")


def test_an_invalid_option_default_fails():
    _register(
        "register_priors",
        "bad-default",
        "genmod_builtins.priors_impl:StandardNormalPrior",
        [Option("scale", "float", -1.0, "must be positive", min=0.0)],
    )
    with pytest.raises(ConformanceError, match="default of option 'scale' is invalid"):
        check_options("prior", "bad-default")


def test_an_objective_missing_metrics_fails():
    from genmod_builtins.objectives_impl import ELBOObjective

    class Terse(ELBOObjective):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.metric_names = ("loss",)

    _register("register_objectives", "terse", Terse)
    with pytest.raises(ConformanceError, match="lacks"):
        check_component("objective", "terse")


def test_unregistered_names_are_a_clear_failure():
    with pytest.raises(ConformanceError, match="not registered"):
        check_component("encoder", "no-such-encoder")
    assert get_registry()  # the registry itself is unharmed


def test_an_encoder_that_only_works_eagerly_fails():
    from genmod_builtins.mlp_networks import MLPEncoder

    class EagerOnly(MLPEncoder):
        def call(self, x, condition=None):
            _ = x.numpy()  # not available inside tf.function, where training runs
            return super().call(x, condition)

    _register("register_encoders", "eager-only", EagerOnly, [Option("hidden", "ints", (8,))])
    with pytest.raises(ConformanceError, match="fails inside tf.function"):
        check_component("encoder", "eager-only")


def test_an_encoder_whose_second_build_differs_cannot_be_restored():
    from genmod_builtins.mlp_networks import MLPEncoder

    class Growing(MLPEncoder):
        builds = 0

        def __init__(self, **kwargs):
            Growing.builds += 1
            super().__init__(hidden=(4 + Growing.builds,), **kwargs)

    _register("register_encoders", "growing", Growing)
    with pytest.raises(ConformanceError, match="second build creates different variables"):
        check_component("encoder", "growing")


def test_a_list_default_is_stored_as_the_tuple_genmod_records():
    option = Option("hidden", "ints", [8], "a list where genmod records a tuple")
    assert option.default == (8,) and Option("none", "ints", []).default == ()
    _register("register_encoders", "listy", "genmod_builtins.mlp_networks:MLPEncoder", [option])
    assert check_options("encoder", "listy")["hidden"] == (8,)


def test_a_decoder_with_a_fixed_batch_size_is_not_exportable():
    import tensorflow as tf

    from genmod_builtins.mlp_networks import MLPDecoder

    class FixedBatch(MLPDecoder):
        def decode(self, z, condition=None):
            out = super().decode(z, condition)
            if z.shape.rank == 2:  # a reshape by the static batch size: None when exported
                out = tf.reshape(out, [z.shape[0], *out.shape[1:]])
            return out

    _register("register_decoders", "fixed-batch", FixedBatch, [Option("hidden", "ints", (8,))])
    with pytest.raises(ConformanceError, match=r"decode\(z\) cannot be traced with a free batch"):
        check_component("decoder", "fixed-batch")


def test_a_prior_with_a_stateful_random_generator_is_not_exportable():
    import tensorflow as tf
    import tensorflow_probability as tfp

    from genmod_builtins.priors_impl import StandardNormalPrior

    class Stateful(tfp.distributions.MultivariateNormalDiag):
        def sample(self, sample_shape=(), seed=None, **kwargs):  # ignores the seed
            return tf.random.normal([sample_shape, *self.event_shape])

    class Unseeded(StandardNormalPrior):
        def distribution(self):
            return Stateful(loc=tf.zeros([self.latent_dim]))

    _register("register_priors", "unseeded", Unseeded)
    with pytest.raises(
        ConformanceError, match="uses RandomStandardNormal, a stateful random generator"
    ):
        check_component("prior", "unseeded", normalisation=False)
