"""One process at a time on a SQLite file: an exclusive lock on a file beside it.

`run_bot.py serve` (and `migrate`) take it before they touch the database and hold it until the
process exits, when the system releases it (also after `kill -9`). A second one on the same
file is refused with one line naming the process that holds it, instead of two processes
racing over one database: two senders claiming the same rows, two migrations at once. The other
commands (imports, staff, broadcasts...) do not take it: they are meant to run beside the
service, and SQLite makes their writes wait for its own. PostgreSQL needs no such lock: several
processes share it by design (rows are claimed with `FOR UPDATE SKIP LOCKED`).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy import make_url

_held: list[int] = []  # descriptors kept open (so locked) until the process exits


class DatabaseInUse(Exception):
    """Another process holds the SQLite file; the message is one line meant for the operator."""


def lock_path(database_url: str) -> Path | None:
    """The lock file of a SQLite database (`bot.db.lock` beside `bot.db`); None if not a file."""
    database = _sqlite_file(database_url)
    return Path(f"{database}.lock") if database else None


def _sqlite_file(database_url: str) -> str | None:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


def hold_database(database_url: str) -> Path | None:
    """Lock the SQLite file of `database_url` for the rest of this process's life.

    Returns:
        The lock file, or None when there is nothing to lock (PostgreSQL, in-memory SQLite).

    Raises:
        DatabaseInUse: another process holds it.
        OSError: the lock file cannot be created (its folder cannot be made, say).
    """
    path = lock_path(database_url)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip()
        os.close(fd)
        who = f"process {holder}" if holder.isdigit() else "another process"
        raise DatabaseInUse(
            f"{who} is already running on {_sqlite_file(database_url)}; stop it first "
            "(one process per SQLite file; several need PostgreSQL)"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held.append(fd)
    return path
