"""Statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Base


def insert_ignoring_conflicts(session: AsyncSession, entity: type[Base]) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` for the session's engine."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(entity).on_conflict_do_nothing()


def supports_row_locks(session: AsyncSession) -> bool:
    """Whether `SELECT ... FOR UPDATE [SKIP LOCKED]` means something on this engine."""
    return session.get_bind().dialect.name == "postgresql"
