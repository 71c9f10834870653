"""genmod: a plugin-based framework for deep generative models on TensorFlow Probability.

Importing :mod:`genmod` is cheap: it does not import TensorFlow. The TensorFlow-backed pieces live
in :mod:`genmod.components` (interfaces), :mod:`genmod.model`, :mod:`genmod.training` and
:mod:`genmod.api`, and are imported only when used.
"""

from genmod.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["hookimpl", "__version__"]
