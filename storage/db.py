"""Engine, units of work and migrations, for SQLite (default) and PostgreSQL.

SQLite: WAL journal, `synchronous=NORMAL` (durable across process crashes; a power cut can lose
the last commits), foreign keys and secure delete on, files owner-only, statements run inline on
the event loop (see `storage.sqlite_inline` for why), and every write transaction starts with
`BEGIN IMMEDIATE` behind one in-process lock, so writers queue instead of failing with "database
is locked".
PostgreSQL: plain transactions; row locks (`FOR UPDATE`) serialise work on one chat.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import files, sqlite_inline

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_sqlite_begin: ContextVar[str] = ContextVar("sqlite_begin", default="BEGIN IMMEDIATE")


class Database:
    """One engine and its sessions. Built in `bot/app.py`, never at import time."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        if self.is_sqlite and self.url.database not in (None, "", ":memory:"):
            # A folder made here is owner-only; an existing one is the operator's to set.
            Path(self.url.database).parent.mkdir(
                mode=files.FOLDER_MODE, parents=True, exist_ok=True
            )
        # hide_parameters: SQL errors and logs never carry the values (personal data).
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            path = self.url.database or ":memory:"
            kwargs["async_creator"] = lambda: sqlite_inline.connect(path)
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @contextlib.asynccontextmanager
    async def session_scope(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: commits when the block ends, rolls back if it raises."""
        lock = self._write_lock or contextlib.nullcontext()
        async with lock, self._sessions() as session, session.begin():
            yield session

    @contextlib.asynccontextmanager
    async def batched_scope(self) -> AsyncIterator[AsyncSession]:
        """A unit of work the caller may commit part by part with `await session.commit()`.

        For long imports: each commit makes its part durable (and its notices deliverable) and
        lets other processes write in between. What is left commits when the block ends; if
        the block raises, only the part since the last commit is rolled back.
        """
        lock = self._write_lock or contextlib.nullcontext()
        async with lock, self._sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    @contextlib.asynccontextmanager
    async def read_scope(self) -> AsyncIterator[AsyncSession]:
        """A unit of work for reads: it never waits for writers (on SQLite a deferred BEGIN).

        Nothing stops a write in it, but writes belong in `session_scope`, which serialises
        them on SQLite.
        """
        token = _sqlite_begin.set("BEGIN")
        try:
            async with self._sessions() as session, session.begin():
                yield session
        finally:
            _sqlite_begin.reset(token)

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic settings for our migrations folder, optionally bound to an open connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(_sqlite_begin.get())
