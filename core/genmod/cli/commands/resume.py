"""`genmod resume RUN_DIR`: continue an interrupted run from its newest readable checkpoint."""

from __future__ import annotations

import click

from genmod.cli.common import handle_errors, run_data_dir_option
from genmod.cli.training import resume_run


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--epochs",
    type=int,
    default=None,
    help="Train to this many epochs in all (default: the run's own setting).",
)
@run_data_dir_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or per-epoch lines.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print only a JSON object with the result at the end."
)
@handle_errors
def resume(
    run_dir: str, epochs: int | None, data_dir: str | None, quiet: bool, as_json: bool
) -> None:
    """Continue the run in RUN_DIR where its last checkpoint left it.

    Metrics continue without duplicates; on the CPU the result is the same, weight for
    weight, as a run that was never interrupted. Checkpoints are verified against their
    recorded checksums before any work: a corrupt one is reported, moved into
    checkpoints/unreadable/ and the previous one is used; a config.toml edited since the
    checkpoint is refused and every file left as it was. One writer at a time: a resume of a
    run that another process is writing is refused, naming it.
    """
    resume_run(run_dir, epochs=epochs, data_dir=data_dir, quiet=quiet, as_json=as_json)
