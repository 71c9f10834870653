"""The component registry: every component that the loaded plugins registered, by kind and name.

Run observers (kind ``observer``, hook ``register_observers``) and the evaluation components
(``metric``, ``extractor``, ``sampler``; :data:`EVALUATION_HOOKS`) are kept in the same
registry but are not one of the model's component ``KINDS``.

:class:`Registry` is filled by :mod:`genmod.plugins.manager` through the ``register`` callbacks
made here (:func:`make_register`), one per plugin and hook, so that each component is
attributed to its plugin. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from genmod.contract.errors import ConfigError, PluginError
from genmod.contract.options import Option

#: component kind -> hook name
KIND_HOOKS: dict[str, str] = {
    "encoder": "register_encoders",
    "decoder": "register_decoders",
    "likelihood": "register_likelihoods",
    "prior": "register_priors",
    "posterior": "register_posteriors",
    "objective": "register_objectives",
    "dataset": "register_datasets",
}
KINDS = tuple(KIND_HOOKS)
#: run observers are registered like components but are not a part of the model: they are
#: chosen per run with ``--observer`` and kept apart from ``KINDS``
OBSERVER_KIND = "observer"
OBSERVER_HOOK = "register_observers"
#: evaluation components: metrics, the feature extractors and latent samplers they use
#: (``genmod evaluate --metric/--extractor/--sampler``); kind -> hook name
METRIC_KIND = "metric"
EXTRACTOR_KIND = "extractor"
SAMPLER_KIND = "sampler"
EVALUATION_HOOKS: dict[str, str] = {
    METRIC_KIND: "register_metrics",
    EXTRACTOR_KIND: "register_extractors",
    SAMPLER_KIND: "register_samplers",
}
#: every ``register_*`` hook: the component kinds, the observers and the evaluation kinds
REGISTER_HOOKS: dict[str, str] = {**KIND_HOOKS, OBSERVER_KIND: OBSERVER_HOOK, **EVALUATION_HOOKS}

#: what a component name may look like: it is typed on the command line and becomes part of
#: run-folder names, so no spaces, slashes, commas, semicolons or equals signs
COMPONENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*\Z")


@dataclass(frozen=True)
class ComponentSpec:
    """What a plugin registered: a name, a lazily imported factory, a description, options."""

    kind: str
    name: str
    factory: str | Callable[..., Any]
    description: str
    options: tuple[Option, ...]
    plugin: str

    def load(self) -> Callable[..., Any]:
        """Import and return the factory (this is where heavy imports happen)."""
        if callable(self.factory):
            return self.factory
        module_name, _, attr = self.factory.partition(":")
        try:
            module = importlib.import_module(module_name)
            obj: Any = module
            for part in attr.split("."):
                obj = getattr(obj, part)
        except Exception as exc:  # noqa: BLE001 - reported with the plugin's name
            raise PluginError(
                f"plugin {self.plugin!r}: the {self.kind} {self.name!r} could not be loaded from "
                f"{self.factory!r}: {type(exc).__name__}: {exc}"
            ) from exc
        return obj


class ComponentClash(PluginError):
    """Two plugins registered a component of the same kind under the same name.

    ``existing`` is the spec registered first, ``spec`` the one refused. The plugin manager
    collects every clash and reports them together, with advice that accounts for built-in
    plugins and for what removing a plugin would take away."""

    def __init__(self, existing: ComponentSpec, spec: ComponentSpec) -> None:
        self.existing = existing
        self.spec = spec
        super().__init__(
            f"the {spec.kind} name {spec.name!r} is registered by two plugins: "
            f"{existing.plugin!r} and {spec.plugin!r}."
        )


class Registry:
    """All components registered by all loaded plugins, by kind and name."""

    def __init__(self) -> None:
        self._specs: dict[str, dict[str, ComponentSpec]] = {kind: {} for kind in REGISTER_HOOKS}

    def add(self, spec: ComponentSpec) -> None:
        """Add one component; a name already taken for its kind raises :class:`ComponentClash`
        (the plugin manager turns it into an error with advice on how to resolve it)."""
        existing = self._specs[spec.kind].get(spec.name)
        if existing is not None:
            raise ComponentClash(existing, spec)
        self._specs[spec.kind][spec.name] = spec

    def names(self, kind: str) -> list[str]:
        return sorted(self._specs[kind])

    def specs(self, kind: str) -> list[ComponentSpec]:
        return [self._specs[kind][n] for n in self.names(kind)]

    def get(self, kind: str, name: str) -> ComponentSpec:
        """Look a component up; an unknown name is a :class:`ConfigError` listing known names."""
        try:
            return self._specs[kind][name]
        except KeyError:
            known = ", ".join(self.names(kind)) or "(none installed)"
            raise ConfigError(
                f"unknown {kind} {name!r}. Available {kind}s: {known}. "
                f"Run `genmod plugins` to see what each plugin provides."
            ) from None


def make_register(
    kind: str,
    plugin: str,
    registry: Registry,
    info: Any,
    clashes: list[ComponentClash] | None = None,
) -> Callable[..., None]:
    """The ``register(name, factory, description="", options=())`` callback handed to one
    plugin's ``register_<kind>s`` hook; ``info`` (a :class:`~genmod.plugins.manager.PluginInfo`
    or ``None``) collects what the plugin registered. With a ``clashes`` list, a name already
    taken is appended to it (and the plugin's hook goes on) instead of raising."""

    def register(
        name: str,
        factory: str | Callable[..., Any],
        description: str = "",
        options: Sequence[Option] = (),
    ) -> None:
        if not isinstance(name, str) or not COMPONENT_NAME.match(name):
            raise PluginError(
                f"plugin {plugin!r} registered a {kind} with invalid name {name!r}: names start "
                "with a letter or digit and hold only letters, digits and . _ + - "
                "(lower-case-with-hyphens is the convention)"
            )
        if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
            raise PluginError(
                f"plugin {plugin!r}: the {kind} {name!r} needs a callable factory or a "
                f"'module:attribute' string, got {factory!r}"
            )
        options = tuple(options)
        for opt in options:
            if not isinstance(opt, Option):
                raise PluginError(
                    f"plugin {plugin!r}: options of {kind} {name!r} must be genmod.contract.Option"
                )
        try:
            registry.add(ComponentSpec(kind, name, factory, description, options, plugin))
        except ComponentClash as clash:
            if clashes is None:
                raise
            clashes.append(clash)
            return
        if info is not None:
            info.components.append((kind, name))

    return register


def accepts_keywords(func: Callable[..., Any], names: Iterable[str]) -> bool:
    """Whether ``func`` accepts all ``names`` as keyword arguments."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return True
    params = sig.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return True
    return set(names) <= set(sig.parameters)
