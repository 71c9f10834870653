"""What the numbers mean: the data supports a likelihood may declare, and bits per dimension.

No TensorFlow here (``genmod runs`` and the configuration layer use it).

Every log-probability genmod reports is in nats per data item. For 8-bit data (likelihoods
whose ``support`` is :data:`EIGHT_BIT`: values ``k/255``, ``k = 0..255``) the literature
reports *bits per dimension* instead (CIFAR-10 results are given in bits/dim), and genmod gives
both: ``bits/dim = -log p(x) / (D ln 2)``, ``D`` the number of elements of one item
(``H * W * C``). :func:`bits_per_dim` is the one place that conversion is made. For binary
data the literature's convention is nats, so no bits/dim figure is given there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "EIGHT_BIT",
    "SUPPORTS",
    "bits_per_dim",
    "item_dimensions",
    "reports_bits_per_dim",
]

#: the support of likelihoods over 8-bit values: ``k/255`` for ``k = 0..255`` (a mass function)
EIGHT_BIT = "8bit"
#: every ``Likelihood.support`` genmod knows (see :class:`genmod.contract.components.Likelihood`)
SUPPORTS = ("binary", "unit_interval", "real", EIGHT_BIT)


def reports_bits_per_dim(support: str) -> bool:
    """Whether runs of a likelihood with this ``support`` report bits/dim next to nats
    (only 8-bit data: :data:`EIGHT_BIT`)."""
    return support == EIGHT_BIT


def item_dimensions(data_shape: Sequence[int]) -> int:
    """``D``: the number of elements of one data item (``H * W * C``; MNIST: 784)."""
    return math.prod(int(d) for d in data_shape)


def bits_per_dim(log_likelihood: float, dimensions: int) -> float:
    """``-log_likelihood / (dimensions * ln 2)``: a log-likelihood (or an ELBO, a bound on it)
    in nats per item, as bits per dimension (positive; lower is better).

    For example an ELBO of -6000 nats on a 32x32x3 item (``dimensions = 3072``) is
    ``6000 / (3072 ln 2) = 2.818`` bits/dim. ``dimensions`` must be >= 1.
    """
    if dimensions < 1:
        raise ValueError(f"dimensions must be >= 1, got {dimensions!r}")
    return -float(log_likelihood) / (int(dimensions) * math.log(2.0))
