"""Shared fixtures: the real MNIST folder (never downloaded in tests) and a clean plugin state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]


def _mnist_dir() -> Path | None:
    for candidate in (
        os.environ.get("GENMOD_TEST_MNIST_DIR"),
        os.environ.get("GENMOD_DATA_DIR"),
        str(REPO.parent / "shared" / "data" / "mnist"),
    ):
        if candidate and (Path(candidate) / "train-images-idx3-ubyte.gz").exists():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The folder with the four MNIST files (GENMOD_TEST_MNIST_DIR or ../shared/data/mnist)."""
    found = _mnist_dir()
    if found is None:
        message = "MNIST not found: set GENMOD_TEST_MNIST_DIR to the folder with the IDX files"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def mnist_arrays(mnist_dir):
    from genmod_builtins.mnist_loader import MNIST

    return MNIST().load(mnist_dir)


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch):
    """Every test starts with plugins loaded afresh from entry points, and leaves no trace."""
    from genmod import plugins

    for var in ("GENMOD_PLUGINS", "GENMOD_DISABLE_PLUGINS", "GENMOD_STRICT_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    plugins.reset_manager()
    yield
    plugins.reset_manager()


@pytest.fixture
def run_plugin_test_file(monkeypatch):
    """Run every ``test_*`` function of an out-of-tree plugin's test file, the way its author's
    pytest would, and forget the plugin's modules afterwards (they were imported from a
    temporary folder). Returns how many tests ran."""
    import importlib.util
    import sys

    def run(path: Path, module_prefix: str) -> int:
        spec = importlib.util.spec_from_file_location(f"{module_prefix}_tests", path)
        tests = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tests)
        functions = [getattr(tests, n) for n in dir(tests) if n.startswith("test_")]
        for test in functions:
            test()
        for module in [m for m in sys.modules if m.startswith(module_prefix)]:
            monkeypatch.delitem(sys.modules, module)
        return len(functions)

    return run
