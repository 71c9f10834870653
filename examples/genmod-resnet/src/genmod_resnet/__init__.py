"""genmod-resnet: an example genmod plugin (ResNet encoder/decoder, Student-t prior).

Importing this package is cheap; the TensorFlow code is in :mod:`genmod_resnet.networks` and
:mod:`genmod_resnet.priors`, which genmod imports only when a run uses them.
"""

__version__ = "0.1.0"
