"""Layer 3, plugins: finding and loading plugins, the component registry, plugin skeletons.

Owns :mod:`~genmod.plugins.registry` (what was registered, by kind and name),
:mod:`~genmod.plugins.manager` (entry points, pluggy, isolating broken plugins),
:mod:`~genmod.plugins.observers` (calling a run's observers, isolating broken ones) and
:mod:`~genmod.plugins.scaffold` (``genmod new-plugin``). May import the contract and config
layers only. Nothing here imports TensorFlow.
"""

from genmod.plugins.manager import (
    DEFAULT_IMPORT_WARN_SECONDS,
    HEAVY_MODULES,
    PluginInfo,
    PluginLoadWarning,
    PluginManager,
    PluginSlowWarning,
    get_manager,
    get_registry,
    import_warn_seconds,
    register_plugin,
    reset_manager,
    strict_mode,
    tensorflow_imported,
    unregister_plugin,
)
from genmod.plugins.observers import (
    DEFAULT_OBSERVER_WARN_SECONDS,
    ObserverList,
    ObserverSlowWarning,
    ObserverWarning,
    build_observers,
)
from genmod.plugins.registry import (
    COMPONENT_NAME,
    EVALUATION_HOOKS,
    EXTRACTOR_KIND,
    KIND_HOOKS,
    KINDS,
    METRIC_KIND,
    OBSERVER_HOOK,
    OBSERVER_KIND,
    REGISTER_HOOKS,
    SAMPLER_KIND,
    ComponentSpec,
    Registry,
    accepts_keywords,
)

__all__ = [
    "COMPONENT_NAME",
    "DEFAULT_IMPORT_WARN_SECONDS",
    "DEFAULT_OBSERVER_WARN_SECONDS",
    "EVALUATION_HOOKS",
    "EXTRACTOR_KIND",
    "HEAVY_MODULES",
    "KINDS",
    "KIND_HOOKS",
    "METRIC_KIND",
    "OBSERVER_HOOK",
    "OBSERVER_KIND",
    "REGISTER_HOOKS",
    "SAMPLER_KIND",
    "ComponentSpec",
    "ObserverList",
    "ObserverSlowWarning",
    "ObserverWarning",
    "PluginInfo",
    "PluginLoadWarning",
    "PluginManager",
    "PluginSlowWarning",
    "Registry",
    "accepts_keywords",
    "build_observers",
    "get_manager",
    "get_registry",
    "import_warn_seconds",
    "register_plugin",
    "reset_manager",
    "strict_mode",
    "tensorflow_imported",
    "unregister_plugin",
]
