"""A trained VAE as TFLite flatbuffers: ``encoder.tflite`` (``encode``) and ``decoder.tflite``
(``decode``), built-in TFLite operations only.

The TFLite built-in operation set has no stateless random ops, so the TFLite ``encode`` gives
q(z|x)'s parameters and location without a sample, and there is no ``sample`` or ``elbo``
(decode z drawn from the prior yourself: N(0, I) for the ``normal`` prior). A component whose
operations TFLite lacks is refused, with the operations named, before anything is written.
Imports TensorFlow.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import tensorflow as tf

from genmod.export.savedmodel import (
    DETERMINISTIC_SIGNATURES,
    ExportFailed,
    TracedSignatures,
    component_names,
    save_savedmodel,
)

#: signature -> the file it is written to
TFLITE_FILES = {"encode": "encoder.tflite", "decode": "decoder.tflite"}


def _reason(exc: Exception) -> str:
    text = str(exc)
    ops = re.search(r"(?:TF Select ops|Flex ops): ([^\n]+)", text)
    if ops:
        return f"TFLite has no built-in kernel for {ops.group(1).strip()}"
    lines = [line.strip() for line in text.splitlines() if "error" in line.lower()]
    return (lines or [type(exc).__name__])[0][:300]


def convert_tflite(model, traced: TracedSignatures) -> dict[str, bytes]:
    """``{file name: flatbuffer}`` for the deterministic signatures in ``traced``.

    Converts in memory (through a SavedModel in a temporary folder that is removed); raises
    :class:`ExportFailed` naming the signature, its components and the missing operations
    when TFLite cannot run them.
    """
    out: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="genmod-tflite-") as tmp:
        save_savedmodel(traced, Path(tmp))
        for name in traced.functions:
            converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=[name])
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            try:
                out[TFLITE_FILES[name]] = converter.convert()
            except Exception as exc:  # noqa: BLE001 - the converter's errors have many types
                where = DETERMINISTIC_SIGNATURES[name][2]
                raise ExportFailed(
                    f"the {name!r} signature cannot be converted to TFLite "
                    f"({component_names(model, where)}): {_reason(exc)}; export it with "
                    "--format savedmodel instead."
                ) from None
    return out
