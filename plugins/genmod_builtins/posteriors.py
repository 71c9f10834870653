"""Posterior families ``diagonal`` and ``full-covariance`` (hooks only)."""

from genmod import hookimpl
from genmod.contract.options import Option


@hookimpl
def register_posteriors(register):
    register(
        "diagonal",
        "genmod_builtins.posteriors_impl:DiagonalGaussian",
        description="diagonal Gaussian q(z|x); scale = softplus(raw) + min_scale",
        options=[Option("min_scale", "float", 1e-5, "lower bound added to each scale", min=0.0)],
    )
    register(
        "full-covariance",
        "genmod_builtins.posteriors_impl:FullCovarianceGaussian",
        description="full-covariance Gaussian q(z|x) (MultivariateNormalTriL)",
        options=[Option("min_scale", "float", 1e-5, "lower bound added to the diagonal", min=0.0)],
    )
