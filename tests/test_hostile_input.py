"""Hostile and unlucky input to every command: exit 2 and one clear line, never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from genmod.cli import cli


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_clear_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, mnist_dir):
    out = tmp_path_factory.mktemp("hostile") / "run"
    result = invoke(
        "run", "--encoder", "mlp", "--encoder-opt", "hidden=16", "--decoder-opt", "hidden=16",
        "--latent-dim", "2", "--epochs", "1", "--train-size", "128", "--test-size", "50",
        "--validation-size", "0", "--data-dir", mnist_dir, "--out", out, "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_output_paths_under_a_file_are_one_line(tmp_path, mnist_dir):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    line = one_clear_line(invoke("run", "--out", blocker / "run", "--data-dir", mnist_dir))
    assert "Not a directory" in line and "a-file" in line


def test_config_files_that_are_not_utf8_are_one_line(tmp_path, finished_run):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"\xff\xfe latent_dim = 3")
    assert "not UTF-8" in one_clear_line(invoke("run", "--config", bad))
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy)
    (copy / "config.toml").write_bytes(b"\xff" + (copy / "config.toml").read_bytes())
    assert "not UTF-8" in one_clear_line(invoke("sample", copy))


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("data_shape", '"abc"', "list of positive integers"),
        ("data_shape", "[28, -1]", "list of positive integers"),
        ("condition_dim", "-5", "integer >= 0"),
        ("resolved_binarize", '"sometimes"', "dynamic, static, none"),
    ],
)
def test_crafted_metadata_in_config_toml_is_one_line(tmp_path, finished_run, key, value, rule):
    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy)
    lines = (copy / "config.toml").read_text().splitlines()
    lines = [x for x in lines if not x.startswith(f"{key} =")]
    lines.insert(2, f"{key} = {value}")
    (copy / "config.toml").write_text("\n".join(lines) + "\n")
    line = one_clear_line(invoke("sample", copy))
    assert key in line and rule in line


@pytest.mark.parametrize(
    "args",
    [
        ["reconstruct", "--start", "999999"],
        ["interpolate", "--start", "9999"],
        ["traverse", "--index", "10000"],
        ["evaluate", "-k", "100000000000000000000"],
    ],
)
def test_out_of_range_positions_and_counts_are_one_line(finished_run, mnist_dir, args):
    line = one_clear_line(invoke(args[0], finished_run, *args[1:], "--data-dir", mnist_dir))
    assert args[1] in line or "--samples" in line


def test_genmod_runs_lists_healthy_runs_and_marks_broken_ones(tmp_path, finished_run):
    root = tmp_path / "runs"
    names = ("good", "list-summary", "odd-metrics", "garbage-config")
    for name in names:
        shutil.copytree(finished_run, root / name)
    (root / "list-summary" / "summary.json").write_text("[1, 2, 3]")
    (root / "odd-metrics" / "metrics.jsonl").write_text('"a string"\n{"epoch": "x"}\n')
    (root / "garbage-config" / "config.toml").write_bytes(b"\x00\xff\xfe")
    result = invoke("runs", root)
    assert result.exit_code == 0, result.output
    assert "finished" in result.output
    assert "garbage-config" in result.output and "unreadable" in result.output
    listed = json.loads(invoke("runs", root, "--json").output)
    assert {Path(i["run"]).name for i in listed} == set(names)


def test_files_of_a_run_follow_the_umask(tmp_path, mnist_dir):
    import os
    import stat

    old = os.umask(0o027)
    try:
        out = tmp_path / "masked"
        result = invoke(
            "run", "--encoder", "mlp", "--encoder-opt", "hidden=8", "--decoder-opt", "hidden=8",
            "--latent-dim", "2", "--epochs", "1", "--train-size", "64", "--test-size", "20",
            "--validation-size", "0", "--data-dir", mnist_dir, "--out", out, "--quiet",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    finally:
        os.umask(old)
    for name in ("config.toml", "metrics.jsonl", "summary.json", "pictures/latent.png"):
        mode = stat.S_IMODE((out / name).stat().st_mode)
        assert mode == 0o640, f"{name}: {oct(mode)}"


def test_ctrl_c_stops_a_long_evaluation_within_two_seconds(finished_run, mnist_dir):
    import os
    import signal
    import subprocess
    import sys
    import time

    genmod = Path(sys.executable).parent / "genmod"
    process = subprocess.Popen(
        [str(genmod), "evaluate", str(finished_run), "-k", "5000", "--data-dir", str(mnist_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        # a shell that started the tests in the background ignores SIGINT, and children inherit
        # that: give genmod the default disposition a terminal's Ctrl-C meets
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(15)  # TensorFlow is imported and the evaluation is under way
    assert process.poll() is None, process.communicate()
    sent = time.perf_counter()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert time.perf_counter() - sent < 2.0
    assert process.returncode == 130
    assert "Interrupted: the evaluation stopped" in err and "Traceback" not in err
    assert not (finished_run / "evaluation.json").exists()


def test_a_run_refused_after_its_folder_was_made_does_not_block_the_retry(tmp_path, mnist_dir):
    out = tmp_path / "retry"
    small = [
        "--epochs", "1", "--train-size", "64", "--test-size", "20", "--validation-size", "0",
        "--data-dir", mnist_dir, "--out", out, "--quiet", "--latent-dim", "2",
    ]  # fmt: skip
    refused = invoke("run", "--encoder", "cmlp", "--prior", "vampprior", *small)
    assert "cannot be used with a conditional encoder" in one_clear_line(refused)
    again = invoke("run", "--encoder", "mlp", "--encoder-opt", "hidden=8", "--decoder-opt",
                   "hidden=8", *small)  # fmt: skip
    assert again.exit_code == 0, again.output
