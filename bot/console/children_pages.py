"""A ward's children in the console: the due list of the coming week and coverage per dose.

The same functions as `run_bot.py children due|coverage` (`bot.domain.immunisation.due_list`),
for admins and the ward's officers; names are masked to initials, as in every staff list.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.console import render
from bot.console.gate import CONSOLE, require, staff_of
from bot.console.numbers import whole_number
from bot.console.pages import ward_name
from bot.console.staff_pages import is_ward
from bot.domain.immunisation import due_list as lists
from bot.domain.immunisation.rules import State
from bot.domain.immunisation.schedule import load_schedule
from bot.i18n import N_, local_day

routes = web.RouteTableDef()
DAYS = 7
STATES = {State.DUE: N_("due"), State.OVERDUE: N_("overdue"), State.UPCOMING: N_("upcoming")}


def _due_row(entry: lists.DueEntry, vietnamese: bool) -> dict[str, Any]:
    """A child of the due list as the page shows it (name masked to initials)."""
    return {
        "id": entry.child.id,
        "name": lists.mask_name(entry.child.name),
        "born": entry.child.born.strftime("%d/%m/%Y"),
        "overdue": entry.overdue,
        "doses": [
            (
                d.dose.name_vi if vietnamese else d.dose.name_en,
                STATES.get(d.state, d.state.value),
                d.due_on.strftime("%d/%m/%Y") if d.due_on else "",
            )
            for d in entry.doses
        ],
    }


@routes.get("/wards/{code}/children", name="ward_children")
async def ward_children(request: web.Request) -> web.Response:
    """The ward's due list for the coming week and its coverage (admins, its officers)."""
    code = request.match_info["code"]
    ward = whole_number(code) or 0
    require(is_ward(ward) and staff_of(request).may_see_ward(ward))
    console = request.app[CONSOLE]
    today = local_day(console.clock())
    async with console.db.read_scope() as session:
        rows = await lists.load_rows(session, ward, today)
    schedule = load_schedule()
    due = lists.due_list(schedule, rows, today=today, days=DAYS)
    vietnamese = render.locale_of(request) == "vi"
    context = {
        "code": ward,
        "name": ward_name(ward),
        "days": DAYS,
        "children": len(rows),
        "due": [_due_row(entry, vietnamese) for entry in due],
        "coverage": [
            {
                "dose": line.dose.name_vi if vietnamese else line.dose.name_en,
                "eligible": line.eligible,
                "covered": line.covered,
                "percent": f"{line.percent:.0f}",
                "confirmed": line.confirmed,
            }
            for line in lists.coverage(schedule, rows, today=today)
        ],
    }
    return render.page(request, "ward_children.html", context)
