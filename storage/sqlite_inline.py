"""SQLite connections for SQLAlchemy's aiosqlite dialect that run inline, without a thread.

aiosqlite gives each connection a thread and hands every cursor call to it through a queue;
each such hop wakes the event loop, and one citizen message takes about twenty of them (cursor,
execute, fetch, close, for every statement). Measured with `bench/inbound.py`, the hops cost more
CPU than the SQL itself. SQLite is an in-process library whose statements take microseconds
(WAL journal, `synchronous=NORMAL`: no fsync per commit), so we run them directly on the event
loop instead: these classes offer the slice of aiosqlite's API that SQLAlchemy calls, with
coroutines that complete without suspending. SQLAlchemy is given them through its public
`async_creator` hook; dialect, types and errors stay the aiosqlite dialect's.

The trade-off: a statement blocks the loop while it runs. Writers in this process queue on an
asyncio lock (see `storage.db`), so the busy timeout only comes into play when another process
writes the same file; several processes should share PostgreSQL instead.

At rest: the database file is created owner-only (0600) before SQLite opens it, so its `-wal`
and `-shm` files, which SQLite creates with the main file's permissions, are too; and
`secure_delete` makes SQLite overwrite deleted content with zeros, so an erased row leaves no
trace in the file once the WAL is checkpointed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from storage import files

BUSY_TIMEOUT_S = 5.0
PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "secure_delete=ON")
IN_MEMORY = ("", ":memory:")
WAL_FILES = ("-wal", "-shm")


class InlineCursor:
    """An aiosqlite-shaped cursor over a `sqlite3.Cursor`."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        """Column descriptions of the last query (DB-API)."""
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        """Rows changed by the last statement (DB-API)."""
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        """Row id of the last inserted row (DB-API)."""
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        """Default `fetchmany` size (DB-API)."""
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        """Run one statement."""
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> InlineCursor:
        """Run one statement for each parameter row."""
        self._cursor.executemany(sql, rows)
        return self

    async def fetchone(self) -> Any:
        """The next row, or None."""
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        """Up to `size` rows."""
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        """All remaining rows."""
        return self._cursor.fetchall()

    async def close(self) -> None:
        """Close the cursor."""
        self._cursor.close()


class InlineConnection:
    """An aiosqlite-shaped connection over a `sqlite3.Connection`.

    It stays in autocommit mode: SQLAlchemy emits BEGIN itself (see `storage.db`).
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection: sqlite3.Connection | None = connection

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError("no active connection")
        return self._connection

    @property
    def isolation_level(self) -> str | None:
        """The sqlite3 module's transaction mode (None: we issue BEGIN ourselves)."""
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        """A new cursor (SQLAlchemy enters it with `async with`)."""
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> InlineCursor:
        """Run one statement on a new cursor."""
        return await self.cursor().execute(sql, parameters)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        """Register an SQL function (the dialect adds REGEXP)."""
        self._conn.create_function(*args, **kwargs)

    async def commit(self) -> None:
        """Commit the open transaction."""
        self._conn.commit()

    async def rollback(self) -> None:
        """Roll back the open transaction."""
        self._conn.rollback()

    async def close(self) -> None:
        """Close the connection."""
        self.stop()

    def stop(self) -> None:
        """Close at once (SQLAlchemy calls this to terminate an invalidated connection)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


async def connect(path: str) -> InlineConnection:
    """Open `path` owner-only, in WAL mode with foreign keys and secure delete on, autocommit."""
    if path not in IN_MEMORY:
        make_private(Path(path))
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    for pragma in PRAGMAS:
        connection.execute(f"PRAGMA {pragma}")
    return InlineConnection(connection)


def make_private(path: Path) -> None:
    """Create the database file 0600 if it is new; tighten it and its WAL files if not."""
    files.create_private(path)
    for suffix in WAL_FILES:
        files.tighten(path.with_name(path.name + suffix))
