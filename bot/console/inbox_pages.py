"""The support inbox: the queue in folders, a ticket with its citizen, and the actions on it.

Every action goes through `bot.domain.tickets` (the desk's rules and audit, one place) and
ends with a redirect to the ticket (POST, then GET). Scope: `bot.console.inbox_data`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console import inbox_data as data
from bot.console import render
from bot.console.access import Staff
from bot.console.gate import CONSOLE, form_of, redirect, refusal, require, staff_of
from bot.domain import account_recovery, tickets
from bot.i18n import N_, TIMEZONE, _
from storage import accounts, outbox
from storage import staff as staff_store
from storage import tickets as store
from storage.models import Account, CannedResponse, Ticket

routes = web.RouteTableDef()
FOLDERS = {
    store.UNASSIGNED: N_("Unassigned"),
    store.MINE: N_("Mine"),
    store.ALL: N_("All in my scope"),
}
CLOSE_REASONS = {
    "resolved": N_("Resolved"),
    "answered": N_("Question answered"),
    "no_reply": N_("The citizen stopped answering"),
    "duplicate": N_("Duplicate"),
    "elsewhere": N_("Sent to another service"),
    "other": N_("Other"),
}
MAX_TEXT = 1500  # a reply or a note (a Zalo message holds 2,000 characters)
CLOSED_ALREADY = (
    N_("This ticket is closed"),
    N_("Nothing was sent: the ticket was closed in the meantime (perhaps on the Telegram desk)."),
)
ERASED = (
    N_("The citizen deleted their data"),
    N_("Nothing was sent: this citizen's account no longer exists."),
)
NOT_FOUND = (N_("No such ticket"), N_("There is no ticket with this number."))
NOT_A_CASE = (
    N_("Not a recovery case"),
    N_("Nothing was moved: this ticket names no person, or that person no longer exists."),
)


def setup(app: web.Application) -> None:
    """The inbox's template filters: `moment|local("%d/%m %H:%M")` (Vietnam's time), `|person`."""
    filters = aiohttp_jinja2.get_env(app).filters
    filters["local"], filters["person"] = local, person


_ACTOR = re.compile(r"^[a-z]+:\S+ (?P<name>.+) \([^()]*\)$")


def person(actor: str | None) -> str:
    """A staff member's name out of an audit actor (`telegram:777 Chị Lan (support)`)."""
    if (actor or "").startswith("citizen"):
        return _("Citizen")
    found = _ACTOR.match(actor or "")
    return found.group("name") if found else actor or ""


def local(moment: datetime, pattern: str = "%d/%m/%Y %H:%M") -> str:
    """A moment as Vietnam's clocks show it."""
    return moment.astimezone(TIMEZONE).strftime(pattern)


def _target(request: web.Request) -> timedelta:
    minutes = request.app[CONSOLE].settings.console_first_response_minutes
    return timedelta(minutes=minutes)


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 10 else None


@routes.get("/inbox", name="inbox")
async def inbox(request: web.Request) -> web.Response:
    """A folder of the queue, newest first, a page at a time (`?before=<id>`)."""
    who = staff_of(request)
    require(who.may_see_inbox())
    folder = request.query.get("folder", store.UNASSIGNED)
    folder = folder if folder in FOLDERS else store.UNASSIGNED
    before = _number(request.query.get("before", ""))
    console = request.app[CONSOLE]
    wards, holder = who.ticket_wards(), data.holder_of(who)
    async with console.db.read_scope() as session:
        found = await store.page_of(
            session,
            folder=folder,
            holder=holder,
            wards=wards,
            before=before,
            size=data.PAGE_SIZE + 1,
        )
        counts = {
            name: await store.count_in(session, folder=name, holder=holder, wards=wards)
            for name in FOLDERS
        }
        rows = await data.rows_of(
            session, found[: data.PAGE_SIZE], target=_target(request), now=console.clock()
        )
    context = {
        "folder": folder,
        "folders": [(name, label, counts[name]) for name, label in FOLDERS.items()],
        "rows": rows,
        "older": rows[-1].ticket.id if len(found) > data.PAGE_SIZE else None,
        "paged": before is not None,
        "target": int(console.settings.console_first_response_minutes),
    }
    return render.page(request, "inbox.html", context, script=True)


async def _ticket(session: AsyncSession, request: web.Request, who: Staff) -> Ticket | None:
    """The ticket of the URL if `who` may see it (None: no such ticket); 403 out of scope."""
    number = _number(request.match_info["ticket"])
    ticket = await store.get_ticket(session, number) if number else None
    if ticket is not None:
        require(data.may_see_ticket(who, ticket))
    return ticket


@routes.get("/inbox/{ticket}", name="ticket")
async def ticket_page(request: web.Request) -> web.Response:
    """A ticket: its citizen, its conversation, and the forms to act on it."""
    who = staff_of(request)
    require(who.may_see_inbox())
    console = request.app[CONSOLE]
    async with console.db.read_scope() as session:
        ticket = await _ticket(session, request, who)
        if ticket is None:
            return refusal(request, *NOT_FOUND, status=404)
        account = await session.get(Account, ticket.account_id) if ticket.account_id else None
        citizen = await data.citizen_of(session, account, console.protector)
        claimed = await data.claimed_of(session, ticket, account, console.protector)
        entries = await store.entries(session, ticket.id)
        canned = await store.canned(session)
        people = await data.assignees(session)
    chosen = next((c for c in canned if str(c.id) == request.query.get("canned")), None)
    context: dict[str, Any] = {
        "ticket": ticket,
        "citizen": citizen,
        "claimed": claimed,
        "entries": entries,
        "canned": canned,
        "draft": data.fill(chosen, citizen) if chosen else "",
        "assignees": people,
        "mine": ticket.holder == data.holder_of(who),
        "reasons": list(CLOSE_REASONS.items()),
        "reason_name": CLOSE_REASONS.get(ticket.close_reason or "", ""),
        "breach": data.breached(ticket, target=_target(request), now=console.clock()),
        "target": int(console.settings.console_first_response_minutes),
        "max_text": MAX_TEXT,
    }
    return render.page(request, "ticket.html", context, script=True)


def _text(request: web.Request, name: str) -> str:
    return form_of(request).get(name, "").strip()[:MAX_TEXT]


def _back(ticket_id: int) -> web.Response:
    return redirect(f"/console/inbox/{ticket_id}")


@routes.post("/inbox/{ticket}/claim", name="ticket_claim")
async def claim(request: web.Request) -> web.Response:
    """Take an unassigned ticket."""
    who = staff_of(request)
    require(who.may_see_inbox())
    console = request.app[CONSOLE]
    async with console.db.session_scope() as session:
        ticket = await _ticket(session, request, who)
        if ticket is None:
            return refusal(request, *NOT_FOUND, status=404)
        await tickets.claim(
            session, ticket, actor=who.actor, holder=data.holder_of(who), now=console.clock()
        )
    console.outbox_written()
    return _back(ticket.id)


@routes.post("/inbox/{ticket}/assign", name="ticket_assign")
async def assign(request: web.Request) -> web.Response:
    """Give the ticket to a support agent or an admin."""
    who = staff_of(request)
    require(who.may_see_inbox())
    console = request.app[CONSOLE]
    async with console.db.session_scope() as session:
        ticket = await _ticket(session, request, who)
        if ticket is None:
            return refusal(request, *NOT_FOUND, status=404)
        to = form_of(request).get("to", "")
        label = dict(await data.assignees(session)).get(to)
        if label is None or ticket.status != store.OPEN:
            return _back(ticket.id)
        await tickets.assign(
            session, ticket, actor=who.actor, to_label=label, to_holder=to, now=console.clock()
        )
    console.outbox_written()
    return _back(ticket.id)


@routes.post("/inbox/{ticket}/reply", name="ticket_reply")
async def reply(request: web.Request) -> web.Response:
    """Answer the citizen on their channel, through the outbox."""
    who = staff_of(request)
    require(who.may_see_inbox())
    console, text = request.app[CONSOLE], _text(request, "text")
    async with console.db.session_scope() as session:
        ticket = await _ticket(session, request, who)
        if ticket is None:
            return refusal(request, *NOT_FOUND, status=404)
        if not text:
            return _back(ticket.id)
        if ticket.status != store.OPEN:
            return refusal(request, *CLOSED_ALREADY, status=409)
        account = await session.get(Account, ticket.account_id) if ticket.account_id else None
        if account is None:
            return refusal(request, *ERASED, status=409)
        await tickets.reply(
            session,
            ticket,
            account,
            actor=who.actor,
            holder=data.holder_of(who),
            name=who.name or who.login,
            text=text,
            now=console.clock(),
        )
    console.outbox_written()
    return _back(ticket.id)


@routes.post("/inbox/{ticket}/note", name="ticket_note")
async def note(request: web.Request) -> web.Response:
    """An internal note: staff only, never sent to the citizen."""
    who = staff_of(request)
    require(who.may_see_inbox())
    console, text = request.app[CONSOLE], _text(request, "text")
    async with console.db.session_scope() as session:
        ticket = await _ticket(session, request, who)
        if ticket is None:
            return refusal(request, *NOT_FOUND, status=404)
        if text:
            await tickets.note(
                session,
                ticket,
                actor=who.actor,
                name=who.name or who.login,
                text=text,
                now=console.clock(),
            )
    console.outbox_written()
    return _back(ticket.id)


@routes.post("/inbox/{ticket}/recover", name="ticket_recover")
async def recover(request: web.Request) -> web.Response:
    """A recovery case checked: move the person to the ticket's chat (audited, citizen told)."""
    who = staff_of(request)
    require(who.may_see_inbox())
    console = request.app[CONSOLE]
    async with console.db.session_scope() as session:
        ticket = await _ticket(session, request, who)
        if ticket is None:
            return refusal(request, *NOT_FOUND, status=404)
        if ticket.status != store.OPEN:
            return refusal(request, *CLOSED_ALREADY, status=409)
        if ticket.account_id is None:
            return refusal(request, *ERASED, status=409)
        done = await account_recovery.move(session, ticket, actor=who.actor, now=console.clock())
        if done == account_recovery.Moved.GONE:
            return refusal(request, *NOT_A_CASE, status=409)
    console.outbox_written()
    return _back(ticket.id)


@routes.post("/inbox/{ticket}/close", name="ticket_close")
async def close(request: web.Request) -> web.Response:
    """Close the ticket with a reason; the citizen is told and asked to rate the help."""
    who = staff_of(request)
    require(who.may_see_inbox())
    console = request.app[CONSOLE]
    reason = form_of(request).get("reason", "")
    reason = reason if reason in CLOSE_REASONS else "other"
    async with console.db.session_scope() as session:
        ticket = await _ticket(session, request, who)
        if ticket is None:
            return refusal(request, *NOT_FOUND, status=404)
        now = console.clock()
        note = _text(request, "note")[:500] or None
        if not await tickets.close(
            session, ticket, actor=who.actor, note=note, reason=reason, now=now
        ):
            return _back(ticket.id)
        await _tell_closed(session, ticket, now=now)
    console.outbox_written()
    return _back(ticket.id)


async def _tell_closed(session: AsyncSession, ticket: Ticket, *, now: Any) -> None:
    """Tell the citizen the ticket is closed and ask for their rating (as the desk does)."""
    account = await session.get(Account, ticket.account_id) if ticket.account_id else None
    if account is None:
        return
    kept = await accounts.flow_of(session, account.id) is not None
    message = tickets.closed_by_staff(ticket, account, kept=kept)
    row = outbox.NewMessage(
        message.chat.channel, message.chat.chat_id, message.to_body(), account.id
    )
    await outbox.enqueue(session, [row], now=now)


@routes.get("/canned", name="canned")
async def canned_page(request: web.Request) -> web.Response:
    """The canned responses (admins manage them)."""
    require(staff_of(request).is_admin)
    async with request.app[CONSOLE].db.read_scope() as session:
        found = await store.canned(session)
    return render.page(request, "canned.html", {"canned": found, "problem": None, "values": {}})


CANNED_PROBLEM = N_(
    "A canned response needs a title of its own (at most 80 characters) and a text (at most "
    "2,000 characters)."
)


@routes.post("/canned", name="canned_post")
async def canned_post(request: web.Request) -> web.Response:
    """Add a canned response, change one (`id`), or delete one (`delete`)."""
    who = staff_of(request)
    require(who.is_admin)
    form, console = form_of(request), request.app[CONSOLE]
    title, body = form.get("title", "").strip(), form.get("body", "").strip()
    number = _number(form.get("id", ""))
    async with console.db.session_scope() as session:
        found = await session.get(CannedResponse, number) if number else None
        now = console.clock()
        if found is not None and form.get("delete"):
            await session.delete(found)
            await _audit(session, who, "canned_deleted", found.title, now)
            return redirect("/console/canned")
        clash = await session.scalar(select(CannedResponse).where(CannedResponse.title == title))
        if (
            not title
            or len(title) > 80
            or not body
            or len(body) > 2000
            or (clash is not None and clash is not found)
        ):
            context = {
                "canned": await store.canned(session),
                "problem": CANNED_PROBLEM,
                "values": {"title": title, "body": body},
            }
            return render.page(request, "canned.html", context, status=422)
        if found is None:
            found = CannedResponse(title=title, body=body, updated_by=who.actor, updated_at=now)
            session.add(found)
        found.title, found.body, found.updated_by, found.updated_at = title, body, who.actor, now
        await session.flush()
        await _audit(session, who, "canned_saved", title, now)
    return redirect("/console/canned")


async def _audit(session: AsyncSession, who: Staff, action: str, title: str, now: Any) -> None:
    await staff_store.audit(
        session, actor=who.actor, action=action, subject="canned", now=now, detail={"title": title}
    )
