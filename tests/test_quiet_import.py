"""TensorFlow's start-up lines are filtered from the CLI's stderr; everything else is kept."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

IMPORT = (
    "from genmod.cli.quiet_import import import_tensorflow_quietly; import_tensorflow_quietly()"
)


def run_with_fake_tensorflow(tmp_path, body: str) -> subprocess.CompletedProcess:
    """Run the quiet import in a child whose ``tensorflow`` is a stand-in module."""
    package = tmp_path / "tensorflow"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, "-c", IMPORT + "; print('imported')"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )


def test_known_startup_lines_are_dropped_and_other_lines_kept(tmp_path):
    result = run_with_fake_tensorflow(
        tmp_path,
        """
        import os
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are "
                    b"written to STDERR\\n")
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on. You may see ...\\n")
        os.write(2, b"I0000 cudart_stub.cc:31] Could not find cuda drivers on your machine\\n")
        os.write(2, b"E0000 something.cc:1] a real problem the user must see\\n")
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "imported"
    assert "a real problem the user must see" in result.stderr
    assert "oneDNN" not in result.stderr and "cuda drivers" not in result.stderr
    assert "absl::InitializeLog" not in result.stderr


def test_an_import_error_still_shows_with_its_output(tmp_path):
    result = run_with_fake_tensorflow(
        tmp_path,
        """
        import os
        os.write(2, b"loading libtensorflow failed: missing symbol\\n")
        raise ImportError("libtensorflow_framework.so.2: cannot open shared object file")
        """,
    )
    assert result.returncode != 0
    assert "loading libtensorflow failed" in result.stderr
    assert "cannot open shared object file" in result.stderr


def test_the_real_tensorflow_imports_without_its_startup_lines():
    result = subprocess.run(
        [sys.executable, "-c", IMPORT + "; import tensorflow as tf; print(tf.__version__)"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "oneDNN custom operations" not in result.stderr
    assert "absl::InitializeLog" not in result.stderr


def _genmod(*args, verbose_env: dict | None = None) -> subprocess.CompletedProcess:
    """``genmod ARGS`` in a child with TF_CPP_MIN_LOG_LEVEL unset and Python's default warning
    filters (DeprecationWarnings shown), so that nothing hides TensorFlow's lines but genmod."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(PYTHONWARNINGS="default", **(verbose_env or {}))
    code = "from genmod.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return done


def test_every_command_that_uses_tensorflow_keeps_stderr_to_genmod(tmp_path, mnist_dir):
    run = tmp_path / "run"
    commands = [
        ("run", "--train-size", 128, "--validation-size", 0, "--test-size", 20, "--epochs", 1,
         "--encoder-opt", "hidden=16", "--decoder-opt", "hidden=16", "-q",
         "--data-dir", mnist_dir, "--out", run),
        ("evaluate", run, "--samples", 2, "--test-size", 10),
        ("sample", run, "--out", tmp_path / "sample.png"),
        ("reconstruct", run, "--out", tmp_path / "reconstruct.png"),
        ("interpolate", run, "--out", tmp_path / "interpolate.png"),
        ("traverse", run, "--out", tmp_path / "traverse.png"),
        ("resume", run, "--epochs", 2, "-q"),
        ("plugins", "--check"),
    ]  # fmt: skip
    for args in commands:
        done = _genmod(*args)
        assert done.stderr == "", f"genmod {args[0]} wrote to stderr:\n{done.stderr}"
    assert re.fullmatch(
        r"--check: all \d+ component factories imported\.", done.stdout.splitlines()[-1]
    ), done.stdout[-300:]


def test_verbose_lets_tensorflows_lines_and_warnings_through():
    done = _genmod("--verbose", "plugins", "--check")
    assert "DeprecationWarning" in done.stderr  # TFP's, at import
    assert "absl::InitializeLog" in done.stderr or "I0000" in done.stderr
    env_done = _genmod("plugins", "--check", verbose_env={"GENMOD_VERBOSE": "1"})
    assert "DeprecationWarning" in env_done.stderr


def test_tensorflows_own_log_lines_are_recognised():
    from genmod.cli.quiet_import import is_startup_noise

    assert is_startup_noise(
        "I0000 00:00:1796231587.734240   14374 cudart_stub.cc:31] Could not find cuda drivers"
    )
    assert is_startup_noise(
        "W0000 00:00:1796231587.734240   14374 some_new_file.cc:12] anything informational"
    )
    assert is_startup_noise("E0000 00:00:17.1 1 cuda_fft.cc:477] Unable to register cuFFT factory")
    assert not is_startup_noise("E0000 00:00:17.1 1 something.cc:1] a real problem")
    assert not is_startup_noise("Error: the run folder is not a genmod run")
