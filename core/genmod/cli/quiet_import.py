"""Importing TensorFlow without its start-up chatter on the terminal.

TensorFlow's C++ runtime writes a few informational lines to file descriptor 2 while it is
imported, before its logging is configured, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them
("oneDNN custom operations are on", "Could not find cuda drivers on your machine", ...), and
TensorFlow Probability and Keras add Python warnings (a ``DeprecationWarning`` about
``distutils``, absl log records). The CLI imports TensorFlow, Keras and TFP through
:func:`import_tensorflow_quietly`, which captures descriptor 2 during the import, drops the
informational (``I``/``W``) lines of TensorFlow's C++ log and the lines listed in
:data:`STARTUP_NOISE`, ignores Python warnings raised while importing, and writes every
other line back to stderr, so errors and unexpected messages are still seen. Afterwards
Python warnings attributed to TensorFlow, Keras, TFP or absl are ignored and their Python
loggers show errors only, so that a command's stderr holds genmod's own messages.

``genmod --verbose`` (:func:`set_verbose`) turns all of this off: TensorFlow's lines and
warnings reach stderr as they come.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import warnings

#: Fragments of the informational lines TensorFlow prints while it is imported
STARTUP_NOISE = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "Could not find cuda drivers on your machine",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions",
    # CUDA builds, on machines with a GPU or without one
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "Attempting to register factory for plugin",
    "computation placer already registered",
    "TF-TRT Warning",
    "Could not find TensorRT",
)

#: an informational or warning line of TensorFlow's C++ log (``I0000 00:00:... file.cc:31] ...``)
_INFO_LOG_LINE = re.compile(r"^[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] ")

#: the libraries whose Python warnings and log records the CLI hides unless ``--verbose``
QUIET_LIBRARIES = ("tensorflow", "tensorflow_probability", "keras", "tf_keras", "absl", "h5py")

_verbose = False


def set_verbose(verbose: bool) -> None:
    """``genmod --verbose``: let TensorFlow's start-up lines, log and warnings through."""
    global _verbose
    _verbose = bool(verbose)


def is_verbose() -> bool:
    return _verbose


def is_startup_noise(line: str) -> bool:
    """Whether ``line`` is one of TensorFlow's known start-up messages, or an informational or
    warning line of its C++ log (errors, ``E...``/``F...``, are kept)."""
    return bool(_INFO_LOG_LINE.match(line)) or any(fragment in line for fragment in STARTUP_NOISE)


def _quiet_python_side() -> None:
    """Hide the Python warnings and log records of TensorFlow and its companions."""
    pattern = r"(" + "|".join(map(re.escape, QUIET_LIBRARIES)) + r")(\.|$)"
    warnings.filterwarnings("ignore", module=pattern)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.ERROR)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow, Keras and TFP (once) with their start-up messages filtered out of
    stderr (everything let through with :func:`set_verbose`)."""
    if _verbose:
        import tensorflow  # noqa: F401
        import tensorflow_probability  # noqa: F401

        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    _quiet_python_side()
    if "tensorflow" in sys.modules and "tensorflow_probability" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import tensorflow  # noqa: F401

                try:
                    import keras  # noqa: F401
                    import tensorflow_probability  # noqa: F401
                except Exception:  # noqa: BLE001 - raised again where genmod imports them
                    pass
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
