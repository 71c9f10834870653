"""The built-in datasets beyond MNIST (hooks only, no numpy or TensorFlow imported here).

The loaders live in :mod:`genmod_builtins.idx_datasets` (``fashion-mnist``, ``kmnist``),
:mod:`genmod_builtins.cifar10_loader` (``cifar10``), :mod:`genmod_builtins.npz_loader`
(``npz``), :mod:`genmod_builtins.image_folder_loader` (``image-folder``) and
:mod:`genmod_builtins.factor_datasets` (``sprites``, ``dsprites``, ``shapes3d``: datasets with
ground-truth factors). docs/datasets.md describes each one: source, licence, size, checksums,
options, and how to use a local copy.
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

SPRITES_OPTIONS = [
    Option("size", "int", 32, "image height and width in pixels", min=16, max=128),
    Option("scales", "int", 4, "number of scales, from half the largest to it", min=1, max=16),
    Option("rotations", "int", 8, "number of rotations over [0, 2 pi)", min=1, max=64),
    Option("positions", "int", 8, "number of positions along each axis", min=1, max=64),
    _TEST_FRACTION,
    Option("seed", "int", 0, "seed of the train/test split", min=0),
]

#: the options of the file-based factor datasets (dsprites, shapes3d)
FACTOR_FILE_OPTIONS = [
    _TEST_FRACTION,
    Option("seed", "int", 0, "seed of the max_items subset and of the train/test split", min=0),
    Option(
        "max_items",
        "int",
        0,
        "read only a seeded random subset of this many items, before the split (0: all)",
        min=0,
    ),
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
    register(
        "sprites",
        "genmod_builtins.factor_datasets:Sprites",
        description="binary sprites generated in memory (no files), every combination of "
        "shape, scale, rotation, x and y once; 6,144 of 32x32x1 by default; 3 classes (shape); "
        "ground-truth factors",
        options=SPRITES_OPTIONS,
    )
    register(
        "dsprites",
        "genmod_builtins.factor_datasets:DSprites",
        description="dSprites (DeepMind): 737,280 binary sprites, 64x64x1, 3 classes (shape); "
        "ground-truth factors shape, scale, orientation, pos_x, pos_y",
        options=FACTOR_FILE_OPTIONS,
    )
    register(
        "shapes3d",
        "genmod_builtins.factor_datasets:Shapes3D",
        description="3D Shapes (DeepMind): 480,000 colour renderings, 64x64x3, 4 classes "
        "(shape); ground-truth factors floor, wall and object hue, scale, shape, orientation",
        options=FACTOR_FILE_OPTIONS,
    )
