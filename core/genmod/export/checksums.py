"""sha256 checksums of an export's files and ``genmod export --check``. No TensorFlow."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from genmod.contract.errors import RunDirError

#: the file of an export that lists every other file's sha256
CARD_FILE = "model-card.json"


def sha256_file(path: Path) -> str:
    """The hex sha256 of one file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_tree(folder: Path, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """``{relative posix path: sha256}`` of every file under ``folder`` (sorted), except the
    relative paths in ``skip``."""
    folder = Path(folder)
    sums = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel not in skip:
            sums[rel] = sha256_file(path)
    return sums


def verify_export(folder: str | Path) -> int:
    """Check every file named in ``folder/model-card.json`` against its sha256.

    Returns how many files were verified. Raises :class:`RunDirError` naming the first file
    that is missing or differs, a file that the card does not list, or a missing or
    unreadable card.
    """
    folder = Path(folder)
    card_path = folder / CARD_FILE
    if not folder.is_dir():
        raise RunDirError(
            f"{str(folder)!r} is not a folder; give the folder `genmod export` wrote."
        )
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
        expected = card["files"]
        if not isinstance(expected, dict):
            raise TypeError("files is not a table")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunDirError(
            f"{str(card_path)!r} is missing or unreadable ({type(exc).__name__}); it is not an "
            "export of `genmod export`."
        ) from None
    for rel, digest in sorted(expected.items()):
        path = folder / rel
        if not path.is_file():
            raise RunDirError(f"{str(path)!r} is missing from the export.")
        if sha256_file(path) != digest:
            raise RunDirError(f"{str(path)!r} differs from its sha256 in {CARD_FILE}.")
    extra = sorted(set(checksum_tree(folder, skip=(CARD_FILE,))) - set(expected))
    if extra:
        raise RunDirError(f"{str(folder / extra[0])!r} is not listed in {CARD_FILE}.")
    return len(expected)
