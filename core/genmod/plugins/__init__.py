"""Layer 3, plugins: finding and loading plugins, the component registry, plugin skeletons.

Owns :mod:`~genmod.plugins.registry` (what was registered, by kind and name),
:mod:`~genmod.plugins.manager` (entry points, pluggy, isolating broken plugins) and
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
from genmod.plugins.registry import (
    COMPONENT_NAME,
    KIND_HOOKS,
    KINDS,
    ComponentSpec,
    Registry,
    accepts_keywords,
)

__all__ = [
    "COMPONENT_NAME",
    "DEFAULT_IMPORT_WARN_SECONDS",
    "HEAVY_MODULES",
    "KINDS",
    "KIND_HOOKS",
    "ComponentSpec",
    "PluginInfo",
    "PluginLoadWarning",
    "PluginManager",
    "PluginSlowWarning",
    "Registry",
    "accepts_keywords",
    "get_manager",
    "get_registry",
    "import_warn_seconds",
    "register_plugin",
    "reset_manager",
    "strict_mode",
    "tensorflow_imported",
    "unregister_plugin",
]
