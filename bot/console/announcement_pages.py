"""Ward announcements in the console: compose, count and preview, send, follow, stop, report.

Every step goes through `bot.domain.staff_operations` (the chat's `/thongbao` and the CLI use
the same), with the signed-in person's scope: admins any ward, ward officers their own wards.
The form carries the whole draft, so the preview step writes nothing; only "Send" does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from markupsafe import Markup

from bot.channels.zalo.oa_api import numbered
from bot.console import charts, render
from bot.console.access import Staff
from bot.console.gate import CONSOLE, Console, form_of, redirect, require, staff_of
from bot.console.numbers import calendar_day, numbers, whole_number
from bot.console.pages import ward_name
from bot.console.staff_pages import is_ward
from bot.domain import broadcast_batches, staff_operations
from bot.domain.form_lists import priority_groups
from bot.domain.staff_operations import Draft, Kind, Problem, Reason, Scope
from bot.i18n import N_, TIMEZONE, _, format_count, use_locale
from bot.messages import ChatRef, Outgoing
from storage.broadcasts import SCHEDULED, SENDING
from storage.models import Broadcast, Campaign

routes = web.RouteTableDef()
REFRESH_S = 5  # a running announcement's page reloads itself this often
PROBLEMS = {
    "wards": N_("Please tick at least one ward."),
    "unknown_ward": N_("Ward codes are numbers of current wards, separated by commas."),
    "text": N_("The text must be 1 to 1,000 characters."),
    "when": N_("The sending time is a day and time within the next 30 days, or empty for now."),
    Reason.OUT_OF_SCOPE: N_("One of these wards is outside your scope."),
    Reason.NO_WARDS: N_("You have no ward in your scope yet; ask an administrator."),
    Reason.INVALID: N_("This announcement cannot be sent as it is; please check each field."),
}
STATUS = {
    "scheduled": N_("Scheduled"),
    "sending": N_("Sending"),
    "done": N_("Sent"),
    "cancelled": N_("Stopped"),
}


@dataclass(frozen=True)
class Composed:
    """A draft read from the form, with the values to show the form again."""

    draft: Draft | None
    values: dict[str, Any]
    problems: list[tuple[str, dict[str, str]]]


def scope_of(who: Staff) -> Scope:
    """The ward scope staff operations take: None for admins (any ward), else the wards."""
    return None if who.is_admin else tuple(sorted(who.wards))


def wards_of_form(form: dict[str, str]) -> set[int]:
    """The wards a form names: ticked (`w_<code>`) and typed (`ward_codes`, admins)."""
    typed = set(numbers(form.get("ward_codes", "")[:300]) or [])
    ticked = {whole_number(key[2:]) for key in form if key.startswith("w_")}
    return typed | {code for code in ticked if code is not None}


def require_sender(request: web.Request) -> Staff:
    """The signed-in person, if they may send announcements and campaigns (else 403)."""
    who = staff_of(request)
    require(who.may_broadcast())
    return who


def ward_choices(who: Staff) -> list[tuple[int, str]]:
    """The wards the form offers: the officer's own; an admin types codes instead."""
    return [(code, ward_name(code)) for code in sorted(who.wards)]


def _when(text: str, now: datetime) -> datetime | bool | None:
    """`YYYY-MM-DDTHH:MM` (Vietnam time) as UTC; None for empty; False if unreadable."""
    if not text:
        return None
    day = calendar_day(text[:10])
    try:
        moment = datetime.fromisoformat(text[:16]).replace(tzinfo=TIMEZONE).astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    if day is None:
        return False
    if moment > now + broadcast_batches.MAX_AHEAD:
        return False
    return moment if moment > now else None  # a moment just past: now


def read_draft(form: dict[str, str], who: Staff, now: datetime, groups: list[str]) -> Composed:
    """The draft the form describes (wards ticked or typed, groups, text, time), or problems."""
    typed = form.get("ward_codes", "")
    wards = wards_of_form(form)
    chosen = tuple(code for code in groups if form.get(f"g_{code}"))
    text = form.get("text", "").replace("\r\n", "\n").strip()
    when = _when(form.get("send_at", ""), now)
    values = {
        "wards": wards,
        "ward_codes": typed[:300],
        "groups": set(chosen),
        "text": text[:2000],
        "send_at": form.get("send_at", "")[:16],
    }
    problems: list[tuple[str, dict[str, str]]] = []
    if not wards:
        problems.append(("wards", {}))
    elif not all(is_ward(code) for code in wards):
        problems.append(("unknown_ward", {}))
    if not 1 <= len(text) <= broadcast_batches.MAX_TEXT:
        problems.append(("text", {}))
    if when is False:
        problems.append(("when", {}))
    if problems:
        return Composed(None, values, problems)
    draft = Draft(
        Kind.BROADCAST,
        tuple(sorted(wards)),
        text,
        groups=chosen,
        send_at=when if isinstance(when, datetime) else None,
    )
    return Composed(draft, values, [])


def _problem(problem: Problem) -> tuple[str, dict[str, str]]:
    return str(problem.reason), {"detail": problem.detail}


def _form_view(
    request: web.Request, composed: Composed, *, status: int = 200, preview: Any = None
) -> web.Response:
    who, console = staff_of(request), request.app[CONSOLE]
    groups = priority_groups(console.settings.priority_groups_file)
    with use_locale(render.locale_of(request)):
        group_labels = [(g.code, g.label()) for g in groups]
    context = {
        "values": composed.values,
        "problems": [(PROBLEMS[key], values) for key, values in composed.problems],
        "wards": ward_choices(who),
        "typed_wards": who.is_admin,
        "groups": group_labels,
        "preview": preview,
    }
    return render.page(request, "announcement_new.html", context, status=status)


@routes.get("/announcements", name="announcements")
async def announcement_list(request: web.Request) -> web.Response:
    """The newest announcements within the person's scope, with their state."""
    who = require_sender(request)
    async with request.app[CONSOLE].db.read_scope() as session:
        found = await staff_operations.recent(session, Kind.BROADCAST, scope_of(who), shown=50)
    rows = [
        {
            "id": b.id,
            "area": b.area,
            "text": b.text,
            "status": STATUS.get(b.status, b.status),
            "at": b.send_at.astimezone(TIMEZONE).strftime("%d/%m/%Y %H:%M"),
        }
        for b in found
        if isinstance(b, Broadcast)
    ]
    return render.page(request, "announcements.html", {"rows": rows})


@routes.get("/announcements/new", name="announcement_new")
async def announcement_new(request: web.Request) -> web.Response:
    """An empty announcement form."""
    who = require_sender(request)
    values = {"wards": set(who.wards) if len(who.wards) == 1 else set(), "groups": set()}
    return _form_view(
        request, Composed(None, values | {"text": "", "send_at": "", "ward_codes": ""}, [])
    )


def _groups(console: Console) -> list[str]:
    return [g.code for g in priority_groups(console.settings.priority_groups_file)]


@routes.post("/announcements/preview", name="announcement_preview")
async def announcement_preview(request: web.Request) -> web.Response:
    """Count the audience and show the message as a citizen on Telegram and on Zalo sees it."""
    who, console = require_sender(request), request.app[CONSOLE]
    now = console.clock()
    composed = read_draft(form_of(request), who, now, _groups(console))
    if composed.draft is None:
        return _form_view(request, composed, status=422)
    problem = staff_operations.compose(
        composed.draft, scope_of(who), now=now, settings=console.settings
    )
    if problem is not None:
        return _form_view(
            request, Composed(None, composed.values, [_problem(problem)]), status=422
        )
    async with console.db.read_scope() as session:
        count = await staff_operations.audience_count(
            session, composed.draft, scope_of(who), now=now
        )
    assert isinstance(count, int)  # the scope was checked above
    preview = {"count": count, "shown": format_count(count), **_previews(request, composed.draft)}
    return _form_view(request, composed, preview=preview)


def _previews(request: web.Request, draft: Draft) -> dict[str, Any]:
    """The message on each platform, in Vietnamese (citizens' default language)."""
    with use_locale("vi"):
        telegram = staff_operations.preview(draft, ChatRef("telegram", "0"))
        zalo = staff_operations.preview(draft, ChatRef("zalo", "0"))
    shown = {}
    for name, message in (("telegram", telegram), ("zalo", zalo)):
        assert isinstance(message, Outgoing)  # the draft was checked
        labels = [b.label for row in message.buttons for b in row]
        as_list = name == "zalo" and numbered([b for row in message.buttons for b in row])
        shown[name] = {"text": message.text, "buttons": labels, "numbered": as_list}
    return shown


@routes.post("/announcements", name="announcement_send")
async def announcement_send(request: web.Request) -> web.Response:
    """Send (or schedule) the previewed announcement: scope checked again, audited."""
    who, console = require_sender(request), request.app[CONSOLE]
    now = console.clock()
    composed = read_draft(form_of(request), who, now, _groups(console))
    if composed.draft is None:
        return _form_view(request, composed, status=422)
    async with console.db.session_scope() as session:
        repeated = await staff_operations.twin(
            session, composed.draft, scope_of(who), actor=who.actor, now=now
        )
        if repeated is not None:  # a second press of "Send", or the page sent again
            return redirect(f"/console/announcements/{repeated}")
        made = await staff_operations.confirm(
            session,
            composed.draft,
            scope=scope_of(who),
            actor=who.actor,
            now=now,
            settings=console.settings,
        )
        if isinstance(made, Problem):
            await session.rollback()
            return _form_view(
                request, Composed(None, composed.values, [_problem(made)]), status=422
            )
    console.outbox_written()
    return redirect(f"/console/announcements/{made.id}")


async def operation_in_url(
    request: web.Request, session: Any, who: Staff, kind: Kind
) -> Broadcast | Campaign:
    """The announcement or campaign the URL's number names, within the person's scope (403)."""
    number = whole_number(request.match_info["number"]) or 0
    found = await staff_operations.find(session, kind, number, scope_of(who))
    require(found is not None)
    assert found is not None
    return found


async def _announcement(request: web.Request, session: Any, who: Staff) -> Broadcast:
    found = await operation_in_url(request, session, who, Kind.BROADCAST)
    assert isinstance(found, Broadcast)
    return found


@routes.get("/announcements/{number}", name="announcement")
async def announcement_page(request: web.Request) -> web.Response:
    """An announcement's progress and report, with its chart; reloads itself while sending."""
    who, console = require_sender(request), request.app[CONSOLE]
    async with console.db.read_scope() as session:
        broadcast = await _announcement(request, session, who)
        with use_locale(render.locale_of(request)):
            report = await staff_operations.report_of(session, Kind.BROADCAST, broadcast)
            figures = report.figures
            assert isinstance(figures, broadcast_batches.Report)
            chart = _chart(figures)
    running = broadcast.status in (SCHEDULED, SENDING)
    context = {
        "broadcast": broadcast,
        "status": STATUS.get(broadcast.status, broadcast.status),
        "lines": report.lines,
        "chart": chart,
        "running": running,
        "refresh": REFRESH_S if running else None,
    }
    return render.page(request, "announcement.html", context)


def _chart(figures: broadcast_batches.Report) -> Markup:
    items = [
        (_("Sent"), figures.sent),
        (_("Waiting"), figures.waiting),
        (_("Failed"), figures.failed),
        (_("Blocked or unreachable"), figures.blocked),
        (_("Stopped"), figures.cancelled),
    ]
    desc = ", ".join(f"{label}: {value}" for label, value in items)
    return charts.bars(items, title=_("What became of the messages"), desc=desc)


@routes.post("/announcements/{number}/stop", name="announcement_stop")
async def announcement_stop(request: web.Request) -> web.Response:
    """Stop a scheduled or running announcement: nothing more is sent (audited)."""
    who, console = require_sender(request), request.app[CONSOLE]
    async with console.db.session_scope() as session:
        broadcast = await _announcement(request, session, who)
        _stopped, withdrawn = await broadcast_batches.cancel(
            session, broadcast.id, actor=who.actor, now=console.clock()
        )
    if withdrawn:
        console.outbox_withdrawn(withdrawn)
    return redirect(f"/console/announcements/{broadcast.id}")
