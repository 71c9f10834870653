"""Plugin loading: entry points, pluggy, isolation of broken plugins.

Plugins are found through the ``genmod`` entry-point group (built-in plugins included) and
hooked up with pluggy. Each ``register_*`` hook implementation is called on its own, with a
``register`` callback that knows which plugin is calling, so that every component is attributed
to its plugin and one broken plugin cannot break the others.

Environment variables, read before any plugin is imported:

* ``GENMOD_PLUGINS=a,b``: load only these entry points (by entry-point name).
* ``GENMOD_DISABLE_PLUGINS=c``: never load these.
* ``GENMOD_STRICT_PLUGINS=1``: a plugin that fails to import or register is fatal.
* ``GENMOD_PLUGIN_IMPORT_WARN_SECONDS`` (default 2): warn about a plugin whose hook module takes
  longer than this to import. A plugin whose import pulls in TensorFlow is always reported:
  every ``genmod`` command, ``--help`` included, would pay for it.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from genmod.contract import hookspecs
from genmod.contract.errors import PluginError
from genmod.plugins.registry import REGISTER_HOOKS, Registry, make_register

#: modules a hook module should not import (they make every genmod start-up slow)
HEAVY_MODULES = ("tensorflow", "keras", "tensorflow_probability", "torch", "jax")
DEFAULT_IMPORT_WARN_SECONDS = 2.0


class PluginLoadWarning(UserWarning):
    """A plugin failed to import or register and was skipped (or, for the subclass
    :class:`PluginSlowWarning`, loaded but slows every start-up)."""


class PluginSlowWarning(PluginLoadWarning):
    """A plugin's hook module is slow to import or imports a heavy library such as TensorFlow."""


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin, for ``genmod plugins``."""

    name: str
    distribution: str | None
    version: str | None
    module: str
    hooks: list[str] = field(default_factory=list)
    components: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    import_seconds: float | None = None


def _env_list(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def import_warn_seconds() -> float:
    """Import time (seconds) above which a plugin is reported as slow."""
    raw = os.environ.get("GENMOD_PLUGIN_IMPORT_WARN_SECONDS", "").strip()
    try:
        return float(raw) if raw else DEFAULT_IMPORT_WARN_SECONDS
    except ValueError:
        return DEFAULT_IMPORT_WARN_SECONDS


def strict_mode() -> bool:
    return os.environ.get("GENMOD_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes"}


class PluginManager:
    """Loads plugins from entry points (and runtime registrations) and builds the registry."""

    def __init__(self, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self._registry: Registry | None = None
        self._warned: set[str] = set()
        if load_entry_points:
            self._load_entry_points()

    # -- loading -----------------------------------------------------------------------------
    def _fail(self, plugin: str, message: str, exc: BaseException | None = None) -> None:
        if strict_mode():
            raise PluginError(
                message + " (GENMOD_STRICT_PLUGINS is set, so this is fatal)"
            ) from exc
        if plugin not in self._warned:
            self._warned.add(plugin)
            warnings.warn(
                message
                + " The plugin was skipped; set GENMOD_STRICT_PLUGINS=1 to make this fatal.",
                PluginLoadWarning,
                stacklevel=3,
            )

    def _load_entry_points(self) -> None:
        allow = _env_list("GENMOD_PLUGINS")
        block = _env_list("GENMOD_DISABLE_PLUGINS") or set()
        for ep in metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP):
            if ep.name in block or (allow is not None and ep.name not in allow):
                continue
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
                module=ep.value,
            )
            earlier = self.infos.get(ep.name)
            if earlier is not None:
                self._fail(
                    f"{ep.name} ({ep.value})",
                    f"two installed distributions declare the genmod plugin {ep.name!r}: "
                    f"{earlier.distribution} ({earlier.module}) and {info.distribution} "
                    f"({ep.value}); the second was not loaded. Uninstall one of them.",
                )
                continue
            self.infos[ep.name] = info
            heavy_before = {m for m in HEAVY_MODULES if m in sys.modules}
            started = time.perf_counter()
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - any import failure is the plugin's
                info.error = f"{type(exc).__name__}: {exc}"
                self._fail(
                    ep.name,
                    f"genmod plugin {ep.name!r} (from {ep.value}) failed to import: {info.error}.",
                    exc,
                )
                continue
            info.import_seconds = time.perf_counter() - started
            heavy = sorted(m for m in HEAVY_MODULES if m in sys.modules and m not in heavy_before)
            self._warn_if_slow(info, heavy)
            self.add_plugin(plugin, ep.name, info=info)

    def _warn_if_slow(self, info: PluginInfo, heavy: list[str]) -> None:
        seconds = info.import_seconds or 0.0
        limit = import_warn_seconds()
        if not heavy and seconds <= limit:
            return
        reason = (
            f"imported {', '.join(heavy)} when loaded"
            if heavy
            else f"took {seconds:.1f} s to import"
        )
        warnings.warn(
            f"genmod plugin {info.name!r} ({info.module}) {reason}, which slows every genmod "
            "command, --help included. Keep the hook module light: register factories as "
            "'module:attribute' strings and import heavy libraries only in those modules "
            "(see docs/plugin-guide.md).",
            PluginSlowWarning,
            stacklevel=3,
        )

    def add_plugin(self, plugin: Any, name: str, info: PluginInfo | None = None) -> None:
        """Register a plugin object or module at runtime (used by tests and notebooks)."""
        if info is None:
            module = getattr(plugin, "__name__", type(plugin).__name__)
            info = PluginInfo(name=name, distribution=None, version=None, module=str(module))
            self.infos[name] = info
        try:
            self.pm.register(plugin, name=name)
            self._check_hook_names(plugin, name)
        except Exception as exc:  # noqa: BLE001 - pluggy validation errors and ours
            info.error = f"{type(exc).__name__}: {exc}"
            if plugin is not None and self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self._fail(name, f"genmod plugin {name!r} is invalid: {info.error}.", exc)
        self._registry = None

    def remove_plugin(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        self.infos.pop(name, None)
        self._registry = None

    def _check_hook_names(self, plugin: Any, name: str) -> None:
        """Refuse hook implementations that match no specification (a misspelt hook name),
        and plugins that implement no hook at all (a forgotten ``@hookimpl``)."""
        if not self.pm.get_hookcallers(plugin):
            lookalikes = sorted(
                attr
                for attr in dir(plugin)
                if attr.startswith("register_") and callable(getattr(plugin, attr, None))
            )
            hint = (
                f"; {', '.join(lookalikes)} lack the @genmod.hookimpl decorator"
                if lookalikes
                else ""
            )
            raise PluginError(f"it implements no genmod hook{hint}")
        for hook_name, caller in vars(self.pm.hook).items():
            if not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
                continue
            if any(impl.plugin is plugin for impl in caller.get_hookimpls()):
                known = ", ".join(sorted(list(REGISTER_HOOKS.values()) + ["register_commands"]))
                raise PluginError(
                    f"it implements unknown hook {hook_name!r}; known hooks are {known}"
                )

    # -- the registry ------------------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        if self._registry is None:
            self._registry = self._build_registry()
        return self._registry

    def _build_registry(self) -> Registry:
        registry = Registry()
        for info in self.infos.values():
            info.components.clear()
            info.hooks.clear()
        for kind, hook_name in REGISTER_HOOKS.items():
            hook = getattr(self.pm.hook, hook_name)
            for impl in reversed(hook.get_hookimpls()):
                plugin_name = impl.plugin_name
                info = self.infos.get(plugin_name)
                if info is not None and hook_name not in info.hooks:
                    info.hooks.append(hook_name)
                try:
                    impl.function(register=make_register(kind, plugin_name, registry, info))
                except PluginError as exc:
                    if "registered by two plugins" in str(exc):
                        raise
                    self._record_hook_failure(plugin_name, hook_name, exc, info)
                except Exception as exc:  # noqa: BLE001 - a plugin's own bug
                    self._record_hook_failure(plugin_name, hook_name, exc, info)
        for impl in self.pm.hook.register_commands.get_hookimpls():
            info = self.infos.get(impl.plugin_name)
            if info is not None and "register_commands" not in info.hooks:
                info.hooks.append("register_commands")
        return registry

    def _record_hook_failure(
        self, plugin: str, hook_name: str, exc: BaseException, info: PluginInfo | None
    ) -> None:
        message = f"{type(exc).__name__}: {exc}"
        if info is not None:
            info.error = message
        self._fail(plugin, f"genmod plugin {plugin!r} raised in {hook_name}: {message}.", exc)

    def add_commands(self, cli: Any) -> None:
        """Let every plugin add its CLI commands; failures are isolated like registrations."""
        for impl in reversed(self.pm.hook.register_commands.get_hookimpls()):
            try:
                impl.function(cli=cli)
            except Exception as exc:  # noqa: BLE001 - a plugin's own bug
                self._record_hook_failure(
                    impl.plugin_name, "register_commands", exc, self.infos.get(impl.plugin_name)
                )

    def plugin_infos(self) -> list[PluginInfo]:
        _ = self.registry  # fills hooks/components
        return [self.infos[name] for name in sorted(self.infos)]


_MANAGER: PluginManager | None = None


def get_manager() -> PluginManager:
    """The process-wide plugin manager, loading entry points on first use."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = PluginManager()
    return _MANAGER


def reset_manager() -> None:
    """Forget loaded plugins (the next :func:`get_manager` reloads entry points)."""
    global _MANAGER
    _MANAGER = None


def get_registry() -> Registry:
    return get_manager().registry


def register_plugin(plugin: Any, name: str) -> None:
    """Register a plugin object or module at runtime, as if it came from an entry point."""
    get_manager().add_plugin(plugin, name)


def unregister_plugin(name: str) -> None:
    get_manager().remove_plugin(name)


def tensorflow_imported() -> bool:
    """Whether TensorFlow has been imported in this process (used by tests of laziness)."""
    return "tensorflow" in sys.modules
