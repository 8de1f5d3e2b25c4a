"""Inbound updates already processed, so that a redelivery does nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage._dialect import insert_ignoring_conflicts
from storage.models import ProcessedUpdate, table


async def claim_update(
    session: AsyncSession, *, channel: str, update_id: str, now: datetime
) -> bool:
    """Record the update as processed; False if it was recorded before (a redelivery)."""
    return bool(await claim_updates(session, keys=[(channel, update_id)], now=now))


async def claim_updates(
    session: AsyncSession, *, keys: Sequence[tuple[str, str]], now: datetime
) -> set[tuple[str, str]]:
    """Record (channel, update id) pairs as processed, in one statement.

    Returns:
        The pairs that were new; the others are redeliveries.
    """
    if not keys:
        return set()
    processed = table(ProcessedUpdate)
    statement = insert_ignoring_conflicts(session, processed).returning(
        processed.c.channel, processed.c.update_id
    )
    rows = [{"channel": c, "update_id": u, "processed_at": now} for c, u in dict.fromkeys(keys)]
    result = await session.execute(statement, rows)
    return {(channel, update_id) for channel, update_id in result}


async def forget_updates_before(session: AsyncSession, *, cutoff: datetime) -> int:
    """Drop records older than `cutoff` (platforms stop redelivering after a day or so)."""
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
