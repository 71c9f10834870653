"""A run folder is a trust boundary: nothing read from it may lead genmod outside it.

Run folders are shared and downloaded, so their files are untrusted input. genmod reads no
pickles and runs no code from them; the checks here make sure that no path taken from a file in
the folder (TensorFlow's ``checkpoint`` state files) and no symbolic link in it points outside
the folder, so that reading, sampling from or resuming a run can neither read, write nor
delete anything elsewhere. No TensorFlow here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from genmod.contract.errors import RunDirError

#: the lines of a TensorFlow checkpoint state file that name checkpoint paths
_STATE_PATH_LINE = re.compile(
    r'^\s*(model_checkpoint_path|all_model_checkpoint_paths)\s*:\s*"(.*)"'
)


def is_inside(root: Path, path: Path) -> bool:
    """Whether ``path``, with every symbolic link followed, lies in ``root`` (or is it)."""
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))
    return real == real_root or real_root in real.parents


def require_inside(run_dir: Path, path: Path, what: str) -> Path:
    """``path`` if it stays inside ``run_dir`` once links are followed, else a
    :class:`RunDirError` naming it (nothing is read or written)."""
    if not is_inside(run_dir, path):
        raise RunDirError(
            f"{what} {str(path)!r} leads outside the run folder {str(run_dir)!r} (to "
            f"{os.path.realpath(path)!r}); genmod never reads or writes outside a run folder. "
            "Remove the link, or copy the run without it."
        )
    return path


def check_links(run_dir: Path) -> None:
    """Refuse a run folder holding a symbolic link whose target is outside it."""
    run_dir = Path(run_dir)
    for folder, dirs, files in os.walk(run_dir, followlinks=False):
        for name in dirs + files:
            entry = Path(folder) / name
            if entry.is_symlink():
                require_inside(run_dir, entry, "the link")


def checkpoint_state_paths(directory: Path) -> list[str]:
    """The checkpoint paths a TensorFlow ``checkpoint`` state file in ``directory`` lists."""
    state = Path(directory) / "checkpoint"
    if not state.is_file():
        return []
    try:
        text = state.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise RunDirError(f"{str(state)!r} cannot be read: {exc.strerror or exc}.") from None
    return [m.group(2) for m in map(_STATE_PATH_LINE.match, text.splitlines()) if m]


def check_checkpoint_state(directory: Path, run_dir: Path) -> None:
    """Refuse a ``checkpoint`` state file that names a path outside ``directory``.

    TensorFlow's checkpoint manager trusts that file and *deletes* the old checkpoints it
    lists when it saves new ones, so a crafted state file could make a resume delete files
    anywhere. A checkpoint path must be a bare ``ckpt-N`` name (or a path that resolves into
    ``directory``).
    """
    directory = Path(directory)
    for listed in checkpoint_state_paths(directory):
        target = Path(listed) if os.path.isabs(listed) else directory / listed
        if not is_inside(directory, target):
            raise RunDirError(
                f"{str(directory / 'checkpoint')!r} lists the checkpoint {listed!r}, which is "
                f"outside {str(directory)!r}; genmod will not use it (TensorFlow would delete "
                "the files it names). Delete that state file to continue: genmod rebuilds it "
                f"from the checkpoints in the folder. Run folder: {str(run_dir)!r}."
            )
