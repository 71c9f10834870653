"""The ``genmod`` command line. TensorFlow is imported only inside commands that train."""

from __future__ import annotations

import functools
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import click

from genmod import __version__
from genmod.config import BINARIZATIONS, COMPONENT_FIELDS, RunConfig
from genmod.errors import GenmodError
from genmod.options import format_value, parse_assignments
from genmod.plugins import KINDS, PluginLoadWarning, get_manager

DEFAULTS = RunConfig()


def _show_plugin_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, PluginLoadWarning):
        click.echo(f"Warning: {message}", err=True)
    else:
        _original_showwarning(message, category, filename, lineno, file, line)


_original_showwarning = warnings.showwarning


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn genmod's user errors into a one-paragraph message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GenmodError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)

    return wrapper


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="genmod")
def cli() -> None:
    """genmod: train deep generative models (VAEs) assembled from plugins.

    Components (encoders, decoders, likelihoods, priors, posteriors, objectives, datasets)
    come from plugins; `genmod plugins` lists what is installed. Start with:

        genmod run --encoder cnn --likelihood bernoulli --data-dir PATH/TO/MNIST
    """


def _component_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for kind in reversed(KINDS):
        name_field = COMPONENT_FIELDS[kind][0]
        default = getattr(DEFAULTS, name_field)
        extra = (
            " Default: the same family as --encoder." if kind == "decoder" else ""
        )
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
@click.option("--data-dir", envvar="GENMOD_DATA_DIR", type=click.Path(file_okay=False),
              help="Folder holding the dataset's files (env GENMOD_DATA_DIR). Default: the "
                   "per-user cache, downloading into it when empty.")
@click.option("--latent-dim", type=int, default=DEFAULTS.latent_dim, show_default=True,
              help="Dimension of the latent vector z.")
@click.option("--epochs", type=int, default=DEFAULTS.epochs, show_default=True,
              help="Passes over the training set.")
@click.option("--batch-size", type=int, default=DEFAULTS.batch_size, show_default=True,
              help="Training batch size (the last partial batch of an epoch is dropped).")
@click.option("--learning-rate", "--lr", "learning_rate", type=float,
              default=DEFAULTS.learning_rate, show_default=True, help="Adam learning rate.")
@click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True,
              help="Seed for weights, shuffling, binarization and sampling (reproducible on CPU).")
@click.option("--binarize", type=str, default=DEFAULTS.binarize, show_default=True,
              help="dynamic: fresh Bernoulli sample of pixel intensities each time; static: "
                   "threshold at 0.5; none: grey levels in [0,1]; auto: dynamic for binary "
                   "likelihoods, none otherwise.")
@click.option("--train-size", type=int, default=None,
              help="Use only the first N training items (for quick experiments).")
@click.option("--test-size", type=int, default=None,
              help="Use only the first N test items (the test ELBO is then not comparable).")
@click.option("--eval-batch-size", type=int, default=DEFAULTS.eval_batch_size,
              show_default=True, help="Batch size of the test-set evaluation.")
@click.option("--steps-per-execution", type=int, default=DEFAULTS.steps_per_execution,
              show_default=True, help="Optimizer steps per compiled call (fewer host syncs).")
@click.option("--out", "out_dir", type=click.Path(), default=None,
              help="Run folder. Default: runs/<timestamp>-<encoder>-<likelihood>.")
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
    _quiet_tensorflow()
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
    click.echo(
        f"test ELBO {test['elbo']:.2f} nats (reconstruction {test['reconstruction']:.2f}, "
        f"KL {test['kl']:.2f}) after {config.epochs} epoch(s) in "
        f"{time.perf_counter() - started:.0f}s; run folder: {result.run_dir}"
    )


def config_from_cli(params: dict[str, Any]) -> RunConfig:
    """Build an unresolved :class:`RunConfig` from ``genmod run`` parameters (strings parsed
    and validated against the registry)."""
    values: dict[str, Any] = {}
    for kind, (name_field, options_field) in COMPONENT_FIELDS.items():
        values[name_field] = params[name_field]
        values[options_field] = parse_assignments(params[f"{kind}_opts"], f"--{kind}-opt")
    for key in ("latent_dim", "epochs", "batch_size", "learning_rate", "seed", "binarize",
                "train_size", "test_size", "eval_batch_size", "steps_per_execution"):
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


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def plugins(as_json: bool) -> None:
    """List installed plugins, their versions, hooks and the components they provide."""
    manager = get_manager()
    registry = manager.registry
    infos = manager.plugin_infos()
    if as_json:
        out = []
        for info in infos:
            components = []
            for kind, name in info.components:
                spec = registry.get(kind, name)
                components.append({
                    "kind": kind, "name": name, "description": spec.description,
                    "options": [
                        {"name": o.name, "type": o.type, "default": _jsonable(o.default),
                         "help": o.help, "choices": list(o.choices) if o.choices else None}
                        for o in spec.options
                    ],
                })
            out.append({
                "name": info.name, "distribution": info.distribution, "version": info.version,
                "module": info.module, "hooks": info.hooks, "components": components,
                "error": info.error,
            })
        click.echo(json.dumps(out, indent=2))
        return
    for info in infos:
        origin = f"{info.distribution} {info.version}" if info.distribution else "runtime"
        click.echo(f"{info.name} ({origin}; {info.module})")
        if info.error:
            click.echo(f"  FAILED: {info.error}")
        for kind, name in info.components:
            spec = registry.get(kind, name)
            click.echo(f"  {kind} {name}: {spec.description}")
            for opt in spec.options:
                click.echo(f"      {opt.describe()}")


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``genmod`` script: loads plugin commands, then runs the CLI."""
    warnings.showwarning = _show_plugin_warning
    try:
        manager = get_manager()
        manager.add_commands(cli)
    except GenmodError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    cli.main(args=argv, prog_name="genmod")


__all__ = ["cli", "main", "config_from_cli", "format_value"]
