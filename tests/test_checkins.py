"""Post-vaccination check-ins (issue 16.2): day 1 and day 7, three answers, counted for staff."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from bot.app import Service
from bot.cli import reactions_report
from bot.console.dashboard import Aftercare, Scope, figures
from bot.i18n import TIMEZONE
from storage import checkins, jobs
from storage.models import (
    Account,
    CheckIn,
    Job,
    Person,
    Reaction,
    Site,
    TicketEntry,
    Vaccination,
)
from tests.conftest import Clock
from tests.console import StaffBrowser, add_staff
from tests.console import add_sites as add_console_sites
from tests.registration_fixtures import SITE, add_sites, book_first, fill_person, give_first_dose
from tests.test_console_dashboard import BT, BT_SITE, SG_SITE, person
from tests.test_scheduler import news, scheduler
from tests.webchat import Citizen

GIVEN = date(2026, 12, 8)  # a Tuesday
FINE, MILD, HELP = "Bình thường, khỏe", "Có triệu chứng nhẹ", "Cần giúp đỡ"
DAY_1 = "Nguyen Van An thấy thế nào sau mũi tiêm AstraZeneca (Vaxzevria) ngày Thứ Ba, 08/12/2026?"
DAY_7 = (
    "Đã một tuần sau mũi tiêm AstraZeneca (Vaxzevria) ngày Thứ Ba, 08/12/2026: "
    "Nguyen Van An thấy thế nào?"
)
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
    table = printed.split("post-vaccination check-ins")[1].splitlines()
    assert table[1].split() == ["site", "product", "asked", "fine", "mild", "help", "none"]
    assert table[2].split() == [SITE, "astrazeneca", "2", "0", "1", "1", "0"]


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


# ---------------------------------------------------------------- staff: the dashboard


async def test_the_dashboard_counts_answers_and_reports_per_site_and_product(
    svc: Service,
) -> None:
    await add_console_sites(svc)
    now = svc.clock()
    async with svc.db.session_scope() as session:
        account = Account(channel="web", chat_id="parent")
        session.add(account)
        await session.flush()
        people: list[Person] = [person(BT, now, account.id) for _ in range(3)]
        session.add_all(people)
        await session.flush()
        given = now.astimezone(TIMEZONE).date()
        doses = [
            Vaccination(person_id=who.id, dose_number=1, product=product, lot="L1",
                        given_on=given, site_id=site, source="chat")
            for who, site, product in zip(
                people, (BT_SITE, BT_SITE, SG_SITE), ("pfizer", "pfizer", "moderna"), strict=True
            )
        ]  # fmt: skip
        session.add_all(doses)
        await session.flush()
        for dose, day, answer in ((0, 1, "fine"), (0, 7, "help"), (1, 1, "mild"), (2, 1, None)):
            session.add(
                CheckIn(account_id=account.id, person_id=doses[dose].person_id,
                        vaccination_id=doses[dose].id, site_id=doses[dose].site_id,
                        product=doses[dose].product, day=day, answer=answer, asked_at=now)
            )  # fmt: skip
        session.add(
            Reaction(account_id=account.id, vaccination_id=doses[0].id, site_id=BT_SITE,
                     product="pfizer", symptoms=["fever"], started="today", severity="severe",
                     reported_at=now)
        )  # fmt: skip
        old = now - timedelta(days=31)
        session.add(
            Reaction(account_id=account.id, site_id=SG_SITE, product="moderna", symptoms=[],
                     started="today", severity="mild", reported_at=old)
        )  # fmt: skip
    async with svc.db.read_scope() as session:
        ward = (await figures(session, Scope(city=False, wards=(BT,)), now)).aftercare
        city = (await figures(session, Scope(city=True), now)).aftercare

    def rows(found: list[Aftercare]) -> list[tuple[object, ...]]:
        return [(a.site_id, a.product, a.asked, a.fine, a.mild, a.help, a.reports, a.severe)
                for a in found]  # fmt: skip

    assert rows(ward) == [(BT_SITE, "pfizer", 3, 1, 1, 1, 1, 1)]
    assert rows(city) == [
        (BT_SITE, "pfizer", 3, 1, 1, 1, 1, 1),
        (SG_SITE, "moderna", 1, 0, 0, 0, 0, 0),  # the old report is past the 30 days
    ]
    await add_staff(svc, "ward", "ward_staff", wards=(BT,))
    async with TestClient(TestServer(svc.web_app)) as client:
        browser = StaffBrowser(client)
        await browser.sign_in("ward")
        assert await browser.get("/console/dashboard") == 200
    assert "Sau tiêm: hỏi thăm và phản ứng, 30 ngày qua" in browser.page
    assert f'data-aftercare="{BT_SITE}/pfizer"' in browser.page
    assert SG_SITE not in browser.page


async def test_erasure_removes_the_check_ins_and_their_jobs_stay_silent(
    svc: Service, clock: Clock
) -> None:
    citizen = await vaccinated(svc, clock)
    clock.set(local(GIVEN + timedelta(days=1), 10))
    worker = scheduler(svc, clock)
    await worker.tick()
    await news(citizen)
    await citizen.press(FINE)
    await citizen.say("/xoadulieu")
    await citizen.press("Xóa dữ liệu")
    async with svc.db.read_scope() as session:
        assert await session.scalar(select(CheckIn)) is None
    clock.set(local(GIVEN + timedelta(days=7), 10))
    await worker.tick()  # the day-7 job finds nobody to ask
    async with svc.db.read_scope() as session:
        assert await session.scalar(select(CheckIn)) is None
    assert await news(citizen) == []


async def test_a_dose_recorded_the_next_morning_still_gets_its_day_1_question(
    svc: Service, clock: Clock
) -> None:
    clock.set(local(GIVEN - timedelta(days=1), 10))
    await add_sites(svc.db, clock())
    citizen = Citizen(svc)
    await citizen.consent()
    await fill_person(citizen)
    await book_first(citizen)
    clock.set(local(GIVEN + timedelta(days=1), 11))  # Tuesday's doses typed in on Wednesday
    await give_first_dose(svc, clock(), GIVEN, SITE, with_booking=True)
    await news(citizen)
    await scheduler(svc, clock).tick()
    (question,) = await news(citizen)
    assert question["text"].startswith(DAY_1)


async def test_need_help_while_talking_with_staff_goes_to_them(svc: Service, clock: Clock) -> None:
    citizen = await vaccinated(svc, clock)
    clock.set(local(GIVEN + timedelta(days=1), 10))
    await scheduler(svc, clock).tick()
    await news(citizen)
    asked = list(citizen.last)
    (opened,) = await citizen.say("ho tro")
    assert "yêu cầu số" in opened
    citizen.last = asked
    (answer,) = await citizen.press(HELP)
    assert "115" in answer and "Nhân viên đang ở trong cuộc trò chuyện này" in answer
    _account, state, _events = await citizen.state()
    assert state is not None and state.flow is None  # no report flow: staff take it from here
    async with svc.db.read_scope() as session:
        notes = list(
            await session.scalars(select(TicketEntry.text).where(TicketEntry.kind == "note"))
        )
        stored = await session.scalar(select(CheckIn))
    assert any("Cần giúp đỡ" in (note or "") for note in notes), notes
    assert stored is not None and stored.answer == "help"
