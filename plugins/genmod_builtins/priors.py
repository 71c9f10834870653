"""The built-in ``normal`` prior (hooks only; see ``priors_impl``)."""

from genmod import hookimpl


@hookimpl
def register_priors(register):
    register(
        "normal",
        "genmod_builtins.priors_impl:StandardNormalPrior",
        description="standard normal N(0, I) over the latent vector; no parameters",
    )
