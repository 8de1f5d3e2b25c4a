"""Children's campaigns: ward staff invite children by age and measles status, one invitation
per child to the parent's chat, with the campaign machinery's waves, answers and report.

The clock stands still at fixed Vietnam times; the scheduler's `tick()` is called by hand and
what the waves queued is read from the outbox.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from bot.app import Service
from bot.domain import campaign_waves as service
from bot.domain.campaign_waves import CampaignError, NewCampaign, Targeting
from bot.i18n import TIMEZONE
from run_bot import main
from storage import children as child_store
from storage.models import Campaign, CampaignInvitation, Child, ChildBooking, Site, Slot
from tests.clock import Clock
from tests.test_campaigns import (
    BT,
    SG,
    TODAY,
    _run,
    add_account,
    at,
    create,
    labels,
    news,
    staff_chat,
)
from tests.test_campaigns import worker as scheduler_of
from tests.webchat import Citizen

MEASLES_1_5 = Targeting((BT,), "due", min_age=1, max_age=5, child_vaccine="measles")


@pytest.fixture
def clock() -> Clock:
    """A clock that stands still between moves, so "now" can be compared exactly."""
    return Clock(ticking=False)


async def add_child(
    svc: Service,
    account_id: int,
    name: str,
    born: date,
    *,
    ward: int = BT,
    measles: int = 0,
) -> int:
    """A child on an account, with that many measles doses given by a site."""
    async with svc.db.session_scope() as session:
        if await session.get(Site, "T-K") is None:
            session.add(
                Site(
                    id="T-K",
                    name="Trạm Y tế Bến Thành",
                    address="1 Lê Lợi",
                    province_code=79,
                    ward_code=BT,
                )
            )
            await session.flush()
        child = await child_store.add_child(
            session,
            Child(
                account_id=account_id,
                full_name=name,
                birth_date=born,
                gender="female",
                ward_code=ward,
                created_at=datetime(2026, 1, 1, tzinfo=TIMEZONE),
            ),
        )
        for number, age_days in ((1, 300), (2, 560))[:measles]:
            await child_store.add_dose(
                session,
                child_id=child.id,
                vaccine="measles",
                dose_number=number,
                given_on=born + timedelta(days=age_days),
                now=datetime(2026, 1, 1, tzinfo=TIMEZONE),
                status=child_store.GIVEN,
                site_id="T-K",
            )
        return child.id


async def family(svc: Service) -> dict[str, int]:
    """A parent with two children, and others: of every age and measles status."""
    db = svc.db
    parent = await add_account(db, "p-1")
    kids = {
        "An": await add_child(svc, parent, "Lê An", date(2023, 1, 10)),  # 3, no dose
        "Bình": await add_child(svc, parent, "Lê Bình", date(2024, 2, 2)),  # 2, no dose
        "Chi": await add_child(
            svc, await add_account(db, "p-2"), "Chi", date(2022, 5, 5), measles=2
        ),
        "Dung": await add_child(svc, await add_account(db, "p-3"), "Dung", date(2019, 6, 1)),  # 7
        "Em": await add_child(svc, await add_account(db, "p-4"), "Em", date(2026, 6, 1)),  # baby
        "Giang": await add_child(
            svc, await add_account(db, "p-5"), "Giang", date(2023, 3, 3), measles=1
        ),
        "Hà": await add_child(
            svc, await add_account(db, "p-6", consented=False), "Hà", date(2023, 4, 4)
        ),
        "Khoa": await add_child(
            svc, await add_account(db, "p-7"), "Khoa", date(2023, 5, 5), ward=SG
        ),
    }
    return kids


async def invited(svc: Service) -> list[str]:
    async with svc.db.read_scope() as session:
        rows = await session.scalars(
            select(Child.full_name)
            .join(CampaignInvitation, CampaignInvitation.child_id == Child.id)
            .order_by(CampaignInvitation.id)
        )
        return list(rows)


async def test_children_are_targeted_by_age_ward_and_status(svc: Service, clock: Clock) -> None:
    now = at(clock, TODAY, 10)
    await family(svc)
    async with svc.db.read_scope() as session:
        due = await service.count_eligible(session, MEASLES_1_5, now=now)
        none = await service.count_eligible(
            session,
            Targeting((BT,), "none", min_age=1, max_age=5, child_vaccine="measles"),
            now=now,
        )
        adults = await service.count_eligible(session, Targeting((BT,), "none"), now=now)
    assert (due, none, adults) == (3, 2, 0)  # Giang is due dose 2; children are not people
    for wrong, says in (
        (Targeting((BT,), "due", max_age=5, child_vaccine="flu"), "unknown children's vaccine"),
        (
            Targeting((BT,), "dose1_older_than:4", max_age=5, child_vaccine="measles"),
            "none or due",
        ),
        (Targeting((BT,), "due", ("nq21-5",), max_age=5, child_vaccine="measles"), "adults"),
        (Targeting((BT,), "due", child_vaccine="measles"), "maximum age under 16"),
    ):
        with pytest.raises(CampaignError, match=says):
            service.check(NewCampaign("x", wrong, "Mời", 10, TODAY), svc.settings)


async def test_a_wave_invites_each_child_once_and_the_report_counts_them(
    svc: Service, clock: Clock
) -> None:
    at(clock, TODAY, 10)
    kids = await family(svc)
    start = datetime.combine(TODAY + timedelta(days=2), time(8), TIMEZONE)
    async with svc.db.session_scope() as session:
        session.add(
            Slot(
                site_id="T-K",
                starts_at=start,
                ends_at=start + timedelta(hours=3),
                capacity=5,
                booked=0,
                purpose=child_store.CHILDREN_SESSION,
            )
        )
    campaign = await create(svc, clock, MEASLES_1_5, cap=2)
    scheduler = scheduler_of(svc, clock)
    assert await scheduler.tick() == 1
    assert await invited(svc) == ["Lê An", "Giang"]  # the oldest first, two a day
    at(clock, TODAY + timedelta(days=1), 9)
    assert await scheduler.tick() == 1
    assert await invited(svc) == ["Lê An", "Giang", "Lê Bình"]
    to_parent = await news(svc, "p-1")
    assert [m.body["text"] for m in to_parent] == [
        "Mời bà con đến tiêm.\n\nLời mời này dành cho Lê An.",
        "Mời bà con đến tiêm.\n\nLời mời này dành cho Lê Bình.",
    ]  # one message per child
    assert labels(to_parent[0].body) == ["Đặt lịch ngay", "Không tham gia"]
    async with svc.db.read_scope() as session:
        stored = await session.get(type(campaign), campaign.id)
        assert stored is not None and stored.status == "finished"  # nobody left to invite

    parent = Citizen(svc, "p-1")
    parent.after = to_parent[-1].id
    book = next(
        p for row in to_parent[0].body["buttons"] for label, p in row if label == "Đặt lịch ngay"
    )
    await svc.dispatcher.handle(parent.incoming(payload=book))
    (offer,) = await parent.replies()
    assert "Các buổi tiêm chủng cho trẻ em tại Phường Bến Thành cho bé Lê An" in offer["text"]
    await parent.press(parent.buttons()[0])
    async with svc.db.read_scope() as session:
        booking = await session.scalar(select(ChildBooking))
    assert booking is not None and booking.child_id == kids["An"]
    decline = next(
        p for row in to_parent[1].body["buttons"] for label, p in row if label == "Không tham gia"
    )
    await svc.dispatcher.handle(parent.incoming(payload=decline))
    stranger = Citizen(svc, "p-3")  # another parent cannot answer for them
    await svc.dispatcher.handle(stranger.incoming(payload=book))
    assert [b["text"] for b in await stranger.replies()] == [
        "Lời mời này không dành cho cuộc trò chuyện này, hoặc không còn hiệu lực."
    ]
    async with svc.db.read_scope() as session:
        (counts,) = await service.report(session, campaign.id)
    assert (
        counts.ward_code,
        counts.invited,
        counts.booked,
        counts.declined,
        counts.no_answer,
    ) == (
        BT,
        3,
        1,
        1,
        1,
    )


def test_cli_creates_a_children_s_campaign(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, created = _run(
        capsys,
        "campaign",
        "create",
        "--name",
        "Sởi - Rubella",
        "--ward",
        str(BT),
        "--min-age",
        "1",
        "--max-age",
        "10",
        "--children-vaccine",
        "measles",
        "--dose-status",
        "due",
        "--text-vi",
        "Mời bé đi tiêm MR.",
        "--daily-cap",
        "100",
    )
    assert code == 0 and created[0] == "created campaign 1: Sởi - Rubella"
    code, listed = _run(capsys, "campaign", "list")
    assert "ages 1-10; children, vaccine measles; dose due;" in listed[0]
    code = main(
        [
            "campaign",
            "create",
            "--name",
            "x",
            "--ward",
            str(BT),
            "--max-age",
            "10",
            "--children-vaccine",
            "polio",
            "--dose-status",
            "due",
            "--text-vi",
            "x",
            "--daily-cap",
            "1",
        ],
        clock=Clock(),
    )
    assert code == 2
    assert "unknown children's vaccine 'polio'" in capsys.readouterr().err


async def test_ward_staff_invite_children_from_the_chat(svc: Service, clock: Clock) -> None:
    at(clock, TODAY, 10)
    await family(svc)
    chat = await staff_chat(svc, "ward_staff", [BT], "ward-k")
    await chat.say("/chiendich")
    await chat.press("Tạo chiến dịch mới")
    await chat.say("Sởi - Rubella cho trẻ")
    (groups,) = await chat.say("26743")
    assert "Trẻ em (tiêm chủng mở rộng)" in groups
    assert chat.buttons() == ["Tất cả các nhóm", "Trẻ em (tiêm chủng mở rộng)"]
    (vaccine,) = await chat.press("Trẻ em (tiêm chủng mở rộng)")
    assert vaccine == "Vắc xin nào trong lịch tiêm chủng của trẻ?"
    assert "Sởi; Sởi - Rubella (MR)" in chat.buttons()
    asked = chat.last
    assert (await chat.say("soi"))[0] == "Bạn vui lòng chọn bằng các nút bên dưới."
    chat.last = asked
    (ages,) = await chat.press("Sởi; Sởi - Rubella (MR)")
    assert ages.startswith("Độ tuổi nào? Bạn vui lòng nhập khoảng tuổi tính theo năm")
    await chat.say("1-5")
    assert chat.buttons() == [
        "Trẻ chưa tiêm mũi nào: Sởi; Sởi - Rubella (MR)",
        "Trẻ đến hạn hoặc quá hạn tiêm: Sởi; Sởi - Rubella (MR)",
    ]
    await chat.press("Trẻ đến hạn hoặc quá hạn tiêm: Sởi; Sởi - Rubella (MR)")
    await chat.say("100")
    await chat.say("Trạm Y tế phường Bến Thành mời các bé từ 1 đến 5 tuổi tiêm Sởi - Rubella.")
    (preview,) = await chat.press("Không có bản tiếng Anh")
    assert "Trẻ em (tiêm chủng mở rộng): mỗi bé một lời mời, gửi đến cha mẹ" in preview
    assert "Số trẻ đủ điều kiện hiện tại: 3" in preview
    (created,) = await chat.press("Gửi")
    assert created.startswith("Đã tạo chiến dịch #1 “Sởi - Rubella cho trẻ”")
    async with svc.db.read_scope() as session:
        campaign = await session.scalar(select(Campaign))
    assert campaign is not None
    assert (campaign.child_vaccine, campaign.dose_status, campaign.groups) == (
        "measles",
        "due",
        [],
    )
    assert (campaign.min_age, campaign.max_age) == (1, 5)
    assert await scheduler_of(svc, clock).tick() == 1
    assert await invited(svc) == ["Lê An", "Giang", "Lê Bình"]
