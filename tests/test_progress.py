"""The progress display of long commands: rate and time left on a terminal, nothing otherwise."""

from __future__ import annotations

import io

from rich.console import Console

from genmod.cli.progress import ProgressDisplay, progress_enabled


def _terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=150), buffer


def test_a_terminal_display_shows_the_count_rate_and_time_left():
    console, buffer = _terminal()
    with ProgressDisplay(True, unit="steps", console=console) as display:
        for done in range(0, 101, 10):
            display.update(done, 100, "epoch 1", extra="loss 1.00")
            display._progress.refresh()  # what rich's refresh thread does several times a second
    text = buffer.getvalue()
    assert "epoch 1" in text and "100/100" in text and "loss 1.00" in text
    assert "steps/s" in text and "left" in text


def test_printing_a_line_removes_the_bar_and_the_next_update_draws_a_new_one(capsys):
    console, _ = _terminal()
    display = ProgressDisplay(True, unit="steps", console=console)
    display.update(5, 10, "epoch 1")
    display.print("epoch 1/2: train loss 1.00")
    assert display._progress is None
    display.update(1, 10, "epoch 2")
    assert display._progress is not None and display._progress.tasks[0].description == "epoch 2"
    display.close()
    assert capsys.readouterr().out == "epoch 1/2: train loss 1.00\n"


def test_a_disabled_display_writes_nothing():
    console, buffer = _terminal()
    with ProgressDisplay(False, unit="images", console=console) as display:
        display.update(3, 10, "log p(x)")
    assert buffer.getvalue() == ""


def test_quiet_or_no_terminal_disables_the_display():
    assert progress_enabled(quiet=True) is False
    # pytest captures stderr, so it is not a terminal here
    assert progress_enabled(quiet=False) is False
