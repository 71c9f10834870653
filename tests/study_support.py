"""What tests/test_studies.py and tests/test_study_executors.py share: the tiny study base,
the ``genmod`` script, a study-file writer and waiting for a run (imported by name: pytest puts
tests/ on sys.path, and this module is not collected, its name does not start with test_)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from genmod.cli import cli
from genmod.runs import folder as rundir

#: the genmod script of this Python, for end-to-end sweeps in a subprocess
GENMOD = str(Path(sys.executable).with_name("genmod"))

#: the tiny training every end-to-end run uses (one epoch of 64 MNIST images)
TINY = """
[base]
encoder = "mlp"
encoder_options.hidden = [8]
decoder_options.hidden = [8]
latent_dim = 2
epochs = 1
batch_size = 32
train_size = 64
test_size = 32
validation_size = 0
"""


def write_study(folder: Path, body: str, name: str = "study.toml", base: str = TINY) -> Path:
    """``body`` (dedented) then ``base`` as ``folder/name``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(body) + base)
    return path


def invoke(*args: object):
    """``genmod ARGS`` in this process (click's runner)."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def env() -> dict[str, str]:
    """The environment of a sweep subprocess: quiet TensorFlow, no GPU, no Ray usage stats."""
    return {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "CUDA_VISIBLE_DEVICES": "",
        "RAY_USAGE_STATS_ENABLED": "0",
    }


def epochs_of(run: Path) -> list[int]:
    """The epochs in ``run``'s metrics.jsonl, in file order (each must appear once)."""
    return [int(r["epoch"]) for r in rundir.read_metrics(run)]


def stop_sweep_when(command: list[str], condition, what: str) -> tuple[int, str, str]:
    """Start the sweep ``command``, wait (at most 240 s) until ``condition()``, stop it with
    SIGTERM, and return its exit code, stdout and stderr (killed if it does not end)."""
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env()
    )
    try:
        wait_for(condition, 240, what)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, stdout, stderr


def wait_for(condition, timeout: float, what: str) -> None:
    """Poll ``condition()`` until true; fail the test naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
