"""TensorFlow's start-up lines are filtered from the CLI's stderr; everything else is kept."""

from __future__ import annotations

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


def test_commands_that_use_tensorflow_print_no_startup_lines(tmp_path, mnist_dir):
    def genmod(*args) -> subprocess.CompletedProcess:
        code = "from genmod.cli import main; main()"
        done = subprocess.run(
            [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert "oneDNN custom operations" not in done.stderr, args[0]
        assert "absl::InitializeLog" not in done.stderr, args[0]
        return done

    run = tmp_path / "run"
    genmod("run", "--train-size", 128, "--validation-size", 0, "--test-size", 20, "--epochs", 1,
           "--encoder-opt", "hidden=16", "--decoder-opt", "hidden=16", "-q",
           "--data-dir", mnist_dir, "--out", run)  # fmt: skip
    genmod("evaluate", run, "--samples", 2, "--test-size", 10)
    genmod("sample", run, "--out", tmp_path / "sample.png")
    genmod("resume", run, "--epochs", 2, "-q")
