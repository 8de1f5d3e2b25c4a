"""Staff operations: ward announcements and invitation campaigns behind one shape.

compose → audience_count → preview → confirm → progress → report, for both kinds. The chat
flows (`bot.handlers.broadcasts`, `bot.handlers.campaigns`) call these today, the command line
for what it shares, and the staff console tomorrow. Each step takes the staff member's ward
scope (None: any ward, as for an admin) and answers a draft that cannot go ahead with a
`Problem` value, never an exception. What differs between the kinds lives in one small class
each (`Operation`), found through the `OPERATIONS` table; creating, auditing and sending stay
with `bot.domain.broadcast_batches` and `bot.domain.campaign_waves`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.domain import broadcast_batches as broadcasts
from bot.domain import campaign_waves as campaigns
from bot.i18n import _, format_moment, local_day
from bot.messages import ChatRef, Outgoing
from bot.vn import divisions
from storage import broadcasts as broadcast_store
from storage import campaigns as campaign_store
from storage import staff
from storage.broadcasts import Audience
from storage.campaigns import ACTIVE, CANCELLED, FINISHED, PAUSED, WardCounts
from storage.models import Broadcast, Campaign

Scope = tuple[int, ...] | None  # a ward staff member's wards; None: any ward (admin)
LOOKED_AT = 200  # `recent` looks at this many of the newest of a kind ...
SHOWN = 10  # ... and gives at most this many within the scope
EXAMPLE_PERSON = "Nguyễn Văn A"
TWIN_WINDOW = timedelta(
    minutes=10
)  # the same operation again within it is not made twice  # the name under a campaign's preview


class Kind(StrEnum):
    """What staff send: one announcement to everyone, or invitations in daily waves."""

    BROADCAST = "broadcast"
    CAMPAIGN = "campaign"


class Reason(StrEnum):
    """Why a step cannot go ahead."""

    NO_WARDS = "no_wards"  # ward staff with no ward in their scope yet
    OUT_OF_SCOPE = "out_of_scope"  # a ward (or a province) outside the staff member's scope
    INVALID = "invalid"  # the draft itself cannot work (the detail says why)
    UNKNOWN = "unknown"  # no such operation, or one outside the scope


@dataclass(frozen=True)
class Problem:
    """A step's refusal: the reason, and a detail in English (for the command line, logs)."""

    reason: Reason
    detail: str = ""


@dataclass(frozen=True)
class Picture:
    """A broadcast's picture: its bytes and/or the platform's id of it on one channel."""

    data: bytes | None = None
    file_id: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class Draft:
    """An operation as staff composed it, not yet sent.

    Both kinds: the audience (`wards`, `groups`) and the text. Broadcasts: or a whole
    `province` instead of wards, `send_at` (None: now), a `picture`, and the `staff_chat` that
    sees the progress. Campaigns: a `name`, the English text, the ages and dose status they
    invite, the daily cap and the first day (`starts_on`, None: today); `child_vaccine` makes
    it a children's campaign (`bot.domain.immunisation.child_campaigns`).
    """

    kind: Kind
    wards: tuple[int, ...]
    text: str
    groups: tuple[str, ...] = ()
    province: int | None = None
    send_at: datetime | None = None
    picture: Picture | None = None
    staff_chat: ChatRef | None = None
    name: str = ""
    text_en: str | None = None
    min_age: int = 0
    max_age: int | None = None
    dose_status: str = ""
    daily_cap: int = 0
    starts_on: date | None = None
    child_vaccine: str | None = None


@dataclass(frozen=True)
class Confirmed:
    """A created operation: its id, when its first messages go, and its stored row."""

    kind: Kind
    id: int
    starts_at: datetime
    record: Broadcast | Campaign


@dataclass(frozen=True)
class Progress:
    """How far an operation got: messages sent (broadcasts) or people invited (campaigns)."""

    kind: Kind
    id: int
    status: str
    reached: int
    remaining: int | None  # still to send; None where it is decided wave by wave (campaigns)


@dataclass(frozen=True)
class Report:
    """An operation's figures, and the lines staff read them in (the current locale)."""

    kind: Kind
    id: int
    status: str
    lines: tuple[str, ...]
    figures: broadcasts.Report | tuple[WardCounts, ...]


# ---------------------------------------------------------------- words shared by both kinds


def ward_name(code: int) -> str:
    """A ward with its code, as staff read it: `Phường Bến Thành (26743)`."""
    try:
        return f"{divisions.ward(code).name} ({code})"
    except KeyError:
        return str(code)


def campaign_status(status: str) -> str:
    """A campaign's status in words, in the current locale."""
    labels = {
        ACTIVE: _("running"),
        PAUSED: _("paused"),
        FINISHED: _("finished"),
        CANCELLED: _("cancelled"),
    }
    return labels.get(status, status)


def scope_problem(draft: Draft, scope: Scope) -> Problem | None:
    """Why this staff scope may not reach the draft's audience, if it may not."""
    if scope is None:
        return None
    if not scope:
        return Problem(Reason.NO_WARDS, "no ward is in this staff member's scope")
    if draft.province is not None or not staff.within_scope(draft.wards, scope):
        return Problem(Reason.OUT_OF_SCOPE, "some of these wards are outside the scope")
    return None


# ---------------------------------------------------------------- one class a kind


class Operation(Protocol):
    """What one kind does at each step (the scope is checked before, once, for both)."""

    def problem(self, draft: Draft, *, now: datetime, settings: Settings) -> str | None:
        """Why the draft cannot work, in English; None if it can."""

    async def count(self, session: AsyncSession, draft: Draft, *, now: datetime) -> int:
        """How many the draft reaches now."""

    def preview(self, draft: Draft, chat: ChatRef) -> Outgoing:
        """The message as a citizen on `chat` will see it (the current locale)."""

    async def create(
        self, session: AsyncSession, draft: Draft, *, actor: str, now: datetime, settings: Settings
    ) -> Confirmed:
        """Store, schedule and audit it (raises the service's error if it cannot work)."""

    async def find(self, session: AsyncSession, number: int) -> Broadcast | Campaign | None:
        """A stored operation by id."""

    def wards_of(self, record: Broadcast | Campaign) -> Sequence[int] | None:
        """The wards a stored operation reaches; None: more (a whole province)."""

    async def recent(self, session: AsyncSession) -> Sequence[Broadcast | Campaign]:
        """The newest stored operations first (`LOOKED_AT` of them)."""

    async def progress(self, session: AsyncSession, record: Broadcast | Campaign) -> Progress:
        """How far it got."""

    async def report(self, session: AsyncSession, record: Broadcast | Campaign) -> Report:
        """Its figures and their lines."""


class _Broadcasts:
    """Ward announcements (`bot.domain.broadcast_batches`)."""

    @staticmethod
    def draft(draft: Draft, *, now: datetime) -> broadcasts.Draft:
        picture = draft.picture or Picture()
        return broadcasts.Draft(
            text=draft.text,
            audience=Audience(draft.wards, draft.province, draft.groups),
            send_at=draft.send_at or now,
            image=picture.data,
            image_file_id=picture.file_id,
            image_channel=picture.channel,
            staff_chat=draft.staff_chat,
        )

    def problem(self, draft: Draft, *, now: datetime, settings: Settings) -> str | None:
        try:
            broadcasts.check(self.draft(draft, now=now), now=now)
        except broadcasts.BroadcastError as error:
            return str(error)
        return None

    async def count(self, session: AsyncSession, draft: Draft, *, now: datetime) -> int:
        audience = Audience(draft.wards, draft.province, draft.groups)
        return await broadcast_store.count_recipients(session, audience)

    def preview(self, draft: Draft, chat: ChatRef) -> Outgoing:
        picture = draft.picture or Picture()
        return broadcasts.announcement(
            text=draft.text,
            area=broadcasts.area_name(Audience(draft.wards, draft.province, draft.groups)),
            chat=chat,
            image=picture.data,
            image_file_id=picture.file_id,
            image_channel=picture.channel,
        )

    async def create(
        self, session: AsyncSession, draft: Draft, *, actor: str, now: datetime, settings: Settings
    ) -> Confirmed:
        made = await broadcasts.create(session, self.draft(draft, now=now), actor=actor, now=now)
        return Confirmed(Kind.BROADCAST, made.id, made.send_at, made)

    async def find(self, session: AsyncSession, number: int) -> Broadcast | None:
        return await broadcast_store.get_broadcast(session, number)

    def wards_of(self, record: Broadcast | Campaign) -> Sequence[int] | None:
        assert isinstance(record, Broadcast)
        return record.wards if record.province_code is None else None

    async def recent(self, session: AsyncSession) -> Sequence[Broadcast]:
        return await broadcast_store.list_broadcasts(session, limit=LOOKED_AT)

    async def progress(self, session: AsyncSession, record: Broadcast | Campaign) -> Progress:
        assert isinstance(record, Broadcast)
        result = await broadcasts.report(session, record)
        return Progress(Kind.BROADCAST, record.id, record.status, result.sent, result.waiting)

    async def report(self, session: AsyncSession, record: Broadcast | Campaign) -> Report:
        assert isinstance(record, Broadcast)
        result = await broadcasts.report(session, record)
        lines = tuple(broadcasts.report_lines(record, result))
        return Report(Kind.BROADCAST, record.id, record.status, lines, result)


class _Campaigns:
    """Invitation campaigns (`bot.domain.campaign_waves`)."""

    @staticmethod
    def new(draft: Draft, *, now: datetime) -> campaigns.NewCampaign:
        return campaigns.NewCampaign(
            name=draft.name,
            targeting=campaigns.Targeting(
                wards=draft.wards,
                dose_status=draft.dose_status,
                groups=draft.groups,
                min_age=draft.min_age,
                max_age=draft.max_age,
                child_vaccine=draft.child_vaccine,
            ),
            text_vi=draft.text,
            text_en=draft.text_en,
            daily_cap=draft.daily_cap,
            starts_on=draft.starts_on or local_day(now),
        )

    def problem(self, draft: Draft, *, now: datetime, settings: Settings) -> str | None:
        if draft.province is not None:
            return "a campaign targets wards, not a whole province"
        try:
            campaigns.check(self.new(draft, now=now), settings)
        except campaigns.CampaignError as error:
            return str(error)
        return None

    async def count(self, session: AsyncSession, draft: Draft, *, now: datetime) -> int:
        return await campaigns.count_eligible(session, self.new(draft, now=now).targeting, now=now)

    def preview(self, draft: Draft, chat: ChatRef) -> Outgoing:
        shown = Campaign(name=draft.name, text_vi=draft.text, text_en=draft.text_en)
        return Outgoing(
            chat,
            campaigns.invitation_text(shown, EXAMPLE_PERSON),
            buttons=tuple(tuple(row) for row in campaigns.invitation_buttons(0)),
        )

    async def create(
        self, session: AsyncSession, draft: Draft, *, actor: str, now: datetime, settings: Settings
    ) -> Confirmed:
        made, first = await campaigns.create_campaign(
            session, self.new(draft, now=now), actor=actor, now=now, settings=settings
        )
        return Confirmed(Kind.CAMPAIGN, made.id, first, made)

    async def find(self, session: AsyncSession, number: int) -> Campaign | None:
        return await campaign_store.get_campaign(session, number)

    def wards_of(self, record: Broadcast | Campaign) -> Sequence[int] | None:
        return record.wards

    async def recent(self, session: AsyncSession) -> Sequence[Campaign]:
        return await campaign_store.list_campaigns(session, limit=LOOKED_AT)

    async def progress(self, session: AsyncSession, record: Broadcast | Campaign) -> Progress:
        invited = await campaign_store.invited_counts(session, [record.id])
        return Progress(Kind.CAMPAIGN, record.id, record.status, invited.get(record.id, 0), None)

    async def report(self, session: AsyncSession, record: Broadcast | Campaign) -> Report:
        assert isinstance(record, Campaign)
        counts = tuple(await campaigns.report(session, record.id))
        return Report(
            Kind.CAMPAIGN, record.id, record.status, tuple(_campaign_lines(record, counts)), counts
        )


def _campaign_lines(campaign: Campaign, counts: Sequence[WardCounts]) -> list[str]:
    """A campaign's report: a headline, then one line a ward and the total."""
    lines = [
        _("Campaign #{id} “{name}” ({status}):").format(
            id=campaign.id, name=campaign.name, status=campaign_status(campaign.status)
        )
    ]
    if not counts:
        lines.append(_("Nobody has been invited yet."))
        return lines
    line = _(
        "{ward}: invited {invited}, booked {booked}, declined {declined}, no answer "
        "{no_answer}, unreachable {unreachable}"
    )
    for ward in [*counts, campaigns.total(counts)]:
        lines.append(
            line.format(
                ward=ward_name(ward.ward_code) if ward.ward_code else _("Total"),
                invited=ward.invited,
                booked=ward.booked,
                declined=ward.declined,
                no_answer=ward.no_answer,
                unreachable=ward.unreachable,
            )
        )
    return lines


OPERATIONS: dict[Kind, Operation] = {Kind.BROADCAST: _Broadcasts(), Kind.CAMPAIGN: _Campaigns()}


# ---------------------------------------------------------------- the steps


def compose(draft: Draft, scope: Scope, *, now: datetime, settings: Settings) -> Problem | None:
    """Check a whole draft for this scope: None if it can be sent, else the problem."""
    problem = scope_problem(draft, scope)
    if problem is not None:
        return problem
    detail = OPERATIONS[draft.kind].problem(draft, now=now, settings=settings)
    return Problem(Reason.INVALID, detail) if detail is not None else None


async def audience_count(
    session: AsyncSession, draft: Draft, scope: Scope, *, now: datetime
) -> int | Problem:
    """How many the draft reaches now (people who turned announcements off left out)."""
    problem = scope_problem(draft, scope)
    if problem is not None:
        return problem
    return await OPERATIONS[draft.kind].count(session, draft, now=now)


def preview(draft: Draft, chat: ChatRef) -> Outgoing | Problem:
    """The message exactly as a citizen on `chat` will see it, in the current locale."""
    try:
        return OPERATIONS[draft.kind].preview(draft, chat)
    except broadcasts.BroadcastError as error:  # an area code that is no current ward
        return Problem(Reason.INVALID, str(error))


async def confirm(
    session: AsyncSession,
    draft: Draft,
    *,
    scope: Scope,
    actor: str,
    now: datetime,
    settings: Settings,
) -> Confirmed | Problem:
    """Create the operation (scope checked again, audited by its service), or the problem."""
    problem = scope_problem(draft, scope)
    if problem is not None:
        return problem
    try:
        return await OPERATIONS[draft.kind].create(
            session, draft, actor=actor, now=now, settings=settings
        )
    except (broadcasts.BroadcastError, campaigns.CampaignError) as error:
        return Problem(Reason.INVALID, str(error))


def in_scope(kind: Kind, record: Broadcast | Campaign, scope: Scope) -> bool:
    """Whether a stored operation lies within a staff scope (a province: admins only)."""
    if scope is None:
        return True
    wards = OPERATIONS[kind].wards_of(record)
    return wards is not None and staff.within_scope(wards, scope)


async def find(
    session: AsyncSession, kind: Kind, number: int, scope: Scope
) -> Broadcast | Campaign | None:
    """A stored operation by id, if it lies within the scope."""
    record = await OPERATIONS[kind].find(session, number) if number else None
    return record if record is not None and in_scope(kind, record, scope) else None


async def recent(
    session: AsyncSession, kind: Kind, scope: Scope, *, shown: int = SHOWN
) -> list[Broadcast | Campaign]:
    """The newest operations of a kind within the scope, at most `shown`."""
    found = await OPERATIONS[kind].recent(session)
    return [record for record in found if in_scope(kind, record, scope)][:shown]


async def twin(
    session: AsyncSession, draft: Draft, scope: Scope, *, actor: str, now: datetime
) -> int | None:
    """The same operation `actor` created in the last `TWIN_WINDOW` (its id), if any.

    The same wards and the same text (announcements) or name (campaigns): a second press of
    "Send", or a form sent again, finds the first one rather than making another.
    """
    for record in await recent(session, draft.kind, scope, shown=SHOWN):
        same = (
            record.text == draft.text
            if isinstance(record, Broadcast)
            else (record.name == draft.name)
        )
        if (
            same
            and record.created_by == actor[:120]
            and tuple(record.wards) == draft.wards
            and record.created_at >= now - TWIN_WINDOW
        ):
            return record.id
    return None


async def progress(
    session: AsyncSession, kind: Kind, number: int, scope: Scope
) -> Progress | Problem:
    """How far an operation got (the figures of the chat's progress message)."""
    record = await find(session, kind, number, scope)
    if record is None:
        return Problem(Reason.UNKNOWN, f"no {kind} {number} within the scope")
    return await OPERATIONS[kind].progress(session, record)


async def report(session: AsyncSession, kind: Kind, number: int, scope: Scope) -> Report | Problem:
    """An operation's report (the figures and lines the chat shows)."""
    record = await find(session, kind, number, scope)
    if record is None:
        return Problem(Reason.UNKNOWN, f"no {kind} {number} within the scope")
    return await report_of(session, kind, record)


async def report_of(session: AsyncSession, kind: Kind, record: Broadcast | Campaign) -> Report:
    """The report of an operation already found (with `find`, so within the scope)."""
    return await OPERATIONS[kind].report(session, record)


def when_label(at: datetime, *, now: datetime) -> str:
    """When an operation starts, as staff read it: "now" or the moment."""
    return _("now") if at <= now else format_moment(at)
