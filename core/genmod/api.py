"""The Python API: everything ``genmod run`` does, in a few calls.

    from genmod.api import RunConfig, train
    result = train(RunConfig(encoder="cnn", epochs=1), data_dir="data/mnist", out_dir="runs/a")
    print(result.test["elbo"])             # nats
    run = load_run("runs/a")               # the trained model, ready to sample from
    images = run.model.sample(16)
    export_run("runs/a", "exports/a")      # a SavedModel for plain TensorFlow (docs/export.md)
    evaluate("runs/a", metrics=["fid"])    # metrics with their method (docs/metrics.md)
    images, how = sample("runs/a", 16, sampler="gmm")   # ex-post density estimation

Importing this module imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from genmod import config as settings
from genmod.config import RunConfig
from genmod.contract.errors import ConfigError, RunDirError
from genmod.export.run import export_run
from genmod.model.assembly import build_model, check_data_for_likelihood, condition_dim_for
from genmod.plugins import (
    ObserverList,
    ObserverWarning,
    Registry,
    build_observers,
    get_registry,
)
from genmod.runs import folder as rundir
from genmod.runs.loading import LoadedRun, load_run
from genmod.runs.lock import run_lock, this_command
from genmod.runs.trust import check_checkpoint_state, check_links
from genmod.train.distribute import WorkerOutput, is_chief, make_strategy
from genmod.train.loop import RunLoop, TrainingInterrupted
from genmod.train.precision import choose_precision, precision_policy
from genmod.train.splits import load_splits
from genmod.train.trainer import TrainingDiverged, check_batch_size

__all__ = [
    "LoadedRun",
    "RunConfig",
    "RunResult",
    "TrainingDiverged",
    "TrainingInterrupted",
    "build",
    "check_run",
    "evaluate",
    "export_run",
    "load_run",
    "resume",
    "sample",
    "train",
]


@dataclass
class RunResult:
    """What :func:`train` returns: the run folder, the model and the last epoch's numbers."""

    run_dir: Path
    config: RunConfig
    model: Any
    history: list[dict[str, Any]] = field(default_factory=list)
    #: the epoch whose weights ``model`` holds (the best one after early stopping)
    model_epoch: int | None = None

    @property
    def test(self) -> dict[str, float]:
        """The test metrics of the model's epoch (the last epoch, or the best one after early
        stopping): elbo, reconstruction, kl (nats per item), and bits_per_dim for a likelihood
        over 8-bit data (:mod:`genmod.contract.units`)."""
        last = self.history[-1]
        for record in self.history:
            if record.get("epoch") == self.model_epoch:
                last = record
        return {k[len("test_") :]: v for k, v in last.items() if k.startswith("test_")}


def _epochs_done(run_dir: Path) -> int:
    return int(rundir.read_summary(run_dir).get("epochs_done", 0))


def train(
    config: RunConfig,
    *,
    data_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    registry: Registry | None = None,
    log: Callable[[str], None] | None = None,
    progress: Callable[[int, int, int, dict[str, float]], None] | None = None,
    recipe: str | None = None,
) -> RunResult:
    """Train a model described by ``config`` and write a run folder (docs/runs.md).

    ``recipe``: the ``name@version`` of the recipe the config came from (recorded in the run's
    ``config.toml``; see :mod:`genmod.config.recipes`).

    ``progress(epoch, steps_done, steps_per_epoch, running_means)`` is called during each
    epoch; ``log`` receives one line per epoch. The observers named in ``config.observers``
    (:mod:`genmod.contract.observers`) are told of the run's start, epochs, checkpoints and end.
    Raises :class:`genmod.contract.errors.GenmodError`
    subclasses for bad input, :class:`genmod.train.loop.TrainingInterrupted` after Ctrl-C or
    SIGTERM (a checkpoint was saved; :func:`resume` continues) and
    :class:`genmod.train.trainer.TrainingDiverged` when the loss becomes NaN or infinite.
    """
    registry = registry or get_registry()
    log = log or (lambda line: None)
    config = config.resolve(registry)
    # The strategy comes before any other TensorFlow work (multi-worker needs that); only the
    # chief writes into `out`, other workers into a temporary folder.
    strategy = make_strategy(config.strategy)
    # `auto` becomes a policy now, and config.toml records that policy (resume keeps it)
    config = dataclasses.replace(config, precision=choose_precision(config.precision, log))
    splits, condition_dim = _checked_data(config, registry, data_dir)
    data = splits.train
    _check_path_text(data_dir, out_dir)
    # Built before the run folder exists, so a refused network shape leaves nothing behind.
    keras.utils.set_random_seed(config.seed)
    with precision_policy(config.precision), strategy.scope():
        assembled = build_model(config, registry, data.data_shape, condition_dim)
    out = Path(out_dir) if out_dir else rundir.default_run_dir(config)
    worker_output = WorkerOutput(strategy, out)
    rundir.check_new_run_dir(worker_output.path, overwrite=overwrite)  # before a lock file exists
    # one writer per run folder (genmod.runs.lock); a non-chief worker locks its own temporary one
    with run_lock(worker_output.path, this_command("genmod.api.train"), create=True):
        run_dir = rundir.prepare_run_dir(worker_output.path, overwrite=overwrite)
        meta: dict[str, Any] = {
            "resolved_binarize": assembled.binarize,
            "data_shape": list(data.data_shape),
            "condition_dim": int(assembled.model.condition_dim),
            **({"recipe": recipe} if recipe else {}),
            "data_fingerprint": splits.fingerprint(),
        }
        if data_dir is not None:
            meta["data_dir"] = str(Path(data_dir).expanduser().resolve())
        settings.write_config(run_dir, config, meta)
        loop = RunLoop(
            run_dir,
            config,
            assembled,
            splits,
            log=log,
            progress=progress,
            strategy=strategy,
            observers=_observers_of(config, registry, worker_output.chief),
        )
        history = loop.run()
    worker_output.cleanup()  # a non-chief worker's temporary folder is deleted
    return RunResult(run_dir, config, assembled.model, history, loop.model_epoch)


def _checked_data(
    config: RunConfig, registry: Registry, data_dir: str | Path | None
) -> tuple[Any, int]:
    """The run's data splits and condition size, with every check ``train`` makes of them
    before its run folder exists (binarization, 8-bit data, the batch size)."""
    splits = load_splits(config, registry, data_dir)
    data = splits.train
    condition_dim = condition_dim_for(config, registry, data)  # before the run folder exists
    check_data_for_likelihood(config, registry, data)  # binarization, 8-bit data
    check_batch_size(config.batch_size, len(data.x_train))  # the trainer's check, before the folder
    return splits, condition_dim


def check_run(
    config: RunConfig,
    *,
    data_dir: str | Path | None = None,
    registry: Registry | None = None,
) -> None:
    """Everything :func:`train` checks before it writes anything, without training or writing:
    the configuration resolves, the data loads and suits the likelihood and the batch size,
    and the model assembles (a conditional encoder with a VampPrior, a network too deep for the
    image size, ...). Raises the :class:`genmod.contract.errors.GenmodError` that ``train``
    would; ``genmod sweep`` calls it for every run of a study before the first one starts."""
    registry = registry or get_registry()
    config = config.resolve(registry)
    splits, condition_dim = _checked_data(config, registry, data_dir)
    build_model(config, registry, splits.train.data_shape, condition_dim)


def _check_path_text(*paths: str | Path | None) -> None:
    """Refuse folder names that are not valid text: config.toml records them, and TOML holds
    only Unicode, so such a run could never be resumed."""
    for path in paths:
        if path is None:
            continue
        try:
            str(Path(path).expanduser().resolve()).encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(
                f"the path {str(path)!r} is not valid UTF-8 text; a run folder records its "
                "paths in config.toml, which holds only text. Rename the folder (or link to it "
                "under a UTF-8 name) and try again."
            ) from None


def resume(
    run_dir: str | Path,
    *,
    epochs: int | None = None,
    data_dir: str | Path | None = None,
    registry: Registry | None = None,
    log: Callable[[str], None] | None = None,
    progress: Callable[[int, int, int, dict[str, float]], None] | None = None,
) -> RunResult:
    """Continue the run in ``run_dir`` from its newest readable checkpoint.

    ``epochs`` raises the number of epochs (the only setting a resume may change); the data is
    read from ``data_dir``, else from the folder the run was started with.
    """
    registry = registry or get_registry()
    log = log or (lambda line: None)
    run_dir = Path(run_dir)
    config, meta = settings.read_config(run_dir)
    settings.require_resumable(run_dir, meta)
    check_links(run_dir)  # before anything in the folder is read or written
    # The strategy comes before any other TensorFlow work (multi-worker needs that); only the
    # chief writes the run folder, so only the chief takes its writer lock (genmod.runs.lock).
    strategy = make_strategy(config.strategy)
    lock = (
        run_lock(run_dir, this_command("genmod.api.resume"))
        if is_chief(strategy)
        else contextlib.nullcontext()
    )
    with lock:
        # before restore() reads or moves any checkpoint; RunLoop checks again right before
        # the checkpoint managers (which delete what a state file lists) are made
        for directory in (
            run_dir / rundir.CHECKPOINT_DIR,
            run_dir / rundir.CHECKPOINT_DIR / rundir.BEST_DIR,
        ):
            check_checkpoint_state(directory, run_dir)
        if epochs is not None:
            done = _epochs_done(run_dir)
            if epochs < max(done, 1):
                raise ConfigError(
                    f"--epochs {epochs} is less than the {done} epoch(s) this run has finished."
                )
            config = dataclasses.replace(config, epochs=epochs)
        observed = dict(config.observers)
        config = config.resolve(registry, drop_unknown_observers=True)
        for name in (n for n in observed if n not in config.observers):
            warnings.warn(
                f"the run in {str(run_dir)!r} was observed by {name!r}, which no installed plugin "
                "provides now; it resumes without that observer.",
                ObserverWarning,
                stacklevel=2,
            )
        splits = load_splits(config, registry, data_dir or meta.get("data_dir"))
        data_shape = tuple(meta.get("data_shape") or ())
        if tuple(splits.train.data_shape) != data_shape:
            raise RunDirError(
                f"the data has shape {splits.train.data_shape}, but {str(run_dir)!r} was "
                f"trained on {data_shape}."
            )
        recorded = meta.get("data_fingerprint")
        if recorded is not None and recorded != splits.fingerprint():
            raise RunDirError(
                f"the training data found now differs from the data {str(run_dir)!r} was trained "
                "on (fingerprint mismatch); resume with the same --data-dir and dataset files."
            )
        keras.utils.set_random_seed(config.seed)  # the initial weights, if no checkpoint was saved
        with precision_policy(config.precision), strategy.scope():
            assembled = build_model(config, registry, data_shape, int(meta.get("condition_dim", 0)))
        loop = RunLoop(
            run_dir,
            config,
            assembled,
            splits,
            log=log,
            progress=progress,
            strategy=strategy,
            observers=_observers_of(config, registry, is_chief(strategy)),
        )
        loop.restore()  # verifies the checkpoint: only then may config.toml change
        if epochs is not None:
            # an observer whose plugin is gone stays recorded, for when it is installed again
            kept = {n: config.observers.get(n, opts) for n, opts in observed.items()}
            settings.write_config(
                run_dir, dataclasses.replace(config, observers=kept), meta_for_write(meta)
            )
        history = loop.run()
        return RunResult(run_dir, config, assembled.model, history, loop.model_epoch)


def _observers_of(config: RunConfig, registry: Registry, chief: bool) -> ObserverList:
    """The run's observers on the process that writes the run folder (``chief``), none on
    the other workers of a cluster."""
    return build_observers(config.observers, registry) if chief else ObserverList()


def meta_for_write(meta: dict[str, Any]) -> dict[str, Any]:
    """The metadata of a run as :func:`genmod.config.write_config` takes it back."""
    return {k: v for k, v in meta.items() if k not in ("format_version", "genmod_version")}


def build(
    config: RunConfig | None = None,
    *,
    data_shape: tuple[int, ...] = (28, 28, 1),
    condition_dim: int = 0,
    registry: Registry | None = None,
) -> Any:
    """An untrained model assembled from component names (variables created), e.g.
    ``build(RunConfig(encoder="cnn", latent_dim=2))``; returns a :class:`genmod.model.vae.VAE`."""
    registry = registry or get_registry()
    resolved = (config or RunConfig()).resolve(registry)
    return build_model(resolved, registry, data_shape, condition_dim).model


def evaluate(
    run_dir: str | Path, *, metrics: str | list[str] | None = None, **options: Any
) -> dict:
    """``genmod evaluate``: run ``metrics`` (default: log-likelihood, elbo, active-units,
    mutual-information) on a finished run and write ``RUN/evaluation.json``; returns what it
    wrote (every value with its unit and method, docs/metrics.md). ``options`` are those of
    :func:`genmod.evaluate.run.evaluate_run` (``metric_options``, ``extractor``, ``sampler``,
    ``num_samples``, ``test_size``, ``seed``, ``data_dir``, ...), typed values."""
    from genmod.evaluate.run import evaluate_run

    if isinstance(metrics, str):
        metrics = [metrics]
    return evaluate_run(run_dir, metrics=metrics, **options)


def sample(
    run_dir: str | Path,
    n: int = 64,
    *,
    sampler: str = "prior",
    sampler_options: dict[str, Any] | None = None,
    seed: int = 0,
    label: int | None = None,
    data_dir: str | Path | None = None,
    registry: Registry | None = None,
) -> tuple[Any, dict[str, Any]]:
    """``genmod sample``: ``n`` generated images ``[n, *data_shape]`` (numpy, the likelihood's
    picture of each code) from a finished run, with codes from ``sampler``: ``prior`` (z ~
    p(z), the same images as ``run.model``'s prior samples from ``seed``), ``gmm`` (a Gaussian
    mixture fitted to the training codes, ex-post density estimation) or a plugin's. A fit is
    saved in ``RUN/samplers/`` (under the run's writer lock) and reused. Returns the images
    and the sampler's method record (``{}`` for the prior)."""
    from genmod.evaluate.samplers import prepare_run_sampler
    from genmod.pictures.figures import generated_images

    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1_000_000:
        raise ConfigError(f"sample(n={n!r}): n must be an integer in [1, 1000000].")
    registry = registry or get_registry()
    run = load_run(run_dir, registry)
    if sampler == "prior" and not sampler_options:
        return generated_images(run.model, n, seed=seed, label=label), {}
    with run_lock(run_dir, this_command("genmod.api.sample")):
        prepared = prepare_run_sampler(
            run,
            sampler,
            sampler_options or {},
            registry=registry,
            data_dir=data_dir,
            seed=run.config.eval_seed,
            save=True,
            from_strings=False,
        )
    codes = prepared.sample(n, seed=seed)
    return generated_images(run.model, n, seed=seed, label=label, codes=codes), prepared.record
