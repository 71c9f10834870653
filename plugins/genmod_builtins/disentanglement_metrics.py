"""Disentanglement metrics: MIG, DCI, SAP and the FactorVAE score.

Each scores the model's codes (posterior locations) of items whose ground-truth factors are
known (datasets ``sprites``, ``dsprites``, ``shapes3d``) with the estimators of
:mod:`genmod.evaluate.disentanglement`, and records every estimator choice (bins,
classifiers and their hyper-parameters, points, votes) with the values. By default the items
are a seeded draw of at most 10,000 from the training and test splits together (``items``,
``max_items``), since the representation is learnt without the factors. No TensorFlow here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genmod.contract.errors import ConfigError
from genmod.contract.metrics import (
    EvaluationPlan,
    Metric,
    MetricContext,
    MetricResult,
    MetricValue,
)
from genmod.evaluate.disentanglement import (
    dci,
    factor_vae_score,
    mutual_information_gap,
    sap,
)

#: seed offset of the fit/score split of DCI and SAP
SPLIT_OFFSET = 9


def _require_codes(plan: EvaluationPlan, metric: str, dims: int = 2) -> None:
    if plan.latent_dim < dims:
        raise ConfigError(
            f"{metric} needs a code of at least {dims} dimensions; this model's has "
            f"{plan.latent_dim}."
        )


def _as_error(exc: ValueError, metric: str) -> ConfigError:
    text = str(exc)
    return ConfigError(text if text.startswith(metric) else f"{metric}: {text}")


class _FactorMetric(Metric):
    needs = ("model", "test_data", "train_data", "factors")
    libraries: tuple[str, ...] = ()

    def __init__(self, items: str = "all", max_items: int | None = 10_000) -> None:
        self.items = items
        self.max_items = int(max_items) if max_items else None

    def _codes(self, context: MetricContext) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        codes, factors, described = context.factor_codes(self.items, self.max_items)
        _, names, sizes = context.factors()
        described = {**described, "factors": list(names), "factor_sizes": list(sizes)}
        return np.asarray(codes, np.float64), np.asarray(factors), described

    def _split(self, context: MetricContext, n: int, test_share: float):
        rng = np.random.default_rng([context.seed, SPLIT_OFFSET])
        order = rng.permutation(n)
        cut = n - max(1, int(round(test_share * n)))
        return np.sort(order[:cut]), np.sort(order[cut:])


class MIGMetric(_FactorMetric):
    """Mutual information gap (Chen et al. 2018)."""

    def __init__(self, items: str = "all", max_items: int = 10_000, bins: int = 20) -> None:
        super().__init__(items, max_items)
        self.bins = int(bins)

    def check(self, plan: EvaluationPlan) -> None:
        _require_codes(plan, "MIG")

    def compute(self, context: MetricContext) -> MetricResult:
        codes, factors, described = self._codes(context)
        try:
            result = mutual_information_gap(codes, factors, bins=self.bins)
        except ValueError as exc:
            raise _as_error(exc, "MIG") from None
        method = {
            "estimator": "per factor, the gap between the two largest I(code_j; factor) over "
            "the factor's entropy H, averaged over factors; codes discretized into equal-width "
            "bins per dimension (histogram mutual information, nats)",
            "reference": "Chen et al. 2018, Isolating sources of disentanglement in VAEs "
            "(NeurIPS); bins as in Locatello et al. 2019's disentanglement_lib",
            "bins": result.bins,
            "scored_items": result.items,
            **described,
        }
        return MetricResult(
            {
                "mig": MetricValue(result.score, "score", {"range": "[0, 1]"}, True),
                "mig_per_factor": MetricValue(
                    result.per_factor, "score", {"order": described["factors"]}, True
                ),
            },
            method,
        )


class DCIMetric(_FactorMetric):
    """Disentanglement, completeness and informativeness (Eastwood & Williams 2018)."""

    libraries = ("scikit-learn",)

    def __init__(
        self,
        items: str = "all",
        max_items: int = 10_000,
        test_share: float = 0.33,
        regressor: str = "gradient-boosting",
    ) -> None:
        super().__init__(items, max_items)
        self.test_share = float(test_share)
        self.regressor = regressor

    def check(self, plan: EvaluationPlan) -> None:
        _require_codes(plan, "DCI")

    def compute(self, context: MetricContext) -> MetricResult:
        codes, factors, described = self._codes(context)
        fit, score = self._split(context, len(codes), self.test_share)
        try:
            result = dci(
                codes[fit],
                factors[fit],
                codes[score],
                factors[score],
                regressor=self.regressor,
                seed=int(context.seed),
            )
        except ValueError as exc:
            raise _as_error(exc, "DCI") from None
        method = {
            "estimator": "one classifier per factor predicting its value from the whole code; "
            "importance R [code dims, factors] = |feature importances|; disentanglement = "
            "sum_i rho_i (1 - H_K(P_i.)), completeness = sum_j w_j (1 - H_D(P_.j)), "
            "informativeness = accuracy on held-out items",
            "reference": "Eastwood & Williams 2018, A framework for the quantitative evaluation "
            "of disentangled representations (ICLR); classifier and weighting as in "
            "disentanglement_lib",
            "regressor": result.regressor,
            "regressor_params": result.regressor_params,
            "fit_items": result.train_items,
            "scored_items": result.test_items,
            "split": f"seeded permutation [seed, {SPLIT_OFFSET}], {self.test_share:g} scored",
            **described,
        }
        order = {"order": described["factors"]}
        return MetricResult(
            {
                "dci_disentanglement": MetricValue(result.disentanglement, "score", {}, True),
                "dci_completeness": MetricValue(result.completeness, "score", {}, True),
                "dci_informativeness": MetricValue(
                    result.informativeness, "share", {"what": "mean held-out accuracy"}, True
                ),
                "dci_informativeness_train": MetricValue(
                    result.informativeness_train, "share", {"what": "mean fit accuracy"}
                ),
                "dci_accuracy_per_factor": MetricValue(result.test_accuracy, "share", order, True),
            },
            method,
        )


class SAPMetric(_FactorMetric):
    """Separated attribute predictability (Kumar et al. 2018)."""

    libraries = ("scikit-learn",)

    def __init__(self, items: str = "all", max_items: int = 10_000, test_share: float = 0.33):
        super().__init__(items, max_items)
        self.test_share = float(test_share)

    def check(self, plan: EvaluationPlan) -> None:
        _require_codes(plan, "SAP")

    def compute(self, context: MetricContext) -> MetricResult:
        codes, factors, described = self._codes(context)
        fit, score = self._split(context, len(codes), self.test_share)
        try:
            result = sap(
                codes[fit], factors[fit], codes[score], factors[score], seed=int(context.seed)
            )
        except ValueError as exc:
            raise _as_error(exc, "SAP") from None
        method = {
            "estimator": "score matrix [code dims, factors]: held-out accuracy of a linear SVM "
            "predicting the factor from one code dimension; per factor the gap between the "
            "two best dimensions; SAP = mean gap (discrete factors)",
            "reference": "Kumar et al. 2018, Variational inference of disentangled latent "
            "concepts from unlabeled observations (ICLR); classifier as in disentanglement_lib",
            "classifier": result.classifier,
            "classifier_params": result.classifier_params,
            "constant_dims": [int(d) for d in result.constant_dims],
            "fit_items": result.train_items,
            "scored_items": result.test_items,
            "split": f"seeded permutation [seed, {SPLIT_OFFSET}], {self.test_share:g} scored",
            **described,
        }
        return MetricResult(
            {
                "sap": MetricValue(result.score, "score", {}, True),
                "sap_per_factor": MetricValue(
                    result.per_factor, "score", {"order": described["factors"]}, True
                ),
            },
            method,
        )


class FactorVAEMetric(_FactorMetric):
    """FactorVAE score (Kim & Mnih 2018): majority-vote accuracy."""

    def __init__(
        self,
        items: str = "all",
        batch_size: int = 64,
        train_votes: int = 10_000,
        eval_votes: int = 5000,
        prune_threshold: float = 0.05,
    ) -> None:
        super().__init__(items, None)
        self.batch_size = int(batch_size)
        self.train_votes = int(train_votes)
        self.eval_votes = int(eval_votes)
        self.prune_threshold = float(prune_threshold)

    def check(self, plan: EvaluationPlan) -> None:
        varying = [s for s in plan.factor_sizes if s >= 2]
        if plan.factor_sizes and len(varying) < 2:
            raise ConfigError(
                "the FactorVAE score needs at least 2 factors that vary; this dataset has "
                f"{len(varying)}."
            )

    def compute(self, context: MetricContext) -> MetricResult:
        codes, factors, described = self._codes(context)
        try:
            result = factor_vae_score(
                codes,
                factors,
                batch_size=self.batch_size,
                num_train_votes=self.train_votes,
                num_eval_votes=self.eval_votes,
                prune_threshold=self.prune_threshold,
                seed=int(context.seed),
            )
        except ValueError as exc:
            raise _as_error(exc, "FactorVAE score") from None
        method = {
            "estimator": "a vote: fix one factor at one value, take a batch of items sharing "
            "it, normalise each code dimension's variance by its variance over all items, "
            "vote (least-varying active dimension, factor); a majority-vote classifier from "
            "the training votes, scored on the evaluation votes",
            "reference": "Kim & Mnih 2018, Disentangling by factorising (ICML); settings as in "
            "disentanglement_lib",
            "batch_size": result.batch_size,
            "train_votes": result.num_train_votes,
            "eval_votes": result.num_eval_votes,
            "variance_items": result.variance_items,
            "prune_threshold": result.prune_threshold,
            "active_dims": [int(d) for d in result.active_dims],
            "votes_with_replacement": int(result.votes_with_replacement),
            "chance": result.chance,
            "pool": "items of the dataset sharing the fixed factor value (not a simulator)",
            **described,
        }
        if result.no_active_dims:
            method["note"] = "no code dimension is active: the score is 0"
        return MetricResult(
            {
                "factor_vae_score": MetricValue(result.score, "share", {}, True),
                "factor_vae_train_accuracy": MetricValue(result.train_accuracy, "share"),
            },
            method,
        )
