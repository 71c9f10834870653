"""Layer 2, config: every setting of a run, from where it is given to ``config.toml``.

Owns :class:`RunConfig` and its validation (:mod:`~genmod.config.settings`), reading and
writing TOML (:mod:`~genmod.config.toml`), config files and a run's own ``config.toml``
(:mod:`~genmod.config.files`), and merging defaults, a config file and the command line
(:mod:`~genmod.config.sources`). One way in: :func:`from_command_line` (or a
:class:`RunConfig` built in Python, or :func:`read_config` of a run folder); one way out:
:func:`write_config`. May import the contract layer only (the plugin registry it resolves
names against is passed in). Nothing here imports TensorFlow.
"""

from genmod.config.files import (
    CONFIG_FILE,
    META_KEYS,
    READABLE_FORMATS,
    ConfigFile,
    read_config,
    read_config_file,
    require_resumable,
    write_config,
)
from genmod.config.settings import (
    BINARIZATIONS,
    COMPONENT_FIELDS,
    CONFIG_FORMAT_VERSION,
    LR_SCHEDULES,
    NONFINITE_ACTIONS,
    PRECISIONS,
    STRATEGIES,
    RunConfig,
)
from genmod.config.sources import SCALAR_FIELDS, conflicts, from_command_line, merge

__all__ = [
    "BINARIZATIONS",
    "COMPONENT_FIELDS",
    "CONFIG_FILE",
    "CONFIG_FORMAT_VERSION",
    "LR_SCHEDULES",
    "META_KEYS",
    "NONFINITE_ACTIONS",
    "PRECISIONS",
    "READABLE_FORMATS",
    "SCALAR_FIELDS",
    "STRATEGIES",
    "ConfigFile",
    "RunConfig",
    "conflicts",
    "from_command_line",
    "merge",
    "read_config",
    "read_config_file",
    "require_resumable",
    "write_config",
]
