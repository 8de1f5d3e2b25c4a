"""Platforms' ids of pictures we uploaded once, so sending them again is a reference."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage._dialect import upsert
from storage.models import MediaFile, table


async def file_id(session: AsyncSession, *, channel: str, key: str) -> str | None:
    """The platform's id of the picture `key` on `channel`, if it was uploaded before."""
    return await session.scalar(
        select(MediaFile.file_id).where(MediaFile.channel == channel, MediaFile.key == key)
    )


async def remember(
    session: AsyncSession, uploads: Sequence[tuple[str, str, str]], *, now: datetime
) -> None:
    """Record (channel, key, file id) of fresh uploads; a newer id replaces an older one."""
    latest = {(channel, key): platform_id for channel, key, platform_id in uploads}
    if latest:
        statement = upsert(
            session, table(MediaFile), ("channel", "key"), ("file_id", "created_at")
        )
        await session.execute(
            statement,
            [
                {"channel": channel, "key": key, "file_id": platform_id, "created_at": now}
                for (channel, key), platform_id in latest.items()
            ],
        )


async def forget(session: AsyncSession, keys: Sequence[str]) -> None:
    """Forget the platforms' ids of these pictures, on every channel."""
    if keys:
        await session.execute(delete(MediaFile).where(MediaFile.key.in_(keys)))
