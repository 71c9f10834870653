"""Built-in objectives ``elbo`` and ``beta-vae`` (hooks only; see ``objectives_impl``)."""

from genmod import hookimpl
from genmod.options import Option


@hookimpl
def register_objectives(register):
    register(
        "elbo",
        "genmod_builtins.objectives_impl:ELBOObjective",
        description="maximise the evidence lower bound (analytic KL when TFP has it)",
    )
    register(
        "beta-vae",
        "genmod_builtins.objectives_impl:BetaVAEObjective",
        description="reconstruction - beta * KL (Higgins et al. 2017); reports the true ELBO too",
        options=[Option("beta", "float", 4.0, "weight of the KL term", min=0.0)],
    )
