"""Layer 4, data: datasets as numpy arrays.

Owns the interface dataset plugins implement (:class:`Dataset`, :class:`DatasetArrays`,
:mod:`~genmod.data.base`), reading IDX files (:mod:`~genmod.data.idx`) and verified downloads
into the per-user cache (:mod:`~genmod.data.download`). May import the contract layer only.
Nothing in this package imports TensorFlow: datasets hand numpy arrays to the core.
"""

from genmod.data.base import (
    Dataset,
    DatasetArrays,
    declared_data_shape,
    default_cache_dir,
    load_checked,
    validate_loaded,
)

__all__ = [
    "Dataset",
    "DatasetArrays",
    "declared_data_shape",
    "default_cache_dir",
    "load_checked",
    "validate_loaded",
]
