"""Reading the audit log back: filtered, newest first, a page at a time (the console's page)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent

_LIKE_SPECIALS = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


@dataclass(frozen=True)
class AuditFilter:
    """Which lines: an actor's text (any part of it), one action, a span [since, until)."""

    actor: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None

    def where(self, query: Select[AuditEvent]) -> Select[AuditEvent]:
        """`query` narrowed to the lines this filter keeps."""
        if self.actor:
            pattern = f"%{self.actor.lower().translate(_LIKE_SPECIALS)}%"
            query = query.where(AuditEvent.actor.ilike(pattern, escape="\\"))
        if self.action:
            query = query.where(AuditEvent.action == self.action)
        if self.since is not None:
            query = query.where(AuditEvent.at >= self.since)
        if self.until is not None:
            query = query.where(AuditEvent.at < self.until)
        return query


async def audit_page(
    session: AsyncSession, chosen: AuditFilter, *, before_id: int | None, size: int
) -> Sequence[AuditEvent]:
    """Up to `size` lines older than line `before_id` (None: the newest), newest first.

    Paged by id rather than by offset, so the thousandth page costs what the first does.
    """
    query = chosen.where(select(AuditEvent))
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return (await session.scalars(query.order_by(AuditEvent.id.desc()).limit(size))).all()


async def audit_lines(
    session: AsyncSession, chosen: AuditFilter, *, batch: int = 1000
) -> AsyncIterator[AuditEvent]:
    """Every line the filter keeps, newest first, read `batch` lines at a time (exports)."""
    before: int | None = None
    while True:
        lines = await audit_page(session, chosen, before_id=before, size=batch)
        for line in lines:
            yield line
        if len(lines) < batch:
            return
        before = lines[-1].id


async def audit_actions(session: AsyncSession) -> list[str]:
    """Every action the log holds, alphabetically (the page's choice of actions)."""
    found = await session.scalars(select(AuditEvent.action).distinct())
    return sorted(found.all())
