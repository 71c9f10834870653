"""Built-in objectives ``elbo`` and ``beta-vae`` (hooks only; see ``objectives_impl``)."""

from genmod import hookimpl
from genmod.contract.options import Option

_SCHEDULE_OPTIONS = [
    Option(
        "warmup_steps",
        "int",
        0,
        "KL warm-up: the KL weight grows linearly from 0 to its full value over this many "
        "optimizer steps (0: off)",
        min=0,
    ),
    Option(
        "free_bits",
        "float",
        0.0,
        "free bits in nats per latent dimension: the loss uses max(KL, free_bits * latent_dim) "
        "(0: off)",
        min=0.0,
    ),
]


@hookimpl
def register_objectives(register):
    register(
        "elbo",
        "genmod_builtins.objectives_impl:ELBOObjective",
        description="maximise the evidence lower bound (analytic KL when TFP has it)",
        options=_SCHEDULE_OPTIONS,
    )
    register(
        "beta-vae",
        "genmod_builtins.objectives_impl:BetaVAEObjective",
        description="reconstruction - beta * KL (Higgins et al. 2017); reports the true ELBO too",
        options=[Option("beta", "float", 4.0, "weight of the KL term", min=0.0)]
        + _SCHEDULE_OPTIONS,
    )
