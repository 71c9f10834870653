"""The ``domain-classifier`` feature extractor: a small CNN classifier of the run's dataset.

For MNIST-like data (grey digits, letters, sprites) Inception's ImageNet features say little,
and the common practice is a classifier trained on the dataset itself, whose penultimate layer
gives the features (e.g. the "MNIST FID" of many VAE and GAN papers). genmod trains one the
first time a dataset needs it (seeded, on the training split's labels), stores it in the
per-user cache (``$GENMOD_CACHE_DIR/extractors/domain-classifier/``) with its SHA-256 and
reuses it (it trains on the dataset's whole training split, so every run on the dataset
shares it), so every later evaluation on that dataset uses the very same weights; the sha256
is recorded with every value computed from its features, and a stored classifier whose file no
longer matches its checksum is refused.

Network: two 3x3 convolutions (32 and 64 channels, the second with stride 2), a third with
stride 2 (64), flatten, a dense layer of ``feature_dims`` ReLU units (the features), dropout
0.25 in training only, and a softmax over the classes. Trained with Adam (1e-3), batch 128,
``epochs`` passes in an order drawn from ``seed``, on 90% of the training split; the other 10%
gives the held-out accuracy in the record (a classifier no better than 1.5 times chance is
refused: its features would be noise). Training seeds Keras' global generators
(``keras.utils.set_random_seed``), which is how its initial weights follow ``seed``; genmod's
own evaluation draws only from stateless seeds, so that changes none of its numbers. Imports
TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from genmod.contract.errors import ConfigError
from genmod.contract.extractors import ExtractorData, FeatureExtractor

#: bump when the network or its training changes (part of the cache key)
ARCHITECTURE_VERSION = "1"
WEIGHTS_FILE = "classifier.weights.h5"
MANIFEST_FILE = "manifest.json"
HELD_OUT_SHARE = 0.1
TRAIN_BATCH = 128
FEATURE_BATCH = 500
#: a classifier whose held-out accuracy is at most this multiple of chance is refused
MIN_ACCURACY_OVER_CHANCE = 1.5


def _fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in (images, labels):
        digest.update(str(array.shape).encode() + str(array.dtype).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


class DomainClassifierExtractor(FeatureExtractor):
    """Penultimate-layer features of a CNN classifier trained on the run's dataset."""

    def __init__(
        self, epochs: int = 5, seed: int = 0, feature_dims: int = 128, retrain: bool = False
    ) -> None:
        self.epochs = int(epochs)
        self.seed = int(seed)
        self._dims = int(feature_dims)
        self.retrain = bool(retrain)
        self._features_model: Any = None
        self._record: dict[str, Any] = {}

    @property
    def feature_dims(self) -> int:
        return self._dims

    # -- prepare -----------------------------------------------------------------------------
    def prepare(self, data: ExtractorData) -> None:
        import filelock

        if len(data.data_shape) != 3:
            raise ConfigError(
                "the domain-classifier extractor takes images [height, width, channels]; this "
                f"dataset's items have shape {list(data.data_shape)}."
            )
        if data.num_classes < 2:
            raise ConfigError(
                f"the domain-classifier extractor trains on class labels, and the dataset "
                f"{data.dataset!r} has none; choose another extractor (--extractor "
                "inception-v3)."
            )
        images, labels = data.train()
        if labels is None:
            raise ConfigError(
                f"the domain-classifier extractor trains on class labels, and the training "
                f"split of {data.dataset!r} has none."
            )
        identity = {
            "architecture_version": ARCHITECTURE_VERSION,
            "dataset": data.dataset,
            "dataset_options": {
                k: list(v) if isinstance(v, tuple) else v
                for k, v in sorted(data.dataset_options.items())
            },
            "data_shape": list(data.data_shape),
            "num_classes": int(data.num_classes),
            "training_data_sha256": _fingerprint(images, np.asarray(labels)),
            "epochs": self.epochs,
            "seed": self.seed,
            "feature_dims": self._dims,
        }
        key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        folder = Path(data.cache_dir) / "domain-classifier" / f"{data.dataset}-{key}"
        folder.parent.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(str(folder) + ".lock"):
            manifest = self._stored(folder, identity)
            if manifest is None:
                manifest = self._train_and_store(folder, identity, images, labels, data)
            else:
                self._load(folder, data)
        self._record = {
            "weights": str(folder / WEIGHTS_FILE),
            "weights_sha256": manifest["weights_sha256"],
            "trained_on": f"the whole training split of {data.dataset!r} (whatever the run's "
            f"--train-size and --validation-size): fitted on {manifest['train_items']} items, "
            f"held-out accuracy {manifest['held_out_accuracy']:.4f} on "
            f"{manifest['held_out_items']} items",
            "training": {
                "epochs": self.epochs,
                "seed": self.seed,
                "optimizer": "Adam 1e-3",
                "batch": TRAIN_BATCH,
            },
            "architecture_version": ARCHITECTURE_VERSION,
            "layer": f"dense({self._dims}) ReLU before the softmax",
            "preprocessing": "images in [0, 1] as stored (grey levels, not binarized), no resizing",
        }

    def _stored(self, folder: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
        manifest_path, weights = folder / MANIFEST_FILE, folder / WEIGHTS_FILE
        if self.retrain or not manifest_path.is_file():
            return None
        from genmod.data.download import sha256_file

        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(manifest, dict) or manifest.get("identity") != identity:
            return None
        if not weights.is_file() or sha256_file(weights) != manifest.get("weights_sha256"):
            raise ConfigError(
                f"the stored domain classifier {str(weights)!r} does not match its recorded "
                "SHA-256 (damaged or replaced); delete that folder or pass --extractor-opt "
                "retrain=true to train it again."
            )
        return manifest

    def _network(self, data_shape: tuple[int, ...], num_classes: int) -> tuple[Any, Any]:
        import keras

        inputs = keras.Input(shape=data_shape)
        h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
        h = keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
        h = keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(h)
        h = keras.layers.Flatten()(h)
        features = keras.layers.Dense(self._dims, activation="relu", name="features")(h)
        dropped = keras.layers.Dropout(0.25)(features)
        logits = keras.layers.Dense(num_classes, name="logits")(dropped)
        return keras.Model(inputs, logits), keras.Model(inputs, features)

    def _load(self, folder: Path, data: ExtractorData) -> None:
        classifier, features = self._network(tuple(data.data_shape), int(data.num_classes))
        classifier.load_weights(str(folder / WEIGHTS_FILE))
        self._features_model = features

    def _train_and_store(
        self,
        folder: Path,
        identity: dict[str, Any],
        images: np.ndarray,
        labels: np.ndarray,
        data: ExtractorData,
    ) -> dict[str, Any]:
        import keras
        import tensorflow as tf

        from genmod.config import toml as tomlio
        from genmod.data.download import sha256_file

        keras.utils.set_random_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(images))
        held = max(1, int(round(HELD_OUT_SHARE * len(images))))
        if len(images) - held < TRAIN_BATCH:
            raise ConfigError(
                f"the domain-classifier extractor needs at least {TRAIN_BATCH + held} labelled "
                f"training images; {data.dataset!r} has {len(images)}."
            )
        train_index, held_index = order[held:], order[:held]
        classifier, features = self._network(tuple(data.data_shape), int(data.num_classes))
        optimizer = keras.optimizers.Adam(1e-3)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

        @tf.function(reduce_retracing=True)
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, classifier(x, training=True))
            grads = tape.gradient(loss, classifier.trainable_variables)
            optimizer.apply_gradients(zip(grads, classifier.trainable_variables, strict=True))
            return loss

        batches = (len(train_index) + TRAIN_BATCH - 1) // TRAIN_BATCH
        total = batches * self.epochs
        for epoch in range(self.epochs):
            shuffled = train_index[rng.permutation(len(train_index))]
            for b in range(batches):
                index = np.sort(shuffled[b * TRAIN_BATCH : (b + 1) * TRAIN_BATCH])
                step(tf.constant(images[index]), tf.constant(labels[index].astype(np.int32)))
                data.progress(epoch * batches + b + 1, total)
        predictions = []
        for start in range(0, held, FEATURE_BATCH):
            index = held_index[start : start + FEATURE_BATCH]
            logits = classifier(tf.constant(images[index]), training=False)
            predictions.append(np.argmax(np.asarray(logits), axis=1))
        accuracy = float(np.mean(np.concatenate(predictions) == labels[held_index]))
        chance = 1.0 / data.num_classes
        if accuracy <= MIN_ACCURACY_OVER_CHANCE * chance:
            raise ConfigError(
                f"the domain classifier of {data.dataset!r} reached only {accuracy:.2f} held-out "
                f"accuracy (chance {chance:.2f}) from {len(train_index)} training images: its "
                "features would not tell images apart. Give it more epochs (--extractor-opt "
                "epochs=N) or use --extractor inception-v3."
            )
        folder.mkdir(parents=True, exist_ok=True)
        weights = folder / WEIGHTS_FILE
        classifier.save_weights(str(weights))
        manifest = {
            "identity": identity,
            "weights_sha256": sha256_file(weights),
            "train_items": int(len(train_index)),
            "held_out_items": int(held),
            "held_out_accuracy": accuracy,
        }
        tomlio.write_atomic(folder / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
        self._features_model = features
        return manifest

    # -- use ---------------------------------------------------------------------------------
    def features(self, images: Any) -> np.ndarray:
        import tensorflow as tf

        if self._features_model is None:
            raise ConfigError("the domain-classifier extractor was not prepared.")
        images = np.asarray(images, np.float32)
        parts = [
            np.asarray(self._features_model(tf.constant(images[s : s + FEATURE_BATCH])))
            for s in range(0, len(images), FEATURE_BATCH)
        ]
        return np.concatenate(parts, axis=0) if parts else np.zeros((0, self._dims))

    def describe(self) -> dict[str, Any]:
        return dict(self._record)
