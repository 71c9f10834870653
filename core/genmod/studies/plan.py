"""The study file and its expansion into runs: every run named and fully resolved up front.

A study file is plain TOML (docs/studies.md)::

    name = "beta-sweep"                  # optional; default: the file's stem
    seeds = [0, 1, 2]                    # optional; each point runs once per seed
    [base]                               # anything a config file accepts, or recipe = "NAME"
    encoder = "cnn"
    data_dir = "../shared/data/mnist"    # optional, relative to the study file
    [grid]                               # each setting: a list of values; the product is taken
    "objective_options.beta" = [1, 2, 4, 8]
    latent_dim = [8, 16]
    [random]                             # optional random search, added to the grid points
    count = 4
    seed = 0
    [random.space]
    learning_rate = { log_uniform = [1e-4, 1e-2] }

:func:`load_study` reads it and returns a :class:`Plan`: each run's name, its point (the
settings it sets) and its :class:`~genmod.config.RunConfig`, built the way ``genmod run
--config FILE`` builds one (recipe < ``[base]`` < the point, with
:func:`genmod.config.sources.overlay`) and resolved against the plugin registry. Every refusal is
a :class:`~genmod.contract.errors.ConfigError` of one line, raised before anything is written.
No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genmod.config import toml as tomlio
from genmod.config.files import META_KEYS
from genmod.config.recipes import get_recipe
from genmod.config.settings import COMPONENT_FIELDS, RunConfig
from genmod.config.sources import overlay
from genmod.contract.errors import ConfigError, GenmodError

if TYPE_CHECKING:
    from genmod.plugins.registry import Registry

__all__ = [
    "RANDOM_FORMS",
    "SETTING_FIELDS",
    "TOP_LEVEL_KEYS",
    "Axis",
    "Plan",
    "PlannedRun",
    "RandomDimension",
    "RandomSearch",
    "accepted_settings",
    "canonical_json",
    "load_study",
    "plan_study",
]

#: the most runs one study may plan (each is resolved, named and recorded before any starts)
MAX_RUNS = 10_000
#: the keys a study file may have at its top level
TOP_LEVEL_KEYS = ("name", "description", "seeds", "base", "grid", "random")
#: the keys of its ``[random]`` table
RANDOM_KEYS = ("count", "seed", "space")
#: the forms of a ``[random.space]`` entry: ``{ FORM = [...] }``
RANDOM_FORMS = ("uniform", "log_uniform", "int_uniform", "choice")
#: the component options tables, ``<kind>_options``, whose keys an axis may set
_OPTIONS_FIELDS = tuple(options for _, options in COMPONENT_FIELDS.values())
#: the :class:`RunConfig` fields an axis may set directly (not the options tables themselves,
#: which take ``<kind>_options.<key>``, nor the observers)
SETTING_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(RunConfig)
    if f.name not in _OPTIONS_FIELDS and f.name != "observers"
)
#: the longest run name; longer names are cut and get a hash of their point
MAX_NAME_LENGTH = 80
_SAFE = re.compile(r"[^A-Za-z0-9._+-]+")
_STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
#: how a run's configuration is named in the errors of RunConfig.from_dict (then cut off)
_SOURCE = "the run's configuration"
#: builds the refusal of a study file from a message (the file's name prefixed)
Refuse = Callable[[str], ConfigError]
#: a point before seeds: where it came from (grid, random, base), its index there, its settings
Point = tuple[str, int, dict[str, Any]]
#: a random search gives up after this many draws per wanted point (a space of few points)
_DRAWS_PER_POINT = 50


def accepted_settings() -> str:
    """What an axis may set, in words (for refusals)."""
    kinds = ", ".join(COMPONENT_FIELDS)
    return (
        f"a RunConfig field ({', '.join(SETTING_FIELDS)}) or KIND_options.KEY with KIND one of "
        f"{kinds} (e.g. objective_options.beta)"
    )


def canonical_json(value: Any) -> str:
    """A value as compact JSON with sorted keys (tuples as lists): equal values, equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@dataclasses.dataclass(frozen=True)
class Axis:
    """One ``[grid]`` setting and its values, in the order the file gives them."""

    setting: str
    values: tuple[Any, ...]


@dataclasses.dataclass(frozen=True)
class RandomDimension:
    """One ``[random.space]`` setting: its form (:data:`RANDOM_FORMS`) and the form's list
    (``[low, high]`` bounds, or the values to choose from)."""

    setting: str
    form: str
    args: tuple[Any, ...]

    def draw(self, u: float) -> Any:
        """The value at ``u`` in ``[0, 1)``: uniform and log-uniform floats are rounded to 4
        significant digits (and kept within the bounds), integers are inclusive of both bounds."""
        if self.form == "choice":
            return self.args[min(int(u * len(self.args)), len(self.args) - 1)]
        low, high = self.args
        if self.form == "int_uniform":
            return low + min(int(u * (high - low + 1)), high - low)
        if self.form == "uniform":
            value = low + (high - low) * u
        else:  # log_uniform
            value = math.exp(math.log(low) + (math.log(high) - math.log(low)) * u)
        return min(max(float(f"{value:.4g}"), float(low)), float(high))


@dataclasses.dataclass(frozen=True)
class RandomSearch:
    """``[random]``: ``count`` points drawn from ``space`` with ``seed``."""

    count: int
    seed: int
    space: tuple[RandomDimension, ...]

    def uniform(self, index: int, setting: str) -> float:
        """The ``index``-th draw of ``setting`` in ``[0, 1)``: a hash of (seed, index,
        setting), so a draw never depends on the other settings or on ``count``, and raising
        ``count`` keeps the points drawn before (``genmod sweep --add``)."""
        digest = hashlib.sha256(f"genmod-study:{self.seed}:{index}:{setting}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    """One run of a study: its folder name, the settings its point sets (``seed`` included
    when the study has ``seeds``), where the point came from (``grid``, ``random`` or ``base``)
    and its resolved configuration."""

    name: str
    point: dict[str, Any]
    origin: str
    config: RunConfig


@dataclasses.dataclass(frozen=True)
class Plan:
    """A study file, expanded: its name, source (path, text, sha256), the base settings, axes
    and every run in the order a sweep starts them (seed by seed: every point with the first
    seed, then with the second, ...)."""

    name: str
    source: Path
    text: str
    sha256: str
    description: str
    base: dict[str, Any]
    recipe: str | None  # "name@version" of the [base] recipe
    data_dir: str | None  # absolute
    grid: tuple[Axis, ...]
    random: RandomSearch | None
    seeds: tuple[int, ...] | None
    runs: tuple[PlannedRun, ...]

    @property
    def fingerprint(self) -> str:
        """The sha256 of every run's name and resolved configuration: two plans with the same
        fingerprint train the same runs (comments, order of keys and the data folder aside)."""
        return hashlib.sha256(
            canonical_json([[run.name, run.config.to_dict()] for run in self.runs]).encode()
        ).hexdigest()

    def run(self, name: str) -> PlannedRun:
        """The run called ``name`` (a :class:`KeyError` when there is none)."""
        for run in self.runs:
            if run.name == name:
                return run
        raise KeyError(name)


def load_study(path: str | Path, registry: Registry, *, data_dir: str | Path | None = None) -> Plan:
    """Read the study file at ``path`` and expand it into a :class:`Plan`.

    ``data_dir`` overrides the ``[base]`` ``data_dir`` (which is relative to the study file).
    Raises :class:`ConfigError` (one line, naming the file, and the run and setting where one
    is at fault) for a file that is not valid TOML, an unknown key or setting, an empty axis,
    a duplicate value, point or configuration, a random space entry of unknown form, ``seed``
    as an axis together with ``seeds``, and every configuration that
    :meth:`RunConfig.resolve` refuses (unknown component, unknown option, wrong type, ...).
    """
    path = Path(path)
    raw = tomlio.read_small_file(path, "study file")
    data = tomlio.loads_file(raw, path, "study file")
    text = raw.decode("utf-8")
    return plan_study(
        data,
        registry,
        source=path,
        text=text,
        sha256=hashlib.sha256(raw).hexdigest(),
        data_dir=data_dir,
    )


def plan_study(
    data: dict[str, Any],
    registry: Registry,
    *,
    source: Path,
    text: str = "",
    sha256: str = "",
    data_dir: str | Path | None = None,
) -> Plan:
    """Expand a parsed study file (``data``, read from ``source``) into a :class:`Plan`; the
    refusals of :func:`load_study`."""
    where = f"study file {str(source)!r}"

    def refuse(message: str) -> ConfigError:
        return ConfigError(f"{where}: {message}")

    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        tables = [k for k in unknown if isinstance(data[k], dict) and k in _OPTIONS_FIELDS]
        hint = (
            f"; a config file pasted under [base] keeps its tables at the top level: rename "
            f"[{tables[0]}] to [base.{tables[0]}]"
            if tables
            else ""
        )
        raise refuse(
            f"unknown key(s) {', '.join(map(repr, unknown))} at the top level; accepted: "
            f"{', '.join(TOP_LEVEL_KEYS)} (settings go into [base], [grid] or [random.space])"
            f"{hint}."
        )
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not _STUDY_NAME.match(name):
        given = f"name = {name!r}" if "name" in data else f"the file's name {name!r}"
        raise refuse(
            f"{given} is not a study name: 1 to 100 letters, digits, '.', '_' or '-', starting "
            'with a letter or digit (it names the study folder); give one with name = "...".'
        )
    description = data.get("description", "")
    if not isinstance(description, str):
        raise refuse("description must be a string.")
    base, recipe_values, recipe_label, base_data_dir = _read_base(data.get("base", {}), refuse)
    if data_dir is not None:
        chosen_data_dir: str | None = str(Path(data_dir).expanduser().resolve())
    elif base_data_dir is not None:
        chosen_data_dir = str((Path(source).parent / Path(base_data_dir).expanduser()).resolve())
    else:
        chosen_data_dir = None
    grid = _read_grid(data.get("grid"), refuse)
    random = _read_random(data.get("random"), refuse)
    seeds = _read_seeds(data.get("seeds"), refuse)
    axes = [a.setting for a in grid] + [d.setting for d in (random.space if random else ())]
    if seeds is not None and "seed" in axes:
        raise refuse(
            "'seed' is an axis and 'seeds' is given too; use one of them (seeds = "
            "[...] runs every point once per seed)."
        )
    if not grid and random is None and seeds is None:
        raise refuse(
            "nothing to sweep: give a [grid], a [random] search or seeds = [...] (or train one "
            "configuration with `genmod run --config`)."
        )
    grid_size = math.prod(len(axis.values) for axis in grid) if grid else 0
    total = (grid_size + (random.count if random else 0) or 1) * len(seeds or (0,))
    if total > MAX_RUNS:
        raise refuse(
            f"the study has {total:,} runs ({_sizes(grid, random, seeds)}); a study holds at "
            f"most {MAX_RUNS:,}: split it into several study files, or sample it with [random]."
        )
    points = _grid_points(grid) + _random_points(random, grid, refuse)
    if not points:
        points = [("base", 0, {})]
    base_values = overlay(recipe_values, base)
    try:
        _resolve(base_values, registry)
        base_ok = True
    except GenmodError:
        base_ok = False  # an axis may give what the base lacks: each run is checked
    runs = _name_runs(points, seeds, grid, random)
    planned = []
    for run_name, origin, point in runs:
        config = _resolve_point(base_values, point, registry, refuse, run_name, base_ok)
        planned.append(PlannedRun(run_name, point, origin, config))
    _refuse_duplicate_configs(planned, refuse)
    return Plan(
        name=name,
        source=Path(source).resolve(),
        text=text,
        sha256=sha256,
        description=description,
        base=data.get("base", {}),
        recipe=recipe_label,
        data_dir=chosen_data_dir,
        grid=tuple(grid),
        random=random,
        seeds=seeds,
        runs=tuple(planned),
    )


def _sizes(grid: Sequence[Axis], random: RandomSearch | None, seeds: Sequence[int] | None) -> str:
    """``grid 4 x 3, random 10, 3 seeds``: where a study's runs come from."""
    parts = []
    if grid:
        parts.append("grid " + " x ".join(f"{len(axis.values):,}" for axis in grid))
    if random is not None:
        parts.append(f"random {random.count:,}")
    if seeds:
        parts.append(f"{len(seeds)} seeds")
    return ", ".join(parts)


def _read_base(
    base: Any, refuse: Refuse
) -> tuple[dict[str, Any], dict[str, Any], str | None, str | None]:
    """``[base]``: (its run settings, the recipe's settings, the recipe's label, data_dir)."""
    if not isinstance(base, dict):
        raise refuse("[base] must be a table of run settings.")
    settings = {k: v for k, v in base.items() if k not in META_KEYS}
    recipe_values: dict[str, Any] = {}
    label = None
    recipe = base.get("recipe")
    if recipe is not None:
        if not isinstance(recipe, str):
            raise refuse(f"[base] recipe = {recipe!r}; it must be a recipe name (a string).")
        name, _, version = recipe.partition("@")
        try:
            found = get_recipe(name)
        except ConfigError as exc:
            raise refuse(f"[base] {exc}") from None
        if version and version != str(found.version):
            raise refuse(
                f"[base] recipe = {recipe!r}, but the shipped recipe {name!r} is version "
                f"{found.version}; name it without a version (or as {found.label!r})."
            )
        recipe_values = found.settings.values
        label = found.label
    data_dir = base.get("data_dir")
    if data_dir is not None and not isinstance(data_dir, str):
        raise refuse(f"[base] data_dir = {data_dir!r}; it must be a path (a string).")
    try:
        RunConfig.from_dict(settings, source="[base]")
    except ConfigError as exc:
        raise refuse(str(exc)) from None
    return settings, recipe_values, label, data_dir


def _check_setting(setting: str, table: str, refuse: Refuse) -> None:
    field, dot, key = setting.partition(".")
    ok = (not dot and field in SETTING_FIELDS) or (
        dot and field in _OPTIONS_FIELDS and key and "." not in key
    )
    if not ok and setting in TOP_LEVEL_KEYS:
        raise refuse(
            f"{table}: {setting!r} is not a setting; {setting} belongs at the top of the file, "
            "before the first [table] (TOML puts a key written after a [table] into it)."
        )
    if not ok:
        raise refuse(f"{table}: unknown setting {setting!r}; accepted: {accepted_settings()}.")


def _flatten(table: dict[str, Any], is_leaf: Callable[[Any], bool]) -> list[tuple[str, Any]]:
    """``(setting, value)`` of a table, with ``objective_options = { beta = ... }`` (or a
    ``[grid.objective_options]`` sub-table) read as the setting ``objective_options.beta``."""
    found = []
    for key, value in table.items():
        if isinstance(value, dict) and key in _OPTIONS_FIELDS and not is_leaf(value):
            found += [(f"{key}.{sub}", v) for sub, v in value.items()]
        else:
            found.append((key, value))
    return found


def _read_grid(grid: Any, refuse: Refuse) -> list[Axis]:
    if grid is None:
        return []
    if not isinstance(grid, dict) or not grid:
        raise refuse("[grid] must be a table of settings, each with a non-empty list of values.")
    axes = []
    for setting, values in _flatten(grid, lambda value: False):
        _check_setting(setting, "[grid]", refuse)
        if not isinstance(values, list) or not values:
            raise refuse(
                f"[grid] {setting} = {values!r}; it must be a non-empty list of values, e.g. "
                f"{setting} = [1, 2] (a list-valued option takes a list of lists)."
            )
        _refuse_repeats(values, f"[grid] {setting}", refuse)
        axes.append(Axis(setting, tuple(values)))
    return axes


def _refuse_repeats(values: Sequence[Any], what: str, refuse: Refuse) -> None:
    seen: set[str] = set()
    for value in values:
        key = canonical_json(value)
        if key in seen:
            raise refuse(f"{what} lists {value!r} twice; each value is one point.")
        seen.add(key)


def _is_form(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in RANDOM_FORMS


def _read_random(random: Any, refuse: Refuse) -> RandomSearch | None:
    if random is None:
        return None
    if not isinstance(random, dict):
        raise refuse("[random] must be a table with count, seed and [random.space].")
    unknown = sorted(set(random) - set(RANDOM_KEYS))
    if unknown:
        top = [k for k in unknown if k in TOP_LEVEL_KEYS]
        hint = (
            f" ({top[0]} belongs at the top of the file, before the first [table])" if top else ""
        )
        raise refuse(
            f"[random]: unknown key(s) {', '.join(map(repr, unknown))}; accepted: "
            f"{', '.join(RANDOM_KEYS)}{hint}."
        )
    count, seed = random.get("count"), random.get("seed", 0)
    if not _integer(count) or not 1 <= count <= MAX_RUNS:
        raise refuse(
            f"[random] count = {count!r}; it must be an integer from 1 to {MAX_RUNS:,} "
            "(points to draw)."
        )
    if not _integer(seed) or seed < 0:
        raise refuse(f"[random] seed = {seed!r}; it must be an integer >= 0.")
    space = random.get("space")
    if not isinstance(space, dict) or not space:
        raise refuse(
            "[random.space] must be a non-empty table of settings, e.g. learning_rate = "
            "{ log_uniform = [1e-4, 1e-2] }."
        )
    dimensions = []
    for setting, spec in _flatten(space, _is_form):
        if setting == "seeds":
            raise refuse(
                "[random.space] seeds: seeds belongs at the top of the file, before the first "
                "[table] (TOML puts a key after [random.space] into that table)."
            )
        _check_setting(setting, "[random.space]", refuse)
        dimensions.append(_read_dimension(setting, spec, refuse))
    return RandomSearch(count, seed, tuple(dimensions))


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _read_dimension(setting: str, spec: Any, refuse: Refuse) -> RandomDimension:
    what = f"[random.space] {setting}"
    forms = ", ".join(f"{{ {form} = [...] }}" for form in RANDOM_FORMS)
    if not _is_form(spec):
        raise refuse(
            f"{what} = {spec!r}; accepted forms: {forms} (uniform, log_uniform: [low, high]; "
            "int_uniform: [low, high] integers, both included; choice: the values)."
        )
    form, args = next(iter(spec.items()))
    if not isinstance(args, list) or not args:
        raise refuse(f"{what}: {form} takes a non-empty list, got {args!r}.")
    if form == "choice":
        _refuse_repeats(args, f"{what} choice", refuse)
        return RandomDimension(setting, form, tuple(args))
    if len(args) != 2:
        raise refuse(f"{what}: {form} takes [low, high], got {args!r}.")
    low, high = args
    if form == "int_uniform":
        if not (_integer(low) and _integer(high) and low <= high):
            raise refuse(f"{what}: int_uniform takes [low, high], integers with low <= high.")
    elif not (_number(low) and _number(high) and low < high):
        raise refuse(f"{what}: {form} takes [low, high], numbers with low < high.")
    if form == "log_uniform" and low <= 0:
        raise refuse(f"{what}: log_uniform takes [low, high] with 0 < low < high.")
    return RandomDimension(setting, form, (low, high))


def _read_seeds(seeds: Any, refuse: Refuse) -> tuple[int, ...] | None:
    if seeds is None:
        return None
    if not isinstance(seeds, list) or not seeds:
        raise refuse(f"seeds = {seeds!r}; it must be a non-empty list of integers, e.g. [0, 1, 2].")
    for seed in seeds:
        if not _integer(seed) or not 0 <= seed < 2**31:
            raise refuse(f"seeds: {seed!r} is not an integer in [0, 2^31).")
    _refuse_repeats(seeds, "seeds", refuse)
    return tuple(seeds)


def _grid_points(grid: Sequence[Axis]) -> list[Point]:
    """``("grid", index, point)`` for the product of the axes, the first axis slowest."""
    if not grid:
        return []
    return [
        ("grid", index, dict(zip([a.setting for a in grid], values, strict=True)))
        for index, values in enumerate(itertools.product(*(a.values for a in grid)))
    ]


def _random_points(
    random: RandomSearch | None, grid: Sequence[Axis], refuse: Refuse
) -> list[Point]:
    """``("random", index, point)`` for ``count`` distinct points drawn in order; a draw equal
    to an earlier point (or to a grid point) is skipped."""
    if random is None:
        return []
    seen = {canonical_json(point) for _, _, point in _grid_points(grid)}
    points: list[Point] = []
    for index in range(random.count * _DRAWS_PER_POINT):
        point = {d.setting: d.draw(random.uniform(index, d.setting)) for d in random.space}
        key = canonical_json(point)
        if key not in seen:
            seen.add(key)
            points.append(("random", len(points), point))
            if len(points) == random.count:
                return points
    raise refuse(
        f"[random]: only {len(points)} distinct point(s) came out of "
        f"{random.count * _DRAWS_PER_POINT} draws, fewer than count = {random.count}; "
        "widen [random.space] or lower count."
    )


def _label(setting: str, settings: Iterable[str]) -> str:
    """A setting's label in run names: its last part (``beta`` for ``objective_options.beta``)
    unless another setting of the study has the same last part."""
    short = setting.rpartition(".")[2]
    clashes = {s for s in settings if s.rpartition(".")[2] == short}
    return short if len(clashes) <= 1 else setting


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "_".join(_format_value(v) for v in value) or "none"
    if isinstance(value, dict):
        return "_".join(f"{k}{_format_value(v)}" for k, v in value.items()) or "none"
    return str(value)


def _part(label: str, value: Any) -> str:
    """``latent_dim16``, ``beta0.5``; a word gets an underscore: ``encoder_cnn``."""
    text = _format_value(value)
    return f"{label}_{text}" if text[:1].isalpha() else f"{label}{text}"


def _point_hash(point: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(point).encode()).hexdigest()[:8]


def _name_runs(
    points: Sequence[Point],
    seeds: tuple[int, ...] | None,
    grid: Sequence[Axis],
    random: RandomSearch | None,
) -> list[tuple[str, str, dict[str, Any]]]:
    """``(name, origin, point)`` of every run, seed by seed; names are made of the point's
    labels and values (``beta4-latent_dim16-seed0``), random points start with ``randomN``,
    and a name that is too long, or that two runs would share, gets a hash of its point."""
    settings = [a.setting for a in grid] + [d.setting for d in (random.space if random else ())]
    if seeds is not None:
        settings.append("seed")
    runs = []
    for seed in seeds if seeds is not None else (None,):
        for origin, index, point in points:
            full = dict(point)
            if seed is not None:
                full["seed"] = seed
            parts = [f"random{index}"] if origin == "random" else []
            parts += [_SAFE.sub("_", _part(_label(s, settings), v)) for s, v in full.items()]
            name = "-".join(parts) or "base"
            if len(name) > MAX_NAME_LENGTH:
                name = f"{name[: MAX_NAME_LENGTH - 9].rstrip('-._')}-{_point_hash(full)}"
            runs.append((name, origin, full))
    counts: dict[str, int] = {}
    for name, _, _ in runs:
        counts[name] = counts.get(name, 0) + 1
    return [
        (f"{n[: MAX_NAME_LENGTH - 9]}-{_point_hash(point)}" if counts[n] > 1 else n, origin, point)
        for n, origin, point in runs
    ]


def _layer(point: dict[str, Any]) -> dict[str, Any]:
    """A point's settings as config-file values (``a_options.k`` into the ``a_options`` table)."""
    layer: dict[str, Any] = {}
    for setting, value in point.items():
        field, dot, key = setting.partition(".")
        if dot:
            layer.setdefault(field, {})[key] = value
        else:
            layer[setting] = value
    return layer


def _resolve(values: dict[str, Any], registry: Registry) -> RunConfig:
    """A configuration as ``genmod run --config`` resolves it (option strings parsed)."""
    return RunConfig.from_dict(values, source=_SOURCE).resolve(registry, from_strings=True)


def _resolve_point(
    base_values: dict[str, Any],
    point: dict[str, Any],
    registry: Registry,
    refuse: Refuse,
    run_name: str,
    base_ok: bool,
) -> RunConfig:
    """The run's resolved configuration. A refusal names the run and the setting at fault: the
    first setting that fails on its own, over a valid base, with the same error; else the whole
    combination (or the base, when it fails alone the same way)."""
    try:
        return _resolve(overlay(base_values, _layer(point)), registry)
    except GenmodError as exc:
        message = _message(exc)
    settings = ", ".join(f"{s} = {v!r}" for s, v in point.items())
    if not base_ok:
        try:
            _resolve(base_values, registry)
        except GenmodError as base_error:
            if _message(base_error) == message:
                raise refuse(f"[base]: {message}") from None  # every run fails the same way
        raise refuse(f"run {run_name!r}, [base] with {settings}: {message}") from None
    for setting, value in point.items():
        try:
            _resolve(overlay(base_values, _layer({setting: value})), registry)
        except GenmodError as single:
            if _message(single) == message:
                raise refuse(
                    f"run {run_name!r}, setting {setting} = {value!r}: {message}"
                ) from None
    raise refuse(f"run {run_name!r}, the combination {settings}: {message}") from None


def _message(error: Exception) -> str:
    """An error's text on one line, without the source name :func:`_resolve` gave it."""
    return _one_line(str(error)).removeprefix(f"{_SOURCE}: ")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _refuse_duplicate_configs(runs: Sequence[PlannedRun], refuse: Refuse) -> None:
    seen: dict[str, str] = {}
    for run in runs:
        key = canonical_json(run.config.to_dict())
        if key in seen:
            raise refuse(
                f"runs {seen[key]!r} and {run.name!r} resolve to the same configuration (a "
                "value equal to the default or to the base, or a random draw equal to a grid "
                "point); remove one of them."
            )
        seen[key] = run.name
