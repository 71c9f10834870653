"""Downloading files with checksum verification, failing clearly when offline."""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path

from genmod.config.toml import file_mode
from genmod.contract.errors import DataError
from genmod.data.idx import sha256


def download_verified(
    filename: str,
    mirrors: Sequence[str],
    destination: Path,
    payload_sha256: str | None = None,
    *,
    file_sha256: str | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch ``filename`` from the first mirror that works and verify it.

    Give exactly one checksum (lowercase hex): ``payload_sha256``, the SHA-256 of the
    *uncompressed* content (``.gz`` files are decompressed to check; how MNIST's are pinned), or
    ``file_sha256``, the SHA-256 of the file exactly as downloaded (how archives such as
    ``cifar-10-binary.tar.gz`` are published). The file is written atomically to
    ``destination / filename`` only once it matches. Raises :class:`DataError` naming every
    mirror tried and why it failed.
    """
    if (payload_sha256 is None) == (file_sha256 is None):
        raise ValueError("download_verified needs exactly one of payload_sha256, file_sha256")
    destination.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
                data = response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            failures.append(f"{url}: {getattr(exc, 'reason', exc)}")
            continue
        if file_sha256 is not None:
            payload, expected = data, file_sha256
        else:
            try:
                payload = gzip.decompress(data) if filename.endswith(".gz") else data
            except (OSError, EOFError, zlib.error):
                failures.append(f"{url}: the download is not a valid gzip file")
                continue
            expected = payload_sha256
        if sha256(payload) != expected:
            failures.append(f"{url}: checksum mismatch (got {sha256(payload)[:16]}...)")
            continue
        target = destination / filename
        fd, tmp = tempfile.mkstemp(dir=destination, prefix=f".{filename}.")
        os.fchmod(fd, file_mode())
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target
    raise DataError(
        f"could not download {filename} into {str(destination)!r}. Tried: "
        + "; ".join(failures)
        + ". If this machine is offline, copy the file there by hand or pass --data-dir "
        "(or set GENMOD_DATA_DIR) to a folder that holds it."
    )


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 (hex) of a file's bytes, read in chunks (archives may be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
