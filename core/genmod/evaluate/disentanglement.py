"""Disentanglement scores of a representation against ground-truth factors. numpy, plus
scikit-learn for the classifiers of DCI and SAP (imported only when they are called).

Codes are float arrays ``[items, code_dims]`` (e.g. the posterior's location for each image),
factors are integer arrays ``[items, factors]`` (each column one ground-truth factor's value
index: shape, scale, position, ...). Each function states its estimator choices, since the
numbers depend on them; they are deterministic given their inputs (and ``seed``), and each
result records the settings it was computed with, to be stored next to the number. Bad input
raises ``ValueError`` saying what was wrong and what is accepted.

* :func:`mutual_information_gap` (MIG; Chen et al. 2018, "Isolating sources of
  disentanglement in VAEs"): for each factor, the gap between the two code dimensions that
  share the most mutual information with it, divided by the factor's entropy, averaged over
  factors. Codes are discretized into ``bins`` equal-width bins per dimension (20 by default,
  as in Locatello et al. 2019's disentanglement_lib), so the mutual information is that of
  the histogram, in nats, and the score is in ``[0, 1]``.
* :func:`dci` (Eastwood & Williams 2018, "A framework for the quantitative evaluation of
  disentangled representations"): one classifier per factor (gradient-boosted trees by
  default, as in disentanglement_lib) gives an importance matrix ``[code_dims, factors]``;
  disentanglement, completeness (entropies of its normalised rows and columns, in ``[0, 1]``)
  and informativeness (the classifiers' accuracy). :func:`dci_from_importance` is the entropy
  arithmetic alone.
* :func:`sap` (SAP; Kumar et al. 2018, "Variational inference of disentangled latent concepts
  from unlabeled observations"), for discrete factors as in disentanglement_lib: the test
  accuracy of a linear SVM predicting each factor from each single code dimension; per factor
  the gap between the best two dimensions, averaged over factors; in ``[0, 1]``.
* :func:`factor_vae_score` (Kim & Mnih 2018, "Disentangling by factorising"): a majority-vote
  classifier predicting which factor was held fixed in a batch from the code dimension whose
  variance (normalised by its global variance) is lowest; its accuracy on fresh votes, in
  ``[0, 1]``. Batches are drawn from a finite pool of encoded items instead of a simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "DCI_REGRESSORS",
    "DCIResult",
    "DCIScores",
    "FactorVAEResult",
    "MIGResult",
    "SAPResult",
    "dci",
    "dci_from_importance",
    "discretize",
    "discrete_mutual_information",
    "factor_vae_score",
    "mutual_information_gap",
    "sap",
]


def discretize(codes: np.ndarray, bins: int = 20) -> np.ndarray:
    """Integer bin indices ``[items, code_dims]`` in ``[0, bins)``: each dimension cut into
    ``bins`` equal-width bins between its own minimum and maximum (a constant dimension
    falls in bin 0). Invariant to shifting and positively rescaling a dimension."""
    if bins < 2:
        raise ValueError(f"bins must be at least 2; got {bins}.")
    codes = np.asarray(codes, dtype=np.float64)
    low, high = codes.min(axis=0), codes.max(axis=0)
    width = np.where(high > low, high - low, 1.0)
    index = np.floor((codes - low) / width * bins).astype(np.int64)
    return np.clip(index, 0, bins - 1)


def _entropy(labels: np.ndarray) -> float:
    _, counts = np.unique(labels, return_counts=True)
    p = counts / counts.sum()
    return float(-np.sum(p * np.log(p)))


def discrete_mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """I(a; b) in nats of two integer label vectors ``[items]``, from their joint counts."""
    _, a_index = np.unique(a, return_inverse=True)
    _, b_index = np.unique(b, return_inverse=True)
    joint = np.zeros((a_index.max() + 1, b_index.max() + 1))
    np.add.at(joint, (a_index, b_index), 1.0)
    joint /= joint.sum()
    outer = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    nonzero = joint > 0
    return float(np.sum(joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])))


@dataclass(frozen=True)
class MIGResult:
    """MIG and what it came from: ``per_factor`` gaps (normalised by each factor's entropy),
    ``mutual_information`` ``[code_dims, factors]`` in nats, ``factor_entropy`` in nats, and
    the estimator's settings (``bins``, ``items``)."""

    score: float
    per_factor: list[float]
    mutual_information: np.ndarray
    factor_entropy: list[float]
    bins: int
    items: int


def mutual_information_gap(codes: np.ndarray, factors: np.ndarray, *, bins: int = 20) -> MIGResult:
    """MIG of ``codes`` ``[items, code_dims]`` (at least 2 dimensions) against integer
    ``factors`` ``[items, factors]``; a factor with a single value (entropy 0) is refused."""
    codes = np.asarray(codes, dtype=np.float64)
    factors = np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise ValueError(
            f"codes must be [items, code_dims] and factors [items, factors] with the same items; "
            f"got {list(codes.shape)} and {list(factors.shape)}."
        )
    if codes.shape[1] < 2:
        raise ValueError("MIG needs at least 2 code dimensions (it is a gap between the top two).")
    if not np.issubdtype(factors.dtype, np.integer):
        raise ValueError("factors must be integer value indices (discretize continuous ones).")
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes hold NaN or infinite values.")
    binned = discretize(codes, bins)
    entropy = [_entropy(factors[:, k]) for k in range(factors.shape[1])]
    constant = [k for k, h in enumerate(entropy) if h == 0.0]
    if constant:
        raise ValueError(f"factor {constant[0]} takes a single value; MIG needs it to vary.")
    information = np.array(
        [
            [
                discrete_mutual_information(binned[:, j], factors[:, k])
                for k in range(factors.shape[1])
            ]
            for j in range(codes.shape[1])
        ]
    )
    top_two = np.sort(information, axis=0)[::-1][:2]
    gaps = [float(g) for g in (top_two[0] - top_two[1]) / np.array(entropy)]
    return MIGResult(float(np.mean(gaps)), gaps, information, entropy, bins, len(codes))


# Shared input checks -----------------------------------------------------------------------


def _check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer; got {value!r}.")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise ValueError(f"{name} must be at least {minimum}{upper}; got {value}.")
    return int(value)


def _check_seed(seed: object) -> int:
    # scikit-learn's random_state takes integers in [0, 2**32 - 1]
    return _check_int("seed", seed, 0, 2**32 - 1)


def _check_items(
    codes: np.ndarray, factors: np.ndarray, metric: str, split: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    where = f" in the {split} split" if split else ""
    codes = np.asarray(codes)
    factors = np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors):
        raise ValueError(
            f"{metric}: codes must be [items, code_dims] and factors [items, factors] with the "
            f"same items{where}; got {list(codes.shape)} and {list(factors.shape)}."
        )
    if len(codes) == 0 or codes.shape[1] == 0 or factors.shape[1] == 0:
        raise ValueError(
            f"{metric}: needs at least one item, code dimension and factor{where}; got codes "
            f"{list(codes.shape)} and factors {list(factors.shape)}."
        )
    if not np.issubdtype(factors.dtype, np.integer):
        raise ValueError(
            f"{metric}: factors must be integer value indices (discretize continuous ones); "
            f"got dtype {factors.dtype}{where}."
        )
    if not (np.issubdtype(codes.dtype, np.floating) or np.issubdtype(codes.dtype, np.integer)):
        raise ValueError(f"{metric}: codes must be real numbers; got dtype {codes.dtype}{where}.")
    codes = codes.astype(np.float64)
    if not np.all(np.isfinite(codes)):
        raise ValueError(f"{metric}: codes hold NaN or infinite values{where}.")
    return codes, factors


def _check_splits(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    metric: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    codes_train, factors_train = _check_items(codes_train, factors_train, metric, "train")
    codes_test, factors_test = _check_items(codes_test, factors_test, metric, "test")
    if (
        codes_train.shape[1] != codes_test.shape[1]
        or factors_train.shape[1] != factors_test.shape[1]
    ):
        raise ValueError(
            f"{metric}: the train and test splits must have the same code dimensions and factors; "
            f"got codes {list(codes_train.shape)} / {list(codes_test.shape)} and factors "
            f"{list(factors_train.shape)} / {list(factors_test.shape)}."
        )
    for k in range(factors_train.shape[1]):
        if np.unique(factors_train[:, k]).size < 2:
            raise ValueError(
                f"{metric}: factor {k} takes a single value in the train split; a classifier "
                f"needs at least 2 values of each factor there (drop constant factors)."
            )
    return codes_train, factors_train, codes_test, factors_test


def _accuracy(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(predicted == truth))


# DCI ------------------------------------------------------------------------------------------

#: The classifiers :func:`dci` can fit, by name.
DCI_REGRESSORS = ("gradient-boosting", "random-forest")


class DCIScores(NamedTuple):
    """Disentanglement and completeness of one importance matrix (:func:`dci_from_importance`).

    ``disentanglement_per_dim`` ``[code_dims]`` and ``completeness_per_factor`` ``[factors]``
    are in ``[0, 1]``; ``code_weights`` (rho) and ``factor_weights`` each sum to 1 and weight
    them into ``disentanglement`` and ``completeness``."""

    disentanglement: float
    completeness: float
    disentanglement_per_dim: list[float]
    completeness_per_factor: list[float]
    code_weights: list[float]
    factor_weights: list[float]


def _one_minus_row_entropy(weights: np.ndarray) -> np.ndarray:
    """1 - H(p) for each row of non-negative ``weights`` normalised to p, the entropy taken in
    base ``weights.shape[1]`` (so it is in [0, 1]); a row of zeros counts as uniform (0)."""
    columns = weights.shape[1]
    totals = weights.sum(axis=1, keepdims=True)
    p = np.divide(weights, totals, out=np.full_like(weights, 1.0 / columns), where=totals > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    entropy = -terms.sum(axis=1) / np.log(columns)
    return np.where(totals[:, 0] > 0, np.clip(1.0 - entropy, 0.0, 1.0), 0.0)


def dci_from_importance(importance: np.ndarray) -> DCIScores:
    """Disentanglement and completeness (Eastwood & Williams 2018) of a non-negative
    importance matrix ``importance`` ``[code_dims, factors]`` (at least 2 x 2): R_ij, how
    much code dimension i is used to predict factor j.

    * per code dimension i: ``D_i = 1 - H_K(P_i.)`` with ``P_ij = R_ij / sum_k R_ik`` and the
      entropy in base K = factors; ``disentanglement = sum_i rho_i D_i`` with
      ``rho_i = sum_j R_ij / sum R`` (``code_weights``).
    * per factor j: ``C_j = 1 - H_D(P~_.j)`` with ``P~_ij = R_ij / sum_k R_kj`` and the
      entropy in base D = code_dims; ``completeness = sum_j w_j C_j`` with
      ``w_j = sum_i R_ij / sum R`` (``factor_weights``), the weighting of disentanglement_lib
      (Locatello et al. 2019). When every factor's importances have the same total, as with
      the normalised feature importances of :func:`dci`'s tree ensembles, this is the plain
      mean over factors.

    An all-zero row (column) has D_i = 0 (C_j = 0) and weight 0, with no NaN; an all-zero
    matrix scores 0 and 0 with uniform weights (disentanglement_lib adds 1e-11 to every entry
    instead, which differs from these exact entropies by about 1e-10). All values in [0, 1].
    """
    matrix = np.asarray(importance, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] < 2 or matrix.shape[1] < 2:
        raise ValueError(
            "importance must be [code_dims, factors] with at least 2 of each (the entropies are "
            f"taken in base code_dims and base factors); got shape {list(matrix.shape)}."
        )
    if not np.all(np.isfinite(matrix)) or np.any(matrix < 0):
        raise ValueError(
            "importance must be finite and non-negative (take absolute values of signed weights)."
        )
    per_dim = _one_minus_row_entropy(matrix)
    per_factor = _one_minus_row_entropy(matrix.T)
    total = matrix.sum()
    if total > 0:
        code_weights = matrix.sum(axis=1) / total
        factor_weights = matrix.sum(axis=0) / total
    else:
        code_weights = np.full(matrix.shape[0], 1.0 / matrix.shape[0])
        factor_weights = np.full(matrix.shape[1], 1.0 / matrix.shape[1])
    return DCIScores(
        float(np.sum(per_dim * code_weights)),
        float(np.sum(per_factor * factor_weights)),
        [float(v) for v in per_dim],
        [float(v) for v in per_factor],
        [float(v) for v in code_weights],
        [float(v) for v in factor_weights],
    )


@dataclass(frozen=True)
class DCIResult:
    """DCI of a representation and what it came from.

    ``disentanglement``, ``completeness`` (see :func:`dci_from_importance`) and
    ``informativeness`` (mean test accuracy over factors) are in ``[0, 1]``;
    ``informativeness_train`` is the mean train accuracy. Per factor: ``test_accuracy``,
    ``train_accuracy``, ``completeness_per_factor``, ``factor_weights``; per code dimension:
    ``disentanglement_per_dim``, ``code_weights`` (rho). ``importance`` ``[code_dims,
    factors]`` is the absolute feature importance of each code dimension in each factor's
    classifier. Settings: ``regressor`` (a name of :data:`DCI_REGRESSORS`),
    ``regressor_params`` (the classifier's full scikit-learn parameters, ``random_state``
    included), ``train_items``, ``test_items``, ``seed``."""

    disentanglement: float
    completeness: float
    informativeness: float
    informativeness_train: float
    test_accuracy: list[float]
    train_accuracy: list[float]
    disentanglement_per_dim: list[float]
    code_weights: list[float]
    completeness_per_factor: list[float]
    factor_weights: list[float]
    importance: np.ndarray
    regressor: str
    regressor_params: dict[str, Any]
    train_items: int
    test_items: int
    seed: int


def _dci_classifier(regressor: str, seed: int) -> Any:
    if regressor == "gradient-boosting":
        from sklearn.ensemble import GradientBoostingClassifier

        return GradientBoostingClassifier(random_state=seed)
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(max_features=None, random_state=seed)


def dci(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    *,
    regressor: str = "gradient-boosting",
    seed: int = 0,
) -> DCIResult:
    """DCI (Eastwood & Williams 2018) of ``codes_train`` ``[train_items, code_dims]`` against
    integer ``factors_train`` ``[train_items, factors]``, with accuracies also on
    ``codes_test``/``factors_test`` ``[test_items, ...]`` (same code dimensions and factors).

    For each factor, one classifier predicts its value index from all code dimensions, fit on
    the train split; the absolute feature importances form the importance matrix ``[code_dims,
    factors]`` that :func:`dci_from_importance` turns into disentanglement and completeness;
    informativeness is the classifiers' accuracy (test, and train). As in disentanglement_lib
    (Locatello et al. 2019), ``regressor="gradient-boosting"`` is scikit-learn's
    ``GradientBoostingClassifier`` with its default hyper-parameters (100 stages of depth-3
    trees, learning rate 0.1) and ``random_state=seed``; ``"random-forest"`` (faster, not in
    disentanglement_lib) is ``RandomForestClassifier`` with 100 fully grown trees on bootstrap
    samples, ``random_state=seed`` and ``max_features=None``: every split may use every code
    dimension, since the default random subset of dimensions per split forces splits on
    uninformative dimensions and pulls disentanglement and completeness of even a perfect
    code down to about 0.5. Both give impurity-based importances that sum to 1 per factor and
    are invariant to permuting and to monotonically rescaling code dimensions, up to ties and
    rounding in the trees (permuting dimensions moved the scores by about 0.002 in tests).

    Needs at least 2 code dimensions and 2 factors (the entropies are in base code_dims and
    base factors), and every factor to take at least 2 values in the train split; refuses
    NaN or infinite codes and non-integer factors (``ValueError``). Deterministic given the
    inputs and ``seed``.
    """
    metric = "DCI"
    if regressor not in DCI_REGRESSORS:
        raise ValueError(
            f"DCI: unknown regressor {regressor!r}; accepted: {', '.join(DCI_REGRESSORS)}."
        )
    seed = _check_seed(seed)
    codes_train, factors_train, codes_test, factors_test = _check_splits(
        codes_train, factors_train, codes_test, factors_test, metric
    )
    code_dims, num_factors = codes_train.shape[1], factors_train.shape[1]
    if code_dims < 2 or num_factors < 2:
        raise ValueError(
            "DCI needs at least 2 code dimensions and at least 2 factors (the entropies are "
            f"taken in base code_dims and base factors); got {code_dims} and {num_factors}."
        )
    importance = np.zeros((code_dims, num_factors))
    train_accuracy: list[float] = []
    test_accuracy: list[float] = []
    params: dict[str, Any] = {}
    for k in range(num_factors):
        model = _dci_classifier(regressor, seed)
        model.fit(codes_train, factors_train[:, k])
        importance[:, k] = np.abs(model.feature_importances_)
        train_accuracy.append(_accuracy(model.predict(codes_train), factors_train[:, k]))
        test_accuracy.append(_accuracy(model.predict(codes_test), factors_test[:, k]))
        params = model.get_params(deep=False)
    scores = dci_from_importance(importance)
    return DCIResult(
        disentanglement=scores.disentanglement,
        completeness=scores.completeness,
        informativeness=float(np.mean(test_accuracy)),
        informativeness_train=float(np.mean(train_accuracy)),
        test_accuracy=test_accuracy,
        train_accuracy=train_accuracy,
        disentanglement_per_dim=scores.disentanglement_per_dim,
        code_weights=scores.code_weights,
        completeness_per_factor=scores.completeness_per_factor,
        factor_weights=scores.factor_weights,
        importance=importance,
        regressor=regressor,
        regressor_params=params,
        train_items=len(codes_train),
        test_items=len(codes_test),
        seed=seed,
    )


# SAP ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SAPResult:
    """SAP and what it came from: ``score`` in ``[0, 1]``, the mean over factors of
    ``per_factor`` (the gap between the two highest entries of each column of
    ``score_matrix``); ``score_matrix`` ``[code_dims, factors]`` holds the test accuracy of
    predicting each factor from each single code dimension; ``constant_dims`` lists the code
    dimensions that were constant in the train split (scored with the majority class).
    Settings: ``classifier`` (``"LinearSVC"``), ``classifier_params`` (its full scikit-learn
    parameters), ``train_items``, ``test_items``, ``seed``."""

    score: float
    per_factor: list[float]
    score_matrix: np.ndarray
    constant_dims: list[int]
    classifier: str
    classifier_params: dict[str, Any]
    train_items: int
    test_items: int
    seed: int


def sap(
    codes_train: np.ndarray,
    factors_train: np.ndarray,
    codes_test: np.ndarray,
    factors_test: np.ndarray,
    *,
    seed: int = 0,
) -> SAPResult:
    """SAP (Kumar et al. 2018) for discrete factors, as disentanglement_lib (Locatello et al.
    2019) computes it: entry (i, j) of the score matrix ``[code_dims, factors]`` is the
    accuracy on ``codes_test``/``factors_test`` ``[test_items, ...]`` of scikit-learn's
    ``LinearSVC(C=0.01, class_weight="balanced", random_state=seed)`` fit on code dimension i
    alone of ``codes_train`` ``[train_items, code_dims]`` to predict factor j of integer
    ``factors_train`` ``[train_items, factors]``; per factor, the gap between its two highest
    scores; SAP is the mean gap, in ``[0, 1]``.

    A code dimension that is constant in the train split carries no information; it is not
    fit but scored with the majority class: the accuracy on the test split of always
    predicting the factor's most frequent train value (the smallest such value on a tie).
    The linear SVM sees raw code values, so SAP is invariant to permuting code dimensions but
    not to rescaling them (the regularisation C=0.01 acts on the raw scale).

    Needs at least 2 code dimensions, the same code dimensions and factors in both splits,
    every factor taking at least 2 values in the train split, finite codes and integer
    factors (``ValueError`` otherwise). Deterministic given the inputs and ``seed``.
    """
    seed = _check_seed(seed)
    codes_train, factors_train, codes_test, factors_test = _check_splits(
        codes_train, factors_train, codes_test, factors_test, "SAP"
    )
    code_dims, num_factors = codes_train.shape[1], factors_train.shape[1]
    if code_dims < 2:
        raise ValueError(
            "SAP needs at least 2 code dimensions (it is a gap between the top two); got "
            f"{code_dims}."
        )
    from sklearn.svm import LinearSVC

    def make() -> Any:
        return LinearSVC(C=0.01, class_weight="balanced", random_state=seed)

    constant = [i for i in range(code_dims) if np.ptp(codes_train[:, i]) == 0]
    scores = np.zeros((code_dims, num_factors))
    for j in range(num_factors):
        values, counts = np.unique(factors_train[:, j], return_counts=True)
        majority = values[np.argmax(counts)]
        for i in range(code_dims):
            if i in constant:
                scores[i, j] = _accuracy(np.full(len(factors_test), majority), factors_test[:, j])
                continue
            model = make().fit(codes_train[:, i : i + 1], factors_train[:, j])
            scores[i, j] = _accuracy(model.predict(codes_test[:, i : i + 1]), factors_test[:, j])
    top_two = np.sort(scores, axis=0)[::-1][:2]
    gaps = [float(g) for g in top_two[0] - top_two[1]]
    return SAPResult(
        score=float(np.mean(gaps)),
        per_factor=gaps,
        score_matrix=scores,
        constant_dims=constant,
        classifier="LinearSVC",
        classifier_params=make().get_params(deep=False),
        train_items=len(codes_train),
        test_items=len(codes_test),
        seed=seed,
    )


# FactorVAE score ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FactorVAEResult:
    """The FactorVAE score and what it came from.

    ``score`` is the majority-vote classifier's accuracy on the evaluation votes, in
    ``[0, 1]`` (chance is about ``chance``, 1 / the number of factors drawn);
    ``train_accuracy`` its accuracy on the votes it was built from. ``no_active_dims`` is True
    when every code dimension was pruned (then both accuracies are 0 and no votes were cast).
    ``train_votes`` and ``eval_votes`` ``[code_dims, factors]`` count the votes (code
    dimension with the lowest normalised variance, factor held fixed); ``classifier``
    ``[code_dims]`` is the factor each code dimension predicts (its most frequent train vote,
    the smallest factor index on a tie; -1 for a dimension that got no train vote, which
    counts as wrong). ``active_dims`` lists the dimensions not pruned, ``global_variance``
    ``[code_dims]`` the variances they were normalised by, ``factors_used`` the factors drawn
    (those that vary in the pool). Settings: ``batch_size``, ``num_train_votes``,
    ``num_eval_votes``, ``num_variance_estimate`` (asked for) and ``variance_items`` (used),
    ``prune_threshold``, ``items`` (the pool), ``seed``; ``votes_with_replacement`` counts the
    votes (train and eval) whose batch was drawn with replacement because the fixed value had
    fewer than ``batch_size`` items in the pool."""

    score: float
    train_accuracy: float
    chance: float
    no_active_dims: bool
    train_votes: np.ndarray
    eval_votes: np.ndarray
    classifier: list[int]
    active_dims: list[int]
    global_variance: np.ndarray
    factors_used: list[int]
    votes_with_replacement: int
    batch_size: int
    num_train_votes: int
    num_eval_votes: int
    num_variance_estimate: int
    variance_items: int
    prune_threshold: float
    items: int
    seed: int


def factor_vae_score(
    codes: np.ndarray,
    factors: np.ndarray,
    *,
    batch_size: int = 64,
    num_train_votes: int = 10000,
    num_eval_votes: int = 5000,
    num_variance_estimate: int = 10000,
    prune_threshold: float = 0.05,
    seed: int = 0,
) -> FactorVAEResult:
    """FactorVAE score (Kim & Mnih 2018) of ``codes`` ``[items, code_dims]`` against integer
    ``factors`` ``[items, factors]``, a finite pool of encoded items (e.g. a test split) that
    stands in for disentanglement_lib's simulator.

    The defaults are disentanglement_lib's (Locatello et al. 2019): batches of 64, 10,000
    train and 5,000 evaluation votes, the global variance from 10,000 items, pruning at a
    standard deviation of 0.05. All draws come from ``numpy.random.default_rng(seed)``.

    1. Global variance per code dimension (``ddof=1``) over ``num_variance_estimate`` items
       drawn from the pool without replacement (all items when the pool is not larger).
       Dimensions whose standard deviation is below ``prune_threshold`` (or zero) are
       inactive and never get votes; if none is active the score is 0 with
       ``no_active_dims`` set, not an exception.
    2. A vote: a factor k uniformly among the factors that vary in the pool, a value v
       uniformly among k's values that have at least 2 items in the pool, ``batch_size``
       items with factor k == v (without replacement, or with replacement when v has fewer
       items: counted in ``votes_with_replacement``); their per-dimension variance
       (``ddof=1``) divided by the global variance; the vote goes to (the active dimension
       with the lowest ratio, k). Unlike disentanglement_lib, the argmin over the active
       dimensions is mapped back to that dimension's own index.
    3. The majority-vote classifier: each dimension predicts the factor it got most train
       votes for; ``score`` is its accuracy on a fresh set of evaluation votes.

    Invariant to permuting code dimensions and (as long as the pruning keeps the same
    dimensions) to rescaling them. The pool should be large next to ``batch_size``: train and
    evaluation batches come from the same items, so with few items per value the classifier
    learns the pool's own sampling noise and an uninformative code scores above chance
    (measured for 3 factors and batches of 64: 0.38-0.41 instead of 1/3 with 120-180 items
    per value, 0.29-0.35 with 400-600). Factors that take a single value in the pool (or whose
    values all have a single item) cannot be held fixed meaningfully and are never drawn;
    fewer than 2 such varying factors is refused, as are NaN or infinite codes, non-integer
    factors, mismatched items and settings out of range (``ValueError``).
    """
    metric = "FactorVAE score"
    codes, factors = _check_items(codes, factors, metric)
    batch_size = _check_int("batch_size", batch_size, 2)
    num_train_votes = _check_int("num_train_votes", num_train_votes, 1)
    num_eval_votes = _check_int("num_eval_votes", num_eval_votes, 1)
    num_variance_estimate = _check_int("num_variance_estimate", num_variance_estimate, 2)
    seed = _check_seed(seed)
    if isinstance(prune_threshold, bool) or not np.isfinite(prune_threshold) or prune_threshold < 0:
        raise ValueError(
            f"prune_threshold must be a finite number >= 0 (a standard deviation); "
            f"got {prune_threshold!r}."
        )
    items, code_dims = codes.shape
    num_factors = factors.shape[1]
    if items < 2:
        raise ValueError(f"{metric}: the pool needs at least 2 items; got {items}.")

    # For each factor that varies: the item indices of each of its values with >= 2 items.
    groups: dict[int, list[np.ndarray]] = {}
    for k in range(num_factors):
        _, inverse, counts = np.unique(factors[:, k], return_inverse=True, return_counts=True)
        if len(counts) < 2:
            continue
        by_value = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])
        eligible = [members for members in by_value if len(members) >= 2]
        if eligible:
            groups[k] = eligible
    factors_used = sorted(groups)
    if len(factors_used) < 2:
        raise ValueError(
            f"{metric}: needs at least 2 factors that vary in the pool (at least 2 values, one "
            f"of them with at least 2 items); of {num_factors} factors, {len(factors_used)} do "
            f"({factors_used})."
        )

    rng = np.random.default_rng(seed)
    variance_items = min(num_variance_estimate, items)
    sample = codes if variance_items == items else codes[rng.choice(items, variance_items, False)]
    global_variance = sample.var(axis=0, ddof=1)
    scale = np.sqrt(global_variance)
    active = np.flatnonzero((scale >= prune_threshold) & (scale > 0))

    def settings() -> dict[str, Any]:
        return dict(
            chance=1.0 / len(factors_used),
            active_dims=[int(i) for i in active],
            global_variance=global_variance,
            factors_used=factors_used,
            batch_size=batch_size,
            num_train_votes=num_train_votes,
            num_eval_votes=num_eval_votes,
            num_variance_estimate=num_variance_estimate,
            variance_items=variance_items,
            prune_threshold=float(prune_threshold),
            items=items,
            seed=seed,
        )

    if len(active) == 0:
        empty = np.zeros((code_dims, num_factors), dtype=np.int64)
        return FactorVAEResult(
            score=0.0,
            train_accuracy=0.0,
            no_active_dims=True,
            train_votes=empty,
            eval_votes=empty.copy(),
            classifier=[-1] * code_dims,
            votes_with_replacement=0,
            **settings(),
        )

    normalised = codes[:, active] / scale[active]  # variance ratios = variances of these
    replaced = 0

    def cast(count: int) -> np.ndarray:
        nonlocal replaced
        votes = np.zeros((code_dims, num_factors), dtype=np.int64)
        for _ in range(count):
            k = factors_used[rng.integers(len(factors_used))]
            members = groups[k][rng.integers(len(groups[k]))]
            small = len(members) < batch_size
            batch = rng.choice(members, batch_size, replace=small)
            replaced += small
            lowest = active[np.argmin(normalised[batch].var(axis=0, ddof=1))]
            votes[lowest, k] += 1
        return votes

    def accuracy(votes: np.ndarray, classifier: np.ndarray) -> float:
        dims = np.flatnonzero(classifier >= 0)
        return float(votes[dims, classifier[dims]].sum() / votes.sum())

    train_votes = cast(num_train_votes)
    classifier = np.where(train_votes.sum(axis=1) > 0, train_votes.argmax(axis=1), -1)
    eval_votes = cast(num_eval_votes)
    return FactorVAEResult(
        score=accuracy(eval_votes, classifier),
        train_accuracy=accuracy(train_votes, classifier),
        no_active_dims=False,
        train_votes=train_votes,
        eval_votes=eval_votes,
        classifier=[int(c) for c in classifier],
        votes_with_replacement=replaced,
        **settings(),
    )
