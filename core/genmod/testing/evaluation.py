"""Conformance checks of the evaluation components: metrics, feature extractors, latent samplers.

:func:`check_metric`, :func:`check_extractor` and :func:`check_sampler` take a zero-argument
``build`` callable returning a fresh component (``check_component("metric", NAME)`` builds a
registered one from its options and calls them). They check what ``genmod evaluate`` relies
on, beyond the type checks it makes itself: the rules in the docstrings of
:mod:`genmod.contract.metrics`, :mod:`genmod.contract.extractors` and
:mod:`genmod.contract.samplers`.

A metric is computed on a :class:`SyntheticContext` unless the caller passes a context
factory: small numpy data from fixed seeds, no model and no TensorFlow.
:func:`model_context` gives a real context (:class:`genmod.evaluate.context.RunMetricContext`)
of a tiny untrained VAE on the same synthetic data, for metrics that need the model.

Imports no TensorFlow itself; the model context, the default sampler model and the
components checked may.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from genmod.contract.errors import ConfigError, GenmodError
from genmod.contract.extractors import ExtractorData, FeatureExtractor
from genmod.contract.metrics import (
    NEEDS,
    EvaluationPlan,
    Metric,
    MetricContext,
    MetricResult,
    MetricValue,
)
from genmod.contract.samplers import LatentSampler
from genmod.data import DatasetArrays
from genmod.evaluate.suite import RESERVED_NAMES
from genmod.plugins import EXTRACTOR_KIND, METRIC_KIND, SAMPLER_KIND, Registry
from genmod.testing.errors import ConformanceError, require

#: the synthetic data of :class:`SyntheticContext` and of the extractor check's default data
DATA_SHAPE = (8, 8, 1)
LATENT_DIM = 4
TEST_SIZE = 64
TRAIN_SIZE = 256
NUM_CLASSES = 4
FACTOR_NAMES = ("shape", "x", "y")
FACTOR_SIZES = (2, 4, 4)
FEATURE_DIMS = 16

#: a value name in evaluation.json: lower-case snake_case
VALUE_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
#: keys genmod writes into an extractor's or sampler's record before ``describe()`` is merged
#: over it (:mod:`genmod.evaluate.extractors`, :mod:`genmod.evaluate.samplers`)
EXTRACTOR_RECORD_KEYS = ("name", "chosen_by", "plugin", "version", "options", "feature_dims")
SAMPLER_RECORD_KEYS = (
    "name",
    "plugin",
    "version",
    "options",
    "fitted_on",
    "fit_items",
    "fit_seed",
    "reused",
    "file",
    "state_sha256",
)


# -- synthetic data ----------------------------------------------------------------------------


def synthetic_data(
    data_shape: Sequence[int] = DATA_SHAPE,
    *,
    num_classes: int = NUM_CLASSES,
    train_size: int = TRAIN_SIZE,
    test_size: int = TEST_SIZE,
) -> DatasetArrays:
    """Noisy uint8 images ``[n, *data_shape]`` (values below 100) whose rows ``r`` with
    ``r % num_classes == label`` are brightened by 155, so a classifier can learn the labels
    in ``0..num_classes-1``; three
    ground-truth factors (``shape``, ``x``, ``y`` of sizes 2, 4, 4) laid on their full grid
    (each of the 32 combinations equally often, in a seeded order), ``train_size`` training
    and ``test_size`` test items, all from fixed seeds."""
    shape = tuple(int(d) for d in data_shape)
    rng = np.random.default_rng(20240611)
    grid = np.stack(
        np.meshgrid(*[np.arange(s) for s in FACTOR_SIZES], indexing="ij"), axis=-1
    ).reshape(-1, len(FACTOR_SIZES))

    def factors(n: int) -> np.ndarray:
        repeated = np.tile(grid, (n // len(grid) + 1, 1))[:n]
        return repeated[rng.permutation(n)].astype(np.int64)

    def labels(n: int) -> np.ndarray | None:
        return rng.integers(0, num_classes, n).astype(np.int64) if num_classes else None

    def images(y: np.ndarray | None, n: int) -> np.ndarray:
        noise = rng.integers(0, 100, (n, *shape))
        if y is None:
            return noise.astype(np.uint8)
        rows = np.arange(shape[0]).reshape(1, shape[0], *([1] * (len(shape) - 1)))
        band = (rows % num_classes) == y.reshape(n, *([1] * len(shape)))
        return (noise + 155 * band).astype(np.uint8)

    y_train, y_test = labels(train_size), labels(test_size)
    return DatasetArrays(
        x_train=images(y_train, train_size),
        y_train=y_train,
        x_test=images(y_test, test_size),
        y_test=y_test,
        num_classes=num_classes,
        factors_train=factors(train_size),
        factors_test=factors(test_size),
        factor_names=FACTOR_NAMES,
        factor_sizes=FACTOR_SIZES,
    )


def _synthetic_codes(factors: np.ndarray, latent_dim: int, seed: int) -> np.ndarray:
    """Codes ``[n, latent_dim]`` (float32): dimension k < 3 follows factor k (scaled to about
    [-1, 1]) plus noise of standard deviation 0.1; the others are standard normal noise."""
    rng = np.random.default_rng([seed, 31])
    codes = rng.standard_normal((len(factors), latent_dim))
    for k in range(min(latent_dim, factors.shape[1])):
        size = FACTOR_SIZES[k]
        codes[:, k] = 2.0 * factors[:, k] / max(size - 1, 1) - 1.0 + 0.1 * codes[:, k]
    return codes.astype(np.float32)


def _unit_interval(images: np.ndarray) -> np.ndarray:
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255.0)
    return images.astype(np.float32, copy=False)


class ProjectionExtractor(FeatureExtractor):
    """A feature extractor without weights to load: a fixed random projection (seed 12345) of
    the flattened images to ``dims`` features (float64). Used by the synthetic contexts."""

    def __init__(self, dims: int = FEATURE_DIMS, data_shape: Sequence[int] = DATA_SHAPE) -> None:
        self.dims = int(dims)
        size = int(np.prod(data_shape))
        rng = np.random.default_rng(12345)
        self.weights = rng.standard_normal((size, self.dims)) / math.sqrt(size)

    def prepare(self, data: ExtractorData) -> None:
        """Nothing to load."""

    @property
    def feature_dims(self) -> int:
        """``dims``."""
        return self.dims

    def features(self, images: Any) -> np.ndarray:
        """The projection of the flattened images ``[n, dims]`` (float64)."""
        flat = np.asarray(images, np.float64).reshape(len(images), -1)
        return flat @ self.weights

    def describe(self) -> dict[str, Any]:
        """What the projection is."""
        return {"weights": "a fixed random projection (numpy seed 12345)", "layer": "linear"}


class SyntheticContext(MetricContext):
    """The metric context :func:`check_metric` uses by default: numpy only, from fixed seeds.

    What it provides (``data_shape`` ``(8, 8, 1)`` and ``latent_dim`` 4 unless given):

    * ``test_images()``/``model_inputs()``: 64 random images in ``[0, 1]`` (uint8 levels
      k/255; ``binarize`` is ``"none"``, so the two are equal); ``data``: the
      :func:`synthetic_data` arrays (256 training items too);
    * ``labels()``: 4 classes; ``factors()``: 3 factors (``shape``, ``x``, ``y``; sizes 2, 4,
      4) on their full grid;
    * ``codes()``, ``train_codes()``, ``factor_codes()``: codes whose first three dimensions
      follow the three factors (plus noise of 0.1), the fourth standard normal noise;
    * ``samples(n)``: ``n`` other random images in ``[0, 1]``, drawn from :attr:`seed`;
    * ``features(which, n)``: a fixed random projection of the images to 16 features
      (:class:`ProjectionExtractor`, also ``extractor``);
    * ``shared``, ``progress`` (recorded in ``progress_calls``);
    * ``model``: none; touching it raises :class:`ConformanceError` (pass
      ``context=model_context`` to :func:`check_metric` for a metric that needs the model).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        data_shape: Sequence[int] = DATA_SHAPE,
        latent_dim: int = LATENT_DIM,
        data: DatasetArrays | None = None,
    ) -> None:
        self.seed = int(seed)
        self.data_shape = tuple(int(d) for d in data_shape)
        self.latent_dim = int(latent_dim)
        self.data = data if data is not None else synthetic_data(self.data_shape)
        self.dataset = "synthetic"
        self.test_size = len(self.data.x_test)
        self.binarize = "none"
        self.binarize_batch_size = self.test_size
        self.run_dir = Path(tempfile.gettempdir()) / "genmod-synthetic-run"
        self.extractor = ProjectionExtractor(FEATURE_DIMS, self.data_shape)
        self.progress_calls: list[tuple[int, int]] = []
        self._cache: dict[Any, Any] = {}

    @property
    def model(self) -> Any:
        """None here: raises :class:`ConformanceError`."""
        raise ConformanceError(
            "this metric needs the model, which the synthetic context has none of; pass "
            "context=genmod.testing.model_context (a tiny untrained VAE on the same synthetic "
            "data) or a factory of your own, e.g. context=lambda: model_context(my_model)"
        )

    def shared(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per context under ``key``."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def progress(self, done: int, total: int) -> None:
        """Recorded in :attr:`progress_calls`."""
        self.progress_calls.append((done, total))

    def test_images(self) -> np.ndarray:
        """The test images in ``[0, 1]``."""
        return self.shared("test_images", lambda: _unit_interval(self.data.x_test))

    def model_inputs(self) -> np.ndarray:
        """The test images (no binarization)."""
        return self.test_images()

    def labels(self) -> np.ndarray:
        """Test labels ``[64]`` in ``0..3``."""
        if self.data.y_test is None:
            raise ConfigError("the synthetic dataset has no class labels.")
        return self.data.y_test

    def factors(self) -> tuple[np.ndarray, tuple[str, ...], tuple[int, ...]]:
        """The test items' factors ``[64, 3]``, their names and sizes."""
        return self.data.factors_test, tuple(self.data.factor_names), tuple(self.data.factor_sizes)

    def codes(self) -> np.ndarray:
        """Codes of the test items ``[64, latent_dim]``."""
        return self.shared(
            "codes", lambda: _synthetic_codes(self.data.factors_test, self.latent_dim, 1)
        )

    def _all_train_codes(self) -> np.ndarray:
        return self.shared(
            "train_codes", lambda: _synthetic_codes(self.data.factors_train, self.latent_dim, 2)
        )

    def train_codes(self, max_items: int | None = None) -> np.ndarray:
        """Codes of the training items, the first ``max_items``."""
        codes = self._all_train_codes()
        return codes if max_items is None else codes[:max_items]

    def factor_codes(
        self, items: str = "all", max_items: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """Codes and factors of the training and test items (``"all"``) or the test items,
        a seeded draw of ``max_items`` of them, and their description."""
        if items not in ("all", "test"):
            raise ConfigError(f"items={items!r}; accepted: all, test.")
        codes, factors = [self.codes()], [self.data.factors_test]
        if items == "all":
            codes.insert(0, self._all_train_codes())
            factors.insert(0, self.data.factors_train)
        all_codes, all_factors = np.concatenate(codes), np.concatenate(factors)
        total = len(all_codes)
        chosen = np.arange(total)
        if max_items is not None and max_items < total:
            rng = np.random.default_rng([self.seed, 8])
            chosen = np.sort(rng.choice(total, int(max_items), replace=False))
        described = {
            "items": f"{len(chosen)} of {total} synthetic items",
            "codes": "synthetic codes following the factors",
        }
        return all_codes[chosen], all_factors[chosen], described

    def samples(self, n: int) -> np.ndarray:
        """``n`` random images in ``[0, 1]`` drawn from :attr:`seed`."""

        def compute() -> np.ndarray:
            rng = np.random.default_rng([self.seed, 4])
            return rng.uniform(0.0, 1.0, (int(n), *self.data_shape)).astype(np.float32)

        return self.shared(("samples", int(n)), compute)

    def features(self, which: str, n: int | None = None) -> np.ndarray:
        """The projection features of the first ``n`` test images or of ``samples(n)``."""
        if which == "test":
            count = self.test_size if n is None else min(int(n), self.test_size)
            images: Callable[[], np.ndarray] = lambda: self.test_images()[:count]  # noqa: E731
        elif which == "samples":
            if n is None:
                raise ValueError("features('samples') needs the number of samples n")
            count = int(n)
            images = lambda: self.samples(count)  # noqa: E731
        else:
            raise ValueError(f"features() takes 'test' or 'samples', not {which!r}")
        return self.shared(("features", which, count), lambda: self.extractor.features(images()))


_MODELS: dict[Any, Any] = {}


def model_context(
    model: Any = None,
    *,
    seed: int = 0,
    binarize: str | None = None,
    registry: Registry | None = None,
) -> MetricContext:
    """A real :class:`genmod.evaluate.context.RunMetricContext` for ``model`` (a
    :class:`genmod.model.vae.VAE`; default: a tiny untrained one, an ``mlp`` encoder and
    decoder with 16 hidden units, a Bernoulli likelihood, ``latent_dim`` 4, for ``(8, 8, 1)``
    images, weights seeded with 0) on :func:`synthetic_data` of the model's data shape, with
    the model's prior as the latent sampler and a :class:`ProjectionExtractor` (16 features).
    ``binarize``: default ``dynamic`` for a binary likelihood, else ``none``. Imports
    TensorFlow. Pass it as ``check_metric(build, context=model_context)``."""
    from genmod.evaluate.context import RunMetricContext
    from genmod.plugins import get_registry

    registry = registry or get_registry()
    if model is None:
        model = _default_model(registry)
    if binarize is None:
        binarize = "dynamic" if model.likelihood.support == "binary" else "none"
    data_shape = tuple(model.data_shape)
    classes = int(model.condition_dim) or NUM_CLASSES
    data = synthetic_data(data_shape, num_classes=classes)
    sampler = _PriorDraws(model)
    return RunMetricContext(
        run_dir=Path(tempfile.gettempdir()) / "genmod-synthetic-run",
        model=model,
        dataset="synthetic",
        data=data,
        train=lambda: data,
        binarize=binarize,
        seed=seed,
        batch_size=32,
        binarize_batch_size=32,
        sampler=sampler,
        extractor=ProjectionExtractor(FEATURE_DIMS, data_shape),
    )


def _default_model(registry: Registry) -> Any:
    """The tiny VAE of :func:`model_context`, built once per process (the same weights for
    every context, so that two contexts give the same numbers)."""
    key = "mlp-bernoulli"
    if key not in _MODELS:
        import keras

        from genmod.config import RunConfig
        from genmod.model.assembly import build_model

        config = RunConfig(
            encoder="mlp",
            decoder="mlp",
            encoder_options={"hidden": (16,)},
            decoder_options={"hidden": (16,)},
            latent_dim=LATENT_DIM,
        ).resolve(registry)
        keras.utils.set_random_seed(0)
        _MODELS[key] = build_model(config, registry, DATA_SHAPE).model
    return _MODELS[key]


class _PriorDraws:
    """z ~ p(z) of a model, from stateless seeds (what the built-in ``prior`` sampler does)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def sample(self, n: int, *, seed: int) -> np.ndarray:
        import tensorflow as tf

        draws = self.model.prior_distribution().sample(
            int(n), seed=tf.constant([int(seed), 0], tf.int32)
        )
        return np.asarray(draws, np.float32)


# -- helpers -----------------------------------------------------------------------------------


def _json_error(value: Any) -> str | None:
    """Why ``value`` cannot be written as strict JSON, or ``None``."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _digest(value: Any) -> Any:
    """A fingerprint of the numpy arrays in ``value`` (a tuple of them, too)."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return None
        return hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
    if isinstance(value, tuple):
        return tuple(_digest(v) for v in value)
    return None


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, lists element by element."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class _Interrupt(KeyboardInterrupt):
    """The Ctrl-C that the guarded context's ``progress`` raises on purpose."""


class _GuardedContext(MetricContext):
    """Hands a metric its context, refusing what the metric did not declare in ``needs``,
    fingerprinting the arrays it hands out (a metric must not change them: they are shared
    with the other metrics of the evaluation) and recording progress calls."""

    def __init__(self, inner: Any, needs: Sequence[str], who: str) -> None:
        self._inner = inner
        self._needs = set(needs)
        self._who = who
        self._handed: list[tuple[str, Any, Any]] = []
        self.violations: list[ConformanceError] = []
        self.progress_calls: list[tuple[Any, Any]] = []
        self.interrupt = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _need(self, need: str, what: str) -> None:
        if need not in self._needs:
            error = ConformanceError(
                f"{self._who}: compute() used context.{what}, which needs {need!r}; declare it "
                f"in needs (now {tuple(sorted(self._needs))}): genmod refuses a dataset that "
                "cannot provide what a metric declares and prepares only what the chosen "
                "metrics declare"
            )
            self.violations.append(error)
            raise error

    def _hand(self, what: str, value: Any) -> Any:
        self._handed.append((what, value, _digest(value)))
        return value

    def changed(self) -> list[str]:
        """The context parts whose arrays differ from what was handed out."""
        return [what for what, value, digest in self._handed if _digest(value) != digest]

    @property
    def model(self) -> Any:
        """The inner context's model, if the metric declared ``model``."""
        self._need("model", "model")
        try:
            return self._inner.model
        except ConformanceError as exc:  # the synthetic context has none
            error = ConformanceError(f"{self._who}: {exc}")
            self.violations.append(error)
            raise error from None

    @property
    def data(self) -> Any:
        """The inner context's dataset arrays, if the metric declared ``test_data``."""
        self._need("test_data", "data")
        return self._inner.data

    def shared(self, key: Any, compute: Callable[[], Any]) -> Any:
        """The inner context's ``shared``."""
        return self._inner.shared(key, compute)

    def progress(self, done: int, total: int) -> None:
        """Recorded, passed on; raises a KeyboardInterrupt when :attr:`interrupt` is set."""
        self.progress_calls.append((done, total))
        self._inner.progress(done, total)
        if self.interrupt:
            raise _Interrupt()

    def test_images(self) -> Any:
        """Guarded."""
        self._need("test_data", "test_images()")
        return self._hand("test_images()", self._inner.test_images())

    def model_inputs(self) -> Any:
        """Guarded."""
        self._need("test_data", "model_inputs()")
        return self._hand("model_inputs()", self._inner.model_inputs())

    def labels(self) -> Any:
        """Guarded."""
        self._need("labels", "labels()")
        return self._hand("labels()", self._inner.labels())

    def factors(self) -> Any:
        """Guarded."""
        self._need("factors", "factors()")
        return self._hand("factors()", self._inner.factors())

    def codes(self) -> Any:
        """Guarded."""
        self._need("test_data", "codes()")
        return self._hand("codes()", self._inner.codes())

    def train_codes(self, max_items: int | None = None) -> Any:
        """Guarded."""
        self._need("train_data", "train_codes()")
        return self._hand("train_codes()", self._inner.train_codes(max_items))

    def factor_codes(self, items: str = "all", max_items: int | None = None) -> Any:
        """Guarded."""
        self._need("factors", f"factor_codes({items!r})")
        if items == "all":
            self._need("train_data", "factor_codes('all')")
        return self._hand("factor_codes()", self._inner.factor_codes(items, max_items))

    def samples(self, n: int) -> Any:
        """Guarded."""
        self._need("samples", "samples()")
        return self._hand("samples()", self._inner.samples(n))

    def features(self, which: str, n: int | None = None) -> Any:
        """Guarded."""
        self._need("features", "features()")
        if which == "samples":
            self._need("samples", "features('samples')")
        return self._hand(f"features({which!r})", self._inner.features(which, n))


def _plan_for(context: Any) -> EvaluationPlan:
    """The plan genmod would check a metric against for ``context``."""
    data = getattr(context, "data", None)
    labelled = data is not None and getattr(data, "y_test", None) is not None
    extractor = getattr(context, "extractor", None)
    return EvaluationPlan(
        test_size=int(context.test_size),
        latent_dim=int(context.latent_dim),
        data_shape=tuple(context.data_shape),
        num_classes=int(getattr(data, "num_classes", 0) or 0) if labelled else 0,
        factor_names=tuple(getattr(data, "factor_names", ()) or ()),
        factor_sizes=tuple(getattr(data, "factor_sizes", ()) or ()),
        feature_dims=int(extractor.feature_dims) if extractor is not None else None,
    )


#: plans a metric's ``check`` must either accept or refuse with a ConfigError
_ODD_PLANS = (
    EvaluationPlan(test_size=1, latent_dim=1, data_shape=(1, 1, 1)),
    EvaluationPlan(
        test_size=2,
        latent_dim=2,
        data_shape=(2, 2, 3),
        num_classes=2,
        factor_names=("a",),
        factor_sizes=(1,),
        feature_dims=100_000,
    ),
)


def _compute(metric: Metric, context: _GuardedContext, who: str) -> Any:
    try:
        result = metric.compute(context)
    except ConformanceError:
        raise
    except _Interrupt:
        raise
    except ConfigError as exc:
        if context.violations:
            raise context.violations[0] from None
        raise ConformanceError(
            f"{who}: compute() refused the check's context with a ConfigError: {exc} (pass a "
            "context it can use, or options that fit it)"
        ) from exc
    except Exception as exc:
        if context.violations:
            raise context.violations[0] from None
        raise ConformanceError(
            f"{who}: compute() raised {type(exc).__name__}: {exc}; bad input for the estimator "
            "is a genmod.contract.errors.ConfigError"
        ) from exc
    if context.violations:  # swallowed by the metric
        raise context.violations[0]
    changed = context.changed()
    require(
        not changed,
        who,
        f"compute() modified the arrays of {', '.join(changed)} in place; they are shared with "
        "the other metrics of the evaluation (copy before changing them)",
    )
    return result


def _check_value(name: str, value: Any, merged_method: Mapping[str, Any], who: str) -> Any:
    from genmod.evaluate.suite import plain as _plain

    require(
        isinstance(value, MetricValue),
        who,
        f"value {name!r} is {type(value).__name__}; values are genmod.contract.metrics.MetricValue",
    )
    require(
        isinstance(name, str) and VALUE_NAME.match(name) is not None,
        who,
        f"value name {name!r} is not snake_case (lower-case letters, digits and _, starting "
        "with a letter)",
    )
    require(
        name not in RESERVED_NAMES,
        who,
        f"value name {name!r} is a top-level key of evaluation.json ({', '.join(RESERVED_NAMES)})",
    )
    require(
        isinstance(value.unit, str) and value.unit.strip() != "",
        who,
        f"value {name!r} has unit {value.unit!r}; a unit is a non-empty str (one of "
        "genmod.contract.metrics.UNITS, or a short unit of your own)",
    )
    require(
        value.higher_is_better in (True, False, None)
        and isinstance(value.higher_is_better, (bool, type(None))),
        who,
        f"value {name!r} has higher_is_better={value.higher_is_better!r}; it is True, False "
        "or None",
    )
    try:
        plain = _plain(value.value, f"value {name!r}")
    except GenmodError as exc:
        raise ConformanceError(
            f"{who}: {exc} Values are numbers, lists of them, or None."
        ) from None
    ok = (
        plain is None
        or _is_number(plain)
        or (isinstance(plain, list) and all(v is None or _is_number(v) for v in plain))
    )
    require(
        ok,
        who,
        f"value {name!r} is {type(value.value).__name__} {plain!r}; a value is a number, a "
        "list of numbers, or None",
    )
    missing = plain is None or (isinstance(plain, float) and not math.isfinite(plain))
    require(
        not missing or "note" in merged_method,
        who,
        f"value {name!r} is {plain!r} without a method 'note' saying why it cannot be computed",
    )
    require(
        isinstance(value.method, Mapping),
        who,
        f"value {name!r} has a method of type {type(value.method).__name__}; expected a mapping",
    )
    return plain


def _jsonable_record(record: Any, what: str, who: str) -> Any:
    from genmod.evaluate.suite import plain as _plain

    require(isinstance(record, Mapping), who, f"{what} is {type(record).__name__}, not a mapping")
    try:
        plain = _plain(dict(record), what)
    except GenmodError as exc:
        raise ConformanceError(f"{who}: {exc}") from None
    error = _json_error(plain)
    require(
        error is None,
        who,
        f"{what} cannot be written to evaluation.json as JSON ({error}); use str, numbers "
        "(finite), bools, None, lists and dicts",
    )
    return plain


# -- the checks --------------------------------------------------------------------------------


def check_metric(
    build: Callable[[], Metric],
    *,
    context: Callable[[], MetricContext] | None = None,
    plan: EvaluationPlan | None = None,
    who: str = "",
) -> MetricResult:
    """A metric keeps the rules of :mod:`genmod.contract.metrics`; returns its result.

    Checked: ``build()`` is a :class:`~genmod.contract.metrics.Metric`; ``needs`` is a tuple
    (or list) drawn from :data:`~genmod.contract.metrics.NEEDS`, ``version`` a non-empty str,
    ``libraries`` a tuple of distribution names; ``check(plan)`` accepts ``plan`` (default:
    the plan of the context) and refuses odd plans (one test item, one latent dimension, a
    factor that does not vary) only with a ``ConfigError``; ``compute(context)`` returns a
    :class:`~genmod.contract.metrics.MetricResult` with at least one value; every value is a
    :class:`~genmod.contract.metrics.MetricValue` named in snake_case (not a top-level key of
    ``evaluation.json``), with a str unit, ``higher_is_better`` True, False or None, a value
    that is a number, a list of numbers or None (None or NaN only with a method ``note``);
    the methods and facts are JSON; genmod records the result
    (:func:`genmod.evaluate.suite.run_metric`); the metric uses only the parts of the context
    its ``needs`` declare and does not modify the arrays it is handed; ``progress(done,
    total)`` gets ``0 <= done <= total``, and a ``KeyboardInterrupt`` it raises is let
    through; a second computation on a fresh, identical context gives identical values.

    ``context``: a zero-argument factory of fresh contexts (it is called two or three
    times); default :class:`SyntheticContext`. A metric that needs the model fails on the
    synthetic context with a message naming :func:`model_context`.
    """
    from genmod.evaluate.suite import BuiltMetric, run_metric
    from genmod.evaluate.suite import plain as _plain

    metric = build()
    require(
        isinstance(metric, Metric),
        who or "metric",
        f"build() returned {type(metric).__name__}, not a genmod.contract.metrics.Metric",
    )
    who = who or f"metric {type(metric).__name__}"
    make = context or SyntheticContext
    needs = metric.needs
    require(
        isinstance(needs, (tuple, list)) and all(isinstance(n, str) for n in needs),
        who,
        f"needs is {needs!r}; expected a tuple of names from {NEEDS}",
    )
    unknown = [n for n in needs if n not in NEEDS]
    require(not unknown, who, f"needs {unknown}, which genmod cannot provide; known: {NEEDS}")
    require(
        isinstance(metric.version, str) and metric.version.strip() != "",
        who,
        f"version is {metric.version!r}; expected a non-empty str (bump it when the numbers "
        "change)",
    )
    libraries = getattr(metric, "libraries", ())
    require(
        isinstance(libraries, (tuple, list))
        and all(isinstance(lib, str) and lib for lib in libraries),
        who,
        f"libraries is {libraries!r}; expected a tuple of distribution names",
    )

    first = make()
    plan = plan if plan is not None else _plan_for(first)
    try:
        metric.check(plan)
    except ConfigError as exc:
        raise ConformanceError(
            f"{who}: check() refused a plan it should accept ({plan}): {exc} (pass plan= or "
            "options that fit it)"
        ) from exc
    for odd in _ODD_PLANS:
        try:
            metric.check(odd)
        except ConfigError:
            pass
        except Exception as exc:
            raise ConformanceError(
                f"{who}: check() raised {type(exc).__name__} for {odd}: {exc}; a plan the "
                "metric cannot estimate is refused with a genmod.contract.errors.ConfigError"
            ) from exc

    guarded = _GuardedContext(first, needs, who)
    result = _compute(metric, guarded, who)
    require(
        isinstance(result, MetricResult),
        who,
        f"compute() returned {type(result).__name__}, not a genmod.contract.metrics.MetricResult",
    )
    require(
        isinstance(result.values, Mapping) and len(result.values) > 0,
        who,
        "compute() returned no values",
    )
    method = _jsonable_record(result.method, "the result's method", who)
    facts = _jsonable_record(result.facts, "the result's facts", who)
    reserved = sorted(set(facts) & set(RESERVED_NAMES))
    require(not reserved, who, f"facts {reserved} are top-level keys of evaluation.json")
    values = {}
    for name, value in result.values.items():
        merged = {**method, **(value.method if isinstance(value, MetricValue) else {})}
        values[name] = _check_value(name, value, merged, who)
        _jsonable_record(value.method, f"the method of value {name!r}", who)
    for done, total in guarded.progress_calls:
        require(
            _is_number(done) and _is_number(total) and 0 <= done <= total,
            who,
            f"context.progress({done!r}, {total!r}): expected counts with 0 <= done <= total",
        )

    class _Recorded:  # what genmod records from this very result
        def __init__(self) -> None:
            self.needs, self.version, self.libraries = needs, metric.version, libraries

        def compute(self, _context: Any) -> MetricResult:
            return result

    built = BuiltMetric("checked-metric", "checked-plugin", {}, _Recorded())  # type: ignore[arg-type]
    try:
        records = run_metric(built, guarded, common={"seed": guarded.seed}, versions={})
    except GenmodError as exc:
        raise ConformanceError(f"{who}: genmod cannot record the result: {exc}") from None
    error = _json_error(records.values)
    require(error is None, who, f"the recorded values are not JSON ({error})")

    again = _compute(metric, _GuardedContext(make(), needs, who), who)
    require(
        isinstance(again, MetricResult) and set(again.values) == set(result.values),
        who,
        "a second compute() on a fresh, identical context gave other value names",
    )
    for name in values:
        other = again.values[name]
        second = _plain(other.value, name) if isinstance(other, MetricValue) else other
        require(
            _same(values[name], second),
            who,
            f"compute() gave different values on a fresh, identical context: {name!r} was "
            f"{values[name]!r}, then {second!r}; draw random numbers only from context.seed",
        )

    if guarded.progress_calls:
        interrupted = _GuardedContext(make(), needs, who)
        interrupted.interrupt = True
        try:
            metric.compute(interrupted)
        except _Interrupt:
            pass
        except Exception as exc:
            raise ConformanceError(
                f"{who}: when context.progress raised KeyboardInterrupt (the user pressed "
                f"Ctrl-C), compute() raised {type(exc).__name__} instead; let it through"
            ) from None
        else:
            raise ConformanceError(
                f"{who}: compute() swallowed the KeyboardInterrupt that context.progress "
                "raised (the user pressed Ctrl-C); let it through"
            )
    return result


def extractor_data(
    cache_dir: str | Path,
    *,
    data_shape: Sequence[int] = DATA_SHAPE,
    num_classes: int = NUM_CLASSES,
) -> ExtractorData:
    """The :class:`~genmod.contract.extractors.ExtractorData` :func:`check_extractor` prepares
    an extractor with by default: :func:`synthetic_data`'s 256 training images (float32 in
    ``[0, 1]``) and labels of ``num_classes`` classes, the dataset name ``synthetic`` and
    ``cache_dir`` as the cache folder."""
    arrays = synthetic_data(data_shape, num_classes=num_classes)
    return ExtractorData(
        dataset="synthetic",
        dataset_options={},
        data_shape=tuple(int(d) for d in data_shape),
        num_classes=num_classes,
        train=lambda: (_unit_interval(arrays.x_train), arrays.y_train),
        cache_dir=Path(cache_dir),
        progress=lambda done, total: None,
    )


def check_extractor(
    build: Callable[[], FeatureExtractor],
    *,
    data: ExtractorData | None = None,
    cache_dir: str | Path | None = None,
    who: str = "",
) -> None:
    """A feature extractor keeps the rules of :mod:`genmod.contract.extractors`.

    Checked: ``build()`` is a :class:`~genmod.contract.extractors.FeatureExtractor` with a
    non-empty str ``version``; ``prepare(data)`` works (default :func:`extractor_data`, with
    ``cache_dir`` or a temporary folder); ``feature_dims`` is a positive int;
    ``features()`` of 6 images gives finite floats ``[6, feature_dims]``, the same for the
    same images, the same (to 1e-5) as the features of 3 and 3 concatenated, and ``[1,
    feature_dims]`` for one image, without changing the images; a second build prepared on
    the same data and cache folder gives the same features; ``describe()`` is a dict of
    strict JSON that does not replace the keys genmod records (name, plugin, version,
    options, feature_dims, chosen_by).
    """
    extractor = build()
    require(
        isinstance(extractor, FeatureExtractor),
        who or "extractor",
        f"build() returned {type(extractor).__name__}, not a "
        "genmod.contract.extractors.FeatureExtractor",
    )
    who = who or f"extractor {type(extractor).__name__}"
    require(
        isinstance(extractor.version, str) and extractor.version.strip() != "",
        who,
        f"version is {extractor.version!r}; expected a non-empty str",
    )
    with tempfile.TemporaryDirectory() as folder:
        data = data or extractor_data(cache_dir if cache_dir is not None else folder)

        def prepared(obj: FeatureExtractor) -> FeatureExtractor:
            try:
                obj.prepare(data)
            except ConfigError as exc:
                raise ConformanceError(
                    f"{who}: prepare() refused the check's data ({data.dataset!r}, "
                    f"{list(data.data_shape)}): {exc} (pass data= it can use)"
                ) from exc
            except Exception as exc:
                raise ConformanceError(
                    f"{who}: prepare() raised {type(exc).__name__}: {exc}; missing weights or "
                    "images it cannot take are a ConfigError or DataError"
                ) from exc
            return obj

        prepared(extractor)
        dims = extractor.feature_dims
        require(
            isinstance(dims, (int, np.integer)) and not isinstance(dims, bool) and dims >= 1,
            who,
            f"feature_dims is {dims!r} after prepare(); expected a positive int",
        )
        dims = int(dims)
        rng = np.random.default_rng(7)
        images = rng.uniform(0.0, 1.0, (6, *data.data_shape)).astype(np.float32)
        kept = images.copy()

        def features(obj: FeatureExtractor, x: np.ndarray, what: str) -> np.ndarray:
            try:
                out = obj.features(x)
            except Exception as exc:
                raise ConformanceError(
                    f"{who}: features() of {what} raised {type(exc).__name__}: {exc}"
                ) from exc
            array = np.asarray(out)
            require(
                array.shape == (len(x), dims),
                who,
                f"features() of {what} returned shape {list(array.shape)}; expected "
                f"[{len(x)}, {dims}] ([n, feature_dims])",
            )
            require(
                np.issubdtype(array.dtype, np.floating),
                who,
                f"features() returned {array.dtype}; expected float32 or float64",
            )
            require(
                bool(np.all(np.isfinite(array))),
                who,
                f"features() of {what} holds NaN or infinite values (not finite)",
            )
            return array.astype(np.float64)

        six = features(extractor, images, "6 images")
        require(
            np.array_equal(images, kept),
            who,
            "features() changed the images it was given; they are shared with the other "
            "metrics of the evaluation",
        )
        again = features(extractor, images, "the same 6 images")
        require(
            np.allclose(again, six, rtol=1e-5, atol=1e-5),
            who,
            "features() gave different features for the same images (not deterministic)",
        )
        halves = [features(extractor, part, "3 images") for part in (images[:3], images[3:])]
        split = np.concatenate(halves)
        worst = float(np.max(np.abs(split - six)))
        require(
            np.allclose(split, six, rtol=1e-5, atol=1e-5),
            who,
            f"features() depend on how the images are split into batches: 6 images at once "
            f"and as 3 + 3 differ by up to {worst:.3g}",
        )
        features(extractor, images[:1], "1 image")
        fresh = prepared(build())
        require(
            np.allclose(features(fresh, images, "6 images"), six, rtol=1e-5, atol=1e-5),
            who,
            "a second build prepared on the same data and cache folder gives different "
            "features (weights not reproduced or not reused)",
        )
        record = extractor.describe()
        require(
            isinstance(record, dict),
            who,
            f"describe() returned {type(record).__name__}; expected a dict",
        )
        error = _json_error(record)
        require(
            error is None,
            who,
            f"describe() cannot be written to evaluation.json as JSON ({error}); use str, "
            "finite numbers, bools, None, lists and dicts",
        )
        clash = sorted(set(record) & set(EXTRACTOR_RECORD_KEYS))
        require(
            not clash,
            who,
            f"describe() replaces {clash}, which genmod records itself "
            f"({', '.join(EXTRACTOR_RECORD_KEYS)})",
        )


class StandardNormalModel:
    """The model :func:`check_sampler` binds a sampler to by default: only
    ``prior_distribution()`` (a TensorFlow Probability standard normal with event
    ``[latent_dim]``), ``latent_dim``, ``data_shape`` ``(8, 8, 1)`` and ``condition_dim`` 0."""

    def __init__(self, latent_dim: int = LATENT_DIM) -> None:
        self.latent_dim = int(latent_dim)
        self.data_shape = DATA_SHAPE
        self.condition_dim = 0
        self.prior = None

    def prior_distribution(self) -> Any:
        """N(0, I), event ``[latent_dim]``."""
        import tensorflow as tf
        import tensorflow_probability as tfp

        return tfp.distributions.MultivariateNormalDiag(loc=tf.zeros([self.latent_dim]))


def check_sampler(
    build: Callable[[], LatentSampler],
    *,
    model: Any = None,
    codes: Any = None,
    who: str = "",
) -> None:
    """A latent sampler keeps the rules of :mod:`genmod.contract.samplers`.

    Checked: ``build()`` is a :class:`~genmod.contract.samplers.LatentSampler` with a
    non-empty str ``version`` and a bool ``needs_fit``; it is bound to ``model`` (default a
    :class:`StandardNormalModel` of ``latent_dim`` 4) and, when it needs fitting, fitted on
    ``codes`` (default 200 standard normal codes ``[200, latent_dim]``) with a seed; ``sample(n,
    seed)`` gives finite float32 ``[n, latent_dim]`` (also for n = 1), the same draws for the
    same seed and other draws for another seed; a fit on a single code either works or
    raises a ``ConfigError``; ``state()`` holds named arrays without object dtype that
    survive ``numpy.savez`` and ``numpy.load(allow_pickle=False)``, and ``load_state()`` of
    them into a fresh build (bound to the same model) draws the same codes, as does a fresh
    fit with the same seed; ``describe()`` is a dict of strict JSON that does not replace the
    keys genmod records.
    """
    sampler = build()
    require(
        isinstance(sampler, LatentSampler),
        who or "sampler",
        f"build() returned {type(sampler).__name__}, not a genmod.contract.samplers.LatentSampler",
    )
    who = who or f"sampler {type(sampler).__name__}"
    require(
        isinstance(sampler.version, str) and sampler.version.strip() != "",
        who,
        f"version is {sampler.version!r}; expected a non-empty str",
    )
    require(
        isinstance(sampler.needs_fit, bool),
        who,
        f"needs_fit is {sampler.needs_fit!r}; expected True or False",
    )
    model = model if model is not None else StandardNormalModel()
    latent_dim = int(model.latent_dim)
    if codes is None:
        codes = np.random.default_rng(11).standard_normal((200, latent_dim))
    codes = np.asarray(codes, np.float32)
    fit_seed = 7

    def ready(obj: LatentSampler, *, fit: bool) -> LatentSampler:
        try:
            obj.bind(model)
            if fit and obj.needs_fit:
                obj.fit(codes.copy(), seed=fit_seed)
        except ConfigError as exc:
            raise ConformanceError(
                f"{who}: bind()/fit() refused {len(codes)} codes [n, {latent_dim}]: {exc} "
                "(pass codes= it can fit)"
            ) from exc
        except Exception as exc:
            raise ConformanceError(
                f"{who}: bind()/fit() raised {type(exc).__name__}: {exc}"
            ) from exc
        return obj

    def draw(obj: LatentSampler, n: int, seed: int) -> np.ndarray:
        try:
            out = obj.sample(n, seed=seed)
        except Exception as exc:
            raise ConformanceError(
                f"{who}: sample({n}, seed={seed}) raised {type(exc).__name__}: {exc}"
            ) from exc
        require(
            isinstance(out, np.ndarray),
            who,
            f"sample() returned {type(out).__name__}; expected a float32 numpy array",
        )
        require(
            out.shape == (n, latent_dim),
            who,
            f"sample({n}) returned shape {list(out.shape)}; expected [{n}, {latent_dim}]",
        )
        require(out.dtype == np.float32, who, f"sample() returned {out.dtype}; expected float32")
        require(bool(np.all(np.isfinite(out))), who, "sample() returned non-finite codes")
        return out

    ready(sampler, fit=True)
    first = draw(sampler, 5, 3)
    require(
        np.array_equal(draw(sampler, 5, 3), first),
        who,
        "sample() with the same seed gave different draws; draw only from the seed",
    )
    require(
        not np.array_equal(draw(sampler, 5, 4), first),
        who,
        "sample() with another seed gave the same draws",
    )
    draw(sampler, 1, 3)

    if sampler.needs_fit:
        tiny = build()
        try:
            tiny.bind(model)
            tiny.fit(codes[:1].copy(), seed=fit_seed)
        except ConfigError:
            pass
        except Exception as exc:
            raise ConformanceError(
                f"{who}: fit() on 1 code raised {type(exc).__name__}: {exc}; too few codes "
                "for the fit raise a genmod.contract.errors.ConfigError"
            ) from None

    state = sampler.state()
    require(
        isinstance(state, Mapping) and all(isinstance(k, str) and k for k in state),
        who,
        f"state() returned {type(state).__name__}; expected a mapping of names to arrays",
    )
    arrays = {k: np.asarray(v) for k, v in state.items()}
    objects = sorted(k for k, a in arrays.items() if a.dtype == object)
    require(
        not objects,
        who,
        f"state() entries {objects} are object arrays; a state is plain numeric arrays, "
        "saved without pickle",
    )
    import io

    buffer = io.BytesIO()
    try:
        np.savez(buffer, **arrays)
        buffer.seek(0)
        with np.load(buffer, allow_pickle=False) as archive:
            loaded = {key: archive[key] for key in archive.files}
    except Exception as exc:
        raise ConformanceError(
            f"{who}: state() does not survive numpy.savez and numpy.load(allow_pickle=False): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if sampler.needs_fit:
        restored = ready(build(), fit=False)
        try:
            restored.load_state(loaded)
        except Exception as exc:
            raise ConformanceError(
                f"{who}: load_state() of the saved state raised {type(exc).__name__}: {exc}"
            ) from exc
        require(
            np.array_equal(draw(restored, 5, 3), first),
            who,
            "a fresh build given load_state() of the saved state draws other codes for the "
            "same seed (the state does not hold all of the fit)",
        )
        refitted = ready(build(), fit=True)
        require(
            np.array_equal(draw(refitted, 5, 3), first),
            who,
            "a fresh fit on the same codes with the same seed draws other codes (fit is not "
            "deterministic given its seed)",
        )
    else:
        again = ready(build(), fit=False)
        require(
            np.array_equal(draw(again, 5, 3), first),
            who,
            "a fresh build bound to the same model draws other codes for the same seed",
        )
    record = sampler.describe()
    require(
        isinstance(record, dict),
        who,
        f"describe() returned {type(record).__name__}; expected a dict",
    )
    error = _json_error(record)
    require(
        error is None,
        who,
        f"describe() cannot be written as JSON ({error}); use str, finite numbers, bools, "
        "None, lists and dicts",
    )
    clash = sorted(set(record) & set(SAMPLER_RECORD_KEYS))
    require(
        not clash,
        who,
        f"describe() replaces {clash}, which genmod records itself "
        f"({', '.join(SAMPLER_RECORD_KEYS)})",
    )


def check_evaluation_component(
    kind: str,
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    registry: Registry | None = None,
    context: Callable[[], MetricContext] | None = None,
    model: Any = None,
    cache_dir: str | Path | None = None,
) -> None:
    """``check_component`` for the kinds ``metric``, ``extractor`` and ``sampler``: the
    options (:func:`genmod.testing.check_options`), then :func:`check_metric` (with
    ``context``), :func:`check_extractor` (with ``cache_dir``) or :func:`check_sampler` (with
    ``model``) on builds from the factory and the resolved options."""
    from genmod.testing.options import check_options, lookup

    registry, spec = lookup(kind, name, registry)
    values = check_options(kind, name, options, registry=registry)
    who = f"{kind} {name!r} (plugin {spec.plugin!r})"
    factory = spec.load()

    def build() -> Any:
        try:
            return factory(**values)
        except ConfigError as exc:
            raise ConformanceError(
                f"{who}: the factory refused its options {values}: {exc}"
            ) from exc

    if kind == METRIC_KIND:
        check_metric(build, context=context, who=who)
    elif kind == EXTRACTOR_KIND:
        check_extractor(build, cache_dir=cache_dir, who=who)
    elif kind == SAMPLER_KIND:
        check_sampler(build, model=model, who=who)
    else:  # pragma: no cover - lookup refuses other kinds first
        raise ConformanceError(f"{who}: not an evaluation kind")
