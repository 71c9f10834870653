"""The jsonl-log observer: a tiny run and an evaluation, written as JSON lines."""

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from genmod.cli import cli


def mnist_dir() -> Path:
    """The MNIST folder (GENMOD_TEST_MNIST_DIR, GENMOD_DATA_DIR or genmod's shared test data)."""
    for candidate in (
        os.environ.get("GENMOD_TEST_MNIST_DIR"),
        os.environ.get("GENMOD_DATA_DIR"),
        str(Path(__file__).resolve().parents[4] / "shared" / "data" / "mnist"),
    ):
        if candidate and (Path(candidate) / "train-images-idx3-ubyte.gz").exists():
            return Path(candidate)
    pytest.skip("MNIST not found: set GENMOD_TEST_MNIST_DIR to the folder with the IDX files")


TINY = [
    "--train-size", "256", "--test-size", "100", "--validation-size", "100", "--epochs", "2",
    "--encoder", "mlp", "--encoder-opt", "hidden=32", "--decoder-opt", "hidden=32",
    "--latent-dim", "2", "--quiet",
]  # fmt: skip


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def invoke(*args) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_jsonl_log_records_a_run_and_its_evaluation(tmp_path):
    run_dir = tmp_path / "run"
    invoke("run", "--data-dir", mnist_dir(), "--out", run_dir, *TINY, "--observer", "jsonl-log")
    events = read_events(run_dir / "observer-events.jsonl")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end"
    assert events[0]["run_dir"] == str(run_dir) and events[0]["resumed"] is False
    assert events[0]["config"]["observers"] == {
        "jsonl-log": {"path": "observer-events.jsonl", "include_config": True}
    }
    epoch_ends = [e for e in events if e["event"] == "epoch_end"]
    assert [e["epoch"] for e in epoch_ends] == [1, 2]
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [e["metrics"] for e in epoch_ends] == metrics  # the metrics.jsonl lines, in nats
    checkpoints = [e for e in events if e["event"] == "checkpoint"]
    assert {(c["epoch"], c["best"]) for c in checkpoints} >= {(1, False), (2, False), (1, True)}
    assert all(c["path"].startswith(str(run_dir / "checkpoints")) for c in checkpoints)
    assert events[-1]["status"] == "finished" and events[-1]["message"] is None

    # genmod evaluate tells the run's observers (recorded in config.toml) of its results
    invoke("evaluate", run_dir, "--samples", "2", "--test-size", "20", "--batch-size", "20", "-q")
    last = read_events(run_dir / "observer-events.jsonl")[-1]
    assert last["event"] == "evaluation" and last["results"]["num_samples"] == 2
    assert last["results"]["log_likelihood"] <= 0


def test_jsonl_log_path_option_and_resume(tmp_path):
    run_dir, log = tmp_path / "run", tmp_path / "elsewhere" / "events.jsonl"
    args = [*TINY, "--epochs", "1", "--observer", "jsonl-log"]
    args += ["--observer-opt", f"jsonl-log.path={log}"]
    args += ["--observer-opt", "jsonl-log.include-config=false"]
    invoke("run", "--data-dir", mnist_dir(), "--out", run_dir, *args)
    assert not (run_dir / "observer-events.jsonl").exists()
    invoke("resume", run_dir, "--epochs", "2", "--quiet")
    events = read_events(log)
    starts = [e for e in events if e["event"] == "run_start"]
    assert [s["resumed"] for s in starts] == [False, True] and "config" not in starts[0]
    assert [e["epoch"] for e in events if e["event"] == "epoch_end"] == [1, 2]
    assert [e["status"] for e in events if e["event"] == "run_end"] == ["finished", "finished"]


def test_jsonl_log_without_training(tmp_path):
    from genmod_resnet.observers import JsonlLogObserver

    observer = JsonlLogObserver(path="sub/events.jsonl")
    observer.on_run_start({"epochs": 1, "hidden": (32,)}, tmp_path, False)
    observer.on_epoch_end(1, {"test_elbo": float("nan")})
    observer.on_run_end("interrupted", "SIGINT received")
    events = read_events(tmp_path / "sub" / "events.jsonl")
    assert events[0]["config"] == {"epochs": 1, "hidden": [32]}
    assert events[1]["metrics"] == {"test_elbo": "nan"}
    assert events[2]["status"] == "interrupted"
