"""The queue of citizens' dose-record corrections (issue 16.7), for the staff who decide them.

A request goes to the site that recorded the dose: site staff see and decide their sites',
ward officers the sites in their wards', admins every site's. Each decision is audited and the
citizen told in their language (bot.domain.dose_corrections); looking at a paper card's photo
is audited too. The dose desk of issue 18 will take this queue over.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web
from sqlalchemy import select

from bot.console import render
from bot.console.access import SITE_STAFF, Staff
from bot.console.gate import CONSOLE, form_of, redirect, require, staff_of
from bot.console.numbers import whole_number
from bot.domain.dose_corrections import (
    CorrectionProblem,
    CorrectionRefused,
    DoseChange,
    decide,
    dose_label,
    photo_of,
)
from bot.domain.immunisation.due_list import mask_name
from bot.domain.vaccines import PRODUCTS
from bot.i18n import format_moment
from storage import corrections
from storage import staff as staff_store
from storage.models import DoseCorrection, Person, Site, Vaccination

routes = web.RouteTableDef()
MAX_NOTE = 500


async def _sites_of(request: web.Request, who: Staff) -> list[str] | None:
    """The sites whose requests `who` decides; None: every site (admins)."""
    if who.is_admin:
        return None
    sites = set(who.sites) if SITE_STAFF in who.roles else set()
    if who.wards:
        async with request.app[CONSOLE].db.read_scope() as session:
            found = await session.scalars(select(Site.id).where(Site.ward_code.in_(who.wards)))
            sites |= set(found)
    require(bool(sites))
    return sorted(sites)


@routes.get("/corrections", name="corrections")
async def queue_page(request: web.Request) -> web.Response:
    """The open requests of the staff member's sites, oldest first, each with its decision form."""
    sites = await _sites_of(request, staff_of(request))
    rows = []
    async with request.app[CONSOLE].db.read_scope() as session:
        for request_row in await corrections.queue(session, sites=sites):
            person = await session.get(Person, request_row.person_id)
            dose = await session.get(Vaccination, request_row.vaccination_id)
            rows.append(
                {
                    "id": request_row.id,
                    "site": request_row.site_id or "",
                    "at": format_moment(request_row.created_at),
                    "who": mask_name(person.full_name) if person else "",
                    "born": person.birth_date.year if person else "",
                    "dose": dose_label(dose) if dose else "",
                    "problem": request_row.problem,
                    "photo": request_row.photo_sealed is not None,
                }
            )
    context = {
        "rows": rows,
        "products": [(key, product.label) for key, product in PRODUCTS.items()],
        "problem": request.query.get("problem") == "change",
    }
    return render.page(request, "corrections.html", context)


async def _in_scope(request: web.Request) -> tuple[DoseCorrection, list[str] | None]:
    who = staff_of(request)
    sites = await _sites_of(request, who)
    number = request.match_info["id"]
    require(whole_number(number) is not None)
    async with request.app[CONSOLE].db.read_scope() as session:
        found = await session.get(DoseCorrection, int(number))
    require(found is not None and (sites is None or found.site_id in sites))
    assert found is not None
    return found, sites


@routes.get("/corrections/{id}/photo", name="correction_photo")
async def photo(request: web.Request) -> web.Response:
    """The paper card's photo sent with a request (audited)."""
    found, _sites = await _in_scope(request)
    console = request.app[CONSOLE]
    picture = photo_of(found, console.protector)
    require(picture is not None)
    assert picture is not None
    async with console.db.session_scope() as session:
        await staff_store.audit(
            session, actor=staff_of(request).actor, action="dose_correction_photo_viewed",
            subject=f"correction:{found.id}", now=console.clock(),
        )  # fmt: skip
    kind = "image/png" if picture.startswith(b"\x89PNG") else "image/jpeg"
    return web.Response(body=picture, content_type=kind, headers=render.HEADERS)


@routes.post("/corrections/{id}", name="correction_decide")
async def decide_one(request: web.Request) -> web.Response:
    """Accept or refuse one request; the citizen is told; back to the queue."""
    found, sites = await _in_scope(request)
    form = form_of(request)
    verdict = form.get("decision", "")
    require(verdict in ("accept", "refuse"))
    console = request.app[CONSOLE]
    change = change_of(form)
    if change is None:
        return redirect(f"/console/corrections?problem=change#correction-{found.id}")
    try:
        async with console.db.session_scope() as session:
            await decide(
                session, found.id, accept=verdict == "accept",
                note=form.get("note", "")[:MAX_NOTE], actor=staff_of(request).actor,
                sites=sites, now=console.clock(), change=change, authority=console.authority,
            )  # fmt: skip
    except CorrectionRefused as refused:
        if refused.problem is CorrectionProblem.BAD_CHANGE:
            return redirect(f"/console/corrections?problem=change#correction-{found.id}")
        # otherwise decided meanwhile by someone else: the queue shows what is left
    console.certificates_issued()
    console.outbox_written()
    return redirect("/console/corrections")


def change_of(form: dict[str, str]) -> DoseChange | None:
    """The corrected product, lot and day the form gives (empty parts stay); None if unreadable."""
    product, lot = form.get("product", "").strip(), form.get("lot", "").strip()[:40]
    day_text = form.get("given_on", "").strip()
    try:
        day = date.fromisoformat(day_text) if day_text else None
    except ValueError:
        return None
    return DoseChange(product=product or None, lot=lot or None, given_on=day)
