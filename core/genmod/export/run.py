"""Exporting a finished run: check, trace, write into a temporary folder, then rename.

Imports TensorFlow.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from genmod.config.files import CONFIG_FILE
from genmod.contract.errors import ConfigError, RunDirError
from genmod.export import FORMATS, PARTS
from genmod.export.card import build_card, write_card
from genmod.export.checksums import CARD_FILE
from genmod.export.savedmodel import save_savedmodel, trace_signatures
from genmod.export.tflite import TFLITE_FILES, convert_tflite
from genmod.runs import folder as rundir
from genmod.runs.loading import load_run
from genmod.runs.lock import describe_holder, holder_state, read_holder, run_lock, this_command


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


#: names inside a run folder that belong to the run: an export may never be written there
RUN_ENTRIES = (
    rundir.MODEL_DIR,
    rundir.MODEL_DIR + ".old",
    rundir.CHECKPOINT_DIR,
    rundir.BEST_DIR,
    rundir.PICTURES_DIR,
    rundir.TENSORBOARD_DIR,
)


def _is_export_or_empty(folder: Path) -> bool:
    return (folder / CARD_FILE).is_file() or not any(folder.iterdir())


def check_out_dir(run_dir: Path, out: Path, *, overwrite: bool) -> bool:
    """Refuse an ``--out`` that would overwrite or nest in what is not an earlier export.

    ``out`` may not be a symbolic link, the run folder, a folder containing it, or inside
    it other than as a folder of its own directly under it (named like none of
    :data:`RUN_ENTRIES`); an existing ``out`` needs ``overwrite`` and must be an earlier
    export (it has ``model-card.json``) or empty. Returns whether ``out`` is inside the run
    folder (then the export holds the run's writer lock). Raises :class:`ConfigError`.
    """
    shown = str(out)
    if out.is_symlink():
        raise ConfigError(
            f"--out {shown!r} is a symbolic link; give a folder path that is not one."
        )
    run_real, out_real = run_dir.resolve(), out.resolve()
    if out_real == run_real or run_real.is_relative_to(out_real):
        raise ConfigError(
            f"--out {shown!r} is the run folder or contains it; an export goes into a folder "
            f"of its own (default {str(default_out_dir(run_dir, 'savedmodel', 'all'))!r})."
        )
    inside = out_real.is_relative_to(run_real)
    if inside:
        parts = out_real.relative_to(run_real).parts
        if (
            len(parts) > 1
            or parts[0] in RUN_ENTRIES
            or ((run_real / parts[0]).exists() and not (run_real / parts[0]).is_dir())
        ):
            raise ConfigError(
                f"--out {shown!r} is part of the run folder; inside a run an export goes into a "
                "folder of its own directly under it (default RUN/export-FORMAT), or give "
                "--out outside the run."
            )
    if out.exists():
        if not out.is_dir():
            raise ConfigError(f"{shown!r} is a file; --out must be a folder.")
        if not overwrite:
            raise ConfigError(
                f"{shown!r} already exists; choose another --out or pass --overwrite."
            )
        if not _is_export_or_empty(out):
            raise ConfigError(
                f"{shown!r} is not an export of `genmod export` (no {CARD_FILE}) and not empty; "
                "--overwrite only replaces an earlier export. Choose another --out."
            )
    return inside


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
    if (run_dir / CONFIG_FILE).is_file() and not finished:  # .old: killed mid-swap
        if holder_state(run_dir) == "held":
            raise RunDirError(
                f"{str(run_dir)!r} is still training ({describe_holder(read_holder(run_dir))}); "
                "export it when the run has finished."
            )
        raise RunDirError(
            f"{str(run_dir)!r} has no {rundir.MODEL_DIR}/ (the run did not finish); "
            f"`genmod resume {run_dir}` finishes it, then export."
        )
    out = Path(out_dir) if out_dir is not None else default_out_dir(run_dir, fmt, part)
    inside = check_out_dir(run_dir, out, overwrite=overwrite)
    converter = CONVERTERS[fmt]() if fmt in CONVERTERS else None
    if not inside or not (run_dir / CONFIG_FILE).is_file():
        return _export(run_dir, out, converter, fmt, part)
    # writing into the run folder: hold its writer lock, as the picture commands do
    hint = "Pass --out DIR outside the run folder to export it meanwhile."
    with run_lock(run_dir, this_command("genmod.export.run.export_run"), hint=hint):
        return _export(run_dir, out, converter, fmt, part)


def _export(run_dir: Path, out: Path, converter, fmt: str, part: str) -> dict:
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
    out = out.resolve()  # "." and ".." have no name to put beside
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    old: Path | None = None
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
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / out.name).exists() and not out.exists():
            (old / out.name).rename(out)  # put the earlier export back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return {**card, "out_dir": str(out)}
