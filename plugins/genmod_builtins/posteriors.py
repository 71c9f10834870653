"""Posterior families ``diagonal``, ``full-covariance`` and ``iaf`` (hooks only)."""

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
    register(
        "iaf",
        "genmod_builtins.flows_impl:InverseAutoregressiveFlow",
        description="inverse autoregressive flow over a diagonal Gaussian (Kingma et al. 2016)",
        options=[
            Option("steps", "int", 2, "IAF steps (flow layers)", min=1),
            Option("hidden", "int", 64, "hidden units of each step's MADE network", min=1),
            Option("context", "int", 16, "size of the context h the encoder outputs", min=0),
            Option("forget_bias", "float", 1.0, "added to s before the sigmoid gate"),
            Option("min_scale", "float", 1e-5, "lower bound of the base scales", min=0.0),
        ],
    )
