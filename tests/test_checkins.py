"""Post-vaccination check-ins (issue 16.2): day 1 and day 7, three answers, counted for staff."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select, update

from bot.app import Service
from bot.cli import reactions_report
from bot.i18n import TIMEZONE
from storage import checkins, jobs
from storage.models import Account, CheckIn, Job, Reaction, Site
from tests.conftest import Clock
from tests.registration_fixtures import SITE, add_sites, book_first, fill_person, give_first_dose
from tests.test_scheduler import news, scheduler
from tests.webchat import Citizen

GIVEN = date(2026, 12, 8)  # a Tuesday
FINE, MILD, HELP = "Bình thường, khỏe", "Có triệu chứng nhẹ", "Cần giúp đỡ"
DAY_1 = "Nguyen Van An thấy thế nào sau mũi tiêm AstraZeneca (Vaxzevria) hôm qua?"
DAY_7 = "Một tuần sau mũi tiêm AstraZeneca (Vaxzevria), Nguyen Van An thấy thế nào?"
SITE_PHONE = "028 3829 1234"


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), TIMEZONE)


async def vaccinated(svc: Service, clock: Clock) -> Citizen:
    """A registered citizen given dose 1 at the site on Tuesday 09:00 (nothing read since)."""
    clock.set(local(GIVEN - timedelta(days=1), 10))
    await add_sites(svc.db, clock())
    async with svc.db.session_scope() as session:
        await session.execute(update(Site).where(Site.id == SITE).values(phone=SITE_PHONE))
    citizen = Citizen(svc)
    await citizen.consent()
    await fill_person(citizen)
    await book_first(citizen)
    clock.set(local(GIVEN, 9))
    await give_first_dose(svc, clock(), GIVEN, SITE, with_booking=True)
    await news(citizen)
    return citizen


async def checkin_jobs(svc: Service) -> list[tuple[datetime, str]]:
    async with svc.db.read_scope() as session:
        rows = await session.scalars(
            select(Job).where(Job.kind == "checkin", Job.status == jobs.PENDING).order_by(Job.id)
        )
        return [(job.due_at.astimezone(TIMEZONE), str(job.status)) for job in rows]


async def test_asked_on_day_1_and_day_7_and_the_answers_are_counted(
    svc: Service, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    citizen = await vaccinated(svc, clock)
    week = GIVEN + timedelta(days=7)
    assert [due for due, _status in await checkin_jobs(svc)] == [
        local(GIVEN + timedelta(days=1), 10),
        local(week, 10),
    ]
    worker = scheduler(svc, clock)
    clock.set(local(GIVEN + timedelta(days=1), 9, 59))
    await worker.tick()
    assert await news(citizen) == []  # never early
    clock.set(local(GIVEN + timedelta(days=1), 10))
    await worker.tick()
    (question,) = await news(citizen)
    assert question["text"].startswith(DAY_1) and "/tathoitham" in question["text"]
    assert citizen.buttons() == [FINE, MILD, HELP]
    (mild,) = await citizen.press(MILD)
    assert "thường tự hết sau 1–2 ngày" in mild and SITE_PHONE in mild
    assert citizen.buttons() == ["Báo phản ứng sau tiêm"]
    await worker.tick()
    assert await news(citizen) == []  # asked once

    clock.set(local(week, 10))
    await worker.tick()
    (question,) = await news(citizen)
    assert question["text"].startswith(DAY_7)
    help_text, what = await citizen.press(HELP)
    assert "115" in help_text and SITE_PHONE in help_text
    assert what.startswith("Bạn gặp triệu chứng gì?")  # the report, about that dose
    await citizen.press("Sốt")
    await citizen.press("Hôm nay")
    await citizen.press("Vừa: cần nghỉ ngơi")
    async with svc.db.read_scope() as session:
        report = await session.scalar(select(Reaction))
        asked = list(await session.scalars(select(CheckIn).order_by(CheckIn.day)))
        counted = await checkins.counts(session)
    assert report is not None and report.vaccination_id == asked[0].vaccination_id
    assert [(c.day, c.answer) for c in asked] == [(1, "mild"), (7, "help")]
    assert [(c.site_id, c.product, c.asked, c.fine, c.mild, c.help) for c in counted] == [
        (SITE, "astrazeneca", 2, 0, 1, 1)
    ]
    assert await reactions_report.run(None, svc) == 0
    printed = capsys.readouterr().out
    assert "check-ins" in printed and "BT-01" in printed


async def test_a_later_press_changes_the_answer_and_fine_is_thanked(
    svc: Service, clock: Clock
) -> None:
    citizen = await vaccinated(svc, clock)
    clock.set(local(GIVEN + timedelta(days=1), 10))
    await scheduler(svc, clock).tick()
    await news(citizen)
    asked = list(citizen.last)
    (thanks,) = await citizen.press(FINE)
    assert thanks.startswith("Thật tốt quá.")
    citizen.last = asked
    await citizen.press(MILD)
    async with svc.db.read_scope() as session:
        (counted,) = await checkins.counts(session)
    assert (counted.asked, counted.fine, counted.mild, counted.unanswered) == (1, 0, 1, 0)


async def test_quiet_hours_hold_the_question_until_morning(svc: Service, clock: Clock) -> None:
    citizen = await vaccinated(svc, clock)
    worker = scheduler(svc, clock)
    day_1 = GIVEN + timedelta(days=1)
    clock.set(local(day_1, 21, 30))  # the scheduler was down from 10:00
    await worker.tick()  # the appointment's reminders are moot (attended); the question waits
    assert await news(citizen) == []
    clock.set(local(day_1 + timedelta(days=1), 7))
    await worker.tick()
    (question,) = await news(citizen)
    assert question["text"].startswith(DAY_1)


async def test_opted_out_or_without_consent_nobody_is_asked(svc: Service, clock: Clock) -> None:
    citizen = await vaccinated(svc, clock)
    (done,) = await citizen.say("/tathoitham")
    assert "/batthoitham" in done
    worker = scheduler(svc, clock)
    clock.set(local(GIVEN + timedelta(days=1), 10))
    await worker.tick()
    assert await news(citizen) == []
    (again,) = await citizen.say("/batthoitham")
    assert "/tathoitham" in again
    async with svc.db.session_scope() as session:
        await session.execute(update(Account).values(consent_version=None))
    clock.set(local(GIVEN + timedelta(days=7), 10))
    await worker.tick()
    assert await news(citizen) == []
    async with svc.db.read_scope() as session:
        assert await checkins.counts(session) == []  # nothing asked is nothing counted


async def test_a_forged_or_foreign_answer_changes_nothing(svc: Service, clock: Clock) -> None:
    citizen = await vaccinated(svc, clock)
    clock.set(local(GIVEN + timedelta(days=1), 10))
    await scheduler(svc, clock).tick()
    await news(citizen)
    async with svc.db.read_scope() as session:
        checkin = await session.scalar(select(CheckIn))
    assert checkin is not None
    stranger = Citizen(svc, "stranger")
    await stranger.consent()
    await svc.dispatcher.handle(stranger.incoming(payload=f"ci:help:{checkin.id}"))
    (answer,) = [body["text"] for body in await stranger.replies()]
    assert answer.startswith("Câu hỏi này không còn hiệu lực.")
    await svc.dispatcher.handle(citizen.incoming(payload=f"ci:nonsense:{checkin.id}"))
    async with svc.db.read_scope() as session:
        stored = await session.get(CheckIn, checkin.id)
    assert stored is not None and stored.answer is None


async def test_old_doses_imported_get_no_check_in(svc: Service, clock: Clock) -> None:
    clock.set(local(GIVEN, 10))
    await add_sites(svc.db, clock())
    citizen = Citizen(svc)
    await citizen.consent()
    await fill_person(citizen)
    await book_first(citizen)
    await give_first_dose(svc, clock(), GIVEN - timedelta(days=30), SITE)
    assert await checkin_jobs(svc) == []
    clock.set(local(GIVEN + timedelta(days=60), 10))
    await scheduler(svc, clock).tick()
    async with svc.db.read_scope() as session:
        assert await session.scalar(select(CheckIn)) is None
