"""The built-in latent samplers: the model's prior, and a Gaussian mixture fitted ex post.

``gmm`` is the ex-post density estimation of Ghosh et al. (2020, "From variational to
deterministic autoencoders", ICLR, section 4): after training, a Gaussian mixture with 10
full-covariance components is fitted by EM (scikit-learn's ``GaussianMixture``) to the codes
of the training images, and generated images decode draws from it instead of from p(z).
Draws are made here with numpy from the saved state (weights, means, Cholesky factors), so
they depend only on the state and the seed, not on scikit-learn's sampling. Imports
TensorFlow (the prior sampler draws from the model's prior).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from typing import Any

import numpy as np
import tensorflow as tf

from genmod.contract.errors import ConfigError
from genmod.contract.samplers import LatentSampler

COVARIANCE_TYPES = ("full", "diag")


class PriorSampler(LatentSampler):
    """z ~ p(z), the model's prior (what ``genmod sample`` has always decoded)."""

    needs_fit = False

    def __init__(self) -> None:
        self.model: Any = None

    def bind(self, model: Any) -> None:
        self.model = model

    def sample(self, n: int, *, seed: int) -> np.ndarray:
        draws = self.model.prior_distribution().sample(
            int(n), seed=tf.constant([int(seed), 0], tf.int32)
        )
        return np.asarray(draws, np.float32)

    def describe(self) -> dict[str, Any]:
        prior = type(getattr(self.model, "prior", None)).__name__
        return {
            "family": f"the model's prior p(z) ({prior})",
            "draws": "stateless TensorFlow sampling from seed [seed, 0]",
        }


class GaussianMixtureSampler(LatentSampler):
    """A Gaussian mixture fitted by EM to the training codes (ex-post density estimation)."""

    def __init__(
        self,
        components: int = 10,
        covariance: str = "full",
        max_iterations: int = 200,
        regularization: float = 1e-6,
    ) -> None:
        if covariance not in COVARIANCE_TYPES:
            raise ConfigError(
                f"sampler 'gmm': covariance {covariance!r}; accepted: "
                + ", ".join(COVARIANCE_TYPES)
            )
        self.components = int(components)
        self.covariance = covariance
        self.max_iterations = int(max_iterations)
        self.regularization = float(regularization)
        self._state: dict[str, np.ndarray] = {}

    def fit(self, codes: Any, *, seed: int) -> None:
        from sklearn.mixture import GaussianMixture

        codes = np.asarray(codes, np.float64)
        if codes.ndim != 2 or len(codes) < 2 * self.components:
            raise ConfigError(
                f"sampler 'gmm' with {self.components} components needs at least "
                f"{2 * self.components} training codes; got {len(codes)}."
            )
        if not np.all(np.isfinite(codes)):
            raise ConfigError("sampler 'gmm': the training codes hold NaN or infinite values.")
        mixture = GaussianMixture(
            n_components=self.components,
            covariance_type=self.covariance,
            max_iter=self.max_iterations,
            reg_covar=self.regularization,
            random_state=int(seed),
        )
        try:
            mixture.fit(codes)
        except ValueError as exc:  # scikit-learn's refusals (ill-defined covariances)
            raise ConfigError(
                f"sampler 'gmm' could not be fitted: {str(exc).splitlines()[0]} Try a larger "
                "--sampler-opt regularization or fewer components."
            ) from None
        covariances = np.asarray(mixture.covariances_, np.float64)
        if self.covariance == "diag":
            covariances = np.stack([np.diag(c) for c in covariances])
        self._state = {
            "weights": np.asarray(mixture.weights_, np.float64),
            "means": np.asarray(mixture.means_, np.float64),
            "covariances": covariances,
            "fit_log_likelihood": np.asarray(mixture.score(codes), np.float64),
            "converged": np.asarray(bool(mixture.converged_)),
            "iterations": np.asarray(int(mixture.n_iter_)),
        }

    def state(self) -> Mapping[str, Any]:
        return dict(self._state)

    def load_state(self, state: Mapping[str, Any]) -> None:
        needed = ("weights", "means", "covariances")
        missing = [k for k in needed if k not in state]
        if missing:
            raise ConfigError(f"sampler 'gmm': the saved state lacks {', '.join(missing)}.")
        arrays = {k: np.asarray(v) for k, v in state.items()}
        weights, means, covariances = (np.asarray(arrays[k], np.float64) for k in needed)
        k, d = means.shape if means.ndim == 2 else (0, 0)
        if (
            k < 1
            or weights.shape != (k,)
            or covariances.shape != (k, d, d)
            or not all(np.all(np.isfinite(a)) for a in (weights, means, covariances))
            or np.any(weights < 0)
            or not np.isclose(weights.sum(), 1.0, atol=1e-6)
        ):
            raise ConfigError(
                "sampler 'gmm': the saved state is not a Gaussian mixture (weights [k] summing "
                "to 1, means [k, d], covariances [k, d, d], all finite)."
            )
        try:
            np.linalg.cholesky(covariances)
        except np.linalg.LinAlgError:
            raise ConfigError(
                "sampler 'gmm': a saved covariance is not positive definite."
            ) from None
        self._state = arrays

    def sample(self, n: int, *, seed: int) -> np.ndarray:
        if not self._state:
            raise ConfigError("sampler 'gmm' has not been fitted.")
        weights = self._state["weights"]
        means = self._state["means"]
        factors = np.linalg.cholesky(self._state["covariances"])
        rng = np.random.default_rng(int(seed))
        which = rng.choice(len(weights), size=int(n), p=weights / weights.sum())
        noise = rng.standard_normal((int(n), means.shape[1]))
        draws = means[which] + np.einsum("nij,nj->ni", factors[which], noise)
        return draws.astype(np.float32)

    def describe(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "family": f"Gaussian mixture, {self.components} components, {self.covariance} "
            "covariances, fitted by EM (scikit-learn GaussianMixture, k-means start)",
            "reference": "Ghosh et al. 2020, From variational to deterministic autoencoders "
            "(ICLR), ex-post density estimation",
            "max_iterations": self.max_iterations,
            "regularization": self.regularization,
            "draws": "numpy PCG64 from the seed: a component by weight, then mean + L eps",
        }
        try:
            record["scikit_learn"] = metadata.version("scikit-learn")
        except metadata.PackageNotFoundError:
            pass
        if self._state:
            record["fit_log_likelihood_nats"] = (
                float(self._state["fit_log_likelihood"])
                if ("fit_log_likelihood" in self._state)
                else None
            )
            record["converged"] = bool(self._state.get("converged", True))
            record["iterations"] = int(self._state.get("iterations", 0))
        return record
