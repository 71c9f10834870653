"""The built-in ``genmod`` sub-commands, one module each (imported by :mod:`genmod.cli`)."""
