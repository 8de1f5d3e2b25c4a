"""Owner-only files and folders: the SQLite database, the keys, everything under VAR_DIR.

New files are created 0600 and folders 0700; files left by an older version or another tool are
tightened at start-up by dropping the group's and others' permission bits. Only what this user
owns is changed: anything else is left alone, with a warning in the log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MODE = 0o600
FOLDER_MODE = 0o700
_OTHERS = 0o077  # the group's and everyone else's bits


def create_private(path: Path) -> None:
    """Create `path` empty and owner-only if it does not exist yet; tighten it if it does."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, FILE_MODE)
    try:
        _tighten(fd, os.fstat(fd), path)
    finally:
        os.close(fd)


def tighten(path: Path) -> None:
    """Drop the group's and others' bits of `path` if it exists and is ours (not a link)."""
    with contextlib.suppress(FileNotFoundError):
        found = os.lstat(path)
        if stat.S_ISREG(found.st_mode) or stat.S_ISDIR(found.st_mode):
            _tighten(None, found, path)


def tighten_tree(root: Path) -> None:
    """`tighten` a folder and everything under it (links are not followed)."""
    tighten(root)
    for folder, subfolders, names in os.walk(root):
        for name in (*subfolders, *names):
            tighten(Path(folder) / name)


def _tighten(fd: int | None, found: os.stat_result, path: Path) -> None:
    mode = stat.S_IMODE(found.st_mode)
    if not mode & _OTHERS:
        return
    if found.st_uid != os.getuid():
        log.warning("%s is readable by others and not ours to change (mode %o)", path, mode)
        return
    if fd is None:
        os.chmod(path, mode & ~_OTHERS)  # a regular file or folder: lstat said so
    else:
        os.fchmod(fd, mode & ~_OTHERS)
