"""Label-conditioned (CVAE) encoders and decoders ``cmlp`` and ``ccnn`` (hooks only).

The networks live in :mod:`genmod_builtins.conditional_networks`. They declare
``conditional = True``, so genmod gives the model ``condition_dim = dataset.num_classes`` and
feeds one-hot labels: the encoder sees (x, y) and the decoder sees (z, y). The condition is
concatenated to the flattened input (cmlp) or to the flattened convolutional features (ccnn)
in the encoder, and to z in both decoders. Options are those of ``mlp`` and ``cnn``.
"""

from genmod import hookimpl
from genmod.options import Option
from genmod_builtins.mlp import ACTIVATIONS

_IMPL = "genmod_builtins.conditional_networks"


@hookimpl
def register_encoders(register):
    register(
        "cmlp",
        f"{_IMPL}:ConditionalMLPEncoder",
        description="conditional mlp encoder q(z|x,y): one-hot label concatenated to x",
        options=[
            Option("hidden", "ints", (512, 256), "widths of the hidden layers", min=1),
            Option("activation", "str", "relu", "hidden activation", choices=ACTIVATIONS),
        ],
    )
    register(
        "ccnn",
        f"{_IMPL}:ConditionalConvEncoder",
        description="conditional cnn encoder q(z|x,y): one-hot label joins the conv features",
        options=[
            Option("filters", "ints", (32, 64), "filters of each stride-2 convolution", min=1),
            Option("kernel_size", "int", 3, "convolution kernel size", min=1),
            Option("activation", "str", "relu", "hidden activation", choices=ACTIVATIONS),
        ],
    )


@hookimpl
def register_decoders(register):
    register(
        "cmlp",
        f"{_IMPL}:ConditionalMLPDecoder",
        description="conditional mlp decoder p(x|z,y): one-hot label concatenated to z",
        options=[
            Option("hidden", "ints", (256, 512), "widths of the hidden layers", min=1),
            Option("activation", "str", "relu", "hidden activation", choices=ACTIVATIONS),
        ],
    )
    register(
        "ccnn",
        f"{_IMPL}:ConditionalConvDecoder",
        description="conditional cnn decoder p(x|z,y): one-hot label concatenated to z",
        options=[
            Option("filters", "ints", (64, 32), "filters of each stride-2 transposed conv", min=1),
            Option("base_channels", "int", 32, "channels of the first (dense) feature map", min=1),
            Option("kernel_size", "int", 3, "convolution kernel size", min=1),
            Option("activation", "str", "relu", "hidden activation", choices=ACTIVATIONS),
        ],
    )
