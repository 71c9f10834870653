"""Every hook specification is exercised: a plugin implementing it has the documented effect.

Adding a hookspec without adding an exercise here fails
test_every_hookspec_has_an_exercise.
"""

from __future__ import annotations

import json
import types

import click
import pytest
from click.testing import CliRunner

from genmod import hookimpl
from genmod.cli import cli
from genmod.contract import Option, hookspecs
from genmod.plugins import (
    KIND_HOOKS,
    OBSERVER_HOOK,
    build_observers,
    get_manager,
    get_registry,
    register_plugin,
)

#: a working factory for each component kind (a built-in one, reached by its string)
FACTORIES = {
    "encoder": "genmod_builtins.mlp_networks:MLPEncoder",
    "decoder": "genmod_builtins.mlp_networks:MLPDecoder",
    "likelihood": "genmod_builtins.likelihoods_impl:BernoulliLikelihood",
    "prior": "genmod_builtins.priors_impl:StandardNormalPrior",
    "posterior": "genmod_builtins.posteriors_impl:DiagonalGaussian",
    "objective": "genmod_builtins.objectives_impl:ELBOObjective",
    "dataset": "genmod_builtins.mnist_loader:MNIST",
}


def _exercise_register_hook(kind: str) -> None:
    hook_name = KIND_HOOKS[kind]

    def hook(register):
        register(f"exercised-{kind}", FACTORIES[kind], description=f"an exercised {kind}")

    plugin = types.ModuleType("exercise_plugin")
    setattr(plugin, hook_name, hookimpl(hook))
    register_plugin(plugin, "exercise")
    spec = get_registry().get(kind, f"exercised-{kind}")
    assert spec.plugin == "exercise" and spec.load().__name__ == FACTORIES[kind].split(":")[1]
    listing = json.loads(CliRunner().invoke(cli, ["plugins", "--json"]).output)
    entry = next(p for p in listing if p["name"] == "exercise")
    assert entry["hooks"] == [hook_name]
    assert entry["components"][0]["kind"] == kind


def _exercise_register_commands() -> None:
    def register_commands(cli):
        @cli.command(name="exercised")
        def exercised():
            click.echo("exercised command ran")

    plugin = types.ModuleType("exercise_plugin")
    plugin.register_commands = hookimpl(register_commands)
    register_plugin(plugin, "exercise")
    group = click.Group(commands=dict(cli.commands))
    get_manager().add_commands(group)
    assert CliRunner().invoke(group, ["exercised"]).output == "exercised command ran\n"
    get_manager().plugin_infos()  # fills in each plugin's hooks
    assert get_manager().infos["exercise"].hooks == ["register_commands"]


HOOK_EXERCISES = {
    hook: (lambda kind=kind: _exercise_register_hook(kind)) for kind, hook in KIND_HOOKS.items()
}
HOOK_EXERCISES["register_commands"] = _exercise_register_commands


def _exercise_register_observers() -> None:
    from genmod.contract import RunObserver

    heard = []

    class Exercised(RunObserver):
        def on_evaluation(self, results):
            heard.append(results)

    def register_observers(register):
        register("exercised-observer", Exercised, description="an exercised observer")

    plugin = types.ModuleType("exercise_plugin")
    plugin.register_observers = hookimpl(register_observers)
    register_plugin(plugin, "exercise")
    assert get_registry().get("observer", "exercised-observer").plugin == "exercise"
    build_observers({"exercised-observer": {}}, get_registry()).on_evaluation({"elbo": -90.0})
    assert heard == [{"elbo": -90.0}]
    listing = json.loads(CliRunner().invoke(cli, ["plugins", "--json"]).output)
    entry = next(p for p in listing if p["name"] == "exercise")
    assert entry["hooks"] == [OBSERVER_HOOK]
    assert entry["components"][0]["kind"] == "observer"


HOOK_EXERCISES[OBSERVER_HOOK] = _exercise_register_observers


def _exercise_register_metrics() -> None:
    from genmod.contract.metrics import Metric, MetricResult, MetricValue
    from genmod.evaluate.suite import build_metrics, run_metric

    class Exercised(Metric):
        needs = ("test_data",)
        version = "3"

        def __init__(self, scale=1.0):
            self.scale = scale

        def compute(self, context):
            return MetricResult(
                {"exercised": MetricValue(self.scale * context.test_size, "count")},
                {"estimator": "test size times scale"},
            )

    def register_metrics(register):
        register(
            "exercised-metric",
            Exercised,
            description="an exercised metric",
            options=[Option("scale", "float", 1.0, "a factor")],
        )

    plugin = types.ModuleType("exercise_plugin")
    plugin.register_metrics = hookimpl(register_metrics)
    register_plugin(plugin, "exercise")
    (built,) = build_metrics(
        ["exercised-metric"],
        {"exercised-metric": {"scale": "2"}},
        get_registry(),
        from_strings=True,
    )
    records = run_metric(
        built, types.SimpleNamespace(test_size=5), common={"seed": 4}, versions={"numpy": "x"}
    )
    value = records.values["exercised"]
    assert value["value"] == 10.0 and value["unit"] == "count"
    assert value["method"]["estimator"] == "test size times scale"
    assert value["method"]["metric_version"] == "3" and value["method"]["seed"] == 4
    assert value["method"]["plugin"] == "exercise" and value["method"]["options"] == {"scale": 2.0}
    _listed_as("register_metrics", "metric")


def _exercise_register_extractors() -> None:
    import numpy as np

    from genmod.contract.extractors import ExtractorData, FeatureExtractor
    from genmod.evaluate.extractors import prepare_extractor

    class Exercised(FeatureExtractor):
        def prepare(self, data):
            self.shape = data.data_shape

        @property
        def feature_dims(self):
            return 2

        def features(self, images):
            return np.stack([images.mean(axis=(1, 2, 3)), images.max(axis=(1, 2, 3))], 1)

        def describe(self):
            return {"weights_sha256": "none", "prepared_for": list(self.shape)}

    def register_extractors(register):
        register("exercised-extractor", Exercised, description="an exercised extractor")

    plugin = types.ModuleType("exercise_plugin")
    plugin.register_extractors = hookimpl(register_extractors)
    register_plugin(plugin, "exercise")
    data = ExtractorData("d", {}, (2, 2, 1), 0, lambda: (None, None), None, lambda d, t: None)
    prepared = prepare_extractor("exercised-extractor", {}, get_registry(), data, from_strings=True)
    assert prepared.record["prepared_for"] == [2, 2, 1] and prepared.feature_dims == 2
    assert prepared.record["chosen_by"] == "chosen with --extractor"
    assert prepared.features(np.ones((3, 2, 2, 1), np.float32)).shape == (3, 2)
    _listed_as("register_extractors", "extractor")


def _exercise_register_samplers() -> None:
    import numpy as np

    from genmod.contract.samplers import LatentSampler
    from genmod.evaluate.samplers import build_sampler

    class Exercised(LatentSampler):
        needs_fit = False

        def sample(self, n, *, seed):
            return np.full((n, 2), float(seed), np.float32)

    def register_samplers(register):
        register("exercised-sampler", Exercised, description="an exercised sampler")

    plugin = types.ModuleType("exercise_plugin")
    plugin.register_samplers = hookimpl(register_samplers)
    register_plugin(plugin, "exercise")
    sampler, options, owner = build_sampler(
        "exercised-sampler", {}, get_registry(), from_strings=True
    )
    assert owner == "exercise" and options == {}
    assert sampler.sample(3, seed=7).tolist() == [[7.0, 7.0]] * 3
    _listed_as("register_samplers", "sampler")


def _listed_as(hook: str, kind: str) -> None:
    listing = json.loads(CliRunner().invoke(cli, ["plugins", "--json"]).output)
    entry = next(p for p in listing if p["name"] == "exercise")
    assert entry["hooks"] == [hook]
    assert entry["components"][0]["kind"] == kind


HOOK_EXERCISES["register_metrics"] = _exercise_register_metrics
HOOK_EXERCISES["register_extractors"] = _exercise_register_extractors
HOOK_EXERCISES["register_samplers"] = _exercise_register_samplers


def test_every_hookspec_has_an_exercise():
    specs = {
        name
        for name, func in vars(hookspecs).items()
        if callable(func) and hasattr(func, f"{hookspecs.PROJECT_NAME}_spec")
    }
    assert specs == set(HOOK_EXERCISES), f"hooks without an exercise: {specs - set(HOOK_EXERCISES)}"


@pytest.mark.parametrize("hook", sorted(HOOK_EXERCISES))
def test_hook_is_exercised(hook):
    HOOK_EXERCISES[hook]()
