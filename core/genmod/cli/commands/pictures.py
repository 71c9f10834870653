"""Picture commands on a trained run: `genmod sample`, `reconstruct`, `interpolate`, `traverse`.

Each loads the run folder's exported model (``--checkpoint`` picks the best or latest
training checkpoint instead), writes one PNG and prints its path (``--json``: a JSON object).
Writing into the run folder (the default ``RUN/pictures/``) holds its writer lock
(:mod:`genmod.runs.lock`); a picture written elsewhere with ``--out`` reads the run only.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from genmod.cli.common import (
    handle_errors,
    quiet_tensorflow,
    run_data_dir_option,
    sampler_options,
)

CHECKPOINTS = click.Choice(["final", "best", "latest"])


def _common(default_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = _locked(func, f"genmod {Path(default_name).stem}")
        func = click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")(func)
        func = click.option(
            "--checkpoint",
            type=CHECKPOINTS,
            default="final",
            show_default=True,
            help="final: the exported model; best: best validation ELBO; latest: the newest "
            "training checkpoint (e.g. of an interrupted run).",
        )(func)
        func = click.option(
            "--out",
            "out_file",
            type=click.Path(dir_okay=False),
            default=None,
            help=f"PNG file to write. Default: RUN/pictures/{default_name}.",
        )(func)
        return click.argument("run_dir", type=click.Path(exists=True, file_okay=False))(func)

    return decorate


def _locked(func: Callable[..., Any], command: str) -> Callable[..., Any]:
    """``func`` holding the run folder's writer lock when its picture goes into the folder
    (the default ``RUN/pictures/``); with ``--out`` elsewhere it is a reader and locks nothing."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from genmod.runs.lock import run_lock, this_command
        from genmod.runs.trust import is_inside

        run_dir, out_file = Path(kwargs["run_dir"]), kwargs.get("out_file")
        if out_file and not is_inside(run_dir, Path(out_file)):
            return func(*args, **kwargs)
        hint = "Pass --out FILE to write the picture elsewhere meanwhile."
        with run_lock(run_dir, this_command(command), hint=hint):
            return func(*args, **kwargs)

    return handle_errors(wrapper)


def _load(run_dir: str, checkpoint: str):
    quiet_tensorflow()
    from genmod.runs.loading import load_run

    return load_run(run_dir, checkpoint=checkpoint)


def _test_data(
    run,
    data_dir: str | None,
    start: int = 0,
    count: int | None = None,
    *,
    option: str = "--start",
    needed: int = 1,
):
    """The run's test items ``start`` to ``start + count`` (all from ``start`` when ``count``
    is None) as numpy arrays (images, labels; labels None for unlabelled data). At least
    ``needed`` items must exist from ``start`` on, else a ConfigError naming ``option``."""
    from genmod.contract.errors import ConfigError
    from genmod.model.assembly import load_dataset
    from genmod.plugins import get_registry

    config = dataclasses.replace(run.config, train_size=None, test_size=None)
    _, arrays = load_dataset(config, get_registry(), data_dir or run.meta.get("data_dir"))
    total = len(arrays.x_test)
    if start + needed > total:
        raise ConfigError(
            f"{option} {start} is past the test set: it has {total} images and this picture "
            f"needs {needed} from {option}; choose {option} between 0 and {max(total - needed, 0)}."
        )
    stop = None if count is None else start + count
    y = None if arrays.y_test is None else arrays.y_test[start:stop]
    return arrays.x_test[start:stop], y


def _report(path: Path, as_json: bool, what: str, **facts: Any) -> None:
    if as_json:
        click.echo(json.dumps({"path": str(path), **facts}))
    else:
        click.echo(f"wrote {what} to {path}")


def _out(run_dir: str, out_file: str | None, name: str) -> Path:
    from genmod.runs import folder as rundir
    from genmod.runs.trust import require_inside

    if out_file:
        return Path(out_file)  # the user's own choice of file
    return require_inside(
        Path(run_dir), Path(run_dir) / rundir.PICTURES_DIR / name, "the picture file"
    )


@click.command()
@_common("sample.png")
@click.option("-n", "count", type=click.IntRange(1, 10000), default=64, show_default=True)
@click.option("--label", type=int, default=None, help="Class to draw (conditional models only).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the z draws.")
@sampler_options
@run_data_dir_option
@handle_errors
def sample(
    run_dir, out_file, checkpoint, as_json, count, label, seed, sampler, sampler_opts, data_dir
) -> None:
    """Decode N codes into a grid picture: draws from the prior of RUN_DIR's model, or from
    a latent sampler fitted to its training codes (--sampler gmm: ex-post density estimation,
    Ghosh et al. 2020; the fit is saved in the run folder and reused)."""
    run = _load(run_dir, checkpoint)
    from genmod.pictures import figures as visuals

    out = _out(run_dir, out_file, "sample.png")
    codes, facts = None, {}
    if sampler != "prior" or sampler_opts:
        from genmod.contract.options import parse_assignments
        from genmod.evaluate.samplers import prepare_run_sampler
        from genmod.plugins import get_registry
        from genmod.runs.trust import is_inside

        prepared = prepare_run_sampler(
            run,
            sampler,
            parse_assignments(sampler_opts, "--sampler-opt"),
            registry=get_registry(),
            data_dir=data_dir,
            seed=run.config.eval_seed,
            save=not out_file or is_inside(Path(run_dir), Path(out_file)),
        )
        codes = prepared.sample(count, seed=seed)
        facts = {"sampler": prepared.record}
    path = visuals.samples_picture(run.model, out, n=count, seed=seed, label=label, codes=codes)
    _report(
        path, as_json, f"{count} samples ({sampler})", count=count, label=label, seed=seed, **facts
    )


@click.command()
@_common("reconstruct.png")
@run_data_dir_option
@click.option("-n", "count", type=click.IntRange(1, 10000), default=32, show_default=True)
@click.option("--start", type=click.IntRange(0), default=0, help="First test image.")
@handle_errors
def reconstruct(run_dir, out_file, checkpoint, as_json, data_dir, count, start) -> None:
    """Test images (odd rows) next to their reconstructions through the posterior mean."""
    run = _load(run_dir, checkpoint)
    from genmod.pictures import figures as visuals

    x, y = _test_data(run, data_dir, start, count, needed=1)
    path = visuals.reconstruction_picture(
        run.model, x, y, _out(run_dir, out_file, "reconstruct.png"), binarize=run.binarize, n=count
    )
    _report(path, as_json, f"{len(x)} reconstructions", count=len(x), start=start)


@click.command()
@_common("interpolate.png")
@run_data_dir_option
@click.option("--pairs", type=click.IntRange(1, 100), default=4, show_default=True)
@click.option("--steps", type=click.IntRange(2, 100), default=10, show_default=True)
@click.option("--start", type=click.IntRange(0), default=0, help="First test image.")
@handle_errors
def interpolate(run_dir, out_file, checkpoint, as_json, data_dir, pairs, steps, start) -> None:
    """Decode straight lines in z between the codes of pairs of test images."""
    run = _load(run_dir, checkpoint)
    from genmod.pictures import figures as visuals

    x, y = _test_data(run, data_dir, start, needed=2 * pairs)
    path = visuals.interpolation_picture(
        run.model,
        x,
        y,
        _out(run_dir, out_file, "interpolate.png"),
        binarize=run.binarize,
        pairs=pairs,
        steps=steps,
    )
    _report(path, as_json, f"{pairs} interpolations", pairs=pairs, steps=steps, start=start)


@click.command()
@_common("traverse.png")
@run_data_dir_option
@click.option("--steps", type=click.IntRange(2, 100), default=9, show_default=True)
@click.option("--index", type=click.IntRange(0), default=0, help="Test image to start from.")
@click.option("--max-dims", type=click.IntRange(1), default=16, show_default=True)
@handle_errors
def traverse(run_dir, out_file, checkpoint, as_json, data_dir, steps, index, max_dims) -> None:
    """Sweep each latent dimension over the prior's 5%-95% quantiles around a test code."""
    run = _load(run_dir, checkpoint)
    from genmod.pictures import figures as visuals

    x, y = _test_data(run, data_dir, index, option="--index")
    path = visuals.traversal_picture(
        run.model,
        x,
        y,
        _out(run_dir, out_file, "traverse.png"),
        binarize=run.binarize,
        steps=steps,
        max_dims=max_dims,
    )
    dims = min(run.model.latent_dim, max_dims)
    _report(path, as_json, f"traversals of {dims} dimension(s)", dimensions=dims, steps=steps)
