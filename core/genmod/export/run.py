"""Exporting a finished run: check, trace, write into a temporary folder, then rename.

Imports TensorFlow.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from genmod.contract.errors import ConfigError, RunDirError
from genmod.export import FORMATS, PARTS
from genmod.export.card import build_card, write_card
from genmod.export.savedmodel import save_savedmodel, trace_signatures
from genmod.export.tflite import TFLITE_FILES, convert_tflite
from genmod.runs import folder as rundir
from genmod.runs.loading import load_run


def _tflite():
    return convert_tflite, TFLITE_FILES, {}


def _onnx():
    from genmod.export.onnx import ONNX_FILES, ONNX_OPSET, convert_onnx, require_tf2onnx

    require_tf2onnx()  # the optional extra is missing: say so before loading anything
    return convert_onnx, ONNX_FILES, {"onnx_opset": ONNX_OPSET}


#: format -> () -> (converter of the deterministic signatures, {signature: file name},
#: what the model card adds)
CONVERTERS = {"tflite": _tflite, "onnx": _onnx}


def default_out_dir(run_dir: Path, fmt: str, part: str) -> Path:
    """``RUN/export-savedmodel`` (``-encoder``/``-decoder`` appended for a part)."""
    return Path(run_dir) / (f"export-{fmt}" + ("" if part == "all" else f"-{part}"))


def export_run(
    run_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    fmt: str = "savedmodel",
    part: str = "all",
    overwrite: bool = False,
) -> dict:
    """Export the final model of a finished run; returns the model card (a dict).

    ``fmt``: one of :data:`genmod.export.FORMATS` (``savedmodel``; ``tflite``: the
    deterministic ``encode`` and ``decode`` as ``encoder.tflite``/``decoder.tflite``;
    ``onnx``: the same as ``encoder.onnx``/``decoder.onnx``, which needs the extra
    ``genmod[onnx]``); ``part``: ``all`` (every signature), ``encoder`` (``encode``) or
    ``decoder`` (``decode`` and ``sample``; TFLite and ONNX: ``decode``). ``out_dir`` (default
    :func:`default_out_dir`) must not exist unless ``overwrite``. Nothing is written unless
    every signature traces: the export is built in a temporary folder next to ``out_dir`` and
    renamed into place. Raises :class:`ConfigError` for a bad format, part or out folder or a
    component that cannot be traced, :class:`RunDirError` for a missing, broken or unfinished
    run.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; accepted: {', '.join(FORMATS)}.")
    if part not in PARTS:
        raise ConfigError(f"unknown part {part!r}; accepted: {', '.join(PARTS)}.")
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{str(run_dir)!r} is not a folder; give a run folder of `genmod run`.")
    finished = any((run_dir / d).is_dir() for d in (rundir.MODEL_DIR, rundir.MODEL_DIR + ".old"))
    if (run_dir / "config.toml").is_file() and not finished:  # .old: killed mid-swap
        raise RunDirError(
            f"{str(run_dir)!r} has no {rundir.MODEL_DIR}/ (the run did not finish); "
            f"`genmod resume {run_dir}` finishes it, then export."
        )
    out = Path(out_dir) if out_dir is not None else default_out_dir(run_dir, fmt, part)
    if out.exists() and not overwrite:
        raise ConfigError(f"{str(out)!r} already exists; choose another --out or pass --overwrite.")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{str(out)!r} is a file; --out must be a folder.")
    converter = CONVERTERS[fmt]() if fmt in CONVERTERS else None
    loaded = load_run(run_dir)
    # tracing and conversion fail before anything is written
    traced = trace_signatures(loaded.model, part, deterministic=converter is not None)
    card = build_card(loaded, traced, fmt=fmt, part=part)
    converted: dict[str, bytes] = {}
    if converter is not None:
        convert, file_names, card_fields = converter
        converted = convert(loaded.model, traced)
        card["model_files"] = {name: file_names[name] for name in traced.functions}
        card.update(card_fields)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        if fmt == "savedmodel":
            save_savedmodel(traced, tmp)
        for file_name, content in converted.items():
            (tmp / file_name).write_bytes(content)
        card = write_card(tmp, card)
        tmp.chmod(0o755)  # mkdtemp makes it private; an export is meant to be shared
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(old / out.name)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {**card, "out_dir": str(out)}
