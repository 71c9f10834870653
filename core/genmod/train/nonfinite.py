"""The non-finite guard's diagnosis: which term of a bad step went NaN or infinite, and why.

The compiled train step (:mod:`genmod.train.trainer`) records, for every step, whether the loss,
the reconstruction term, the KL term and the gradients were finite (:data:`TERMS`, in that
order) and never applies a step where any of them was not. When the run stops, the first bad
step of the stretch is replayed here, eagerly, on the same weights (none of the bad steps
changed them), batch and seeds, to tell which component produced the first non-finite number:
the encoder's outputs (the parameters of q(z|x)), the posterior sample z, the decoder's outputs
(the parameters of p(x|z)), the likelihood's log-probability of the data, or the prior.
Imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

__all__ = ["TERMS", "TERM_WORDS", "describe_components", "first_term", "remedies"]

#: the per-step finiteness flags, in the order the step reports them (1.0: non-finite)
TERMS = ("loss", "reconstruction", "kl", "gradients")

#: how a message names each term
TERM_WORDS = {
    "reconstruction": "the reconstruction term log p(x|z)",
    "kl": "the KL term KL(q(z|x) || p(z))",
    "loss": "the loss (its reconstruction and KL terms were finite)",
    "gradients": "the gradients (the loss was finite)",
}


def first_term(flags: Sequence[float]) -> str:
    """The term to blame among non-finite ``flags`` (per :data:`TERMS`): the reconstruction
    or KL term before the loss they make up, the loss before its gradients."""
    bad = {name for name, flag in zip(TERMS, flags, strict=True) if flag > 0}
    for name in ("reconstruction", "kl", "loss", "gradients"):
        if name in bad:
            return name
    return "loss"


def _tensors(value, depth: int = 0):
    """The float tensors among a distribution's parameters (nested distributions included)."""
    if depth > 4 or value is None:
        return
    if hasattr(value, "parameters") and hasattr(value, "log_prob"):  # a distribution
        for item in value.parameters.values():
            yield from _tensors(item, depth + 1)
        return
    if hasattr(value, "to_dense"):  # a linear operator (a scale matrix)
        value = value.to_dense()
    if isinstance(value, (tf.Tensor, tf.Variable, np.ndarray)):
        tensor = tf.convert_to_tensor(value)
        if tensor.dtype.is_floating:
            yield tensor


def _finite(*values) -> bool:
    for value in values:
        for tensor in _tensors(value):
            if not bool(tf.reduce_all(tf.math.is_finite(tensor)).numpy()):
                return False
    return True


def describe_components(model, x: tf.Tensor, condition, z_seed: tf.Tensor) -> str:
    """Replay the ELBO's pieces on a prepared batch (eagerly) and say which one is first
    non-finite, as a clause for the error message ("" when every piece is finite, e.g. when
    only an objective's own computation failed).

    ``x``: float32 ``[batch, *data_shape]``; ``condition``: ``[batch, condition_dim]`` or
    ``None``; ``z_seed``: the step's stateless z seed (int32 ``[2]``), so that z is the one the
    step drew for the default ELBO objective.
    """
    try:
        q = model.posterior(x, condition)
        if not _finite(q):
            return "the encoder's outputs (the parameters of the posterior q(z|x)) were not finite"
        z = q.sample(seed=z_seed)
        if not _finite(z):
            return "the posterior sample z was not finite (the posterior's parameters were)"
        prior = model.prior_distribution()
        if not _finite(prior):
            return "the prior's parameters were not finite"
        p = model.observation(z, condition)
        if not _finite(p):
            return (
                "the decoder's outputs (the parameters of the likelihood p(x|z)) were not "
                "finite; the encoder's were"
            )
        if not _finite(p.log_prob(x)):
            return (
                "the encoder's and the decoder's outputs were finite, but the likelihood gave "
                "the data a log-probability of -inf or NaN (data outside the likelihood's "
                "support, or a scale that shrank to zero)"
            )
    except Exception as exc:  # a diagnosis must never hide the real error
        return f"the components could not be replayed ({type(exc).__name__})"
    return ""


def remedies(learning_rate: float, precision: str) -> str:
    """Concrete things to try, as one sentence."""
    items = [
        f"a lower --learning-rate (now {learning_rate:.3g})",
        "--clip-grad-norm 1.0",
        "free bits (--objective-opt free_bits=0.1) or a KL warm-up",
    ]
    if precision != "float32":
        items.append(f"--precision float32 (now {precision})")
    items.append("--on-nonfinite skip to step over rare bad batches")
    return "Try " + ", ".join(items[:-1]) + ", or " + items[-1] + "."
