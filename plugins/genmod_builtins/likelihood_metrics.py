"""The likelihood metrics: IWAE log-likelihood, ELBO, active units, I(x; z).

What ``genmod evaluate`` has always reported, as metrics like any other: ``log-likelihood``
and ``elbo`` share one IWAE pass over the test images when their settings agree
(:func:`genmod.evaluate.loglik.shared_iwae_pass`). Imports TensorFlow.
"""

from __future__ import annotations

from typing import Any

from genmod.contract.metrics import Metric, MetricContext, MetricResult, MetricValue
from genmod.evaluate.collapse import evaluate_mutual_information
from genmod.evaluate.loglik import (
    ACTIVE_UNIT_THRESHOLD,
    active_units,
    check_chunking,
    check_num_samples,
    shared_iwae_pass,
)

_IWAE_REFERENCE = (
    "Burda, Grosse & Salakhutdinov 2016, Importance weighted autoencoders (ICLR), eq. 8"
)


class _IWAEPassMetric(Metric):
    """Options shared by the metrics computed from the IWAE pass."""

    needs = ("model", "test_data")

    def __init__(
        self,
        samples: int = 1000,
        batch_size: int = 100,
        chunk_size: int = 0,
        memory_budget_mib: float = 0.0,
    ) -> None:
        self.samples = check_num_samples(samples)
        self.batch_size = check_num_samples(batch_size, "batch_size")
        self.chunk_size = int(chunk_size) or None
        self.memory_budget_mib = float(memory_budget_mib) or None
        check_chunking(self.chunk_size, self.memory_budget_mib)

    def _pass(self, context: MetricContext) -> dict[str, Any]:
        return shared_iwae_pass(
            context,
            num_samples=self.samples,
            batch_size=self.batch_size,
            chunk_size=self.chunk_size,
            memory_budget_mib=self.memory_budget_mib,
        )

    @staticmethod
    def _facts(out: dict[str, Any]) -> dict[str, Any]:
        keys = (
            "num_samples",
            "batch_size",
            "chunk_size",
            "memory_budget_mib",
            "working_memory_mib",
            "latent_dim",
            "seconds",
        )
        return {k: out[k] for k in keys if k in out}

    def _method(self, out: dict[str, Any]) -> dict[str, Any]:
        return {
            "importance_samples_K": out["num_samples"],
            "proposal": "q(z|x), the trained encoder's posterior",
            "sample_seeds": "stateless [seed + 1, batch index], drawn in chunks",
            "images_per_batch": out["batch_size"],
            "samples_per_chunk": out["chunk_size"],
            "working_memory_mib": out["working_memory_mib"],
        }


class LogLikelihoodMetric(_IWAEPassMetric):
    """Test log p(x) by importance sampling with K samples from q(z|x) (IWAE bound)."""

    def compute(self, context: MetricContext) -> MetricResult:
        out = self._pass(context)
        method = {
            **self._method(out),
            "estimator": "IWAE bound log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x); "
            "a stochastic lower bound on log p(x) that tightens as K grows",
            "reference": _IWAE_REFERENCE,
            "averaged_over": "test images (nats per image)",
        }
        values = {
            "log_likelihood": MetricValue(out["log_likelihood"], "nats", higher_is_better=True),
            "nll": MetricValue(out["nll"], "nats", higher_is_better=False),
        }
        if "bits_per_dim" in out:
            values["bits_per_dim"] = MetricValue(
                out["bits_per_dim"],
                "bits/dim",
                {"conversion": "-log p(x) / (D ln 2), D = values per image"},
                higher_is_better=False,
            )
        return MetricResult(values, method, facts=self._facts(out))


class ELBOMetric(_IWAEPassMetric):
    """Test ELBO with its reconstruction and KL terms, averaged over K samples of q(z|x)."""

    def compute(self, context: MetricContext) -> MetricResult:
        out = self._pass(context)
        kl_kind = "analytic" if out["kl_analytic"] else "Monte Carlo over the K samples"
        method = {
            **self._method(out),
            "estimator": "E_q[log p(x|z)] - KL(q(z|x) || p(z)), the expectation averaged over "
            "the K samples of the IWAE pass",
            "kl": kl_kind,
            "averaged_over": "test images (nats per image)",
        }
        values = {
            "elbo": MetricValue(out["elbo"], "nats", higher_is_better=True),
            "reconstruction": MetricValue(out["reconstruction"], "nats", higher_is_better=True),
            "kl": MetricValue(out["kl"], "nats"),
        }
        if "elbo_bits_per_dim" in out:
            values["elbo_bits_per_dim"] = MetricValue(
                out["elbo_bits_per_dim"], "bits/dim", higher_is_better=False
            )
        facts = {**self._facts(out), "kl_analytic": out["kl_analytic"]}
        return MetricResult(values, method, facts=facts)


class ActiveUnitsMetric(Metric):
    """Burda et al.'s active latent units: dimensions u with Cov_x(E_q[u]) > threshold."""

    needs = ("model", "test_data")

    def __init__(self, threshold: float = ACTIVE_UNIT_THRESHOLD) -> None:
        self.threshold = float(threshold)

    def compute(self, context: MetricContext) -> MetricResult:
        codes = context.codes()
        count = active_units(codes, self.threshold)
        method = {
            "estimator": "count of latent dimensions u with Var over test images of E_q(z|x)[u] "
            f"> {self.threshold:g}",
            "reference": _IWAE_REFERENCE + ", section 5.2",
            "codes": "posterior locations (means) of the test images as the model sees them",
        }
        return MetricResult(
            {"active_units": MetricValue(count, "count", higher_is_better=None)},
            method,
            facts={"latent_dim": int(context.latent_dim)},
        )


class MutualInformationMetric(Metric):
    """I(x; z) under the model's encoder, from the ELBO-surgery decomposition."""

    needs = ("model", "test_data")

    def __init__(self, max_items: int = 2000) -> None:
        self.max_items = int(max_items)

    def compute(self, context: MetricContext) -> MetricResult:
        model = context.model
        data = context.data
        out = evaluate_mutual_information(
            model,
            data.x_test,
            data.y_test if model.condition_dim else None,
            binarize=context.binarize,
            seed=context.seed,
            batch_size=context.binarize_batch_size,
            max_items=self.max_items,
        )
        note = {}
        if out["mutual_information"] is None:
            note["note"] = (
                "not computable: the posterior's density cannot be evaluated at every item's "
                "code at once (it does not broadcast over its batch)"
            )
        method = {
            "estimator": out["mi_estimator"],
            "items": out["mi_items"],
            "upper_bound": f"log(items) = {out['mi_upper_bound']:.4f} nats",
            "z_seed": "stateless [seed + 2, 0], one z per item",
            **note,
        }
        return MetricResult(
            {"mutual_information": MetricValue(out["mutual_information"], "nats")},
            method,
            facts={k: out[k] for k in ("mi_items", "mi_upper_bound", "mi_estimator")},
        )
