"""Calling a run's observers so that none of them can corrupt the run.

:func:`build_observers` builds the observers a :class:`~genmod.config.RunConfig` names (its
``observers`` table: name -> options) from the registry; :class:`ObserverList` calls each of
them for every event (:class:`genmod.contract.observers.RunObserver`) inside a guard:

* an observer that raises (or whose factory fails) is reported once, with one
  :class:`ObserverWarning` naming the plugin, the observer, the event and the error, and is
  disabled for the rest of the run; with ``GENMOD_STRICT_PLUGINS=1`` the exception propagates
  (the run then fails);
* a call slower than ``GENMOD_OBSERVER_WARN_SECONDS`` (default 1) is reported once per
  observer (:class:`ObserverSlowWarning`).

Observers get copies of what they are given. Used by the training loop, ``genmod.api`` and
``genmod evaluate``. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import copy
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genmod.contract.observers import RUN_STATUSES, RunObserver
from genmod.plugins.manager import PluginLoadWarning, strict_mode
from genmod.plugins.registry import OBSERVER_KIND, Registry

DEFAULT_OBSERVER_WARN_SECONDS = 1.0


class ObserverWarning(PluginLoadWarning):
    """A run observer raised (or could not be built) and was disabled for the rest of the run."""


class ObserverSlowWarning(ObserverWarning):
    """A run observer took longer than ``GENMOD_OBSERVER_WARN_SECONDS`` for one event."""


def observer_warn_seconds() -> float:
    """Seconds one observer call may take before it is reported as slow."""
    raw = os.environ.get("GENMOD_OBSERVER_WARN_SECONDS", "").strip()
    try:
        return float(raw) if raw else DEFAULT_OBSERVER_WARN_SECONDS
    except ValueError:
        return DEFAULT_OBSERVER_WARN_SECONDS


@dataclass
class _Entry:
    name: str
    plugin: str
    observer: RunObserver
    disabled: bool = False
    reported_slow: bool = False


@dataclass
class ObserverList:
    """The observers of one run; each ``on_*`` method calls every enabled observer, guarded."""

    entries: list[_Entry] = field(default_factory=list)

    def add(self, name: str, plugin: str, observer: RunObserver) -> None:
        self.entries.append(_Entry(name, plugin, observer))

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def active(self) -> list[str]:
        """Names of the observers not disabled."""
        return [e.name for e in self.entries if not e.disabled]

    # -- events ------------------------------------------------------------------------------
    def on_run_start(self, config: Mapping[str, Any], run_dir: Path, resumed: bool) -> None:
        self._call("on_run_start", dict(config), Path(run_dir), bool(resumed))

    def on_epoch_end(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        self._call("on_epoch_end", int(epoch), dict(metrics))

    def on_checkpoint(self, path: str | Path, epoch: int, best: bool) -> None:
        self._call("on_checkpoint", Path(path), int(epoch), bool(best))

    def on_evaluation(self, results: Mapping[str, Any]) -> None:
        self._call("on_evaluation", dict(results))

    def on_run_end(self, status: str, message: str | None = None) -> None:
        assert status in RUN_STATUSES, status
        self._call("on_run_end", status, message)

    # -- the guard ---------------------------------------------------------------------------
    def _call(self, event: str, *args: Any) -> None:
        limit = observer_warn_seconds()
        for entry in self.entries:
            if entry.disabled:
                continue
            own = copy.deepcopy(args)  # an observer that mutates its arguments changes nothing
            started = time.perf_counter()
            try:
                getattr(entry.observer, event)(*own)
            except Exception as exc:  # noqa: BLE001 - an observer's own bug
                entry.disabled = True
                if strict_mode():
                    raise
                warnings.warn(
                    f"genmod plugin {entry.plugin!r}: the observer {entry.name!r} raised in "
                    f"{event}: {type(exc).__name__}: {exc}. It is disabled for the rest of this "
                    "run (the run itself goes on); set GENMOD_STRICT_PLUGINS=1 to make this "
                    "fatal.",
                    ObserverWarning,
                    stacklevel=2,
                )
                continue
            seconds = time.perf_counter() - started
            if seconds > limit and not entry.reported_slow:
                entry.reported_slow = True
                warnings.warn(
                    f"genmod plugin {entry.plugin!r}: the observer {entry.name!r} took "
                    f"{seconds:.1f} s in {event} (more than GENMOD_OBSERVER_WARN_SECONDS = "
                    f"{limit:g}), which slows the run; reported once.",
                    ObserverSlowWarning,
                    stacklevel=2,
                )


def build_observers(observers: Mapping[str, Mapping[str, Any]], registry: Registry) -> ObserverList:
    """Build the observers named in ``observers`` (name -> resolved options).

    An unknown name is a :class:`~genmod.contract.errors.ConfigError` listing the available
    observers (names are normally checked earlier, by ``RunConfig.resolve``). A factory that
    cannot be imported, raises or returns something else than a
    :class:`~genmod.contract.observers.RunObserver` is reported once and left out (fatal with
    ``GENMOD_STRICT_PLUGINS=1``).
    """
    result = ObserverList()
    for name, options in observers.items():
        spec = registry.get(OBSERVER_KIND, name)
        try:
            observer = spec.load()(**dict(options))
            if not isinstance(observer, RunObserver):
                raise TypeError(
                    f"its factory returned {type(observer).__name__}, not a "
                    "genmod.contract.observers.RunObserver"
                )
        except Exception as exc:  # noqa: BLE001 - an observer's own bug
            if strict_mode():
                raise
            warnings.warn(
                f"genmod plugin {spec.plugin!r}: the observer {name!r} could not be built: "
                f"{type(exc).__name__}: {exc}. The run goes on without it; set "
                "GENMOD_STRICT_PLUGINS=1 to make this fatal.",
                ObserverWarning,
                stacklevel=2,
            )
            continue
        result.add(name, spec.plugin, observer)
    return result
