"""Choosing, checking and running the metrics of one evaluation, and recording their method.

``genmod evaluate RUN --metric NAME [--metric-opt [NAME.]KEY=VALUE]`` comes here (through
:func:`genmod.evaluate.run.evaluate_run`): :func:`build_metrics` builds the chosen metrics from
the registry with their options, :func:`check_needs` refuses a metric whose needs the run's
dataset cannot meet (labels, ground-truth factors) before anything is computed, and
:func:`run_metric` computes one and turns its :class:`~genmod.contract.metrics.MetricResult`
into records: every value with its unit and the full method (the metric's own estimator
choices over what genmod knows: metric name, version and plugin, options, test images,
seed, binarization, sampler, feature extractor, library versions). No TensorFlow here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from genmod.contract.errors import ConfigError, PluginError
from genmod.contract.metrics import NEEDS, Metric, MetricContext, MetricResult, MetricValue
from genmod.contract.options import resolve_options
from genmod.evaluate.provenance import distribution_versions
from genmod.plugins import METRIC_KIND, Registry

#: what ``genmod evaluate RUN`` computes when no ``--metric`` is given (the numbers it has
#: always reported: IWAE log-likelihood, the ELBO and its terms, active units, I(x; z))
DEFAULT_METRICS = ("log-likelihood", "elbo", "active-units", "mutual-information")

#: top-level keys of evaluation.json that are not values: a metric's values and facts may
#: not take these names (the kit checks it, and :func:`run_metric` refuses them)
RESERVED_NAMES = (
    "format",
    "run_dir",
    "binarize",
    "seed",
    "test_size",
    "environment",
    "metrics",
    "values",
    "figure",
)

#: datasets shipped with genmod that carry ground-truth factors (for the refusal message)
FACTOR_DATASETS = ("sprites", "dsprites", "shapes3d")


@dataclass
class BuiltMetric:
    """A chosen metric: its name, plugin, resolved options and the built object."""

    name: str
    plugin: str
    options: dict[str, Any]
    metric: Metric

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(self.metric.needs)


def construct(spec: Any, resolved: Mapping[str, Any], expected: type, what: str) -> Any:
    """``spec``'s factory called with the ``resolved`` options: the object it returns, which
    must be an ``expected`` instance (``what`` names it in errors: "metric", "extractor",
    "sampler"). A failing factory or a wrong type is a :class:`PluginError` naming the plugin;
    a factory's own :class:`ConfigError` (an option it refuses) passes through."""
    try:
        built = spec.load()(**resolved)
    except (ConfigError, PluginError):
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin's own bug, named
        raise PluginError(
            f"plugin {spec.plugin!r}: the {what} {spec.name!r} could not be built: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(built, expected):
        raise PluginError(
            f"plugin {spec.plugin!r}: the {what} {spec.name!r} factory returned "
            f"{type(built).__name__}, not a {expected.__module__}.{expected.__qualname__}."
        )
    return built


def parse_metric_options(pairs: Sequence[str] | None) -> dict[str, dict[str, str]]:
    """``--metric-opt`` strings (each may hold several, separated by ``;``) by metric name:
    ``NAME.KEY=VALUE`` for one metric, ``KEY=VALUE`` (under the name ``""``) for every chosen
    metric that declares ``KEY``."""
    options: dict[str, dict[str, str]] = {}
    for pair in pairs or ():
        for item in pair.split(";"):
            item = item.strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            name, _, option = key.strip().rpartition(".")
            if not sep or not option:
                raise ConfigError(
                    "--metric-opt: expected NAME.KEY=VALUE or KEY=VALUE (for example "
                    f"fid.samples=5000), got {item!r}."
                )
            options.setdefault(name, {})[option.replace("-", "_")] = value.strip()
    return options


def build_metrics(
    names: Sequence[str],
    options: Mapping[str, Mapping[str, Any]],
    registry: Registry,
    *,
    from_strings: bool,
) -> list[BuiltMetric]:
    """Build the metrics ``names`` (duplicates dropped, order kept) with ``options`` (by metric
    name; ``""``: for every chosen metric that declares the key). An unknown metric, an
    option no chosen metric declares or a factory that fails is a one-line error."""
    chosen = list(dict.fromkeys(names))
    if not chosen:
        raise ConfigError("no metric chosen; `genmod plugins` lists the metrics installed.")
    specs = [registry.get(METRIC_KIND, name) for name in chosen]
    for name in options:
        if name and name not in chosen:
            raise ConfigError(
                f"--metric-opt names the metric {name!r}, which is not chosen; chosen: "
                f"{', '.join(chosen)} (add --metric {name})."
            )
    shared = dict(options.get("", {}))
    for key in shared:
        if not any(key in {o.name for o in spec.options} for spec in specs):
            declared = sorted({f"{s.name}.{o.name}" for s in specs for o in s.options})
            raise ConfigError(
                f"--metric-opt {key}=...: none of the chosen metrics ({', '.join(chosen)}) "
                f"has an option {key!r}; their options: {', '.join(declared) or 'none'}."
            )
    built = []
    for spec in specs:
        declared = {o.name for o in spec.options}
        given = {k: v for k, v in shared.items() if k in declared}
        given.update(options.get(spec.name, {}))
        resolved = resolve_options(
            spec.options, given, f"metric {spec.name!r}", from_strings=from_strings
        )
        metric = construct(spec, resolved, Metric, "metric")
        unknown = sorted(set(metric.needs) - set(NEEDS))
        if unknown:
            raise PluginError(
                f"plugin {spec.plugin!r}: the metric {spec.name!r} needs {unknown}, which "
                f"genmod cannot provide; known needs: {', '.join(NEEDS)}."
            )
        built.append(BuiltMetric(spec.name, spec.plugin, resolved, metric))
    return built


def check_needs(
    metrics: Sequence[BuiltMetric], *, dataset: str, has_labels: bool, has_factors: bool
) -> None:
    """Refuse, in one line, a metric whose needs the run's dataset cannot meet."""
    for built in metrics:
        if "labels" in built.needs and not has_labels:
            raise ConfigError(
                f"the metric {built.name!r} needs class labels, and the dataset {dataset!r} of "
                "this run has none; evaluate a run on a labelled dataset."
            )
        if "factors" in built.needs and not has_factors:
            raise ConfigError(
                f"the metric {built.name!r} needs ground-truth factors, and the dataset "
                f"{dataset!r} of this run has none; train on a dataset with factors "
                f"({', '.join(FACTOR_DATASETS)}) to measure disentanglement."
            )


def needs_any(metrics: Sequence[BuiltMetric], need: str) -> bool:
    return any(need in m.needs for m in metrics)


@dataclass
class MetricRecords:
    """One metric's outcome: its values (name -> record) and its summary."""

    values: dict[str, dict[str, Any]]
    summary: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)


def plain(value: Any, where: str) -> Any:
    """``value`` as JSON-ready Python (numpy scalars and arrays become numbers and lists);
    anything else is a plugin bug naming ``where``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v, where) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, where) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return plain(tolist(), where)
    raise PluginError(f"{where} holds {type(value).__name__}, which cannot be recorded as JSON.")


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def run_metric(
    built: BuiltMetric,
    context: MetricContext,
    *,
    common: Mapping[str, Any],
    versions: Mapping[str, str | None],
) -> MetricRecords:
    """Compute ``built`` on ``context`` and record every value with its full method.

    ``common``: what genmod records for every metric (test images, seed, binarization, and the
    sampler and extractor records, which are kept only for metrics that need them);
    ``versions``: distribution versions, to which the metric's ``libraries`` are added.
    """
    started = time.perf_counter()
    result = built.metric.compute(context)
    seconds = round(time.perf_counter() - started, 3)
    where = f"plugin {built.plugin!r}: the metric {built.name!r}"
    if not isinstance(result, MetricResult):
        raise PluginError(
            f"{where} returned {type(result).__name__} from compute(), not a "
            "genmod.contract.metrics.MetricResult."
        )
    if not result.values:
        raise PluginError(f"{where} returned no values.")
    libraries = dict(versions)
    libraries.update(distribution_versions(getattr(built.metric, "libraries", ()) or ()))
    base: dict[str, Any] = {
        "metric": built.name,
        "metric_version": str(getattr(built.metric, "version", "1")),
        "plugin": built.plugin,
        "options": plain(built.options, where + " options"),
    }
    for key, value in common.items():
        if key == "sampler" and "samples" not in built.needs:
            continue
        if key == "extractor" and "features" not in built.needs:
            continue
        base[key] = plain(value, f"the evaluation's {key} record")
    base.update(plain(dict(result.method), where + " method"))
    base["versions"] = libraries
    values: dict[str, dict[str, Any]] = {}
    for name, value in result.values.items():
        if name in RESERVED_NAMES:
            raise PluginError(
                f"{where} returned a value named {name!r}, a top-level key of evaluation.json; "
                f"value names may not be {', '.join(RESERVED_NAMES)}."
            )
        if not isinstance(value, MetricValue):
            raise PluginError(
                f"{where} returned {type(value).__name__} for {name!r}; values are "
                "genmod.contract.metrics.MetricValue."
            )
        method = dict(base)
        method.update(plain(dict(value.method), f"{where} value {name!r} method"))
        given = plain(value.value, f"{where} value {name!r}")
        finite = _finite_or_none(given)
        if finite != given:  # JSON has no NaN: say so rather than pass it off as "not computable"
            method["note"] = "the metric returned NaN or an infinite value (written as null)"
        values[str(name)] = {
            "value": finite,
            "unit": str(value.unit),
            "higher_is_better": value.higher_is_better,
            "metric": built.name,
            "method": method,
        }
    summary = {
        "plugin": built.plugin,
        "version": base["metric_version"],
        "options": base["options"],
        "values": list(values),
        "seconds": seconds,
    }
    facts = plain(dict(getattr(result, "facts", {}) or {}), where + " facts")
    return MetricRecords(values, summary, facts)
