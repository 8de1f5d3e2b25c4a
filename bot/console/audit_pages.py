"""The audit log for admins: every staff action, filtered by person, action and day; CSV export.

The export is itself audited (who took a copy of the trail, with which filter). Cells that a
spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first) are written
with a leading apostrophe, so the file opened in Excel shows the text and runs nothing.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from aiohttp import web

from bot.console import render
from bot.console.gate import CONSOLE, Console, require, staff_of
from bot.console.numbers import FIRST_YEAR, LAST_YEAR, whole_number
from bot.i18n import N_, TIMEZONE
from storage import audit_log
from storage import staff as staff_store
from storage.audit_log import AuditFilter
from storage.models import AuditEvent

routes = web.RouteTableDef()
PAGE_SIZE = 50
MAX_ACTOR = 120
DETAIL_SHOWN = 300  # characters of a line's detail on the page (the export has all of it)
FILTERS = ("actor", "action", "from", "to")
COLUMNS = ("time", "actor", "action", "subject", "detail")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PROBLEMS = {
    "day": N_("Days are written as the calendar gives them (for example 2026-12-07)."),
    "order": N_("The first day comes after the last one."),
}


def _day(text: str) -> date | None:
    """A day typed or picked as YYYY-MM-DD or DD/MM/YYYY; None if it is neither."""
    text = text.strip()
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            day = datetime.strptime(text, pattern).date()
        except ValueError:
            continue
        return day if FIRST_YEAR <= day.year <= LAST_YEAR else None
    return None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), TIMEZONE)


def filter_of(query: dict[str, str], actions: list[str]) -> tuple[AuditFilter, list[str]]:
    """The filter a request asks for, and what was wrong with it (that part is left out).

    `from` and `to` are days in Vietnam, both included; an action the log does not hold and
    an actor's text over 120 characters are dropped, never passed on.
    """
    problems: list[str] = []
    days: dict[str, date | None] = {}
    for key in ("from", "to"):
        text = query.get(key, "")
        days[key] = _day(text) if text else None
        if text and days[key] is None:
            problems.append("day")
    first, last = days["from"], days["to"]
    if first and last and first > last:
        problems.append("order")
        first = last = None
    action = query.get("action", "")
    chosen = AuditFilter(
        actor=" ".join(query.get("actor", "").split())[:MAX_ACTOR],
        action=action if action in actions else "",
        since=_start_of(first) if first else None,
        until=_start_of(last + timedelta(days=1)) if last else None,
    )
    return chosen, sorted(set(problems))


def _before(query: dict[str, str]) -> int | None:
    text = query.get("before", "")
    return whole_number(text)


def _detail(line: AuditEvent) -> str:
    return json.dumps(line.detail, ensure_ascii=False, sort_keys=True) if line.detail else ""


@routes.get("/audit", name="audit")
async def audit_page(request: web.Request) -> web.Response:
    """A page of the audit log, newest first, with the filter and a link to the next page."""
    require(staff_of(request).may_see_audit())
    query = dict(request.query)
    async with request.app[CONSOLE].db.read_scope() as session:
        actions = await audit_log.audit_actions(session)
        chosen, problems = filter_of(query, actions)
        lines = await audit_log.audit_page(
            session, chosen, before_id=_before(query), size=PAGE_SIZE + 1
        )
    rows = [
        {
            "at": line.at.astimezone(TIMEZONE).strftime("%d/%m/%Y %H:%M:%S"),
            "actor": line.actor,
            "action": line.action,
            "subject": line.subject,
            "detail": _detail(line)[:DETAIL_SHOWN],
        }
        for line in lines[:PAGE_SIZE]
    ]
    kept = {key: query.get(key, "") for key in FILTERS}
    more = lines[PAGE_SIZE - 1].id if len(lines) > PAGE_SIZE else None
    context = {
        "rows": rows,
        "actions": actions,
        "values": kept,
        "problems": [PROBLEMS[p] for p in problems],
        "next_query": _query_text(kept | {"before": str(more)}) if more else "",
        "export_query": _query_text(kept),
    }
    return render.page(request, "audit.html", context)


def _query_text(values: dict[str, str]) -> str:
    """`values` as a query string (the empty ones left out), escaped."""
    return urlencode({key: value for key, value in values.items() if value})


def safe_cell(text: str) -> str:
    """A cell a spreadsheet shows as text: formulas are defused with a leading apostrophe."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv_row(values: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([safe_cell(v) for v in values])
    return buffer.getvalue().encode("utf-8")


@routes.get("/audit.csv", name="audit_csv")
async def audit_export(request: web.Request) -> web.StreamResponse:
    """Every line the filter keeps as CSV (UTF-8 with a byte-order mark, for Excel); audited."""
    who = staff_of(request)
    require(who.may_see_audit())
    console = request.app[CONSOLE]
    now = console.clock()
    async with console.db.session_scope() as session:
        chosen, _problems = filter_of(dict(request.query), await audit_log.audit_actions(session))
        await staff_store.audit(
            session,
            actor=who.actor,
            action="audit_exported",
            subject="audit_log",
            now=now,
            detail={key: value for key in FILTERS if (value := request.query.get(key, ""))},
        )
    stamp = now.astimezone(TIMEZONE).strftime("%Y%m%d-%H%M")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="audit-{stamp}.csv"',
            **render.HEADERS,
        }
    )
    await response.prepare(request)
    await _write_lines(response, console, chosen)
    return response


async def _write_lines(
    response: web.StreamResponse, console: Console, chosen: AuditFilter
) -> None:
    """The CSV's header and every line the filter keeps, a thousand at a time."""
    await response.write(b"\xef\xbb\xbf" + _csv_row(list(COLUMNS)))
    async with console.db.read_scope() as session:
        async for line in audit_log.audit_lines(session, chosen):
            at = line.at.astimezone(TIMEZONE).isoformat(timespec="seconds")
            row = [at, line.actor, line.action, line.subject, _detail(line)]
            await response.write(_csv_row(row))
    await response.write_eof()
