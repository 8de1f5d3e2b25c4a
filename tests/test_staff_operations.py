"""Staff operations as a service: both kinds through compose → count → preview → confirm →
progress → report, the ward scope, and bad drafts answered as outcomes.

No chat here: what the console will call is called directly, on each database engine. The
clock stands still at 10:00 on a Thursday in Vietnam, so a campaign's first wave is due at once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import Service
from bot.domain import broadcast_batches as broadcasts
from bot.domain import staff_operations as operations
from bot.domain.staff_operations import Confirmed, Draft, Kind, Problem, Progress, Reason, Report
from bot.i18n import use_locale
from bot.messages import ChatRef, Outgoing
from bot.workers.jobs_table import JOB_KINDS
from bot.workers.scheduler import Scheduler
from storage.models import AuditEvent
from tests.audiences import add_citizens
from tests.clock import START, Clock

BT, SG = 26743, 26740  # Bến Thành, Sài Gòn (HCMC)
WARD_STAFF: operations.Scope = (BT,)
CHAT = ChatRef("telegram", "42")

ANNOUNCEMENT = Draft(kind=Kind.BROADCAST, wards=(BT,), text="Tiêm ngừa cúm miễn phí thứ Bảy.")
CAMPAIGN = Draft(
    kind=Kind.CAMPAIGN,
    wards=(BT,),
    text="Mời bà con đến tiêm mũi nhắc lại.",
    name="Mũi nhắc tháng 12",
    dose_status="none",
    daily_cap=2,
)


@pytest.fixture
def clock() -> Clock:
    """A clock that stands still at START (daytime in Vietnam)."""
    return Clock(START, ticking=False)


async def _citizens(svc: Service) -> None:
    """Three citizens in Bến Thành, two in Sài Gòn."""
    await add_citizens(svc.db, [101, 102, 103], ward=BT)
    await add_citizens(svc.db, [201, 202], ward=SG)


async def _audits(svc: Service) -> list[tuple[str, str]]:
    async with svc.db.read_scope() as session:
        rows = await session.execute(select(AuditEvent.action, AuditEvent.actor))
        return [(action, actor) for action, actor in rows.all()]


async def _through_count(svc: Service, draft: Draft, clock: Clock) -> int:
    """compose, then audience_count, for a ward staff member of Bến Thành."""
    assert operations.compose(draft, WARD_STAFF, now=clock(), settings=svc.settings) is None
    async with svc.db.read_scope() as session:
        count = await operations.audience_count(session, draft, WARD_STAFF, now=clock())
    assert isinstance(count, int)
    return count


async def _confirm(svc: Service, draft: Draft, clock: Clock, scope: operations.Scope) -> object:
    async with svc.db.session_scope() as session:
        return await operations.confirm(
            session, draft, scope=scope, actor="tester", now=clock(), settings=svc.settings
        )


async def _progress_and_report(
    svc: Service, kind: Kind, number: int
) -> tuple[Progress | Problem, Report | Problem]:
    async with svc.db.read_scope() as session:
        with use_locale("en"):
            return (
                await operations.progress(session, kind, number, WARD_STAFF),
                await operations.report(session, kind, number, WARD_STAFF),
            )


async def test_a_broadcast_through_every_step(svc: Service, clock: Clock) -> None:
    await _citizens(svc)
    assert await _through_count(svc, ANNOUNCEMENT, clock) == 3
    with use_locale("vi"):
        shown = operations.preview(ANNOUNCEMENT, CHAT)
    assert isinstance(shown, Outgoing)
    assert shown.chat == CHAT
    assert "Bến Thành" in shown.text and ANNOUNCEMENT.text in shown.text
    assert "/tatthongbao" in shown.text

    done = await _confirm(svc, ANNOUNCEMENT, clock, WARD_STAFF)
    assert isinstance(done, Confirmed) and done.kind == Kind.BROADCAST
    assert done.starts_at == clock()
    assert await _audits(svc) == [("broadcast_sent", "tester")]

    await Scheduler(svc.db, JOB_KINDS, settings=svc.settings, clock=clock).tick()
    progress, report = await _progress_and_report(svc, Kind.BROADCAST, done.id)
    assert isinstance(progress, Progress) and isinstance(report, Report)
    assert (progress.status, progress.reached, progress.remaining) == ("sending", 0, 3)
    assert isinstance(report.figures, broadcasts.Report) and report.figures.planned == 3
    assert report.lines[1:3] == ("Recipients: 3", "Sent: 0")


async def test_a_campaign_through_every_step(svc: Service, clock: Clock) -> None:
    await _citizens(svc)
    assert await _through_count(svc, CAMPAIGN, clock) == 3
    with use_locale("en"):
        shown = operations.preview(CAMPAIGN, CHAT)
    assert isinstance(shown, Outgoing)
    assert shown.text.startswith(CAMPAIGN.text)
    assert operations.EXAMPLE_PERSON in shown.text
    assert [b.label for b in shown.buttons[0]] == ["Book now", "Not taking part"]

    done = await _confirm(svc, CAMPAIGN, clock, WARD_STAFF)
    assert isinstance(done, Confirmed) and done.kind == Kind.CAMPAIGN
    assert done.starts_at == clock()  # daytime: the first wave goes at once
    assert await _audits(svc) == [("campaign_created", "tester")]

    await Scheduler(svc.db, JOB_KINDS, settings=svc.settings, clock=clock).tick()
    progress, report = await _progress_and_report(svc, Kind.CAMPAIGN, done.id)
    assert isinstance(progress, Progress) and isinstance(report, Report)
    assert (progress.status, progress.reached, progress.remaining) == ("active", 2, None)
    assert report.lines[0] == f"Campaign #{done.id} “{CAMPAIGN.name}” (running):"
    assert report.lines[-1] == (
        "Total: invited 2, booked 0, declined 0, no answer 2, unreachable 0"
    )


@pytest.mark.parametrize("draft", [ANNOUNCEMENT, CAMPAIGN], ids=["broadcast", "campaign"])
async def test_a_ward_officer_cannot_reach_another_ward(
    svc: Service, clock: Clock, draft: Draft
) -> None:
    await _citizens(svc)
    elsewhere = replace(draft, wards=(BT, SG))
    out = Problem(Reason.OUT_OF_SCOPE, "some of these wards are outside the scope")
    assert operations.compose(elsewhere, WARD_STAFF, now=clock(), settings=svc.settings) == out
    async with svc.db.read_scope() as session:
        assert await operations.audience_count(session, elsewhere, WARD_STAFF, now=clock()) == out
    assert await _confirm(svc, elsewhere, clock, WARD_STAFF) == out
    no_wards = await _confirm(svc, draft, clock, ())
    assert isinstance(no_wards, Problem) and no_wards.reason == Reason.NO_WARDS
    assert await _audits(svc) == []  # nothing was created
    # An admin (no scope) reaches both wards.
    async with svc.db.read_scope() as session:
        assert await operations.audience_count(session, elsewhere, None, now=clock()) == 5


async def test_a_province_wide_announcement_is_for_admins_only(svc: Service, clock: Clock) -> None:
    await _citizens(svc)
    province = replace(ANNOUNCEMENT, wards=(), province=79)
    refused = operations.compose(province, WARD_STAFF, now=clock(), settings=svc.settings)
    assert isinstance(refused, Problem) and refused.reason == Reason.OUT_OF_SCOPE
    assert operations.compose(province, None, now=clock(), settings=svc.settings) is None
    done = await _confirm(svc, province, clock, None)
    assert isinstance(done, Confirmed)
    async with svc.db.read_scope() as session:  # nor can ward staff see it afterwards
        assert await operations.find(session, Kind.BROADCAST, done.id, WARD_STAFF) is None
        unknown = await operations.report(session, Kind.BROADCAST, done.id, WARD_STAFF)
        assert isinstance(unknown, Problem) and unknown.reason == Reason.UNKNOWN
        assert await operations.find(session, Kind.BROADCAST, done.id, None) is not None


@pytest.mark.parametrize(
    ("draft", "detail"),
    [
        (replace(ANNOUNCEMENT, text=" "), "the text must be 1 to 1000 characters"),
        (replace(ANNOUNCEMENT, wards=(99999,)), "no current ward or province"),
        (replace(ANNOUNCEMENT, send_at=START + timedelta(days=31)), "within 30 days"),
        (replace(CAMPAIGN, name=""), "the name must be 1 to 80 characters"),
        (replace(CAMPAIGN, dose_status="some"), "dose status must be"),
        (replace(CAMPAIGN, daily_cap=0), "the daily cap must be 1 to"),
        (replace(CAMPAIGN, groups=("nobody",)), "unknown priority group"),
        (replace(CAMPAIGN, wards=(), province=79), "not a whole province"),
    ],
    ids=["blank", "no-ward", "too-far", "no-name", "dose", "cap", "group", "province"],
)
async def test_bad_drafts_are_answered_as_outcomes(
    svc: Service, clock: Clock, draft: Draft, detail: str
) -> None:
    found = operations.compose(draft, None, now=clock(), settings=svc.settings)
    assert isinstance(found, Problem) and found.reason == Reason.INVALID
    assert detail in found.detail
    refused = await _confirm(svc, draft, clock, None)
    assert isinstance(refused, Problem) and refused.reason == Reason.INVALID
    assert await _audits(svc) == []


async def test_an_unknown_area_is_no_preview(clock: Clock) -> None:
    shown = operations.preview(replace(ANNOUNCEMENT, wards=(99999,)), CHAT)
    assert isinstance(shown, Problem) and shown.reason == Reason.INVALID


async def test_unknown_operations_are_outcomes(svc: Service) -> None:
    for kind in Kind:
        progress, report = await _progress_and_report(svc, kind, 404)
        assert isinstance(progress, Problem) and progress.reason == Reason.UNKNOWN
        assert isinstance(report, Problem) and report.reason == Reason.UNKNOWN
