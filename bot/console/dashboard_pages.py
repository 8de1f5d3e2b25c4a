"""The live dashboard page, its Server-Sent Events stream, and the lists behind its figures.

The page is complete without script; `static/dashboard.js` opens `/console/dashboard/events`
and swaps in each figures fragment the server pushes: at once, whenever a table the dashboard
shows is written (`bot.console.live`), and at least every `CONSOLE_DASHBOARD_REFRESH_S`. A
stream ends when the session does, when the browser goes, and at once when the service stops.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup

from bot.console import charts, dashboard_lists, render
from bot.console.dashboard import Figures, Scope, figures, local_day
from bot.console.gate import CONSOLE, Console, require, staff_of
from bot.console.live import Changes
from bot.console.request_keys import SESSION_TOKEN
from bot.i18n import TIMEZONE, _, use_locale
from bot.web.headers import page_headers
from storage import console as store

routes = web.RouteTableDef()
CHANGES = web.AppKey("console_changes", Changes)
CACHE = web.AppKey("console_figures", dict[Scope, tuple[int, float, Figures]])
MAX_CACHED = 1000  # scopes (a scope is an admin, a set of wards or a set of sites)
MIN_GAP_S = 1.0  # a busy outbox must not make a stream recompute many times a second
HEADERS = page_headers(style_src="'self'", script_src="'self'", connect_src="'self'") | {
    "Cache-Control": "no-store"
}


def scope_of(request: web.Request) -> Scope:
    """The signed-in staff member's scope (support agents alone have none: refused)."""
    scope = Scope.of(staff_of(request))
    require(scope is not None)
    assert scope is not None
    return scope


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes = round(seconds / 60)
    if minutes < 60:
        return _("%(m)s min") % {"m": minutes}
    if minutes < 48 * 60:
        return _("%(h)s h %(m)02d min") % {"h": minutes // 60, "m": minutes % 60}
    return _("%(d)s days") % {"d": round(minutes / 1440)}


def view(found: Figures) -> dict[str, Any]:
    """What the figures fragment shows, charts drawn (call inside the request's locale)."""
    booked = sum(d.booked for d in found.bookings)
    offered = sum(d.capacity for d in found.bookings)
    rate = found.no_show_rate
    return {
        "f": found,
        "at": found.at.astimezone(TIMEZONE).strftime("%H:%M:%S"),
        "booked": booked,
        "offered": offered,
        "no_show": "–" if rate is None else f"{rate:.0%}",
        "to_result": _duration(found.to_result_s),
        "to_told": _duration(found.to_told_s),
        "first_response": _duration(found.first_response_s),
        **_charts(found, booked, offered),
    }


def _charts(found: Figures, booked: int, offered: int) -> dict[str, Markup]:
    """The fragment's pictures, each with its title and a description of its numbers."""
    week = found.registrations or []
    week_title = _("Registrations per day, last 7 days")
    week_desc = ", ".join(f"{day.strftime('%d/%m')}: {n}" for day, n in week)
    return {
        "bookings_chart": charts.capacity_bars(
            [(d.day.strftime("%d/%m"), d.booked, d.capacity) for d in found.bookings],
            title=_("Places booked against places offered, next 14 days"),
            desc=_("%(booked)s of %(offered)s places booked")
            % {"booked": booked, "offered": offered},
            href=[f"/console/dashboard/bookings/{d.day.isoformat()}" for d in found.bookings],
        ),
        "doses_chart": charts.bars(
            found.doses,
            title=_("Doses given by product, last 30 days"),
            desc=", ".join(f"{p}: {n}" for p, n in found.doses) or _("No dose yet."),
        ),
        "registrations_bars": charts.capacity_bars(
            [(day.strftime("%d/%m"), n, 0) for day, n in week],
            title=week_title,
            desc=week_desc,
            values=True,
        ),
        "registrations_chart": charts.sparkline(
            [n for _, n in week], title=week_title, desc=week_desc
        ),
    }


async def _compute(request: web.Request, scope: Scope) -> Figures:
    """The scope's figures, shared by every page and stream of that scope.

    They are reused until they may have changed (a write was committed) or
    `CONSOLE_DASHBOARD_REFRESH_S` has passed.
    """
    console, changes, cache = request.app[CONSOLE], request.app[CHANGES], request.app[CACHE]
    version, moment = changes.version, asyncio.get_running_loop().time()
    hit = cache.get(scope)
    if (
        hit
        and hit[0] == version
        and moment - hit[1] < console.settings.console_dashboard_refresh_s
    ):
        return hit[2]
    async with console.db.read_scope() as session:
        found = await figures(session, scope, console.clock())
    if len(cache) >= MAX_CACHED:
        cache.clear()
    cache[scope] = (version, moment, found)
    return found


def _fragment(request: web.Request, found: Figures) -> str:
    environment = aiohttp_jinja2.get_env(request.app)
    with use_locale(render.locale_of(request)):
        return environment.get_template("dashboard_figures.html").render(view(found))


@routes.get("/dashboard", name="dashboard")
async def dashboard(request: web.Request) -> web.Response:
    """The dashboard page, figures included (the script keeps them live)."""
    scope = scope_of(request)
    found = await _compute(request, scope)
    response = render.page(request, "dashboard.html", {"figures": _fragment(request, found)})
    response.headers.update(HEADERS)
    return response


def sse(html: str) -> bytes:
    """One `figures` event carrying `html` (one `data:` line per line)."""
    lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: figures\n{lines}\n".encode()


async def _signed_in(console: Console, token: str) -> bool:
    async with console.db.session_scope() as session:
        found = await store.live_session(session, token, now=console.clock(), idle=console.idle)
        return found is not None


@routes.get("/dashboard/events", name="dashboard_events")
async def events(request: web.Request) -> web.StreamResponse:
    """The figures, pushed as Server-Sent Events whenever they may have changed."""
    scope, console, changes = scope_of(request), request.app[CONSOLE], request.app[CHANGES]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    refresh, token = console.settings.console_dashboard_refresh_s, request[SESSION_TOKEN]
    try:
        await response.write(b"retry: 5000\n\n")
        while not changes.closed and await _signed_in(console, token):
            seen = changes.version
            await response.write(sse(_fragment(request, await _compute(request, scope))))
            await changes.wait(seen, refresh)
            await changes.stopping(MIN_GAP_S)
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the browser went away, or the service stops
    return response


def _page_number(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    return max(1, min(int(raw), 10_000)) if raw.isdigit() else 1


def _list(request: web.Request, title: str, kind: str, rows: dashboard_lists.Page) -> web.Response:
    context = {"title": title, "kind": kind, "rows": rows, "base": request.path}
    return render.page(request, "dashboard_list.html", context)


@routes.get("/dashboard/bookings/{day}", name="dashboard_bookings")
async def bookings_of_day(request: web.Request) -> web.Response:
    """The bookings of one day in the scope, by time."""
    scope, console = scope_of(request), request.app[CONSOLE]
    try:
        day = date.fromisoformat(request.match_info["day"])
    except ValueError:
        day = local_day(console.clock())
    day = min(max(day, local_day(console.clock()) - timedelta(days=366)), date(9998, 1, 1))
    with use_locale(render.locale_of(request)):
        async with console.db.read_scope() as session:
            rows = await dashboard_lists.bookings_of_day(
                session, scope, day, _page_number(request)
            )
        title = _("Bookings of %(day)s") % {"day": day.strftime("%d/%m/%Y")}
    return _list(request, title, "bookings", rows)


@routes.get("/dashboard/missed", name="dashboard_missed")
async def missed_appointments(request: web.Request) -> web.Response:
    """The appointments of the last 30 days missed in the scope, latest first."""
    scope, console = scope_of(request), request.app[CONSOLE]
    with use_locale(render.locale_of(request)):
        async with console.db.read_scope() as session:
            now, number = console.clock(), _page_number(request)
            rows = await dashboard_lists.missed(session, scope, now, number)
        title = _("Missed appointments, last 30 days")
    return _list(request, title, "bookings", rows)


@routes.get("/dashboard/pending", name="dashboard_pending")
async def pending_results(request: web.Request) -> web.Response:
    """The samples in the scope still without a result, oldest first."""
    scope, console = scope_of(request), request.app[CONSOLE]
    with use_locale(render.locale_of(request)):
        async with console.db.read_scope() as session:
            rows = await dashboard_lists.pending_results(session, scope, _page_number(request))
        title = _("Results pending")
    return _list(request, title, "pending", rows)


@routes.get("/dashboard/tickets", name="dashboard_tickets")
async def open_tickets(request: web.Request) -> web.Response:
    """The open tickets in the scope, oldest first."""
    scope, console = scope_of(request), request.app[CONSOLE]
    require(scope.has_people)
    with use_locale(render.locale_of(request)):
        async with console.db.read_scope() as session:
            rows = await dashboard_lists.open_tickets(session, scope, _page_number(request))
        title = _("Open tickets")
    return _list(request, title, "tickets", rows)
