"""The run directory: where a run keeps its configuration, metrics and weights.

Layout (format version 1)::

    RUN/config.toml          resolved configuration (+ genmod version, format version)
    RUN/metrics.jsonl        one JSON object per finished epoch
    RUN/checkpoints/         tf.train.CheckpointManager: model, optimizer, RNG, epoch
    RUN/model/weights*       final model weights (tf.train.Checkpoint format)
    RUN/summary.json         final metrics, written when the run ends

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from genmod import tomlio
from genmod.config import CONFIG_FORMAT_VERSION, RunConfig
from genmod.errors import RunDirError

CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
CHECKPOINT_DIR = "checkpoints"
MODEL_DIR = "model"


def default_run_dir(config: RunConfig, root: Path = Path("runs")) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = root / f"{stamp}-{config.encoder}-{config.likelihood}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def prepare_run_dir(path: Path, *, overwrite: bool) -> Path:
    """Create ``path`` for a new run; refuse a non-empty folder unless ``overwrite``.

    ``overwrite`` only ever deletes a previous genmod run (a folder with ``config.toml``).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"the output path {str(path)!r} exists and is not a folder.")
    if path.exists() and any(path.iterdir()):
        if not overwrite:
            raise RunDirError(
                f"the output folder {str(path)!r} exists and is not empty. Choose another --out, "
                "or pass --overwrite to replace the run in it."
            )
        if not (path / CONFIG_FILE).exists():
            raise RunDirError(
                f"--overwrite refused: {str(path)!r} is not empty and does not look like a "
                f"genmod run (no {CONFIG_FILE}); genmod will not delete it."
            )
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_config(run_dir: Path, config: RunConfig, extra: dict[str, Any]) -> None:
    from genmod import __version__

    data = {"format_version": CONFIG_FORMAT_VERSION, "genmod_version": __version__}
    data.update(extra)
    data.update(config.to_dict())
    tomlio.dump(data, run_dir / CONFIG_FILE)


def read_config(run_dir: Path) -> tuple[RunConfig, dict[str, Any]]:
    """The run's config and its metadata (format and genmod versions, resolved binarization)."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_FILE).exists():
        raise RunDirError(f"{str(run_dir)!r} is not a genmod run folder (no {CONFIG_FILE}).")
    data = tomlio.load(run_dir / CONFIG_FILE)
    version = data.get("format_version")
    if version != CONFIG_FORMAT_VERSION:
        raise RunDirError(
            f"{str(run_dir)!r} was written in run-folder format {version!r}; this genmod reads "
            f"format {CONFIG_FORMAT_VERSION}. Use the genmod version that wrote it "
            f"({data.get('genmod_version', 'unknown')})."
        )
    meta_keys = (
        "format_version",
        "genmod_version",
        "resolved_binarize",
        "data_shape",
        "condition_dim",
    )
    meta = {k: data.pop(k) for k in meta_keys if k in data}
    return RunConfig.from_dict(data, source=str(run_dir / CONFIG_FILE)), meta


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    with open(Path(run_dir) / METRICS_FILE, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut by a crash: everything before it is good
    return records


def write_summary(run_dir: Path, summary: dict[str, Any]) -> None:
    tomlio.write_atomic(Path(run_dir) / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
