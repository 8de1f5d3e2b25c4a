"""The databases of a benchmark run: a temporary SQLite file, a throwaway PostgreSQL database."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable, Sequence
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


async def on_engines(
    engines: Sequence[str], name: str, measure: Callable[[str, str], Awaitable[T]]
) -> dict[str, T | None]:
    """`measure(engine, url)` on SQLite (a temporary file) and PostgreSQL (database `name`).

    Only the engines listed run; PostgreSQL's figures are None when no server answers.
    """
    results: dict[str, T | None] = {}
    if "sqlite" in engines:
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = await measure("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db")
    if "postgresql" in engines:
        results["postgresql"] = await with_postgres(name, lambda url: measure("postgresql", url))
    return results
