"""The dose desk: today's appointments, finding one, recording its dose, marking a no-show.

An appointment is found by its code, by name and birth year, or by its QR (the camera where the
browser can read it, else a photo read on the server).

Who: the site's site staff, and admins. The dose is recorded by `bot.domain.doses.record_dose`
exactly as the chat's `/tiem` does (the citizen is told, the certificate is issued and sent).
The lot last used is remembered for the desk (a cookie), as vials of one lot serve many people.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console import render
from bot.console.access import Staff
from bot.console.gate import CONSOLE, Console, form_of, redirect, require, staff_of
from bot.console.numbers import whole_number
from bot.domain import dose_desk
from bot.domain.booking import read_code
from bot.domain.dcc.qr_reader import NotAnImage, read_qr_texts
from bot.domain.dose_desk import Appointment, Refusal
from bot.domain.doses import DoseEntry, DoseRefused, record_dose
from bot.domain.immunisation import site_doses
from bot.domain.vaccines import PRODUCTS
from bot.i18n import N_, TIMEZONE, local_day
from bot.vn.phone import mask_id_number
from storage import bookings, children
from storage.models import Child, Site

routes = web.RouteTableDef()
LOT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./-]{1,39}$")  # as the chat's /tiem
LOT_COOKIE = "desk_lot"
LOT_HOURS = 12
TYPED_LOT = web.RequestKey("desk_typed_lot", str)  # the lot typed, shown again with a problem
REFUSALS = {
    Refusal.OTHER_SITE: N_("This booking is for another site; its dose cannot be recorded here."),
    Refusal.ATTENDED: N_("This booking was already attended; its dose is recorded."),
    Refusal.CANCELLED: N_("This booking was cancelled; there is nothing to record."),
    Refusal.NOT_DUE: N_("By the recorded doses, this dose cannot be given today."),
}
PROBLEMS = {
    "lot": N_(
        "A lot number has 2-40 letters, digits, dots, dashes or slashes, starting with a "
        "letter or digit."
    ),
    "product": N_("Please choose one of the vaccines listed."),
    "conflict": N_("This dose of the person is already recorded differently; nothing changed."),
    "no_qr": N_("No booking code was found in this picture. Try again closer, or type the code."),
    "not_image": N_("This file is not a picture we can read (a PNG, JPEG or WebP photo)."),
    "early": N_("Not marked: an appointment is missed only once its time has come."),
}
DONE = {
    "dose": N_("Dose recorded. The citizen has been told, and the certificate will be sent."),
    "same": N_("This dose was already recorded with the same details; nothing changed."),
    "no_show": N_("Marked as not come."),
    "child_dose": N_("Dose recorded. The parent has been sent the child's updated card."),
}
STATUS = {
    bookings.ACTIVE: N_("Booked"),
    bookings.ATTENDED: N_("Dose recorded"),
    bookings.MISSED: N_("Did not come"),
}


async def _site(request: web.Request, session: AsyncSession) -> Site:
    site = await session.get(Site, request.match_info["site_id"][:32])
    require(site is not None and staff_of(request).may_record_doses(site))
    assert site is not None
    return site


@routes.get("/desk", name="desk_sites")
async def desk_sites(request: web.Request) -> web.Response:
    """The sites whose desk the person may work at (straight to it when there is one)."""
    who = staff_of(request)
    require(who.is_admin or bool(who.desk_sites))
    async with request.app[CONSOLE].db.read_scope() as session:
        query = select(Site).where(Site.active.is_(True)).order_by(Site.name).limit(200)
        if not who.is_admin:
            query = query.where(Site.id.in_(sorted(who.desk_sites)))
        sites = (await session.scalars(query)).all()
    if len(sites) == 1:
        return redirect(f"/console/desk/{sites[0].id}")
    return render.page(request, "desk_sites.html", {"sites": sites})


def _row(appointment: Appointment) -> dict[str, Any]:
    return {
        "code": appointment.booking.code,
        "name": appointment.person.full_name,
        "year": appointment.person.birth_date.year,
        "dose": appointment.booking.dose_number,
        "at": appointment.slot.starts_at.astimezone(TIMEZONE).strftime("%d/%m %H:%M"),
        "status": STATUS.get(appointment.booking.status, appointment.booking.status),
        "screening": appointment.booking.needs_screening,
    }


@routes.get("/desk/{site_id}", name="desk")
async def desk(request: web.Request) -> web.Response:
    """Today's appointments at the site, and what a search found."""
    console = request.app[CONSOLE]
    query = " ".join(request.query.get("q", "").split())[:80]
    today = local_day(console.clock())
    async with console.db.read_scope() as session:
        site = await _site(request, session)
        if (number := dose_desk.child_number(query)) is not None:
            return redirect(f"/console/desk/{site.id}/children/{number}")
        listed = await dose_desk.day_list(session, site.id, today)
        kids = await dose_desk.children_day(session, site.id, today)
        found = await dose_desk.search(session, site.id, query, today=today) if query else None
    if found is not None and len(found) == 1 and found[0].slot.site_id == site.id:
        return redirect(f"/console/desk/{site.id}/bookings/{found[0].booking.code}")
    context = {
        "site": site,
        "query": query,
        "found": [_row(a) for a in found] if found is not None else None,
        "other_site": found is not None and any(a.slot.site_id != site.id for a in found),
        "rows": [_row(a) for a in listed],
        "children": [
            {
                "id": child.id,
                "name": child.full_name,
                "born": child.birth_date.strftime("%d/%m/%Y"),
                "at": slot.starts_at.astimezone(TIMEZONE).strftime("%H:%M"),
                "done": status == children.ATTENDED,
            }
            for child, slot, status in kids
        ],
        "done": DONE.get(request.query.get("done", "")),
        "problem": PROBLEMS.get(request.query.get("problem", "")),
    }
    return render.page(request, "desk.html", context, script=True)


@routes.post("/desk/{site_id}/scan", name="desk_scan")
async def desk_scan(request: web.Request) -> web.Response:
    """A photo of the booking QR (when the browser cannot scan): decoded here, then opened."""
    async with request.app[CONSOLE].db.read_scope() as session:
        site = await _site(request, session)
    upload = (await request.post()).get("photo")
    data = upload.file.read() if isinstance(upload, web.FileField) else b""
    try:  # decoding takes the CPU: off the event loop, as every caller of the reader does
        texts = await asyncio.to_thread(read_qr_texts, data) if data else []
    except NotAnImage:
        return redirect(f"/console/desk/{site.id}?problem=not_image")
    code = next((c for c in map(read_code, texts) if c), None)
    if code is None:
        return redirect(f"/console/desk/{site.id}?problem=no_qr")
    return redirect(f"/console/desk/{site.id}/bookings/{code}")


async def _appointment(request: web.Request, session: AsyncSession, site: Site) -> Appointment:
    """The appointment the URL names, if it is at this site (another site's is not shown)."""
    code = read_code(request.match_info["code"][:20])
    found = await bookings.find_by_code(session, code) if code else None
    require(found is not None and found[2].site_id == site.id)
    assert found is not None
    return Appointment(found[0], found[1], found[2])


def _remembered(request: web.Request, allowed: list[str]) -> tuple[str, str]:
    """The product and lot last recorded at this desk, if the product is allowed here."""
    product, _sep, lot = request.cookies.get(LOT_COOKIE, "").partition(":")
    return (product, lot) if product in allowed and LOT.match(lot) else ("", "")


async def _booking_view(
    request: web.Request,
    session: AsyncSession,
    site: Site,
    appointment: Appointment,
    *,
    problem: str | None = None,
    status: int = 200,
) -> web.Response:
    console = request.app[CONSOLE]
    today = local_day(console.clock())
    state = await dose_desk.recordable(session, appointment, site, today=today)
    refused, allowed = state.refusal, state.products
    product, lot = _remembered(request, allowed)
    context = {
        "site": site,
        "row": _row(appointment),
        "id_number": mask_id_number(console.protector.open(appointment.person.id_sealed)),
        "refused": REFUSALS[refused] if refused else None,
        "products": [(key, PRODUCTS[key].label) for key in allowed],
        "product": product,
        "lot": request.get(TYPED_LOT, lot),
        "problem": PROBLEMS.get(problem or ""),
        "booked": appointment.booking.status == bookings.ACTIVE,
    }
    return render.page(request, "desk_booking.html", context, status=status)


@routes.get("/desk/{site_id}/bookings/{code}", name="desk_booking")
async def desk_booking(request: web.Request) -> web.Response:
    """One appointment: who (masked), which dose, the vaccines allowed, the record form."""
    async with request.app[CONSOLE].db.read_scope() as session:
        site = await _site(request, session)
        appointment = await _appointment(request, session, site)
        return await _booking_view(request, session, site, appointment)


@routes.post("/desk/{site_id}/bookings/{code}/dose", name="desk_dose")
async def desk_dose(request: web.Request) -> web.Response:
    """Record the dose (product and lot) against the appointment; the citizen is told."""
    who, console, form = staff_of(request), request.app[CONSOLE], form_of(request)
    product, lot = form.get("product", ""), form.get("lot", "").strip()[:40]
    request[TYPED_LOT] = lot
    async with console.db.session_scope() as session:
        site = await _site(request, session)
        appointment = await _appointment(request, session, site)
        today = local_day(console.clock())
        state = await dose_desk.recordable(session, appointment, site, today=today)
        if state.refusal is not None:
            return await _booking_view(request, session, site, appointment, status=409)
        problem = _dose_problem(state, product, lot)
        if problem is not None:
            return await _booking_view(
                request, session, site, appointment, problem=problem, status=422
            )
        booking = appointment.booking
        entry = DoseEntry(
            appointment.person, booking.dose_number, product, lot, today, site.id, booking
        )
        try:
            recorded = await _record(session, entry, who, site, console)
        except DoseRefused:
            await session.rollback()
            return await _booking_view(
                request, session, site, appointment, problem="conflict", status=409
            )
    console.certificates_issued()
    console.outbox_written()
    response = redirect(f"/console/desk/{site.id}?done={'dose' if recorded else 'same'}")
    response.set_cookie(
        LOT_COOKIE, f"{product}:{lot}", path="/console/desk", max_age=LOT_HOURS * 3600,
        httponly=True, samesite="Strict",
    )  # fmt: skip
    return response


def _dose_problem(state: dose_desk.Recordable, product: str, lot: str) -> str | None:
    """What is wrong with the product and lot chosen, or None."""
    if product not in state.products:
        return "product"
    return None if LOT.match(lot) else "lot"


async def _record(
    session: AsyncSession, entry: DoseEntry, who: Staff, site: Site, console: Console
) -> bool:
    assert console.authority is not None  # the service always gives the console its signer
    return await record_dose(
        session,
        entry,
        source="console",
        actor=who.actor,
        staff_id=None,
        site_name=site.name,
        authority=console.authority,
        now=console.clock(),
    )


@routes.post("/desk/{site_id}/bookings/{code}/no-show", name="desk_no_show")
async def desk_no_show(request: web.Request) -> web.Response:
    """Mark a booked appointment as not come (audited)."""
    who, console = staff_of(request), request.app[CONSOLE]
    async with console.db.session_scope() as session:
        site = await _site(request, session)
        appointment = await _appointment(request, session, site)
        marked = await dose_desk.mark_no_show(
            session, appointment, actor=who.actor, now=console.clock()
        )
    return redirect(f"/console/desk/{site.id}?{'done=no_show' if marked else 'problem=early'}")


async def _child(request: web.Request, session: AsyncSession, site: Site) -> Child:
    """The child the URL names, if the site's to vaccinate (its ward's, or booked there)."""
    number = whole_number(request.match_info["child_id"])
    child = await session.get(Child, number) if number is not None else None
    require(child is not None and await dose_desk.child_belongs(session, child, site))
    assert child is not None
    return child


async def _child_view(
    request: web.Request, session: AsyncSession, site: Site, child: Child, *, status: int = 200
) -> web.Response:
    console = request.app[CONSOLE]
    locale = render.locale_of(request)
    givable = await site_doses.givable_today(session, child, local_day(console.clock()))
    context = {
        "site": site,
        "child": child,
        "born": child.birth_date.strftime("%d/%m/%Y"),
        "doses": [(s.dose.vaccine, s.dose.number, s.dose.name(locale)) for s in givable],
        "done": DONE.get(request.query.get("done", "")),
    }
    return render.page(request, "desk_child.html", context, status=status)


@routes.get("/desk/{site_id}/children/{child_id}", name="desk_child")
async def desk_child(request: web.Request) -> web.Response:
    """A child at the desk: who, and the doses of the schedule that may be given today."""
    async with request.app[CONSOLE].db.read_scope() as session:
        site = await _site(request, session)
        child = await _child(request, session, site)
        return await _child_view(request, session, site, child)


@routes.post("/desk/{site_id}/children/{child_id}/dose", name="desk_child_dose")
async def desk_child_dose(request: web.Request) -> web.Response:
    """Record a dose given to the child today here (the parent gets the new card; audited)."""
    who, console, form = staff_of(request), request.app[CONSOLE], form_of(request)
    wanted = (form.get("vaccine", ""), form.get("number", ""))
    async with console.db.session_scope() as session:
        site = await _site(request, session)
        child = await _child(request, session, site)
        today = local_day(console.clock())
        givable = await site_doses.givable_today(session, child, today)
        chosen = next((s for s in givable if (s.dose.vaccine, str(s.dose.number)) == wanted), None)
        if chosen is None:
            return await _child_view(request, session, site, child, status=422)
        try:
            await site_doses.record_given(
                session, child, vaccine=chosen.dose.vaccine, number=chosen.dose.number,
                given_on=today, site=site, actor=who.actor, staff_id=None,
                now=console.clock(), fit=console.fit,
            )  # fmt: skip
        except site_doses.ChildDoseRefused:
            await session.rollback()
            return await _child_view(request, session, site, child, status=409)
    console.outbox_written()
    return redirect(f"/console/desk/{site.id}/children/{child.id}?done=child_dose")
