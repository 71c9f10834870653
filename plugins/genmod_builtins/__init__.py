"""genmod's built-in plugins.

Each submodule named in the ``genmod`` entry-point group of genmod's ``pyproject.toml`` is one
plugin; the core never imports them by name. Hook modules are light (no TensorFlow); the
networks live in ``*_networks`` / ``*_impl`` modules that are imported only when used.
"""
