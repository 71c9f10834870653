"""Evaluating a finished run's test log-likelihood and writing ``evaluation.json``."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from genmod.config import toml as tomlio
from genmod.evaluate.collapse import evaluate_mutual_information
from genmod.evaluate.loglik import evaluate_log_likelihood
from genmod.model.assembly import load_dataset
from genmod.plugins import Registry, build_observers, get_registry
from genmod.runs.loading import load_run
from genmod.runs.lock import run_lock, this_command

EVALUATION_FILE = "evaluation.json"
#: the figure written next to evaluation.json when ``evaluate_run`` is given a ``figure``
EVALUATION_FIGURE = "evaluation.png"


def evaluate_run(
    run_dir: str | Path,
    *,
    num_samples: int,
    batch_size: int = 100,
    chunk_size: int | None = None,
    memory_budget_mib: float | None = None,
    test_size: int | None = None,
    seed: int | None = None,
    data_dir: str | Path | None = None,
    registry: Registry | None = None,
    progress: Callable[[int, int], None] | None = None,
    figure: Callable[[Path, dict[str, Any], dict[str, np.ndarray]], Any] | None = None,
) -> dict[str, Any]:
    """IWAE log-likelihood, ELBO, KL, reconstruction and active units of a run's test set.

    Loads the run with :func:`genmod.runs.loading.load_run`, takes the first ``test_size``
    test items (all by default), binarizes them as the run's test ELBO does (``seed`` defaults
    to the run's ``eval_seed``), and writes the result to ``RUN/evaluation.json`` as well as
    returning it (nats per item; see :func:`genmod.evaluate.loglik.evaluate_log_likelihood`,
    which also says how ``chunk_size`` and ``memory_budget_mib`` bound the memory). The run's
    observers (those recorded in its ``config.toml``) then receive the result
    (``RunObserver.on_evaluation``). It holds the run folder's writer lock meanwhile
    (:func:`genmod.runs.lock.run_lock`): while another command writes the folder (a training)
    it raises :class:`genmod.contract.errors.RunDirError` naming that process.

    ``figure(path, result, per_item)``, when given, draws ``RUN/evaluation.png`` (``path``)
    from the result and the per-image estimates (float64 ``[n]`` arrays ``log_likelihood`` and
    ``elbo``, nats), inside the lock and before ``evaluation.json`` is written, which then
    names it under ``"figure"``; ``genmod evaluate`` passes
    :func:`genmod.pictures.charts.save_evaluation_result` (this layer cannot import pictures).
    """
    registry = registry or get_registry()
    # it writes evaluation.json: one writer per run folder (genmod.runs.lock)
    with run_lock(run_dir, this_command("genmod.evaluate.run.evaluate_run")):
        run = load_run(run_dir, registry)
        config = dataclasses.replace(run.config, test_size=test_size, train_size=1)
        _, data = load_dataset(config, registry, data_dir or run.meta.get("data_dir"))
        eval_seed = run.config.eval_seed if seed is None else int(seed)
        per_item: dict[str, np.ndarray] = {}
        result = evaluate_log_likelihood(
            run.model,
            data.x_test,
            data.y_test if run.model.condition_dim else None,
            binarize=run.binarize,
            num_samples=num_samples,
            batch_size=batch_size,
            chunk_size=chunk_size,
            memory_budget_mib=memory_budget_mib,
            seed=eval_seed,
            binarize_batch_size=run.config.eval_batch_size,
            progress=progress,
            per_item=per_item,
        )
        result.update(  # posterior collapse: I(x; z) (genmod.evaluate.collapse)
            evaluate_mutual_information(
                run.model,
                data.x_test,
                data.y_test if run.model.condition_dim else None,
                binarize=run.binarize,
                seed=eval_seed,
                batch_size=run.config.eval_batch_size,
            )
        )
        result = {
            "run_dir": str(run.run_dir),
            "binarize": run.binarize,
            "seed": eval_seed,
            **result,
        }
        if figure is not None:
            figure(Path(run.run_dir) / EVALUATION_FIGURE, result, per_item)
            result["figure"] = EVALUATION_FIGURE
        tomlio.write_atomic(
            Path(run.run_dir) / EVALUATION_FILE, json.dumps(result, indent=2) + "\n"
        )
        build_observers(run.config.observers, registry).on_evaluation(result)
        return result
