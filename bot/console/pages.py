"""The console's sign-in pages, home page and sign-out (routes named for the gate)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.console import render, sign_in
from bot.console.access import Staff
from bot.console.gate import (
    CONSOLE,
    SESSION_COOKIE,
    drop_session_cookie,
    form_of,
    redirect,
    refusal,
    set_cookie,
    staff_of,
)
from bot.console.passwords import hash_password, problem
from bot.console.request_keys import SESSION_TOKEN, STAFF
from bot.domain.ratelimit import KeyedLimiter
from bot.i18n import N_
from bot.vn import divisions
from bot.web.clients import client_key
from storage import console as store
from storage import staff as staff_store
from storage.models import Site

routes = web.RouteTableDef()
LINK_REQUESTS = web.AppKey("console_link_requests", KeyedLimiter)
MAX_SITES_SHOWN = 100
ROLE_NAMES = {
    "admin": N_("Administrator"),
    "ward_staff": N_("Ward officer"),
    "support": N_("Support agent"),
    "site_staff": N_("Site staff"),
    "sampler": N_("Sampler"),
    "lab": N_("Laboratory"),
}
EXPIRED_LINK = (
    N_("This link no longer works"),
    N_(
        "A link works once only, and only for a short time. Ask for a new one on the sign-in "
        "page, or ask an administrator."
    ),
)


def ward_name(code: int) -> str:
    """A ward's name, or its code if it is no current ward."""
    try:
        return divisions.ward(code).name
    except KeyError:
        return str(code)


@routes.get("/", name="home")
async def home(request: web.Request) -> web.Response:
    """The signed-in staff member's page: who they are, their scope, the sections they may open."""
    who = staff_of(request)
    async with request.app[CONSOLE].db.read_scope() as session:
        statement = select(Site).order_by(Site.id).limit(MAX_SITES_SHOWN)
        if not who.is_admin:
            statement = statement.where(
                Site.id.in_(sorted(who.sites)) | Site.ward_code.in_(sorted(who.wards))
            )
        sites = list((await session.scalars(statement)).all())
    context = {
        "roles": [ROLE_NAMES.get(role, role) for role in who.roles],
        "wards": [(code, ward_name(code)) for code in sorted(who.wards)],
        "sites": sites,
    }
    return render.page(request, "home.html", context)


def _sign_in_page(request: web.Request, *, status: int = 200, **notes: Any) -> web.Response:
    context = {
        "expired": request.query.get("expired") == "1",
        "password_set": request.query.get("done") == "password",
        "wrong": False,
        "wait_minutes": 0,
        "link_sent": False,
        "login": "",
        **notes,
    }
    return render.page(request, "sign_in.html", context, status=status)


@routes.get("/sign-in", name="sign_in")
async def sign_in_page(request: web.Request) -> web.Response:
    """The sign-in form (a signed-in visitor goes home)."""
    if request[STAFF] is not None:
        return redirect("/console/")
    return _sign_in_page(request)


@routes.post("/sign-in", name="sign_in_post")
async def sign_in_post(request: web.Request) -> web.Response:
    """Check the name and password; a session cookie and the home page, or the form again."""
    console = request.app[CONSOLE]
    form = form_of(request)
    login, password = form.get("login", "").strip()[:64], form.get("password", "")
    outcome = await sign_in.with_password(console, request, login, password)
    if outcome.wait is not None:
        minutes = math.ceil(outcome.wait / timedelta(minutes=1))
        return _sign_in_page(request, status=429, wait_minutes=minutes, login=login)
    if outcome.token is None:
        return _sign_in_page(request, status=401, wrong=True, login=login)
    response = redirect("/console/")
    set_cookie(request, response, SESSION_COOKIE, outcome.token, max_age=_session_age(request))
    return response


def _session_age(request: web.Request) -> int:
    return int(request.app[CONSOLE].lasts.total_seconds())


@routes.post("/sign-in/link", name="link_request")
async def link_request(request: web.Request) -> web.Response:
    """Send a one-time sign-in link to the name's chat; the page never says whether it exists."""
    console = request.app[CONSOLE]
    login = form_of(request).get("login", "").strip()[:64]
    limiter = request.app[LINK_REQUESTS]
    if login and limiter.allow(f"n:{login.lower()}") and limiter.allow(f"a:{client_key(request)}"):
        await sign_in.send_link(console, login, locale=render.locale_of(request))
    minutes = int(console.settings.console_link_minutes)
    return _sign_in_page(request, link_sent=True, link_minutes=minutes, login=login)


@routes.get("/link/{token}", name="link")
async def link_page(request: web.Request) -> web.Response:
    """A sign-in link: a button that uses it (a chat's link preview must not use it up)."""
    console = request.app[CONSOLE]
    async with console.db.read_scope() as session:
        found = await store.valid_link(
            session, request.match_info["token"], purpose=store.SIGN_IN, now=console.clock()
        )
    if found is None:
        return refusal(request, *EXPIRED_LINK, status=410)
    return render.page(request, "link.html", {"login": found[1].login})


@routes.post("/link/{token}", name="link_post")
async def link_post(request: web.Request) -> web.Response:
    """Use a sign-in link up and sign the browser in."""
    console = request.app[CONSOLE]
    async with console.db.session_scope() as session:
        now = console.clock()
        found = await store.valid_link(
            session, request.match_info["token"], purpose=store.SIGN_IN, now=now
        )
        members = await store.roles_of(session, found[1]) if found else []
        if found is None or not members or not await store.use_link(session, found[0], now=now):
            return refusal(request, *EXPIRED_LINK, status=410)
        token = await sign_in.begin(session, console, Staff.of(found[1], members), "link")
    response = redirect("/console/")
    set_cookie(request, response, SESSION_COOKIE, token, max_age=_session_age(request))
    return response


@routes.get("/password/{token}", name="password")
async def password_page(request: web.Request) -> web.Response:
    """The set-password form of a set-password link."""
    console = request.app[CONSOLE]
    async with console.db.read_scope() as session:
        found = await store.valid_link(
            session, request.match_info["token"], purpose=store.PASSWORD, now=console.clock()
        )
    if found is None:
        return refusal(request, *EXPIRED_LINK, status=410)
    return render.page(request, "password.html", {"login": found[1].login, "problem": None})


@routes.post("/password/{token}", name="password_post")
async def password_post(request: web.Request) -> web.Response:
    """Set the password, use the link up, end every session of the account."""
    console = request.app[CONSOLE]
    form = form_of(request)
    password, repeated = form.get("password", ""), form.get("repeated", "")
    async with console.db.session_scope() as session:
        now = console.clock()
        found = await store.valid_link(
            session, request.match_info["token"], purpose=store.PASSWORD, now=now
        )
        if found is None:
            return refusal(request, *EXPIRED_LINK, status=410)
        link, account = found
        refused = problem(password, repeated)
        if refused is not None:
            context = {"login": account.login, "problem": refused}
            return render.page(request, "password.html", context, status=422)
        if not await store.use_link(session, link, now=now):
            return refusal(request, *EXPIRED_LINK, status=410)
        account.password_hash = await hash_password(password)
        await store.end_every_session(session, account.id)
        await staff_store.audit(
            session,
            actor=f"console:{account.login}",
            action="console_password_set",
            subject=f"console:{account.id}",
            now=now,
        )
    return redirect("/console/sign-in?done=password")


@routes.post("/sign-out", name="sign_out")
async def sign_out(request: web.Request) -> web.Response:
    """End this browser's session."""
    await _end(request, everywhere=False)
    response = redirect("/console/sign-in")
    drop_session_cookie(request, response)
    return response


@routes.post("/sign-out-everywhere", name="sign_out_everywhere")
async def sign_out_everywhere(request: web.Request) -> web.Response:
    """End every session of the account, in every browser."""
    await _end(request, everywhere=True)
    response = redirect("/console/sign-in")
    drop_session_cookie(request, response)
    return response


async def _end(request: web.Request, *, everywhere: bool) -> None:
    console, who = request.app[CONSOLE], staff_of(request)
    async with console.db.session_scope() as session:
        if everywhere:
            ended = await store.end_every_session(session, who.account_id)
        else:
            await store.end_session(session, request[SESSION_TOKEN])
            ended = 1
        await staff_store.audit(
            session,
            actor=who.actor,
            action="console_sign_out_everywhere" if everywhere else "console_sign_out",
            subject=f"console:{who.account_id}",
            now=console.clock(),
            detail={"sessions": ended},
        )
