"""`genmod sweep STUDY.toml`: run a study (docs/studies.md); `--status DIR` shows its runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from genmod.cli.common import handle_errors
from genmod.studies.executors import EXECUTORS

if TYPE_CHECKING:
    from genmod.studies.sweep import StudyStatus


@click.command()
@click.argument("study_file", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="The study folder. Default: studies/<name>.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1, max=10_000),  # a study holds at most 10,000 runs
    default=None,
    help="Runs at once (1 to 10,000). local: default one per visible GPU (CUDA_VISIBLE_DEVICES, "
    "else nvidia-smi), else 1; each job sees its own GPU. slurm, ray: at most N jobs submitted at "
    "once (default: all; the cluster queues them).",
)
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default="local",
    show_default=True,
    help="What starts the runs: local (a pool of processes on this machine), slurm (each run a "
    "Slurm job, through submitit: pip install 'genmod[slurm]'), ray (each run a Ray task, on "
    "a running cluster or a local one: pip install 'genmod[ray]').",
)
@click.option(
    "--executor-opt",
    "executor_opts",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the executor (repeatable). slurm: partition, account, qos, time_min "
    "(default 1440), gpus_per_node (0), cpus_per_task, mem_gb, cluster (slurm, or local: "
    "submitit's local executor). ray: address (default: a local cluster on 127.0.0.1), "
    "num_cpus (1), num_gpus (0) per run. See docs/studies.md.",
)
@click.option(
    "--no-check",
    "no_check",
    is_flag=True,
    help="Do not build every new run before the first starts (the check imports TensorFlow "
    "and loads each run's data: about a second a run); invalid runs then fail when they start.",
)
@click.option(
    "--add",
    is_flag=True,
    help="Accept a study file that adds runs to the folder's plan (every existing run must be "
    "in it, unchanged).",
)
@click.option(
    "--data-dir",
    envvar="GENMOD_DATA_DIR",
    type=click.Path(file_okay=False),
    help="The dataset's folder for every run (env GENMOD_DATA_DIR). Default: [base] data_dir "
    "of the study file, else the per-user cache.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and what would run; write nothing.")
@click.option(
    "--status",
    "status_dir",
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help="Show the state of each run of the study in DIR (done, running, failed, unfinished, "
    "pending, foreign) instead of sweeping.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="With --status or --dry-run: print JSON only."
)
@handle_errors
def sweep(
    study_file: str | None,
    out_dir: str | None,
    jobs: int | None,
    executor: str,
    executor_opts: tuple[str, ...],
    add: bool,
    data_dir: str | None,
    dry_run: bool,
    no_check: bool,
    status_dir: str | None,
    as_json: bool,
) -> None:
    """Train every run of the study in STUDY_FILE (a grid, a random search, seeds) into one
    study folder.

    The study file is TOML: [base] settings (anything a --config file accepts, or recipe =
    "NAME"), a [grid] of values per setting, an optional [random] search and seeds = [...].
    Every run is named and resolved before any starts (a bad combination is refused, naming the
    run and the setting); the plan goes into STUDY/study.json first. Sweeping again skips
    finished runs and resumes unfinished ones, so a killed sweep continues where it stopped; a
    study file that changed since is refused unless it only adds runs (--add). Each run's output
    goes to RUN/stdout.log and RUN/stderr.log. --executor slurm or ray sends the runs to a
    cluster (docs/studies.md, "Executors"). Exit code: 0 when every run is done, 1 when a run
    failed, 128 + N when signal N stopped the sweep (every run resumable).
    """
    from genmod.plugins import get_registry
    from genmod.studies import sweep as sweeping
    from genmod.studies.executors import executor_options, make_executor
    from genmod.studies.plan import load_study
    from genmod.studies.record import plan_record

    if status_dir is not None:
        if study_file is not None or dry_run or add:
            raise click.UsageError("--status DIR takes no STUDY_FILE, --dry-run or --add.")
        _print_status(sweeping.study_status(status_dir), as_json)
        return
    if study_file is None:
        raise click.UsageError("give a STUDY_FILE to sweep, or --status DIR.")
    if as_json and not dry_run:
        raise click.UsageError("--json goes with --status or --dry-run.")
    executor_options(executor, executor_opts)  # refused before the plan; imports no engine
    plan = load_study(study_file, get_registry(), data_dir=data_dir)
    study_dir = Path(out_dir) if out_dir else sweeping.default_study_dir(plan)
    if dry_run:
        lines = sweeping.plan_lines(plan, study_dir, add=add)
        if as_json:
            click.echo(json.dumps(plan_record(plan), indent=2, default=str))
        else:
            click.echo("\n".join(lines))
        return
    chosen = make_executor(executor, jobs=jobs, options=executor_opts)
    check = None if no_check else (lambda runs: _check_new_runs(runs, plan, data_dir))
    try:
        result = sweeping.sweep(plan, study_dir, chosen, add=add, log=_echo, check=check)
    except sweeping.SweepStopped as stopped:
        _echo(
            f"study {plan.name}: stopped by a signal while checking the runs; nothing was "
            "started, and the same command starts the study"
        )
        sys.exit(128 + stopped.signal)
    sys.exit(result.exit_code)


def _check_new_runs(fresh: list, plan, data_dir: str | None) -> None:
    """Build the runs not started yet (``fresh``) as ``genmod run`` would, before any starts
    (genmod.api.check_run: data, likelihood, batch size, model assembly), so an invalid
    combination is refused now, naming the run, rather than failing in the middle of the
    study. This is the one step of a sweep that imports TensorFlow."""
    from genmod.cli.common import quiet_tensorflow
    from genmod.contract.errors import ConfigError, GenmodError

    _echo(f"checking {len(fresh)} run(s) before the first starts (data, model assembly)")
    quiet_tensorflow()
    from genmod.api import check_run
    from genmod.plugins import get_registry

    registry = get_registry()
    for run in fresh:
        try:
            check_run(run.config, data_dir=data_dir or plan.data_dir, registry=registry)
        except GenmodError as exc:
            raise ConfigError(
                f"run {run.name} ({_point_text(run.point)}) cannot start: {exc} Nothing was "
                "started; fix it (in the study file, or --data-dir) and sweep again."
            ) from None


def _point_text(point: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "the base configuration"


def _echo(line: str) -> None:
    """One line of the sweep's report, at once (runs take minutes between lines)."""
    click.echo(line)
    sys.stdout.flush()


def _print_status(status: StudyStatus, as_json: bool) -> None:
    """``--status``: a table (a line of counts, then one row per run), or JSON."""
    if as_json:
        click.echo(
            json.dumps(
                {
                    "study": status.name,
                    "folder": str(status.study_dir),
                    "sweeper": status.sweeper,
                    "counts": status.counts,
                    "runs": [
                        {
                            "name": r.name,
                            "state": r.state,
                            "epochs_done": r.epochs_done,
                            "attempts": r.attempts,
                            "note": r.note,
                            "exit_code": r.exit_code,
                            "error": r.error,
                        }
                        for r in status.runs
                    ],
                },
                indent=2,
            )
        )
        return
    counts = ", ".join(f"{n} {state}" for state, n in status.counts.items() if n)
    sweeper = f"; swept now by {status.sweeper}" if status.sweeper else ""
    from genmod.studies.sweep import runs_text

    runs = runs_text(len(status.runs))
    click.echo(f"study {status.name} in {status.study_dir}: {runs}: {counts}{sweeper}")
    width = max([len(r.name) for r in status.runs] + [3])
    click.echo(f"{'run':<{width}}  {'state':<10}  {'epochs':>6}  {'tries':>5}  note")
    for r in status.runs:
        note = r.note if r.error is None else f"{r.note}: {r.error}"
        click.echo(f"{r.name:<{width}}  {r.state:<10}  {r.epochs_done:>6}  {r.attempts:>5}  {note}")
