"""Layer 5, model: a VAE assembled from components, and the math shared above it.

Owns the assembled model (:mod:`~genmod.model.vae`), building it from component names
(:mod:`~genmod.model.assembly`), the ELBO terms (:mod:`~genmod.model.elbo`), the importance-
weighted bound (:mod:`~genmod.model.iwae`) and input preprocessing: scaling, binarization,
one-hot labels (:mod:`~genmod.model.preprocess`). May import contract, config, plugins and
data. Its modules import TensorFlow; this package's ``__init__`` does not, until
:class:`VAE` is first used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["VAE"]


def __getattr__(name: str) -> Any:
    if name == "VAE":
        from genmod.model.vae import VAE

        return VAE
    raise AttributeError(f"module 'genmod.model' has no attribute {name!r}")
