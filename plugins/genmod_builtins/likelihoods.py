"""Built-in likelihoods ``bernoulli`` and ``gaussian`` (hooks only; see ``likelihoods_impl``)."""

from genmod import hookimpl
from genmod.contract.options import Option


@hookimpl
def register_likelihoods(register):
    register(
        "bernoulli",
        "genmod_builtins.likelihoods_impl:BernoulliLikelihood",
        description="independent Bernoulli per pixel from logits; binary data {0,1}",
    )
    register(
        "gaussian",
        "genmod_builtins.likelihoods_impl:GaussianLikelihood",
        description="independent Normal per element: decoder gives the mean, one learned scale",
        options=[
            Option("init_scale", "float", 0.3, "initial standard deviation", min=1e-6),
            Option("min_scale", "float", 1e-3, "lower bound added to the scale", min=0.0),
        ],
    )
