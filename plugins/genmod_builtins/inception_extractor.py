"""The ``inception-v3`` feature extractor: 2048 pool features of Keras' ImageNet Inception-v3.

The usual features for FID/KID on colour images. Weights: Keras' published ImageNet file
without the classifier head (``inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5``,
pinned by Keras with an MD5), read from ``--extractor-opt weights=PATH``, else from the Keras
cache (``$KERAS_HOME/models/``, default ``~/.keras/models/``), else downloaded there and
verified; offline, that fails in one line saying where to put the file. The SHA-256 of the
file used is recorded with every value.

Preprocessing: images in ``[0, 1]``; grey images repeated to 3 channels; resized to 299x299
with ``tf.image.resize`` (bilinear, no antialiasing); scaled to ``[-1, 1]`` as Keras'
``inception_v3.preprocess_input`` does; features are the global average pool of the last
mixed block (2048 values).

These are **not** the features of the TensorFlow Inception graph of 2015 that the original
FID code (Heusel et al.'s TTUR, and pytorch-fid, which ports it) uses: the Keras weights are a
different training of the architecture, and that code resizes differently. FIDs from this
extractor therefore differ from published FIDs and compare only with each other
(docs/metrics.md). Imports TensorFlow.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from genmod.contract.errors import ConfigError
from genmod.contract.extractors import ExtractorData, FeatureExtractor

WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_MIRROR = "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3"
#: the MD5 Keras pins for the file (keras/src/applications/inception_v3.py)
WEIGHTS_MD5 = "bcbd6486424b2319ff4ef7d526e38f63"
INPUT_SIDE = 299
FEATURE_DIMS = 2048
BATCH = 32


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded application weights: ``$KERAS_HOME/models`` or
    ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    return Path(home).expanduser() / "models"


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class InceptionV3Extractor(FeatureExtractor):
    """Pool features (2048) of Inception-v3 with Keras' ImageNet weights."""

    def __init__(self, weights: str = "", download: bool = True) -> None:
        self.weights = weights
        self.download = bool(download)
        self._model: Any = None
        self._record: dict[str, Any] = {}

    @property
    def feature_dims(self) -> int:
        return FEATURE_DIMS

    def _weights_path(self) -> Path:
        if self.weights:
            path = Path(self.weights).expanduser()
            if not path.is_file():
                raise ConfigError(
                    f"the inception-v3 weights file {str(path)!r} does not exist; pass the path "
                    f"of {WEIGHTS_FILE} (Keras' ImageNet weights without the top)."
                )
            return path
        cached = keras_cache_dir() / WEIGHTS_FILE
        if cached.is_file():
            return cached
        if not self.download:
            raise ConfigError(
                f"the inception-v3 weights are not in the Keras cache ({str(cached)!r}) and "
                "download=false; copy the file there or pass --extractor-opt weights=PATH."
            )
        from genmod.contract.errors import DataError
        from genmod.data.download import download_verified

        try:
            return download_verified(
                WEIGHTS_FILE, [WEIGHTS_MIRROR], keras_cache_dir(), file_md5=WEIGHTS_MD5
            )
        except DataError:
            raise ConfigError(
                f"the inception-v3 weights are missing: {WEIGHTS_FILE} is not in the Keras "
                f"cache ({str(keras_cache_dir())!r}) and could not be downloaded from "
                f"{WEIGHTS_MIRROR} (offline?); copy the file there or pass --extractor-opt "
                "weights=PATH."
            ) from None

    def prepare(self, data: ExtractorData) -> None:
        import keras

        from genmod.data.download import sha256_file

        shape = tuple(data.data_shape)
        if len(shape) != 3 or shape[-1] not in (1, 3):
            raise ConfigError(
                "the inception-v3 extractor takes grey or colour images [height, width, 1 or "
                f"3]; this dataset's items have shape {list(shape)}."
            )
        path = self._weights_path()
        model = keras.applications.InceptionV3(
            include_top=False,
            weights=None,
            input_shape=(INPUT_SIDE, INPUT_SIDE, 3),
            pooling="avg",
        )
        try:
            model.load_weights(str(path))
        except Exception as exc:  # noqa: BLE001 - a wrong or damaged file, named
            raise ConfigError(
                f"the inception-v3 weights {str(path)!r} cannot be loaded into Inception-v3 "
                f"without its top ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
                f"it must be Keras' {WEIGHTS_FILE}."
            ) from None
        self._model = model
        self._record = {
            "weights": str(path),
            "weights_sha256": sha256_file(path),
            "weights_are_keras_imagenet": _md5(path) == WEIGHTS_MD5,
            "layer": "global average pool after the last mixed block (mixed10), 2048 values",
            "preprocessing": (
                "images in [0, 1]; grey repeated to 3 channels; resized to 299x299 with "
                "tf.image.resize (bilinear, no antialiasing); scaled to [-1, 1]"
            ),
            "not_comparable_with": "FIDs computed with the 2015 TensorFlow Inception graph "
            "(TTUR, pytorch-fid): other weights and resizing",
        }

    def features(self, images: Any) -> np.ndarray:
        import tensorflow as tf

        if self._model is None:
            raise ConfigError("the inception-v3 extractor was not prepared.")
        images = np.asarray(images, np.float32)
        parts = []
        for start in range(0, len(images), BATCH):
            x = tf.constant(images[start : start + BATCH])
            if x.shape[-1] == 1:
                x = tf.repeat(x, 3, axis=-1)
            x = tf.image.resize(x, (INPUT_SIDE, INPUT_SIDE), method="bilinear", antialias=False)
            parts.append(np.asarray(self._model(x * 2.0 - 1.0, training=False)))
        return np.concatenate(parts, axis=0) if parts else np.zeros((0, FEATURE_DIMS))

    def describe(self) -> dict[str, Any]:
        return dict(self._record)
