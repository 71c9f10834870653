"""sha256 checksums of an export's files and ``genmod export --check``. No TensorFlow.

An export holds regular files and folders only. The card lists every other file with its
sha256 (``files``), every folder (``folders``, so an added or removed one is noticed) and the
sha256 of its own content (``card_sha256``, over the canonical JSON of the rest of the card).
These detect damage and accidental edits; they are not a signature: whoever can rewrite the
files can rewrite the card too.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path, PurePosixPath
from typing import Any

from genmod.contract.errors import RunDirError
from genmod.data.download import sha256_file

#: the file of an export that lists every other file's sha256
CARD_FILE = "model-card.json"

__all__ = ["CARD_FILE", "card_digest", "checksum_tree", "export_entries", "verify_export"]


def export_entries(folder: Path) -> tuple[list[str], list[str]]:
    """``(files, folders)`` under ``folder``: sorted relative posix paths, without following
    links. Raises :class:`RunDirError` naming a symbolic link or a special file (a pipe, a
    device), which an export never holds."""
    folder = Path(folder)
    files: list[str] = []
    folders: list[str] = []
    for root, dir_names, file_names in os.walk(folder, followlinks=False):
        for name in sorted(dir_names + file_names):
            path = Path(root) / name
            mode = os.lstat(path).st_mode
            rel = path.relative_to(folder).as_posix()
            if stat.S_ISLNK(mode):
                raise RunDirError(
                    f"{str(path)!r} is a symbolic link; an export holds only regular files "
                    "and folders."
                )
            if stat.S_ISDIR(mode):
                folders.append(rel)
            elif stat.S_ISREG(mode):
                files.append(rel)
            else:
                raise RunDirError(
                    f"{str(path)!r} is not a regular file (a pipe, socket or device); an "
                    "export holds only regular files and folders."
                )
    return sorted(files), sorted(folders)


def checksum_tree(folder: Path, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """``{relative posix path: sha256}`` of every file under ``folder`` (sorted), except the
    relative paths in ``skip``."""
    files, _ = export_entries(folder)
    return {rel: sha256_file(Path(folder) / rel) for rel in files if rel not in skip}


def card_digest(card: dict[str, Any]) -> str:
    """The sha256 of a card's canonical JSON (sorted keys, no spaces) without
    ``card_sha256`` itself."""
    rest = {k: v for k, v in card.items() if k != "card_sha256"}
    text = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _inside(rel: Any) -> bool:
    """Whether a path listed in a card is relative, normal and stays inside the export."""
    if not isinstance(rel, str) or not rel or "\\" in rel:
        return False
    path = PurePosixPath(rel)
    return not path.is_absolute() and ".." not in path.parts and path.as_posix() == rel


def _read_card(folder: Path) -> dict[str, Any]:
    card_path = folder / CARD_FILE
    try:
        if card_path.is_symlink():
            raise OSError("a symbolic link")
        card = json.loads(card_path.read_text(encoding="utf-8"))
        if not isinstance(card, dict) or not isinstance(card.get("files"), dict):
            raise TypeError("files is not a table")
    except (OSError, ValueError, TypeError) as exc:
        raise RunDirError(
            f"{str(card_path)!r} is missing or unreadable ({type(exc).__name__}); it is not an "
            "export of `genmod export`."
        ) from None
    return card


def verify_export(folder: str | Path) -> int:
    """Check an export folder against its ``model-card.json``.

    Verifies the card's own ``card_sha256``, that every path it lists is inside the folder,
    every listed file's sha256, and that the folder holds no file or folder the card does not
    list, no symbolic link and no special file. Returns how many files were verified (all but
    the card). Raises :class:`RunDirError` naming the first problem.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise RunDirError(
            f"{str(folder)!r} is not a folder; give the folder `genmod export` wrote."
        )
    card = _read_card(folder)
    if "card_sha256" in card and card["card_sha256"] != card_digest(card):
        raise RunDirError(
            f"{str(folder / CARD_FILE)!r} was changed after the export: its content differs "
            "from its card_sha256."
        )
    expected: dict[str, Any] = card["files"]
    listed_folders = card.get("folders")
    for rel in [*expected, *(listed_folders or [])]:
        if not _inside(rel):
            raise RunDirError(
                f"{CARD_FILE} lists {str(rel)[:200]!r}, which is not a relative path inside "
                "the export; the card is not one `genmod export` wrote."
            )
    files, folders = export_entries(folder)
    for rel, digest in sorted(expected.items()):
        path = folder / rel
        if rel not in files:
            raise RunDirError(f"{str(path)!r} is missing from the export.")
        if sha256_file(path) != digest:
            raise RunDirError(f"{str(path)!r} differs from its sha256 in {CARD_FILE}.")
    extra = sorted(set(files) - set(expected) - {CARD_FILE})
    if extra:
        raise RunDirError(f"{str(folder / extra[0])!r} is not listed in {CARD_FILE}.")
    if listed_folders is not None:
        unlisted = sorted(set(folders) - set(listed_folders))
        if unlisted:
            raise RunDirError(
                f"the folder {str(folder / unlisted[0])!r} is not listed in {CARD_FILE}."
            )
        gone = sorted(set(listed_folders) - set(folders))
        if gone:
            raise RunDirError(f"the folder {str(folder / gone[0])!r} is missing from the export.")
    return len(expected)
