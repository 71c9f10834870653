"""Downloading files with checksum verification, failing clearly when offline."""

from __future__ import annotations

import gzip
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
    payload_sha256: str,
    *,
    timeout: float = 30.0,
) -> Path:
    """Fetch ``filename`` from the first mirror that works and verify it.

    ``payload_sha256`` is the SHA-256 of the *uncompressed* content (gzip files are
    decompressed to check). The file is written atomically to ``destination / filename``.
    Raises :class:`DataError` naming every mirror tried and why it failed.
    """
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
        try:
            payload = gzip.decompress(data) if filename.endswith(".gz") else data
        except (OSError, EOFError, zlib.error):
            failures.append(f"{url}: the download is not a valid gzip file")
            continue
        if sha256(payload) != payload_sha256:
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
