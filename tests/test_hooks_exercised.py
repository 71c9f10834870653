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
from genmod.contract import hookspecs
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
