"""Run observers: what a plugin implements to watch a run (experiment trackers, notifiers).

A plugin registers observers with the ``register_observers`` hook; a run uses the ones chosen
with ``genmod run --observer NAME`` (recorded in its ``config.toml``, so ``genmod resume`` and
``genmod evaluate`` keep them). Subclass :class:`RunObserver` and override the methods you need;
every method defaults to doing nothing.

genmod calls observers through a guard (:mod:`genmod.plugins.observers`): an observer that
raises is reported once and disabled for the rest of the run (with ``GENMOD_STRICT_PLUGINS=1``
the exception is fatal), and a call that takes longer than ``GENMOD_OBSERVER_WARN_SECONDS``
(default 1) is reported once. Observers run in the training process, between epochs: keep each
call short (queue slow uploads to a thread of your own).

Observers receive copies; changing what they are given changes nothing in the run. No
TensorFlow here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: the values of ``status`` in :meth:`RunObserver.on_run_end`
RUN_STATUSES = ("finished", "failed", "interrupted", "diverged")


class RunObserver:
    """Watches one run; every method is a no-op unless overridden (Keras-callback style).

    Order of calls for a training (``genmod run``, ``genmod resume``): :meth:`on_run_start`,
    then per epoch :meth:`on_epoch_end` followed by :meth:`on_checkpoint` for each checkpoint
    saved after it (the best one first), and last :meth:`on_run_end`, which is called whatever
    happens (also when the run fails, diverges or is interrupted). ``genmod evaluate`` calls
    only :meth:`on_evaluation`, on a fresh observer.
    """

    def on_run_start(self, config: dict[str, Any], run_dir: Path, resumed: bool) -> None:
        """Training starts (or resumes, ``resumed=True``) in ``run_dir``.

        ``config`` is the resolved configuration as recorded in ``config.toml`` (plain values:
        lists, not tuples), with every component's options filled in.
        """

    def on_epoch_end(self, epoch: int, metrics: dict[str, Any]) -> None:
        """Epoch ``epoch`` (1-based) finished and its line was written to ``metrics.jsonl``.

        ``metrics`` is that line: ``epoch``, ``step``, ``train_*`` (means over the epoch),
        ``validation_*`` (when there is a validation split), ``test_*``, ``train_seconds`` and
        ``images_per_second``. ELBOs, reconstruction terms and KLs are in nats per data item.
        """

    def on_checkpoint(self, path: Path, epoch: int, best: bool) -> None:
        """A checkpoint was saved at ``path`` (a TensorFlow checkpoint prefix).

        ``epoch`` is the number of epochs it holds finished (a checkpoint saved on
        interruption holds part of the next epoch too); ``best`` is true for the checkpoint of
        the best validation ELBO so far (``checkpoints/best/``).
        """

    def on_evaluation(self, results: dict[str, Any]) -> None:
        """``genmod evaluate`` finished; ``results`` is what it wrote to ``evaluation.json``.

        It holds ``run_dir`` (the run evaluated), ``log_likelihood`` (IWAE estimate), ``nll``,
        ``elbo``, ``reconstruction``, ``kl`` (nats per test item), ``num_samples``,
        ``active_units`` and more.
        """

    def on_run_end(self, status: str, message: str | None) -> None:
        """Training ended with ``status``: ``finished``, ``failed`` (an exception; ``message``
        names it), ``interrupted`` (Ctrl-C or SIGTERM after a checkpoint was saved) or
        ``diverged`` (the loss became NaN or infinite). ``message`` is ``None`` when finished.
        """
