"""`genmod run`: train a model and write a run folder."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from genmod.cli import DEFAULTS, cli, handle_errors, quiet_tensorflow
from genmod.config import BINARIZATIONS, COMPONENT_FIELDS, PRECISIONS, STRATEGIES, RunConfig
from genmod.configfile import ConfigFile, conflicts, merge, read_config_file
from genmod.errors import ConfigError, GenmodError
from genmod.options import parse_assignments
from genmod.plugins import KINDS, get_manager


def _component_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for kind in reversed(KINDS):
        name_field = COMPONENT_FIELDS[kind][0]
        default = getattr(DEFAULTS, name_field)
        extra = " Default: the same family as --encoder." if kind == "decoder" else ""
        func = click.option(
            f"--{kind}-opt",
            f"{kind}_opts",
            multiple=True,
            metavar="KEY=VALUE",
            help=f"An option of the {kind} (repeatable; lists as 512,256). "
            f"`genmod plugins` shows each component's options.",
        )(func)
        func = click.option(
            f"--{kind}",
            name_field,
            default=default,
            show_default=default is not None,
            metavar="NAME",
            help=f"The {kind} to use, by registered name.{extra}",
        )(func)
    return func


@cli.command()
@_component_options
@click.option(
    "--data-dir",
    envvar="GENMOD_DATA_DIR",
    type=click.Path(file_okay=False),
    help="Folder holding the dataset's files (env GENMOD_DATA_DIR). Default: the "
    "per-user cache, downloading into it when empty.",
)
@click.option(
    "--latent-dim",
    type=int,
    default=DEFAULTS.latent_dim,
    show_default=True,
    help="Dimension of the latent vector z.",
)
@click.option(
    "--epochs",
    type=int,
    default=DEFAULTS.epochs,
    show_default=True,
    help="Passes over the training set.",
)
@click.option(
    "--batch-size",
    type=int,
    default=DEFAULTS.batch_size,
    show_default=True,
    help="Training batch size (the last partial batch of an epoch is dropped).",
)
@click.option(
    "--learning-rate",
    "--lr",
    "learning_rate",
    type=float,
    default=DEFAULTS.learning_rate,
    show_default=True,
    help="Adam learning rate.",
)
@click.option(
    "--seed",
    type=int,
    default=DEFAULTS.seed,
    show_default=True,
    help="Seed for weights, shuffling, binarization and sampling (reproducible on CPU).",
)
@click.option(
    "--binarize",
    type=str,
    default=DEFAULTS.binarize,
    show_default=True,
    help="dynamic: fresh Bernoulli sample of pixel intensities each time; static: "
    "threshold at 0.5; none: grey levels in [0,1]; auto: dynamic for binary "
    "likelihoods, none otherwise.",
)
@click.option(
    "--train-size",
    type=int,
    default=None,
    help="Use only the first N training items (for quick experiments).",
)
@click.option(
    "--test-size",
    type=int,
    default=None,
    help="Use only the first N test items (the test ELBO is then not comparable).",
)
@click.option(
    "--eval-batch-size",
    type=int,
    default=DEFAULTS.eval_batch_size,
    show_default=True,
    help="Batch size of the test-set evaluation.",
)
@click.option(
    "--steps-per-execution",
    type=int,
    default=DEFAULTS.steps_per_execution,
    show_default=True,
    help="Optimizer steps per compiled call (fewer host syncs).",
)
@click.option(
    "--validation-size",
    type=int,
    default=DEFAULTS.validation_size,
    show_default=True,
    help="Training items held out (from the end of the training set) to pick the best "
    "checkpoint; 0: none.",
)
@click.option(
    "--checkpoints-to-keep",
    type=int,
    default=DEFAULTS.checkpoints_to_keep,
    show_default=True,
    help="How many of the latest checkpoints to keep (the best one is kept apart).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="A TOML file of settings (keys as in a run's config.toml); options given on the "
    "command line override it.",
)
@click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default=DEFAULTS.precision,
    show_default=True,
    help="Keras dtype policy of the networks. mixed_bfloat16 suits CPUs with bf16 units and "
    "TPUs/recent GPUs; mixed_float16 suits GPUs (with loss scaling). Log-probabilities are "
    "always float32.",
)
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
    default=DEFAULTS.strategy,
    show_default=True,
    help="tf.distribute strategy: default (one device), mirrored (all local GPUs), "
    "multiworker (the machines in TF_CONFIG). --batch-size is the global batch.",
)
@click.option(
    "--jit-compile/--no-jit-compile",
    default=DEFAULTS.jit_compile,
    show_default=True,
    help="Compile each training step with XLA (often slower on CPU; measure).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(),
    default=None,
    help="Run folder. Default: runs/<timestamp>-<encoder>-<likelihood>.",
)
@click.option("--overwrite", is_flag=True, help="Replace the run in a non-empty --out folder.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the interrupted run in --out (only --epochs may differ from the run).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or per-epoch lines.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print only a JSON object with the result at the end."
)
@handle_errors
def run(**params: Any) -> None:
    """Train a model on a dataset and write a run folder.

    Prints the training loss, reconstruction term, KL, the validation and test-set ELBO (nats
    per item) after each epoch. The run folder (docs/runs.md) holds config.toml,
    metrics.jsonl, checkpoints/, tensorboard/, pictures/ and the final weights in model/.
    Ctrl-C or SIGTERM saves a checkpoint; `genmod resume RUN` continues.
    """
    ctx = click.get_current_context()
    explicit = {
        name
        for name in params
        if ctx.get_parameter_source(name)
        in (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    }
    file = read_config_file(params["config_file"]) if params["config_file"] else None
    config, given_keys = config_from_cli(params, explicit, file)
    data_dir = params["data_dir"] if "data_dir" in explicit else None
    if data_dir is None and file is not None:
        data_dir = file.data_dir
    if params["resume"]:
        if not params["out_dir"]:
            raise ConfigError("--resume needs --out RUN_DIR: the run folder to continue.")
        _check_resume_conflicts(params["out_dir"], config, given_keys)
        epochs = config.epochs if "epochs" in given_keys else None
        resume_run(
            params["out_dir"],
            epochs=epochs,
            data_dir=data_dir,
            quiet=params["quiet"],
            as_json=params["as_json"],
        )
        return
    quiet_tensorflow()
    from genmod.api import train

    run_with_display(
        lambda log, progress: train(
            config,
            data_dir=data_dir,
            out_dir=params["out_dir"],
            overwrite=params["overwrite"],
            log=log,
            progress=progress,
        ),
        quiet=params["quiet"],
        as_json=params["as_json"],
    )


def _check_resume_conflicts(run_dir: str, config: RunConfig, given_keys: set[str]) -> None:
    from genmod import rundir

    stored, _ = rundir.read_config(Path(run_dir))
    stored = stored.resolve(get_manager().registry)
    found = conflicts(stored, config, given_keys)
    if found:
        raise ConfigError(
            f"--resume: these settings differ from the run in {run_dir!r}: "
            + "; ".join(found)
            + ". A resumed run keeps its configuration (only --epochs may change); start a "
            "new run with another --out instead."
        )


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
    """Run ``start(log, progress)`` with a progress bar (on a terminal, unless quiet) and
    print the final line (``as_json``: only a JSON object); Ctrl-C/SIGTERM end with exit code
    128 + signal after the checkpoint was saved."""
    from genmod.runloop import TrainingInterrupted

    bar = _ProgressBar(enabled=not quiet and not as_json and sys.stderr.isatty())

    def log(line: str) -> None:
        bar.clear()
        if not quiet and not as_json:
            click.echo(line)

    started = time.perf_counter()
    try:
        result = start(log, bar.update)
    except TrainingInterrupted as exc:
        bar.clear()
        click.echo(f"Interrupted: {exc}", err=True)
        sys.exit(128 + exc.signal_number)
    except KeyboardInterrupt:
        bar.clear()
        click.echo(
            "Aborted by a second Ctrl-C: work since the last checkpoint is lost; "
            "`genmod resume RUN` continues from that checkpoint.",
            err=True,
        )
        sys.exit(130)
    bar.clear()
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
    click.echo(
        f"test ELBO {test['elbo']:.2f} nats (reconstruction {test['reconstruction']:.2f}, "
        f"KL {test['kl']:.2f}{kl_kind}) after {result.history[-1]['epoch']} epoch(s) in "
        f"{time.perf_counter() - started:.0f}s; run folder: {result.run_dir}"
    )


#: RunConfig fields that are one plain value each (not a component or its options).
_COMPONENT_KEYS = {key for pair in COMPONENT_FIELDS.values() for key in pair}
SCALAR_FIELDS = tuple(
    f.name for f in dataclasses.fields(RunConfig) if f.name not in _COMPONENT_KEYS
)


def config_from_cli(
    params: dict[str, Any],
    explicit: set[str] | None = None,
    file: ConfigFile | None = None,
) -> tuple[RunConfig, set[str]]:
    """The resolved :class:`RunConfig` from ``genmod run`` parameters over an optional config
    file, and the settings the user gave (in the file or explicitly on the command line).

    ``explicit`` names the parameters given on the command line (or by environment); the
    others are click's defaults, which a config file overrides. ``None``: all given.
    """
    explicit = set(params) if explicit is None else explicit
    given: dict[str, Any] = {}
    for kind, (name_field, options_field) in COMPONENT_FIELDS.items():
        if name_field in explicit:
            given[name_field] = params[name_field]
        if f"{kind}_opts" in explicit and params[f"{kind}_opts"]:
            given[options_field] = parse_assignments(params[f"{kind}_opts"], f"--{kind}-opt")
    scalar_keys = [key for key in SCALAR_FIELDS if key in params]  # eval_seed has no option
    for key in scalar_keys:
        if key in explicit:
            given[key] = params[key]
    if given.get("binarize", "auto") not in BINARIZATIONS:
        raise GenmodError(
            f"--binarize got {given['binarize']!r}; accepted: {', '.join(BINARIZATIONS)}."
        )
    defaults = {k: params[k] for k in scalar_keys}
    defaults.update({COMPONENT_FIELDS[k][0]: params[COMPONENT_FIELDS[k][0]] for k in KINDS})
    file_values = file.values if file is not None else {}
    values = merge(defaults, file_values, given)
    config = RunConfig(**values).resolve(get_manager().registry, from_strings=True)
    return config, set(file_values) | set(given)


class _ProgressBar:
    """A one-line progress display on stderr (only on a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.width = 0

    def update(self, epoch: int, done: int, total: int, means: dict[str, float]) -> None:
        if not self.enabled:
            return
        filled = int(30 * done / max(total, 1))
        text = (
            f"\repoch {epoch} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} "
            f"loss {means.get('loss', float('nan')):.2f}"
        )
        self.width = max(self.width, len(text))
        click.echo(text, nl=False, err=True)

    def clear(self) -> None:
        if self.enabled and self.width:
            click.echo("\r" + " " * self.width + "\r", nl=False, err=True)
            self.width = 0
