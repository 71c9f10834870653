"""The built-in datasets beyond MNIST (hooks only, no numpy or TensorFlow imported here).

The loaders live in :mod:`genmod_builtins.idx_datasets` (``fashion-mnist``, ``kmnist``),
:mod:`genmod_builtins.cifar10_loader` (``cifar10``), :mod:`genmod_builtins.npz_loader`
(``npz``) and :mod:`genmod_builtins.image_folder_loader` (``image-folder``). docs/datasets.md
describes each one: source, licence, size, checksums, options, and how to use a local copy.
"""

from genmod import hookimpl
from genmod.contract.options import Option

_TEST_FRACTION = Option(
    "test_fraction",
    "float",
    0.1,
    "share of the items that become the test set when the data has no test split",
    min=0.0,
    max=1.0,
)

NPZ_OPTIONS = [
    Option(
        "path",
        "str",
        "",
        "the .npz file, absolute or relative to --data-dir (empty: the one .npz in --data-dir)",
    ),
    _TEST_FRACTION,
    Option("seed", "int", 0, "seed of the train/test split (when there is no test split)", min=0),
    Option("num_classes", "int", 0, "number of classes (0: the largest label + 1)", min=0),
]

IMAGE_FOLDER_OPTIONS = [
    Option(
        "size",
        "ints",
        (),
        "resize every image to HEIGHT,WIDTH, or S for S x S (empty: keep their common size)",
        min=1,
    ),
    Option(
        "channels", "int", 0, "1: grey, 3: RGB (0: 3 if any image is colour)", choices=(0, 1, 3)
    ),
    _TEST_FRACTION,
    Option("seed", "int", 0, "seed of the shuffle and of the train/test split", min=0),
]


@hookimpl
def register_datasets(register):
    register(
        "fashion-mnist",
        "genmod_builtins.idx_datasets:FashionMNIST",
        description="Fashion-MNIST (Zalando) articles: 60,000 train / 10,000 test, 28x28x1, "
        "10 classes",
    )
    register(
        "kmnist",
        "genmod_builtins.idx_datasets:KMNIST",
        description="Kuzushiji-MNIST cursive hiragana: 60,000 train / 10,000 test, 28x28x1, "
        "10 classes",
    )
    register(
        "cifar10",
        "genmod_builtins.cifar10_loader:CIFAR10",
        description="CIFAR-10 (binary version) colour photos: 50,000 train / 10,000 test, "
        "32x32x3, 10 classes",
    )
    register(
        "npz",
        "genmod_builtins.npz_loader:NpzDataset",
        description="your images in a numpy .npz file (x_train/x_test or x, optional labels "
        "y_*); grey or colour, any size",
        options=NPZ_OPTIONS,
    )
    register(
        "image-folder",
        "genmod_builtins.image_folder_loader:ImageFolder",
        description="your PNG/JPEG files in --data-dir, one sub-folder per class or none; "
        "optional train/ and test/",
        options=IMAGE_FOLDER_OPTIONS,
    )
