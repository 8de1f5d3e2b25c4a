"""The live dashboard's figures: one aggregate query each, over the staff member's scope.

Every figure is computed in SQL (counts and sums by `CASE`, averages of time differences), on
SQLite and PostgreSQL alike, for the whole city (admins), some wards (ward staff: the people
registered there, the sites there) or some sites (site staff, samplers, labs). Days are
Vietnam's (UTC+7): a day's bounds are worked out here and compared with the stored UTC times.
`now` is always the service's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.access import Staff
from bot.i18n import TIMEZONE
from storage._dialect import dialect_of
from storage.bookings import ATTENDED, MISSED
from storage.checkins import FINE, HELP, MILD
from storage.models import (
    Booking,
    CheckIn,
    OutboxMessage,
    Person,
    Reaction,
    Sample,
    SampleMember,
    Site,
    Slot,
    Ticket,
    UTCDateTime,
    Vaccination,
)

REGISTRATION_DAYS, BOOKING_DAYS = 7, 14
LOOKBACK = timedelta(days=30)  # no-shows and doses
TURNAROUND = timedelta(days=7)  # turnaround and first responses: what happened this week
SEND_RATE = timedelta(hours=1)
UNSENT = ("pending", "waiting", "sending")


@dataclass(frozen=True)
class Scope:
    """What a staff member's figures cover: the whole city, or wards and sites."""

    city: bool
    wards: tuple[int, ...] = ()
    sites: tuple[str, ...] = ()

    @classmethod
    def of(cls, staff: Staff) -> Scope | None:
        """The staff member's scope; None if they have none (support agents only)."""
        if staff.is_admin:
            return cls(city=True)
        if not staff.wards and not staff.sites:
            return None
        return cls(city=False, wards=tuple(sorted(staff.wards)), sites=tuple(sorted(staff.sites)))

    @property
    def has_people(self) -> bool:
        """Whether the scope covers people (registrations, tickets): the city or wards."""
        return self.city or bool(self.wards)

    def site_filter(self, site_id: Any) -> ColumnElement[bool]:
        """`site_id` is one of the scope's sites (its own, or one in its wards)."""
        if self.city:
            return true()
        in_wards = select(Site.id).where(
            or_(Site.ward_code.in_(self.wards), Site.id.in_(self.sites))
        )
        return site_id.in_(in_wards.scalar_subquery())

    def person_filter(self, ward_code: Any) -> ColumnElement[bool]:
        """A person's ward is in the scope."""
        if self.city:
            return true()
        return ward_code.in_(self.wards) if self.wards else false()

    def site_ok(self, site: Site) -> bool:
        """Whether one site is in the scope."""
        return self.city or site.ward_code in self.wards or site.id in self.sites


@dataclass(frozen=True)
class DayLoad:
    """A day's places: booked and offered."""

    day: date
    booked: int
    capacity: int


@dataclass(frozen=True)
class ChannelLoad:
    """A channel's outbox: messages waiting, and sent in the last hour."""

    channel: str
    waiting: int
    sent_last_hour: int


@dataclass(frozen=True)
class Aftercare:
    """After vaccination, for one site and product (last 30 days): check-ins and reports."""

    site_id: str | None
    product: str | None
    asked: int = 0
    fine: int = 0
    mild: int = 0
    help: int = 0
    reports: int = 0
    severe: int = 0


@dataclass(frozen=True)
class Figures:
    """Everything the dashboard shows, at one moment (None: not in the scope)."""

    at: datetime
    today: date
    registrations: list[tuple[date, int]] | None  # the last 7 days, today last
    bookings: list[DayLoad]  # today and the 13 days after
    no_shows: tuple[int, int]  # missed, appointments passed (last 30 days)
    doses: list[tuple[str, int]]  # product, doses given (last 30 days), most first
    samples_today: int
    samples_week: int
    results_pending: int
    to_result_s: float | None  # average sampling -> result, results of the last 7 days
    to_told_s: float | None  # average result -> citizen told
    tickets_open: int | None
    tickets_unclaimed: int | None
    first_response_s: float | None  # average opening -> claim, tickets of the last 7 days
    outbox: list[ChannelLoad] | None  # the whole service's: admins only
    aftercare: list[Aftercare]  # check-in answers and reaction reports, per site and product

    @property
    def registrations_today(self) -> int | None:
        """People registered today."""
        return self.registrations[-1][1] if self.registrations else None

    @property
    def registrations_week(self) -> int | None:
        """People registered over the last 7 days."""
        return sum(n for _, n in self.registrations) if self.registrations is not None else None

    @property
    def no_show_rate(self) -> float | None:
        """Missed appointments among those passed, or None before any."""
        missed, passed = self.no_shows
        return missed / passed if passed else None


def local_day(now: datetime) -> date:
    """The day it is in Vietnam at `now`."""
    return now.astimezone(TIMEZONE).date()


def day_start(day: date) -> datetime:
    """The UTC moment a Vietnamese day begins."""
    return datetime.combine(day, time(), TIMEZONE).astimezone(UTC)


def _seconds(session: AsyncSession, later: Any, earlier: Any) -> ColumnElement[Any]:
    """`later - earlier` in seconds, spelt for the session's engine."""
    if dialect_of(session) == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _count_when(condition: ColumnElement[bool], value: Any = 1) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _day_index(session: AsyncSession, moment: Any, first: datetime) -> ColumnElement[Any]:
    """Which day since `first` (a day's start) `moment` falls on: 0, 1, 2..."""
    seconds = _seconds(session, moment, literal(first, UTCDateTime()))
    if dialect_of(session) == "postgresql":
        return cast(func.floor(seconds / 86400), Integer)
    return cast(seconds / 86400, Integer)  # not negative: truncation is the floor


async def _per_day(
    session: AsyncSession, moment: Any, first: date, days: int, sums: Sequence[Any], where: Any
) -> list[list[int]]:
    """`sums` per Vietnamese day from `first` for `days` days (zeros where nothing happened)."""
    start, end = day_start(first), day_start(first + timedelta(days=days))
    index = _day_index(session, moment, start).label("day")
    statement = (
        select(index, *(func.coalesce(func.sum(value), 0) for value in sums))
        .where(moment >= start, moment < end, where)
        .group_by(index)
    )
    found = [[0] * len(sums) for _ in range(days)]
    for day, *values in (await session.execute(statement)).all():
        if 0 <= day < days:  # a moment a hair before midnight cannot round out of range
            found[day] = [int(v) for v in values]
    return found


async def registrations(
    session: AsyncSession, scope: Scope, now: datetime
) -> list[tuple[date, int]] | None:
    """People registered on each of the last 7 days (today last); None without people."""
    if not scope.has_people:
        return None
    first = local_day(now) - timedelta(days=REGISTRATION_DAYS - 1)
    where = scope.person_filter(Person.ward_code)
    rows = await _per_day(session, Person.created_at, first, REGISTRATION_DAYS, [1], where)
    return [(first + timedelta(days=i), row[0]) for i, row in enumerate(rows)]


async def bookings(session: AsyncSession, scope: Scope, now: datetime) -> list[DayLoad]:
    """Places booked and offered on each of the next 14 days, today first."""
    first, where = local_day(now), scope.site_filter(Slot.site_id)
    sums = [Slot.booked, Slot.capacity]
    rows = await _per_day(session, Slot.starts_at, first, BOOKING_DAYS, sums, where)
    return [DayLoad(first + timedelta(days=i), *row) for i, row in enumerate(rows)]


async def no_shows(session: AsyncSession, scope: Scope, now: datetime) -> tuple[int, int]:
    """Appointments of the last 30 days missed, and those passed (attended or missed)."""
    statement = (
        select(_count_when(Booking.status == MISSED), func.count())
        .select_from(Booking)
        .join(Slot, Slot.id == Booking.slot_id)
        .where(
            Slot.starts_at >= now - LOOKBACK,
            Slot.starts_at < now,
            Booking.status.in_((ATTENDED, MISSED)),
            scope.site_filter(Slot.site_id),
        )
    )
    missed, passed = (await session.execute(statement)).one()
    return int(missed), int(passed)


async def doses(session: AsyncSession, scope: Scope, now: datetime) -> list[tuple[str, int]]:
    """Doses given in the last 30 days by product, most given first."""
    since = local_day(now - LOOKBACK)
    statement = (
        select(Vaccination.product, func.count())
        .where(Vaccination.given_on >= since, scope.site_filter(Vaccination.site_id))
        .group_by(Vaccination.product)
        .order_by(func.count().desc(), Vaccination.product)
    )
    return [(product, int(n)) for product, n in (await session.execute(statement)).all()]


async def samples(session: AsyncSession, scope: Scope, now: datetime) -> tuple[int, int, int]:
    """Samples taken today and over the last 7 days, and samples still without a result."""
    today = day_start(local_day(now))
    week = day_start(local_day(now) - timedelta(days=REGISTRATION_DAYS - 1))
    in_scope = scope.site_filter(Sample.site_id)
    taken = select(_count_when(Sample.taken_at >= today), func.count()).where(
        Sample.taken_at >= week, in_scope
    )
    pending = select(func.count()).where(Sample.result.is_(None), in_scope)
    today_n, week_n = (await session.execute(taken)).one()
    return int(today_n), int(week_n), int(await session.scalar(pending) or 0)


async def turnaround(
    session: AsyncSession, scope: Scope, now: datetime
) -> tuple[float | None, float | None]:
    """Average seconds from sampling to result, and from result to the citizen being told."""
    since = now - TURNAROUND
    in_scope = scope.site_filter(Sample.site_id)
    to_result = select(func.avg(_seconds(session, Sample.tested_at, Sample.taken_at))).where(
        Sample.tested_at >= since, in_scope
    )
    to_told = (
        select(func.avg(_seconds(session, SampleMember.notified_at, Sample.tested_at)))
        .join(Sample, Sample.id == SampleMember.sample_id)
        .where(SampleMember.notified_at >= since, in_scope)
    )
    result = await session.scalar(to_result)
    told = await session.scalar(to_told)
    return _float(result), _float(told)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def ticket_filter(scope: Scope) -> ColumnElement[bool]:
    """A ticket is of a citizen registered in the scope's wards (any ticket for the city)."""
    if scope.city:
        return true()
    return exists().where(
        Person.account_id == Ticket.account_id, scope.person_filter(Person.ward_code)
    )


async def tickets(
    session: AsyncSession, scope: Scope, now: datetime
) -> tuple[int | None, int | None, float | None]:
    """Open tickets, those nobody has taken yet, and the average wait for a first answer."""
    if not scope.has_people:
        return None, None, None
    in_scope = ticket_filter(scope)
    open_ = select(func.count(), _count_when(Ticket.claimed_at.is_(None))).where(
        Ticket.status == "open", in_scope
    )
    waited = select(func.avg(_seconds(session, Ticket.claimed_at, Ticket.opened_at))).where(
        Ticket.opened_at >= now - TURNAROUND, Ticket.claimed_at.is_not(None), in_scope
    )
    opened, unclaimed = (await session.execute(open_)).one()
    return int(opened), int(unclaimed), _float(await session.scalar(waited))


async def outbox(session: AsyncSession, scope: Scope, now: datetime) -> list[ChannelLoad] | None:
    """Per channel: messages waiting to be sent, and sent in the last hour (admins only).

    Two statements, so that each walks its own index (`ix_outbox_due`, `ix_outbox_sent`). The
    channel is grouped as `channel || ''`: grouped bare, SQLite's planner would rather walk all
    of `ix_outbox_chat` (channel first) to skip a sort, 40 times slower at 100k messages.
    """
    if not scope.city:
        return None
    channel, counted = OutboxMessage.channel.concat("").label("channel"), func.count()
    waiting = select(channel, counted).where(OutboxMessage.status.in_(UNSENT)).group_by(channel)
    sent = select(channel, counted).where(OutboxMessage.sent_at >= now - SEND_RATE)
    found: dict[str, list[int]] = {}
    for column, statement in enumerate((waiting, sent.group_by(channel))):
        for name, n in (await session.execute(statement)).all():
            found.setdefault(name, [0, 0])[column] = int(n)
    return [ChannelLoad(name, *found[name]) for name in sorted(found)]


async def aftercare(session: AsyncSession, scope: Scope, now: datetime) -> list[Aftercare]:
    """Check-in answers and reaction reports of the last 30 days, per site and product.

    Most check-ins first, then most reports.
    """
    since = now - LOOKBACK
    asked = (
        select(
            CheckIn.site_id,
            CheckIn.product,
            func.count(),
            _count_when(CheckIn.answer == FINE),
            _count_when(CheckIn.answer == MILD),
            _count_when(CheckIn.answer == HELP),
        )
        .where(CheckIn.asked_at >= since, scope.site_filter(CheckIn.site_id))
        .group_by(CheckIn.site_id, CheckIn.product)
    )
    reported = (
        select(
            Reaction.site_id,
            Reaction.product,
            func.count(),
            _count_when(Reaction.severity == "severe"),
        )
        .where(Reaction.reported_at >= since, scope.site_filter(Reaction.site_id))
        .group_by(Reaction.site_id, Reaction.product)
    )
    rows: dict[tuple[str | None, str | None], dict[str, int]] = {}
    for site, product, n, fine, mild, help_ in (await session.execute(asked)).all():
        rows[site, product] = {"asked": n, "fine": fine, "mild": mild, "help": help_}
    for where, what, n, severe in (await session.execute(reported)).all():
        rows.setdefault((where, what), {}).update(reports=n, severe=severe)
    found = [
        Aftercare(site, product, **{k: int(v or 0) for k, v in counted.items()})
        for (site, product), counted in rows.items()
    ]
    return sorted(found, key=lambda a: (-a.asked, -a.reports, a.site_id or "", a.product or ""))


async def figures(session: AsyncSession, scope: Scope, now: datetime) -> Figures:
    """Every figure of the dashboard for `scope` at `now`."""
    samples_today, samples_week, pending = await samples(session, scope, now)
    to_result, to_told = await turnaround(session, scope, now)
    opened, unclaimed, first_response = await tickets(session, scope, now)
    return Figures(
        at=now,
        today=local_day(now),
        registrations=await registrations(session, scope, now),
        bookings=await bookings(session, scope, now),
        no_shows=await no_shows(session, scope, now),
        doses=await doses(session, scope, now),
        samples_today=samples_today,
        samples_week=samples_week,
        results_pending=pending,
        to_result_s=to_result,
        to_told_s=to_told,
        tickets_open=opened,
        tickets_unclaimed=unclaimed,
        first_response_s=first_response,
        outbox=await outbox(session, scope, now),
        aftercare=await aftercare(session, scope, now),
    )
