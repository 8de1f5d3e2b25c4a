"""The scheduler with a controlled clock: reminders on time, never early, never twice.

The clock is set to fixed Vietnam times (`at`); `Scheduler.tick()` is called by hand, so
nothing runs in the background.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from bot.app import Service
from bot.config import Settings
from bot.domain import booking as booking_service
from bot.domain import reminders
from bot.domain.jobs import JobKind, Run, Verdict, quiet_until
from bot.i18n import TIMEZONE
from bot.workers.jobs_table import JOB_KINDS
from bot.workers.scheduler import LEASE, Scheduler
from storage import jobs, outbox
from storage.db import Database
from storage.jobs import NewJob
from storage.models import Account, Booking, Job, OutboxMessage, Slot
from storage.outbox import NewMessage
from tests.conftest import Clock
from tests.registration_fixtures import add_sites, book_first, fill_person, give_first_dose
from tests.webchat import Citizen

TODAY = date(2026, 12, 7)  # a Monday; the appointment is on Tuesday 8 December


def at(clock: Clock, day: date, hour: int, minute: int = 0) -> datetime:
    """Set the clock to `hour:minute` in Vietnam on `day`; return that moment."""
    return clock.set_local(hour, minute, day=day)


def scheduler(svc: Service, clock: Clock, **kinds: JobKind) -> Scheduler:
    return Scheduler(svc.db, {**JOB_KINDS, **kinds}, settings=svc.settings, clock=clock)


async def booked(svc: Service, clock: Clock) -> tuple[Citizen, Booking, Slot]:
    """A citizen with an appointment on Tuesday 08:00 (booked on Monday at 10:00)."""
    at(clock, TODAY, 10)
    await add_sites(svc.db, clock())
    citizen = Citizen(svc)
    await citizen.consent()
    await fill_person(citizen)
    await book_first(citizen)
    await news(citizen)
    async with svc.db.read_scope() as session:
        booking = await session.scalar(select(Booking))
        assert booking is not None
        slot = await session.get(Slot, booking.slot_id)
        assert slot is not None
    assert slot.starts_at == datetime.combine(TODAY + timedelta(days=1), time(8), TIMEZONE)
    return citizen, booking, slot


async def news(citizen: Citizen) -> list[dict[str, Any]]:
    """What the scheduler queued for the citizen since last read (the sender is not running)."""
    async with citizen.svc.db.read_scope() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.chat_id == citizen.chat_id, OutboxMessage.id > citizen.after)
                .order_by(OutboxMessage.id)
            )
        ).all()
    if rows:
        citizen.after = rows[-1].id
        citizen.last = [row.body for row in rows]
    return [row.body for row in rows]


async def pending(svc: Service) -> list[tuple[str, datetime]]:
    async with svc.db.read_scope() as session:
        rows = await session.scalars(
            select(Job).where(Job.status == jobs.PENDING).order_by(Job.due_at)
        )
        return [(job.kind, job.due_at.astimezone(TIMEZONE)) for job in rows]


# ---------------------------------------------------------------- appointment reminders


async def test_reminders_come_on_time_never_early_never_twice(svc: Service, clock: Clock) -> None:
    citizen, booking, _slot = await booked(svc, clock)
    tuesday = TODAY + timedelta(days=1)
    assert await pending(svc) == [
        ("appointment_reminder", datetime.combine(TODAY, time(18), TIMEZONE)),
        ("appointment_reminder", datetime.combine(tuesday, time(6), TIMEZONE)),
        ("no_show", datetime.combine(tuesday, time(20), TIMEZONE)),
    ]
    worker = scheduler(svc, clock)
    at(clock, TODAY, 17, 59)
    assert await worker.tick() == 0 and await news(citizen) == []
    at(clock, TODAY, 18)
    assert await worker.tick() == 1
    (evening,) = await news(citizen)
    assert evening["text"].startswith("Nhắc lịch: ngày mai Nguyen Van An có lịch tiêm chủng.")
    assert f"Mã lịch hẹn: {booking.code}" in evening["text"]
    assert "vào Thứ Ba, 08/12/2026 lúc 08:00" in evening["text"]
    assert "căn cước công dân" in evening["text"]
    # For platforms that carry it outside a conversation only as a template (Zalo):
    assert evening["template"] == "reminder"
    assert evening["template_data"]["name"] == "Nguyen Van An"
    assert evening["template_data"]["code"] == booking.code
    assert evening["template_data"]["time"] == "Thứ Ba, 08/12/2026 lúc 08:00"
    assert [label for row in evening["buttons"] for label, _ in row] == [
        "Tôi sẽ đến",
        "Đổi lịch",
        "Hủy lịch",
    ]
    assert await worker.tick() == 0 and await news(citizen) == []  # never twice

    at(clock, tuesday, 5, 59)
    assert await worker.tick() == 0
    at(clock, tuesday, 6)  # two hours before, but in the quiet hours: held until 07:00
    assert await worker.tick() == 1 and await news(citizen) == []
    at(clock, tuesday, 6, 59)
    assert await worker.tick() == 0
    at(clock, tuesday, 7)
    assert await worker.tick() == 1
    (soon,) = await news(citizen)
    assert soon["text"].startswith("Nhắc lịch: hôm nay Nguyen Van An có lịch tiêm chủng.")

    citizen.last = [soon]
    assert (await citizen.press("Tôi sẽ đến"))[0].startswith(
        "Cảm ơn bạn! Hẹn gặp Nguyen Van An vào Thứ Ba, 08/12/2026"
    )
    async with svc.db.read_scope() as session:
        confirmed = await session.get(Booking, booking.id)
        assert confirmed is not None and confirmed.confirmed_at is not None


async def test_a_missed_appointment_is_marked_and_a_new_one_offered_once(
    svc: Service, clock: Clock
) -> None:
    citizen, booking, _slot = await booked(svc, clock)
    worker = scheduler(svc, clock)
    at(clock, TODAY + timedelta(days=1), 20)
    assert await worker.tick() == 3  # caught up: the reminders collapse into the no-show
    (missed,) = await news(citizen)
    assert missed["text"].startswith("Nguyen Van An đã lỡ lịch tiêm tại Trạm Y tế phường Bến")
    async with svc.db.read_scope() as session:
        stored = await session.get(Booking, booking.id)
        assert stored is not None and stored.status == "missed"
    citizen.last = [missed]
    again = await citizen.press("Đặt lịch mới")  # dose 1 again: the screening comes first
    assert "Nguyen Van An" in again[-1] and "1/" in again[-1]
    assert "Không" in citizen.buttons()
    assert await worker.tick() == 0


async def test_a_dose_recorded_silences_the_no_show_check(svc: Service, clock: Clock) -> None:
    citizen, _booking, slot = await booked(svc, clock)
    at(clock, TODAY + timedelta(days=1), 8, 30)
    day = slot.starts_at.astimezone(TIMEZONE).date()
    await give_first_dose(svc, clock(), day, slot.site_id, with_booking=True)
    await news(citizen)
    at(clock, TODAY + timedelta(days=1), 20)
    await scheduler(svc, clock).tick()
    assert await news(citizen) == []


async def test_cancelling_or_moving_updates_the_reminders(svc: Service, clock: Clock) -> None:
    _citizen, booking, slot = await booked(svc, clock)
    async with svc.db.session_scope() as session:
        stored = await session.get(Booking, booking.id)
        later = await session.scalar(
            select(Slot).where(Slot.site_id == slot.site_id, Slot.starts_at > slot.starts_at)
        )
        assert stored is not None and later is not None
        assert await booking_service.move(session, stored, slot_id=later.id, now=clock())
    wednesday = TODAY + timedelta(days=2)
    assert later.starts_at.astimezone(TIMEZONE).date() in (TODAY + timedelta(days=1), wednesday)
    planned = await pending(svc)
    assert len(planned) == 3
    assert planned[1] == (
        "appointment_reminder",
        later.starts_at.astimezone(TIMEZONE) - timedelta(hours=2),
    )
    async with svc.db.session_scope() as session:
        stored = await session.get(Booking, booking.id)
        assert stored is not None
        assert await booking_service.cancel(session, stored, now=clock())
    assert await pending(svc) == []


# ---------------------------------------------------------------- the scheduler itself


def _note(text: str) -> JobKind:
    """A kind that writes one outbox row per job to the web chat "worker-test"."""

    async def fire(run: Run) -> Verdict:
        body = {"text": f"{text} {run.job.payload.get('n', '')}".strip()}
        await outbox.enqueue(run.session, [NewMessage("web", "worker-test", body)], now=run.now)
        return Verdict.DONE

    return JobKind(fire)


async def _due(db: Database, count: int, due: datetime, kind: str = "note", **extra: Any) -> None:
    async with db.session_scope() as session:
        await jobs.schedule(
            session, [NewJob(kind, due, {"n": n, **extra}) for n in range(count)], now=due
        )


async def _notes(db: Database) -> list[str]:
    async with db.read_scope() as session:
        rows = await session.scalars(
            select(OutboxMessage.body).where(OutboxMessage.chat_id == "worker-test")
        )
        return [body["text"] for body in rows]


async def test_quiet_hours_hold_non_urgent_jobs_until_seven(svc: Service, clock: Clock) -> None:
    night = at(clock, TODAY, 22)
    await _due(svc.db, 1, night, "note")
    await _due(svc.db, 1, night, "alarm")
    worker = scheduler(
        svc, clock, note=_note("note"), alarm=JobKind(_note("alarm").handler, urgent=True)
    )
    await worker.tick()
    assert await _notes(svc.db) == ["alarm 0"]  # urgent: not held
    at(clock, TODAY + timedelta(days=1), 6, 59)
    assert await worker.tick() == 0
    at(clock, TODAY + timedelta(days=1), 7)
    await worker.tick()
    assert sorted(await _notes(svc.db)) == ["alarm 0", "note 0"]


def test_quiet_hours_boundaries(settings: Settings) -> None:
    def local(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), TIMEZONE)

    morning = local(TODAY, 7)
    assert quiet_until(local(TODAY, 20, 59), settings) is None
    assert quiet_until(local(TODAY, 21), settings) == morning + timedelta(days=1)
    assert quiet_until(local(TODAY, 3), settings) == morning
    assert quiet_until(local(TODAY, 7), settings) is None
    off = Settings(quiet_start=time(0), quiet_end=time(0))
    assert quiet_until(local(TODAY, 3), off) is None


async def test_a_claim_whose_worker_died_is_fired_once_by_another(
    svc: Service, clock: Clock
) -> None:
    now = at(clock, TODAY, 10)
    await _due(svc.db, 3, now)
    async with svc.db.session_scope() as session:  # worker A claims, then dies before firing
        claimed = await jobs.claim_due(
            session, now=now, worker="A", lease_until=now + LEASE, limit=10
        )
    assert len(claimed) == 3
    b = scheduler(svc, clock, note=_note("note"))
    assert await b.tick() == 0  # A's lease still holds
    clock.advance(LEASE + timedelta(seconds=1))
    assert await b.tick() == 3
    assert sorted(await _notes(svc.db)) == ["note 0", "note 1", "note 2"]
    async with svc.db.session_scope() as session:  # A comes back too late: nothing happens
        assert not await jobs.settle_many(session, [claimed[0].id], "done", worker="A", now=now)
    assert await b.tick() == 0 and len(await _notes(svc.db)) == 3


async def test_two_workers_fire_a_thousand_jobs_exactly_once(
    svc: Service, clock: Clock, settings: Settings
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("several scheduler processes need PostgreSQL; on SQLite one process runs it")
    now = at(clock, TODAY, 10)
    await _due(svc.db, 1000, now)
    second_db = Database(settings.database_url)  # a second process: its own connections
    try:
        workers = [
            scheduler(svc, clock, note=_note("note")),
            Scheduler(second_db, {"note": _note("note")}, settings=svc.settings, clock=clock),
        ]

        async def drain(worker: Scheduler) -> int:
            fired = 0
            while claimed := await worker.tick():
                fired += claimed
            return fired

        counts = await asyncio.gather(*(drain(worker) for worker in workers))
    finally:
        await second_db.dispose()
    notes = await _notes(svc.db)
    assert len(notes) == 1000 and len(set(notes)) == 1000  # each fired exactly once
    assert sum(counts) == 1000 and all(counts), counts  # both workers took a share
    async with svc.db.read_scope() as session:
        left = await session.scalar(
            select(func.count()).select_from(Job).where(Job.status != jobs.DONE)
        )
    assert left == 0


async def test_a_job_of_an_unknown_kind_is_skipped_not_retried(svc: Service, clock: Clock) -> None:
    now = at(clock, TODAY, 10)
    await _due(svc.db, 1, now, "retired_kind")
    worker = scheduler(svc, clock)
    assert await worker.tick() == 1
    assert await worker.tick() == 0
    async with svc.db.read_scope() as session:
        assert await session.scalar(select(Job.status)) == jobs.SKIPPED


async def test_a_failing_job_does_not_hold_back_the_others(svc: Service, clock: Clock) -> None:
    now = at(clock, TODAY, 10)
    await _due(svc.db, 2, now)
    await _due(svc.db, 1, now, "broken")

    async def broken(run: Run) -> Verdict:
        raise RuntimeError("boom")

    worker = scheduler(svc, clock, note=_note("note"), broken=JobKind(broken))
    assert await worker.tick() == 3
    assert sorted(await _notes(svc.db)) == ["note 0", "note 1"]
    async with svc.db.read_scope() as session:
        statuses = sorted((await session.scalars(select(Job.status))).all())
    assert statuses == ["done", "done", "pending"]  # tried again when its lease runs out


# ---------------------------------------------------------------- next dose


async def test_the_next_dose_is_offered_on_its_day_then_after_7_and_21_days(
    svc: Service, clock: Clock
) -> None:
    citizen, _booking, slot = await booked(svc, clock)
    given = TODAY + timedelta(days=1)
    at(clock, given, 8, 30)
    await give_first_dose(svc, clock(), given, slot.site_id, with_booking=True)
    await news(citizen)
    worker = scheduler(svc, clock)
    first_day = given + timedelta(days=56)  # AstraZeneca: 8 weeks
    invitations: list[str] = []
    for day in (first_day, first_day + timedelta(days=7), first_day + timedelta(days=21)):
        at(clock, day, 8, 59)
        await worker.tick()
        assert await news(citizen) == []
        at(clock, day, 9)
        await worker.tick()
        (invitation,) = await news(citizen)
        invitations.append(invitation["text"])
        assert [lb for row in invitation["buttons"] for lb, _ in row] == ["Đặt lịch tiêm mũi 2"]
    assert invitations[0] == (
        "Nguyen Van An đã có thể tiêm mũi 2. Bạn hãy đặt lịch tại điểm tiêm gần nhà, chỉ mất "
        "một phút."
    )
    at(clock, first_day + timedelta(days=60), 9)
    await worker.tick()
    assert await news(citizen) == []  # three times, then it stops
    assert await pending(svc) == []


async def test_held_by_the_quiet_hours_the_reminders_still_collapse(
    svc: Service, clock: Clock
) -> None:
    citizen, _booking, _slot = await booked(svc, clock)
    worker = scheduler(svc, clock)
    at(clock, TODAY, 22)  # down since 17:00: the evening reminder is late and quiet hours began
    assert await worker.tick() == 1 and await news(citizen) == []
    tuesday = TODAY + timedelta(days=1)
    at(clock, tuesday, 6)
    assert await worker.tick() == 1 and await news(citizen) == []  # the 06:00 one, held too
    at(clock, tuesday, 7)
    assert await worker.tick() == 2
    (only,) = await news(citizen)  # one message, worded for the day it is read
    assert only["text"].startswith("Nhắc lịch: hôm nay Nguyen Van An có lịch tiêm chủng.")


async def test_moved_reminders_follow_the_new_time_and_the_old_one_stays_silent(
    svc: Service, clock: Clock
) -> None:
    citizen, booking, slot = await booked(svc, clock)
    async with svc.db.session_scope() as session:
        stored = await session.get(Booking, booking.id)
        later = await session.scalar(
            select(Slot)
            .where(
                Slot.site_id == slot.site_id, Slot.starts_at > slot.starts_at + timedelta(hours=20)
            )
            .order_by(Slot.starts_at)
        )
        assert stored is not None and later is not None
        assert await booking_service.move(session, stored, slot_id=later.id, now=clock())
    wednesday = TODAY + timedelta(days=2)
    assert later.starts_at == datetime.combine(wednesday, time(8), TIMEZONE)
    worker = scheduler(svc, clock)
    at(clock, TODAY, 18)  # the old evening reminder's time
    await worker.tick()
    assert await news(citizen) == []
    at(clock, TODAY + timedelta(days=1), 18)
    await worker.tick()
    (evening,) = await news(citizen)
    assert "Thứ Tư, 09/12/2026 lúc 08:00" in evening["text"]


async def test_no_reminder_after_consent_is_withdrawn(svc: Service, clock: Clock) -> None:
    citizen, _booking, _slot = await booked(svc, clock)
    async with svc.db.session_scope() as session:
        account = await session.scalar(select(Account))
        assert account is not None
        account.consent_version = None
    at(clock, TODAY, 18)
    await scheduler(svc, clock).tick()
    assert await news(citizen) == []


async def test_a_late_dose_turns_a_missed_appointment_into_an_attended_one(
    svc: Service, clock: Clock
) -> None:
    _citizen, booking, slot = await booked(svc, clock)
    tuesday = TODAY + timedelta(days=1)
    at(clock, tuesday, 20)
    await scheduler(svc, clock).tick()
    at(clock, tuesday, 21, 30)  # the evening shift's doses come in after the check
    await give_first_dose(svc, clock(), tuesday, slot.site_id)
    async with svc.db.read_scope() as session:
        stored = await session.get(Booking, booking.id)
        assert stored is not None and stored.status == "attended"


async def test_imported_old_doses_do_not_flood_people_with_invitations(
    svc: Service, clock: Clock
) -> None:
    _citizen, _booking, _slot = await booked(svc, clock)
    at(clock, TODAY, 10)
    await give_first_dose(svc, clock(), TODAY - timedelta(days=200), None)  # dose 2 due for months
    assert [kind for kind, _due in await pending(svc)].count("next_dose") == 0


async def test_bookings_made_before_the_scheduler_get_their_reminders(
    svc: Service, clock: Clock
) -> None:
    _citizen, _booking, _slot = await booked(svc, clock)
    async with svc.db.session_scope() as session:  # as if booked before this version
        await session.execute(delete(Job))
        assert await reminders.backfill(session, now=clock()) == 1
        assert await reminders.backfill(session, now=clock()) == 0  # once
    assert [kind for kind, _due in await pending(svc)] == [
        "appointment_reminder",
        "appointment_reminder",
        "no_show",
    ]
