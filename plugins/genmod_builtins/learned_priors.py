"""Learned priors ``learned-normal``, ``mixture`` and ``vampprior`` (hooks only).

Implementations are in :mod:`genmod_builtins.learned_priors_impl`; see docs/models.md.
"""

from genmod import hookimpl
from genmod.contract.options import Option

_IMPL = "genmod_builtins.learned_priors_impl"


@hookimpl
def register_priors(register):
    register(
        "learned-normal",
        f"{_IMPL}:LearnedDiagonalNormalPrior",
        description="diagonal Gaussian N(mu, diag(sigma^2)) with learned mu and sigma "
        "(analytic KL)",
        options=[Option("min_scale", "float", 1e-3, "lower bound added to each scale", min=0.0)],
    )
    register(
        "mixture",
        f"{_IMPL}:MixtureOfGaussiansPrior",
        description="learned mixture of K diagonal Gaussians (as TFP's examples/vae.py; "
        "Monte Carlo KL)",
        options=[
            Option("components", "int", 100, "number of mixture components K", min=1),
            Option("min_scale", "float", 1e-3, "lower bound added to each scale", min=0.0),
        ],
    )
    register(
        "vampprior",
        f"{_IMPL}:VampPrior",
        description="VampPrior: mixture of q(z|u_k) over K learned pseudo-inputs u_k "
        "(Tomczak & Welling 2018; Monte Carlo KL)",
        options=[
            Option("components", "int", 500, "number of pseudo-inputs K", min=1, max=100_000),
        ],
    )
