"""Progress displays of long commands, drawn with rich on stderr.

A display shows a bar, the count done, the rate and the estimated time left. It is shown only
when stderr is a terminal and the command was not asked to be quiet (``--quiet``/``--json``);
otherwise every call is a no-op, so piped and logged output holds only genmod's lines.
"""

from __future__ import annotations

import sys
from types import TracebackType

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_enabled(*, quiet: bool) -> bool:
    """Whether to draw a display: stderr is a terminal and the user did not ask for quiet."""
    return not quiet and sys.stderr.isatty()


class ProgressDisplay:
    """A one-task progress bar: ``with ProgressDisplay(enabled, unit="steps") as show:`` then
    ``show.update(done, total, description, **fields)``; :meth:`print` writes a line above it.

    ``unit`` names what is counted (steps, images); the rate column reads "N unit/s".
    """

    def __init__(self, enabled: bool, *, unit: str, console: Console | None = None) -> None:
        self.enabled = enabled
        self.unit = unit
        self._console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressDisplay:
        return self

    def _start(self) -> Progress:
        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("elapsed,"),
                TimeRemainingColumn(),
                TextColumn("left"),
                TextColumn("{task.fields[extra]}"),
                console=self._console,
                transient=True,
                # stdout stays genmod's own: its lines are printed with the bar removed
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._progress.start()
        return self._progress

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Remove the bar from the terminal (idempotent)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None

    def update(self, done: int, total: int, description: str, extra: str = "") -> None:
        """Show ``done`` of ``total`` units; a new ``description`` starts a new bar."""
        if not self.enabled:
            return
        progress = self._start()
        if self._task is None or progress.tasks[0].description != description:
            if self._task is not None:
                progress.remove_task(self._task)
            self._task = progress.add_task(description, total=total, rate="", extra="")
        speed = progress.tasks[0].speed
        rate = f"{speed:.1f} {self.unit}/s" if speed else ""
        progress.update(self._task, completed=done, total=total, rate=rate, extra=extra)

    def print(self, line: str) -> None:
        """Write ``line`` to stdout; a bar on the terminal is removed first (the next
        :meth:`update` draws a new one), so the two never overwrite each other."""
        self.close()
        click.echo(line)
