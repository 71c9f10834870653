"""Run observers (register_observers): the events of a run, and that no observer can corrupt it."""

from __future__ import annotations

import copy
import time
import types
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from genmod import hookimpl
from genmod.cli import cli
from genmod.config import RunConfig, read_config
from genmod.config import toml as tomlio
from genmod.config.sources import parse_observers
from genmod.contract import RunObserver
from genmod.contract.errors import ConfigError
from genmod.contract.options import Option
from genmod.plugins import (
    ObserverList,
    ObserverSlowWarning,
    ObserverWarning,
    build_observers,
    get_registry,
    register_plugin,
)

#: what the recording observers heard, by observer tag
EVENTS: dict[str, list[tuple]] = {}


class Recorder(RunObserver):
    def __init__(self, tag: str = "rec", fail_in: str = "", sleep: float = 0.0) -> None:
        self.tag, self.fail_in, self.sleep = tag, fail_in, sleep
        EVENTS.setdefault(tag, [])

    def _hear(self, event: str, *args) -> None:
        EVENTS[self.tag].append((event, *copy.deepcopy(args)))
        time.sleep(self.sleep)
        if event == self.fail_in:
            raise RuntimeError(f"{self.tag} broke in {event}")

    def on_run_start(self, config, run_dir, resumed):
        self._hear("on_run_start", config, run_dir, resumed)
        config["epochs"] = -1  # mutating what it is given changes nothing in the run

    def on_epoch_end(self, epoch, metrics):
        self._hear("on_epoch_end", epoch, metrics)
        metrics.clear()

    def on_checkpoint(self, path, epoch, best):
        # records whether the checkpoint is on disk when the observer hears of it
        self._hear("on_checkpoint", path, epoch, best, Path(f"{path}.index").exists())

    def on_evaluation(self, results):
        self._hear("on_evaluation", results)

    def on_run_end(self, status, message):
        self._hear("on_run_end", status, message)


OPTIONS = [
    Option("tag", "str", "rec", "key in EVENTS"),
    Option("fail_in", "str", "", "the event to raise in"),
    Option("sleep", "float", 0.0, "seconds to sleep per event", min=0.0),
]


@pytest.fixture(autouse=True)
def recorder_plugin(fresh_plugins):
    """A plugin registering the observer ``recorder`` (and ``broken``, whose factory raises)."""
    EVENTS.clear()

    def register_observers(register):
        register("recorder", Recorder, description="records events", options=OPTIONS)
        register("recorder-2", Recorder, description="records events too", options=OPTIONS)
        register("broken", "genmod_no_such_module_xyz:Observer", description="cannot load")
        register("not-an-observer", lambda: object(), description="returns the wrong thing")

    plugin = types.ModuleType("observer_plugin")
    plugin.register_observers = hookimpl(register_observers)
    register_plugin(plugin, "observing")


def tiny(**overrides) -> RunConfig:
    values = dict(
        encoder="mlp",
        encoder_options={"hidden": (32,)},
        decoder_options={"hidden": (32,)},
        latent_dim=2,
        epochs=2,
        train_size=256,
        test_size=100,
        validation_size=100,
        batch_size=64,
        eval_batch_size=100,
        seed=3,
    )
    values.update(overrides)
    return RunConfig(**values)


def observer_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, ObserverWarning)]


# -- the dispatcher, without training -----------------------------------------------------------
def test_a_raising_observer_is_reported_once_and_disabled_and_others_go_on():
    observers = ObserverList()
    observers.add("boom", "observing", Recorder(tag="boom", fail_in="on_epoch_end"))
    observers.add("ok", "observing", Recorder(tag="ok"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for epoch in (1, 2):
            observers.on_epoch_end(epoch, {"epoch": epoch})
        observers.on_run_end("finished", None)
    messages = observer_warnings(caught)
    assert len(messages) == 1, messages
    assert all(s in messages[0] for s in ("'observing'", "'boom'", "on_epoch_end", "RuntimeError"))
    assert [e[0] for e in EVENTS["boom"]] == ["on_epoch_end"]  # disabled after the first
    assert [e[:2] for e in EVENTS["ok"]] == [
        ("on_epoch_end", 1),
        ("on_epoch_end", 2),
        ("on_run_end", "finished"),
    ]
    assert observers.active == ["ok"]


def test_strict_mode_makes_a_raising_observer_fatal(monkeypatch):
    monkeypatch.setenv("GENMOD_STRICT_PLUGINS", "1")
    observers = ObserverList()
    observers.add("boom", "observing", Recorder(tag="boom", fail_in="on_evaluation"))
    with pytest.raises(RuntimeError, match="boom broke in on_evaluation"):
        observers.on_evaluation({"elbo": -100.0})


def test_a_slow_observer_is_reported_once(monkeypatch):
    monkeypatch.setenv("GENMOD_OBSERVER_WARN_SECONDS", "0.01")
    observers = ObserverList()
    observers.add("slow", "observing", Recorder(tag="slow", sleep=0.03))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for epoch in (1, 2, 3):
            observers.on_epoch_end(epoch, {})
    slow = [str(w.message) for w in caught if issubclass(w.category, ObserverSlowWarning)]
    assert len(slow) == 1 and "'slow'" in slow[0] and "on_epoch_end" in slow[0], slow
    assert len(EVENTS["slow"]) == 3  # slow, but still called


def test_observers_get_copies():
    observers = ObserverList()
    observers.add("rec", "observing", Recorder())
    metrics = {"epoch": 1, "test_elbo": -150.0}
    observers.on_epoch_end(1, metrics)
    assert metrics == {"epoch": 1, "test_elbo": -150.0}


def test_factories_that_fail_are_reported_and_left_out(monkeypatch):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        built = build_observers(
            {"broken": {}, "not-an-observer": {}, "recorder": {"tag": "x"}}, get_registry()
        )
    messages = observer_warnings(caught)
    assert len(messages) == 2 and "'broken'" in messages[0] and "RunObserver" in messages[1]
    assert built.active == ["recorder"]
    monkeypatch.setenv("GENMOD_STRICT_PLUGINS", "1")
    with pytest.raises(Exception, match="genmod_no_such_module_xyz"):
        build_observers({"broken": {}}, get_registry())


# -- configuration -----------------------------------------------------------------------------
def test_observers_are_validated_and_survive_config_toml(tmp_path):
    registry = get_registry()
    config = RunConfig(observers={"recorder": {"tag": "t"}}).resolve(registry)
    assert config.observers == {"recorder": {"tag": "t", "fail_in": "", "sleep": 0.0}}
    tomlio.dump({"format_version": 2, **config.to_dict()}, tmp_path / "config.toml")
    again, _ = read_config(tmp_path)
    assert again == config
    with pytest.raises(ConfigError, match="unknown observer 'nope'.*Available observers: .*"):
        RunConfig(observers={"nope": {}}).resolve(registry)
    with pytest.raises(ConfigError, match="'sleep'"):
        RunConfig(observers={"recorder": {"sleep": -1.0}}).resolve(registry)
    with pytest.raises(ConfigError, match="'observers' must be a table"):
        RunConfig.from_dict({"observers": ["recorder"]})
    # an older config.toml without the table loads, with no observers
    text = (tmp_path / "config.toml").read_text().split("[observers]")[0]
    (tmp_path / "config.toml").write_text(text)
    assert read_config(tmp_path)[0].observers == {}


def test_observer_options_on_the_command_line():
    chosen, options = parse_observers(
        ("recorder", "jsonl-log"), ("recorder.tag=a;recorder.fail-in=on_run_end", "a.b.c=1")
    )
    assert chosen == {"recorder": {}, "jsonl-log": {}}
    assert options == {"recorder": {"tag": "a", "fail_in": "on_run_end"}, "a.b": {"c": "1"}}
    with pytest.raises(ConfigError, match="NAME.KEY=VALUE"):
        parse_observers(("recorder",), ("tag=a",))


def test_unknown_observer_on_the_command_line_is_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--observer", "nope", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "unknown observer 'nope'" in lines[0], lines
    assert "recorder" in lines[0]
    result = CliRunner().invoke(
        cli, ["run", "--observer-opt", "recorder.tag=x", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 2 and "--observer recorder" in result.output, result.output


def test_genmod_plugins_lists_observers():
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "observer recorder: records events" in result.output


# -- training ----------------------------------------------------------------------------------
def test_a_run_is_observed_in_order_and_a_raising_observer_cannot_corrupt_it(tmp_path, mnist_dir):
    from genmod.api import train
    from genmod.runs import folder as rundir

    plain = train(tiny(), data_dir=mnist_dir, out_dir=tmp_path / "plain")
    config = tiny(
        observers={
            "recorder": {"tag": "rec"},
            "recorder-2": {"tag": "boom", "fail_in": "on_epoch_end"},  # fails at epoch 1
        }
    )
    run_dir = tmp_path / "observed"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(config, data_dir=mnist_dir, out_dir=run_dir)
    messages = observer_warnings(caught)
    assert len(messages) == 1 and "on_epoch_end" in messages[0], messages
    assert [e[0] for e in EVENTS["boom"]] == ["on_run_start", "on_epoch_end"]

    # the run is the same as without observers: metrics, checkpoints, files
    strip = ("train_seconds", "images_per_second")
    assert [{k: v for k, v in r.items() if k not in strip} for r in result.history] == [
        {k: v for k, v in r.items() if k not in strip} for r in plain.history
    ]
    assert rundir.read_summary(run_dir)["status"] == "finished"
    assert read_config(run_dir)[0].epochs == 2
    assert read_config(run_dir)[0].observers == config.resolve(get_registry()).observers

    events = EVENTS["rec"]
    names = [e[0] for e in events]
    assert names[0] == "on_run_start" and names[-1] == "on_run_end"
    _, start_config, start_dir, resumed = events[0]
    assert start_dir == run_dir and resumed is False and start_config["epochs"] == 2
    assert start_config["observers"]["recorder"]["tag"] == "rec"
    epoch_ends = [e for e in events if e[0] == "on_epoch_end"]
    assert [e[1] for e in epoch_ends] == [1, 2]
    assert epoch_ends[0][2] == rundir.read_metrics(run_dir)[0]
    assert "test_elbo" in epoch_ends[1][2] and "validation_elbo" in epoch_ends[1][2]
    checkpoints = [e for e in events if e[0] == "on_checkpoint"]
    assert {(e[2], e[3]) for e in checkpoints} >= {(1, False), (2, False), (1, True)}
    for _, path, _, _, on_disk in checkpoints:
        assert isinstance(path, Path) and on_disk, path
    # epoch 1's checkpoints come after its epoch_end and before epoch 2's
    first_end = names.index("on_epoch_end")
    second_end = len(names) - 1 - names[::-1].index("on_epoch_end")
    between = [e for e in events[first_end:second_end] if e[0] == "on_checkpoint"]
    assert between and all(e[2] == 1 for e in between)
    assert all(e[2] == 2 for e in events[second_end:] if e[0] == "on_checkpoint")
    assert events[-1][1:] == ("finished", None)


def test_strict_mode_fails_the_run_after_its_checkpoint(tmp_path, mnist_dir, monkeypatch):
    from genmod.api import train
    from genmod.runs.checkpoints import checkpoint_prefixes

    monkeypatch.setenv("GENMOD_STRICT_PLUGINS", "1")
    config = tiny(epochs=1, observers={"recorder": {"fail_in": "on_epoch_end"}})
    with pytest.raises(RuntimeError, match="broke in on_epoch_end"):
        train(config, data_dir=mnist_dir, out_dir=tmp_path / "r")
    assert checkpoint_prefixes(tmp_path / "r" / "checkpoints")  # saved before the observer ran
    assert [e[0] for e in EVENTS["rec"]] == ["on_run_start", "on_epoch_end"]


def test_resume_keeps_the_observers_and_says_resumed(tmp_path, mnist_dir):
    from genmod.api import resume, train

    train(tiny(epochs=1, observers={"recorder": {}}), data_dir=mnist_dir, out_dir=tmp_path / "r")
    EVENTS.clear()
    resume(tmp_path / "r", epochs=2)
    events = EVENTS["rec"]
    assert events[0][0] == "on_run_start" and events[0][3] is True
    assert [e[1] for e in events if e[0] == "on_epoch_end"] == [2]
    assert events[-1][1:] == ("finished", None)


def test_a_failed_run_is_reported_as_failed(tmp_path, mnist_dir, monkeypatch):
    from genmod.api import train
    from genmod.train.loop import RunLoop

    def broken(self, *args, **kwargs):
        raise OSError("simulated")

    monkeypatch.setattr(RunLoop, "_finish", broken)
    with pytest.raises(OSError, match="simulated"):
        train(
            tiny(epochs=1, observers={"recorder": {}}), data_dir=mnist_dir, out_dir=tmp_path / "r"
        )
    assert EVENTS["rec"][-1][1:] == ("failed", "OSError: simulated")


def test_a_diverged_run_is_reported_as_diverged(tmp_path, mnist_dir, monkeypatch):
    from genmod.api import TrainingDiverged, train
    from genmod.train.trainer import Trainer

    original = Trainer._train_chunk_eager

    def poisoned(self, order, start, count):
        return original(self, order, start, count) * float("nan")

    monkeypatch.setattr(Trainer, "_train_chunk_eager", poisoned)
    with pytest.raises(TrainingDiverged):
        train(tiny(observers={"recorder": {}}), data_dir=mnist_dir, out_dir=tmp_path / "r")
    assert [e[0] for e in EVENTS["rec"]] == ["on_run_start", "on_run_end"]
    assert EVENTS["rec"][-1][1] == "diverged" and "NaN" in EVENTS["rec"][-1][2]


def test_an_interrupted_run_reports_its_checkpoint_and_interrupted(tmp_path, mnist_dir):
    import os
    import signal

    from genmod.api import TrainingInterrupted, train

    def progress(epoch, done, total, means):
        if epoch == 2:
            os.kill(os.getpid(), signal.SIGINT)

    config = tiny(observers={"recorder": {}}, steps_per_execution=1)
    with pytest.raises(TrainingInterrupted):
        train(config, data_dir=mnist_dir, out_dir=tmp_path / "r", progress=progress)
    events = EVENTS["rec"]
    assert [e[0] for e in events][-2:] == ["on_checkpoint", "on_run_end"]
    assert events[-2][2:] == (1, False, True)  # holds epoch 1 (and part of 2), on disk
    assert events[-1][1] == "interrupted" and "SIGINT" in events[-1][2]
