"""Reading and writing the small TOML files genmod uses (configs, run metadata).

Reading uses the standard library's ``tomllib``. Writing covers
what genmod writes: top-level scalars and lists, and two levels of tables (``[observers]`` holds
one table per observer). ``None`` values are
left out (TOML has no null).
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from genmod.contract.errors import ConfigError


def _format(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_format(v, key) for v in value) + "]"
    raise TypeError(f"cannot write {key!r} = {value!r} to TOML")


def dumps(data: dict[str, Any]) -> str:
    """TOML text for a dict of scalars, lists and (one level of) dicts."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_format(value, key)}")
    for name, table in tables:
        lines.append("")
        lines.append(f"[{name}]")
        subtables = []
        for key, value in table.items():
            if value is None:
                continue
            if isinstance(value, dict):
                subtables.append((key, value))
                continue
            lines.append(f"{key} = {_format(value, key)}")
        for key, subtable in subtables:  # a second level, e.g. [observers.jsonl-log]
            lines.append("")
            lines.append(f"[{name}.{_bare_or_quoted(key)}]")
            for sub_key, value in subtable.items():
                if value is None:
                    continue
                if isinstance(value, dict):
                    raise TypeError(f"nested table {name}.{key}.{sub_key} is not supported")
                lines.append(f"{sub_key} = {_format(value, sub_key)}")
    return "\n".join(lines) + "\n"


def _bare_or_quoted(key: str) -> str:
    """A TOML key: bare when it may be (letters, digits, ``_``, ``-``), else a quoted string."""
    if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key):
        return key
    return json.dumps(key)


def file_mode() -> int:
    """The permission bits a new file gets under the user's umask (0o666 & ~umask), as
    ``open()`` gives; temporary files (``mkstemp``: 0o600) are set to this before the rename
    so that every file genmod writes follows the umask like other tools' outputs."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a crash leaves either the old or the new file."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old or the new file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.fchmod(fd, file_mode())
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def dump(data: dict[str, Any], path: Path) -> None:
    write_atomic(Path(path), dumps(data))


#: the largest TOML file genmod reads (config, study and recipe files are a few kB)
MAX_TOML_BYTES = 1 << 20


def is_regular_file(path: Path) -> bool:
    """Whether ``path`` is a regular file (links followed): a FIFO or device planted where
    genmod reads a file would block or never end the read."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def read_small_file(path: Path, what: str, limit: int = MAX_TOML_BYTES) -> bytes:
    """The bytes of the regular file ``path``; anything else is a one-line :class:`ConfigError`
    naming ``what`` (e.g. ``"study file"``) and the path: missing, a folder, a FIFO or device
    (never opened, so never a hang), larger than ``limit`` bytes, or unreadable."""
    shown = f"{what} {str(path)!r}"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ConfigError(f"{shown} does not exist.") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{shown} cannot be read: {getattr(exc, 'strerror', None) or exc}."
        ) from None
    if stat.S_ISDIR(mode):
        raise ConfigError(f"{shown} is a folder, not a TOML file.")
    if not stat.S_ISREG(mode):
        raise ConfigError(
            f"{shown} is not a regular file (a FIFO, socket or device); give a TOML file."
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"{shown} cannot be read: {exc.strerror or exc}.") from None
    if len(data) > limit:
        raise ConfigError(
            f"{shown} is larger than {limit // 1024} KiB; genmod's TOML files are a few kB."
        )
    return data


def load(path: Path, what: str = "config file") -> dict[str, Any]:
    """Parse the TOML file ``path`` (read with :func:`read_small_file`); anything unreadable,
    not UTF-8 or not valid TOML is a one-line :class:`ConfigError` naming ``what``, the file
    and, for a syntax error, the line."""
    return loads_file(read_small_file(Path(path), what), path, what)


def loads_file(raw: bytes, path: Path, what: str) -> dict[str, Any]:
    """Parse ``raw``, the bytes of the TOML file ``path`` (named ``what`` in errors)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what} {str(path)!r} is not UTF-8 text (byte {exc.start}); TOML files are UTF-8."
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {str(path)!r} is not valid TOML: {exc}.") from None
