"""The inputs metrics share in one evaluation of a run: images, codes, samples, features.

:class:`RunMetricContext` implements :class:`genmod.contract.metrics.MetricContext` for a
loaded run: everything is computed on first use and cached, so the metrics of one evaluation
share one pass over the test set, one set of generated samples and one set of features.
Every random draw comes from the evaluation's seed (stateless TensorFlow ops, numpy's PCG64),
so the same evaluation gives the same numbers. Imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from genmod.contract.errors import ConfigError
from genmod.contract.metrics import MetricContext
from genmod.data import DatasetArrays
from genmod.evaluate.loglik import binarized_test_set
from genmod.model.preprocess import one_hot_labels

#: seed offsets of the draws each input makes (the test binarization uses ``seed`` itself and
#: the IWAE samples ``seed + 1``, as the run's test ELBO and ``genmod evaluate`` always have)
TRAIN_BINARIZE_OFFSET = 3
SAMPLE_CODES_OFFSET = 4
SAMPLE_IMAGES_OFFSET = 5
SAMPLE_LABELS_OFFSET = 6
FACTOR_DRAW_OFFSET = 8


def unit_interval(images: np.ndarray) -> np.ndarray:
    """uint8 0..255 -> float32 ``[0, 1]``; float images as float32 (already in ``[0, 1]``)."""
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255.0)
    return images.astype(np.float32, copy=False)


class RunMetricContext(MetricContext):
    """The :class:`~genmod.contract.metrics.MetricContext` of one evaluation of a loaded run.

    ``data``: the run's dataset (test items already cut to the evaluation's test size);
    ``train``: a callable giving the run's training items (validation hold-out excluded),
    called only when a metric or sampler needs them; ``binarize``: the run's binarization;
    ``batch_size``: items per forward pass; ``binarize_batch_size``: the run's
    ``eval_batch_size``, which fixes the seeded binarization of the test images (the same
    images as its test ELBO and the IWAE estimate); ``sampler``: a prepared
    :class:`genmod.contract.samplers.LatentSampler` or ``None``; ``extractor``: a prepared
    :class:`genmod.contract.extractors.FeatureExtractor` or ``None``; ``progress(done, total)``
    reports the current step.
    """

    def __init__(
        self,
        *,
        run_dir: Path,
        model: Any,
        dataset: str,
        data: DatasetArrays,
        train: Callable[[], DatasetArrays],
        binarize: str,
        seed: int,
        batch_size: int,
        binarize_batch_size: int,
        sampler: Any = None,
        extractor: Any = None,
        progress: Callable[[int, int], None] | None = None,
        on_stage: Callable[[str], None] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self._model = model
        self.dataset = dataset
        self.data = data
        self._train = train
        self.binarize = binarize
        self.seed = int(seed)
        self.batch_size = int(batch_size)
        self.binarize_batch_size = int(binarize_batch_size)
        self.sampler = sampler
        self.extractor = extractor
        self._progress = progress
        self._on_stage = on_stage
        #: the metric being computed (named in the stages announced to the progress display)
        self.current = ""
        self.latent_dim = int(model.latent_dim)
        self.data_shape = tuple(model.data_shape)
        self.test_size = len(data.x_test)
        self._cache: dict[Any, Any] = {}
        self._encode = tf.function(self._encode_batch, reduce_retracing=True)
        self._decode = tf.function(self._decode_batch, reduce_retracing=True)

    # -- plumbing ----------------------------------------------------------------------------
    @property
    def model(self) -> Any:
        return self._model

    def shared(self, key: Any, compute: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def announce(self, label: str) -> None:
        """Name the step that the following :meth:`progress` calls count."""
        if self._on_stage is not None:
            self._on_stage(f"{self.current}: {label}" if self.current else label)

    def cached(self, key: Any) -> Any:
        """What :meth:`shared` computed under ``key`` in this evaluation, or ``None``."""
        return self._cache.get(key)

    def progress(self, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress(int(done), int(total))

    def _condition(self, labels: np.ndarray | None) -> tf.Tensor | None:
        if not self._model.condition_dim:
            return None
        return one_hot_labels(tf.constant(labels), self._model.condition_dim)

    # -- test data ---------------------------------------------------------------------------
    def test_images(self) -> np.ndarray:
        return self.shared("test_images", lambda: unit_interval(self.data.x_test))

    def model_inputs(self) -> np.ndarray:
        return self.shared(
            "model_inputs",
            lambda: binarized_test_set(
                self.data.x_test,
                binarize=self.binarize,
                batch_size=self.binarize_batch_size,
                seed=self.seed,
            ),
        )

    def labels(self) -> np.ndarray:
        if self.data.y_test is None:
            raise ConfigError(f"the dataset {self.dataset!r} has no class labels.")
        return self.data.y_test

    def factors(self) -> tuple[np.ndarray, tuple[str, ...], tuple[int, ...]]:
        if self.data.factors_test is None:
            raise ConfigError(f"the dataset {self.dataset!r} has no ground-truth factors.")
        return self.data.factors_test, tuple(self.data.factor_names), tuple(self.data.factor_sizes)

    # -- codes -------------------------------------------------------------------------------
    def _encode_batch(self, x: tf.Tensor, condition: tf.Tensor | None) -> tf.Tensor:
        return self._model.posterior_location(x, condition)

    def encode(
        self, inputs: np.ndarray, labels: np.ndarray | None, *, batch_size: int | None = None
    ) -> np.ndarray:
        """Posterior locations ``[n, latent_dim]`` (float32) of model inputs ``inputs``, in
        batches of ``batch_size`` (default: the evaluation's)."""
        step = int(batch_size or self.batch_size)
        parts = []
        for start in range(0, len(inputs), step):
            stop = start + step
            condition = self._condition(None if labels is None else labels[start:stop])
            x = tf.constant(inputs[start:stop])
            out = self._encode(x, condition) if condition is not None else self._encode(x, None)
            parts.append(np.asarray(out, np.float32))
        if not parts:
            return np.zeros((0, self.latent_dim), np.float32)
        return np.concatenate(parts, axis=0)

    def codes(self) -> np.ndarray:
        return self.shared(
            "codes",
            lambda: self.encode(
                self.model_inputs(), self.data.y_test if self._model.condition_dim else None
            ),
        )

    def train_items(self) -> DatasetArrays:
        """The run's training items (validation hold-out excluded)."""
        return self.shared("train_items", self._train)

    def train_codes(self, max_items: int | None = None) -> np.ndarray:
        def compute() -> np.ndarray:
            train = self.train_items()
            x = train.x_train if max_items is None else train.x_train[:max_items]
            inputs = binarized_test_set(
                x,
                binarize=self.binarize,
                batch_size=self.binarize_batch_size,
                seed=self.seed + TRAIN_BINARIZE_OFFSET,
            )
            labels = train.y_train if self._model.condition_dim else None
            if labels is not None and max_items is not None:
                labels = labels[:max_items]
            # batches of the run's eval_batch_size whatever the command's --batch-size, so a
            # sampler fitted to these codes is the same fit from every command
            return self.encode(inputs, labels, batch_size=self.binarize_batch_size)

        return self.shared(("train_codes", max_items), compute)

    def factor_codes(
        self, items: str = "all", max_items: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        if items not in ("all", "test"):
            raise ConfigError(f"items={items!r}; accepted: all, test.")
        key = ("factor_codes", items, max_items)

        def compute() -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
            test_factors, _, _ = self.factors()
            n_test = len(test_factors)
            train = self.train_items() if items == "all" else None
            if train is not None and train.factors_train is None:
                raise ConfigError(
                    f"items=all: the training split of {self.dataset!r} has no factors; use "
                    "items=test."
                )
            n_train = 0 if train is None else len(train.x_train)
            total = n_train + n_test
            chosen = np.arange(total)
            if max_items is not None and max_items < total:
                rng = np.random.default_rng([self.seed, FACTOR_DRAW_OFFSET])
                chosen = np.sort(rng.choice(total, int(max_items), replace=False))
            train_index, test_index = chosen[chosen < n_train], chosen[chosen >= n_train] - n_train
            codes = [self.codes()[test_index]]
            factors = [test_factors[test_index]]
            if train is not None and len(train_index):
                inputs = binarized_test_set(
                    train.x_train[train_index],
                    binarize=self.binarize,
                    batch_size=self.binarize_batch_size,
                    seed=self.seed + TRAIN_BINARIZE_OFFSET,
                )
                labels = train.y_train[train_index] if self._model.condition_dim else None
                codes.insert(0, self.encode(inputs, labels))
                factors.insert(0, train.factors_train[train_index])
            where = "the training and test splits" if train is not None else "the test split"
            drawn = " (a seeded draw)" if len(chosen) < total else ""
            described = {
                "items": f"{len(chosen)} of {total} items of {where}{drawn}",
                "train_items": int(len(train_index)),
                "test_items": int(len(test_index)),
                "codes": "posterior locations (means) of the items as the model sees them",
            }
            return np.concatenate(codes), np.concatenate(factors), described

        return self.shared(key, compute)

    # -- samples -----------------------------------------------------------------------------
    def _decode_batch(
        self, z: tf.Tensor, condition: tf.Tensor | None, seed: tf.Tensor
    ) -> tf.Tensor:
        params = self._model.decoder.decode(z, condition)
        return self._model.likelihood.image(params, seed=seed)

    def sample_labels(self, n: int) -> np.ndarray | None:
        """Labels of generated images for a conditional model: drawn from the test labels
        (so classes come in their test-set proportions), seeded; ``None`` otherwise."""
        if not self._model.condition_dim:
            return None
        labels = self.labels()
        rng = np.random.default_rng([self.seed, SAMPLE_LABELS_OFFSET])
        return labels[rng.integers(0, len(labels), n)]

    def samples(self, n: int) -> np.ndarray:
        if self.sampler is None:
            raise ConfigError("no latent sampler was prepared for this evaluation.")

        def compute() -> np.ndarray:
            z = np.asarray(
                self.sampler.sample(int(n), seed=self.seed + SAMPLE_CODES_OFFSET), np.float32
            )
            if z.shape != (n, self.latent_dim):
                raise ConfigError(
                    f"the latent sampler returned codes of shape {list(z.shape)}; expected "
                    f"[{n}, {self.latent_dim}]."
                )
            labels = self.sample_labels(n)
            self.announce(f"generating {n} samples")
            parts = []
            for b, start in enumerate(range(0, n, self.batch_size)):
                stop = min(start + self.batch_size, n)
                condition = self._condition(None if labels is None else labels[start:stop])
                seed = tf.constant([self.seed + SAMPLE_IMAGES_OFFSET, b], tf.int32)
                images = self._decode(tf.constant(z[start:stop]), condition, seed)
                parts.append(np.clip(np.asarray(images, np.float32), 0.0, 1.0))
                self.progress(stop, n)
            return np.concatenate(parts, axis=0)

        return self.shared(("samples", int(n)), compute)

    # -- features ----------------------------------------------------------------------------
    def features(self, which: str, n: int | None = None) -> np.ndarray:
        if self.extractor is None:
            raise ConfigError("no feature extractor was prepared for this evaluation.")
        if which == "test":
            key_n = self.test_size if n is None else min(int(n), self.test_size)

            def images() -> np.ndarray:
                return self.test_images()[:key_n]
        elif which == "samples":
            if n is None:
                raise ValueError("features('samples') needs the number of samples n")
            key_n = int(n)

            def images() -> np.ndarray:
                return self.samples(key_n)
        else:
            raise ValueError(f"features() takes 'test' or 'samples', not {which!r}")

        def compute() -> np.ndarray:
            source = images()
            self.announce(f"features of {len(source)} {which} images")
            parts = []
            step = max(1, self.batch_size)
            for start in range(0, len(source), step):
                out = np.asarray(self.extractor.features(source[start : start + step]))
                parts.append(out.astype(np.float64))
                self.progress(min(start + step, len(source)), len(source))
            return np.concatenate(parts, axis=0)

        return self.shared(("features", which, key_n), compute)


def training_items(
    data: DatasetArrays, validation_size: int, train_size: int | None
) -> DatasetArrays:
    """The run's training items from its full dataset, as training saw them: the last
    ``validation_size`` held out, then the first ``train_size`` of the rest."""
    rest, _, _ = data.hold_out(min(validation_size, max(len(data.x_train) - 1, 0)))
    return rest.limited(train_size, None)
