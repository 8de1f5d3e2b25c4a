"""A site's own details in the console: a new site in a ward in scope, or an existing one edited.

The checks are the sites import's (`bot.imports.SITE_ID`, `SITE_PHONE`, a current ward), told in
the console's language. The ward decides the province; a ward officer can only use their wards.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console import render
from bot.console.gate import CONSOLE, form_of, redirect, require, staff_of
from bot.console.numbers import whole_number
from bot.console.pages import ward_name
from bot.console.staff_pages import is_ward
from bot.i18n import N_
from bot.imports import SITE_ID, SITE_PHONE
from bot.vn import divisions
from storage import staff as staff_store
from storage.models import Site

routes = web.RouteTableDef()
FIELDS = ("code", "name", "address", "ward", "phone", "active")
PROBLEMS = {
    "code": N_("The site code is 1 to 32 letters a-z, digits, '_' or '-'."),
    "code_taken": N_("A site with this code already exists."),
    "name": N_("Please give the site's name (at most 200 characters)."),
    "address": N_("Please give the site's address (at most 300 characters)."),
    "ward": N_("Please give the code of a current ward in your scope."),
    "phone": N_("The phone is 3 to 20 digits, spaces or dots, with + first if needed."),
}


def _problems(values: dict[str, str], who_may_add: bool) -> list[str]:
    found = []
    if not 1 <= len(values["name"]) <= 200 or not values["name"].isprintable():
        found.append("name")
    if not 1 <= len(values["address"]) <= 300 or not values["address"].isprintable():
        found.append("address")
    ward = values["ward"]
    code = whole_number(ward)
    if not (code is not None and is_ward(code) and who_may_add):
        found.append("ward")
    if values["phone"] and not SITE_PHONE.fullmatch(values["phone"]):
        found.append("phone")
    return found


def _values(request: web.Request) -> dict[str, str]:
    form = form_of(request)
    return {key: " ".join(form.get(key, "").split())[:400] for key in FIELDS}


def _page(
    request: web.Request,
    values: dict[str, str],
    *,
    site: Site | None,
    problems: Sequence[str] = (),
    status: int = 200,
) -> web.Response:
    ward = values.get("ward", "")
    context = {
        "site": site,
        "values": dict.fromkeys(FIELDS, "") | values,
        "ward_label": ward_name(code) if (code := whole_number(ward)) and is_ward(code) else "",
        "problems": [PROBLEMS[p] for p in problems],
    }
    return render.page(request, "site_form.html", context, status=status)


@routes.get("/sites/new", name="site_new")
async def site_new(request: web.Request) -> web.Response:
    """The form for a new site (admins; ward officers, in their wards)."""
    who = staff_of(request)
    require(who.is_admin or bool(who.wards))
    ward = request.query.get("ward", "")
    code = whole_number(ward)
    chosen = ward if code is not None and who.may_add_site(code) else ""
    return _page(request, {"ward": chosen, "active": "1"}, site=None)


@routes.post("/sites", name="site_create")
async def site_create(request: web.Request) -> web.Response:
    """Create a site (audited); its slots are then made on its page."""
    who, console = staff_of(request), request.app[CONSOLE]
    require(who.is_admin or bool(who.wards))
    values = _values(request)
    ward = values["ward"]
    code = whole_number(ward)
    problems = _problems(values, code is not None and who.may_add_site(code))
    if not SITE_ID.fullmatch(values["code"]):
        problems.insert(0, "code")
    async with console.db.session_scope() as session:
        if not problems and await session.get(Site, values["code"]) is not None:
            problems.insert(0, "code_taken")
        if problems:
            return _page(request, values, site=None, problems=problems, status=422)
        site = Site(id=values["code"], active=bool(values["active"]))
        await _write(
            session, site, values, actor=who.actor, now=console.clock(), action="site_added"
        )
    return redirect(f"/console/sites/{site.id}")


async def _write(
    session: AsyncSession,
    site: Site,
    values: dict[str, str],
    *,
    actor: str,
    action: str,
    now: datetime,
) -> None:
    """Put the form's (checked) values on `site`, and audit `action` with before and after."""
    before = _details(site) if site.name else None
    ward = divisions.ward(int(values["ward"]))
    site.name, site.address = values["name"], values["address"]
    site.ward_code, site.province_code = int(values["ward"]), ward.province_code
    site.phone = values["phone"] or None
    site.active = bool(values["active"])
    session.add(site)
    await session.flush()
    await staff_store.audit(
        session,
        actor=actor,
        action=action,
        subject=f"site:{site.id}",
        now=now,
        detail={"before": before, "after": _details(site)},
    )


def _details(site: Site) -> dict[str, object]:
    return {
        "name": site.name,
        "address": site.address,
        "ward": site.ward_code,
        "phone": site.phone,
        "active": site.active,
    }


async def _editable(request: web.Request, session: AsyncSession) -> Site:
    site = await session.get(Site, request.match_info["site_id"][:32])
    require(site is not None and staff_of(request).may_add_site(site.ward_code))
    assert site is not None
    return site


@routes.get("/sites/{site_id}/edit", name="site_edit")
async def site_edit(request: web.Request) -> web.Response:
    """The form with a site's details (admins; the officers of its ward)."""
    async with request.app[CONSOLE].db.read_scope() as session:
        site = await _editable(request, session)
    values = {
        "code": site.id,
        "name": site.name,
        "address": site.address,
        "ward": str(site.ward_code),
        "phone": site.phone or "",
        "active": "1" if site.active else "",
    }
    return _page(request, values, site=site)


@routes.post("/sites/{site_id}/edit", name="site_save")
async def site_save(request: web.Request) -> web.Response:
    """Save a site's details (its code stays; a new ward must be in scope too); audited."""
    who, console = staff_of(request), request.app[CONSOLE]
    values = _values(request)
    ward = values["ward"]
    async with console.db.session_scope() as session:
        site = await _editable(request, session)
        values["code"] = site.id
        code = whole_number(ward)
        allowed = code is not None and who.may_add_site(code)
        problems = _problems(values, allowed)
        if problems:
            return _page(request, values, site=site, problems=problems, status=422)
        await _write(
            session, site, values, actor=who.actor, now=console.clock(), action="site_changed"
        )
    return redirect(f"/console/sites/{site.id}")
