"""One staff role, for admins: its scope, taking it away, a password reset, a new API key.

Every change is audited; a new key or set-password link is shown once and never stored (only
its hash is).

An admin cannot take the admin role away from themselves, so the console always keeps one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console import render
from bot.console.access import ADMIN, SITE_ROLES, WARD_STAFF, Staff
from bot.console.gate import CONSOLE, Console, form_of, redirect, require, staff_of
from bot.console.numbers import whole_number
from bot.console.pages import ROLE_NAMES, ward_name
from bot.console.staff_pages import CONSOLE_ROLES, is_ward, ward_numbers
from bot.i18n import N_
from storage import console as store
from storage import staff as staff_store
from storage.models import Site, StaffMember

routes = web.RouteTableDef()
PROBLEMS = {
    "name": N_("Please give the person's name (at most 120 characters)."),
    "wards": N_("Ward codes are numbers of current wards, separated by commas."),
    "sites": N_("Site codes must be sites that exist, separated by commas."),
    "scope": N_("A ward officer needs at least one ward, and site staff at least one site."),
    "own_admin": N_("You cannot take the administrator role away from yourself."),
    "role": N_("Please choose one of the roles listed."),
    "held": N_("This person already holds this role; change its scope on its own page."),
    "no_account": N_("This person has no console account; add one from the staff page."),
}
DONE = {
    "saved": N_("Saved."),
    "removed": N_("The role was taken away."),
    "added": N_("The role was added."),
}


def _subject(member: StaffMember) -> str:
    return f"staff:{member.channel}:{member.user_id}"


async def _member(request: web.Request, session: AsyncSession) -> StaffMember:
    """The staff role the URL names (admins only; an unknown one is refused like a stranger's)."""
    require(staff_of(request).may_manage_staff())
    text = request.match_info["member"]
    member = await session.get(StaffMember, number) if (number := whole_number(text)) else None
    require(member is not None)
    assert member is not None
    return member


async def _edit_page(
    request: web.Request,
    session: AsyncSession,
    member: StaffMember,
    *,
    problems: tuple[str, ...] = (),
    shown_once: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    account = await store.account_of(session, channel=member.channel, user_id=member.user_id)
    context: dict[str, Any] = {
        "member": member,
        "role_name": ROLE_NAMES.get(member.role, member.role),
        "wards": [(code, ward_name(code)) for code in member.wards],
        "values": {
            "name": member.name or "",
            "wards": ", ".join(str(w) for w in member.wards),
            "sites": ", ".join(member.sites),
        },
        "login": account.login if account else "",
        "has_key": member.api_key_hash is not None,
        "api_role": member.role in staff_store.API_ROLES,
        "problems": [PROBLEMS[p] for p in problems],
        "done": DONE.get(request.query.get("done", "")),
        "shown_once": shown_once,
        "others": [
            (other.id, ROLE_NAMES.get(other.role, other.role))
            for other in await staff_store.roles_of(
                session, channel=member.channel, user_id=member.user_id
            )
            if other.id != member.id
        ],
        "roles": [(role, ROLE_NAMES[role]) for role in CONSOLE_ROLES],
    }
    return render.page(request, "staff_edit.html", context, status=status)


@routes.get("/staff/{member:\\d+}", name="staff_member")
async def staff_member(request: web.Request) -> web.Response:
    """A staff role with the forms that change it (admins only)."""
    async with request.app[CONSOLE].db.read_scope() as session:
        member = await _member(request, session)
        return await _edit_page(request, session, member)


async def _scope_problems(session: AsyncSession, role: str, values: dict[str, str]) -> list[str]:
    """What is wrong with a role's name (if given), wards and sites."""
    found = []
    name = values.get("name")
    if name is not None and (not 1 <= len(name) <= 120 or not name.isprintable()):
        found.append("name")
    wards = ward_numbers(values["wards"])
    if wards is None or not all(is_ward(w) for w in wards):
        found.append("wards")
    sites = [s.strip() for s in values["sites"].split(",") if s.strip()]
    for site in sites:
        if await session.get(Site, site[:32]) is None:
            found.append("sites")
            break
    if (role == WARD_STAFF and not wards) or (role in SITE_ROLES and not sites):
        found.append("scope")
    return found


@routes.post("/staff/{member:\\d+}", name="staff_member_save")
async def staff_member_save(request: web.Request) -> web.Response:
    """Change a role's name, wards and sites (audited with the scope before and after)."""
    who, console = staff_of(request), request.app[CONSOLE]
    form = form_of(request)
    values = {key: " ".join(form.get(key, "").split())[:300] for key in ("name", "wards", "sites")}
    async with console.db.session_scope() as session:
        member = await _member(request, session)
        problems = await _scope_problems(session, member.role, values)
        if problems:
            return await _edit_page(request, session, member, problems=tuple(problems), status=422)
        before = {"name": member.name, "wards": list(member.wards), "sites": list(member.sites)}
        member.name = values["name"]
        member.wards = ward_numbers(values["wards"]) or []
        member.sites = [s.strip() for s in values["sites"].split(",") if s.strip()]
        await staff_store.audit(
            session,
            actor=who.actor,
            action="staff_scope_changed",
            subject=_subject(member),
            now=console.clock(),
            detail={
                "role": member.role,
                "before": before,
                "wards": member.wards,
                "sites": member.sites,
            },
        )
    return redirect(f"/console/staff/{member.id}?done=saved")


def _is_own_admin(who: Staff, member: StaffMember) -> bool:
    return member.role == ADMIN and (member.channel, member.user_id) == (who.channel, who.user_id)


@routes.post("/staff/{member:\\d+}/remove", name="staff_member_remove")
async def staff_member_remove(request: web.Request) -> web.Response:
    """Take one role away (never one's own admin role); the person's other roles stay."""
    who, console = staff_of(request), request.app[CONSOLE]
    async with console.db.session_scope() as session:
        member = await _member(request, session)
        if _is_own_admin(who, member):
            return await _edit_page(request, session, member, problems=("own_admin",), status=409)
        await staff_store.remove_staff(
            session, channel=member.channel, user_id=member.user_id, role=member.role
        )
        await staff_store.audit(
            session,
            actor=who.actor,
            action="staff_removed",
            subject=_subject(member),
            now=console.clock(),
            detail={"role": member.role, "web": True},
        )
    return redirect("/console/staff?done=removed")


@routes.post("/staff/{member:\\d+}/password", name="staff_member_password")
async def staff_member_password(request: web.Request) -> web.Response:
    """Reset the person's password and show a one-time set-password link once.

    The old password stops working and every browser of the person is signed out.
    """
    who, console = staff_of(request), request.app[CONSOLE]
    async with console.db.session_scope() as session:
        member = await _member(request, session)
        link = await _reset_password(session, console, who, member)
        if link is None:
            return await _edit_page(request, session, member, problems=("no_account",), status=409)
        shown = {"label": N_("Set-password link (shown once, works once):"), "value": link}
        return await _edit_page(request, session, member, shown_once=shown)


async def _reset_password(
    session: AsyncSession, console: Console, who: Staff, member: StaffMember
) -> str | None:
    """The new set-password link, after the account's password and sessions are gone."""
    account = await store.account_of(session, channel=member.channel, user_id=member.user_id)
    if account is None:
        return None
    now = console.clock()
    account.password_hash = None
    ended = await store.end_every_session(session, account.id)
    token = await store.issue_link(
        session,
        account,
        purpose=store.PASSWORD,
        now=now,
        lasts=timedelta(hours=console.settings.console_password_link_hours),
    )
    await staff_store.audit(
        session,
        actor=who.actor,
        action="staff_password_reset",
        subject=_subject(member),
        now=now,
        detail={"login": account.login, "sessions_ended": ended},
    )
    return f"{console.settings.console_base}/password/{token}"


@routes.post("/staff/{member:\\d+}/key", name="staff_member_key")
async def staff_member_key(request: web.Request) -> web.Response:
    """A new API key for a sampler or lab (the old one stops at once), shown once."""
    who, console = staff_of(request), request.app[CONSOLE]
    async with console.db.session_scope() as session:
        member = await _member(request, session)
        require(member.role in staff_store.API_ROLES)
        key = await staff_store.issue_api_key(session, member)
        await staff_store.audit(
            session,
            actor=who.actor,
            action="api_key_rotated",
            subject=_subject(member),
            now=console.clock(),
            detail={"role": member.role},
        )
        shown = {
            "label": N_("The new API key (shown once; the old one no longer works):"),
            "value": key,
        }
        return await _edit_page(request, session, member, shown_once=shown)


@routes.post("/staff/{member:\\d+}/roles", name="staff_member_role_add")
async def staff_member_role_add(request: web.Request) -> web.Response:
    """Give the same person another role, with its own wards and sites (audited)."""
    who, console = staff_of(request), request.app[CONSOLE]
    form = form_of(request)
    values = {key: " ".join(form.get(key, "").split())[:300] for key in ("role", "wards", "sites")}
    async with console.db.session_scope() as session:
        member = await _member(request, session)
        held = await staff_store.roles_of(session, channel=member.channel, user_id=member.user_id)
        role = values.pop("role")
        problems = ["role"] if role not in CONSOLE_ROLES else []
        problems += ["held"] if any(other.role == role for other in held) else []
        problems += await _scope_problems(session, role, values)
        if problems:
            return await _edit_page(request, session, member, problems=tuple(problems), status=422)
        added = await staff_store.add_staff(
            session,
            channel=member.channel,
            user_id=member.user_id,
            role=role,
            name=member.name,
            wards=ward_numbers(values["wards"]) or [],
            sites=[s.strip() for s in values["sites"].split(",") if s.strip()],
            now=console.clock(),
        )
        await staff_store.audit(
            session,
            actor=who.actor,
            action="staff_added",
            subject=_subject(member),
            now=console.clock(),
            detail={"role": role, "wards": added.wards, "sites": added.sites, "web": True},
        )
    return redirect(f"/console/staff/{added.id}?done=added")
