"""Statements whose spelling differs between SQLite and PostgreSQL, built once per engine."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_of(session: AsyncSession) -> str:
    """The engine family of a session: `sqlite` or `postgresql`."""
    return session.get_bind().dialect.name


def insert_ignoring_conflicts(session: AsyncSession, table: Table) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` into `table`; execute it with a params dict."""
    return _insert_ignoring(dialect_of(session), table)


@cache
def _insert_ignoring(dialect: str, table: Table) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()


def supports_row_locks(session: AsyncSession) -> bool:
    """Whether `SELECT ... FOR UPDATE [SKIP LOCKED]` means something on this engine."""
    return dialect_of(session) == "postgresql"


def upsert(
    session: AsyncSession, table: Table, keys: tuple[str, ...], values: tuple[str, ...]
) -> Any:
    """`INSERT ... ON CONFLICT (keys) DO UPDATE SET values = excluded.values`."""
    return _upsert(dialect_of(session), table, keys, values)


@cache
def _upsert(dialect: str, table: Table, keys: tuple[str, ...], values: tuple[str, ...]) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table)
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={name: statement.excluded[name] for name in values}
    )
