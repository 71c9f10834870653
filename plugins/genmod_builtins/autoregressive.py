"""Built-in autoregressive likelihood ``pixelcnn`` (hooks only; see ``autoregressive_impl``)."""

from genmod import hookimpl
from genmod.contract.options import Option


@hookimpl
def register_likelihoods(register):
    register(
        "pixelcnn",
        "genmod_builtins.autoregressive_impl:PixelCNNLikelihood",
        description="gated PixelCNN over binary [H, W, 1] images, conditioned on the decoder's "
        "map at every layer (PixelVAE) or at the head; pictures show samples, not means",
        options=[
            Option("features", "int", 8, "decoder outputs per pixel (the conditioning map)", min=1),
            Option("filters", "int", 32, "channels of each stack", min=1),
            Option("layers", "int", 5, "gated layers (vertical + horizontal stack)", min=1),
            Option("kernel_size", "int", 3, "kernel of the later layers (odd)", min=1),
            Option("first_kernel_size", "int", 7, "kernel of the first layer (odd)", min=3),
            Option(
                "conditioning",
                "str",
                "layers",
                "where h(z) enters: every gated layer (layers, PixelVAE) or the output head only "
                "(head: the stacks see only x, so the importance samples of a log_prob call "
                "share one stack pass)",
                choices=("layers", "head"),
            ),
        ],
    )
