"""tf.distribute: mirrored replicas match one device; two local workers agree (subprocesses)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HELPERS = Path(__file__).parent / "helpers"


def _env() -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0")
    env.pop("TF_CONFIG", None)
    return env


def _last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_two_mirrored_cpu_replicas_give_the_single_device_loss_and_gradients():
    done = subprocess.run(
        [sys.executable, str(HELPERS / "mirrored_check.py"), "mlp", "cnn"],
        capture_output=True,
        text=True,
        timeout=240,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = _last_json(done.stdout)
    for encoder in ("mlp", "cnn"):
        r = report[encoder]
        assert r["replicas"] == 2
        assert r["grad_norm"] > 1e-3  # a real gradient, not an empty comparison
        assert r["max_relative_grad_diff"] < 1e-4
        for key in ("loss", "elbo", "reconstruction", "kl"):
            assert r["mirrored"][key] == pytest.approx(r["single"][key], rel=1e-5, abs=1e-4)
    assert "multiple of 2" in report["odd_batch_error"]
    assert "--jit-compile is not supported with 2 replicas" in report["jit_error"]


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_two_local_workers_train_together_and_agree_on_the_weights(tmp_path, mnist_dir):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = _env()
        env["TF_CONFIG"] = json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}
        )
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(HELPERS / "multiworker_check.py"),
                    str(mnist_dir),
                    str(tmp_path / f"worker{index}"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err[-3000:]
            outputs.append(_last_json(out))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    chief, other = outputs
    assert chief["step"] == other["step"] == 8  # 256 items / global batch 32
    assert chief["digest"] == other["digest"]
    assert chief["train_loss"] == other["train_loss"]
    # Only the chief (worker 0) writes its run folder.
    assert (tmp_path / "worker0" / "model" / "weights.index").exists()
    assert (tmp_path / "worker0" / "checkpoints").is_dir()
    assert not (tmp_path / "worker1").exists()


def test_multiworker_without_tf_config_is_a_clear_error(monkeypatch):
    from genmod.contract.errors import ConfigError
    from genmod.train.distribute import make_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        make_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        make_strategy("multiworker")


def test_cli_run_with_mirrored_strategy_records_the_choices_and_reloads(tmp_path, mnist_dir):
    """On a machine without GPUs MirroredStrategy has one replica (the CPU): the whole path
    (scope, replica step, reduction, checkpoints, config.toml round trip) still runs."""
    from click.testing import CliRunner

    from genmod.api import load_run
    from genmod.cli import cli
    from genmod.config import read_config

    out = tmp_path / "r"
    args = [
        "run",
        "--data-dir",
        str(mnist_dir),
        "--train-size",
        "256",
        "--test-size",
        "100",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--encoder-opt",
        "hidden=32",
        "--decoder-opt",
        "hidden=32",
        "--strategy",
        "mirrored",
        "--precision",
        "mixed_bfloat16",
        "--out",
        str(out),
        "--quiet",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    config, _ = read_config(out)
    assert (config.strategy, config.precision, config.jit_compile) == (
        "mirrored",
        "mixed_bfloat16",
        False,
    )
    run = load_run(out)
    assert run.model.sample(2, seed=[0, 1]).shape == (2, 28, 28, 1)
    bad = CliRunner().invoke(cli, ["run", "--precision", "float64"])
    assert bad.exit_code == 2 and "float64" in bad.output
