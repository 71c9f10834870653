"""Datasets: the interface dataset plugins implement, and helpers for reading and downloading.

Nothing in this package imports TensorFlow: datasets hand numpy arrays to the core.
"""

from genmod.data.base import Dataset, DatasetArrays, default_cache_dir

__all__ = ["Dataset", "DatasetArrays", "default_cache_dir"]
