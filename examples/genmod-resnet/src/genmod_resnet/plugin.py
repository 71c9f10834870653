"""The hooks of the genmod-resnet plugin (named by the ``genmod`` entry point).

This module must stay light: genmod imports it on every start-up, ``genmod --help`` included.
Components (the ``jsonl-log`` run observer and the ``reconstruction-mse`` metric too) are
registered by ``"module:attribute"`` strings, imported only when used.
"""

from genmod import hookimpl
from genmod.contract.options import Option

ACTIVATIONS = ("relu", "elu", "gelu", "swish")


def _network_options(channels: tuple[int, ...]) -> list[Option]:
    return [
        Option("channels", "ints", channels, "channels of each stride-2 stage", min=1),
        Option("blocks", "int", 1, "residual blocks per stage", min=1, max=8),
        Option("activation", "str", "relu", "activation inside the blocks", choices=ACTIVATIONS),
    ]


@hookimpl
def register_encoders(register):
    register(
        "resnet",
        "genmod_resnet.networks:ResNetEncoder",
        description="residual conv encoder: stem, stride-2 pre-activation residual stages",
        options=_network_options((16, 32)),
    )


@hookimpl
def register_decoders(register):
    register(
        "resnet",
        "genmod_resnet.networks:ResNetDecoder",
        description="residual conv decoder: dense to a small map, upsample + residual stages",
        options=_network_options((32, 16)),
    )


@hookimpl
def register_priors(register):
    register(
        "student-t",
        "genmod_resnet.priors:StudentTPrior",
        description="independent Student-t per latent dimension (heavy tails), learned scales",
        options=[
            Option("df", "float", 5.0, "degrees of freedom (larger: closer to normal)", min=0.5),
            Option("learn_scale", "bool", True, "learn one scale per latent dimension"),
            Option("init_scale", "float", 1.0, "initial scale of every dimension", min=1e-3),
        ],
    )


@hookimpl
def register_observers(register):
    register(
        "jsonl-log",
        "genmod_resnet.observers:JsonlLogObserver",
        description="append every run event (start, epochs, checkpoints, evaluation, end) to a "
        "JSON-lines file",
        options=[
            Option(
                "path",
                "str",
                "observer-events.jsonl",
                "the file; a relative path is inside the run folder",
            ),
            Option("include_config", "bool", True, "write the resolved config in run_start"),
        ],
    )


@hookimpl
def register_metrics(register):
    register(
        "reconstruction-mse",
        "genmod_resnet.metrics:ReconstructionMSE",
        description="mean squared error between test images and their reconstructions "
        "through the posterior mean (squared pixel units, lower is better)",
        options=[Option("max_items", "int", 1000, "test images used (the first N)", min=1)],
    )
