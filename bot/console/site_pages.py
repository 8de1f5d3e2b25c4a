"""A site in the console: its next two weeks, slots by pattern, a day's places, a day closed.

Closing a day tells every citizen booked that day, in their language, with the nearest free
times.

Rules live in `bot.domain.site_days` and `bot.domain.slot_patterns`; this module reads forms,
checks scope (`Staff.may_manage_site`, `Staff.may_add_site`) and shows the outcome.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console import render
from bot.console.gate import CONSOLE, form_of, redirect, require, staff_of
from bot.console.numbers import calendar_day, whole_number
from bot.console.pages import ward_name
from bot.domain import site_days, slot_patterns
from bot.domain.slot_patterns import SlotPattern
from bot.i18n import N_, TIMEZONE, format_day, local_day, use_locale
from storage.models import Site, Slot

routes = web.RouteTableDef()
SITE_DAYS = 14
WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
PATTERN_PROBLEMS = {
    "dates": N_("Days are written as the calendar gives them (for example 2026-12-07)."),
    "span": N_("The first day must be today or later, and the last day on or after it."),
    "too_long": N_("One pattern covers at most 92 days; make the next quarter separately."),
    "weekdays": N_("Please tick at least one day of the week."),
    "starts": N_("Start times are written like 07:30, 08:00, separated by commas."),
    "minutes": N_("A slot lasts 5 minutes to 12 hours."),
    "capacity": N_("Places per slot: a whole number from 1 to 10,000."),
    "too_many": N_("This pattern would make more than 2,000 slots; please make it smaller."),
}
CAPACITY_BELOW = N_(
    "Not changed: the places cannot go below the %(booked)s already booked in this slot."
)
CAPACITY_BAD = N_("Places: a whole number from 0 to 10,000.")
CAPACITY_CHANGED = N_("The places were changed.")
DAY_CLOSED = N_(
    "The day is closed: %(cancelled)s appointments cancelled, %(told)s citizens told in their "
    "chat with the nearest free times (the others have no chat we may write to)."
)
CLOSE_PAST = N_("A day that has passed cannot be closed.")
CLOSE_UNCONFIRMED = N_("Please tick the box to confirm that the site is closed on this day.")


async def _site(request: web.Request, session: AsyncSession) -> Site:
    """The site the URL names, if the signed-in person may manage it (else 403)."""
    site = await session.get(Site, request.match_info["site_id"][:32])
    require(site is not None and staff_of(request).may_manage_site(site))
    assert site is not None
    return site


def _day_of(text: str) -> date | None:
    return calendar_day(text)


async def _days(session: AsyncSession, site_id: str, today: date) -> list[dict[str, Any]]:
    """Each day of the next two weeks that has slots: slots, places and bookings."""
    since = site_days.day_start(today)
    rows = await session.execute(
        select(Slot.starts_at, Slot.capacity, Slot.booked)
        .where(
            Slot.site_id == site_id,
            Slot.starts_at >= since,
            Slot.starts_at < since + timedelta(days=SITE_DAYS),
        )
        .order_by(Slot.starts_at)
    )
    days: dict[date, dict[str, Any]] = {}
    for starts_at, capacity, booked in rows:
        day = local_day(starts_at)
        entry = days.setdefault(day, {"day": day, "slots": 0, "capacity": 0, "booked": 0})
        entry["slots"] += 1
        entry["capacity"] += capacity
        entry["booked"] += booked
    return list(days.values())


@routes.get("/sites/{site_id}", name="site")
async def site_page(request: web.Request) -> web.Response:
    """A site's page: its next two weeks day by day (staff whose scope has it)."""
    console = request.app[CONSOLE]
    async with console.db.read_scope() as session:
        site = await session.get(Site, request.match_info["site_id"][:32])
        require(site is not None and staff_of(request).may_see_site(site))
        assert site is not None
        today = local_day(console.clock())
        days = await _days(session, site.id, today)
    return _site_view(request, site, days, today)


def _site_view(
    request: web.Request,
    site: Site,
    days: list[dict[str, Any]],
    today: date,
    *,
    problems: list[str] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    with use_locale(render.locale_of(request)):
        for entry in days:
            entry["label"] = format_day(entry["day"])
    context = {
        "site": site,
        "ward": ward_name(site.ward_code),
        "days": days,
        "capacity": sum(d["capacity"] for d in days),
        "booked": sum(d["booked"] for d in days),
        "period": SITE_DAYS,
        "manage": staff_of(request).may_manage_site(site),
        "edit": staff_of(request).may_add_site(site.ward_code),
        "weekdays": list(enumerate(WEEKDAYS)),
        "problems": [PATTERN_PROBLEMS[p] for p in problems or []],
        "values": values or _pattern_defaults(today),
        "made": _made(request),
    }
    return render.page(request, "site.html", context, status=status)


_PATTERN_FIELDS = ("first", "last", "starts", "minutes", "capacity")


def _pattern_defaults(today: date) -> dict[str, Any]:
    return {
        "first": (today + timedelta(days=1)).isoformat(),
        "last": (today + timedelta(days=28)).isoformat(),
        "weekdays": {0, 1, 2, 3, 4},
        "starts": "07:30, 08:30, 09:30, 13:30, 14:30",
        "minutes": "60",
        "capacity": "50",
    }


def _made(request: web.Request) -> dict[str, int] | None:
    added, existing = request.query.get("added", ""), request.query.get("existing", "")
    made, held = whole_number(added), whole_number(existing)
    if made is not None and held is not None:
        return {"added": made, "existing": held}
    return None


def _starts(text: str) -> tuple[time, ...] | None:
    """Start times typed as `07:30, 8:00` (or `8h`, `8h30`); None if any is not a time."""
    found = []
    for typed in text.replace(";", ",").split(","):
        part = typed.strip().lower().replace("h", ":").rstrip(":")
        if not part:
            continue
        hours, _sep, minutes = part.partition(":")
        hour, minute = whole_number(hours, longest=2), whole_number(minutes or "0", longest=2)
        if hour is None or minute is None or hour > 23 or minute > 59:
            return None
        found.append(time(hour, minute))
    return tuple(sorted(set(found)))


def weekdays_of(form: dict[str, str]) -> frozenset[int]:
    """The days of the week ticked (`wd0` Monday ... `wd6` Sunday)."""
    return frozenset(n for n in range(7) if form.get(f"wd{n}"))


def pattern_of(form: dict[str, str]) -> tuple[SlotPattern | None, list[str]]:
    """The pattern a form asks for, or the problems that keep it from being read."""
    first, last = _day_of(form.get("first", "")), _day_of(form.get("last", ""))
    starts = _starts(form.get("starts", "")[:1000])
    minutes, capacity = form.get("minutes", ""), form.get("capacity", "")
    problems = [] if first and last else ["dates"]
    problems += [] if starts is not None else ["starts"]
    length, places = whole_number(minutes, longest=4), whole_number(capacity, longest=5)
    problems += [] if length is not None else ["minutes"]
    problems += [] if places is not None else ["capacity"]
    if problems or first is None or last is None or starts is None:
        return None, problems
    assert length is not None and places is not None
    pattern = SlotPattern(first, last, weekdays_of(form), starts, length, places)
    return pattern, []


@routes.post("/sites/{site_id}/slots", name="site_slots")
async def site_slots(request: web.Request) -> web.Response:
    """Make slots by pattern (those already there are left alone); audited."""
    console, who = request.app[CONSOLE], staff_of(request)
    form = form_of(request)
    async with console.db.session_scope() as session:
        site = await _site(request, session)
        now = console.clock()
        today = local_day(now)
        pattern, problems = pattern_of(form)
        if pattern is not None:
            problems = slot_patterns.problems_of(pattern, today=today)
        if pattern is None or problems:
            typed = {key: form.get(key, "")[:1000] for key in _PATTERN_FIELDS}
            values = _pattern_defaults(today) | typed | {"weekdays": weekdays_of(form)}
            days = await _days(session, site.id, today)
            return _site_view(
                request, site, days, today, problems=problems, values=values, status=422
            )
        made = await slot_patterns.make_slots(session, site.id, pattern, actor=who.actor, now=now)
    return redirect(f"/console/sites/{site.id}?added={made.added}&existing={made.existing}")


async def _day_view(
    request: web.Request,
    session: AsyncSession,
    site: Site,
    day: date,
    *,
    note: tuple[str, dict[str, Any]] | None = None,
    problem: tuple[str, dict[str, Any]] | None = None,
    status: int = 200,
) -> web.Response:
    slots = await site_days.slots_of_day(session, site.id, day)
    with use_locale(render.locale_of(request)):
        label = format_day(day)
    context = {
        "site": site,
        "day": day.isoformat(),
        "label": label,
        "slots": [
            {"id": s.id, "at": _hours(s), "capacity": s.capacity, "booked": s.booked}
            for s in slots
        ],
        "booked": sum(s.booked for s in slots),
        "open": any(s.capacity for s in slots),
        "note": note or _day_note(request),
        "problem": problem,
    }
    return render.page(request, "site_day.html", context, status=status)


def _day_note(request: web.Request) -> tuple[str, dict[str, Any]] | None:
    """What the last change did, from the redirect's query."""
    if request.query.get("done") == "capacity":
        return CAPACITY_CHANGED, {}
    cancelled, told = request.query.get("cancelled", ""), request.query.get("told", "")
    gone, reached = whole_number(cancelled), whole_number(told)
    if gone is not None and reached is not None:
        return DAY_CLOSED, {"cancelled": gone, "told": reached}
    return None


def _hours(slot: Slot) -> str:
    starts, ends = (m.astimezone(TIMEZONE) for m in (slot.starts_at, slot.ends_at))
    return f"{starts:%H:%M}–{ends:%H:%M}"


async def _day_in_url(request: web.Request, session: AsyncSession) -> tuple[Site, date]:
    site = await _site(request, session)
    day = _day_of(request.match_info["day"])
    require(day is not None)
    assert day is not None
    return site, day


@routes.get("/sites/{site_id}/days/{day}", name="site_day")
async def site_day(request: web.Request) -> web.Response:
    """A day at a site: each slot's places and bookings, with the forms that change them."""
    async with request.app[CONSOLE].db.read_scope() as session:
        site, day = await _day_in_url(request, session)
        return await _day_view(request, session, site, day)


@routes.post("/sites/{site_id}/days/{day}/capacity", name="site_day_capacity")
async def site_day_capacity(request: web.Request) -> web.Response:
    """Change one slot's places: never below what is booked (audited)."""
    console, who, form = request.app[CONSOLE], staff_of(request), form_of(request)
    slot_text, capacity = form.get("slot", ""), form.get("capacity", "").strip()
    async with console.db.session_scope() as session:
        site, day = await _day_in_url(request, session)
        number = whole_number(slot_text)
        slot = await session.get(Slot, number) if number is not None else None
        require(slot is not None and slot.site_id == site.id and local_day(slot.starts_at) == day)
        assert slot is not None
        places = whole_number(capacity, longest=5)
        if places is None or places > site_days.MAX_CAPACITY:
            return await _day_view(
                request, session, site, day, problem=(CAPACITY_BAD, {}), status=422
            )
        if not await site_days.set_capacity(
            session, slot, places, actor=who.actor, now=console.clock()
        ):
            refused = (CAPACITY_BELOW, {"booked": slot.booked})
            return await _day_view(request, session, site, day, problem=refused, status=409)
    return redirect(f"/console/sites/{site.id}/days/{day.isoformat()}?done=capacity")


@routes.post("/sites/{site_id}/days/{day}/close", name="site_day_close")
async def site_day_close(request: web.Request) -> web.Response:
    """Close the site on this day: appointments cancelled, each citizen told (audited)."""
    console, who, form = request.app[CONSOLE], staff_of(request), form_of(request)
    async with console.db.session_scope() as session:
        site, day = await _day_in_url(request, session)
        now = console.clock()
        if day < local_day(now) or form.get("confirm") != "yes":
            past = day < local_day(now)
            problem: tuple[str, dict[str, Any]] = (CLOSE_PAST if past else CLOSE_UNCONFIRMED, {})
            return await _day_view(request, session, site, day, problem=problem, status=422)
        closed = await site_days.close_day(session, site, day, actor=who.actor, now=now)
    console.outbox_written()
    return redirect(
        f"/console/sites/{site.id}/days/{day.isoformat()}"
        f"?cancelled={closed.cancelled}&told={closed.told}"
    )
