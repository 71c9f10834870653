"""The ``cnn`` encoder and decoder plugin (hooks only; networks in ``cnn_networks``).

The defaults follow the TensorFlow CVAE tutorial's model: two stride-2 3x3 convolutions with 32
and 64 filters; a decoder from a dense 7x7x32 map through stride-2 transposed convolutions with
64 and 32 filters back to 28x28. Other image sizes, grey or colour: the encoder needs a side of
at least 7 with the defaults (its convolutions are unpadded) and refuses smaller images; the
decoder rounds its first map up and crops the top-left height x width (see ``cnn_networks``).
"""

from genmod import hookimpl
from genmod.contract.options import Option
from genmod_builtins.mlp import ACTIVATIONS

#: Options of the cnn networks (shared with their conditional variants, ``ccnn``).
ENCODER_OPTIONS = (
    Option("filters", "ints", (32, 64), "filters of each stride-2 convolution", min=1),
    Option("kernel_size", "int", 3, "convolution kernel size", min=1),
    Option("activation", "str", "relu", "hidden activation", choices=ACTIVATIONS),
)
DECODER_OPTIONS = (
    Option("filters", "ints", (64, 32), "filters of each stride-2 transposed conv", min=1),
    Option("base_channels", "int", 32, "channels of the first (dense) feature map", min=1),
    Option("kernel_size", "int", 3, "convolution kernel size", min=1),
    Option("activation", "str", "relu", "hidden activation", choices=ACTIVATIONS),
)


@hookimpl
def register_encoders(register):
    register(
        "cnn",
        "genmod_builtins.cnn_networks:ConvEncoder",
        description="convolutional encoder: stride-2 3x3 convolutions, dense to q(z|x)",
        options=ENCODER_OPTIONS,
    )


@hookimpl
def register_decoders(register):
    register(
        "cnn",
        "genmod_builtins.cnn_networks:ConvDecoder",
        description="deconvolutional decoder: dense to a small map, stride-2 transposed convs, "
        "crop",
        options=DECODER_OPTIONS,
    )
