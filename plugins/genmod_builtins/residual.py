"""The ``residual`` encoder and decoder plugin (hooks only; networks in ``residual_networks``).

A small residual convolutional network for images ``[height, width, channels]``: a stem
convolution, then ``stages`` resolution stages, each a stride-2 3x3 convolution followed by
``blocks`` pre-activation residual blocks (``x + conv(act(conv(act(x))))``, He et al. 2016),
all ``width`` channels wide; the decoder mirrors it with stride-2 transposed convolutions.
docs/models.md has the architecture, parameter counts and how to choose the options.
"""

from genmod import hookimpl
from genmod.contract.options import Option
from genmod_builtins.mlp import ACTIVATIONS

#: Options of the residual networks; the encoder and the decoder take the same ones.
OPTIONS = (
    Option("width", "int", 32, "channels of every convolution and residual block", min=1),
    Option("stages", "int", 2, "stride-2 stages (each halves height and width)", min=1),
    Option("blocks", "int", 2, "residual blocks per stage (0: a plain conv net)", min=0),
    Option("activation", "str", "relu", "hidden activation", choices=ACTIVATIONS),
)
ENCODER_OPTIONS = OPTIONS
DECODER_OPTIONS = OPTIONS


@hookimpl
def register_encoders(register):
    register(
        "residual",
        "genmod_builtins.residual_networks:ResidualEncoder",
        description="residual conv encoder: stem, stride-2 stages of residual blocks, dense",
        options=ENCODER_OPTIONS,
    )


@hookimpl
def register_decoders(register):
    register(
        "residual",
        "genmod_builtins.residual_networks:ResidualDecoder",
        description="residual conv decoder: dense to a small map, residual blocks, stride-2 "
        "transposed convs, crop",
        options=DECODER_OPTIONS,
    )
