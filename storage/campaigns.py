"""Invitation campaigns and their invitations: who is eligible, who was invited, the report.

Eligibility is one query over `people` (by the ward index) with correlated lookups of each
candidate's doses, bookings and invitations on their own indexes, so its cost follows the
people of the targeted wards, never the whole tables, and nothing is looped over in Python.
The rules it applies come in as plain values (`Eligibility`): the dose rules of
`bot.domain.vaccines` arrive as cut-off dates computed for the day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Subquery,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    join,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage import bookings
from storage.models import (
    Account,
    Booking,
    Campaign,
    CampaignInvitation,
    Child,
    ChildBooking,
    ChildDose,
    OutboxMessage,
    Person,
    Vaccination,
    table,
)

ACTIVE, PAUSED, FINISHED, CANCELLED = "active", "paused", "finished", "cancelled"
INVITED, ACCEPTED, DECLINED = "invited", "accepted", "declined"
# A booking that was made (whatever came of it) counts; a cancelled one does not.
MADE_BOOKINGS = (bookings.ACTIVE, bookings.ATTENDED, bookings.MISSED)
UNDELIVERED = ("failed", "blocked", "dropped")

_INVITATIONS = table(CampaignInvitation)
_INSERT = insert(_INVITATIONS).returning(_INVITATIONS.c.id, sort_by_parameter_order=True)
_SET_OUTBOX = (
    update(_INVITATIONS)
    .where(_INVITATIONS.c.id == bindparam("invitation"))
    .values(outbox_id=bindparam("message"))
)


# ---------------------------------------------------------------- who is eligible


@dataclass(frozen=True)
class NoDose:
    """Nobody who has any dose on record."""


@dataclass(frozen=True)
class FirstDoseBefore:
    """Exactly one dose on record, given on or before `cutoff`."""

    cutoff: date


@dataclass(frozen=True)
class NextDoseDue:
    """The next dose may be given today (see `bot.domain.vaccines.next_dose`).

    Attributes:
        primary: First dose's product -> (doses in its primary series, the latest day the
            last dose may have been given for the next primary dose to be due today).
        unknown_primary: Primary series length assumed for an unknown product.
        boosters: Booster doses offered after the primary series.
        booster_cutoff: The latest day of the last dose for a booster to be due today.
    """

    primary: Mapping[str, tuple[int, date]]
    unknown_primary: int
    boosters: int
    booster_cutoff: date


DoseRule = NoDose | FirstDoseBefore | NextDoseDue


@dataclass(frozen=True)
class Eligibility:
    """Whom a campaign may invite today."""

    wards: Sequence[int]
    born_on_or_before: date  # the minimum age
    doses: DoseRule
    groups: Sequence[str] = field(default=())  # empty: every priority group
    born_after: date | None = None  # the maximum age, if any


def _dose_history(wards: Sequence[int]) -> Subquery:
    """Per person of the wards: doses on record, the last day one was given, dose 1's product.

    One grouped pass over the wards' doses, joined once, instead of a handful of correlated
    lookups per candidate (the "due" rule needs all three).
    """
    doses = Vaccination
    return (
        select(
            doses.person_id.label("person_id"),
            func.count().label("given"),
            func.max(doses.given_on).label("last"),
            func.max(case((doses.dose_number == 1, doses.product))).label("first"),
        )
        .join(Person, Person.id == doses.person_id)
        .where(Person.ward_code.in_(list(wards)))
        .group_by(doses.person_id)
        .subquery("history")
    )


def _due(rule: NextDoseDue, history: Subquery) -> ColumnElement[bool]:
    """The `next_dose` rules over a person's history, as one condition."""
    given = func.coalesce(history.c.given, 0)
    last, first = history.c["last"], func.coalesce(history.c.first, "")
    known = first.in_(list(rule.primary))
    primary = case(
        {product: n for product, (n, _cutoff) in rule.primary.items()},
        value=first,
        else_=rule.unknown_primary,
    )
    primary_cutoff = case(
        {product: cutoff for product, (_n, cutoff) in rule.primary.items()}, value=first
    )
    return or_(
        given == 0,
        and_(known, given < primary, last <= primary_cutoff),
        and_(
            or_(~known, given >= primary),
            given < primary + rule.boosters,
            last <= rule.booster_cutoff,
        ),
    )


def _query(
    rule: Eligibility, campaign_id: int | None
) -> tuple[FromClause, list[ColumnElement[bool]]]:
    """What to select from, and the conditions, for the people a rule selects.

    People on a consented, reachable account, without an active booking, matching the rule,
    and not yet invited by the campaign (if one is given).
    """
    source: FromClause = join(Person, Account, Account.id == Person.account_id)
    conditions: list[ColumnElement[bool]] = [
        Person.ward_code.in_(list(rule.wards)),
        Person.birth_date <= rule.born_on_or_before,
        Account.consent_version.is_not(None),
        Account.unreachable_at.is_(None),
        ~exists().where(Booking.person_id == Person.id, Booking.status == bookings.ACTIVE),
    ]
    doses, mine = rule.doses, Vaccination.person_id == Person.id
    if isinstance(doses, NoDose):
        conditions.append(~exists().where(mine))
    elif isinstance(doses, FirstDoseBefore):
        conditions.append(
            exists().where(
                mine, Vaccination.dose_number == 1, Vaccination.given_on <= doses.cutoff
            )
        )
        conditions.append(~exists().where(mine, Vaccination.dose_number != 1))
    else:
        history = _dose_history(rule.wards)
        source = source.outerjoin(history, history.c.person_id == Person.id)
        conditions.append(_due(doses, history))
    if rule.groups:
        conditions.append(Person.priority_group.in_(list(rule.groups)))
    if rule.born_after is not None:
        conditions.append(Person.birth_date > rule.born_after)
    if campaign_id is not None:
        conditions.append(
            ~exists().where(
                CampaignInvitation.campaign_id == campaign_id,
                CampaignInvitation.person_id == Person.id,
            )
        )
    return source, conditions


async def eligible(
    session: AsyncSession, rule: Eligibility, *, campaign_id: int | None, limit: int
) -> list[tuple[Person, Account]]:
    """Up to `limit` eligible people not yet invited by the campaign, oldest people first."""
    source, conditions = _query(rule, campaign_id)
    rows = await session.execute(
        select(Person, Account)
        .select_from(source)
        .where(*conditions)
        .order_by(Person.birth_date, Person.id)
        .limit(limit)
    )
    return [(person, account) for person, account in rows]


async def count_eligible(
    session: AsyncSession, rule: Eligibility, *, campaign_id: int | None = None
) -> int:
    """How many people the rule selects now (not yet invited by the campaign, if given)."""
    source, conditions = _query(rule, campaign_id)
    count = await session.scalar(select(func.count()).select_from(source).where(*conditions))
    return int(count or 0)


@dataclass(frozen=True)
class ChildEligibility:
    """Which children a children's campaign may invite today (before the rules engine's say).

    Children of the wards born in (`born_after`, `born_on_or_before`], on a consented,
    reachable account, without a booked children's session, not yet invited by the campaign;
    with `no_dose`, only those with no dose of `vaccine` on record.
    """

    wards: Sequence[int]
    born_on_or_before: date
    born_after: date | None
    vaccine: str
    no_dose: bool


async def eligible_children(
    session: AsyncSession,
    rule: ChildEligibility,
    *,
    campaign_id: int | None,
    limit: int,
    after: tuple[date, int] | None = None,
) -> list[tuple[Child, Account]]:
    """Up to `limit` such children, oldest first, after (birth date, id) `after` (paging)."""
    conditions: list[ColumnElement[bool]] = [
        Child.ward_code.in_(list(rule.wards)),
        Child.birth_date <= rule.born_on_or_before,
        Account.consent_version.is_not(None),
        Account.unreachable_at.is_(None),
        ~exists().where(ChildBooking.child_id == Child.id, ChildBooking.status == "booked"),
    ]
    if rule.born_after is not None:
        conditions.append(Child.birth_date > rule.born_after)
    if rule.no_dose:
        conditions.append(
            ~exists().where(ChildDose.child_id == Child.id, ChildDose.vaccine == rule.vaccine)
        )
    if campaign_id is not None:
        conditions.append(
            ~exists().where(
                CampaignInvitation.campaign_id == campaign_id,
                CampaignInvitation.child_id == Child.id,
            )
        )
    if after is not None:
        conditions.append(tuple_(Child.birth_date, Child.id) > tuple_(*after))
    rows = await session.execute(
        select(Child, Account)
        .join(Account, Account.id == Child.account_id)
        .where(*conditions)
        .order_by(Child.birth_date, Child.id)
        .limit(limit)
    )
    return [(child, account) for child, account in rows]


# ---------------------------------------------------------------- campaigns


async def add_campaign(session: AsyncSession, campaign: Campaign) -> Campaign:
    """Store a new campaign and give it an id."""
    session.add(campaign)
    await session.flush()
    return campaign


async def get_campaign(session: AsyncSession, campaign_id: int) -> Campaign | None:
    """A campaign by id."""
    return await session.get(Campaign, campaign_id)


async def list_campaigns(session: AsyncSession, *, limit: int | None = None) -> Sequence[Campaign]:
    """Campaigns, newest first."""
    statement = select(Campaign).order_by(Campaign.id.desc())
    if limit is not None:
        statement = statement.limit(limit)
    return (await session.scalars(statement)).all()


async def change_status(
    session: AsyncSession, campaign: Campaign, status: str, *, allowed_from: Sequence[str]
) -> bool:
    """Move a campaign to `status` if it is in one of `allowed_from`; False if it was not.

    One conditional UPDATE, so two staff pressing at once (or a wave finishing the campaign
    while it is paused) change it once.
    """
    result = await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status.in_(list(allowed_from)))
        .values(status=status)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    campaign.status = status
    return True


# ---------------------------------------------------------------- invitations


@dataclass(frozen=True, slots=True)
class NewInvitation:
    """An invitation to write."""

    person_id: int | None
    account_id: int
    ward_code: int
    child_id: int | None = None


async def add_invitations(
    session: AsyncSession, campaign_id: int, people: Sequence[NewInvitation], *, now: datetime
) -> list[int]:
    """Write invitations (one statement); their ids in the order given."""
    if not people:
        return []
    rows = [
        {
            "campaign_id": campaign_id,
            "person_id": p.person_id,
            "account_id": p.account_id,
            "ward_code": p.ward_code,
            "child_id": p.child_id,
            "status": INVITED,
            "invited_at": now,
        }
        for p in people
    ]
    return list((await session.execute(_INSERT, rows)).scalars())


async def link_messages(session: AsyncSession, pairs: Sequence[tuple[int, int]]) -> None:
    """Remember each invitation's outbox row: (invitation id, outbox id) pairs."""
    if pairs:
        await session.execute(
            _SET_OUTBOX, [{"invitation": inv, "message": msg} for inv, msg in pairs]
        )


async def invited_since(session: AsyncSession, campaign_id: int, *, since: datetime) -> int:
    """How many invitations the campaign wrote from `since` on (today's wave so far)."""
    count = await session.scalar(
        select(func.count())
        .select_from(CampaignInvitation)
        .where(
            CampaignInvitation.campaign_id == campaign_id,
            CampaignInvitation.invited_at >= since,
        )
    )
    return int(count or 0)


async def invited_counts(session: AsyncSession, campaign_ids: Sequence[int]) -> dict[int, int]:
    """How many people each campaign invited so far."""
    if not campaign_ids:
        return {}
    rows = await session.execute(
        select(CampaignInvitation.campaign_id, func.count())
        .where(CampaignInvitation.campaign_id.in_(list(campaign_ids)))
        .group_by(CampaignInvitation.campaign_id)
    )
    return {campaign_id: int(count) for campaign_id, count in rows}


async def get_invitation(session: AsyncSession, invitation_id: int) -> CampaignInvitation | None:
    """An invitation by id."""
    return await session.get(CampaignInvitation, invitation_id)


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class WardCounts:
    """What came of a campaign's invitations in one ward.

    Every invitation falls in exactly one of booked, declined, unreachable and no answer,
    in that order of precedence: someone who declined and booked later counts as booked.
    """

    ward_code: int
    booked: int = 0
    declined: int = 0
    unreachable: int = 0
    no_answer: int = 0

    @property
    def invited(self) -> int:
        """Everyone invited in the ward."""
        return self.booked + self.declined + self.unreachable + self.no_answer


async def report(session: AsyncSession, campaign_id: int) -> list[WardCounts]:
    """Per ward (by code), what came of the campaign's invitations so far.

    Booked: a booking made (not cancelled) or a dose recorded since the invitation, whether
    through its button or not (a child: a children's session booked, or a dose a site recorded).
    Unreachable: the account was erased or marked unreachable, or the invitation could not be
    delivered. No answer: the rest (including "Đặt lịch ngay"
    pressed without finishing the booking).
    """
    invitation = CampaignInvitation
    booked = or_(
        exists().where(
            Booking.person_id == invitation.person_id,
            Booking.created_at >= invitation.invited_at,
            Booking.status.in_(MADE_BOOKINGS),
        ),
        exists().where(
            Vaccination.person_id == invitation.person_id,
            Vaccination.created_at >= invitation.invited_at,
        ),
        exists().where(  # a child invited: a children's session booked since
            ChildBooking.child_id == invitation.child_id,
            ChildBooking.created_at >= invitation.invited_at,
            ChildBooking.status != "cancelled",
        ),
        exists().where(  # or a dose a site recorded (or confirmed) since
            ChildDose.child_id == invitation.child_id,
            ChildDose.confirmed_at >= invitation.invited_at,
        ),
    )
    unreachable = or_(
        invitation.account_id.is_(None),
        exists().where(Account.id == invitation.account_id, Account.unreachable_at.is_not(None)),
        exists().where(
            OutboxMessage.id == invitation.outbox_id, OutboxMessage.status.in_(UNDELIVERED)
        ),
    )
    outcome = case(
        (booked, "booked"),
        (invitation.status == DECLINED, "declined"),
        (unreachable, "unreachable"),
        else_="no_answer",
    ).label("outcome")
    each = (
        select(invitation.ward_code.label("ward"), outcome)
        .where(invitation.campaign_id == campaign_id)
        .subquery()
    )
    rows = await session.execute(
        select(each.c.ward, each.c.outcome, func.count())
        .group_by(each.c.ward, each.c.outcome)
        .order_by(each.c.ward)
    )
    counts: dict[int, dict[str, int]] = {}
    for ward, result, count in rows:
        counts.setdefault(int(ward), {})[str(result)] = int(count)
    return [WardCounts(ward, **outcomes) for ward, outcomes in sorted(counts.items())]
