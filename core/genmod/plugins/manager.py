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

Built-in plugins are the entry points of the ``genmod`` distribution itself. A third-party
plugin can never displace one: an entry-point name declared by genmod and by another
distribution loads genmod's (the other is reported), and a plugin command named like an existing
command (``run``, or one from an earlier plugin) is refused and reported; the existing command
stays. Both reports are warnings, fatal with ``GENMOD_STRICT_PLUGINS=1``. A component name
registered by two plugins is always an error, whose advice never suggests removing a built-in
and says what a removal would take away (a decoder that an encoder of the same name needs).

Nothing here imports TensorFlow.
"""

from __future__ import annotations

import os
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from genmod.contract import hookspecs
from genmod.contract.errors import PluginError
from genmod.plugins.registry import REGISTER_HOOKS, ComponentClash, Registry, make_register

#: modules a hook module should not import (they make every genmod start-up slow)
HEAVY_MODULES = ("tensorflow", "keras", "tensorflow_probability", "torch", "jax")
DEFAULT_IMPORT_WARN_SECONDS = 2.0
#: the distribution whose entry points are the built-in plugins
BUILTIN_DISTRIBUTION = "genmod"
#: the owner recorded for the commands genmod itself defines (``genmod run``, ...)
BUILTIN_OWNER = "genmod"


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
    #: loaded from an entry point of the ``genmod`` distribution itself
    builtin: bool = False
    #: loaded from an entry point (so ``GENMOD_DISABLE_PLUGINS`` can skip it), not at runtime
    entry_point: bool = False


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


def _normalise_distribution(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def entry_point_distribution(ep: metadata.EntryPoint) -> str | None:
    """The name of the distribution declaring ``ep`` (``None`` when unknown)."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None
    try:
        return dist.metadata["Name"]
    except Exception:  # noqa: BLE001 - broken metadata: an unknown distribution
        return None


def is_builtin_entry_point(ep: metadata.EntryPoint) -> bool:
    """Whether ``ep`` belongs to the ``genmod`` distribution itself (a built-in plugin)."""
    dist = entry_point_distribution(ep)
    return dist is not None and _normalise_distribution(dist) == BUILTIN_DISTRIBUTION


def builtin_entry_points() -> list[metadata.EntryPoint]:
    """The installed entry points of genmod's built-in plugins."""
    points = metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP)
    return [ep for ep in points if is_builtin_entry_point(ep)]


def builtin_component_names() -> set[str]:
    """Every component (and observer) name that genmod's built-in plugins register, read from
    the installed entry points; third-party plugins are not loaded."""
    manager = PluginManager(load_entry_points=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginLoadWarning)  # a probe: loading reports them
        for ep in builtin_entry_points():
            try:
                manager.add_plugin(ep.load(), ep.name)
            except Exception:  # noqa: BLE001 - a broken install: its names cannot be read
                continue
        registry = manager.registry
    return {name for kind in REGISTER_HOOKS for name in registry.names(kind)}


def _describe(dist: str | None, module: str) -> str:
    return f"{dist} ({module})" if dist else f"an unknown distribution ({module})"


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
    def _fail(
        self, plugin: str, message: str, exc: BaseException | None = None, skipped: bool = True
    ) -> None:
        if strict_mode():
            raise PluginError(
                message + " (GENMOD_STRICT_PLUGINS is set, so this is fatal)"
            ) from exc
        if plugin not in self._warned:
            self._warned.add(plugin)
            what = " The plugin was skipped; set" if skipped else " Set"
            warnings.warn(
                message + f"{what} GENMOD_STRICT_PLUGINS=1 to make this fatal.",
                PluginLoadWarning,
                stacklevel=3,
            )

    def _choose_entry_points(
        self, points: list[metadata.EntryPoint]
    ) -> tuple[list[metadata.EntryPoint], list[tuple[metadata.EntryPoint, metadata.EntryPoint]]]:
        """One entry point per name: genmod's own (built-in) whenever it declares the name,
        otherwise the first found. Returns the chosen ones, in the order found, and
        ``(refused, kept)`` pairs for the others."""
        chosen: dict[str, metadata.EntryPoint] = {}
        for ep in points:
            kept = chosen.get(ep.name)
            if kept is None or (is_builtin_entry_point(ep) and not is_builtin_entry_point(kept)):
                chosen[ep.name] = ep
        order = [ep for ep in points if chosen.get(ep.name) is ep]
        refused = [(ep, chosen[ep.name]) for ep in points if chosen[ep.name] is not ep]
        return order, refused

    def _report_duplicate_entry_point(
        self, refused: metadata.EntryPoint, kept: metadata.EntryPoint
    ) -> None:
        dist = entry_point_distribution(refused)
        refused_text = _describe(dist, refused.value)
        uninstall = (
            f"Uninstall {dist} (`pip uninstall {dist}`)"
            if dist
            else f"Remove the distribution that declares {refused.value}"
        )
        if is_builtin_entry_point(kept):
            message = (
                f"two installed distributions declare the genmod plugin {refused.name!r}: "
                f"genmod's built-in {kept.value} and {refused_text}; the built-in is loaded and "
                f"{refused_text} was not: a third-party plugin cannot replace a built-in one. "
                f"{uninstall}, or ask its authors to rename the entry point (names of built-in "
                "plugins are reserved; GENMOD_DISABLE_PLUGINS would skip the built-in too)."
            )
        else:
            message = (
                f"two installed distributions declare the genmod plugin {refused.name!r}: "
                f"{_describe(entry_point_distribution(kept), kept.value)} and {refused_text}; "
                f"the second was not loaded. {uninstall} to silence this, or uninstall the "
                "other to use this one."
            )
        self._fail(f"{refused.name} ({refused.value})", message)

    def _load_entry_points(self) -> None:
        allow = _env_list("GENMOD_PLUGINS")
        block = _env_list("GENMOD_DISABLE_PLUGINS") or set()
        points = [
            ep
            for ep in metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP)
            if ep.name not in block and (allow is None or ep.name in allow)
        ]
        chosen, refused = self._choose_entry_points(points)
        for ep, kept in refused:
            self._report_duplicate_entry_point(ep, kept)
        for ep in chosen:
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                distribution=entry_point_distribution(ep),
                version=dist.version if dist is not None else None,
                module=ep.value,
                builtin=is_builtin_entry_point(ep),
                entry_point=True,
            )
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
            taken = self.infos.get(name)
            if taken is not None and self.pm.get_plugin(name) is not None:
                origin = "a built-in plugin" if taken.builtin else f"plugin {name!r}"
                self._fail(
                    name,
                    f"genmod plugin {name!r} was not registered: the name is taken by {origin} "
                    f"({taken.module}). Register it under another name.",
                )
                return
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

    def is_builtin(self, plugin: str) -> bool:
        info = self.infos.get(plugin)
        return info is not None and info.builtin

    def _impls(self, hook: Any) -> list[Any]:
        """A hook's implementations, built-in plugins first, then in registration order (pluggy's
        ``get_hookimpls`` order; it calls them the other way round)."""
        return sorted(hook.get_hookimpls(), key=lambda i: not self.is_builtin(i.plugin_name))

    def _build_registry(self) -> Registry:
        registry = Registry()
        clashes: list[ComponentClash] = []
        for info in self.infos.values():
            info.components.clear()
            info.hooks.clear()
        for kind, hook_name in REGISTER_HOOKS.items():
            hook = getattr(self.pm.hook, hook_name)
            for impl in self._impls(hook):
                plugin_name = impl.plugin_name
                info = self.infos.get(plugin_name)
                if info is not None and hook_name not in info.hooks:
                    info.hooks.append(hook_name)
                register = make_register(kind, plugin_name, registry, info, clashes)
                try:
                    impl.function(register=register)
                except Exception as exc:  # noqa: BLE001 - a plugin's own bug
                    self._record_hook_failure(plugin_name, hook_name, exc, info)
        if clashes:
            raise PluginError(self._clash_message(registry, clashes))
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

    # -- advice --------------------------------------------------------------------------
    def _label(self, plugin: str) -> str:
        info = self.infos.get(plugin)
        if info is not None and info.builtin:
            return f"{plugin!r} (built-in)"
        if info is not None and info.distribution:
            return f"{plugin!r} (from {info.distribution})"
        return repr(plugin)

    def _provided(self, registry: Registry, clashes: list[ComponentClash]) -> dict[str, set]:
        """What each plugin registered, clashing names included: plugin -> {(kind, name)}."""
        provided: dict[str, set[tuple[str, str]]] = {}
        for kind in REGISTER_HOOKS:
            for spec in registry.specs(kind):
                provided.setdefault(spec.plugin, set()).add((kind, spec.name))
        for clash in clashes:
            provided.setdefault(clash.spec.plugin, set()).add((clash.spec.kind, clash.spec.name))
        return provided

    def removal_advice(self, remove: list[str], provided: dict[str, set] | None = None) -> str:
        """How to take the (third-party) plugins ``remove`` out, and what to pass instead of
        the components that others rely on and that would go with them."""
        env = [p for p in remove if (info := self.infos.get(p)) is not None and info.entry_point]
        runtime = [p for p in remove if p not in env]
        steps = []
        if env:
            block = sorted((_env_list("GENMOD_DISABLE_PLUGINS") or set()) | set(env))
            dists = sorted({d for p in env if (d := self.infos[p].distribution)})
            step = f"set `GENMOD_DISABLE_PLUGINS={','.join(block)}`"
            if dists:
                step += f" (or `pip uninstall {' '.join(dists)}`)"
            steps.append(step)
        for plugin in runtime:
            steps.append(f"unregister {plugin!r} (`genmod.plugins.unregister_plugin({plugin!r})`)")
        advice = " and ".join(steps)
        if provided is None:
            return advice + "."
        removed = set(remove)
        left = {item for p, items in provided.items() if p not in removed for item in items}
        gone = {item for p in removed for item in provided.get(p, set())}
        decoders_left = sorted(name for kind, name in left if kind == "decoder")
        notes = []
        for kind, name in sorted(left):
            if kind == "encoder" and ("decoder", name) in gone and ("decoder", name) not in left:
                notes.append(
                    f"the decoder {name!r} goes with it, so `--encoder {name}` then needs "
                    f"`--decoder NAME` (decoders left: {', '.join(decoders_left) or 'none'})"
                )
        if notes:
            advice += "; " + "; ".join(notes)
        return advice + "."

    def _clash_message(self, registry: Registry, clashes: list[ComponentClash]) -> str:
        provided = self._provided(registry, clashes)
        lines = []
        remove: list[str] = []
        for clash in clashes:
            first, second = clash.existing.plugin, clash.spec.plugin
            lines.append(
                f"the {clash.spec.kind} name {clash.spec.name!r} is registered by two plugins: "
                f"{self._label(first)} and {self._label(second)}."
            )
            candidates = [p for p in (second, first) if not self.is_builtin(p)]
            if candidates and not set(candidates) & set(remove):
                remove.append(candidates[0])
        if not remove:
            return (
                " ".join(lines) + " Both are built-in: this is a bug in genmod, please report it."
            )
        third_party = ", ".join(repr(p) for p in remove)
        return (
            " ".join(lines)
            + f" A built-in plugin is never the one to remove; to keep the others, take out "
            f"{third_party}: " + self.removal_advice(remove, provided)
        )

    # -- commands ------------------------------------------------------------------------
    def add_commands(self, cli: Any, owners: dict[str, str] | None = None) -> None:
        """Let every plugin add its CLI commands; failures are isolated like registrations.

        ``owners`` maps command names to the plugin that added them (:data:`BUILTIN_OWNER` for
        genmod's own) and is updated in place; commands already in ``cli`` that it does not
        name count as genmod's own. A plugin cannot replace or remove a command that exists
        (genmod's or an earlier plugin's): the existing one is kept and the clash reported,
        naming both (a warning; fatal with ``GENMOD_STRICT_PLUGINS=1``)."""
        owners = {} if owners is None else owners
        for name in cli.commands:
            owners.setdefault(name, BUILTIN_OWNER)
        for impl in self._impls(self.pm.hook.register_commands):
            plugin = impl.plugin_name
            before = dict(cli.commands)
            failure: Exception | None = None
            try:
                impl.function(cli=cli)
            except Exception as exc:  # noqa: BLE001 - a plugin's own bug
                failure = exc
            self._guard_commands(cli, before, owners, plugin)
            if failure is not None:
                self._record_hook_failure(
                    plugin, "register_commands", failure, self.infos.get(plugin)
                )

    def _guard_commands(
        self, cli: Any, before: dict[str, Any], owners: dict[str, str], plugin: str
    ) -> None:
        problems = []
        for name, command in before.items():
            now = cli.commands.get(name)
            if now is command:
                continue
            if now is not None and owners.get(name) == plugin:
                continue  # the plugin adds its own command again (a second start-up)
            cli.commands[name] = command
            owner = owners.get(name, BUILTIN_OWNER)
            owner_text = "genmod itself" if owner == BUILTIN_OWNER else self._label(owner)
            did, undone = (
                ("replace", f"the command of {plugin!r} was not added")
                if now is not None
                else ("remove", "it was put back")
            )
            problems.append(
                f"genmod plugin {self._label(plugin)} tried to {did} the command {name!r}, "
                f"which belongs to {owner_text}; command names clash like component names, so "
                f"{owner_text} keeps {name!r} and {undone}"
            )
        for name in cli.commands:
            if name not in before:
                owners[name] = plugin
        if not problems:
            return
        if self.is_builtin(plugin):
            fix = "This is a bug in genmod, please report it."
        else:
            try:
                provided = self._provided(self.registry, [])
            except PluginError:
                provided = None
            fix = f"Rename the command in {plugin!r}, or, to silence this, " + self.removal_advice(
                [plugin], provided
            )
        self._fail(f"{plugin} commands", "; ".join(problems) + ". " + fix, skipped=False)

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
