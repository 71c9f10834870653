"""The ``mlp`` encoder and decoder plugin (hooks only; networks in ``mlp_networks``)."""

from genmod import hookimpl
from genmod.contract.options import Option

ACTIVATIONS = ("relu", "elu", "gelu", "swish", "tanh", "softplus", "leaky_relu")

#: Options of the mlp networks (shared with their conditional variants, ``cmlp``).
ENCODER_OPTIONS = (
    Option("hidden", "ints", (512, 256), "widths of the hidden layers", min=1),
    Option("activation", "str", "relu", "hidden activation", choices=ACTIVATIONS),
)
DECODER_OPTIONS = (
    Option("hidden", "ints", (256, 512), "widths of the hidden layers", min=1),
    Option("activation", "str", "relu", "hidden activation", choices=ACTIVATIONS),
)


@hookimpl
def register_encoders(register):
    register(
        "mlp",
        "genmod_builtins.mlp_networks:MLPEncoder",
        description="fully connected encoder: flatten, dense hidden layers, dense to q(z|x)",
        options=ENCODER_OPTIONS,
    )


@hookimpl
def register_decoders(register):
    register(
        "mlp",
        "genmod_builtins.mlp_networks:MLPDecoder",
        description="fully connected decoder: dense hidden layers, dense to likelihood parameters",
        options=DECODER_OPTIONS,
    )
