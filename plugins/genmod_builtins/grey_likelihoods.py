"""Likelihoods for grey levels: ``continuous-bernoulli`` and ``gaussian-per-pixel`` (hooks
only; implementations in :mod:`genmod_builtins.grey_likelihoods_impl`)."""

from genmod import hookimpl
from genmod.contract.options import Option

_IMPL = "genmod_builtins.grey_likelihoods_impl"


@hookimpl
def register_likelihoods(register):
    register(
        "continuous-bernoulli",
        f"{_IMPL}:ContinuousBernoulliLikelihood",
        description="continuous Bernoulli per pixel from logits (Loaiza-Ganem & Cunningham "
        "2019); grey levels in [0,1]",
    )
    register(
        "gaussian-per-pixel",
        f"{_IMPL}:PerPixelGaussianLikelihood",
        description="independent Normal per element; the decoder gives a mean and a scale for "
        "every element",
        options=[
            Option("min_scale", "float", 1e-2, "lower bound added to each scale", min=1e-6),
        ],
    )
