"""Invitation campaigns in the console: compose, count and preview, start, follow, pause, stop.

Through `bot.domain.staff_operations` (the chat's `/chiendich` and `run_bot.py campaign` use the
same), with the person's ward scope. A campaign invites adults by age, priority group and dose
status, or children for a vaccine of the national schedule; waves go out daily within the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from aiohttp import web
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console import charts, render
from bot.console.access import Staff
from bot.console.announcement_pages import (
    operation_in_url,
    require_sender,
    scope_of,
    ward_choices,
    wards_of_form,
)
from bot.console.gate import CONSOLE, Console, form_of, redirect
from bot.console.numbers import calendar_day, whole_number
from bot.console.pages import ward_name
from bot.console.staff_pages import is_ward
from bot.domain import campaign_waves, staff_operations
from bot.domain.form_lists import priority_groups
from bot.domain.immunisation.schedule import load_schedule
from bot.domain.staff_operations import Draft, Kind, Problem
from bot.i18n import N_, _, format_count, local_day, use_locale
from bot.messages import ChatRef, Outgoing
from storage.campaigns import ACTIVE, CANCELLED, FINISHED, PAUSED
from storage.models import Campaign

routes = web.RouteTableDef()
FIELDS = ("name", "text", "text_en", "min_age", "max_age", "status", "weeks", "cap", "starts_on")
PROBLEMS = {
    "name": N_("The name must be 1 to 80 characters."),
    "wards": N_("Please tick at least one ward."),
    "unknown_ward": N_("Ward codes are numbers of current wards, separated by commas."),
    "text": N_("The text must be 1 to 1,000 characters."),
    "ages": N_("Ages are whole numbers from 0 to 120, the lowest first."),
    "status": N_("Please choose whom to invite by their doses."),
    "cap": N_("Invitations a day: a whole number from 1 to 100,000."),
    "day": N_("The first day is today or later (for example 2026-12-07)."),
    "vaccine": N_("Please choose a vaccine of the national schedule."),
    "out_of_scope": N_("One of these wards is outside your scope."),
    "no_wards": N_("You have no ward in your scope yet; ask an administrator."),
    "invalid": N_("This campaign cannot start as it is; please check each field."),
}
STATUS = {
    ACTIVE: N_("Running"),
    PAUSED: N_("Paused"),
    FINISHED: N_("Finished"),
    CANCELLED: N_("Stopped"),
}
ADULT_STATUSES = (
    (campaign_waves.NO_DOSE, N_("No dose yet")),
    (campaign_waves.DUE, N_("Next dose due (people with no dose included)")),
    ("dose1", N_("Dose 1 some weeks ago, no dose 2 yet")),
)
CHILD_STATUSES = (
    (campaign_waves.NO_DOSE, N_("No dose of this vaccine yet")),
    (campaign_waves.DUE, N_("Due or overdue for it")),
)


@dataclass(frozen=True)
class Composed:
    """The draft a form describes (None if it cannot be read) and the form's values."""

    draft: Draft | None
    values: dict[str, Any]
    problems: list[tuple[str, dict[str, str]]]


def _number(text: str, low: int, high: int) -> int | None:
    text = text.strip()
    number = whole_number(text, longest=6)
    return number if number is not None and low <= number <= high else None


def _status(values: dict[str, Any]) -> str | None:
    """The dose status the form chose, in the stored spelling; None if none or unreadable."""
    chosen = values["status"]
    if chosen in (campaign_waves.NO_DOSE, campaign_waves.DUE):
        return str(chosen)
    weeks = _number(values["weeks"], 1, campaign_waves.MAX_WEEKS)
    if chosen == "dose1" and weeks is not None and not values["vaccine"]:
        return f"{campaign_waves.DOSE1_PREFIX}{weeks}"
    return None


def _problems(values: dict[str, Any], wards: set[int], today: date) -> list[str]:
    found = [] if 1 <= len(values["name"]) <= campaign_waves.MAX_NAME else ["name"]
    found += [] if wards else ["wards"]
    found += [] if all(is_ward(code) for code in wards) else ["unknown_ward"]
    found += [] if 1 <= len(values["text"]) <= campaign_waves.MAX_TEXT else ["text"]
    low = _number(values["min_age"] or "0", 0, campaign_waves.MAX_AGE)
    high = _number(values["max_age"], 0, campaign_waves.MAX_AGE) if values["max_age"] else None
    bad_ages = low is None or (values["max_age"] and (high is None or high < low))
    found += ["ages"] if bad_ages else []
    found += [] if _status(values) else ["status"]
    found += [] if _number(values["cap"], 1, campaign_waves.MAX_CAP) else ["cap"]
    starts = _day(values["starts_on"])
    found += ["day"] if values["starts_on"] and (starts is None or starts < today) else []
    known = {v.code for v in load_schedule().vaccines}
    found += ["vaccine"] if values["vaccine"] and values["vaccine"] not in known else []
    return found


def _day(text: str) -> date | None:
    return calendar_day(text)


def read_draft(form: dict[str, str], today: date, groups: list[str]) -> Composed:
    """The campaign draft the form describes, or what keeps it from being read."""
    values: dict[str, Any] = {key: " ".join(form.get(key, "").split())[:1000] for key in FIELDS}
    values["text"] = form.get("text", "").replace("\r\n", "\n").strip()[:2000]
    values["text_en"] = form.get("text_en", "").replace("\r\n", "\n").strip()[:2000]
    values["vaccine"] = form.get("vaccine", "")[:20]
    values["ward_codes"] = form.get("ward_codes", "")[:300]
    wards = wards_of_form(form)
    values["wards"], values["groups"] = wards, {g for g in groups if form.get(f"g_{g}")}
    problems = _problems(values, wards, today)
    if problems:
        return Composed(None, values, [(p, {}) for p in problems])
    draft = Draft(
        Kind.CAMPAIGN,
        tuple(sorted(wards)),
        values["text"],
        groups=tuple(sorted(values["groups"])),
        name=values["name"],
        text_en=values["text_en"] or None,
        min_age=int(values["min_age"] or 0),
        max_age=int(values["max_age"]) if values["max_age"] else None,
        dose_status=_status(values) or "",
        daily_cap=int(values["cap"]),
        starts_on=_day(values["starts_on"]),
        child_vaccine=values["vaccine"] or None,
    )
    return Composed(draft, values, [])


def _problem(problem: Problem) -> tuple[str, dict[str, str]]:
    return str(problem.reason), {"detail": problem.detail}


def _defaults() -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(FIELDS, "")
    values |= {"status": campaign_waves.NO_DOSE, "cap": "200", "min_age": "18", "vaccine": ""}
    return values | {"wards": set(), "groups": set(), "ward_codes": ""}


def _form_view(
    request: web.Request, composed: Composed, *, status: int = 200, preview: Any = None
) -> web.Response:
    who, console = require_sender(request), request.app[CONSOLE]
    locale = render.locale_of(request)
    with use_locale(locale):
        groups = [
            (g.code, g.label()) for g in priority_groups(console.settings.priority_groups_file)
        ]
    context = {
        "values": composed.values,
        "problems": [(PROBLEMS[key], args) for key, args in composed.problems],
        "wards": ward_choices(who),
        "typed_wards": who.is_admin,
        "groups": groups,
        "vaccines": [(v.code, v.name(locale)) for v in load_schedule().vaccines],
        "adult_statuses": ADULT_STATUSES,
        "child_statuses": CHILD_STATUSES,
        "preview": preview,
    }
    return render.page(request, "campaign_new.html", context, status=status)


def _groups(console: Console) -> list[str]:
    return [g.code for g in priority_groups(console.settings.priority_groups_file)]


@routes.get("/campaigns", name="campaigns")
async def campaign_list(request: web.Request) -> web.Response:
    """The newest campaigns within the person's scope, with their state."""
    who = require_sender(request)
    async with request.app[CONSOLE].db.read_scope() as session:
        found = await staff_operations.recent(session, Kind.CAMPAIGN, scope_of(who), shown=50)
    rows = [
        {
            "id": c.id,
            "name": c.name,
            "wards": ", ".join(ward_name(w) for w in c.wards),
            "status": STATUS.get(c.status, c.status),
            "starts_on": c.starts_on.strftime("%d/%m/%Y"),
        }
        for c in found
        if isinstance(c, Campaign)
    ]
    return render.page(request, "campaigns.html", {"rows": rows})


@routes.get("/campaigns/new", name="campaign_new")
async def campaign_new(request: web.Request) -> web.Response:
    """An empty campaign form."""
    who = require_sender(request)
    values = _defaults() | {"wards": set(who.wards) if len(who.wards) == 1 else set()}
    return _form_view(request, Composed(None, values, []))


async def _checked(request: web.Request, who: Staff) -> Composed:
    """The form's draft with the staff operations' own check and scope applied."""
    console = request.app[CONSOLE]
    now = console.clock()
    composed = read_draft(form_of(request), local_day(now), _groups(console))
    if composed.draft is None:
        return composed
    problem = staff_operations.compose(
        composed.draft, scope_of(who), now=now, settings=console.settings
    )
    return composed if problem is None else Composed(None, composed.values, [_problem(problem)])


@routes.post("/campaigns/preview", name="campaign_preview")
async def campaign_preview(request: web.Request) -> web.Response:
    """How many it would invite today, and the invitation as a citizen reads it."""
    who, console = require_sender(request), request.app[CONSOLE]
    composed = await _checked(request, who)
    if composed.draft is None:
        return _form_view(request, composed, status=422)
    async with console.db.read_scope() as session:
        count = await staff_operations.audience_count(
            session, composed.draft, scope_of(who), now=console.clock()
        )
    assert isinstance(count, int)  # the scope was checked
    with use_locale("vi"):
        shown = staff_operations.preview(composed.draft, ChatRef("telegram", "0"))
    assert isinstance(shown, Outgoing)
    preview = {
        "count": count,
        "shown": format_count(count),
        "text": shown.text,
        "buttons": [b.label for row in shown.buttons for b in row],
    }
    return _form_view(request, composed, preview=preview)


@routes.post("/campaigns", name="campaign_start")
async def campaign_start(request: web.Request) -> web.Response:
    """Start the previewed campaign: scope checked again, audited; the first wave scheduled."""
    who, console = require_sender(request), request.app[CONSOLE]
    composed = await _checked(request, who)
    if composed.draft is None:
        return _form_view(request, composed, status=422)
    async with console.db.session_scope() as session:
        repeated = await staff_operations.twin(
            session, composed.draft, scope_of(who), actor=who.actor, now=console.clock()
        )
        if repeated is not None:  # a second press of "Start", or the page sent again
            return redirect(f"/console/campaigns/{repeated}")
        made = await staff_operations.confirm(
            session,
            composed.draft,
            scope=scope_of(who),
            actor=who.actor,
            now=console.clock(),
            settings=console.settings,
        )
        if isinstance(made, Problem):
            await session.rollback()
            return _form_view(
                request, Composed(None, composed.values, [_problem(made)]), status=422
            )
    return redirect(f"/console/campaigns/{made.id}")


async def _campaign(request: web.Request, session: AsyncSession, who: Staff) -> Campaign:
    found = await operation_in_url(request, session, who, Kind.CAMPAIGN)
    assert isinstance(found, Campaign)
    return found


@routes.get("/campaigns/{number}", name="campaign")
async def campaign_page(request: web.Request) -> web.Response:
    """A campaign's report per ward, with its chart, and the buttons that pause or stop it."""
    who, console = require_sender(request), request.app[CONSOLE]
    async with console.db.read_scope() as session:
        campaign = await _campaign(request, session, who)
        with use_locale(render.locale_of(request)):
            report = await staff_operations.report_of(session, Kind.CAMPAIGN, campaign)
            counts = report.figures
            assert isinstance(counts, tuple)
            chart = _chart(list(counts))
    context = {
        "campaign": campaign,
        "status": STATUS.get(campaign.status, campaign.status),
        "lines": report.lines,
        "chart": chart,
        "active": campaign.status == ACTIVE,
        "paused": campaign.status == PAUSED,
    }
    return render.page(request, "campaign.html", context)


def _chart(counts: list[Any]) -> Markup:
    total = campaign_waves.total(counts)
    items = [
        (_("Booked"), total.booked),
        (_("Declined"), total.declined),
        (_("No answer"), total.no_answer),
        (_("Unreachable"), total.unreachable),
    ]
    desc = ", ".join(f"{label}: {value}" for label, value in items)
    return charts.bars(items, title=_("What the invited answered"), desc=desc)


@routes.post("/campaigns/{number}/{action:(pause|resume|stop)}", name="campaign_action")
async def campaign_action(request: web.Request) -> web.Response:
    """Pause, resume or stop a campaign (audited by the campaign service)."""
    who, console = require_sender(request), request.app[CONSOLE]
    action, now = request.match_info["action"], console.clock()
    async with console.db.session_scope() as session:
        campaign = await _campaign(request, session, who)
        if action == "pause":
            await campaign_waves.pause(session, campaign, actor=who.actor, now=now)
        elif action == "resume":
            await campaign_waves.resume(
                session, campaign, actor=who.actor, now=now, settings=console.settings
            )
        else:
            await campaign_waves.cancel(session, campaign, actor=who.actor, now=now)
    return redirect(f"/console/campaigns/{campaign.id}")
