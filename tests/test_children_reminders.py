"""Children's reminders on the scheduler, with a controlled clock; booking a children's session.

A girl born on 15/10/2026 is registered on 3 December: her 2-month doses (5-in-1, oral polio,
rota) fall due on 15/12/2026, so she is reminded on 8 December (a week before) and on the 14th
(the day before) at 09:00, and on the 22nd and 14 January if they are still missing.
`Scheduler.tick()` is called by hand; replies are read from the outbox.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import Service
from bot.domain.immunisation import child_reminders, site_doses
from bot.domain.immunisation.rules import Assessment
from bot.handlers.privacy import CONSENT_VERSION
from bot.i18n import TIMEZONE
from bot.workers.jobs_table import JOB_KINDS
from bot.workers.scheduler import Scheduler
from run_bot import main
from storage import children, jobs, sites, staff
from storage.db import Database
from storage.models import (
    Account,
    AuditEvent,
    Child,
    ChildBooking,
    ChildDose,
    Job,
    OutboxMessage,
    Site,
    Slot,
)
from tests.clock import Clock
from tests.console import StaffBrowser, add_staff
from tests.registration_fixtures import SITE, add_sites
from tests.test_imports import SITES, SLOTS_HEADER, _import_sites, _import_slots
from tests.test_scheduler import news
from tests.webchat import Citizen

BORN, DUE = date(2026, 10, 15), date(2026, 12, 15)
WEEK_BEFORE, DAY_BEFORE = date(2026, 12, 8), date(2026, 12, 14)
TWO_MONTHS = "5 trong 1 (DPT-VGB-Hib) mũi 1, Bại liệt uống lần 1, Rota lần 1"


async def registered(svc: Service, clock: Clock) -> tuple[Citizen, int]:
    """The parent registers the girl over the web chat, no past dose; her id."""
    clock.set_local(10, day=date(2026, 12, 3))
    await add_sites(svc.db, clock())
    parent = Citizen(svc, "parent-r")
    await parent.consent()
    await parent.say("/themcon")
    await parent.say("Trần Bảo Ngọc")
    await parent.say("15/10/2026")
    await parent.press("Nữ")
    await parent.press("Chưa có số")
    await parent.say("Bến Thành, TP HCM")
    texts = await parent.press("Chưa tiêm / Xong")
    assert any("Với bé Trần Bảo Ngọc" in t for t in texts), texts
    async with svc.db.read_scope() as session:
        child = await session.scalar(select(Child))
    assert child is not None
    return parent, child.id


async def pending(svc: Service) -> list[tuple[datetime, str, list[str]]]:
    async with svc.db.read_scope() as session:
        rows = await session.scalars(
            select(Job)
            .where(Job.kind == child_reminders.KIND, Job.status == jobs.PENDING)
            .order_by(Job.due_at, Job.id)
        )
        return [
            (j.due_at.astimezone(TIMEZONE), j.payload["moment"], j.payload["keys"]) for j in rows
        ]


def worker(svc: Service, clock: Clock) -> Scheduler:
    return Scheduler(svc.db, JOB_KINDS, settings=svc.settings, clock=clock)


def nine(day: date) -> datetime:
    return datetime.combine(day, time(9), TIMEZONE)


async def test_reminders_a_week_and_a_day_before_never_twice(svc: Service, clock: Clock) -> None:
    parent, child_id = await registered(svc, clock)
    planned = await pending(svc)
    two_months = ["dtp:1", "opv:1", "rota:1"]
    assert planned[:4] == [
        (nine(WEEK_BEFORE), "week", [f"week:{k}" for k in two_months]),
        (nine(DAY_BEFORE), "eve", [f"eve:{k}" for k in two_months]),
        (nine(DUE + timedelta(days=7)), "late7", [f"late7:{k}" for k in two_months]),
        (nine(DUE + timedelta(days=30)), "late30", [f"late30:{k}" for k in two_months]),
    ]
    assert all(when.time() == time(9) for when, _m, _k in planned)
    scheduler = worker(svc, clock)
    clock.set_local(8, 59, day=WEEK_BEFORE)
    assert await scheduler.tick() == 0
    clock.set_local(9, day=WEEK_BEFORE)
    assert await scheduler.tick() == 1
    (reminder,) = await news(parent)
    assert reminder["text"].startswith(
        f"Còn một tuần nữa, ngày Thứ Ba, 15/12/2026, bé Trần Bảo Ngọc đến lịch tiêm: {TWO_MONTHS}."
    )
    assert [label for row in reminder["buttons"] for label, _p in row] == [
        "Đặt lịch ở trạm y tế",
        "Sổ tiêm chủng",
    ]
    assert reminder["template"] == "child_reminder"
    assert reminder["template_data"]["name"] == "Trần Bảo Ngọc"
    assert await scheduler.tick() == 0 and await news(parent) == []
    # The parent reports another dose: the plan is written again, without what was said.
    async with svc.db.session_scope() as session:
        child = await session.get(Child, child_id)
        assert child is not None
        await children.add_dose(
            session, child_id=child_id, vaccine="bcg", dose_number=1, given_on=BORN, now=clock()
        )
        await child_reminders.plan(session, child, now=clock())
    again = await pending(svc)
    assert not any(moment == "week" and when.date() == WEEK_BEFORE for when, moment, _k in again)
    assert again[0] == (nine(DAY_BEFORE), "eve", [f"eve:{k}" for k in two_months])
    clock.set_local(9, day=DAY_BEFORE)
    assert await scheduler.tick() == 1
    (eve,) = await news(parent)
    assert eve["text"].startswith("Ngày mai, Thứ Ba, 15/12/2026, bé Trần Bảo Ngọc đến lịch tiêm")
    clock.set_local(9, day=DUE + timedelta(days=7))  # still missing a week later
    assert await scheduler.tick() == 1
    (late,) = await news(parent)
    assert late["text"].startswith(
        "Bé Trần Bảo Ngọc đã đến lịch tiêm ngày Thứ Ba, 15/12/2026: " + TWO_MONTHS + ". Mũi tiêm"
    )
    assert late["buttons"][0][0][0] == "Đặt lịch ở trạm y tế"


async def test_a_dose_recorded_by_a_site_stops_its_reminders_and_sends_the_card(
    svc: Service, clock: Clock
) -> None:
    parent, child_id = await registered(svc, clock)
    async with svc.db.session_scope() as session:
        child = await session.get(Child, child_id)
        site = await session.get(Site, SITE)
        assert child is not None and site is not None
        for vaccine in ("dtp", "opv", "rota"):
            assert await site_doses.record_given(
                session,
                child,
                vaccine=vaccine,
                number=1,
                given_on=date(2026, 12, 3),
                site=site,
                actor="staff:test",
                staff_id=None,
                now=clock(),
            )
    cards = await news(parent)
    assert len(cards) == 3
    assert cards[-1]["text"] == (
        "Mũi tiêm của bé Trần Bảo Ngọc đã được ghi nhận tại Trạm Y tế phường Bến Thành. "
        "Đây là sổ tiêm đã cập nhật."
    )
    async with svc.db.read_scope() as session:
        pictures = (
            await session.scalars(
                select(OutboxMessage.image)
                .where(OutboxMessage.chat_id == "parent-r")
                .order_by(OutboxMessage.id.desc())
                .limit(3)
            )
        ).all()
    assert all(p is not None and p.startswith(b"\x89PNG") for p in pictures)
    assert len(set(pictures)) == 3  # each dose changes the card
    planned = await pending(svc)
    assert not any("dtp:1" in key for _w, _m, keys in planned for key in keys)
    assert any("dtp:2" in key for _w, _m, keys in planned for key in keys)
    scheduler = worker(svc, clock)
    clock.set_local(9, day=DAY_BEFORE)
    await scheduler.tick()
    assert await news(parent) == []  # nothing about the doses given
    async with svc.db.read_scope() as session:
        stored = (await session.scalars(select(ChildDose))).all()
        audit = (await session.scalars(select(AuditEvent))).all()
    assert {(d.vaccine, d.status, d.site_id) for d in stored} == {
        ("dtp", "given", SITE),
        ("opv", "given", SITE),
        ("rota", "given", SITE),
    }
    assert [a.action for a in audit if a.subject == f"child:{child_id}"] == [
        "child_dose_recorded"
    ] * 3
    async with svc.db.session_scope() as session:  # the same record again: nothing happens
        child = await session.get(Child, child_id)
        site = await session.get(Site, SITE)
        assert child is not None and site is not None
        assert not await site_doses.record_given(
            session,
            child,
            vaccine="dtp",
            number=1,
            given_on=date(2026, 12, 3),
            site=site,
            actor="staff:test",
            staff_id=None,
            now=clock(),
        )
    assert await news(parent) == []


async def test_a_job_held_at_night_and_none_without_consent(svc: Service, clock: Clock) -> None:
    parent, _child_id = await registered(svc, clock)
    scheduler = worker(svc, clock)
    clock.set_local(22, day=WEEK_BEFORE)  # the process was down all day: caught up at night
    assert await scheduler.tick() == 1 and await news(parent) == []  # held till morning
    clock.set_local(7, day=WEEK_BEFORE + timedelta(days=1))
    assert await scheduler.tick() == 1
    (held,) = await news(parent)
    assert held["text"].startswith("Còn một tuần nữa")
    async with svc.db.session_scope() as session:
        account = await session.scalar(select(Account).where(Account.chat_id == "parent-r"))
        assert account is not None
        account.consent_version = None
    clock.set_local(9, day=DAY_BEFORE)
    assert await scheduler.tick() == 1 and await news(parent) == []


async def test_a_reminder_books_a_children_s_session(svc: Service, clock: Clock) -> None:
    parent, child_id = await registered(svc, clock)
    start = datetime.combine(DUE, time(8), TIMEZONE)
    async with svc.db.session_scope() as session:
        session.add(
            Slot(
                site_id=SITE,
                starts_at=start,
                ends_at=start + timedelta(hours=2),
                capacity=1,
                booked=0,
                purpose=children.CHILDREN_SESSION,
            )
        )
    async with svc.db.read_scope() as session:  # adults do not see it
        slots = await sites.open_slots(
            session,
            site_id=SITE,
            since=start - timedelta(hours=1),
            until=start + timedelta(hours=1),
        )
        assert slots == []
    scheduler = worker(svc, clock)
    clock.set_local(9, day=WEEK_BEFORE)
    assert await scheduler.tick() == 1
    await news(parent)
    texts = await parent.press("Đặt lịch ở trạm y tế")
    assert any("Các buổi tiêm chủng cho trẻ em tại Phường Bến Thành" in t for t in texts), texts
    (label,) = parent.buttons()
    assert "15/12/2026" in label and "Trạm Y tế phường Bến Thành" in label
    texts = await parent.press(label)
    assert any(t.startswith("Đã đặt lịch: bé Trần Bảo Ngọc") for t in texts), texts
    async with svc.db.read_scope() as session:
        booking = await session.scalar(select(ChildBooking))
        slot = await session.scalar(select(Slot).where(Slot.purpose == children.CHILDREN_SESSION))
    assert booking is not None and booking.child_id == child_id and booking.status == "booked"
    assert slot is not None and slot.booked == 1
    clock.set_local(9, day=DAY_BEFORE)  # booked: the day-before reminder has nothing to add
    assert await scheduler.tick() == 1 and await news(parent) == []
    other = Citizen(svc, "stranger")  # someone else's child cannot be booked
    await other.consent()
    await svc.dispatcher.handle(other.incoming(payload=f"child:book:{child_id}"))
    assert [b["text"] for b in await other.replies()] == ["Nút này không còn hiệu lực."]


def test_cli_records_a_site_s_dose(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["children", *argv], clock=Clock())
        out, err = capsys.readouterr()
        return code, out.strip(), err.strip()

    assert run("due", "--ward", "26743")[0] == 0  # the database is migrated
    child_id = asyncio.run(_seed_parent_and_child(env))
    record = ("record", "--child", str(child_id), "--vaccine", "dtp", "--dose", "1")
    where = ("--day", "03/12/2026", "--site", SITE)
    assert run(*record, *where) == (0, f"child #{child_id}: dtp dose 1 recorded", "")
    assert run(*record, *where)[:2] == (
        0,
        f"child #{child_id}: dtp dose 1 already recorded, nothing changed",
    )
    assert run(*record, "--day", "02/12/2026", "--site", SITE)[::2] == (1, "error: conflict")
    assert run(*record, "--day", "01/01/2030", "--site", SITE)[0] == 1  # the future
    wrong = ("record", "--child", str(child_id), "--vaccine", "flu", "--dose", "1", *where)
    assert run(*wrong)[::2] == (1, "error: unknown_dose")
    assert run("record", "--child", "999", "--vaccine", "dtp", "--dose", "1", *where)[::2] == (
        2,
        "error: no such child",
    )
    pictures, actors = asyncio.run(_sent_and_audited(env))
    assert len(pictures) == 1 and pictures[0] is not None and pictures[0].startswith(b"\x89PNG")
    assert actors == [("cli", "child_dose_recorded", f"child:{child_id}")]


async def _seed_parent_and_child(url: str) -> int:
    db = Database(url)
    try:
        async with db.session_scope() as session:
            account = Account(
                channel="web", chat_id="cli-parent", locale="vi", consent_version=CONSENT_VERSION
            )
            session.add(account)
            session.add(
                Site(
                    id=SITE,
                    name="Trạm Y tế phường Bến Thành",
                    address="186 Lê Thánh Tôn",
                    province_code=79,
                    ward_code=26743,
                )
            )
            await session.flush()
            child = await children.add_child(
                session,
                Child(
                    account_id=account.id,
                    full_name="Trần Bảo Ngọc",
                    birth_date=BORN,
                    gender="female",
                    ward_code=26743,
                    created_at=datetime(2026, 12, 1, tzinfo=TIMEZONE),
                ),
            )
            return child.id
    finally:
        await db.dispose()


async def _sent_and_audited(url: str) -> tuple[list[bytes | None], list[tuple[str, str, str]]]:
    db = Database(url)
    try:
        async with db.read_scope() as session:
            pictures = await session.scalars(
                select(OutboxMessage.image).where(OutboxMessage.chat_id == "cli-parent")
            )
            audit = await session.execute(
                select(AuditEvent.actor, AuditEvent.action, AuditEvent.subject)
            )
            return list(pictures), [(actor, action, subject) for actor, action, subject in audit]
    finally:
        await db.dispose()


async def test_sites_mark_slots_as_children_s_sessions_in_the_import(database: Database) -> None:
    await _import_sites(database, SITES)
    text = (
        SLOTS_HEADER.strip() + ",children\n"
        "hcm-benthanh,2026-12-01,07:30,08:30,30,1\n"
        "hcm-benthanh,2026-12-01,08:30,09:30,30,\n"
        "hcm-benthanh,2026-12-01,09:30,10:30,30,maybe\n"
    )
    report = await _import_slots(database, text)
    assert report.added == 2 and [line for line, _why in report.problems] == [4]
    async with database.read_scope() as session:
        slots = (await session.scalars(select(Slot).order_by(Slot.starts_at))).all()
    assert [s.purpose for s in slots] == [children.CHILDREN_SESSION, None]
    changed = SLOTS_HEADER.strip() + ",children\nhcm-benthanh,2026-12-01,07:30,08:30,30,0\n"
    assert (await _import_slots(database, changed)).updated == 1
    async with database.read_scope() as session:
        slots = (await session.scalars(select(Slot).order_by(Slot.starts_at))).all()
    assert [s.purpose for s in slots] == [None, None]
    plain = SLOTS_HEADER + "hcm-benthanh,2026-12-01,07:30,08:30,30\n"  # no column: ordinary
    assert (await _import_slots(database, plain)).unchanged == 1


async def test_site_staff_record_a_child_s_dose_in_the_chat(svc: Service, clock: Clock) -> None:
    parent, child_id = await registered(svc, clock)
    async with svc.db.session_scope() as session:
        await staff.add_staff(
            session,
            channel="web",
            user_id="site-1",
            role="site_staff",
            name="Anh Minh",
            wards=[],
            sites=[SITE],
            now=clock(),
        )
    nurse = Citizen(svc, "site-1")
    await nurse.consent()
    (ask,) = await nurse.say("/tiemtre")
    assert ask.startswith("Bé nào? Bạn gửi số thứ tự của bé")
    assert await nurse.say("#999") == [
        "Không tìm thấy bé nào với “#999”. Bạn vui lòng kiểm tra và gửi lại."
    ]
    (shown,) = await nurse.say(f"#{child_id}")
    assert shown.startswith(f"Bé #{child_id}: Trần Bảo Ngọc, sinh Thứ Năm, 15/10/2026.")
    offered = nurse.buttons()
    assert "5 trong 1 (DPT-VGB-Hib) mũi 1" in offered
    assert "Sởi mũi 1 (9 tháng)" not in offered  # not before 9 months
    await news(parent)
    (done, again) = await nurse.press("5 trong 1 (DPT-VGB-Hib) mũi 1")
    assert done == (
        f"Đã ghi nhận cho bé #{child_id} Trần Bảo Ngọc: 5 trong 1 (DPT-VGB-Hib) mũi 1, hôm nay "
        "tại Trạm Y tế phường Bến Thành. Đã gửi sổ tiêm cập nhật cho cha mẹ."
    )
    assert again.startswith("Bé nào?")
    (card,) = await news(parent)
    assert card["text"].startswith("Mũi tiêm của bé Trần Bảo Ngọc đã được ghi nhận")
    await nurse.say(f"#{child_id}")
    assert "5 trong 1 (DPT-VGB-Hib) mũi 1" not in nurse.buttons()
    async with svc.db.read_scope() as session:
        (dose,) = (await session.scalars(select(ChildDose))).all()
        trail = (await session.scalars(select(AuditEvent))).all()
    assert (dose.vaccine, dose.status, dose.site_id, dose.given_on) == (
        "dtp",
        "given",
        SITE,
        date(2026, 12, 3),
    )
    assert [a.actor for a in trail if a.action == "child_dose_recorded"] == [
        "web:site-1 Anh Minh (site_staff)"
    ]
    (unknown,) = await parent.say("/tiemtre")  # a parent is not site staff
    assert unknown.startswith("Xin lỗi, tôi không nhận ra lệnh /tiemtre.")


def test_far_days_are_planned_as_they_come_near() -> None:
    now = nine(date(2026, 12, 3))
    found = child_reminders.assessment(
        Child(birth_date=BORN, account_id=1, id=1), [], date(2026, 12, 3)
    )
    days = {job.payload["due"] for job in child_reminders.planned(1, found, now=now, sent=set())}
    assert "2027-10-15" in days and "2033-10-15" not in days  # Td at 7 years: later
    td = next(s for s in found.doses if s.dose.vaccine == "td")
    alone = Assessment(BORN, date(2026, 12, 3), (td,), ())  # nothing else is awaited
    (week, *_rest) = child_reminders.planned(1, alone, now=now, sent=set())
    assert (week.payload["due"], week.payload["moment"]) == ("2033-10-15", "week")


async def test_erasing_the_parent_frees_the_child_s_place(svc: Service, clock: Clock) -> None:
    _parent, child_id = await registered(svc, clock)
    start = datetime.combine(DUE, time(8), TIMEZONE)
    async with svc.db.session_scope() as session:
        slot = Slot(
            site_id=SITE,
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            capacity=1,
            booked=0,
            purpose=children.CHILDREN_SESSION,
        )
        session.add(slot)
        await session.flush()
        assert await children.book_session(session, child_id, slot, now=clock()) is not None
        assert await children.book_session(session, child_id, slot, now=clock()) is None  # full
    async with svc.db.session_scope() as session:
        child = await session.get(Child, child_id)
        assert child is not None and child.account_id is not None
        await children.erase_for_account(session, child.account_id)
    async with svc.db.read_scope() as session:
        freed = await session.scalar(select(Slot).where(Slot.purpose == children.CHILDREN_SESSION))
        left = (await session.scalars(select(ChildBooking))).all()
    assert freed is not None and freed.booked == 0
    assert [b.status for b in left] == []  # the child had no confirmed dose: gone with it


async def test_site_staff_record_a_child_s_dose_at_the_console_desk(
    svc: Service, clock: Clock
) -> None:
    parent, child_id = await registered(svc, clock)
    await add_staff(svc, "desk", "site_staff", name="Chị Mai", sites=(SITE,))
    async with TestClient(TestServer(svc.web_app)) as client:
        desk = StaffBrowser(client)
        await desk.sign_in("desk")
        assert await desk.get(f"/console/desk/{SITE}?q=%23{child_id}") == 303
        page = desk.location
        assert page == f"/console/desk/{SITE}/children/{child_id}"
        await desk.get(page)
        assert "Trần Bảo Ngọc" in desk.page
        assert "Đã tiêm hôm nay: 5 trong 1 (DPT-VGB-Hib) mũi 1" in desk.page
        assert "Sởi mũi 1" not in desk.page  # not before 9 months
        assert await desk.post(f"{page}/dose", vaccine="measles", number="1") == 422
        await news(parent)
        assert await desk.post(f"{page}/dose", vaccine="dtp", number="1") == 303
        await desk.get(desk.location)
        assert "Cha mẹ đã được gửi sổ tiêm mới" in desk.page
        assert "Đã tiêm hôm nay: 5 trong 1 (DPT-VGB-Hib) mũi 1" not in desk.page
        assert await desk.get(f"/console/desk/{SITE}/children/999999") == 403
    (card,) = await news(parent)
    assert card["text"].startswith("Mũi tiêm của bé Trần Bảo Ngọc đã được ghi nhận")
    async with svc.db.read_scope() as session:
        (dose,) = (await session.scalars(select(ChildDose))).all()
    assert (dose.vaccine, dose.status, dose.site_id) == ("dtp", "given", SITE)
