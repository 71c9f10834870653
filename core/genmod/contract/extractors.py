"""Feature extractors: the networks whose features sample-quality metrics compare.

FID, KID and precision/recall measure distances between the features of real and generated
images, so their numbers mean nothing without the extractor that produced the features, its
weights and its preprocessing. A plugin registers extractors with the
``register_extractors`` hook; ``genmod evaluate --extractor NAME`` chooses one (the built-in
ones are ``inception-v3`` and ``domain-classifier``, docs/metrics.md).

genmod calls :meth:`FeatureExtractor.prepare` once, before any metric runs (missing weights
fail there, in one line, before the evaluation spends any time), then
:meth:`FeatureExtractor.features` on batches, and records :meth:`FeatureExtractor.describe`
with every value computed from its features.

No TensorFlow here; implementations may use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ExtractorData:
    """What an extractor may need to prepare itself: the dataset's name and options (a key
    for weights trained on it), the shape of one item, its number of classes (0: unlabelled),
    the dataset's whole training split as a callable (whatever the run's ``train_size`` and
    ``validation_size``, so an extractor trained on it serves every run on the dataset; it is
    loaded only by extractors that train:
    ``train()`` gives float32 images ``[n, *data_shape]`` in ``[0, 1]`` and integer labels
    ``[n]`` or ``None``), a per-user cache folder the extractor may write, and
    ``progress(done, total)`` for long preparations."""

    dataset: str
    dataset_options: dict[str, Any]
    data_shape: tuple[int, ...]
    num_classes: int
    train: Callable[[], tuple[Any, Any]]
    cache_dir: Path
    progress: Callable[[int, int], None]


class FeatureExtractor:
    """Images in, feature vectors out. Subclass it; the factory registered with
    ``register_extractors`` is called with the extractor's options as keyword arguments."""

    #: bump when the features change for the same weights and images
    version: str = "1"

    def prepare(self, data: ExtractorData) -> None:
        """Load (or train and store) the weights for images of ``data.data_shape``. Missing
        weights, or images the extractor cannot take, raise
        :class:`genmod.contract.errors.ConfigError` or
        :class:`genmod.contract.errors.DataError` with one line saying what is needed."""

    @property
    def feature_dims(self) -> int:
        """The length of one feature vector (valid after :meth:`prepare`)."""
        raise NotImplementedError

    def features(self, images: Any) -> Any:
        """Features ``[n, feature_dims]`` (float32 or float64 numpy) of float32 images
        ``[n, *data_shape]`` in ``[0, 1]``; deterministic, and independent of how the images
        are split into batches up to float rounding."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """The method record: what the weights are (file, ``weights_sha256``, what they were
        trained on), the layer the features come from, and the preprocessing (resizing,
        channels, value range)."""
        raise NotImplementedError
