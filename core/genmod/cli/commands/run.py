"""`genmod run`: train a model and write a run folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from genmod.cli.common import DEFAULTS, handle_errors, quiet_tensorflow
from genmod.cli.training import resume_run, run_with_display
from genmod.config import (
    COMPONENT_FIELDS,
    LR_SCHEDULES,
    NONFINITE_ACTIONS,
    PRECISIONS,
    STRATEGIES,
    RunConfig,
    conflicts,
    from_command_line,
    read_config,
    read_config_file,
)
from genmod.config.recipes import get_recipe
from genmod.contract.errors import ConfigError
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


def _schedule_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--lr-schedule and its settings, --early-stopping, --clip-grad-norm (see
    genmod.train.schedules)."""
    options = [
        click.option(
            "--lr-schedule",
            type=click.Choice(LR_SCHEDULES),
            default=DEFAULTS.lr_schedule,
            show_default=True,
            help="Learning-rate schedule: constant; exponential (x --lr-decay-rate every "
            "--lr-decay-epochs); cosine (to --lr-min over --lr-decay-epochs); plateau (x "
            "--lr-decay-rate after --lr-patience epochs without a better validation ELBO).",
        ),
        click.option(
            "--lr-decay-rate",
            type=float,
            default=DEFAULTS.lr_decay_rate,
            show_default=True,
            help="Factor in (0, 1) of the exponential and plateau schedules.",
        ),
        click.option(
            "--lr-decay-epochs",
            type=int,
            default=DEFAULTS.lr_decay_epochs,
            show_default=True,
            help="Epochs of the exponential/cosine decay (0: --epochs, fixed at the start).",
        ),
        click.option(
            "--lr-min",
            type=float,
            default=DEFAULTS.lr_min,
            show_default=True,
            help="The learning rate never goes below this.",
        ),
        click.option(
            "--lr-patience",
            type=int,
            default=DEFAULTS.lr_patience,
            show_default=True,
            help="plateau: epochs without a better validation ELBO before a reduction.",
        ),
        click.option(
            "--early-stopping",
            "early_stopping_patience",
            type=int,
            default=DEFAULTS.early_stopping_patience,
            show_default=True,
            metavar="PATIENCE",
            help="Stop after this many epochs without a better validation ELBO; the run's "
            "model is then the best checkpoint (0: never stop early).",
        ),
        click.option(
            "--clip-grad-norm",
            type=float,
            default=DEFAULTS.clip_grad_norm,
            show_default=True,
            help="Clip gradients to this global norm (0: no clipping).",
        ),
        click.option(
            "--on-nonfinite",
            type=click.Choice(NONFINITE_ACTIONS),
            default=DEFAULTS.on_nonfinite,
            show_default=True,
            help="A step whose loss or gradients are NaN or infinite is never applied; stop: "
            "end the run there (exit 2, the last checkpoint kept); skip: skip the batch and go "
            "on, stopping only after --max-nonfinite-steps such steps in a row.",
        ),
        click.option(
            "--max-nonfinite-steps",
            type=int,
            default=DEFAULTS.max_nonfinite_steps,
            show_default=True,
            metavar="N",
            help="With --on-nonfinite skip: stop after N non-finite steps in a row.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.command()
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
    help="Adam learning rate (the start of --lr-schedule).",
)
@_schedule_options
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
    "--recipe",
    "recipe_name",
    metavar="NAME",
    default=None,
    help="Start from a shipped recipe (`genmod recipes` lists them); --config and options "
    "given on the command line override it.",
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
    help="Keras dtype policy of the networks. auto: mixed_bfloat16 where the hardware has "
    "native bfloat16 units (CPUs with AVX512_BF16/AMX, GPUs from Ampere on), else float32; "
    "the run records the choice. mixed_float16 suits GPUs (with loss scaling). "
    "Log-probabilities are always float32.",
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
@click.option(
    "--observer",
    "observer_names",
    multiple=True,
    metavar="NAME",
    help="A run observer to tell of the run's start, epochs, checkpoints, evaluations and end "
    "(repeatable; recorded in config.toml, so resume and evaluate keep it). `genmod plugins` "
    "lists the observers.",
)
@click.option(
    "--observer-opt",
    "observer_opts",
    multiple=True,
    metavar="NAME.KEY=VALUE",
    help="An option of a chosen observer (repeatable), e.g. jsonl-log.path=events.jsonl.",
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
    recipe = get_recipe(params["recipe_name"]) if params["recipe_name"] else None
    config, given_keys = from_command_line(
        params,
        explicit,
        file,
        registry=get_manager().registry,
        recipe=recipe.settings if recipe else None,
    )
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
            recipe=recipe.label if recipe else None,
        ),
        quiet=params["quiet"],
        as_json=params["as_json"],
    )


def _check_resume_conflicts(run_dir: str, config: RunConfig, given_keys: set[str]) -> None:
    stored, _ = read_config(Path(run_dir))
    stored = stored.resolve(get_manager().registry, drop_unknown_observers=True)
    found = conflicts(stored, config, given_keys)
    if found:
        raise ConfigError(
            f"--resume: these settings differ from the run in {run_dir!r}: "
            + "; ".join(found)
            + ". A resumed run keeps its configuration (only --epochs may change); start a "
            "new run with another --out instead."
        )
