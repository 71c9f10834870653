"""Importing TensorFlow without its start-up chatter on the terminal.

TensorFlow's C++ runtime writes a few informational lines to file descriptor 2 while it is
imported, before its logging is configured, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them
("oneDNN custom operations are on", "Could not find cuda drivers on your machine", ...). The
CLI imports TensorFlow through :func:`import_tensorflow_quietly`, which captures descriptor 2
during the import, drops only the lines listed in :data:`STARTUP_NOISE` and writes every other
line back to stderr, so errors and unexpected warnings are still seen.
"""

from __future__ import annotations

import os
import sys
import tempfile

#: Fragments of the informational lines TensorFlow prints while it is imported
STARTUP_NOISE = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "Could not find cuda drivers on your machine",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions",
)


def is_startup_noise(line: str) -> bool:
    """Whether ``line`` is one of TensorFlow's known start-up messages."""
    return any(fragment in line for fragment in STARTUP_NOISE)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (once) with its start-up messages filtered out of stderr."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not is_startup_noise(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
