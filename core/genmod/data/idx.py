"""Reading the IDX format (MNIST and friends), gzip-compressed or not, with validation."""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from genmod.contract.errors import DataError

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_payload(path: Path) -> bytes:
    """The uncompressed bytes of an IDX file (``.gz`` is decompressed)."""
    try:
        raw = Path(path).read_bytes()
        return gzip.decompress(raw) if str(path).endswith(".gz") else raw
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(
            f"{str(path)!r} could not be read or decompressed ({type(exc).__name__}: {exc}); "
            "the file is probably truncated or corrupt. Delete it and download it again."
        ) from None


def parse_idx(payload: bytes, source: str = "IDX data") -> np.ndarray:
    """Parse IDX bytes into an array, checking the magic number and the declared size."""
    if len(payload) < 4 or payload[0] != 0 or payload[1] != 0:
        raise DataError(f"{source} is not an IDX file (bad magic number).")
    type_code, ndim = payload[2], payload[3]
    if type_code not in _IDX_DTYPES or ndim == 0:
        raise DataError(f"{source} is not an IDX file (type 0x{type_code:02x}, {ndim} dims).")
    header = 4 + 4 * ndim
    if len(payload) < header:
        raise DataError(f"{source} is truncated: its header is incomplete.")
    dims = struct.unpack(f">{ndim}I", payload[4:header])
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    if len(payload) - header != expected:
        raise DataError(
            f"{source} is truncated or corrupt: its header declares shape {dims} "
            f"({expected} bytes of data) but it holds {len(payload) - header} bytes."
        )
    return np.frombuffer(payload, dtype=dtype, offset=header).reshape(dims)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
