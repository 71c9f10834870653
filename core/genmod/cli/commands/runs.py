"""`genmod runs [FOLDER]`: the runs in a folder with their key metrics, or (``--group-by``)
their values aggregated over seeds (:mod:`genmod.runs.aggregate`), optionally charted
(:func:`genmod.pictures.charts.save_aggregate_chart`). No TensorFlow."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from genmod.cli.common import comma_separated, handle_errors, printable
from genmod.config import files as config_files
from genmod.contract.errors import GenmodError
from genmod.runs import folder as rundir
from genmod.runs import lock as runlock
from genmod.runs import trust

#: the components of a model, in the order ``genmod runs`` shows them
SPEC_KINDS = ("dataset", "encoder", "decoder", "likelihood", "prior", "posterior", "objective")


def model_spec(config: Any) -> dict[str, Any]:
    """The full model of a run: every component's name and resolved options, and latent_dim."""
    spec: dict[str, Any] = {}
    for kind in SPEC_KINDS:
        name = getattr(config, kind)
        if kind == "decoder" and name is None:
            name = config.encoder  # an unresolved config: the decoder of the encoder's family
        spec[kind] = {"name": name, "options": dict(getattr(config, f"{kind}_options"))}
    spec["latent_dim"] = config.latent_dim
    return spec


def model_text(spec: dict[str, Any]) -> str:
    """A model spec in one short line, such as
    ``mnist: mlp/mlp-bernoulli z16, diagonal posterior, normal prior, elbo``."""
    names = {kind: spec[kind]["name"] for kind in SPEC_KINDS}
    return (
        f"{names['dataset']}: {names['encoder']}/{names['decoder']}-{names['likelihood']} "
        f"z{spec['latent_dim']}, {names['posterior']} posterior, {names['prior']} prior, "
        f"{names['objective']}"
    )


def describe_run(path: Path) -> dict[str, Any]:
    """One run folder as a dict: name, model (``model``: one line; ``spec``: every component
    with its options), status, epochs and key metrics (nats)."""
    info: dict[str, Any] = {"run": str(path)}
    try:
        config, meta = config_files.read_config(path)
    except GenmodError as exc:
        return {**info, "status": "unreadable", "error": str(exc)}
    except (OSError, ValueError) as exc:  # unreadable bytes: the run is marked, not fatal
        return {**info, "status": "unreadable", "error": f"{type(exc).__name__}: {exc}"}
    summary = rundir.read_summary(path)
    metrics = rundir.read_metrics(path)
    last = metrics[-1] if metrics else {}
    status = summary.get("status", "running" if metrics else "started")
    if status == "running":
        # a killed run never got to say so; its writer's lock record tells (genmod.runs.lock)
        writer = runlock.holder_state(path)
        status = {"held": "running", "dead": "killed"}.get(writer or "", "running or killed")
    spec = model_spec(config)
    info.update(
        {
            "model": model_text(spec),
            "spec": spec,
            "status": status,
            "epochs_done": _count(last.get("epoch", 0)),
            "epochs": config.epochs,
            "test_elbo": last.get("test_elbo"),
            "validation_elbo": last.get("validation_elbo"),
            "best_validation_elbo": (summary.get("best") or {}).get("validation_elbo"),
            "format_version": meta.get("format_version"),
        }
    )
    if "test_bits_per_dim" in last:  # 8-bit data: bits/dim next to nats (genmod.contract.units)
        info["test_bits_per_dim"] = last.get("test_bits_per_dim")
    evaluation_file = Path(path) / "evaluation.json"  # written by `genmod evaluate`
    if rundir.is_regular_file(evaluation_file) and trust.is_inside(Path(path), evaluation_file):
        try:
            found = json.loads(evaluation_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            found = None
        if isinstance(found, dict):
            keys = ("log_likelihood", "bits_per_dim", "num_samples", "active_units")
            info["evaluation"] = {k: found[k] for k in keys if k in found}
    return info


def _describe_or_mark(path: Path) -> dict[str, Any]:
    """:func:`describe_run`, or the run marked ``broken`` when its files hold values genmod
    never writes (a crafted or damaged folder must not stop the listing)."""
    try:
        info = describe_run(path)
        json.dumps(info)  # what --json prints must be printable
        return info
    except Exception as exc:  # noqa: BLE001 - any damage is reported on the run's own line
        return {"run": str(path), "status": "broken", "error": f"{type(exc).__name__}: {exc}"}


def find_runs(folder: Path) -> list[Path]:
    """``folder`` itself if it is a run, else its sub-folders that are runs (sorted by name)."""
    if (folder / config_files.CONFIG_FILE).exists():
        return [folder]
    return sorted(
        p for p in folder.iterdir() if p.is_dir() and (p / config_files.CONFIG_FILE).exists()
    )


def _count(value: Any) -> int:
    """A count from a file of the run (0 when it is not a non-negative integer)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _number(value: Any) -> str:
    """Integers (counts) as integers, other numbers (nats) with two decimals, else ``-``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.2f}"


def _bits(value: Any) -> str:
    """`` (2.81 bits/dim)`` for a number (8-bit data), else nothing."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return f" ({value:.3f} bits/dim)"


def _evaluation_text(info: dict[str, Any]) -> str:
    extra = dict(info.get("evaluation") or {})
    bits = _bits(extra.pop("bits_per_dim", None))
    parts = [f"{k} {_number(v)}" for k, v in extra.items() if _number(v) != "-"]
    if bits and parts and parts[0].startswith("log_likelihood "):
        parts[0] += bits
    return ", ".join(parts[:3])


def _planned_not_started(root: Path, found: list) -> list[tuple[Path, Any, str]]:
    """The runs of the study in ``root`` (its ``study.json``) that no run folder there gives
    (not started, failed before training, folder removed), with their planned configuration
    and state, so that their groups show them as not finished; [] for a folder that is not a
    study folder or whose record cannot be read."""
    from genmod.config import RunConfig
    from genmod.studies import record as records
    from genmod.studies.state import Attempts, run_status

    try:
        record = records.read_record(root)
    except GenmodError:
        return []
    if record is None:
        return []
    given = {r.path.name for r in found if r.config is not None and r.path.parent == root}
    attempts = Attempts(root)
    planned = []
    for run in record["runs"]:
        if run["name"] in given:
            continue
        try:
            config = RunConfig.from_dict(run["config"], source=records.STUDY_FILE)
        except GenmodError:
            continue
        state = run_status(root, run["name"], attempts).state
        status = {"pending": "not started", "unfinished": "started"}.get(state, state)
        planned.append((root / run["name"], config, status))
    return planned


def _study_folders_in(root: Path) -> list[str]:
    """The names of the subfolders of ``root`` that hold a ``study.json`` (sorted)."""
    from genmod.studies.record import STUDY_FILE

    try:
        return sorted(p.name for p in root.iterdir() if (p / STUDY_FILE).is_file())
    except OSError:
        return []


def _chart_target(chart: str, value: str) -> Path:
    """Where ``--chart PATH`` writes: PATH itself (a PNG file name), or the default file name
    inside PATH when it is a folder; another suffix is a one-line refusal."""
    from genmod.runs import aggregate as aggregation

    given = Path(chart)
    if given.is_dir() or chart.endswith(("/", os.sep)):
        return aggregation.chart_path(given, value)  # a folder (made when missing)
    if given.suffix.lower() != ".png":
        raise click.UsageError(
            f"--chart {str(given)!r}: the chart is a PNG; give a file name ending in .png, or a "
            "folder to write it into."
        )
    return given


def _aggregate(
    root: Path, group_by: list[str], values: list[str], as_json: bool, chart: str | None
) -> None:
    """``genmod runs FOLDER --group-by ...``: the table or JSON, and the chart if asked."""
    from genmod.runs import aggregate as aggregation
    from genmod.runs import compare as comparison

    found_runs = comparison.find_runs([root])
    planned = _planned_not_started(root, found_runs)
    if not planned and all(r.config is None for r in found_runs):
        studies = _study_folders_in(root)
        if studies:
            raise GenmodError(
                f"{str(root)!r} holds study folders, not runs ({', '.join(studies[:5])}); "
                f"aggregate one study at a time: genmod runs {root / studies[0]} --group-by ..."
            )
    result = aggregation.aggregate(found_runs, group_by, values, planned)
    drawn = None
    if chart is not None:
        data = aggregation.chart_data(result, values[0] if values else None)
        from genmod.pictures import charts

        default = aggregation.chart_path(root, data.value)
        path = _chart_target(chart, data.value) if chart else default
        drawn = {
            "path": str(charts.save_aggregate_chart(data, path)),
            "value": data.value,
            "x": data.x_label,
            "x_scale": data.x_scale,
            "lines": len(data.lines),
            "runs": data.runs,
            "left_out": data.left_out,
        }
    if as_json:
        found = aggregation.to_json(result)
        if drawn is not None:
            found["chart"] = drawn
        click.echo(json.dumps(found, indent=2))
        return
    if not result.runs and not result.groups:
        click.echo(f"no runs in {root}")
        return
    unicode = printable("±†") == "±†"
    lines = aggregation.render_table(
        result, mark="†" if unicode else "+", plus_minus="±" if unicode else "+-"
    )
    for line in lines:
        click.echo(printable(line))
    if drawn is not None:
        axis = {"categories": "categories", "log": "log scale", "linear": "linear scale"}
        left = f"; left out: {', '.join(drawn['left_out'])}" if drawn["left_out"] else ""
        click.echo(
            printable(
                f"chart: {drawn['path']} ({drawn['value']} against {drawn['x']}, "
                f"{axis[drawn['x_scale']]}, {drawn['lines']} line(s), {drawn['runs']} runs"
                f"{left})"
            )
        )


@click.command()
@click.argument("folder", type=click.Path(file_okay=False), default="runs")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON: one object per run, or the groups."
)
@click.option(
    "--group-by",
    "group_by",
    multiple=True,
    metavar="KEY[,KEY...]",
    help="Aggregate over seeds: group the runs by these settings of their config.toml (a key "
    "such as latent_dim, seed, likelihood, or <kind>_options.<key> such as "
    "objective_options.beta; a short name such as beta when only one setting ends so) and "
    "show each group's mean, sample standard deviation (ddof=1) and count per value.",
)
@click.option(
    "--value",
    "values",
    multiple=True,
    metavar="NAME[,NAME...]",
    help="With --group-by: aggregate these values, in this order (test_elbo, log_likelihood, "
    "nll, fid, mig, ..., or a metric's name for its single numbers). Default: the test ELBO "
    "and every single number of evaluation.json.",
)
@click.option(
    "--chart",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[PATH]",
    help="With --group-by: draw the first --value (default: the first value) against the "
    "first key, one line per combination of the other keys, error bars = std over seeds; "
    "written to PATH, or FOLDER/aggregate-<value>.png. Put FOLDER before it.",
)
@handle_errors
def runs(
    folder: str,
    as_json: bool,
    group_by: tuple[str, ...] = (),
    values: tuple[str, ...] = (),
    chart: str | None = None,
) -> None:
    """List the runs in FOLDER (default: runs) with their status and ELBOs (nats per item),
    or aggregate their values over seeds (--group-by).

    Columns: run folder, model (dataset: encoder/decoder-likelihood, latent size, posterior,
    prior and objective), status, epochs done, the last test ELBO, the best validation ELBO,
    and what `genmod evaluate` recorded; runs on 8-bit data also give bits/dim. `--json` also
    gives each component's options. `genmod compare` puts every evaluated value of several
    runs side by side.

    With --group-by (a study folder or any folder of runs): one row per group (the distinct
    values of the keys, sorted), with the finished runs averaged, the runs not finished
    (counted by status, left out), and per value `mean ± std (n)` with its unit; `std` is the
    sample standard deviation (ddof=1), `-` for one run. `differs†`: the group's runs were
    measured differently (not averaged); `†` after a value's name: the groups were.
    """
    root = Path(folder)
    if not root.is_dir():
        raise GenmodError(f"{folder!r} is not a folder.")
    keys = comma_separated(group_by)
    if group_by and not keys:
        raise GenmodError(
            "--group-by got no setting; give one or more, e.g. --group-by beta,latent_dim."
        )
    if values and not comma_separated(values):
        raise GenmodError("--value got no name; give one or more, e.g. --value test_elbo,fid.")
    if keys:
        _aggregate(root, keys, comma_separated(values), as_json, chart)
        return
    if values or chart is not None:
        raise GenmodError("--value and --chart go with --group-by KEY[,KEY...].")
    infos = [_describe_or_mark(p) for p in find_runs(root)]
    if as_json:
        click.echo(json.dumps(infos, indent=2))
        return
    if not infos:
        studies = _study_folders_in(root)
        hint = f"; its study folders: {', '.join(studies[:5])}" if studies else ""
        click.echo(f"no runs in {folder}{hint}")
        return
    rows = [("RUN", "MODEL", "STATUS", "EPOCHS", "TEST ELBO", "BEST VAL ELBO", "EVALUATION")]
    for info in infos:
        rows.append(
            (
                Path(info["run"]).name,
                info.get("model", "-"),
                info["status"],
                f"{info.get('epochs_done', 0)}/{info.get('epochs', '?')}",
                _number(info.get("test_elbo")) + _bits(info.get("test_bits_per_dim")),
                _number(info.get("best_validation_elbo")),
                _evaluation_text(info),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
