"""Choosing a ``tf.distribute`` strategy and the chief/worker roles. Imports TensorFlow.

* ``default``: TensorFlow's default strategy (one device; TensorFlow places ops on a GPU when
  there is one).
* ``mirrored``: :class:`tf.distribute.MirroredStrategy`, one replica per local GPU (or the CPU
  when there is none); variables are mirrored and gradients all-reduced every step.
* ``multiworker``: :class:`tf.distribute.MultiWorkerMirroredStrategy` over the machines named in
  the ``TF_CONFIG`` environment variable (every worker runs the same command).

How the training loop uses a strategy (see :class:`genmod.train.trainer.Trainer`): every worker
holds the whole data set and draws the same shuffled order (same seed); each global batch of
``batch_size`` items is cut into ``num_replicas`` equal slices, replica ``r`` taking slice
``r`` (sharding by data, as ``tf.data``'s ``AutoShardPolicy.DATA``). Each replica's loss is its
local mean divided by the number of replicas, i.e. per-example loss / global batch, so the
all-reduced (summed) gradient equals the single-device gradient of the global batch mean.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from genmod.config import STRATEGIES
from genmod.contract.errors import ConfigError


def check_strategy(name: str) -> str:
    if name not in STRATEGIES:
        raise ConfigError(f"--strategy got {name!r}; accepted: {', '.join(STRATEGIES)}.")
    return name


def make_strategy(name: str) -> tf.distribute.Strategy:
    """Build the named strategy. Create it before any other TensorFlow work in the process
    (``MultiWorkerMirroredStrategy`` must configure the runtime before it starts)."""
    check_strategy(name)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ConfigError(
            "--strategy multiworker needs the TF_CONFIG environment variable describing the "
            'cluster, e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}\' on the first machine (index 1 on the '
            "second). See docs/performance.md."
        )
    try:
        json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"TF_CONFIG is not valid JSON: {exc}") from None
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as exc:
        raise ConfigError(
            "MultiWorkerMirroredStrategy could not start: it must be created before any other "
            f"TensorFlow work in the process ({exc})."
        ) from None


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run folder: always, except on non-chief workers of a
    multi-worker cluster (the chief is task ``chief``, or ``worker`` 0 when there is none)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type in (None, "chief"):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


class WorkerOutput:
    """Where this process writes its run folder.

    The chief writes to ``out``. Other workers must still take part in every checkpoint save
    (saving mirrored variables is a collective operation), so they write into a temporary
    folder that :meth:`cleanup` deletes.
    """

    def __init__(self, strategy: tf.distribute.Strategy, out: Path) -> None:
        self.chief = is_chief(strategy)
        self.path = out if self.chief else Path(tempfile.mkdtemp(prefix="genmod-worker-"))

    def cleanup(self) -> None:
        if not self.chief:
            shutil.rmtree(self.path, ignore_errors=True)
