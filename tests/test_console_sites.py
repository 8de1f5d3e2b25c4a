"""A site's days in the console: slots by pattern, a slot's places, a day closed and told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.app import Service
from bot.i18n import local_day
from storage import children
from storage.models import AuditEvent, Booking, Child, ChildBooking, OutboxMessage, Site, Slot
from tests.console import StaffBrowser, add_staff, book_resident
from tests.fakes.telegram_api import TelegramEmulator
from tests.registration_fixtures import (
    BEN_THANH,
    OTHER_SITE,
    SITE,
    add_sites,
    consenting_account,
)

CHAT = 5001
WEEKDAYS = {f"wd{n}": "1" for n in range(5)}  # Monday to Friday


async def staff_of_site(svc: Service) -> None:
    await add_staff(svc, "ward", "ward_staff", name="Chị Lan", wards=(BEN_THANH,))
    await add_staff(svc, "other", "ward_staff", name="Anh Tư", wards=(26740,))
    await add_staff(svc, "desk", "site_staff", name="Chị Mai", sites=(SITE,))


@pytest.fixture
async def client(svc: Service) -> AsyncIterator[TestClient]:
    await add_sites(svc.db, svc.clock())
    await staff_of_site(svc)
    async with TestClient(TestServer(svc.web_app)) as client:
        yield client


def today(svc: Service) -> date:
    return local_day(svc.clock())


async def slot_count(svc: Service, site: str = SITE) -> int:
    async with svc.db.read_scope() as session:
        return int(await session.scalar(select(func.count()).where(Slot.site_id == site)) or 0)


async def actions(svc: Service) -> list[AuditEvent]:
    async with svc.db.read_scope() as session:
        return list((await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all())


async def test_slots_by_pattern_once_and_bad_patterns_answered(
    client: TestClient, svc: Service
) -> None:
    officer = StaffBrowser(client)
    await officer.sign_in("ward")
    assert await officer.get(f"/console/sites/{SITE}") == 200
    assert "Thêm lịch theo mẫu" in officer.page
    first, last = today(svc) + timedelta(days=7), today(svc) + timedelta(days=20)
    weekdays = sum(1 for n in range(14) if (first + timedelta(days=n)).weekday() < 5)
    form = {"first": first.isoformat(), "last": last.isoformat(), "minutes": "60"}
    before = await slot_count(svc)
    assert (
        await officer.post(
            f"/console/sites/{SITE}/slots", starts="7h30, 13:30", capacity="40", **form, **WEEKDAYS
        )
        == 303
    )
    assert await slot_count(svc) == before + 2 * weekdays
    await officer.get(officer.location)
    assert f"Đã thêm {2 * weekdays} lịch" in officer.page
    assert (
        await officer.post(
            f"/console/sites/{SITE}/slots", starts="07:30,13:30", capacity="40", **form, **WEEKDAYS
        )
        == 303
    )
    assert officer.location.endswith(f"added=0&existing={2 * weekdays}")
    assert await slot_count(svc) == before + 2 * weekdays
    bad = [
        {"starts": "25:00", "capacity": "40", **form, **WEEKDAYS},
        {"starts": "8:00", "capacity": "0", **form, **WEEKDAYS},
        {"starts": "8:00", "capacity": "40", **form},  # no day of the week
        {"starts": "8:00", "capacity": "abc", **form, **WEEKDAYS},
        {"starts": "8:00", "capacity": "40", **form, "first": "2020-01-01", **WEEKDAYS},
        {"starts": "8:00", "capacity": "40", **form, "last": "31/02/2027", **WEEKDAYS},
        {
            "starts": "8:00",
            "capacity": "40",
            **form,
            "last": (first + timedelta(days=200)).isoformat(),
            **WEEKDAYS,
        },
        {
            "starts": ",".join(f"{h}:{m:02}" for h in range(6, 20) for m in (0, 15, 30, 45)),
            "capacity": "5",
            **form,
            "minutes": "15",
            "last": (first + timedelta(days=80)).isoformat(),
            "wd5": "1",
            "wd6": "1",
            **WEEKDAYS,
        },
    ]
    for fields in bad:
        await officer.get(f"/console/sites/{SITE}")
        assert await officer.post(f"/console/sites/{SITE}/slots", **fields) == 422, fields
        assert 'role="alert"' in officer.page
    assert await slot_count(svc) == before + 2 * weekdays
    made = [e for e in await actions(svc) if e.action == "slots_made"]
    assert [e.detail["added"] for e in made] == [2 * weekdays, 0]


async def test_scope_of_site_pages(client: TestClient, svc: Service) -> None:
    day = (today(svc) + timedelta(days=1)).isoformat()
    other = StaffBrowser(client)
    await other.sign_in("other")
    assert await other.get(f"/console/sites/{SITE}/days/{day}") == 403
    assert await other.get(f"/console/sites/{OTHER_SITE}/days/{day}") == 200
    assert await other.post(f"/console/sites/{SITE}/days/{day}/close", confirm="yes") == 403
    desk = StaffBrowser(client)
    await desk.sign_in("desk")
    assert await desk.get(f"/console/sites/{SITE}/days/{day}") == 200
    assert await desk.get(f"/console/sites/{SITE}/days/2026-02-30") == 403
    assert await desk.get(f"/console/sites/{OTHER_SITE}") == 403
    assert await slot_count(svc) == 6  # nothing was made or changed


async def test_places_never_below_bookings(client: TestClient, svc: Service) -> None:
    person = await book_resident(svc, SITE, chat=None)
    async with svc.db.read_scope() as session:
        booking = await session.scalar(select(Booking).where(Booking.person_id == person))
        assert booking is not None
        slot = await session.get(Slot, booking.slot_id)
    assert slot is not None
    day = local_day(slot.starts_at).isoformat()
    desk = StaffBrowser(client)
    await desk.sign_in("desk")
    await desk.get(f"/console/sites/{SITE}/days/{day}")
    path = f"/console/sites/{SITE}/days/{day}/capacity"
    assert await desk.post(path, slot=str(slot.id), capacity="0") == 409
    assert "đã đặt" in desk.page
    for capacity in ("-1", "abc", "10001", ""):
        assert await desk.post(path, slot=str(slot.id), capacity=capacity) == 422
    assert await desk.post(path, slot="999999", capacity="5") == 403
    assert await desk.post(path, slot=str(slot.id), capacity="1") == 303
    async with svc.db.read_scope() as session:
        changed = await session.get(Slot, slot.id)
    assert changed is not None and (changed.capacity, changed.booked) == (1, 1)
    audit = [e for e in await actions(svc) if e.action == "slot_capacity_changed"]
    assert len(audit) == 1 and audit[0].detail["before"] == 20


async def test_a_closed_day_tells_the_booked_citizen_over_telegram(
    service: Service, emulator: TelegramEmulator
) -> None:
    await add_sites(service.db, service.clock())
    await staff_of_site(service)
    person = await book_resident(service, SITE, chat=CHAT)
    await book_resident(service, SITE, chat=None, name="Lê Văn Cường")  # registered at the desk
    async with service.db.read_scope() as session:
        booking = await session.scalar(select(Booking).where(Booking.person_id == person))
        assert booking is not None
        slot = await session.get(Slot, booking.slot_id)
    assert slot is not None
    day = local_day(slot.starts_at)
    async with TestClient(TestServer(service.web_app)) as client:
        officer = StaffBrowser(client)
        await officer.sign_in("ward")
        await officer.get(f"/console/sites/{SITE}/days/{day.isoformat()}")
        assert "2 lịch hẹn sẽ bị hủy" in officer.page
        path = f"/console/sites/{SITE}/days/{day.isoformat()}/close"
        assert await officer.post(path) == 422  # not confirmed: nothing happens
        async with service.db.read_scope() as session:
            assert (await session.get(Booking, booking.id)).status == "booked"  # type: ignore[union-attr]
        assert await officer.post(path, confirm="yes") == 303
        await officer.get(officer.location)
        assert "2 lịch hẹn đã hủy, 1 người dân đã được báo" in officer.page
    (told,) = await emulator.wait_for_sent(CHAT, 1)
    assert f"lịch hẹn {booking.code} của Trần Thị Bình đã được hủy" in told["text"]
    assert (
        "Trạm Y tế phường Bến Thành" in told["text"]
        and "Trung tâm Y tế Sài Gòn" not in told["text"]
    )
    assert "Các giờ còn chỗ gần nhất" in told["text"]
    buttons = [b["text"] for row in told["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["Đặt lịch lại"]
    async with service.db.read_scope() as session:
        slots = (await session.scalars(select(Slot).where(Slot.site_id == SITE))).all()
        statuses = set((await session.scalars(select(Booking.status))).all())
    assert statuses == {"cancelled"}
    closed = [s for s in slots if local_day(s.starts_at) == day]
    assert closed and all((s.capacity, s.booked) == (0, 0) for s in closed)
    assert all(s.capacity == 20 for s in slots if local_day(s.starts_at) != day)
    (audit,) = [e for e in await actions(service) if e.action == "site_day_closed"]
    assert audit.detail == {"day": day.isoformat(), "cancelled": 2, "told": 1}


async def test_a_ward_officer_adds_and_edits_a_site_in_their_ward(
    client: TestClient, svc: Service
) -> None:
    officer = StaffBrowser(client)
    await officer.sign_in("ward")
    await officer.get(f"/console/wards/{BEN_THANH}")
    assert f'href="/console/sites/new?ward={BEN_THANH}"' in officer.page
    await officer.get(f"/console/sites/new?ward={BEN_THANH}")
    good = {
        "code": "BT-02",
        "name": "Điểm tiêm <b>Chợ</b>",
        "address": "1 Lê Lợi",
        "ward": str(BEN_THANH),
        "active": "1",
    }
    for wrong in (
        {"code": "bad code!"},
        {"code": SITE},
        {"ward": "26740"},
        {"ward": "x"},
        {"phone": "call me"},
        {"name": ""},
    ):
        assert await officer.post("/console/sites", **{**good, **wrong}) == 422, wrong
        assert 'role="alert"' in officer.page
    assert await officer.post("/console/sites", **good, phone="028 3829 1234") == 303
    assert officer.location == "/console/sites/BT-02"
    await officer.get("/console/sites/BT-02")
    assert "&lt;b&gt;Chợ&lt;/b&gt;" in officer.page and "<b>Chợ</b>" not in officer.page
    await officer.get("/console/sites/BT-02/edit")
    assert await officer.post("/console/sites/BT-02/edit", **{**good, "ward": "26740"}) == 422
    assert (
        await officer.post(
            "/console/sites/BT-02/edit",
            **{**good, "name": "Điểm tiêm Chợ", "active": "", "phone": "028 3829 1234"},
        )
        == 303
    )
    async with svc.db.read_scope() as session:
        site = await session.get(Site, "BT-02")
    assert site is not None
    assert (site.name, site.province_code, site.ward_code, site.active, site.phone) == (
        "Điểm tiêm Chợ",
        79,
        BEN_THANH,
        False,
        "028 3829 1234",
    )
    assert [e.action for e in await actions(svc) if e.subject == "site:BT-02"] == [
        "site_added",
        "site_changed",
    ]
    desk = StaffBrowser(client)
    await desk.sign_in("desk")
    assert await desk.get("/console/sites/new") == 403  # site staff do not add sites
    assert await desk.get(f"/console/sites/{SITE}/edit") == 403
    other = StaffBrowser(client)
    await other.sign_in("other")
    assert await other.get("/console/sites/BT-02/edit") == 403
    assert await other.get(f"/console/sites/new?ward={BEN_THANH}") == 200
    assert f'value="{BEN_THANH}"' not in other.page  # not their ward: not filled in


async def test_a_closed_day_cancels_its_childrens_sessions_too(
    client: TestClient, svc: Service
) -> None:
    async with svc.db.session_scope() as session:
        slot = await session.scalar(
            select(Slot).where(Slot.site_id == SITE).order_by(Slot.starts_at).limit(1)
        )
        assert slot is not None
        slot.purpose = "children"
        account = await consenting_account(session, "parent-1", channel="web", now=svc.clock())
        child = await children.add_child(
            session,
            Child(full_name="Trần Bảo Ngọc", birth_date=date(2026, 1, 5), gender="female",
                  ward_code=BEN_THANH, account_id=account.id, created_at=svc.clock()),
        )  # fmt: skip
        assert await children.book_session(session, child.id, slot, now=svc.clock())
        day = local_day(slot.starts_at)
    officer = StaffBrowser(client)
    await officer.sign_in("ward")
    await officer.get(f"/console/sites/{SITE}/days/{day.isoformat()}")
    assert (
        await officer.post(f"/console/sites/{SITE}/days/{day.isoformat()}/close", confirm="yes")
        == 303
    )
    async with svc.db.read_scope() as session:
        booked = await session.scalar(select(ChildBooking))
        closed = await session.get(Slot, slot.id)
        told = (await session.scalars(select(OutboxMessage.body))).all()
    assert booked is not None and booked.status == "cancelled"
    assert closed is not None and (closed.capacity, closed.booked) == (0, 0)
    assert any("buổi tiêm chủng của bé Trần Bảo Ngọc đã được hủy" in b["text"] for b in told)
    past = (today(svc) - timedelta(days=1)).isoformat()
    await officer.get(f"/console/sites/{SITE}/days/{past}")
    assert await officer.post(f"/console/sites/{SITE}/days/{past}/close", confirm="yes") == 422
    assert "Không thể tạm ngừng một ngày đã qua" in officer.page
