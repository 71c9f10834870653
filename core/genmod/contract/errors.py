"""Exceptions that genmod turns into clear, one-paragraph user errors (exit code 2 on the CLI)."""


class GenmodError(Exception):
    """Base class of every error that is the user's input, not a bug in genmod."""


class ConfigError(GenmodError):
    """An option, option value or combination of components that cannot work."""


class DataError(GenmodError):
    """A data folder that is missing, incomplete or holds corrupt files; a failed download."""


class PluginError(GenmodError):
    """A plugin that failed to load, registered a conflicting name, or broke its contract."""


class RunDirError(GenmodError):
    """A run directory that cannot be used (exists and is not empty, unreadable, wrong format)."""
