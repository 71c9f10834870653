"""The ``tfds`` dataset: any image dataset of the TensorFlow Datasets catalog (hooks only).

The loader is :mod:`genmod_builtins.tfds_loader`; neither this module nor the loader imports
``tensorflow_datasets`` (or TensorFlow) until a run loads the data, so ``genmod plugins`` and
``genmod --help`` stay light.
"""

from genmod import hookimpl
from genmod.contract.options import Option

OPTIONS = [
    Option("name", "str", "", "TFDS dataset name, such as fashion_mnist or cifar10 (required)"),
    Option("version", "str", "", "TFDS version such as 3.0.1 (empty: the newest)"),
    Option("train_split", "str", "train", "TFDS split of the training items (slices: train[:90%])"),
    Option("test_split", "str", "test", "TFDS split of the test items"),
    Option("image_key", "str", "image", "the image feature (a tfds.features.Image)"),
    Option("label_key", "str", "label", "the ClassLabel feature (absent or empty: no labels)"),
    Option(
        "size", "ints", (), "resize every image to HEIGHT,WIDTH (empty: keep their size)", min=1
    ),
    Option("download", "bool", True, "download and prepare the data when missing"),
]


@hookimpl
def register_datasets(register):
    register(
        "tfds",
        "genmod_builtins.tfds_loader:TFDSDataset",
        description="any image dataset of TensorFlow Datasets (--dataset-opt name=fashion_mnist); "
        "needs pip install 'genmod[tfds]'",
        options=OPTIONS,
    )
