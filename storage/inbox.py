"""Webhook events stored before they are answered and handled after (see `InboundEvent`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage._dialect import insert_ignoring_conflicts
from storage.models import InboundEvent, table


async def store(
    session: AsyncSession, *, channel: str, event_key: str, body: dict[str, Any], now: datetime
) -> bool:
    """Keep an event until it is handled; False if it is already kept (a redelivery)."""
    statement = insert_ignoring_conflicts(session, table(InboundEvent)).returning(
        table(InboundEvent).c.id
    )
    row = {"channel": channel, "event_key": event_key, "body": body, "received_at": now}
    return (await session.execute(statement, [row])).first() is not None


async def waiting(session: AsyncSession, *, channel: str, limit: int) -> list[InboundEvent]:
    """The oldest events not handled yet, in arrival order."""
    result = await session.execute(
        select(InboundEvent)
        .where(InboundEvent.handled_at.is_(None), InboundEvent.channel == channel)
        .order_by(InboundEvent.id)
        .limit(limit)
    )
    return list(result.scalars())


async def mark_handled(session: AsyncSession, ids: Sequence[int], *, now: datetime) -> None:
    """Empty handled events: their keys stay, to refuse redeliveries; what they said goes."""
    if ids:
        await session.execute(
            update(InboundEvent).where(InboundEvent.id.in_(ids)).values(body={}, handled_at=now)
        )


async def forget_handled_before(session: AsyncSession, *, cutoff: datetime) -> int:
    """Drop the keys of events handled before `cutoff`; how many."""
    result = await session.execute(delete(InboundEvent).where(InboundEvent.handled_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]
