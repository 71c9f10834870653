"""`genmod run`: train a model and write a run folder."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import click

from genmod.cli import DEFAULTS, cli, handle_errors, quiet_tensorflow
from genmod.config import BINARIZATIONS, COMPONENT_FIELDS, RunConfig
from genmod.errors import GenmodError
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
    "--out",
    "out_dir",
    type=click.Path(),
    default=None,
    help="Run folder. Default: runs/<timestamp>-<encoder>-<likelihood>.",
)
@click.option("--overwrite", is_flag=True, help="Replace the run in a non-empty --out folder.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or per-epoch lines.")
@handle_errors
def run(**params: Any) -> None:
    """Train a model on a dataset and write a run folder.

    Prints the training loss, reconstruction term, KL and the test-set ELBO (nats per item)
    after each epoch. The run folder holds config.toml, metrics.jsonl, checkpoints/ and the
    final weights in model/.
    """
    config = config_from_cli(params)
    quiet_tensorflow()
    from genmod.api import train

    quiet = params["quiet"]
    bar = _ProgressBar(enabled=not quiet and sys.stderr.isatty())

    def log(line: str) -> None:
        bar.clear()
        if not quiet:
            click.echo(line)

    started = time.perf_counter()
    result = train(
        config,
        data_dir=params["data_dir"],
        out_dir=params["out_dir"],
        overwrite=params["overwrite"],
        log=log,
        progress=bar.update,
    )
    bar.clear()
    test = result.test
    kl_kind = "" if test.get("kl_analytic", True) else " by Monte Carlo"
    click.echo(
        f"test ELBO {test['elbo']:.2f} nats (reconstruction {test['reconstruction']:.2f}, "
        f"KL {test['kl']:.2f}{kl_kind}) after {config.epochs} epoch(s) in "
        f"{time.perf_counter() - started:.0f}s; run folder: {result.run_dir}"
    )


def config_from_cli(params: dict[str, Any]) -> RunConfig:
    """Build an unresolved :class:`RunConfig` from ``genmod run`` parameters (strings parsed
    and validated against the registry)."""
    values: dict[str, Any] = {}
    for kind, (name_field, options_field) in COMPONENT_FIELDS.items():
        values[name_field] = params[name_field]
        values[options_field] = parse_assignments(params[f"{kind}_opts"], f"--{kind}-opt")
    for key in (
        "latent_dim",
        "epochs",
        "batch_size",
        "learning_rate",
        "seed",
        "binarize",
        "train_size",
        "test_size",
        "eval_batch_size",
        "steps_per_execution",
    ):
        values[key] = params[key]
    if values["binarize"] not in BINARIZATIONS:
        raise GenmodError(
            f"--binarize got {values['binarize']!r}; accepted: {', '.join(BINARIZATIONS)}."
        )
    config = RunConfig(**values)
    return config.resolve(get_manager().registry, from_strings=True)


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
