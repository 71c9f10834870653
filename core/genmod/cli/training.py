"""Running a training from a command: progress display, interrupts and the final line.

Shared by ``genmod run`` and ``genmod resume``. TensorFlow is imported only when a run starts.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from genmod.cli.common import quiet_tensorflow
from genmod.cli.progress import ProgressDisplay, progress_enabled


def resume_run(
    run_dir: str, *, epochs: int | None, data_dir: str | None, quiet: bool, as_json: bool = False
) -> None:
    """Continue a run (``genmod resume`` and ``genmod run --resume``)."""
    quiet_tensorflow()
    from genmod.api import resume

    run_with_display(
        lambda log, progress: resume(
            run_dir, epochs=epochs, data_dir=data_dir, log=log, progress=progress
        ),
        quiet=quiet,
        as_json=as_json,
    )


def run_with_display(start: Callable[..., Any], *, quiet: bool, as_json: bool = False) -> None:
    """Run ``start(log, progress)`` with a progress bar (steps, rate, time left; on a terminal,
    unless quiet) and print the final line (``as_json``: only a JSON object); Ctrl-C/SIGTERM
    end with exit code 128 + signal after the checkpoint was saved."""
    from genmod.train.loop import TrainingInterrupted

    silent = quiet or as_json
    display = ProgressDisplay(progress_enabled(quiet=silent), unit="steps")

    def log(line: str) -> None:
        if silent:
            display.close()
        else:
            display.print(line)

    def progress(epoch: int, done: int, total: int, means: dict[str, float]) -> None:
        loss = means.get("loss", float("nan"))
        display.update(done, total, f"epoch {epoch}", extra=f"loss {loss:.2f}")

    started = time.perf_counter()
    try:
        with display:
            result = start(log, progress)
    except TrainingInterrupted as exc:
        click.echo(f"Interrupted: {exc}", err=True)
        sys.exit(128 + exc.signal_number)
    except KeyboardInterrupt:
        click.echo(
            "Aborted by a second Ctrl-C: work since the last checkpoint is lost; "
            "`genmod resume RUN` continues from that checkpoint.",
            err=True,
        )
        sys.exit(130)
    if as_json:
        last = result.history[-1] if result.history else None
        click.echo(
            json.dumps(
                {
                    "run_dir": str(result.run_dir),
                    "epochs_done": last["epoch"] if last else 0,
                    "seconds": round(time.perf_counter() - started, 1),
                    "final": last,
                }
            )
        )
        return
    if not result.history:
        click.echo(f"no epoch finished; run folder: {result.run_dir}")
        return
    test = result.test
    kl_kind = "" if test.get("kl_analytic", True) else " by Monte Carlo"
    # 8-bit data: bits/dim next to nats (genmod.contract.units)
    bits = f", {test['bits_per_dim']:.3f} bits/dim" if "bits_per_dim" in test else ""
    click.echo(
        f"test ELBO {test['elbo']:.2f} nats{bits} (reconstruction {test['reconstruction']:.2f}, "
        f"KL {test['kl']:.2f}{kl_kind}) after {result.history[-1]['epoch']} epoch(s) in "
        f"{time.perf_counter() - started:.0f}s; run folder: {result.run_dir}"
    )
