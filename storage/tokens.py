"""Platform OAuth token pairs (Zalo OA), one row per channel, sealed at rest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage._dialect import supports_row_locks
from storage.models import PlatformToken


async def get(session: AsyncSession, channel: str, *, lock: bool = False) -> PlatformToken | None:
    """The channel's token row; with `lock`, held until the transaction ends (PostgreSQL).

    On SQLite the write transaction itself is the lock: one writer at a time.
    """
    statement = select(PlatformToken).where(PlatformToken.channel == channel)
    if lock and supports_row_locks(session):
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def put(
    session: AsyncSession,
    channel: str,
    *,
    access_sealed: bytes,
    refresh_sealed: bytes,
    expires_at: datetime,
    refreshed_at: datetime,
) -> None:
    """Store the channel's current pair, replacing the previous one."""
    row = await get(session, channel)
    if row is None:
        session.add(
            PlatformToken(
                channel=channel,
                access_sealed=access_sealed,
                refresh_sealed=refresh_sealed,
                expires_at=expires_at,
                refreshed_at=refreshed_at,
            )
        )
        return
    row.access_sealed, row.refresh_sealed = access_sealed, refresh_sealed
    row.expires_at, row.refreshed_at = expires_at, refreshed_at
