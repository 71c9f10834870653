"""The ``mnist`` dataset plugin (hooks only; the loader is :mod:`genmod_builtins.mnist_loader`)."""

from genmod import hookimpl


@hookimpl
def register_datasets(register):
    register(
        "mnist",
        "genmod_builtins.mnist_loader:MNIST",
        description="MNIST handwritten digits: 60,000 train / 10,000 test, 28x28x1, 10 classes",
    )
