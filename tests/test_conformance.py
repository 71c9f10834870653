"""The conformance kit (genmod.testing): every registered component passes it, and it catches
components that break the contract."""

from __future__ import annotations

import types

import numpy as np
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


# -- evaluation components: metrics, feature extractors, latent samplers -----------------------

EVALUATION_KINDS = ("metric", "extractor", "sampler")
#: built-in metrics that compute from the model itself: checked on a tiny untrained VAE
MODEL_METRICS = {"log-likelihood", "elbo", "mutual-information"}


def _evaluation_components() -> list[tuple[str, str]]:
    registry = get_registry()
    found = [(kind, name) for kind in EVALUATION_KINDS for name in registry.names(kind)]
    reset_manager()
    return found


@pytest.fixture(scope="module")
def random_inception_weights(tmp_path_factory):
    """Inception-v3 without its top, randomly initialised, saved by Keras 3. Keras picks the
    loader by the suffix: `.weights.h5` is its own format (what `save_weights` writes), a plain
    `.h5` (Keras' published notop file) the legacy HDF5 one; the extractor loads either."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.applications.InceptionV3(
        include_top=False, weights=None, pooling="avg", input_shape=(299, 299, 3)
    )
    path = tmp_path_factory.mktemp("inception") / "random-inception-v3-notop.weights.h5"
    model.save_weights(str(path))
    return path


@pytest.mark.parametrize(("kind", "name"), _evaluation_components(), ids=lambda v: str(v))
def test_every_evaluation_component_conforms(kind, name, tmp_path, request):
    from genmod.testing import model_context

    options = None
    if (kind, name) == ("extractor", "inception-v3"):
        # ImageNet weights cannot be downloaded here: random ones of the same architecture,
        # passed as --extractor-opt weights=PATH would pass them (about 15 s on 2 cores)
        weights = request.getfixturevalue("random_inception_weights")
        options = {"weights": str(weights), "download": False}
    context = None
    if kind == "metric":
        # other plugins' metrics installed here (the example's reconstruction-mse) may use the
        # model too: they get the model context as well
        factory = get_registry().get(kind, name).factory
        builtin = isinstance(factory, str) and factory.startswith("genmod_builtins.")
        context = model_context if name in MODEL_METRICS or not builtin else None
    check_component(kind, name, options, context=context, cache_dir=tmp_path)


def test_every_kind_of_evaluation_component_is_checked():
    kinds = {kind for kind, _ in _evaluation_components()}
    assert kinds == set(EVALUATION_KINDS)
    assert MODEL_METRICS <= {name for kind, name in _evaluation_components() if kind == "metric"}


def test_the_synthetic_context_provides_what_its_docstring_says():
    import numpy as np

    from genmod.testing import SyntheticContext

    context = SyntheticContext(seed=3)
    images = context.test_images()
    assert images.shape == (64, 8, 8, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert np.array_equal(context.model_inputs(), images)
    assert set(context.labels().tolist()) == {0, 1, 2, 3}
    factors, names, sizes = context.factors()
    assert names == ("shape", "x", "y") and sizes == (2, 4, 4) and factors.shape == (64, 3)
    assert len({tuple(row) for row in factors.tolist()}) == 32  # the full grid, twice
    codes = context.codes()
    assert codes.shape == (64, 4) and context.train_codes().shape == (256, 4)
    assert np.corrcoef(codes[:, 1], factors[:, 1])[0, 1] > 0.9  # dimension 1 follows x
    all_codes, all_factors, _ = context.factor_codes("all", max_items=100)
    assert all_codes.shape == (100, 4) and all_factors.shape == (100, 3)
    samples = context.samples(10)
    assert samples.shape == (10, 8, 8, 1)
    assert np.array_equal(SyntheticContext(seed=3).samples(10), samples)
    assert not np.array_equal(SyntheticContext(seed=4).samples(10), samples)
    assert context.features("test").shape == (64, 16)
    assert context.features("samples", 10).shape == (10, 16)
    with pytest.raises(ConformanceError, match="model_context"):
        _ = context.model


# Deliberately broken evaluation components: each breaks one rule, and the kit names it.


def _metric_classes():
    import numpy as np

    from genmod.contract.errors import ConfigError
    from genmod.contract.metrics import Metric, MetricResult, MetricValue

    class MeanPixel(Metric):  # a conforming metric; the broken ones change one thing
        needs = ("test_data",)

        def value(self, context):
            return MetricValue(float(context.test_images().mean()), "pixel units")

        def compute(self, context):
            return MetricResult({"mean_pixel": self.value(context)}, {"estimator": "mean"})

    def variant(**members):
        return type("Broken", (MeanPixel,), members)

    def values(mapping):
        return lambda self, context: MetricResult(mapping, {"estimator": "fixed"})

    def interrupt_swallowed(self, context):
        try:
            for done in range(3):
                context.progress(done, 3)
        except BaseException:  # noqa: BLE001 - the deliberate bug
            pass
        return MeanPixel.compute(self, context)

    def in_place(self, context):
        images = context.test_images()
        images *= 2.0  # changes the array every metric of the evaluation shares
        return MeanPixel.compute(self, context)

    def odd_plan(self, plan):
        if plan.test_size / plan.num_classes < 2:  # ZeroDivisionError without labels
            raise ConfigError("too few test items per class")

    def refuse(self, plan):
        raise ConfigError("never")

    return {
        "conforming": (MeanPixel, None),
        "unknown need": (variant(needs=("test_data", "gpu")), r"needs \['gpu'\]"),
        "empty version": (variant(version=""), "version is ''"),
        "not a result": (
            variant(compute=lambda self, c: {"mean_pixel": 1.0}),
            "not a genmod.contract.metrics.MetricResult",
        ),
        "CamelCase name": (
            variant(compute=values({"MeanPixel": MetricValue(1.0, "pixel units")})),
            "'MeanPixel' is not snake_case",
        ),
        "reserved name": (
            variant(compute=values({"seed": MetricValue(1.0, "count")})),
            "'seed' is a top-level key of evaluation.json",
        ),
        "string value": (
            variant(compute=values({"quality": MetricValue("high", "score")})),
            "a value is a number, a list of numbers, or None",
        ),
        "bool value": (
            variant(compute=values({"good": MetricValue(True, "score")})),
            "a value is a number",
        ),
        "no unit": (
            variant(compute=values({"mean_pixel": MetricValue(1.0, None)})),
            "has unit None; a unit is a non-empty str",
        ),
        "None without a note": (
            variant(compute=values({"mean_pixel": MetricValue(None, "nats")})),
            "without a method 'note'",
        ),
        "set in the method": (
            variant(compute=values({"m": MetricValue(1.0, "count", {"bins": {1, 2}})})),
            "holds set, which cannot be recorded as JSON",
        ),
        "NaN in the method": (
            variant(
                compute=lambda self, c: MetricResult(
                    {"m": MetricValue(1.0, "count")}, {"bias": float("nan")}
                )
            ),
            "cannot be written to evaluation.json as JSON",
        ),
        "unseeded randomness": (
            variant(
                value=lambda self, c: MetricValue(float(np.random.default_rng().random()), "u")
            ),
            "different values on a fresh, identical context",
        ),
        "labels not declared": (
            variant(value=lambda self, c: MetricValue(float(c.labels().mean()), "class")),
            r"used context.labels\(\), which needs 'labels'",
        ),
        "model not declared": (
            variant(value=lambda self, c: MetricValue(float(c.model.latent_dim), "count")),
            "used context.model, which needs 'model'",
        ),
        "model on the synthetic context": (
            variant(
                needs=("model", "test_data"),
                value=lambda self, c: MetricValue(float(c.model.latent_dim), "count"),
            ),
            r"metric Broken: this metric needs the model.*context=genmod.testing.model_context",
        ),
        "changes the shared images": (variant(compute=in_place), "modified the arrays of"),
        "check() crashes on an odd plan": (variant(check=odd_plan), r"raised ZeroDivisionError"),
        "check() refuses everything": (variant(check=refuse), "refused a plan it should accept"),
        "compute() crashes": (
            variant(value=lambda self, c: MetricValue(float(c.test_images()[999]), "u")),
            r"compute\(\) raised IndexError",
        ),
        "Ctrl-C swallowed": (variant(compute=interrupt_swallowed), "swallowed the Keyboard"),
    }


@pytest.mark.parametrize("case", sorted(_metric_classes()))
def test_a_broken_metric_fails_naming_the_rule(case):
    from genmod.testing import check_metric

    metric, message = _metric_classes()[case]
    if message is None:
        from genmod.testing.evaluation import synthetic_data

        result = check_metric(metric)
        expected = float(np.mean(synthetic_data().x_test / 255.0))  # the context's test images
        assert result.values["mean_pixel"].value == pytest.approx(expected, rel=1e-5)
        return
    with pytest.raises(ConformanceError, match=message):
        check_metric(metric)


def _extractor_classes():
    import numpy as np

    from genmod.contract.extractors import FeatureExtractor

    class MeanStd(FeatureExtractor):  # a conforming extractor; the broken ones change one thing
        def prepare(self, data):
            self.shape = tuple(data.data_shape)

        @property
        def feature_dims(self):
            return 2

        def features(self, images):
            x = np.asarray(images, np.float64)
            return np.stack([x.mean(axis=(1, 2, 3)), x.std(axis=(1, 2, 3))], axis=1)

        def describe(self):
            return {"weights": "none", "prepared_for": list(self.shape)}

    def variant(**members):
        return type("Broken", (MeanStd,), members)

    def features_then(change):
        return lambda self, images: change(MeanStd.features(self, images), images)

    def in_place(features, images):
        images -= 0.5
        return features

    return {
        "conforming": (MeanStd, None),
        "no features": (variant(feature_dims=property(lambda self: 0)), "feature_dims is 0"),
        "batch statistics": (
            variant(features=features_then(lambda f, x: f - f.mean(axis=0))),
            "depend on how the images are split into batches",
        ),
        "wrong shape": (
            variant(features=features_then(lambda f, x: np.concatenate([f, f], axis=1))),
            r"returned shape \[6, 4\]; expected \[6, 2\]",
        ),
        "NaN": (variant(features=features_then(lambda f, x: f * np.nan)), "not finite"),
        "unseeded noise": (
            variant(features=features_then(lambda f, x: f + np.random.default_rng().random())),
            "different features for the same images",
        ),
        "changes the images": (variant(features=features_then(in_place)), "changed the images"),
        "numpy in describe()": (
            variant(describe=lambda self: {"scale": np.float32(1.0)}),
            "describe\\(\\) cannot be written to evaluation.json as JSON",
        ),
        "describe() replaces genmod's keys": (
            variant(describe=lambda self: {"feature_dims": 2}),
            r"replaces \['feature_dims'\]",
        ),
        "prepare() crashes": (
            variant(prepare=lambda self, data: data.missing),
            r"prepare\(\) raised AttributeError",
        ),
    }


@pytest.mark.parametrize("case", sorted(_extractor_classes()))
def test_a_broken_extractor_fails_naming_the_rule(case):
    from genmod.testing import check_extractor

    extractor, message = _extractor_classes()[case]
    if message is None:
        check_extractor(extractor)
        return
    with pytest.raises(ConformanceError, match=message):
        check_extractor(extractor)


def _sampler_classes():
    import numpy as np

    from genmod.contract.errors import ConfigError
    from genmod.contract.samplers import LatentSampler

    class Gaussian(LatentSampler):  # a conforming sampler; the broken ones change one thing
        def __init__(self):
            self.mean, self.std = np.zeros(4), np.ones(4)

        def fit(self, codes, *, seed):
            if len(codes) < 2:
                raise ConfigError("the gaussian sampler needs at least 2 codes")
            self.mean, self.std = codes.mean(axis=0), codes.std(axis=0)

        def sample(self, n, *, seed):
            noise = np.random.default_rng(seed).standard_normal((n, len(self.mean)))
            return (self.mean + self.std * noise).astype(np.float32)

        def state(self):
            return {"mean": self.mean, "std": self.std}

        def load_state(self, state):
            self.mean, self.std = state["mean"], state["std"]

        def describe(self):
            return {"family": "diagonal Gaussian", "dims": int(len(self.mean))}

    def variant(**members):
        return type("Broken", (Gaussian,), members)

    def draws(change):
        return lambda self, n, *, seed: change(Gaussian.sample(self, n, seed=seed), n, seed)

    def unchecked_fit(self, codes, *, seed):
        if len(codes) < 2:
            raise ValueError("too few")  # not a ConfigError
        Gaussian.fit(self, codes, seed=seed)

    return {
        "conforming": (Gaussian, None),
        "needs_fit not a bool": (variant(needs_fit="yes"), "needs_fit is 'yes'"),
        "ignores the seed": (
            variant(
                sample=lambda self, n, *, seed: np.random.standard_normal((n, 4)).astype(np.float32)
            ),
            "the same seed gave different draws",
        ),
        "one stream for every seed": (
            variant(sample=lambda self, n, *, seed: Gaussian.sample(self, n, seed=0)),
            "another seed gave the same draws",
        ),
        "float64": (variant(sample=draws(lambda z, n, s: z.astype(np.float64))), "float64"),
        "wrong shape": (
            variant(sample=draws(lambda z, n, s: z[:, :3])),
            r"returned shape \[5, 3\]; expected \[5, 4\]",
        ),
        "object state": (
            variant(state=lambda self: {"mean": self.mean, "fit": np.array({"a": 1})}),
            r"entries \['fit'\] are object arrays",
        ),
        "state named like savez's argument": (
            variant(state=lambda self: {"file": self.mean}),
            "does not survive numpy.savez",
        ),
        "incomplete state": (
            variant(state=lambda self: {"mean": self.mean}, load_state=lambda self, s: None),
            r"given load_state\(\) of the saved state draws other codes",
        ),
        "too few codes crash": (variant(fit=unchecked_fit), "raise a genmod.contract.errors"),
        "describe() replaces genmod's keys": (
            variant(describe=lambda self: {"file": "gaussian.npz"}),
            r"replaces \['file'\]",
        ),
    }


@pytest.mark.parametrize("case", sorted(_sampler_classes()))
def test_a_broken_sampler_fails_naming_the_rule(case):
    from genmod.testing import check_sampler

    sampler, message = _sampler_classes()[case]
    if message is None:
        check_sampler(sampler)
        return
    with pytest.raises(ConformanceError, match=message):
        check_sampler(sampler)


def test_check_component_dispatches_evaluation_kinds_naming_the_plugin():
    metric, _ = _metric_classes()["unknown need"]
    _register("register_metrics", "needy", metric)
    with pytest.raises(ConformanceError, match=r"metric 'needy' \(plugin 'broken-needy'\).*gpu"):
        check_component("metric", "needy")
    extractor, _ = _extractor_classes()["wrong shape"]
    _register("register_extractors", "wide", extractor)
    with pytest.raises(ConformanceError, match=r"extractor 'wide' \(plugin 'broken-wide'\)"):
        check_component("extractor", "wide")
    sampler, _ = _sampler_classes()["float64"]
    _register("register_samplers", "doubles", sampler)
    with pytest.raises(ConformanceError, match=r"sampler 'doubles' \(plugin 'broken-doubles'\)"):
        check_component("sampler", "doubles")


def test_evaluation_options_must_survive_genmod_evaluate_and_json():
    metric, _ = _metric_classes()["conforming"]

    class Labelled(metric):
        def __init__(self, label="a;b"):
            self.label = label

    # `--metric-opt NAME.KEY=VALUE` splits at ";": this default cannot be given back
    _register("register_metrics", "labelled", Labelled, [Option("label", "str", "a;b", "")])
    with pytest.raises(ConformanceError, match="do not survive the command line"):
        check_options("metric", "labelled")
    assert check_options("metric", "labelled", {"label": "ab"}) == {"label": "ab"}
    _register(
        "register_samplers",
        "bad-default",
        "genmod_builtins.samplers_impl:GaussianMixtureSampler",
        [Option("components", "int", 0, "mixture components", min=1)],
    )
    with pytest.raises(ConformanceError, match="default of option 'components' is invalid"):
        check_component("sampler", "bad-default")
