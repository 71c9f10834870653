"""What the bench scripts that drive the ``genmod`` command line share: the command of this
environment's ``genmod``, the processor's name for the record, and a timed call.

Imported by ``bench/recipes.py`` and ``bench/expost.py`` (run as ``python bench/NAME.py``,
which puts this folder on the import path). Not a test: nothing is asserted.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path


def genmod(*args: str) -> list[str]:
    """The command line of this environment's ``genmod`` with ``args``."""
    return [str(Path(sys.executable).with_name("genmod")), *args]


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``), for the record of a measurement."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_timed(command: list[str]) -> tuple[float, str]:
    """Run ``command``, echoing it; its wall time in seconds and its stdout. A failure ends
    the script with the command's output."""
    print("+", " ".join(command), flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"command failed ({done.returncode}): {' '.join(command)}\n{done.stdout}")
    return seconds, done.stdout
