"""Sample-quality metrics: FID, KID and precision/recall between generated and test images.

Each compares the chosen feature extractor's features of ``samples`` generated images (codes
from the chosen latent sampler, decoded to the likelihood's picture) with those of the test
images as stored (grey levels scaled to ``[0, 1]``, not binarized). The statistics are
:mod:`genmod.evaluate.sample_quality` (numpy). Metrics of one evaluation share the same
samples and features when their counts agree. No TensorFlow here (the context has it).
"""

from __future__ import annotations

from typing import Any

from genmod.contract.errors import ConfigError
from genmod.contract.metrics import (
    EvaluationPlan,
    Metric,
    MetricContext,
    MetricResult,
    MetricValue,
)
from genmod.evaluate.sample_quality import (
    frechet_distance,
    gaussian_statistics,
    kernel_inception_distance,
    precision_recall,
)

#: generated samples compared with the test set unless ``samples=N`` is given: the size of the
#: MNIST-family and CIFAR-10 test sets, and the count Heusel et al. (2017) recommend as the
#: least for FID (its bias grows as the count falls; compare numbers only at equal counts)
DEFAULT_SAMPLES = 10_000

_COMPARED = {
    "generated_images": "decoded codes from the latent sampler: the likelihood's picture "
    "(the mean of p(x|z), or one sample of it for a likelihood without a mean), clipped to "
    "[0, 1]",
    "real_images": "test images as stored, scaled to [0, 1] (not binarized)",
}


class _SampleQualityMetric(Metric):
    needs = ("model", "test_data", "samples", "features")

    def __init__(self, samples: int = DEFAULT_SAMPLES, real_items: int = 0) -> None:
        self.samples = int(samples)
        self.real_items = int(real_items) or None
        if self.samples < 2:
            raise ConfigError(f"samples={self.samples}: at least 2 generated samples are needed.")

    def _real_count(self, plan_or_context: Any) -> int:
        available = int(plan_or_context.test_size)
        return available if self.real_items is None else min(self.real_items, available)

    def _counts(self, context: MetricContext) -> dict[str, Any]:
        return {"generated_samples": self.samples, "real_items": self._real_count(context)}

    def _features(self, context: MetricContext) -> tuple[Any, Any]:
        real = context.features("test", self._real_count(context))
        generated = context.features("samples", self.samples)
        return real, generated


class FIDMetric(_SampleQualityMetric):
    """Fréchet distance between Gaussians fitted to real and generated features."""

    def check(self, plan: EvaluationPlan) -> None:
        dims = plan.feature_dims or 0
        real = self._real_count(plan)
        if self.samples <= dims:
            raise ConfigError(
                f"FID needs more generated samples than feature dimensions ({dims}) for a "
                f"full-rank covariance; got {self.samples}. Use --metric-opt fid.samples=N with "
                f"N > {dims} (the usual count is {DEFAULT_SAMPLES:,}), or a smaller extractor."
            )
        if real <= dims:
            raise ConfigError(
                f"FID needs more test images than feature dimensions ({dims}) for a full-rank "
                f"covariance; got {real}. Use more of them (--test-size, --metric-opt "
                f"fid.real_items; N > {dims}), or a smaller extractor."
            )

    def compute(self, context: MetricContext) -> MetricResult:
        real, generated = self._features(context)
        value = frechet_distance(gaussian_statistics(real), gaussian_statistics(generated))
        method = {
            "estimator": "||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)) of Gaussians "
            "fitted to the two feature sets (unbiased covariances); the matrix square root's "
            "trace from the eigenvalues of S_r^(1/2) S_g S_r^(1/2)",
            "reference": "Heusel et al. 2017, GANs trained by a two time-scale update rule "
            "converge to a local Nash equilibrium (NeurIPS)",
            "pitfall": "biased upwards for finite counts (Chong & Forsyth 2020): compare only "
            "numbers with the same counts and the same extractor",
            **self._counts(context),
            **_COMPARED,
        }
        return MetricResult(
            {"fid": MetricValue(value, "squared feature units", higher_is_better=False)}, method
        )


class KIDMetric(_SampleQualityMetric):
    """Kernel inception distance: unbiased MMD^2 under a cubic polynomial kernel."""

    def __init__(
        self,
        samples: int = DEFAULT_SAMPLES,
        real_items: int = 0,
        subsets: int = 100,
        subset_size: int = 1000,
    ) -> None:
        super().__init__(samples, real_items)
        self.subsets = int(subsets)
        self.subset_size = int(subset_size)

    def check(self, plan: EvaluationPlan) -> None:
        if min(self.samples, self._real_count(plan)) < 2:
            raise ConfigError("KID needs at least 2 generated samples and 2 test images.")

    def compute(self, context: MetricContext) -> MetricResult:
        real, generated = self._features(context)
        result = kernel_inception_distance(
            real,
            generated,
            subsets=self.subsets,
            subset_size=self.subset_size,
            seed=context.seed,
        )
        method = {
            "estimator": "mean over random subsets of the unbiased MMD^2 estimate with the "
            "kernel k(a, b) = (a.b / dims + 1)^3",
            "reference": "Bińkowski et al. 2018, Demystifying MMD GANs (ICLR)",
            "subsets": result.subsets,
            "subset_size": result.subset_size,
            "subset_seed": f"numpy PCG64 from the evaluation seed ({context.seed})",
            "pitfall": "unbiased, so it can be slightly negative for matching distributions",
            **self._counts(context),
            **_COMPARED,
        }
        return MetricResult(
            {
                "kid": MetricValue(result.mean, "squared feature units", higher_is_better=False),
                "kid_std": MetricValue(
                    result.std,
                    "squared feature units",
                    {"what": "standard deviation of the estimate over the subsets"},
                ),
            },
            method,
        )


class PrecisionRecallMetric(_SampleQualityMetric):
    """Improved precision and recall: k-NN manifolds of the real and generated features."""

    def __init__(self, samples: int = DEFAULT_SAMPLES, real_items: int = 0, k: int = 3) -> None:
        super().__init__(samples, real_items)
        self.k = int(k)

    def check(self, plan: EvaluationPlan) -> None:
        if min(self.samples, self._real_count(plan)) <= self.k:
            raise ConfigError(
                f"precision/recall with k={self.k} needs more than {self.k} generated samples "
                "and test images."
            )

    def compute(self, context: MetricContext) -> MetricResult:
        real, generated = self._features(context)
        precision, recall = precision_recall(real, generated, k=self.k)
        method = {
            "estimator": "precision: share of generated items inside the k-NN ball of some "
            "real item; recall: share of real items inside the k-NN ball of some generated "
            "item (Euclidean distances between features)",
            "reference": "Kynkäänniemi et al. 2019, Improved precision and recall metric for "
            "assessing generative models (NeurIPS)",
            "k": self.k,
            "pitfall": "the paper used VGG-16 features and 50,000 items per set; values with "
            "other extractors or counts are not comparable with its numbers",
            **self._counts(context),
            **_COMPARED,
        }
        return MetricResult(
            {
                "precision": MetricValue(precision, "share", higher_is_better=True),
                "recall": MetricValue(recall, "share", higher_is_better=True),
            },
            method,
        )
