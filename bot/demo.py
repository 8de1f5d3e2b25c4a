"""Demo data, seeded on first start so a newcomer can try every flow locally.

Idempotent: running it again changes nothing, except that slots are kept two weeks ahead of
`now` (a later run adds the days that came into the window). Later features add their demo
rows here (results...), each guarded the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto import DataProtector
from bot.handlers.phone_number import PHONE_INDEX
from bot.handlers.privacy import CONSENT_VERSION
from bot.i18n import TIMEZONE, local_day
from storage import accounts
from storage._dialect import insert_ignoring_conflicts
from storage.models import Site, Slot, table

DEMO_CHAT = ("web", "demo-citizen")
DEMO_PHONE = "+84912345678"

HCM = 79
# (id, name, address, ward code, places per slot): Phường Bến Thành 26743, Sài Gòn 26740,
# Tân Định 26737 (Thành phố Hồ Chí Minh, wards since 1/7/2025).
DEMO_SITES = (
    (
        "hcm-benthanh",
        "Trạm Y tế phường Bến Thành",
        "186 Lê Thánh Tôn, Phường Bến Thành, Thành phố Hồ Chí Minh",
        26743,
        30,
    ),
    (
        "hcm-taodan",
        "Điểm tiêm lưu động Công viên Tao Đàn",
        "55C Nguyễn Thị Minh Khai, Phường Bến Thành, Thành phố Hồ Chí Minh",
        26743,
        50,
    ),
    (
        "hcm-saigon",
        "Trạm Y tế phường Sài Gòn",
        "42 Lý Tự Trọng, Phường Sài Gòn, Thành phố Hồ Chí Minh",
        26740,
        40,
    ),
    (
        "hcm-tandinh",
        "Trạm Y tế phường Tân Định",
        "50 Trần Quang Khải, Phường Tân Định, Thành phố Hồ Chí Minh",
        26737,
        20,
    ),
)
DEMO_DAYS = 14  # today (Vietnam time) and the next 13 days
# One-hour slots, Vietnam local time: 07:30-11:30 and 13:30-16:30.
DEMO_SLOT_STARTS = tuple(time(h, 30) for h in (7, 8, 9, 10, 13, 14, 15))
SLOT_LENGTH = timedelta(hours=1)


async def seed_demo(session: AsyncSession, protector: DataProtector, *, now: datetime) -> bool:
    """Create the demo citizen, sites and the slots of the next two weeks that are missing.

    Returns:
        Whether anything was created.
    """
    created = await _seed_citizen(session, protector, now=now)
    created = await _seed_sites(session) or created
    return await _seed_slots(session, now=now) or created


async def _seed_citizen(session: AsyncSession, protector: DataProtector, *, now: datetime) -> bool:
    """The demo citizen (consented, with a phone number); False if already there."""
    channel, chat_id = DEMO_CHAT
    if await accounts.load_chat(session, channel=channel, chat_id=chat_id) is not None:
        return False
    account, _ = await accounts.open_chat(
        session, channel=channel, chat_id=chat_id, user_id=None, locale="vi", now=now
    )
    await accounts.record_consent(session, account, version=CONSENT_VERSION, granted=True, now=now)
    account.phone_sealed = protector.seal(DEMO_PHONE)
    account.phone_index = protector.blind_index(PHONE_INDEX, DEMO_PHONE)
    return True


async def _seed_sites(session: AsyncSession) -> bool:
    """The demo sites that are missing (an operator's later edits to them are kept)."""
    ids = [site[0] for site in DEMO_SITES]
    present = set(await session.scalars(select(Site.id).where(Site.id.in_(ids))))
    rows = [
        {
            "id": site_id,
            "name": name,
            "address": address,
            "province_code": HCM,
            "ward_code": ward_code,
            "active": True,
        }
        for site_id, name, address, ward_code, _places in DEMO_SITES
        if site_id not in present
    ]
    if rows:  # ignoring conflicts: two processes may seed at once on PostgreSQL
        await session.execute(insert_ignoring_conflicts(session, table(Site)), rows)
    return bool(rows)


async def _seed_slots(session: AsyncSession, *, now: datetime) -> bool:
    """The demo slots still to come in the next `DEMO_DAYS` Vietnam days that are missing."""
    today = local_day(now)
    wanted = {
        (site_id, start): places
        for site_id, _name, _address, _ward, places in DEMO_SITES
        for day in (today + timedelta(days=n) for n in range(DEMO_DAYS))
        for at in DEMO_SLOT_STARTS
        if (start := datetime.combine(day, at, tzinfo=TIMEZONE).astimezone(UTC)) > now
    }
    if not wanted:
        return False
    present = await session.execute(
        select(Slot.site_id, Slot.starts_at).where(
            Slot.site_id.in_(sorted({site_id for site_id, _ in wanted})),
            Slot.starts_at >= min(start for _, start in wanted),
        )
    )
    for site_id, start in present:
        wanted.pop((site_id, start), None)
    rows = [
        {
            "site_id": site_id,
            "starts_at": start,
            "ends_at": start + SLOT_LENGTH,
            "capacity": places,
            "booked": 0,
        }
        for (site_id, start), places in sorted(wanted.items())
    ]
    if rows:
        await session.execute(insert_ignoring_conflicts(session, table(Slot)), rows)
    return bool(rows)
