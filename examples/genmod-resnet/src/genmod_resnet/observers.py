"""A run observer that appends every event of a run to a JSON-lines file.

Registered as ``jsonl-log`` (``genmod run --observer jsonl-log``). Each line is one JSON object
with ``event`` (``run_start``, ``epoch_end``, ``checkpoint``, ``evaluation``, ``run_end``),
``time`` (seconds since the epoch) and the event's arguments. Light: no TensorFlow here.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from genmod.contract.observers import RunObserver

DEFAULT_FILE = "observer-events.jsonl"


def _plain(value: Any) -> Any:
    """JSON-safe: paths as strings, tuples as lists, NaN and infinities as strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class JsonlLogObserver(RunObserver):
    """Appends one JSON line per event to ``path`` (relative paths are inside the run folder;
    default ``RUN/observer-events.jsonl``)."""

    def __init__(self, *, path: str = DEFAULT_FILE, include_config: bool = True) -> None:
        self.path = path
        self.include_config = include_config
        self.run_dir: Path | None = None

    def file(self) -> Path:
        target = Path(self.path or DEFAULT_FILE).expanduser()
        if not target.is_absolute():
            target = (self.run_dir or Path.cwd()) / target
        return target

    def _write(self, event: str, **fields: Any) -> None:
        line = json.dumps(_plain({"event": event, "time": round(time.time(), 3), **fields}))
        target = self.file()
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def on_run_start(self, config, run_dir, resumed):
        self.run_dir = Path(run_dir)
        fields = {"run_dir": run_dir, "resumed": resumed}
        if self.include_config:
            fields["config"] = config
        self._write("run_start", **fields)

    def on_epoch_end(self, epoch, metrics):
        self._write("epoch_end", epoch=epoch, metrics=metrics)

    def on_checkpoint(self, path, epoch, best):
        self._write("checkpoint", path=path, epoch=epoch, best=best)

    def on_evaluation(self, results):
        if self.run_dir is None and results.get("run_dir"):
            self.run_dir = Path(results["run_dir"])
        self._write("evaluation", results=results)

    def on_run_end(self, status, message):
        self._write("run_end", status=status, message=message)
