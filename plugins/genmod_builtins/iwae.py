"""The ``iwae`` objective: the importance-weighted bound (hooks only; see ``iwae_impl``)."""

from genmod import hookimpl
from genmod.contract.options import Option


@hookimpl
def register_objectives(register):
    register(
        "iwae",
        "genmod_builtins.iwae_impl:IWAEObjective",
        description="importance-weighted bound with K samples (Burda et al. 2015), trained "
        "directly; reports the true ELBO too",
        options=[
            Option("samples", "int", 5, "importance samples K per data item", min=1, max=10_000),
        ],
    )
