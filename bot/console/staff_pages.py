"""The console's admin and scoped pages: staff (admins), a ward's page and a site's page."""

from __future__ import annotations

import re
from datetime import timedelta

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console import render
from bot.console.access import ADMIN, SITE_STAFF, SUPPORT, WARD_STAFF
from bot.console.gate import CONSOLE, Console, form_of, require, staff_of
from bot.console.numbers import numbers, whole_number
from bot.console.pages import ROLE_NAMES, ward_name
from bot.console.passwords import LOGIN
from bot.i18n import N_, _
from bot.vn import divisions
from storage import console as store
from storage import staff as staff_store
from storage.models import Site

routes = web.RouteTableDef()
# Roles an admin grants here; sampler and lab take an API key (`run_bot.py staff add`).
CONSOLE_ROLES = (ADMIN, WARD_STAFF, SUPPORT, SITE_STAFF)
LINK_CHANNELS = ("", "telegram", "zalo")
_CHAT_ID = re.compile(r"^-?[0-9A-Za-z_]{1,64}$")
SITE_DAYS = 14
FIELDS = ("login", "name", "role", "wards", "sites", "channel", "chat_id")
PROBLEMS = {
    "login": N_("The sign-in name must be 2 to 64 letters a-z, digits, dots, dashes or _."),
    "login_taken": N_("This sign-in name is already taken."),
    "name": N_("Please give the person's name (at most 120 characters)."),
    "role": N_("Please choose one of the roles listed."),
    "wards": N_("Ward codes are numbers of current wards, separated by commas."),
    "sites": N_("Site codes must be sites that exist, separated by commas."),
    "scope": N_("A ward officer needs at least one ward, and site staff at least one site."),
    "chat": N_("A chat needs its channel and its id (digits for Telegram)."),
    "taken": N_("This chat already has a console account."),
}


@routes.get("/staff", name="staff")
async def staff_list(request: web.Request) -> web.Response:
    """Every staff role with its scope and console sign-in name (admins only)."""
    require(staff_of(request).may_manage_staff())
    async with request.app[CONSOLE].db.read_scope() as session:
        members = await staff_store.list_staff(session)
        logins = {(a.channel, a.user_id): a.login for a in await store.list_accounts(session)}
    rows = [
        {
            "id": m.id,
            "name": m.name or "",
            "role": ROLE_NAMES.get(m.role, m.role),
            "wards": ", ".join(f"{w} {ward_name(w)}" for w in m.wards),
            "sites": ", ".join(m.sites),
            "chat": f"{m.channel}:{m.user_id}" if m.channel != "console" else "",
            "login": logins.get((m.channel, m.user_id), ""),
        }
        for m in members
    ]
    done = _("The role was taken away.") if request.query.get("done") == "removed" else None
    return render.page(request, "staff.html", {"rows": rows, "done": done})


def _form_page(
    request: web.Request,
    values: dict[str, str],
    problems: list[str],
    *,
    status: int = 200,
    link: str | None = None,
) -> web.Response:
    context = {
        "values": dict.fromkeys(FIELDS, "") | values,
        "problems": [PROBLEMS[p] for p in problems],
        "roles": [(role, ROLE_NAMES[role]) for role in CONSOLE_ROLES],
        "channels": LINK_CHANNELS,
        "link": link,
    }
    return render.page(request, "staff_new.html", context, status=status)


@routes.get("/staff/new", name="staff_new")
async def staff_new(request: web.Request) -> web.Response:
    """The form that creates a staff member (admins only)."""
    require(staff_of(request).may_manage_staff())
    return _form_page(request, {}, [])


def ward_numbers(text: str) -> list[int] | None:
    """Ward codes typed as `26743, 26740`; None if any part is not a number."""
    return numbers(text)


def _problems(values: dict[str, str]) -> list[str]:
    """What is wrong with the new staff form, before the database is asked."""
    found = []
    if not LOGIN.match(values["login"]):
        found.append("login")
    if not 1 <= len(values["name"]) <= 120 or not values["name"].isprintable():
        found.append("name")
    if values["role"] not in CONSOLE_ROLES:
        found.append("role")
    wards = ward_numbers(values["wards"])
    if wards is None or not all(is_ward(w) for w in wards):
        found.append("wards")
    if (values["role"] == WARD_STAFF and not wards) or (
        values["role"] == SITE_STAFF and not values["sites"].strip()
    ):
        found.append("scope")
    channel, chat = values["channel"], values["chat_id"]
    if (
        channel not in LINK_CHANNELS
        or bool(channel) != bool(chat)
        or (chat and not _CHAT_ID.match(chat))
    ):
        found.append("chat")
    return found


def is_ward(code: int) -> bool:
    """Whether `code` is a current ward's code."""
    try:
        divisions.ward(code)
    except KeyError:
        return False
    return True


@routes.post("/staff", name="staff_create")
async def staff_create(request: web.Request) -> web.Response:
    """Create a staff member and their console account; show the set-password link once."""
    who = staff_of(request)
    require(who.may_manage_staff())
    form = form_of(request)
    values = {key: " ".join(form.get(key, "").split())[:200] for key in FIELDS}
    values["login"] = values["login"].lower()
    problems = _problems(values)
    if problems:
        return _form_page(request, values, problems, status=422)
    console = request.app[CONSOLE]
    async with console.db.session_scope() as session:
        problems, link = await _create(session, console, who.actor, values)
        if problems:
            await session.rollback()
            return _form_page(request, values, problems, status=422)
    return _form_page(request, {}, [], link=link)


async def _create(
    session: AsyncSession, console: Console, actor: str, values: dict[str, str]
) -> tuple[list[str], str | None]:
    """Write the staff role, the account and its set-password link (problems, or the link)."""
    sites = [s.strip() for s in values["sites"].split(",") if s.strip()]
    channel, user_id = values["channel"] or "console", values["chat_id"] or values["login"]
    problem = await _taken(session, sites, values["login"], channel, user_id)
    if problem is not None:
        return [problem], None
    now = console.clock()
    member = await staff_store.add_staff(
        session,
        channel=channel,
        user_id=user_id,
        role=values["role"],
        name=values["name"],
        wards=ward_numbers(values["wards"]) or [],
        sites=sites,
        now=now,
    )
    account = await store.open_account(
        session, login=values["login"], channel=channel, user_id=user_id, now=now
    )
    token = await store.issue_link(
        session,
        account,
        purpose=store.PASSWORD,
        now=now,
        lasts=timedelta(hours=console.settings.console_password_link_hours),
    )
    await staff_store.audit(
        session,
        actor=actor,
        action="staff_added",
        subject=f"staff:{channel}:{user_id}",
        now=now,
        detail={"role": member.role, "wards": member.wards, "sites": member.sites, "web": True},
    )
    return [], f"{console.settings.console_base}/password/{token}"


async def _taken(
    session: AsyncSession, sites: list[str], login: str, channel: str, user_id: str
) -> str | None:
    """Why a new staff member cannot be written: an unknown site, a name or chat in use."""
    for site_id in sites:
        if await session.get(Site, site_id) is None:
            return "sites"
    if await store.account_by_login(session, login) is not None:
        return "login_taken"
    if await store.account_of(session, channel=channel, user_id=user_id) is not None:
        return "taken"
    return None


@routes.get("/wards/{code}", name="ward")
async def ward_page(request: web.Request) -> web.Response:
    """A ward's page: its sites (admins and the ward's officers)."""
    code = request.match_info["code"]
    ward = whole_number(code)
    require(ward is not None and staff_of(request).may_see_ward(ward))
    assert ward is not None
    async with request.app[CONSOLE].db.read_scope() as session:
        sites = (
            await session.scalars(select(Site).where(Site.ward_code == ward).order_by(Site.id))
        ).all()
    context = {"code": ward, "name": ward_name(ward), "sites": sites}
    return render.page(request, "ward.html", context)
