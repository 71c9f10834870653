"""Label-conditioned (CVAE) encoders and decoders ``cmlp`` and ``ccnn`` (hooks only).

The networks live in :mod:`genmod_builtins.conditional_networks`. They declare
``conditional = True``, so genmod gives the model ``condition_dim = dataset.num_classes`` and
feeds one-hot labels: the encoder sees (x, y) and the decoder sees (z, y). The condition is
concatenated to the flattened input (cmlp) or to the flattened convolutional features (ccnn)
in the encoder, and to z in both decoders. Options are those of ``mlp`` and ``cnn``.
"""

from genmod import hookimpl
from genmod_builtins import cnn, mlp

_IMPL = "genmod_builtins.conditional_networks"


@hookimpl
def register_encoders(register):
    register(
        "cmlp",
        f"{_IMPL}:ConditionalMLPEncoder",
        description="conditional mlp encoder q(z|x,y): one-hot label concatenated to x",
        options=mlp.ENCODER_OPTIONS,
    )
    register(
        "ccnn",
        f"{_IMPL}:ConditionalConvEncoder",
        description="conditional cnn encoder q(z|x,y): one-hot label joins the conv features",
        options=cnn.ENCODER_OPTIONS,
    )


@hookimpl
def register_decoders(register):
    register(
        "cmlp",
        f"{_IMPL}:ConditionalMLPDecoder",
        description="conditional mlp decoder p(x|z,y): one-hot label concatenated to z",
        options=mlp.DECODER_OPTIONS,
    )
    register(
        "ccnn",
        f"{_IMPL}:ConditionalConvDecoder",
        description="conditional cnn decoder p(x|z,y): one-hot label concatenated to z",
        options=cnn.DECODER_OPTIONS,
    )
