"""Importance-sampled log-likelihood log p(x), the ELBO next to it, and active latent units.

The estimator is Burda et al.'s (2015) IWAE bound with K samples from q(z|x)::

    log p(x) ~= log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x),   z_k ~ q(z|x)

It is a lower bound on log p(x) in expectation, increases with K on average, and is exact
when q is the true posterior. The K samples are drawn in chunks of ``chunk_size`` and combined
with a running log-sum-exp, so memory grows with ``batch * chunk_size``, never with K; the chunk
size can be derived from a memory budget in MiB (:func:`chunk_size_for_budget`).
Everything is in nats per data item. Works with any object that has ``posterior(x, c)``,
``observation(z, c)`` and ``prior_distribution()`` (the :class:`genmod.model.VAE` does).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any

import numpy as np
import tensorflow as tf

from genmod.contract.errors import ConfigError
from genmod.contract.units import bits_per_dim, item_dimensions, reports_bits_per_dim
from genmod.model.elbo import kl_divergence
from genmod.model.preprocess import binarize_images, one_hot_labels

#: Burda et al.'s threshold on Cov_x(E_q[z_i]) for a latent unit to count as active
ACTIVE_UNIT_THRESHOLD = 1e-2

#: Working memory for decoding importance samples when no chunk size is given, in MiB
DEFAULT_MEMORY_BUDGET_MIB = 512

# Ops whose outputs do not grow with the number of decoded samples.
_NOT_PER_SAMPLE = {"Const", "Placeholder", "ReadVariableOp", "VarHandleOp", "NoOp", "Identity"}


#: the largest count accepted for K and batch sizes: TensorFlow's shapes and loop counters are
#: int32, and K = 5000 (the literature's protocol) is far below it
MAX_COUNT = 2**31 - 1


def check_num_samples(num_samples: Any, what: str = "--samples") -> int:
    """Validate a number of importance samples K (an integer in [1, 2^31 - 1])."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)):
        raise ConfigError(f"{what} got {num_samples!r}; it must be an integer >= 1.")
    if num_samples > MAX_COUNT:
        raise ConfigError(
            f"{what} got {num_samples}; it must be at most {MAX_COUNT} (2^31 - 1); the "
            "literature uses K = 5000 for test log-likelihoods."
        )
    if num_samples < 1:
        if what not in ("--samples", "samples"):
            raise ConfigError(f"{what} got {num_samples}; it must be an integer >= 1.")
        raise ConfigError(
            f"{what} got {num_samples}; the number of importance samples K must be >= 1 "
            "(K = 1 gives the ELBO; the literature uses K = 5000 for test log-likelihoods)."
        )
    return int(num_samples)


@dataclasses.dataclass(frozen=True)
class WorkingMemory:
    """Bytes of the tensors created to score a chunk of importance samples, in three parts:
    ``fixed`` per chunk (e.g. a VampPrior encoding its pseudo-inputs, which
    :func:`iwae_log_likelihood` does once per batch, so the figure is an upper bound),
    ``per_item`` per data item (the encoder's activations) and ``per_sample`` per (sample,
    item) pair (the decoder's activations, the likelihood's parameters and log-densities)."""

    fixed: int
    per_item: int
    per_sample: int

    def bytes_for(self, batch_size: int, chunk_size: int) -> int:
        """Bytes for ``chunk_size`` samples of each of ``batch_size`` items."""
        return self.fixed + batch_size * (self.per_item + chunk_size * self.per_sample)


def _traced_bytes(model, num_samples: int, batch_size: int) -> int:
    """Sum of the sizes of every intermediate tensor in the scoring of ``num_samples`` samples
    of ``batch_size`` items (weights and constants excluded)."""
    data_spec = tf.TensorSpec([batch_size, *model.data_shape], tf.float32)
    z_spec = tf.TensorSpec([num_samples, batch_size, model.latent_dim], tf.float32)
    condition_spec = tf.TensorSpec([batch_size, max(int(model.condition_dim), 1)], tf.float32)

    @tf.function(autograph=False)
    def score(z, x, condition):
        condition = condition if model.condition_dim else None
        q = model.posterior(x, condition)
        log_px_z = model.observation(z, condition).log_prob(x)
        return log_px_z + model.prior_distribution().log_prob(z) - q.log_prob(z)

    graph = score.get_concrete_function(z_spec, data_spec, condition_spec).graph
    total = 0
    for op in graph.get_operations():
        if op.type in _NOT_PER_SAMPLE:
            continue
        for tensor in op.outputs:
            dtype = tensor.dtype
            if tensor.shape.is_fully_defined() and (
                dtype.is_floating or dtype.is_integer or dtype.is_bool
            ):
                total += tensor.shape.num_elements() * dtype.size
    return int(total)


def working_memory(model) -> WorkingMemory:
    """How the memory of scoring a chunk grows, from three traces of the scoring function.

    Traces ``log p(x|z) + log p(z) - log q(z|x)`` for (1 sample, 1 item), (2 samples, 1 item)
    and (1 sample, 2 items) and adds up the sizes of every intermediate tensor in each, whether
    or not they are alive at the same time, so the figures are upper bounds. The differences
    between the traces give the per-sample and per-item parts; the rest is fixed per chunk.
    """
    one = _traced_bytes(model, 1, 1)
    per_sample = max(_traced_bytes(model, 2, 1) - one, 1)
    per_item = max(_traced_bytes(model, 1, 2) - one - per_sample, 0)
    return WorkingMemory(
        fixed=max(one - per_sample - per_item, 0), per_item=per_item, per_sample=per_sample
    )


def check_memory_budget(memory_budget_mib: Any) -> float:
    """Validate a memory budget in MiB (a positive number)."""
    if isinstance(memory_budget_mib, bool) or not (
        isinstance(memory_budget_mib, (int, float, np.integer, np.floating))
        and memory_budget_mib > 0
    ):
        raise ConfigError(
            f"--memory-budget got {memory_budget_mib!r}; it must be a positive number of MiB."
        )
    return float(memory_budget_mib)


def check_chunking(chunk_size: Any, memory_budget_mib: Any) -> None:
    """Validate ``--chunk-size`` and ``--memory-budget``: each optional, not both."""
    if chunk_size is not None and memory_budget_mib is not None:
        raise ConfigError(
            "give --chunk-size or --memory-budget, not both: the chunk size is derived from "
            "the memory budget."
        )
    if chunk_size is not None:
        check_num_samples(chunk_size, "--chunk-size")
    if memory_budget_mib is not None:
        check_memory_budget(memory_budget_mib)


def chunk_size_for_budget(memory: WorkingMemory, batch_size: int, memory_budget_mib: float) -> int:
    """The largest chunk of importance samples per item such that a batch of ``batch_size``
    items with that many samples each fits ``memory_budget_mib`` MiB, by the model's
    :func:`working_memory` estimate ``memory``."""
    memory_budget_mib = check_memory_budget(memory_budget_mib)
    budget = float(memory_budget_mib) * 2**20
    spare = budget - memory.fixed - batch_size * memory.per_item
    chunk = int(spare // (batch_size * memory.per_sample)) if spare > 0 else 0
    if chunk < 1:
        per_image = memory.per_item + memory.per_sample
        fits = int((budget - memory.fixed) // per_image) if budget > memory.fixed else 0
        advice = (
            f"or use --batch-size {fits} or less"
            if fits >= 1
            else f"to at least {(memory.fixed + per_image) / 2**20:.0f} MiB"
        )
        raise ConfigError(
            f"--memory-budget {memory_budget_mib:g} MiB is too small for --batch-size "
            f"{batch_size}: one importance sample for each image of a batch takes about "
            f"{memory.bytes_for(batch_size, 1) / 2**20:.1f} MiB with this model. Raise "
            f"--memory-budget {advice}."
        )
    return chunk


def iwae_log_likelihood(
    model,
    x: tf.Tensor,
    condition: tf.Tensor | None = None,
    *,
    num_samples: int,
    chunk_size: int = 100,
    seed=(0, 0),
) -> dict[str, tf.Tensor]:
    """Per-item estimates for one batch, drawing K = ``num_samples`` samples in chunks.

    Returns float32 ``[batch]`` tensors: ``log_likelihood`` (the K-sample IWAE estimate),
    ``reconstruction`` (mean over the K samples of log p(x|z)), ``kl`` (analytic KL(q||p) when
    TFP has it, otherwise the K-sample mean of log q - log p), ``elbo`` (reconstruction - kl)
    and ``posterior_mean`` (``[batch, D]``, for active units); plus the Python bool
    ``kl_analytic``. ``seed`` is a stateless seed (two ints); chunk i uses a seed folded with i.
    """
    num_samples = check_num_samples(num_samples, "num_samples")
    chunk_size = min(check_num_samples(chunk_size, "chunk_size"), num_samples)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int32)
    q = model.posterior(x, condition)
    p = model.prior_distribution()
    batch = tf.shape(x)[:1]

    def chunk(count: int, index):
        chunk_seed = tf.random.experimental.stateless_fold_in(seed, index)
        # genmod.model.iwae.log_importance_weights, with the prior p built once per batch
        # (above) instead of once per chunk: a VampPrior encodes its pseudo-inputs to build
        # it, which the loop body would repeat in every chunk (same numbers, same seeds)
        z = q.sample(count, seed=chunk_seed)
        log_px_z = model.observation(z, condition).log_prob(x)
        log_w = log_px_z + p.log_prob(z) - q.log_prob(z)
        return (
            tf.reduce_logsumexp(log_w, axis=0),
            tf.reduce_sum(log_px_z, axis=0),
            tf.reduce_sum(log_px_z - log_w, axis=0),
        )

    def body(index, running, sum_rec, sum_q_minus_p):
        lse, rec, q_minus_p = chunk(chunk_size, index)
        running = tf.reduce_logsumexp(tf.stack([running, lse]), axis=0)
        return index + 1, running, sum_rec + rec, sum_q_minus_p + q_minus_p

    full_chunks, rest = divmod(num_samples, chunk_size)
    zeros = tf.zeros(batch, tf.float32)
    # A while loop (not a Python loop) keeps the graph small for K = 5000; it runs one chunk
    # at a time, so memory is bounded by batch * chunk_size samples.
    _, running, sum_rec, sum_log_q_minus_p = tf.while_loop(
        lambda index, *_: index < full_chunks,
        body,
        (tf.constant(0), tf.fill(batch, -np.inf), zeros, zeros),
        parallel_iterations=1,
    )
    if rest:
        lse, rec, q_minus_p = chunk(rest, full_chunks)
        running = tf.reduce_logsumexp(tf.stack([running, lse]), axis=0)
        sum_rec += rec
        sum_log_q_minus_p += q_minus_p
    reconstruction = sum_rec / num_samples
    try:
        kl, analytic = kl_divergence(q, p)
    except ValueError:
        kl, analytic = sum_log_q_minus_p / num_samples, False
    return {
        "log_likelihood": running - math.log(num_samples),
        "reconstruction": reconstruction,
        "kl": kl,
        "elbo": reconstruction - kl,
        "posterior_mean": _location(model, q),
        "kl_analytic": analytic,
    }


def _location(model, q) -> tf.Tensor:
    """q's mean, or its posterior family's stand-in for a q without one (a flow)."""
    family = getattr(getattr(model, "encoder", None), "posterior_family", None)
    return family.location(q) if family is not None else q.mean()


def active_units(posterior_means: np.ndarray, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """Burda et al.'s count: latent dimensions u with Cov_x(E_q[u]) > ``threshold``.

    ``posterior_means``: ``[items, latent_dim]`` posterior means over a data set.
    """
    variance = np.var(np.asarray(posterior_means, np.float64), axis=0)
    return int(np.sum(variance > threshold))


def binarized_test_set(
    images: np.ndarray, *, binarize: str, batch_size: int, seed: int
) -> np.ndarray:
    """The test set as :func:`genmod.evaluate.elbo.evaluate_elbo` sees it (float32 ``[n, ...]``):
    batch b of ``batch_size`` items binarized with the stateless seed ``[seed, 2 b]``, so the
    log-likelihood is computed on exactly the images of the run's test ELBO."""
    parts = []
    for b, start in enumerate(range(0, int(images.shape[0]), batch_size)):
        data_seed = tf.constant([seed, 2 * b], tf.int32)
        parts.append(
            binarize_images(
                tf.constant(images[start : start + batch_size]), binarize, data_seed
            ).numpy()
        )
    return np.concatenate(parts, axis=0)


def evaluate_log_likelihood(
    model,
    images: np.ndarray,
    labels: np.ndarray | None,
    *,
    binarize: str,
    num_samples: int,
    batch_size: int = 100,
    chunk_size: int | None = None,
    memory_budget_mib: float | None = None,
    seed: int = 0,
    binarize_batch_size: int = 500,
    progress=None,
    per_item: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Test log-likelihood (IWAE, K = ``num_samples``), ELBO, reconstruction, KL (nats per
    item, means over ``images``) and the number of active units.

    At most ``batch_size * chunk_size`` latent samples are decoded at once. Give either
    ``chunk_size`` or ``memory_budget_mib`` (default: :data:`DEFAULT_MEMORY_BUDGET_MIB`), from
    which the chunk size is derived by :func:`chunk_size_for_budget`; the result records both,
    with ``working_memory_mib``, the estimated bytes of one chunk. Data binarization
    follows :func:`binarized_test_set` with ``binarize_batch_size`` (the run's
    ``eval_batch_size``) and ``seed``; importance samples use seeds derived from ``seed`` and the
    batch index, so the same call gives the same numbers. ``progress(done, total)`` is called
    after each batch. ``per_item``: a dict to fill with the per-image estimates behind the
    means, float64 ``[n]`` arrays ``log_likelihood`` and ``elbo`` in test-set order (for the
    evaluation's figure). For a likelihood over 8-bit data the result also gives
    ``bits_per_dim`` (of the IWAE log-likelihood) and ``elbo_bits_per_dim``
    (:func:`genmod.contract.units.bits_per_dim`).
    """
    num_samples = check_num_samples(num_samples)
    # A batch never holds more images than there are (the memory estimate uses this size).
    batch_size = min(check_num_samples(batch_size, "--batch-size"), max(len(images), 1))
    if model.condition_dim and labels is None:
        raise ConfigError("this model is conditional and needs a dataset with labels.")
    check_chunking(chunk_size, memory_budget_mib)
    memory = working_memory(model)
    if chunk_size is None:
        if memory_budget_mib is None:
            memory_budget_mib = DEFAULT_MEMORY_BUDGET_MIB
        chunk_size = chunk_size_for_budget(memory, batch_size, memory_budget_mib)
    chunk_size = min(int(chunk_size), num_samples)
    working_bytes = memory.bytes_for(batch_size, chunk_size)
    started = time.perf_counter()
    data = binarized_test_set(images, binarize=binarize, batch_size=binarize_batch_size, seed=seed)
    n = int(data.shape[0])

    @tf.function(reduce_retracing=True)
    def batch_estimates(x, y, batch_index):
        condition = one_hot_labels(y, model.condition_dim) if model.condition_dim else None
        out = iwae_log_likelihood(
            model,
            x,
            condition,
            num_samples=num_samples,
            chunk_size=chunk_size,
            seed=tf.stack([tf.constant(seed + 1, tf.int32), batch_index]),
        )
        analytic_flags.append(out.pop("kl_analytic"))
        return out

    analytic_flags: list[bool] = []
    sums = {"log_likelihood": 0.0, "reconstruction": 0.0, "kl": 0.0, "elbo": 0.0}
    means = []
    items: dict[str, list[np.ndarray]] = {"log_likelihood": [], "elbo": []}
    for b, start in enumerate(range(0, n, batch_size)):
        x = tf.constant(data[start : start + batch_size])
        y = (
            tf.constant(labels[start : start + batch_size])
            if labels is not None
            else tf.zeros([0], tf.int64)
        )
        out = batch_estimates(x, y, tf.constant(b, tf.int32))
        for key in sums:
            sums[key] += float(tf.reduce_sum(tf.cast(out[key], tf.float64)))
        means.append(out["posterior_mean"].numpy())
        for key, parts in items.items():
            parts.append(np.asarray(out[key], np.float64))
        if progress is not None:
            progress(min(start + batch_size, n), n)
    result: dict[str, Any] = {key: value / n for key, value in sums.items()}
    if per_item is not None:
        per_item.update({key: np.concatenate(parts) for key, parts in items.items()})
    result["nll"] = -result["log_likelihood"]
    support = getattr(getattr(model, "likelihood", None), "support", "")
    if reports_bits_per_dim(support):
        dims = item_dimensions(model.data_shape)
        result["bits_per_dim"] = bits_per_dim(result["log_likelihood"], dims)
        result["elbo_bits_per_dim"] = bits_per_dim(result["elbo"], dims)
    result["kl_analytic"] = bool(all(analytic_flags)) if analytic_flags else True
    result["active_units"] = active_units(np.concatenate(means, axis=0))
    result["latent_dim"] = int(model.latent_dim)
    result["num_samples"] = num_samples
    result["test_size"] = n
    result["batch_size"] = batch_size
    result["chunk_size"] = chunk_size
    result["memory_budget_mib"] = memory_budget_mib
    result["working_memory_mib"] = round(working_bytes / 2**20, 1)
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


#: the key under which :func:`shared_iwae_pass` leaves the per-image estimates in a metric
#: context (``{"log_likelihood", "elbo"}``: float64 ``[n]``, nats), for the evaluation figure
IWAE_PER_ITEM = "iwae_per_item"


def shared_iwae_pass(
    context,
    *,
    num_samples: int,
    batch_size: int = 100,
    chunk_size: int | None = None,
    memory_budget_mib: float | None = None,
) -> dict[str, Any]:
    """:func:`evaluate_log_likelihood` on a metric context's test images (the run's model,
    binarization, labels and seed), computed once per evaluation for the same settings, so the
    ``log-likelihood`` and ``elbo`` metrics share one pass. The per-image estimates are kept
    in the context under :data:`IWAE_PER_ITEM`."""
    key = ("iwae", int(num_samples), int(batch_size), chunk_size, memory_budget_mib)

    def compute() -> dict[str, Any]:
        per_item: dict[str, np.ndarray] = {}
        model = context.model
        result = evaluate_log_likelihood(
            model,
            context.data.x_test,
            context.data.y_test if model.condition_dim else None,
            binarize=context.binarize,
            num_samples=num_samples,
            batch_size=batch_size,
            chunk_size=chunk_size,
            memory_budget_mib=memory_budget_mib,
            seed=context.seed,
            binarize_batch_size=context.binarize_batch_size,
            progress=context.progress,
            per_item=per_item,
        )
        context.shared(IWAE_PER_ITEM, lambda: per_item)
        return result

    return context.shared(key, compute)
