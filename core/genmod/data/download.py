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
    file_md5: str | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch ``filename`` from the first mirror that works and verify it.

    Give exactly one checksum (lowercase hex): ``payload_sha256``, the SHA-256 of the
    *uncompressed* content (``.gz`` files are decompressed to check; how MNIST's are pinned), or
    ``file_sha256``, the SHA-256 of the file exactly as downloaded (how archives such as
    ``cifar-10-binary.tar.gz`` are published), or ``file_md5``, the MD5 of the file as
    downloaded (how Keras pins its application weights). The file is written atomically to
    ``destination / filename`` only once it matches. Raises :class:`DataError` naming every
    mirror tried and why it failed.
    """
    if sum(c is not None for c in (payload_sha256, file_sha256, file_md5)) != 1:
        raise ValueError(
            "download_verified needs exactly one of payload_sha256, file_sha256, file_md5"
        )
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
        problem = _mismatch(filename, data, payload_sha256, file_sha256, file_md5)
        if problem:
            failures.append(f"{url}: {problem}")
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


def _mismatch(
    filename: str,
    data: bytes,
    payload_sha256: str | None,
    file_sha256: str | None,
    file_md5: str | None,
) -> str | None:
    """Why ``data`` fails the one checksum given, or ``None`` when it matches."""
    if file_md5 is not None:
        got = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return None if got == file_md5 else f"checksum mismatch (got md5 {got[:16]}...)"
    if file_sha256 is not None:
        got = sha256(data)
        return None if got == file_sha256 else f"checksum mismatch (got {got[:16]}...)"
    try:
        payload = gzip.decompress(data) if filename.endswith(".gz") else data
    except (OSError, EOFError, zlib.error):
        return "the download is not a valid gzip file"
    got = sha256(payload)
    return None if got == payload_sha256 else f"checksum mismatch (got {got[:16]}...)"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """The SHA-256 (hex) of a file's bytes, read in chunks (archives may be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
