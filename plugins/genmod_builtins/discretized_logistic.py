"""Built-in likelihood ``discretized-logistic`` for 8-bit images (hooks only; implementation in
:mod:`genmod_builtins.discretized_logistic_impl`)."""

from genmod import hookimpl
from genmod.contract.options import Option


@hookimpl
def register_likelihoods(register):
    register(
        "discretized-logistic",
        "genmod_builtins.discretized_logistic_impl:DiscretizedLogisticLikelihood",
        description="mixture of discretized logistics per element (PixelCNN++ style) over the "
        "256 values of 8-bit images; runs report bits/dim",
        options=[
            Option("components", "int", 5, "logistic components of each element's mixture", min=1),
        ],
    )
