"""Vaccination sites and their slots: what has free places, and where."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Site, Slot


@dataclass(frozen=True, slots=True)
class SiteWithPlaces:
    """A site and how many places its slots in a period still have."""

    site: Site
    free: int


async def get_site(session: AsyncSession, site_id: str) -> Site | None:
    """A site by its code."""
    return await session.get(Site, site_id)


async def get_slot(session: AsyncSession, slot_id: int) -> Slot | None:
    """A slot by id."""
    return await session.get(Slot, slot_id)


async def sites_with_places(
    session: AsyncSession,
    *,
    province_code: int,
    ward_code: int,
    since: datetime,
    until: datetime,
    limit: int = 8,
) -> list[SiteWithPlaces]:
    """Active sites of a province with free places between `since` and `until`.

    Sites in `ward_code` come first, then the others by name.
    """
    free = func.sum(Slot.capacity - Slot.booked)
    in_ward = case((Site.ward_code == ward_code, 0), else_=1)
    rows = await session.execute(
        select(Site, free)
        .join(Slot, Slot.site_id == Site.id)
        .where(
            Site.province_code == province_code,
            Site.active.is_(True),
            Slot.starts_at >= since,
            Slot.starts_at < until,
            Slot.booked < Slot.capacity,
            Slot.purpose.is_(None),  # children's sessions are booked from their reminders
        )
        .group_by(Site.id)
        .order_by(in_ward, Site.name, Site.id)
        .limit(limit)
    )
    return [SiteWithPlaces(site, int(places)) for site, places in rows]


async def open_slots(
    session: AsyncSession, *, site_id: str, since: datetime, until: datetime
) -> Sequence[Slot]:
    """Slots of a site starting in [since, until) that still have a free place, in time order."""
    result = await session.scalars(
        select(Slot)
        .where(
            Slot.site_id == site_id,
            Slot.starts_at >= since,
            Slot.starts_at < until,
            Slot.booked < Slot.capacity,
            Slot.purpose.is_(None),
        )
        .order_by(Slot.starts_at)
    )
    return result.all()
