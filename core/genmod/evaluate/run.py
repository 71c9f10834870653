"""Evaluating a finished run with metrics and writing ``evaluation.json``.

:func:`evaluate_run` is ``genmod evaluate``: it checks the chosen metrics against the run and
its data, prepares what they need (a feature extractor, a latent sampler), runs them one by
one and writes ``RUN/evaluation.json`` after each (so an interrupted evaluation keeps the
metrics that finished). The file holds, for every value, its unit and method
(:mod:`genmod.evaluate.suite`), and the software and hardware it ran on
(:mod:`genmod.evaluate.provenance`); values of metrics not run this time are kept from the
previous evaluation, each with its own method and time. Imports TensorFlow.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genmod.config import toml as tomlio
from genmod.contract.errors import ConfigError
from genmod.contract.extractors import ExtractorData
from genmod.contract.metrics import EvaluationPlan
from genmod.data import default_cache_dir
from genmod.evaluate.context import RunMetricContext, training_items, unit_interval
from genmod.evaluate.extractors import AUTO, prepare_extractor
from genmod.evaluate.loglik import IWAE_PER_ITEM
from genmod.evaluate.provenance import environment
from genmod.evaluate.samplers import DEFAULT_SAMPLER, prepare_sampler
from genmod.evaluate.suite import (
    DEFAULT_METRICS,
    RESERVED_NAMES,
    build_metrics,
    check_needs,
    needs_any,
    run_metric,
)
from genmod.model.assembly import load_dataset
from genmod.plugins import Registry, build_observers, get_registry
from genmod.runs.loading import load_run
from genmod.runs.lock import run_lock, this_command
from genmod.runs.trust import require_inside

EVALUATION_FILE = "evaluation.json"
#: the figure written next to evaluation.json when ``evaluate_run`` is given a ``figure``
EVALUATION_FIGURE = "evaluation.png"
#: the format of evaluation.json (2: values with units and methods)
EVALUATION_FORMAT = 2
#: the metrics whose options ``samples``, ``batch_size``, ``chunk_size`` and
#: ``memory_budget_mib`` take :func:`evaluate_run`'s (and ``genmod evaluate``'s) ``--samples``,
#: ``--batch-size``, ``--chunk-size`` and ``--memory-budget``
IWAE_METRICS = ("log-likelihood", "elbo")


def evaluate_run(
    run_dir: str | Path,
    *,
    num_samples: int = 1000,
    metrics: Sequence[str] | None = None,
    metric_options: Mapping[str, Mapping[str, Any]] | None = None,
    extractor: str = AUTO,
    extractor_options: Mapping[str, Any] | None = None,
    sampler: str = DEFAULT_SAMPLER,
    sampler_options: Mapping[str, Any] | None = None,
    batch_size: int = 100,
    chunk_size: int | None = None,
    memory_budget_mib: float | None = None,
    test_size: int | None = None,
    seed: int | None = None,
    data_dir: str | Path | None = None,
    registry: Registry | None = None,
    progress: Callable[[int, int], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    figure: Callable[[Path, dict[str, Any], dict[str, np.ndarray]], Any] | None = None,
    from_strings: bool = False,
) -> dict[str, Any]:
    """Run ``metrics`` (default :data:`~genmod.evaluate.suite.DEFAULT_METRICS`: IWAE
    log-likelihood, ELBO, active units, I(x; z)) on a finished run and write
    ``RUN/evaluation.json``; returns what it wrote.

    ``metric_options``: options by metric name (``""``: for every chosen metric declaring the
    key); ``num_samples`` (K), ``batch_size``, ``chunk_size`` and ``memory_budget_mib`` are the
    defaults of the ``log-likelihood`` and ``elbo`` metrics' options of those names (see
    :func:`genmod.evaluate.loglik.evaluate_log_likelihood` for how they bound memory).
    ``extractor``/``sampler`` (with their options) serve the metrics that need features or
    generated samples. ``from_strings``: option values are command-line strings.

    The first ``test_size`` test items are used (all by default), binarized as the run's test
    ELBO is (``seed`` defaults to the run's ``eval_seed``). Bad input (an unknown metric, a
    metric whose needs the dataset cannot meet, missing extractor weights, too few samples)
    raises a :class:`~genmod.contract.errors.GenmodError` before anything is computed. The run
    folder's writer lock is held throughout (:func:`genmod.runs.lock.run_lock`).
    ``progress(done, total)`` reports the current stage, whose name ``on_stage(label)`` gets.
    ``figure(path, result, per_item)``, when given and the log-likelihood was computed, draws
    ``RUN/evaluation.png`` from the per-image estimates (float64 ``[n]`` arrays
    ``log_likelihood`` and ``elbo``, nats). The run's observers receive the result.
    """
    registry = registry or get_registry()
    options = _with_loglik_defaults(
        metrics or DEFAULT_METRICS,
        metric_options or {},
        num_samples=num_samples,
        batch_size=batch_size,
        chunk_size=chunk_size,
        memory_budget_mib=memory_budget_mib,
        from_strings=from_strings,
        registry=registry,
    )
    chosen = build_metrics(
        list(metrics or DEFAULT_METRICS), options, registry, from_strings=from_strings
    )
    _check_unused(chosen, extractor, extractor_options, sampler, sampler_options)
    stage = on_stage or (lambda label: None)
    # it writes evaluation.json (and a fitted sampler): one writer per run folder
    with run_lock(run_dir, this_command("genmod.evaluate.run.evaluate_run")):
        stage("loading the run")
        run = load_run(run_dir, registry)
        data_from = data_dir or run.meta.get("data_dir")
        config = dataclasses.replace(run.config, test_size=None, train_size=None)
        _, full = load_dataset(config, registry, data_from)
        data = full.limited(None, test_size)
        check_needs(
            chosen,
            dataset=run.config.dataset,
            has_labels=data.y_test is not None,
            has_factors=data.factors_test is not None,
        )
        if run.model.condition_dim and data.y_test is None:
            raise ConfigError("this model is conditional and needs a dataset with labels.")
        eval_seed = run.config.eval_seed if seed is None else int(seed)

        def train() -> Any:
            return training_items(full, run.config.validation_size, run.config.train_size)

        prepared_extractor = None
        if needs_any(chosen, "features"):
            stage("preparing the feature extractor")
            prepared_extractor = prepare_extractor(
                extractor,
                extractor_options or {},
                registry,
                ExtractorData(
                    dataset=run.config.dataset,
                    dataset_options=dict(run.config.dataset_options),
                    data_shape=tuple(run.model.data_shape),
                    num_classes=int(full.num_classes) if full.y_train is not None else 0,
                    train=lambda: _train_images(full),
                    cache_dir=default_cache_dir("extractors"),
                    progress=progress or (lambda done, total: None),
                ),
                from_strings=from_strings,
            )
        plan = EvaluationPlan(
            test_size=len(data.x_test),
            latent_dim=int(run.model.latent_dim),
            data_shape=tuple(run.model.data_shape),
            num_classes=int(full.num_classes) if data.y_test is not None else 0,
            factor_names=tuple(data.factor_names),
            factor_sizes=tuple(data.factor_sizes),
            feature_dims=prepared_extractor.feature_dims if prepared_extractor else None,
        )
        for built in chosen:
            built.metric.check(plan)
        context = RunMetricContext(
            run_dir=run.run_dir,
            model=run.model,
            dataset=run.config.dataset,
            data=data,
            train=train,
            binarize=run.binarize,
            seed=eval_seed,
            batch_size=batch_size,
            binarize_batch_size=run.config.eval_batch_size,
            extractor=prepared_extractor,
            progress=progress,
            on_stage=stage,
        )
        prepared_sampler = None
        if needs_any(chosen, "samples"):
            stage(f"fitting the {sampler} sampler")
            prepared_sampler = prepare_sampler(
                run,
                sampler,
                sampler_options or {},
                registry=registry,
                seed=eval_seed,
                codes=context.train_codes,
                save=True,
                from_strings=from_strings,
            )
            context.sampler = prepared_sampler
        common = _common_method(run, data, eval_seed, prepared_sampler, prepared_extractor)
        env = environment()
        path = require_inside(run.run_dir, Path(run.run_dir) / EVALUATION_FILE, "evaluation.json")
        result = _start_result(path, run, data, eval_seed, env, common["model_weights_sha256"])
        for built in chosen:
            stage(f"metric {built.name}")
            context.current = built.name
            records = run_metric(built, context, common=common, versions=env["versions"])
            now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
            for record in records.values.values():
                record["method"]["computed_at"] = now
            _merge(result, built.name, records)
            tomlio.write_atomic(path, json.dumps(result, indent=2, allow_nan=False) + "\n")
        per_item = context.cached(IWAE_PER_ITEM)
        if figure is not None and per_item is not None:
            figure(Path(run.run_dir) / EVALUATION_FIGURE, result, per_item)
            result["figure"] = EVALUATION_FIGURE
            tomlio.write_atomic(path, json.dumps(result, indent=2, allow_nan=False) + "\n")
        build_observers(run.config.observers, registry).on_evaluation(result)
        return result


def _check_unused(chosen, extractor, extractor_options, sampler, sampler_options) -> None:
    """Refuse an extractor or sampler (or their options) that no chosen metric would use: the
    user expects them to change something."""
    names = ", ".join(m.name for m in chosen)
    if (extractor != AUTO or extractor_options) and not needs_any(chosen, "features"):
        raise ConfigError(
            f"--extractor/--extractor-opt serve metrics that compare features (fid, kid, "
            f"precision-recall); none of the chosen metrics ({names}) does."
        )
    if (sampler != DEFAULT_SAMPLER or sampler_options) and not needs_any(chosen, "samples"):
        raise ConfigError(
            f"--sampler/--sampler-opt serve metrics of generated samples (fid, kid, "
            f"precision-recall); none of the chosen metrics ({names}) uses them."
        )


def _train_images(items: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """The dataset's whole training split (not the run's share of it), so one extractor serves
    every run on the dataset and their features compare."""
    return unit_interval(items.x_train), items.y_train


def _with_loglik_defaults(
    names: Sequence[str],
    options: Mapping[str, Mapping[str, Any]],
    *,
    from_strings: bool,
    registry: Registry,
    **defaults: Any,
) -> dict[str, dict[str, Any]]:
    """``options`` with the keyword arguments of :func:`evaluate_run` (K, batch and chunk
    sizes, memory budget) as defaults of the options of those names of the chosen
    :data:`IWAE_METRICS` (never of other metrics, whose options of the same name mean other
    things: FID's ``samples`` are generated images)."""
    from genmod.plugins import METRIC_KIND

    out = {name: dict(values) for name, values in options.items()}
    renamed = {"num_samples": "samples"}
    for name in dict.fromkeys(names):
        if name not in IWAE_METRICS:  # fid's `samples` is not K, factor-vae's batch is not ours
            continue
        declared = {o.name for o in registry.get(METRIC_KIND, name).options}
        mine = out.setdefault(name, {})
        shared = out.get("", {})
        for key, value in defaults.items():
            option = renamed.get(key, key)
            if value is None or option not in declared or option in mine or option in shared:
                continue
            mine[option] = str(value) if from_strings else value
    return out


def _common_method(run, data, seed, sampler, extractor) -> dict[str, Any]:
    """What genmod records with every value: the images, the seed, the preprocessing, and the
    sampler and extractor (the latter two only with the metrics that use them)."""
    common: dict[str, Any] = {
        "run": str(run.run_dir),
        "dataset": run.config.dataset,
        "dataset_options": {
            k: list(v) if isinstance(v, tuple) else v for k, v in run.config.dataset_options.items()
        },
        "test_images": f"the first {len(data.x_test)} of the dataset's test split",
        "test_size": len(data.x_test),
        "seed": seed,
        "binarize": run.binarize,
        # which trained weights the number is of: values kept from an earlier evaluation are
        # dropped when the run has been trained further since
        "model_weights_sha256": run.weights_sha256(),
        "model_inputs": "test images scaled to [0, 1]"
        + (
            f", binarized ({run.binarize}) with stateless seeds [seed, 2 b] per batch b of "
            f"{run.config.eval_batch_size}, as the run's test ELBO"
            if run.binarize != "none"
            else ""
        ),
    }
    if sampler is not None:
        common["sampler"] = sampler.record
    if extractor is not None:
        common["extractor"] = extractor.record
    return common


def _start_result(
    path: Path, run, data, seed: int, env: dict[str, Any], weights_sha256: str
) -> dict[str, Any]:
    """The evaluation record to fill: the values of metrics from an earlier evaluation (in the
    current format) of the same trained weights are kept, each with its own method (and
    ``test_size``, ``seed``: the top-level ones describe the latest call only); everything
    else starts anew."""
    previous: dict[str, Any] = {}
    if path.is_file():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict) and loaded.get("format") == EVALUATION_FORMAT:
                previous = loaded
        except (OSError, ValueError):
            previous = {}
    result: dict[str, Any] = {
        "format": EVALUATION_FORMAT,
        "run_dir": str(run.run_dir),
        "binarize": run.binarize,
        "seed": seed,
        "test_size": len(data.x_test),
        "environment": env,
        "metrics": {},
        "values": {},
    }
    kept_values = previous.get("values") if isinstance(previous.get("values"), dict) else {}
    kept_metrics = previous.get("metrics") if isinstance(previous.get("metrics"), dict) else {}
    for name, summary in kept_metrics.items():
        if isinstance(summary, dict):
            result["metrics"][name] = summary
    stale = set()
    for name, record in kept_values.items():
        if not isinstance(record, dict) or record.get("metric") not in result["metrics"]:
            continue
        method = record.get("method")
        if not _plain_value(record.get("value")):
            continue  # a damaged or crafted record: not carried over
        if not isinstance(method, dict) or method.get("model_weights_sha256") != weights_sha256:
            stale.add(record.get("metric"))
            continue
        result["values"][name] = record
    for metric in stale:  # a metric's values go together
        result["metrics"].pop(metric, None)
        result["values"] = {k: v for k, v in result["values"].items() if v.get("metric") != metric}
    _flatten(result)
    return result


def _plain_value(value: Any) -> bool:
    """Whether ``value`` is what genmod writes for a value: None, a finite number, or a list
    of them."""
    if value is None or isinstance(value, bool):
        return value is None
    if isinstance(value, (int, float)):
        return math.isfinite(value)
    return isinstance(value, list) and all(_plain_value(v) and v is not None for v in value)


def _merge(result: dict[str, Any], metric: str, records: Any) -> None:
    """Put one metric's records into ``result`` (replacing that metric's earlier values)."""
    result["values"] = {k: v for k, v in result["values"].items() if v.get("metric") != metric}
    for name, record in records.values.items():
        other = result["values"].get(name)
        if other is not None and other.get("metric") != metric:
            name = f"{metric}.{name}"  # two metrics give a value of the same name
        result["values"][name] = record
    result["metrics"][metric] = {**records.summary, "facts": records.facts}
    _flatten(result)


def _flatten(result: dict[str, Any]) -> None:
    """Every value (and every metric's facts) also at the top level, by name, for quick
    reading: ``result["log_likelihood"]``, ``result["fid"]``."""
    for key in [k for k in result if k not in RESERVED_NAMES]:
        del result[key]
    for summary in result["metrics"].values():
        for key, value in (summary.get("facts") or {}).items():
            if key not in RESERVED_NAMES:
                result[key] = value
    for name, record in result["values"].items():
        if name not in RESERVED_NAMES:
            result[name] = record.get("value")
