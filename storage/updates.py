"""Inbound updates already processed, so that a redelivery does nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage._dialect import insert_ignoring_conflicts
from storage.models import ProcessedUpdate, table, utcnow


async def claim_update(session: AsyncSession, *, channel: str, update_id: str) -> bool:
    """Record the update as processed; False if it was recorded before (a redelivery)."""
    result = await session.execute(
        insert_ignoring_conflicts(session, table(ProcessedUpdate)),
        {"channel": channel, "update_id": update_id, "processed_at": utcnow()},
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def forget_updates_before(session: AsyncSession, *, cutoff: datetime) -> int:
    """Drop records older than `cutoff` (platforms stop redelivering after a day or so)."""
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
