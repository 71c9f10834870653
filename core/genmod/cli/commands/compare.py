"""`genmod compare [RUN | FOLDER]...`: the evaluated values of runs side by side (no TensorFlow).

The table logic (reading the runs' files as untrusted input, checking methods, marking the
best run) is :mod:`genmod.runs.compare`; this module parses the options and prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from genmod.cli.common import comma_separated, handle_errors, printable
from genmod.contract.errors import GenmodError
from genmod.runs import compare as comparison


def _mark() -> str:
    """``†`` for columns measured differently, ``+`` where stdout cannot print it."""
    return "†" if printable("†") == "†" else "+"


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(file_okay=False))
@click.option(
    "--value",
    "values",
    multiple=True,
    metavar="NAME[,NAME...]",
    help="Show these values only, in this order (repeat or separate with commas): a value "
    "(fid, mig, log_likelihood, test_elbo, a per-factor list such as mig_per_factor) or a "
    "metric, for all its single numbers (dci, precision-recall). Default: every single number.",
)
@click.option(
    "--sort",
    "sort_by",
    metavar="NAME",
    help="Order the runs by this value, best first (largest first for a value without a "
    "better direction); runs without it come last.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print JSON: per run its values with units, direction and the method facts "
    "compared; per column the best runs and the facts in which the runs differ.",
)
@handle_errors
def compare(paths: tuple[str, ...], values: tuple[str, ...], sort_by: str | None, as_json: bool):
    """Compare the evaluated values of runs side by side: one row per run, one column per value.

    Each PATH is a run folder or a folder of runs (default: runs); give several to put runs
    of different folders side by side. Columns: the last test ELBO of the training
    (metrics.jsonl), then every value `genmod evaluate` recorded (fid, kid, precision, mig,
    dci_disentanglement, log_likelihood, ..., plugin metrics too), with units under the names
    and 4 significant digits. `*` marks the best run of a column (the metric says whether
    higher or lower is better). `†` after a name: its runs were measured differently (feature
    extractor or its weights, sampler, sample counts, K, test items, dataset, metric version
    or options), so no best is marked and a footnote says what differs. `-`: the run has no
    such value; `n/a`: the metric could not compute it; `?`: a damaged or unreadable file (a
    footnote says which). Files of runs are untrusted: nothing is read through a link that
    leads outside its run folder.
    """
    roots = [Path(p) for p in paths] or [Path("runs")]
    for root in roots:
        if not root.is_dir():
            raise GenmodError(f"{str(root)!r} is not a folder.")
    runs = comparison.find_runs(roots)
    wanted = comma_separated(values)
    names = comparison.choose_values(runs, wanted) if wanted else None
    if sort_by:
        (sort_name,) = comparison.choose_values(runs, [sort_by])[:1]
        if names is not None and sort_name not in names:
            names.append(sort_name)
        runs = comparison.sort_runs(runs, comparison.build_columns(runs, [sort_name])[0])
    columns = comparison.build_columns(runs, names, lists=as_json)
    if as_json:
        click.echo(json.dumps(comparison.to_json(runs, columns), indent=2))
        return
    if not runs:
        click.echo(f"no runs in {', '.join(map(str, roots))}")
        return
    for line in comparison.render_table(runs, columns, mark=_mark()):
        click.echo(printable(line))
