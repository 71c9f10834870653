"""Comparing the evaluated values of several runs side by side (``genmod compare``).

:func:`read_run` reads from one run folder the values ``genmod evaluate`` wrote to
``evaluation.json`` (format 2: every value with its unit, direction and method; and the flat
files of earlier versions, whose known keys get their units here) and the last test ELBO of
``metrics.jsonl``. :func:`build_columns` lines them up, one column per value, checks that the
runs of a column were measured the same way (the method facts of :data:`FACT_KEYS`, the
metric's options, the unit) and marks the best run of each column whose runs agree;
:func:`render_table` and :func:`to_json` show the result.

Run folders are untrusted (docs/runs.md, "Trust model"): a damaged or crafted file marks its
run's cells (``?``) with a note and never stops the comparison, a file behind a link that
leads outside its run folder is not read, files larger than a run ever writes are not read, and
text from a file reaches the terminal only with control characters replaced. No TensorFlow here.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genmod.config import files as config_files
from genmod.config.settings import RunConfig
from genmod.contract.errors import ConfigError, GenmodError
from genmod.runs import trust
from genmod.runs.folder import METRICS_FILE

#: written by ``genmod evaluate`` (genmod.evaluate.run, which imports TensorFlow)
EVALUATION_FILE = "evaluation.json"

#: files larger than genmod ever writes are not read (a crafted file must not exhaust memory)
MAX_EVALUATION_BYTES = 32 * 2**20
MAX_CONFIG_BYTES = 4 * 2**20
MAX_METRICS_BYTES = 128 * 2**20
#: values read from one evaluation.json (genmod's own metrics give about 30)
MAX_VALUES = 1000
#: characters of one text from a file that are kept (longer ones are cut, with their sha256)
MAX_TEXT = 120
#: characters kept of a value's name and unit (genmod's longest name has 25)
MAX_NAME = 40

#: the columns read from metrics.jsonl (its last epoch), named as there: unit, higher is better
TRAINING_VALUES = {
    "test_elbo": ("nats", True),
    "test_reconstruction": ("nats", True),
    "test_kl": ("nats", None),
    "test_bits_per_dim": ("bits/dim", False),
}

#: the method facts of a value that must agree between runs for their values to be compared;
#: also compared: the dataset with its options, the sampler with its options and version, the
#: feature extractor's name, version and weights' sha256, the metric's options, the unit
FACT_KEYS = (
    "metric",
    "metric_version",
    "dataset",
    "binarize",
    "test_size",
    "importance_samples_K",
    "generated_samples",
    "real_items",
    "scored_items",
)

#: metric options that bound memory or batch work but do not change the numbers
RESOURCE_OPTIONS = frozenset({"batch_size", "chunk_size", "memory_budget_mib"})

#: the values of a flat evaluation.json (no "format": genmod before metrics had methods):
#: unit, higher is better, the metric that gives them now, whether K importance samples made it
FLAT_VALUES = {
    "log_likelihood": ("nats", True, "log-likelihood", True),
    "nll": ("nats", False, "log-likelihood", True),
    "bits_per_dim": ("bits/dim", False, "log-likelihood", True),
    "elbo": ("nats", True, "elbo", True),
    "reconstruction": ("nats", True, "elbo", True),
    "kl": ("nats", None, "elbo", True),
    "elbo_bits_per_dim": ("bits/dim", False, "elbo", True),
    "active_units": ("count", None, "active-units", False),
    "mutual_information": ("nats", None, "mutual-information", False),
}


@dataclass
class Entry:
    """One run's value of one column.

    ``value``: a number, a list of numbers (per factor, per dimension) or ``None`` (the metric
    could not compute it for this model); ``facts``: the method facts compared between runs;
    ``options``: the metric's options (``None`` when the file does not record them);
    ``problem``: why the record cannot be used (then ``value`` is ``None``).
    """

    value: Any = None
    unit: str | None = None
    higher_is_better: bool | None = None
    metric: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] | None = None
    problem: str | None = None

    @property
    def number(self) -> float | None:
        """The value as a float when it is one finite number, else ``None``."""
        if self.problem is None and _is_number(self.value):
            return float(self.value)
        return None


@dataclass
class RunValues:
    """What one run folder gives to the comparison.

    ``status``: ``ok``, ``unreadable`` (its config.toml), ``refused`` (a link out of its
    folder) or ``broken`` (anything else); ``evaluation_format``: 2 (or newer), 1 (a flat
    file of an earlier genmod), ``None`` (not evaluated); ``evaluation_problem`` and
    ``training_problem``: why its evaluation.json or metrics.jsonl was not used (their values
    are then unknown, ``?``); ``notes``: every damage found, in words; ``config``: its
    validated ``config.toml`` (``None`` unless ``status`` is ``ok``), for grouping runs by
    their settings (:mod:`genmod.runs.aggregate`).
    """

    path: Path
    status: str = "ok"
    evaluation_format: int | None = None
    evaluation_problem: str | None = None
    training_problem: str | None = None
    values: dict[str, Entry] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    label: str = ""
    config: RunConfig | None = None

    def unknown(self, column: Column) -> bool:
        """Whether this run's value of ``column`` cannot be told (its file was not usable)."""
        if self.status != "ok":
            return True
        if column.source == "training":
            return self.training_problem is not None
        return self.evaluation_problem is not None


@dataclass
class Column:
    """One value across the runs: its unit and direction (``None`` when the runs disagree
    or the metric declares none), whether it holds lists, the runs marked best (paths), and
    the method facts in which the runs differ (fact -> run path -> value)."""

    name: str
    source: str  # "training" (metrics.jsonl) or "evaluation"
    unit: str | None = None
    higher_is_better: bool | None = None
    is_list: bool = False
    best: set[str] = field(default_factory=set)
    differs: dict[str, dict[str, Any]] = field(default_factory=dict)


# --- reading one run ------------------------------------------------------------------------


class _Unusable(Exception):
    """A file of the run that is not read, with the reason in words; ``outside``: it is a
    link that leads outside the run folder."""

    def __init__(self, reason: str, *, outside: bool = False) -> None:
        super().__init__(reason)
        self.outside = outside


def clean(text: Any, limit: int = MAX_TEXT) -> str:
    """``text`` safe to print: control and other non-printing characters become ``?``, and a
    text longer than ``limit`` is cut, ending in ``...`` and the start of its sha256 (so two
    long texts that differ stay different)."""
    text = str(text)
    if len(text) > limit:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        text = f"{text[:limit]}...{digest}"
    return "".join("?" if unicodedata.category(ch).startswith("C") else ch for ch in text)


def _is_number(value: Any) -> bool:
    """A finite int or float (not a bool, not an int too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _kind(value: Any) -> str:
    """What a JSON value is, in words."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    return {str: "text", dict: "an object", list: "a list"}.get(type(value), type(value).__name__)


def _value_problem(value: Any) -> str | None:
    """Why ``value`` is not a value genmod writes (a number, a list of numbers, null)."""
    if value is None or _is_number(value):
        return None
    if isinstance(value, list):
        if all(v is None or _is_number(v) for v in value):
            return None
        return "its value is a list holding something other than finite numbers"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        shown = f" ({value})" if isinstance(value, float) else " (too large)"
        return f"its value is not a finite number{shown}"
    return f"its value is {_kind(value)}, not a number"


def _fact(value: Any) -> Any:
    """A method fact as a short JSON-ready value: numbers, bools and null as they are, text
    cleaned, anything else as compact JSON text."""
    if value is None or isinstance(value, bool) or _is_number(value):
        return value
    if isinstance(value, str):
        return clean(value)
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        text = repr(type(value))
    return clean(text)


def _named(name: Any, options: Any) -> str:
    """``name`` or ``name(key=value, ...)``: a sampler, extractor or dataset with its options."""
    text = str(name)
    if isinstance(options, dict) and options:
        parts = []
        for key in sorted(options, key=str):
            value = options[key]
            shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            parts.append(f"{key}={shown}")
        text += "(" + ", ".join(parts) + ")"
    return clean(text)


def _read_bytes(run_dir: Path, name: str, limit: int) -> bytes | None:
    """The bytes of ``run_dir/name`` (``None`` when there is no such file); a link that leads
    outside the run folder, something that is not a regular file (a FIFO would block) or a file
    larger than ``limit`` raises :class:`_Unusable` without reading it."""
    path = run_dir / name
    if not os.path.lexists(path):
        return None
    if not trust.is_inside(run_dir, path):
        raise _Unusable(
            f"{name} is a link that leads outside the run folder; not read", outside=True
        )
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise _Unusable(f"{name} is not a regular file; not read")
        if info.st_size > limit:
            raise _Unusable(f"{name} holds {info.st_size} bytes, more than genmod writes; not read")
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise _Unusable(f"{name} cannot be read ({exc.strerror or type(exc).__name__})") from None
    if len(data) > limit:
        raise _Unusable(f"{name} holds more than {limit} bytes, more than genmod writes; not read")
    return data


def read_run_file(run_dir: Path, name: str, limit: int) -> tuple[bytes | None, str | None]:
    """``(bytes, None)`` of the file ``run_dir/name``, ``(None, None)`` when there is none, or
    ``(None, why)`` when it is not read: a link that leads outside the run folder, not a
    regular file, larger than ``limit`` bytes, unreadable. The same guard as the run's own
    files get here; never raises."""
    try:
        return _read_bytes(Path(run_dir), name, limit), None
    except _Unusable as exc:
        return None, str(exc)


def read_run(path: Path) -> RunValues:
    """The values of the run folder ``path``, its damage marked, never an exception."""
    run = RunValues(Path(path))
    try:
        _read_into(run)
    except Exception as exc:  # noqa: BLE001 - damage is reported on the run's own row
        run.status = "broken"
        run.values = {}
        run.config = None
        run.notes.append(f"{type(exc).__name__}: {clean(exc)}")
    return run


def _read_into(run: RunValues) -> None:
    run_dir = run.path
    try:
        _read_bytes(run_dir, config_files.CONFIG_FILE, MAX_CONFIG_BYTES)
        config, meta = config_files.read_config(run_dir)
    except _Unusable as exc:
        run.status = "refused" if exc.outside else "unreadable"
        run.notes.append(str(exc))
        return
    except (GenmodError, OSError, ValueError) as exc:  # a bad setting, bad TOML or UTF-8
        run.status = "unreadable"
        run.notes.append(f"config.toml: {clean(exc, 300)}")
        return
    run.config = config
    dataset = _named(config.dataset, dict(config.dataset_options))
    binarize = meta.get("resolved_binarize") or config.binarize
    _read_training(run, dataset, binarize, config.test_size)
    _read_evaluation(run, dataset)


def _read_training(run: RunValues, dataset: str, binarize: Any, test_size: Any) -> None:
    """The last epoch's test ELBO, its reconstruction and KL terms (and bits/dim) of
    metrics.jsonl, read as
    :func:`genmod.runs.folder.read_metrics` does: up to the first damaged line."""
    try:
        data = _read_bytes(run.path, METRICS_FILE, MAX_METRICS_BYTES)
    except _Unusable as exc:
        run.training_problem = str(exc)
        run.notes.append(str(exc))
        return
    if data is None:
        return
    last: dict[str, Any] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            break
        if not isinstance(record, dict):
            break
        last = record
    facts = {
        "metric": "metrics.jsonl",
        "dataset": dataset,
        "binarize": _fact(binarize),
        "test_size": test_size if test_size is not None else "all",
    }
    for name, (unit, higher) in TRAINING_VALUES.items():
        if name not in last:
            continue
        value = last[name]
        problem = None if _is_number(value) else _value_problem(value) or "it is not a number"
        if problem:
            run.notes.append(f"{name} (metrics.jsonl): {problem}")
        run.values[name] = Entry(
            value=None if problem else value,
            unit=unit,
            higher_is_better=higher,
            metric="metrics.jsonl",
            facts=dict(facts),
            problem=problem,
        )


def _read_evaluation(run: RunValues, dataset: str) -> None:
    try:
        data = _read_bytes(run.path, EVALUATION_FILE, MAX_EVALUATION_BYTES)
    except _Unusable as exc:
        run.evaluation_problem = str(exc)
        run.notes.append(str(exc))
        return
    if data is None:
        return
    try:
        found = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep
        problem = f"{EVALUATION_FILE} is not valid JSON ({type(exc).__name__})"
        run.evaluation_problem = problem
        run.notes.append(problem)
        return
    if not isinstance(found, dict):
        problem = f"{EVALUATION_FILE} holds {_kind(found)}, not a JSON object"
        run.evaluation_problem = problem
        run.notes.append(problem)
        return
    version = found.get("format")
    if version is None:
        run.evaluation_format = 1
        _read_flat(run, found, dataset)
        return
    if not isinstance(version, int) or isinstance(version, bool) or version < 2:
        problem = f"{EVALUATION_FILE} has an unknown format {_fact(version)!r}"
        run.evaluation_problem = problem
        run.notes.append(problem)
        return
    run.evaluation_format = version
    values = found.get("values")
    if not isinstance(values, dict):
        problem = f"{EVALUATION_FILE} (format {version}) has no table of values"
        run.evaluation_problem = problem
        run.notes.append(problem)
        return
    if version > 2:
        run.notes.append(
            f"{EVALUATION_FILE} was written in format {version} by a newer genmod; read as 2"
        )
    if len(values) > MAX_VALUES:
        run.notes.append(
            f"{EVALUATION_FILE} holds {len(values)} values; the first {MAX_VALUES} are read"
        )
    for index, (name, record) in enumerate(values.items()):
        if index == MAX_VALUES:
            break
        name = clean(name, MAX_NAME)
        while name in TRAINING_VALUES or name in run.values:
            name = f"evaluation.{name}"  # the training's column of that name is another value
        entry = _entry(record, dataset)
        if entry.problem:
            run.notes.append(f"{name}: {entry.problem}")
        run.values[name] = entry


def _entry(record: Any, dataset: str) -> Entry:
    """One value record of a format-2 evaluation.json (see genmod.evaluate.suite.run_metric)."""
    if not isinstance(record, dict):
        return Entry(problem=f"its record is {_kind(record)}, not an object")
    entry = Entry()
    problems = []
    value = record.get("value")
    problem = _value_problem(value)
    if problem:
        problems.append(problem)
    else:
        entry.value = value
    unit = record.get("unit")
    if unit is None or isinstance(unit, str):
        entry.unit = None if unit is None else clean(unit, MAX_NAME)
    else:
        problems.append(f"its unit is {_kind(unit)}, not text")
    higher = record.get("higher_is_better")
    if higher is None or isinstance(higher, bool):
        entry.higher_is_better = higher
    else:
        problems.append(f"higher_is_better is {_kind(higher)}, not true, false or null")
    method = record.get("method")
    if isinstance(method, dict):
        entry.facts = {key: _fact(method[key]) for key in FACT_KEYS if key in method}
        if isinstance(method.get("dataset"), str):
            entry.facts["dataset"] = _named(method["dataset"], method.get("dataset_options"))
        for part in ("sampler", "extractor"):
            described = method.get(part)
            if isinstance(described, dict):
                # a sampler's options shape its draws; an extractor's are its weights' recipe
                # (or a local path to them), which weights_sha256 pins down
                options = described.get("options") if part == "sampler" else None
                entry.facts[part] = _named(described.get("name"), options)
                for key in ("version", "weights_sha256"):
                    if key in described:
                        entry.facts[f"{part}_{key}"] = _fact(described[key])
            elif part in method:
                entry.facts[part] = _fact(described)
        options = method.get("options")
        if isinstance(options, dict):
            entry.options = {
                clean(k, MAX_NAME): _fact(v)
                for k, v in options.items()
                if k not in RESOURCE_OPTIONS
            }
    else:
        entry.facts = {"method": "not recorded"}
    entry.facts.setdefault("dataset", dataset)
    metric = entry.facts.get("metric", record.get("metric"))
    entry.metric = clean(metric, 60) if isinstance(metric, str) else None
    entry.facts["metric"] = entry.metric
    if problems:
        entry.value = None
        entry.problem = "; ".join(problems)
    return entry


def _read_flat(run: RunValues, found: dict[str, Any], dataset: str) -> None:
    """A flat evaluation.json of an earlier genmod: its known values, with the facts it
    kept (K as ``num_samples``, ``test_size``, ``binarize``); its metric versions are unknown."""
    facts: dict[str, Any] = {"metric_version": None, "dataset": dataset}
    for key in ("test_size", "binarize"):
        if key in found:
            facts[key] = _fact(found[key])
    for name, (unit, higher, metric, uses_k) in FLAT_VALUES.items():
        if name not in found:
            continue
        value = found[name]
        problem = _value_problem(value)
        if problem is None and isinstance(value, list):
            problem = "its value is a list, not a number"
        own = {**facts, "metric": metric}
        if uses_k and "num_samples" in found:
            own["importance_samples_K"] = _fact(found["num_samples"])
        if problem:
            run.notes.append(f"{name}: {problem}")
        run.values[name] = Entry(
            value=None if problem else value,
            unit=unit,
            higher_is_better=higher,
            metric=metric,
            facts=own,
            problem=problem,
        )


# --- several runs ---------------------------------------------------------------------------


def find_runs(paths: Sequence[Path]) -> list[RunValues]:
    """The runs named by ``paths``, in order: a run folder (it has config.toml) is itself, any
    other folder gives its sub-folders that are runs, sorted by name. A sub-folder that is a
    link leading outside its folder is listed as ``refused``, not read. A run named twice
    appears once. Every run is read (:func:`read_run`) and labelled (:func:`label_runs`)."""
    runs: list[RunValues] = []
    seen: set[str] = set()
    for root in map(Path, paths):
        if _is_run(root):
            found = [(root, True)]
        else:
            found = [(p, trust.is_inside(root, p)) for p in sorted(root.iterdir()) if _is_run(p)]
        for path, inside in found:
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            if inside:
                runs.append(read_run(path))
            else:
                runs.append(
                    RunValues(
                        path,
                        status="refused",
                        notes=["the run folder is a link that leads outside the folder listed"],
                    )
                )
    label_runs(runs)
    return runs


def _is_run(path: Path) -> bool:
    """Whether ``path`` is a folder with a config.toml (``False`` where it cannot be told)."""
    try:
        return path.is_dir() and (path / config_files.CONFIG_FILE).exists()
    except OSError:  # a folder without permission to look inside
        return False


def label_runs(runs: Sequence[RunValues]) -> None:
    """Name each run by its folder's name, or by its path where two runs share a name."""
    counts = Counter(r.path.name for r in runs)
    for run in runs:
        run.label = clean(run.path.name if counts[run.path.name] == 1 else str(run.path))


def value_names(runs: Iterable[RunValues]) -> list[str]:
    """Every value of the runs: metrics.jsonl's first, then the evaluations' in the order they
    first appear."""
    runs = list(runs)
    names = [n for n in TRAINING_VALUES if any(n in r.values for r in runs)]
    for run in runs:
        names += [n for n in run.values if n not in names]
    return names


def choose_values(runs: Sequence[RunValues], wanted: Sequence[str]) -> list[str]:
    """The values named by ``wanted`` (value names, or metric names for all the single
    numbers of that metric); a name that no run has is a :class:`ConfigError` listing them."""
    names = value_names(runs)
    chosen: list[str] = []
    for want in wanted:
        if want in names:
            matches = [want]
        else:
            matches = [
                n
                for n in names
                if any(
                    (e := r.values.get(n)) is not None
                    and e.metric == want
                    and not isinstance(e.value, list)
                    for r in runs
                )
            ]
        if not matches:
            available = ", ".join(names[:40]) + (", ..." if len(names) > 40 else "")
            raise ConfigError(
                f"no run has a value or metric named {clean(want)!r}; the values: "
                f"{available or 'none (no run has a test ELBO or an evaluation)'}."
            )
        chosen += [n for n in matches if n not in chosen]
    return chosen


def build_columns(
    runs: Sequence[RunValues], names: Sequence[str] | None = None, *, lists: bool = False
) -> list[Column]:
    """One column per value ``names`` (default: every value; lists only with ``lists``), each
    with its unit, direction, the best runs and the method facts in which its runs differ."""
    chosen = list(names) if names is not None else value_names(runs)
    columns = []
    for name in chosen:
        column = _column(runs, name)
        if names is None and column.is_list and not lists:
            continue
        columns.append(column)
    return columns


def _column(runs: Sequence[RunValues], name: str) -> Column:
    column = Column(name, "training" if name in TRAINING_VALUES else "evaluation")
    entries = [(r, r.values[name]) for r in runs if name in r.values]
    usable = [(r, e) for r, e in entries if e.problem is None]
    column.is_list = any(isinstance(e.value, list) for _, e in usable)
    units = [e.unit for _, e in usable if e.unit is not None]
    column.unit = units[0] if units else None
    directions = {e.higher_is_better for _, e in usable}
    column.higher_is_better = directions.pop() if len(directions) == 1 else None
    column.differs = _differences(usable)
    numbers = [(r, e.number) for r, e in usable if e.number is not None]
    if column.higher_is_better is not None and not column.differs and len(numbers) >= 2:
        pick = max if column.higher_is_better else min
        target = pick(n for _, n in numbers)
        column.best = {str(r.path) for r, n in numbers if n == target}
    return column


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _differences(usable: Sequence[tuple[RunValues, Entry]]) -> dict[str, dict[str, Any]]:
    """The facts (and options, unit, direction) in which the runs of one column differ:
    fact -> run path -> value (``None`` where a run's method does not record it). Options are
    compared between the runs whose files record them."""
    if len(usable) < 2:
        return {}
    facts = [{**e.facts, "unit": e.unit, "higher_is_better": e.higher_is_better} for _, e in usable]
    keys = list(dict.fromkeys(k for f in facts for k in f))
    differs: dict[str, dict[str, Any]] = {}
    for key in keys:
        values = [f.get(key) for f in facts]
        if len({_key(v) for v in values}) > 1:
            differs[key] = {str(r.path): v for (r, _), v in zip(usable, values, strict=True)}
    with_options = [(r, e.options) for r, e in usable if e.options is not None]
    if len(with_options) >= 2:
        option_keys = list(dict.fromkeys(k for _, o in with_options for k in o))
        for key in option_keys:
            values = [o.get(key) for _, o in with_options]
            if len({_key(v) for v in values}) > 1:
                by_run = {str(r.path): v for (r, _), v in zip(with_options, values, strict=True)}
                said = [{p: d[p] for p in by_run if p in d} for d in differs.values()]
                if by_run not in said:  # an option already shown as a fact (samples as K)
                    differs[f"options.{key}"] = by_run
    return differs


def sort_runs(runs: Sequence[RunValues], column: Column) -> list[RunValues]:
    """``runs`` ordered by ``column``, best first (largest first where the metric declares no
    direction); runs without a number there come last, in their order."""

    def key(run: RunValues) -> tuple[int, float]:
        entry = run.values.get(column.name)
        number = entry.number if entry is not None else None
        if number is None:
            return (1, 0.0)
        return (0, number if column.higher_is_better is False else -number)

    return sorted(runs, key=key)


# --- showing them ---------------------------------------------------------------------------


def format_number(value: Any) -> str:
    """A number with 4 significant digits, without an exponent between 1e-4 and 1e7
    (``-196.7``, ``58.16``, ``0.06155``, ``12346``); integers (counts) as they are."""
    if isinstance(value, int) and abs(value) < 10**7:
        return str(value)
    number = float(value)
    if number == 0:
        return "0"
    size = abs(number)
    if 1e-4 <= size < 1e7:
        decimals = max(0, 3 - math.floor(math.log10(size)))
        return f"{number:.{decimals}f}"
    return f"{number:.3e}"


def _list_text(values: list[Any], limit: int = 6) -> str:
    shown = ["-" if v is None else format_number(v) for v in values[:limit]]
    more = f", ... ({len(values)} items)" if len(values) > limit else ""
    return "[" + ", ".join(shown) + more + "]"


def cell_text(run: RunValues, column: Column) -> str:
    """The table cell of ``run`` in ``column``: the value, ``n/a`` (the metric could not
    compute it), ``-`` (no such value), ``?`` (damaged or unreadable: see the notes)."""
    entry = run.values.get(column.name)
    if entry is None:
        return "?" if run.unknown(column) else "-"
    if entry.problem is not None:
        return "?"
    if entry.value is None:
        return "n/a"
    if isinstance(entry.value, list):
        return _list_text(entry.value)
    return format_number(entry.value)


def _fact_text(fact: str, value: Any, limit: int = 60) -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        return format_number(value) if isinstance(value, float) else str(value)
    text = clean(value)
    if fact.endswith("sha256") and len(text) > 12:
        return text[:12] + "..."
    return text if len(text) <= limit else text[: limit - 3] + "..."


def difference_text(column: Column, labels: dict[str, str]) -> str:
    """The facts in which the runs of ``column`` differ, in words: ``test_size (a: 300; b, c:
    10000)``, one part per fact."""
    parts = []
    for fact, by_run in column.differs.items():
        groups: dict[str, list[str]] = {}
        for path, value in by_run.items():
            groups.setdefault(_fact_text(fact, value), []).append(labels.get(path, path))
        shown = "; ".join(f"{', '.join(names)}: {text}" for text, names in groups.items())
        parts.append(f"{fact} ({shown})")
    return ", ".join(parts)


def render_table(
    runs: Sequence[RunValues], columns: Sequence[Column], *, mark: str = "†"
) -> list[str]:
    """The comparison as text lines: a header of value names (``mark`` after a name whose
    runs were measured differently) over their units, one row per run with ``*`` after the
    best value of each column, then the footnotes (what differs, what is damaged)."""
    header = ["RUN"] + [c.name + (mark if c.differs else " ") for c in columns]
    units = [""] + [(c.unit or "") + " " for c in columns]
    rows = [header, units]
    any_best = False
    for run in runs:
        row = [run.label]
        for column in columns:
            text = cell_text(run, column)
            best = str(run.path) in column.best
            any_best |= best
            row.append(text + ("*" if best else " "))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    labels = {str(r.path): r.label for r in runs}
    notes = []
    if any_best:
        notes.append("* the best run of the column (its metric says if higher or lower is better)")
    differences: dict[str, list[str]] = {}  # columns that differ alike share one footnote
    for column in columns:
        if column.differs:
            differences.setdefault(difference_text(column, labels), []).append(column.name)
    for text, names in differences.items():
        notes.append(f"{mark} {', '.join(names)}: measured differently, no best marked: {text}")
    for run in runs:  # every "?" cell has its note; so does damage outside the columns shown
        for note in run.notes:
            where = run.label if run.status == "ok" else f"{run.label} ({run.status})"
            notes.append(f"? {where}: {note}")
    return lines + ([""] + notes if notes else [])


def to_json(runs: Sequence[RunValues], columns: Sequence[Column]) -> dict[str, Any]:
    """The comparison as JSON: per column its unit, direction, best runs and the method facts
    in which its runs differ; per run its status, notes and values (each with its unit,
    direction, metric and the method facts the check compared)."""
    names = [c.name for c in columns]
    return {
        "columns": [
            {
                "name": c.name,
                "source": "metrics.jsonl" if c.source == "training" else EVALUATION_FILE,
                "unit": c.unit,
                "higher_is_better": c.higher_is_better,
                "comparable": not c.differs,
                "best": [str(r.path) for r in runs if str(r.path) in c.best],
                "differs": c.differs,
            }
            for c in columns
        ],
        "runs": [
            {
                "run": str(r.path),
                "status": r.status,
                "evaluation_format": r.evaluation_format,
                "notes": list(r.notes),
                "values": {name: _entry_json(r.values[name]) for name in names if name in r.values},
            }
            for r in runs
        ],
    }


def _entry_json(entry: Entry) -> dict[str, Any]:
    facts = dict(entry.facts)
    if entry.options is not None:
        facts["options"] = dict(entry.options)
    return {
        "value": entry.value,
        "unit": entry.unit,
        "higher_is_better": entry.higher_is_better,
        "metric": entry.metric,
        "method_facts": facts,
        "problem": entry.problem,
    }
