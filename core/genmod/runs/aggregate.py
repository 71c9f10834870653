"""Aggregating runs over seeds (``genmod runs FOLDER --group-by KEY,...``).

Any folder of run folders (a study folder, with or without its ``study.json``, or a plain
``runs/``) is read with :mod:`genmod.runs.compare` (every file untrusted: a damaged or crafted
file marks its run and never stops the table). The runs are grouped by settings of their
``config.toml`` (:func:`run_settings`: any :class:`~genmod.config.RunConfig` field, such as
``latent_dim``, ``seed`` or ``likelihood``, or a component option ``<kind>_options.<key>``;
:func:`resolve_keys` turns a short name such as ``beta`` into ``objective_options.beta`` when
only one setting is called so). For each group and each chosen value (the last test ELBO of
``metrics.jsonl`` and every single number of ``evaluation.json`` by default), over the group's
finished runs (usually its seeds): the mean, the sample standard deviation (ddof=1; ``None``
for fewer than two numbers) and the count. Runs that did not finish are left out and counted
per group; values measured with different methods within a group (compare's check of the
method facts) are not averaged but flagged; a value whose groups were measured differently
from each other is flagged as a whole.

:func:`aggregate` computes, :func:`render_table` and :func:`to_json` show, :func:`chart_data`
prepares the chart that :func:`genmod.pictures.charts.aggregate_figure` draws (this layer
imports no matplotlib, and no TensorFlow).
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genmod.config import RunConfig
from genmod.contract.errors import ConfigError
from genmod.runs import compare
from genmod.runs import lock as runlock
from genmod.runs.compare import RunValues
from genmod.runs.folder import SUMMARY_FILE

#: what the table's cells hold, in words (the table and --json say it)
STATISTIC = "mean ± sample standard deviation (ddof=1) over the finished runs of each group"
#: the status ``summary.json`` gives a run that ended normally (early stopping included)
FINISHED = "finished"
#: summary.json files larger than this are not read (genmod writes a few KiB)
MAX_SUMMARY_BYTES = 4 * 2**20
#: the setting that tells replicates apart: not reported as "also varies within a group"
REPLICATE_SETTINGS = ("seed",)
#: settings listed at most in an error message
MAX_LISTED = 40


# --- settings ------------------------------------------------------------------------------


def run_settings(config: Any) -> dict[str, Any]:
    """The settings of a run, flat: every :class:`~genmod.config.RunConfig` field by its name
    (``latent_dim``, ``seed``, ``likelihood``, ...) and every option of a table by a dotted
    name (``objective_options.beta``, ``encoder_options.hidden``, ``observers.NAME.KEY``).
    Values are as ``config.toml`` holds them (lists for tuples); an empty table gives no key.
    Option names are made safe to print (:func:`genmod.runs.compare.clean`)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                key = compare.clean(key, compare.MAX_NAME)
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            flat[prefix] = value

    walk("", config.to_dict())
    return flat


def canonical(value: Any) -> Any:
    """A hashable stand-in for a setting's value under which equal values meet: numbers by
    their float value (``4`` and ``4.0`` are one group), lists and tables recursively,
    non-finite floats and anything unusual by their text."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            return ("text", str(value))
        return number if math.isfinite(number) else ("text", repr(value))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(canonical(v) for v in value))
    if isinstance(value, dict):
        return ("table", tuple(sorted((str(k), canonical(v)) for k, v in value.items())))
    return ("text", str(value))


def sort_key(value: Any) -> tuple[int, Any]:
    """Orders a setting's values: numbers in numeric order, then true/false, texts, lists and
    other values by their text, and a missing setting (``None``) last."""
    if value is None:
        return (5, "")
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        key = canonical(value)
        return (0, key) if isinstance(key, float) else (3, str(value))
    if isinstance(value, str):
        return (2, value)
    return (3, setting_text(value))


def setting_text(value: Any) -> str:
    """A setting's value as shown: integers whole, floats with up to 12 significant digits
    (``4``, ``0.001``, ``1e-05``), ``true``/``false``, ``-`` for a run without the setting,
    texts and lists safe to print (:func:`genmod.runs.compare.clean`)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return compare.clean(value, 30)
    if isinstance(value, float):
        return f"{value:.12g}"
    if isinstance(value, str):
        return compare.clean(value, 60)
    try:
        text = json.dumps(value, separators=(", ", ": "), default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(type(value))
    return compare.clean(text, 60)


def _json_value(value: Any) -> Any:
    """A setting's value as JSON can hold it: numbers, true/false, null and lists of them as
    they are, texts cleaned, non-finite floats and anything else as text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value if _is_number(value) else setting_text(value)
    if isinstance(value, str):
        return compare.clean(value)
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return setting_text(value)


def varying_settings(settings: Sequence[dict[str, Any]]) -> list[str]:
    """The settings whose values differ between the runs (or that some runs lack), in the
    order :class:`~genmod.config.RunConfig` lists them."""
    names = list(dict.fromkeys(name for found in settings for name in found))
    varying = []
    for name in names:
        seen = {_hashable(found.get(name, _ABSENT)) for found in settings}
        if len(seen) > 1:
            varying.append(name)
    return varying


_ABSENT = ("absent",)


def _is_number(value: Any) -> bool:
    """A finite int or float, not true/false (what a numeric axis can place)."""
    return compare.Entry(value=value).number is not None


def _hashable(value: Any) -> Any:
    return value if value is _ABSENT else canonical(value)


@dataclass
class GroupKey:
    """A group key as given (``beta``) and the setting it names (``objective_options.beta``)."""

    given: str
    setting: str

    @property
    def resolved(self) -> bool:
        """Whether the given name was a short name that had to be resolved."""
        return self.given != self.setting


def resolve_keys(given: Sequence[str], settings: Sequence[dict[str, Any]]) -> list[GroupKey]:
    """The settings named by ``given`` (in order, each once): a full setting name of any run,
    or (with ``-`` read as ``_``) the last part of exactly one dotted setting name (``beta`` for
    ``objective_options.beta``). An unknown or ambiguous name is a :class:`ConfigError` listing
    the settings that vary across the runs (and, when ambiguous, the candidates)."""
    names = list(dict.fromkeys(name for found in settings for name in found))
    keys: list[GroupKey] = []
    for want in given:
        setting = _resolve(want, names, settings)
        if all(k.setting != setting for k in keys):
            keys.append(GroupKey(want, setting))
    return keys


def _resolve(want: str, names: Sequence[str], settings: Sequence[dict[str, Any]]) -> str:
    forms = list(dict.fromkeys([want, want.replace("-", "_")]))
    for form in forms:
        if form in names:
            return form
    candidates = [n for n in names if any(n.endswith("." + form) for form in forms)]
    if len(candidates) == 1:
        return candidates[0]
    varying = varying_settings(settings)
    shown = ", ".join(varying[:MAX_LISTED]) + (", ..." if len(varying) > MAX_LISTED else "")
    listing = f"the settings that vary across the runs: {shown or 'none'}"
    if candidates:
        raise ConfigError(
            f"--group-by {compare.clean(want)!r} is ambiguous: it could be "
            f"{', '.join(candidates)}; give the full name. {listing[0].upper()}{listing[1:]}."
        )
    if not settings:
        raise ConfigError(
            f"--group-by {compare.clean(want)!r}: no run with a readable config.toml to group."
        )
    raise ConfigError(
        f"--group-by {compare.clean(want)!r} is not a setting of these runs (a config.toml key "
        f"such as latent_dim, or <kind>_options.<key> such as objective_options.beta); "
        f"{listing}."
    )


# --- one run's training status ------------------------------------------------------------


def training_status(run: RunValues) -> tuple[str, str | None]:
    """How the training of ``run`` ended, from its ``summary.json`` (read as untrusted, through
    :func:`genmod.runs.compare.read_run_file`), and a note when that file is damaged. The
    status: ``finished``, ``interrupted``, ``diverged``; ``running``, ``killed`` or ``running or
    killed`` (the writer's lock record tells, as for ``genmod runs``); ``started`` (no summary
    yet); ``unreadable summary.json`` (the note says why); the run's own status when it is not
    ``ok``. Changes nothing."""
    if run.status != "ok":
        return run.status, None
    unreadable = "unreadable summary.json"
    data, problem = compare.read_run_file(run.path, SUMMARY_FILE, MAX_SUMMARY_BYTES)
    if problem is not None:
        return unreadable, problem
    if data is None:
        return "started", None
    try:
        summary = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        return unreadable, f"{SUMMARY_FILE} is not valid JSON ({type(exc).__name__})"
    status = summary.get("status") if isinstance(summary, dict) else None
    if not isinstance(status, str):
        return unreadable, f"{SUMMARY_FILE} has no status"
    if status == "running":  # a killed run never got to say so; its lock record tells
        writer = runlock.holder_state(run.path)
        return {"held": "running", "dead": "killed"}.get(writer or "", "running or killed"), None
    return compare.clean(status, 40), None


# --- the aggregate -------------------------------------------------------------------------


@dataclass
class Stat:
    """One value over the finished runs of one group.

    ``mean`` and ``std`` (sample standard deviation, ddof=1) of the ``numbers`` of the runs
    ``runs`` (paths, same order); ``std`` is ``None`` for fewer than two numbers, both are
    ``None`` without numbers or when ``differs`` is not empty (the runs were measured
    differently: fact -> run path -> value; not averaged). ``missing``: finished runs without
    the value (not evaluated, or the metric could not compute it, ``n/a``); ``damaged``: runs
    whose value or file is unusable (the run's notes say why); ``problem``: why no mean was
    computed although there were numbers."""

    name: str
    unit: str | None = None
    mean: float | None = None
    std: float | None = None
    runs: list[str] = field(default_factory=list)
    numbers: list[float] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    differs: dict[str, dict[str, Any]] = field(default_factory=dict)
    problem: str | None = None

    @property
    def count(self) -> int:
        """How many numbers were averaged (0 when the runs were measured differently)."""
        return 0 if self.differs else len(self.numbers)


@dataclass
class Group:
    """The runs that share the values ``key`` of the group keys (``None``: the runs lack that
    setting): the finished ones (``runs``), the others with their status (``not_finished``),
    each chosen value's :class:`Stat`, and the other settings (not the seed) that vary between
    the group's runs (``also_varies``: setting -> the values, sorted), which its means mix."""

    key: tuple[Any, ...]
    runs: list[RunValues] = field(default_factory=list)
    not_finished: list[tuple[RunValues, str]] = field(default_factory=list)
    stats: dict[str, Stat] = field(default_factory=dict)
    also_varies: dict[str, list[Any]] = field(default_factory=dict)


@dataclass
class Aggregate:
    """The runs of a folder grouped by ``keys``: ``values`` (the columns, as
    :func:`genmod.runs.compare.build_columns` describes them, with ``differs`` computed over
    the runs of the groups measured alike within themselves: where the groups were measured
    differently from each other), ``groups`` sorted by their keys, the runs without a readable
    config (``ungrouped``), every run read (``runs``) and every note on a run's damaged files
    (``notes``: run, note; those of :func:`genmod.runs.compare.read_run` and of
    ``summary.json``)."""

    keys: list[GroupKey]
    values: list[compare.Column]
    groups: list[Group]
    ungrouped: list[RunValues]
    runs: list[RunValues]
    notes: list[tuple[RunValues, str]] = field(default_factory=list)


def aggregate(
    runs: Sequence[RunValues],
    given_keys: Sequence[str],
    wanted: Sequence[str] = (),
    planned: Sequence[tuple[Path, RunConfig, str]] = (),
) -> Aggregate:
    """Group ``runs`` (read by :func:`genmod.runs.compare.find_runs`) by the settings named in
    ``given_keys`` (:func:`resolve_keys`) and aggregate the values named in ``wanted`` (value or
    metric names, :func:`genmod.runs.compare.choose_values`; default: every single number the
    finished runs have, the test ELBO first). Runs whose ``summary.json`` does not say
    ``finished`` are counted per group, not averaged, and so are ``planned`` runs that no run
    folder gives yet: (path, configuration, status such as ``not started`` or ``failed``), from
    a study's plan, so that a group missing runs never looks complete. Raises
    :class:`ConfigError` for an unknown or ambiguous key, an unknown value, or a value that
    holds lists (per factor)."""
    if not given_keys:
        raise ConfigError("--group-by needs at least one setting.")
    readable = [r for r in runs if r.status == "ok" and r.config is not None]
    ungrouped = [r for r in runs if not (r.status == "ok" and r.config is not None)]
    absent = [(RunValues(path, config=config), status) for path, config, status in planned]
    settings = {id(r): run_settings(r.config) for r in readable + [r for r, _ in absent]}
    keys = resolve_keys(given_keys, list(settings.values()))
    checked = {id(r): training_status(r) for r in readable}
    statuses = {key: status for key, (status, _) in checked.items()}
    statuses.update({id(r): status for r, status in absent})
    readable += [r for r, _ in absent]
    finished = [r for r in readable if statuses[id(r)] == FINISHED]
    if wanted:
        names = compare.choose_values(finished, wanted)
        columns = compare.build_columns(finished, names)
        lists = [c.name for c in columns if c.is_list]
        if lists:
            raise ConfigError(
                f"{', '.join(lists)} holds a list of numbers per run (per factor or dimension); "
                "--group-by averages single numbers only (such as mig, dci_disentanglement)."
            )
    else:
        columns = compare.build_columns(finished, None, lists=False)
    groups: dict[tuple[Any, ...], Group] = {}
    for run in readable:
        found = settings[id(run)]
        values = tuple(found.get(k.setting) for k in keys)
        hashed = tuple(canonical(v) for v in values)
        group = groups.setdefault(hashed, Group(key=values))
        if statuses[id(run)] == FINISHED:
            group.runs.append(run)
        else:
            group.not_finished.append((run, statuses[id(run)]))
    ordered = sorted(groups.values(), key=lambda g: tuple(sort_key(v) for v in g.key))
    grouped = {k.setting for k in keys} | set(REPLICATE_SETTINGS)
    for group in ordered:
        for column in columns:
            group.stats[column.name] = _stat(group.runs, column)
        members = [settings[id(r)] for r in group.runs] or [
            settings[id(r)] for r, _ in group.not_finished
        ]
        for name in varying_settings(members):
            if name not in grouped and not name.startswith("observers."):
                seen = {canonical(m.get(name)): m.get(name) for m in members}
                group.also_varies[name] = sorted(seen.values(), key=sort_key)
    for column in columns:  # between the groups that were measured alike within themselves
        pooled = [r for g in ordered if not g.stats[column.name].differs for r in g.runs]
        column.differs = compare.build_columns(pooled, [column.name])[0].differs
    notes = []
    for run in runs:
        notes += [(run, note) for note in run.notes]
        _, note = checked.get(id(run), (None, None))
        if note is not None:
            notes.append((run, note))
    return Aggregate(keys, columns, ordered, ungrouped, list(runs), notes)


def _stat(runs: Sequence[RunValues], column: compare.Column) -> Stat:
    stat = Stat(column.name, unit=column.unit)
    for run in runs:
        entry = run.values.get(column.name)
        if entry is None:
            (stat.damaged if run.unknown(column) else stat.missing).append(str(run.path))
        elif entry.problem is not None:
            stat.damaged.append(str(run.path))
        elif entry.number is None:
            stat.missing.append(str(run.path))  # n/a: the metric could not compute it
        else:
            stat.runs.append(str(run.path))
            stat.numbers.append(entry.number)
    if len(runs) >= 2:
        stat.differs = compare.build_columns(runs, [column.name])[0].differs
    if stat.differs or not stat.numbers:
        return stat
    try:
        mean = float(statistics.mean(stat.numbers))
        std = float(statistics.stdev(stat.numbers)) if len(stat.numbers) >= 2 else None
    except (OverflowError, ValueError) as exc:  # numbers near the float limits
        stat.problem = f"the statistics overflow ({type(exc).__name__})"
        return stat
    if not math.isfinite(mean) or (std is not None and not math.isfinite(std)):
        stat.problem = "the statistics overflow"
        return stat
    stat.mean, stat.std = mean, std
    return stat


# --- showing it ----------------------------------------------------------------------------


def group_label(result: Aggregate, group: Group) -> str:
    """``beta=4, latent_dim=16``: a group by its keys as given."""
    return ", ".join(
        f"{k.given}={setting_text(v)}" for k, v in zip(result.keys, group.key, strict=True)
    )


def _status_counts(group: Group) -> str:
    counts = Counter(status for _, status in group.not_finished)
    if not counts:
        return "-"
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def cell_text(stat: Stat, *, mark: str = "†", plus_minus: str = "±") -> str:
    """A table cell: ``mean ± std (n)`` with 4 significant digits (``± -`` for one run);
    ``differs`` + ``mark`` when the group's runs were measured differently (not averaged);
    ``?`` when every run's value is damaged; ``-`` when no run has the value."""
    if stat.differs:
        return f"differs{mark}"
    if stat.mean is None:
        return "?" if stat.damaged or stat.problem else "-"
    std = "-" if stat.std is None else compare.format_number(stat.std)
    return f"{compare.format_number(stat.mean)} {plus_minus} {std} ({len(stat.numbers)})"


def render_table(result: Aggregate, *, mark: str = "†", plus_minus: str = "±") -> list[str]:
    """The aggregate as text lines: which setting each short key named, the statistic, the
    table (one row per group, sorted by the keys: the key values, finished runs averaged, runs
    not finished by status, one ``mean ± std (n)`` cell per value, units under the names; a
    ``mark`` after a name whose groups were measured differently), then the footnotes."""
    lines = [f"{k.given}: {k.setting}" for k in result.keys if k.resolved]
    lines.append(f"{STATISTIC.replace('±', plus_minus)}; (n): the runs averaged")
    lines.append("")
    header = [k.given for k in result.keys] + ["runs", "not finished"]
    header += [c.name + (mark if c.differs else "") for c in result.values]
    units = [""] * (len(result.keys) + 2) + [c.unit or "" for c in result.values]
    rows = [header, units] if result.values else [header]  # no units line without values
    for group in result.groups:
        row = [setting_text(v) for v in group.key]
        row += [str(len(group.runs)), _status_counts(group)]
        row += [
            cell_text(group.stats[c.name], mark=mark, plus_minus=plus_minus) for c in result.values
        ]
        rows.append(row)
    fixed = len(result.keys) + 2
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        cells = [cell.ljust(w) for cell, w in zip(row[:fixed], widths, strict=False)]
        cells += [cell.rjust(w) for cell, w in zip(row[fixed:], widths[fixed:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return lines + _footnotes(result, mark)


def _footnotes(result: Aggregate, mark: str) -> list[str]:
    labels = {str(r.path): r.label for r in result.runs}
    by_group = {str(r.path): f"[{group_label(result, g)}]" for g in result.groups for r in g.runs}
    notes = []
    for column in result.values:
        if column.differs:  # each group's runs agree: name the groups, not every run
            differs = {
                fact: {by_group.get(path, path): value for path, value in by_run.items()}
                for fact, by_run in column.differs.items()
            }
            between = compare.Column(column.name, column.source, differs=differs)
            notes.append(
                f"{mark} {column.name}: the groups were measured differently (compare their "
                f"means with care): {compare.difference_text(between, {})}"
            )
    for group in result.groups:
        for stat in group.stats.values():
            if stat.differs:
                within = compare.Column(stat.name, "evaluation", differs=stat.differs)
                notes.append(
                    f"{mark} {stat.name} at {group_label(result, group)}: measured differently "
                    f"within the group, not averaged: {compare.difference_text(within, labels)}"
                )
            elif stat.problem:
                notes.append(f"? {stat.name} at {group_label(result, group)}: {stat.problem}")
    mixed: dict[str, set[str]] = {}
    for group in result.groups:
        for name in group.also_varies:
            mixed.setdefault(name, set()).add(group_label(result, group))
    for name, where in mixed.items():
        notes.append(
            f"note: {name} also varies within {len(where)} group(s), whose means mix its "
            f"values; add it to --group-by to separate them"
        )
    if result.ungrouped:
        notes.append(
            f"? {len(result.ungrouped)} run(s) not grouped (no readable config.toml): "
            + ", ".join(f"{r.label} ({r.status})" for r in result.ungrouped[:20])
            + (", ..." if len(result.ungrouped) > 20 else "")
        )
    for run, note in result.notes:  # every "?" and every damaged file has its note
        where = run.label if run.status == "ok" else f"{run.label} ({run.status})"
        notes.append(f"? {where}: {note}")
    return [""] + notes if notes else []


def to_json(result: Aggregate) -> dict[str, Any]:
    """The aggregate as JSON: ``keys`` (given name and setting), ``statistic``, ``values``
    (per value its unit, direction, whether the groups were measured alike and what differs),
    ``groups`` (per group its ``key`` {setting: value}, ``runs`` averaged, ``not_finished``
    runs with their status, ``also_varies`` and per value ``mean``, ``std``, ``count``,
    ``unit``, ``runs``, ``values``, ``missing``, ``damaged``, ``comparable``, ``differs``),
    and the runs not grouped (``ungrouped``) and every note on a run's files (``notes``)."""
    return {
        "keys": [{"name": k.given, "setting": k.setting} for k in result.keys],
        "statistic": STATISTIC,
        "values": [
            {
                "name": c.name,
                "source": "metrics.jsonl" if c.source == "training" else compare.EVALUATION_FILE,
                "unit": c.unit,
                "higher_is_better": c.higher_is_better,
                "comparable": not c.differs,
                "differs": c.differs,
            }
            for c in result.values
        ],
        "groups": [
            {
                "key": {k.setting: _json_value(v) for k, v in zip(result.keys, g.key, strict=True)},
                "runs": [str(r.path) for r in g.runs],
                "not_finished": [{"run": str(r.path), "status": s} for r, s in g.not_finished],
                "also_varies": {
                    name: [_json_value(v) for v in seen] for name, seen in g.also_varies.items()
                },
                "values": {name: _stat_json(stat) for name, stat in g.stats.items()},
            }
            for g in result.groups
        ],
        "ungrouped": [{"run": str(r.path), "status": r.status} for r in result.ungrouped],
        "notes": [{"run": str(r.path), "note": note} for r, note in result.notes],
    }


def _stat_json(stat: Stat) -> dict[str, Any]:
    return {
        "mean": stat.mean,
        "std": stat.std,
        "count": stat.count,
        "unit": stat.unit,
        "runs": list(stat.runs),
        "values": list(stat.numbers),
        "missing": list(stat.missing),
        "damaged": list(stat.damaged),
        "comparable": not stat.differs,
        "differs": stat.differs,
        "problem": stat.problem,
    }


# --- the chart's data ----------------------------------------------------------------------


@dataclass
class ChartLine:
    """One line of the chart: the groups that share the values of the keys after the first
    (``label``), as x values (numbers, or category positions), means and standard deviations
    (0 where there is one run) and the counts averaged."""

    label: str
    x: list[float]
    mean: list[float]
    std: list[float]
    count: list[int]


@dataclass
class ChartData:
    """What :func:`genmod.pictures.charts.aggregate_figure` draws: ``value`` (with ``unit``)
    against the first group key (``x_label``) on a ``x_scale`` axis (``linear``, ``log`` or
    ``categories``, whose names are ``categories`` at positions 0, 1, ...), one line per
    combination of the other keys, error bars = sample std; ``runs``: the runs averaged into
    the points drawn; ``left_out``: groups without a mean to draw (no value, or measured
    differently within the group), in words."""

    value: str
    unit: str | None
    x_label: str
    x_scale: str
    categories: list[str]
    lines: list[ChartLine]
    runs: int
    left_out: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The chart's title: the value and how many runs its points average."""
        return f"{self.value}: mean ± sample std over seeds, {self.runs} runs"

    @property
    def y_label(self) -> str:
        """The value with its unit."""
        return f"{self.value} ({self.unit})" if self.unit else self.value


#: a numeric x axis is drawn on a log scale when its positive values span more than this factor
LOG_SPAN = 10.0


def chart_data(result: Aggregate, value: str | None = None) -> ChartData:
    """The chart of ``value`` (default: the first value of the aggregate) against the first
    group key. The x axis is numeric when every group's first key is a number (not a
    true/false): on a log scale when all are positive and the largest is more than
    :data:`LOG_SPAN` times the smallest, else linear; otherwise its values are categories in
    the table's order. Raises :class:`ConfigError` when the value is not in the aggregate or
    no group has a mean of it."""
    names = [c.name for c in result.values]
    if value is None:
        if not names:
            raise ConfigError("--chart: the finished runs have no value to draw.")
        value = names[0]
    if value not in names:
        raise ConfigError(
            f"--chart: {compare.clean(value)!r} is not among the values aggregated "
            f"({', '.join(names) or 'none'})."
        )
    column = next(c for c in result.values if c.name == value)
    first = result.keys[0]
    xs = [g.key[0] for g in result.groups]
    numeric = bool(xs) and all(_is_number(x) for x in xs)
    categories: list[str] = []
    if numeric:
        positive = [float(x) for x in xs]
        scale = "linear"
        if min(positive) > 0 and max(positive) > LOG_SPAN * min(positive):
            scale = "log"
    else:
        scale = "categories"
        for x in xs:
            if setting_text(x) not in categories:
                categories.append(setting_text(x))
    lines: dict[tuple[Any, ...], ChartLine] = {}
    left_out = []
    runs = 0
    for group in result.groups:
        stat = group.stats[value]
        if stat.mean is None:
            why = "measured differently" if stat.differs else "no value"
            left_out.append(f"{group_label(result, group)} ({why})")
            continue
        rest = tuple(canonical(v) for v in group.key[1:])
        label = ", ".join(
            f"{k.given}={setting_text(v)}"
            for k, v in zip(result.keys[1:], group.key[1:], strict=True)
        )
        line = lines.setdefault(rest, ChartLine(label or value, [], [], [], []))
        x = group.key[0]
        line.x.append(float(x) if numeric else float(categories.index(setting_text(x))))
        line.mean.append(stat.mean)
        line.std.append(stat.std or 0.0)
        line.count.append(len(stat.numbers))
        runs += len(stat.numbers)
    if not lines:
        raise ConfigError(f"--chart: no group has a mean of {value} to draw.")
    x_label = first.setting if not first.resolved else f"{first.given} ({first.setting})"
    return ChartData(
        value=value,
        unit=column.unit,
        x_label=x_label,
        x_scale=scale,
        categories=categories,
        lines=list(lines.values()),
        runs=runs,
        left_out=left_out,
    )


def chart_path(folder: Path, value: str) -> Path:
    """The default chart file: ``FOLDER/aggregate-<value>.png``, the value's name kept to
    letters, digits, ``-``, ``_`` and ``.`` (a crafted name cannot leave the folder)."""
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in value)
    return Path(folder) / f"aggregate-{safe.strip('.') or 'value'}.png"
