"""Models and trainers for the benchmark scripts, built the way ``genmod run`` builds them.

``build(encoder, precision)`` assembles the default VAE for MNIST images (28 x 28 x 1) with
that encoder and its matching decoder under a Keras precision policy, from a fixed seed.
``mnist_trainer(...)`` wraps it in genmod's :class:`~genmod.train.trainer.Trainer` with dynamic
binarization and no labels, as every benchmark trains it.
"""

from __future__ import annotations

import keras
import numpy as np

from genmod.config import RunConfig
from genmod.model.assembly import Assembled, build_model
from genmod.plugins import get_registry
from genmod.train.precision import precision_policy
from genmod.train.trainer import Trainer


def build(encoder: str, precision: str = "float32", seed: int = 0) -> Assembled:
    """The default model with ``encoder`` (``cnn``, ``mlp``, ...) for MNIST images."""
    config = RunConfig(encoder=encoder).resolve(get_registry())
    keras.utils.set_random_seed(seed)
    with precision_policy(precision):
        return build_model(config, get_registry(), (28, 28, 1))


def mnist_trainer(
    assembled: Assembled,
    images: np.ndarray,
    *,
    batch_size: int,
    learning_rate: float = 1e-3,
    seed: int = 0,
    **options,
) -> Trainer:
    """genmod's training loop over unlabelled ``images`` with dynamic binarization;
    ``options`` go to :class:`~genmod.train.trainer.Trainer` (steps_per_execution, ...)."""
    return Trainer(
        assembled.model,
        assembled.objective,
        images,
        None,
        binarize="dynamic",
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        **options,
    )
