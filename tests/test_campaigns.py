"""Invitation campaigns: targeting, waves under a daily cap, answers, the staff chat, the CLI.

The clock is set to fixed Vietnam times (`at`) and the scheduler's `tick()` is called by hand;
the sender does not run, so what the waves queued is read straight from the outbox (`news`).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.app import Service
from bot.config import Settings
from bot.domain import campaign_waves as service
from bot.domain.campaign_waves import NewCampaign, Targeting
from bot.domain.vaccines import Given, next_dose
from bot.handlers.campaigns import read_ages
from bot.handlers.privacy import CONSENT_VERSION
from bot.i18n import TIMEZONE
from bot.workers.jobs_table import JOB_KINDS
from bot.workers.scheduler import Scheduler
from run_bot import main
from storage import campaigns as store
from storage import jobs, staff
from storage.db import Database
from storage.models import (
    Account,
    AuditEvent,
    Booking,
    Campaign,
    CampaignInvitation,
    Job,
    OutboxMessage,
    Person,
    Site,
    Slot,
    Vaccination,
)
from tests.clock import START, Clock
from tests.registration_fixtures import add_sites, answer_screening, book_first
from tests.webchat import Citizen

TODAY = date(2026, 12, 7)  # a Monday
BT, SG, TD = 26743, 26740, 26737  # Bến Thành, Sài Gòn, Tân Định (HCMC)
_ids = itertools.count(1)


@pytest.fixture
def clock() -> Clock:
    """A clock that stands still between moves, so "now" can be compared exactly."""
    return Clock(ticking=False)


def at(clock: Clock, day: date, hour: int, minute: int = 0) -> datetime:
    """Set the clock to `hour:minute` in Vietnam on `day`; return that moment."""
    return clock.set_local(hour, minute, day=day)


def worker(svc: Service, clock: Clock) -> Scheduler:
    return Scheduler(svc.db, JOB_KINDS, settings=svc.settings, clock=clock)


async def add_account(
    db: Database,
    chat_id: str | None = None,
    *,
    locale: str = "vi",
    consented: bool = True,
    unreachable: bool = False,
) -> int:
    """An account on the web chat (consented unless told otherwise)."""
    async with db.session_scope() as session:
        account = Account(
            channel="web",
            chat_id=chat_id or f"chat-{next(_ids)}",
            locale=locale,
            consent_version=CONSENT_VERSION if consented else None,
            unreachable_at=datetime(2026, 1, 1, tzinfo=UTC) if unreachable else None,
        )
        session.add(account)
        await session.flush()
        return account.id


async def add_person(
    db: Database,
    account_id: int | None,
    name: str,
    *,
    ward: int = BT,
    born: date = date(1950, 1, 1),
    group: str = "nq21-5",
    doses: Sequence[tuple[str, date]] = (),
    booked: bool = False,
) -> int:
    """A person on an account, with doses on record and an active booking if asked."""
    async with db.session_scope() as session:
        person = Person(
            account_id=account_id,
            full_name=name,
            birth_date=born,
            gender="female",
            id_sealed=b"x",
            id_index=f"index-{next(_ids)}",
            province_code=79,
            ward_code=ward,
            divisions_version="test",
            priority_group=group,
        )
        session.add(person)
        await session.flush()
        for number, (product, given_on) in enumerate(doses, 1):
            session.add(
                Vaccination(
                    person_id=person.id,
                    dose_number=number,
                    product=product,
                    lot="L1",
                    given_on=given_on,
                    source="import",
                )
            )
        if booked:
            await _book(session, person.id, len(doses) + 1)
        return person.id


async def _book(session: Any, person_id: int, dose: int, *, now: datetime = START) -> None:
    """An active booking in a slot of a site made for it (booked on one's own)."""
    site = await session.get(Site, "T-01")
    if site is None:
        session.add(
            Site(id="T-01", name="Trạm", address="1 Lê Lợi", province_code=79, ward_code=BT)
        )
        await session.flush()
    start = datetime(2030, 1, 1, 1, tzinfo=UTC) + timedelta(hours=next(_ids))
    slot = Slot(site_id="T-01", starts_at=start, ends_at=start, capacity=5, booked=1)
    session.add(slot)
    await session.flush()
    session.add(
        Booking(
            code=f"C{next(_ids):06d}",
            person_id=person_id,
            slot_id=slot.id,
            dose_number=dose,
            created_at=now,
        )
    )
    await session.flush()


async def eligible_names(svc: Service, targeting: Targeting, day: date) -> set[str]:
    async with svc.db.read_scope() as session:
        rule = service.eligibility(targeting, day)
        rows = await store.eligible(session, rule, campaign_id=None, limit=1000)
        assert await store.count_eligible(session, rule) == len(rows)
    return {person.full_name for person, _account in rows}


async def create(
    svc: Service, clock: Clock, targeting: Targeting, *, cap: int = 10, text_en: str | None = None
) -> Campaign:
    async with svc.db.session_scope() as session:
        campaign, _first = await service.create_campaign(
            session,
            NewCampaign(
                name="Mời tiêm",
                targeting=targeting,
                text_vi="Mời bà con đến tiêm.",
                text_en=text_en,
                daily_cap=cap,
                starts_on=clock().astimezone(TIMEZONE).date(),
            ),
            actor="test",
            now=clock(),
            settings=svc.settings,
        )
    return campaign


async def news(svc: Service, chat_id: str, after: int = 0) -> list[OutboxMessage]:
    """Everything queued to a chat after row `after` (the sender is not running)."""
    async with svc.db.read_scope() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.chat_id == chat_id, OutboxMessage.id > after)
            .order_by(OutboxMessage.id)
        )
        return list(rows)


async def invitations(svc: Service) -> list[CampaignInvitation]:
    async with svc.db.read_scope() as session:
        rows = await session.scalars(select(CampaignInvitation).order_by(CampaignInvitation.id))
        return list(rows)


async def invited_names(svc: Service) -> list[str]:
    async with svc.db.read_scope() as session:
        rows = await session.scalars(
            select(Person.full_name)
            .join(CampaignInvitation, CampaignInvitation.person_id == Person.id)
            .order_by(CampaignInvitation.id)
        )
        return list(rows)


async def pending_waves(svc: Service) -> list[datetime]:
    async with svc.db.read_scope() as session:
        rows = await session.scalars(
            select(Job.due_at).where(Job.status == jobs.PENDING).order_by(Job.due_at)
        )
        return [due.astimezone(TIMEZONE) for due in rows]


def labels(body: dict[str, Any]) -> list[str]:
    return [label for row in body.get("buttons", ()) for label, _payload in row]


# ---------------------------------------------------------------- targeting


async def _people(svc: Service) -> None:
    """People of every kind in Bến Thành (and one in Sài Gòn), as of TODAY."""
    db = svc.db
    fifty = date(TODAY.year - 50, TODAY.month, TODAY.day)
    await add_person(db, await add_account(db), "An", born=date(1950, 1, 1))
    await add_person(db, await add_account(db), "Binh", born=date(1990, 6, 15), group="nq21-9")
    await add_person(db, await add_account(db), "Chi", ward=SG)
    await add_person(db, await add_account(db), "Oanh", born=fifty, group="nq21-9")
    await add_person(
        db, await add_account(db), "Phuc", born=fifty + timedelta(days=1), group="nq21-9"
    )
    az_70 = [("astrazeneca", TODAY - timedelta(days=70))]
    await add_person(db, await add_account(db), "Dung", born=date(1960, 1, 1), doses=az_70)
    pfizer_10 = [("pfizer", TODAY - timedelta(days=10))]
    await add_person(db, await add_account(db), "Giang", born=date(1960, 1, 1), doses=pfizer_10)
    two = [("pfizer", TODAY - timedelta(days=130)), ("pfizer", TODAY - timedelta(days=100))]
    await add_person(db, await add_account(db), "Hoa", born=date(1970, 1, 1), doses=two)
    janssen_30 = [("janssen", TODAY - timedelta(days=30))]
    await add_person(db, await add_account(db), "Nam", born=date(1980, 1, 1), doses=janssen_30)
    # Never invited: booked on their own, unreachable, no consent, on no account.
    await add_person(db, await add_account(db), "Khanh", booked=True)
    await add_person(db, await add_account(db, unreachable=True), "Lan")
    await add_person(db, await add_account(db, consented=False), "Minh")
    await add_person(db, None, "Quang")


@pytest.mark.parametrize(
    ("targeting", "expected"),
    [
        (Targeting((BT,), "none"), {"An", "Binh", "Oanh", "Phuc"}),
        (Targeting((BT, SG), "none"), {"An", "Binh", "Oanh", "Phuc", "Chi"}),
        (Targeting((SG,), "none"), {"Chi"}),
        (Targeting((TD,), "none"), set()),
        (Targeting((BT,), "none", groups=("nq21-5",)), {"An"}),
        (Targeting((BT,), "none", min_age=50), {"An", "Oanh"}),
        (Targeting((BT,), "none", min_age=18, max_age=49), {"Binh", "Phuc"}),
        (Targeting((BT,), "none", min_age=50, max_age=50), {"Oanh"}),
        (Targeting((BT,), "due"), {"An", "Binh", "Oanh", "Phuc", "Dung", "Hoa"}),
        (Targeting((BT,), "due", min_age=40), {"An", "Oanh", "Phuc", "Dung", "Hoa"}),
        (Targeting((BT,), "dose1_older_than:8"), {"Dung"}),
        (Targeting((BT,), "dose1_older_than:4"), {"Dung", "Nam"}),
        (Targeting((BT,), "dose1_older_than:11"), set()),
    ],
    ids=[
        "no-dose",
        "two-wards",
        "other-ward",
        "ward-without-anyone",
        "group",
        "50-and-over",
        "18-to-49",
        "exactly-50",
        "due",
        "due-40-and-over",
        "dose1-8-weeks",
        "dose1-4-weeks",
        "dose1-11-weeks",
    ],
)
async def test_targeting(
    svc: Service, clock: Clock, targeting: Targeting, expected: set[str]
) -> None:
    at(clock, TODAY, 10)
    await _people(svc)
    assert await eligible_names(svc, targeting, TODAY) == expected


HISTORIES: list[list[tuple[str, int]]] = [
    [],
    [("astrazeneca", 55)],
    [("astrazeneca", 56)],
    [("pfizer", 20)],
    [("pfizer", 21)],
    [("moderna", 27)],
    [("moderna", 28)],
    [("verocell", 21)],
    [("abdala", 40), ("abdala", 13)],
    [("abdala", 40), ("abdala", 14)],
    [("abdala", 60), ("abdala", 40), ("abdala", 20)],
    [("janssen", 89)],
    [("janssen", 90)],
    [("pfizer", 200), ("pfizer", 89)],
    [("pfizer", 200), ("pfizer", 90)],
    [("astrazeneca", 400), ("astrazeneca", 300), ("pfizer", 100)],
    [("astrazeneca", 500), ("astrazeneca", 400), ("pfizer", 300), ("moderna", 200)],
    [("unknown", 100)],
    [("unknown", 60)],
]


async def test_due_matches_the_next_dose_rules(svc: Service, clock: Clock) -> None:
    at(clock, TODAY, 10)
    expected = set()
    for number, history in enumerate(HISTORIES):
        doses = [(product, TODAY - timedelta(days=days)) for product, days in history]
        name = f"P{number}"
        await add_person(svc.db, await add_account(svc.db), name, doses=doses)
        upcoming = next_dose([Given(p, d) for p, d in doses], today=TODAY)
        if upcoming.number is not None and upcoming.earliest <= TODAY:
            expected.add(name)
    assert len(expected) not in (0, len(HISTORIES))
    assert await eligible_names(svc, Targeting((BT,), "due"), TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "ages"),
    [
        ("50-64", (50, 64)),
        ("50 – 64", (50, 64)),
        ("từ 50 đến 64 tuổi", (50, 64)),
        ("65+", (65, None)),
        ("65 trở lên", (65, None)),
        ("65", (65, None)),
        ("50-50", (50, 50)),
        ("64-50", None),
        ("dưới 60", None),
        ("1 2 3", None),
        ("121", None),
        ("", None),
    ],
)
def test_ages_typed_by_staff(typed: str, ages: tuple[int, int | None] | None) -> None:
    assert read_ages(typed) == ages


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("none", "none"),
        ("DUE", "due"),
        ("dose1-older-than-weeks:8", "dose1_older_than:8"),
        ("dose1_older_than:08", "dose1_older_than:8"),
        ("dose1-older-than-weeks:0", None),
        ("dose2", None),
    ],
)
def test_dose_statuses(typed: str, stored: str | None) -> None:
    if stored is None:
        with pytest.raises(service.CampaignError):
            service.parse_dose_status(typed)
    else:
        assert service.parse_dose_status(typed) == stored


def test_ages_count_whole_years_on_the_day() -> None:
    assert service.years_before(date(2026, 12, 7), 50) == date(1976, 12, 7)
    assert service.years_before(date(2028, 2, 29), 1) == date(2027, 2, 28)


# ---------------------------------------------------------------- waves


async def test_waves_keep_the_daily_cap_and_skip_who_booked(svc: Service, clock: Clock) -> None:
    at(clock, TODAY, 10)
    chats = {}
    for number, name in enumerate(["A", "B", "C", "D", "E", "F"]):
        chats[name] = f"w-{name}"
        account = await add_account(svc.db, chats[name], locale="en" if name == "B" else "vi")
        await add_person(svc.db, account, name, born=date(1940 + number, 1, 1))
    await create(svc, clock, Targeting((BT,), "none"), cap=2, text_en="Please come.")
    assert await pending_waves(svc) == [clock()]  # in the daytime: the first wave at once
    scheduler = worker(svc, clock)
    assert await scheduler.tick() == 1
    assert await invited_names(svc) == ["A", "B"]  # the oldest first
    (to_a,) = await news(svc, chats["A"])
    assert to_a.bulk and to_a.body["text"] == "Mời bà con đến tiêm.\n\nLời mời này dành cho A."
    assert labels(to_a.body) == ["Đặt lịch ngay", "Không tham gia"]
    (to_b,) = await news(svc, chats["B"])  # an English account: the English text
    assert to_b.body["text"] == "Please come.\n\nThis invitation is for B."
    assert labels(to_b.body) == ["Book now", "Not taking part"]
    # Spread at half of Telegram's 30 a second: reminders and results written meanwhile
    # are not queued behind a whole wave.
    assert to_b.not_before - to_a.not_before == timedelta(seconds=1 / 15)
    assert await pending_waves(svc) == [datetime.combine(TODAY + timedelta(1), time(9), TIMEZONE)]

    at(clock, TODAY, 23)
    assert await scheduler.tick() == 0
    async with svc.db.session_scope() as session:  # C books on their own before the next wave
        c = await session.scalar(select(Person.id).where(Person.full_name == "C"))
        assert c is not None
        await _book(session, c, 1, now=clock())
    tuesday = TODAY + timedelta(days=1)
    at(clock, tuesday, 8, 59)
    assert await scheduler.tick() == 0
    at(clock, tuesday, 9)
    assert await scheduler.tick() == 1
    assert await invited_names(svc) == ["A", "B", "D", "E"]  # A, B never twice; C booked
    at(clock, tuesday + timedelta(days=1), 9)
    assert await scheduler.tick() == 1
    assert await invited_names(svc) == ["A", "B", "D", "E", "F"]
    async with svc.db.read_scope() as session:
        campaign = await session.scalar(select(Campaign))
        assert campaign is not None and campaign.status == "finished"  # nobody left
    assert await pending_waves(svc) == []
    assert len(await news(svc, chats["A"])) == 1


async def test_resumed_the_same_day_the_cap_still_holds(svc: Service, clock: Clock) -> None:
    at(clock, TODAY, 10)
    for name in "ABC":
        await add_person(svc.db, await add_account(svc.db), name)
    campaign = await create(svc, clock, Targeting((BT,), "none"), cap=2)
    scheduler = worker(svc, clock)
    await scheduler.tick()
    async with svc.db.session_scope() as session:
        found = await session.get(Campaign, campaign.id)
        assert found is not None
        assert await service.pause(session, found, actor="test", now=clock())
        assert not await service.pause(session, found, actor="test", now=clock())
    assert await pending_waves(svc) == []
    at(clock, TODAY, 11)
    async with svc.db.session_scope() as session:
        found = await session.get(Campaign, campaign.id)
        assert found is not None
        due = await service.resume(
            session, found, actor="test", now=clock(), settings=svc.settings
        )
    assert due == clock()
    assert await scheduler.tick() == 1
    assert len(await invitations(svc)) == 2  # today's two were sent before the pause
    at(clock, TODAY + timedelta(days=1), 9)
    assert await scheduler.tick() == 1
    assert len(await invitations(svc)) == 3


@pytest.mark.parametrize(
    ("hour", "first"),
    [(22, (1, 9)), (6, (0, 9)), (8, (0, 8))],
    ids=["night", "early-morning", "daytime"],
)
async def test_the_first_wave_waits_for_the_daytime(
    svc: Service, clock: Clock, hour: int, first: tuple[int, int]
) -> None:
    at(clock, TODAY, hour)
    await create(svc, clock, Targeting((BT,), "none"))
    day, wave_hour = first
    expected = datetime.combine(TODAY + timedelta(days=day), time(wave_hour), TIMEZONE)
    assert await pending_waves(svc) == [expected]


# ---------------------------------------------------------------- the citizen's buttons


async def invited_citizen(svc: Service, clock: Clock, chat_id: str, name: str) -> Citizen:
    """A consented web-chat citizen with one person on the account, invited by a wave."""
    citizen = Citizen(svc, chat_id)
    await citizen.consent()
    account, _state, _events = await citizen.state()
    assert account is not None
    await add_person(svc.db, account.id, name)
    return citizen


async def show_invitation(svc: Service, citizen: Citizen) -> dict[str, Any]:
    """Put the citizen's latest invitation in front of them, as the web chat would show it."""
    (message,) = [m for m in await news(svc, citizen.chat_id) if m.bulk]
    citizen.last = [message.body]
    return message.body


async def test_book_now_starts_the_booking_and_a_decline_is_recorded_once(
    svc: Service, clock: Clock
) -> None:
    at(clock, TODAY, 10)
    await add_sites(svc.db, clock())
    lan = await invited_citizen(svc, clock, "lan", "Tran Thi Lan")
    mai = await invited_citizen(svc, clock, "mai", "Le Thi Mai")
    await create(svc, clock, Targeting((BT,), "none"))
    assert await worker(svc, clock).tick() == 1

    await show_invitation(svc, lan)
    (screening,) = await lan.press("Đặt lịch ngay")
    listed = [line for line in screening.splitlines() if line.startswith("• ")]
    assert "Tran Thi Lan" in screening and len(listed) == 8  # 76: never asked if pregnant
    assert "mang thai" not in screening
    _account, state, _events = await lan.state()
    assert state is not None and (state.flow, state.step) == ("register", "screen")
    (accepted,) = [i for i in await invitations(svc) if i.status == "accepted"]
    assert accepted.answered_at == clock()

    invitation = await show_invitation(svc, mai)
    (thanks,) = await mai.press("Không tham gia")
    assert thanks.startswith("Cảm ơn bạn đã phản hồi: Le Thi Mai sẽ không nhận thêm lời mời")
    declined_at = clock()
    at(clock, TODAY, 11)
    mai.last = [invitation]  # the old message's button, pressed again
    assert await mai.press("Không tham gia") == [thanks]
    (declined,) = [i for i in await invitations(svc) if i.status == "declined"]
    assert declined.answered_at == declined_at


async def test_an_invitation_of_another_account_is_refused(svc: Service, clock: Clock) -> None:
    at(clock, TODAY, 10)
    lan = await invited_citizen(svc, clock, "lan", "Tran Thi Lan")
    other = Citizen(svc, "other")
    await other.consent()
    await create(svc, clock, Targeting((BT,), "none"))
    await worker(svc, clock).tick()
    invitation = await show_invitation(svc, lan)
    for label in ("Đặt lịch ngay", "Không tham gia"):
        other.last = [invitation]  # a forwarded or forged payload
        (refused,) = await other.press(label)
        assert (
            refused == "Lời mời này không dành cho cuộc trò chuyện này, hoặc không còn hiệu lực."
        )
    _account, state, _events = await other.state()
    assert state is not None and state.flow is None
    assert [i.status for i in await invitations(svc)] == ["invited"]


async def test_booking_from_the_invitation_counts_in_the_report(
    svc: Service, clock: Clock
) -> None:
    at(clock, TODAY, 10)
    await add_sites(svc.db, clock())
    lan = await invited_citizen(svc, clock, "lan", "Tran Thi Lan")
    mai = await invited_citizen(svc, clock, "mai", "Le Thi Mai")
    await invited_citizen(svc, clock, "hoa", "Pham Thi Hoa")
    gone = await invited_citizen(svc, clock, "gone", "Vo Van Gone")
    account = await add_account(svc.db)
    await add_person(svc.db, account, "Sai Gon", ward=SG)
    campaign = await create(svc, clock, Targeting((BT, SG), "none"))
    await worker(svc, clock).tick()

    await show_invitation(svc, lan)
    await lan.press("Đặt lịch ngay")
    await answer_screening(lan)
    await book_first(lan)
    await show_invitation(svc, mai)
    await mai.press("Không tham gia")
    async with svc.db.session_scope() as session:  # one invitation never arrived
        gone_account, _state, _events = await gone.state()
        assert gone_account is not None
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.account_id == gone_account.id, OutboxMessage.bulk.is_(True))
            .values(status="failed")
        )
    async with svc.db.read_scope() as session:
        counts = await service.report(session, campaign.id)
    assert counts == [
        store.WardCounts(SG, no_answer=1),
        store.WardCounts(BT, booked=1, declined=1, unreachable=1, no_answer=1),
    ]
    assert [c.invited for c in counts] == [1, 4]


# ---------------------------------------------------------------- staff in the chat


async def staff_chat(svc: Service, role: str, wards: Sequence[int], chat_id: str) -> Citizen:
    async with svc.db.session_scope() as session:
        await staff.add_staff(
            session,
            channel="web",
            user_id=chat_id,
            role=role,
            name="Chị Lan",
            wards=wards,
            sites=[],
            now=svc.clock(),
        )
    chat = Citizen(svc, chat_id)
    await chat.consent()
    return chat


async def test_ward_staff_create_a_campaign_within_their_wards(svc: Service, clock: Clock) -> None:
    at(clock, TODAY, 10)
    await add_person(svc.db, await add_account(svc.db), "An")
    await add_person(svc.db, await add_account(svc.db), "Chi", ward=SG)
    chat = await staff_chat(svc, "ward_staff", [BT, TD], "ward-1")
    (listing,) = await chat.say("/chiendich")
    assert listing == "Chưa có chiến dịch nào."
    await chat.press("Tạo chiến dịch mới")
    assert (await chat.say(""))[0].startswith("Tên chiến dịch dài từ 1 đến 80 ký tự")
    (wards,) = await chat.say("Mũi 1 tháng 12")
    assert "Phường Bến Thành (26743)" in wards and "Phường Tân Định (26737)" in wards
    (refused,) = await chat.say("26743 26740")  # Sài Gòn is not theirs
    assert refused.startswith("Phường Sài Gòn (26740) không thuộc địa bàn bạn phụ trách")
    assert (await chat.say("99999"))[0].startswith("99999 không phải là mã xã, phường")
    assert (await chat.say("Bến Thành"))[0].startswith("Bạn vui lòng nhập mã xã, phường")
    (groups,) = await chat.say("26743")
    assert groups.startswith("Những nhóm ưu tiên nào?") and "5. " in groups
    assert (await chat.say("0 12"))[0].startswith("Bạn vui lòng nhập các số từ 1 đến 9")
    await chat.say("5")
    assert (await chat.say("nhiều tuổi"))[0].startswith("Bạn vui lòng nhập khoảng tuổi")
    (doses,) = await chat.say("50 trở lên")
    assert doses == "Chiến dịch mời những ai?" and "Chưa tiêm mũi nào" in chat.buttons()
    asked = chat.last
    assert (await chat.say("chua tiem"))[0] == "Bạn vui lòng chọn bằng các nút bên dưới."
    chat.last = asked  # the question's buttons still work after a wrong answer
    await chat.press("Chưa tiêm mũi nào")
    assert (await chat.say("nhiều"))[0].startswith("Bạn vui lòng nhập một số nguyên từ 1")
    await chat.say("200")
    await chat.say("Trạm Y tế phường Bến Thành mời bà con từ 50 tuổi đến tiêm mũi 1.")
    (preview,) = await chat.press("Không có bản tiếng Anh")
    assert "Xã, phường: Phường Bến Thành (26743)" in preview
    assert "Nhóm ưu tiên: 5. " in preview and "Độ tuổi: từ 50 tuổi trở lên" in preview
    assert "Số người đủ điều kiện hiện tại: 1" in preview
    assert chat.buttons() == ["Gửi", "Hủy"]
    (created,) = await chat.press("Gửi")
    assert created.startswith("Đã tạo chiến dịch #1 “Mũi 1 tháng 12”: những lời mời đầu tiên")
    async with svc.db.read_scope() as session:
        campaign = await session.scalar(select(Campaign))
        trail = (await session.scalars(select(AuditEvent))).all()
    assert campaign is not None
    assert (campaign.wards, campaign.groups, campaign.min_age, campaign.max_age) == (
        [BT],
        ["nq21-5"],
        50,
        None,
    )
    assert (campaign.dose_status, campaign.daily_cap, campaign.text_en) == ("none", 200, None)
    assert [(a.action, a.subject) for a in trail] == [("campaign_created", "campaign:1")]
    assert trail[0].actor == campaign.created_by == "web:ward-1 Chị Lan (ward_staff)"


async def test_staff_manage_their_campaigns_from_the_list(svc: Service, clock: Clock) -> None:
    at(clock, TODAY, 10)
    await add_person(svc.db, await add_account(svc.db), "An")
    mine = await create(svc, clock, Targeting((BT,), "none"))
    theirs = await create(svc, clock, Targeting((SG,), "none"))
    await worker(svc, clock).tick()
    chat = await staff_chat(svc, "ward_staff", [BT], "ward-1")
    (listing,) = await chat.say("/chiendich")
    assert listing.splitlines() == [
        "Các chiến dịch mời tiêm:",
        "#1 “Mời tiêm”: đã kết thúc, đã mời 1 người",
    ]
    assert chat.buttons() == ["Báo cáo #1", "Tạo chiến dịch mới"]
    (report,) = await chat.press("Báo cáo #1")
    assert report.splitlines() == [
        "Chiến dịch #1 “Mời tiêm” (đã kết thúc):",
        "Phường Bến Thành (26743): đã mời 1, đã đặt lịch 0, từ chối 0, chưa trả lời 1, "
        "không liên lạc được 0",
        "Tổng cộng: đã mời 1, đã đặt lịch 0, từ chối 0, chưa trả lời 1, không liên lạc được 0",
    ]
    chat.last = [{"text": "", "buttons": [[["x", f"camp:pause:{theirs.id}"]]]}]
    (outside,) = await chat.press("x")  # another ward's campaign: refused
    assert outside == "Chiến dịch này không tồn tại hoặc nằm ngoài địa bàn bạn phụ trách."

    async with svc.db.session_scope() as session:
        await session.execute(
            update(Campaign).where(Campaign.id == mine.id).values(status="active")
        )
    await chat.say("/chiendich")
    assert chat.buttons() == ["Báo cáo #1", "Tạm dừng #1", "Hủy #1", "Tạo chiến dịch mới"]
    listing_buttons = chat.last
    assert (await chat.press("Tạm dừng #1"))[0].startswith("Đã tạm dừng chiến dịch #1")
    chat.last = listing_buttons  # the old list's button: nothing to pause twice
    assert (await chat.press("Tạm dừng #1"))[0] == (
        "Chiến dịch #1 hiện không chạy; không có gì thay đổi."
    )
    await chat.say("/chiendich")
    (resumed,) = await chat.press("Tiếp tục #1")
    assert resumed == "Chiến dịch #1 đã chạy lại: lời mời đang được gửi đi."
    await chat.say("/chiendich")
    (confirm,) = await chat.press("Hủy #1")
    assert confirm.startswith("Hủy hẳn chiến dịch #1 “Mời tiêm”?")
    (cancelled,) = await chat.press("Có, hủy chiến dịch")
    assert cancelled.startswith("Đã hủy chiến dịch #1.")
    async with svc.db.read_scope() as session:
        found = await session.get(Campaign, mine.id)
        trail = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    assert found is not None and found.status == "cancelled"
    assert [a.action for a in trail if a.actor != "test"] == [
        "campaign_paused",
        "campaign_resumed",
        "campaign_cancelled",
    ]
    assert await pending_waves(svc) == []


async def test_an_admin_targets_any_ward(svc: Service, clock: Clock) -> None:
    at(clock, TODAY, 10)
    chat = await staff_chat(svc, "admin", [], "admin-1")
    await chat.say("/chiendich moi")
    (wards,) = await chat.say("Toàn thành phố")
    assert wards.startswith("Mời người dân ở những xã, phường nào? Bạn vui lòng nhập mã")
    await chat.say("26740 26743")
    await chat.press("Tất cả các nhóm")
    await chat.press("Mọi độ tuổi")
    await chat.press("Đã tiêm mũi 1 từ 8 tuần trở lên, chưa tiêm mũi 2")
    await chat.say("50")
    await chat.say("Mời tiêm mũi 2.")
    (preview,) = await chat.say("Please come for dose 2.")
    assert "Phường Sài Gòn (26740), Phường Bến Thành (26743)" in preview
    assert "Nhóm ưu tiên: tất cả các nhóm" in preview and "Độ tuổi: mọi độ tuổi" in preview
    (dropped,) = await chat.press("Hủy")
    assert dropped == "Chưa có gì được gửi: chiến dịch không được tạo."
    async with svc.db.read_scope() as session:
        assert await session.scalar(select(Campaign)) is None


async def test_a_citizen_gets_the_unknown_command_answer(svc: Service, clock: Clock) -> None:
    citizen = Citizen(svc, "citizen")
    await citizen.consent()
    assert await citizen.say("/chiendich") == [
        "Xin lỗi, tôi không nhận ra lệnh /chiendich. Bạn gõ /help để xem các lệnh có thể dùng nhé."
    ]
    async with svc.db.session_scope() as session:
        await store.add_campaign(
            session,
            Campaign(
                name="Mời tiêm",
                created_by="cli",
                wards=[BT],
                groups=[],
                min_age=0,
                dose_status="none",
                text_vi="Mời.",
                daily_cap=5,
                starts_on=TODAY,
            ),
        )
    citizen.last = [{"text": "", "buttons": [[["x", "camp:rep:1"]]]}]  # forged
    (expired,) = await citizen.press("x")
    assert "Mời tiêm" not in expired and "đã mời" not in expired


# ---------------------------------------------------------------- the command line


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv), clock=Clock())
    return code, capsys.readouterr().out.splitlines()


async def _seed_and_fire(url: str) -> None:
    """People in two wards; fire the pending wave at its due time; then some answers."""
    db = Database(url)
    try:
        for name, ward in (("An", BT), ("Binh", BT), ("Chi", BT), ("Dung", SG)):
            await add_person(db, await add_account(db, f"cli-{name}"), name, ward=ward)
        async with db.read_scope() as session:
            due = await session.scalar(select(Job.due_at))
        assert due is not None
        scheduler = Scheduler(db, JOB_KINDS, settings=Settings.from_env(), clock=lambda: due)
        assert await scheduler.tick() == 1
        async with db.session_scope() as session:
            people = {p.full_name: p.id for p in (await session.scalars(select(Person))).all()}
            await session.execute(
                update(CampaignInvitation)
                .where(CampaignInvitation.person_id == people["Binh"])
                .values(status="declined")
            )
            await _book(session, people["An"], 1, now=due + timedelta(hours=1))
            await session.execute(
                update(Account).where(Account.chat_id == "cli-Chi").values(unreachable_at=due)
            )
    finally:
        await db.dispose()


def _audit(url: str) -> list[tuple[str, str, str]]:
    async def read() -> list[tuple[str, str, str]]:
        db = Database(url)
        try:
            async with db.read_scope() as session:
                trail = await session.scalars(select(AuditEvent).order_by(AuditEvent.id))
                return [(a.actor, a.action, a.subject) for a in trail]
        finally:
            await db.dispose()

    return asyncio.run(read())


def test_cli_create_list_report_cancel(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "campaign", "list") == (0, ["no campaigns"])
    code, created = _run(
        capsys,
        "campaign",
        "create",
        "--name",
        "Mũi 1",
        "--ward",
        str(BT),
        "--ward",
        str(SG),
        "--group",
        "5",
        "--min-age",
        "50",
        "--dose-status",
        "none",
        "--text-vi",
        "Mời bà con đến tiêm.",
        "--daily-cap",
        "10",
    )
    assert code == 0 and created[0] == "created campaign 1: Mũi 1"
    assert created[1].startswith("eligible now: 0; first wave: ")
    asyncio.run(_seed_and_fire(env))
    code, listed = _run(capsys, "campaign", "list")
    assert (code, listed) == (
        0,
        [
            "1 [finished] Mũi 1: wards 26743, 26740; groups nq21-5; ages 50+; dose none; "
            f"10/day from {_today()}; invited 4; by cli"
        ],
    )
    code, report = _run(capsys, "campaign", "report", "1")
    assert code == 0
    assert report[0] == "campaign 1: Mũi 1 [finished]"
    assert report[1].split() == [
        "ward",
        "invited",
        "booked",
        "declined",
        "no",
        "answer",
        "unreachable",
    ]
    assert [line.split()[-6:] for line in report[2:]] == [
        ["Gòn", "1", "0", "0", "1", "0"],
        ["Thành", "3", "1", "1", "0", "1"],
        ["total", "4", "1", "1", "1", "1"],
    ]
    assert report[2].startswith("26740 Phường Sài Gòn")
    assert report[3].startswith("26743 Phường Bến Thành")
    assert _run(capsys, "campaign", "cancel", "1") == (
        1,
        ["campaign 1 has already ended (finished)"],
    )
    assert _run(capsys, "campaign", "report", "7") == (1, ["no campaign 7"])
    assert _audit(env) == [("cli", "campaign_created", "campaign:1")]


def _today() -> str:
    return START.date().isoformat()


def test_cli_cancel_stops_the_waves(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["campaign", "create", "--name", "Sau", "--ward", str(BT), "--dose-status", "due"]
    argv += [
        "--text-vi",
        "Mời.",
        "--text-en",
        "Come.",
        "--daily-cap",
        "5",
        "--start",
        "2099-01-01",
    ]
    code, created = _run(capsys, *argv)
    assert (code, created[1]) == (
        0,
        "eligible now: 0; first wave: 2099-01-01 09:00 (Vietnam time); at most 5 a day",
    )
    assert _run(capsys, "campaign", "cancel", "1") == (0, ["cancelled campaign 1: Sau"])
    assert _run(capsys, "campaign", "cancel", "1") == (
        1,
        ["campaign 1 has already ended (cancelled)"],
    )
    assert [action for _actor, action, _subject in _audit(env)] == [
        "campaign_created",
        "campaign_cancelled",
    ]


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (("--ward", "99999"), "error: ward 99999 is no current ward (codes since 1 July 2025)"),
        (("--ward", str(BT), "--group", "vip"), "error: unknown priority group 'vip'"),
        (("--ward", str(BT), "--daily-cap", "0"), "error: the daily cap must be 1 to 100000"),
        (
            ("--ward", str(BT), "--min-age", "60", "--max-age", "50"),
            "error: ages must be 0 to 120, the minimum not above the maximum",
        ),
        (("--ward", str(BT), "--start", "2020-01-01"), "error: --start 2020-01-01 is in the past"),
    ],
    ids=["unknown-ward", "unknown-group", "zero-cap", "ages", "past-start"],
)
def test_cli_create_refuses_what_cannot_work(
    env: str, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], error: str
) -> None:
    argv = ["campaign", "create", "--name", "X", "--dose-status", "none", "--text-vi", "Mời."]
    argv += ["--daily-cap", "5"] if "--daily-cap" not in extra else []
    assert main([*argv, *extra], clock=Clock()) == 2
    assert capsys.readouterr().err.startswith(error)
    assert _run(capsys, "campaign", "list") == (0, ["no campaigns"])


def test_cli_refuses_an_unknown_dose_status(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["campaign", "create", "--name", "X", "--ward", "1", "--dose-status", "dose2"]
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--text-vi", "Mời.", "--daily-cap", "5"])
    assert stop.value.code == 2
    assert "dose1-older-than-weeks:N" in capsys.readouterr().err
