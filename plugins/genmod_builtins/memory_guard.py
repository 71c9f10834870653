"""Refusing, before any decoding, data that cannot fit in this machine's memory (the
``image-folder`` and ``tfds`` datasets, whose item size comes from a ``size`` option). Standard
library only."""

from __future__ import annotations

import math
import os

from genmod.contract.errors import DataError


def memory_bytes() -> int | None:
    """This machine's physical memory in bytes, or ``None`` where the OS does not say."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    return total if total > 0 else None  # sysconf gives -1 for "unknown"


def check_fits(n: int, shape: tuple[int, ...], what: str, advice: str) -> None:
    """Raise a :class:`DataError` when ``n`` uint8 items of ``shape`` (the array the dataset
    returns) take more than half of the machine's memory (training needs more besides), so a
    huge ``size`` is a clear error instead of an out-of-memory crash midway. ``what`` names the
    items in the message (``"the 48 images of 'DIR'"``); ``advice`` says what to change."""
    needed = n * math.prod(shape)
    total = memory_bytes()
    if total and needed > total // 2:
        raise DataError(
            f"{what} at {'x'.join(map(str, shape))} need {_size(needed)} of memory, more than "
            f"half of this machine's {_size(total)}; {advice}."
        )


def _size(count: int) -> str:
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.0f} MiB"
