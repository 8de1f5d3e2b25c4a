"""A throwaway PostgreSQL database for a benchmark run, on whichever server is at hand."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import URL, make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
T = TypeVar("T")


def postgres_server() -> URL:
    """The server: BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the local default."""
    raw = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG
    return make_url(raw).set(drivername="postgresql+asyncpg")


async def with_postgres(name: str, measure: Callable[[str], Awaitable[T]]) -> T | None:
    """`measure(url)` in a fresh database `name`, dropped afterwards; None if no server answers."""
    server = postgres_server()
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with asyncio.timeout(10), admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            await conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # unreachable, refused, no rights: report null figures
        print(f"PostgreSQL at {server.render_as_string()} not usable ({exc!r}); figures null")
        await admin.dispose()
        return None
    try:
        return await measure(server.set(database=name).render_as_string(hide_password=False))
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await admin.dispose()
