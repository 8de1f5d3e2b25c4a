"""The console's gate: who is signed in, CSRF on every form, and the refusal pages.

Every request but the sign-in pages and the style sheet needs a live session: the cookie names
a server-side session (stored as its hash) that ends after `CONSOLE_IDLE_MINUTES` unused and
`CONSOLE_SESSION_HOURS` after sign-in, whatever happens. Every POST carries a CSRF token, an
HMAC of the browser's session cookie (or, before sign-in, of a pre-session cookie), so another
site cannot post a form in a staff member's name; cookies are SameSite=Strict and HttpOnly too.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.config import Settings
from bot.console import render
from bot.console.access import Staff
from bot.console.request_keys import CSRF, FORM, SESSION_TOKEN, STAFF
from bot.crypto import DataProtector
from bot.domain.dcc.trust import Authority
from bot.i18n import N_
from bot.messages import Outgoing
from bot.web.clients import is_loopback_host, scheme
from storage import console as store
from storage.db import Database

SESSION_COOKIE, PRE_COOKIE = "console_session", "console_pre"
SECURE_PREFIX = "__Host-"
CSRF_KIND = "console-csrf"
# Routes open without a session (named in bot.console.pages).
PUBLIC = frozenset(
    {"sign_in", "sign_in_post", "link_request", "link", "link_post", "password", "password_post"}
)


@dataclass
class Console:
    """What the console's pages need from the service."""

    settings: Settings
    db: Database
    protector: DataProtector
    clock: Callable[[], datetime]
    outbox_written: Callable[[], None] = field(default=lambda: None)
    # Outbox rows taken back (an announcement stopped): the sender forgets any it holds.
    outbox_withdrawn: Callable[[set[int]], None] = field(default=lambda _ids: None)
    authority: Authority | None = None  # signs the certificate of a dose recorded at the desk
    certificates_issued: Callable[[], None] = field(default=lambda: None)
    # Cut a message to what its channel carries (a card's picture, then its caption on Zalo).
    fit: Callable[[Outgoing], list[Outgoing]] = field(default=lambda message: [message])

    @property
    def idle(self) -> timedelta:
        """How long an unused session lives."""
        return timedelta(minutes=self.settings.console_idle_minutes)

    @property
    def lasts(self) -> timedelta:
        """How long a session lives at most."""
        return timedelta(hours=self.settings.console_session_hours)


CONSOLE = web.AppKey("console", Console)


class OutOfScope(Exception):
    """The page or action is not the signed-in staff member's to see or do (a 403 page)."""


def require(allowed: bool) -> None:
    """Refuse the request unless `allowed`.

    Raises:
        OutOfScope: not allowed.
    """
    if not allowed:
        raise OutOfScope


def staff_of(request: web.Request) -> Staff:
    """The signed-in staff member (the gate lets no other request reach a private page)."""
    staff = request[STAFF]
    assert staff is not None
    return staff


def form_of(request: web.Request) -> dict[str, str]:
    """The posted form's text fields (read and checked by the gate)."""
    return request.get(FORM, {})


def redirect(location: str) -> web.Response:
    """303 See Other: after a form, the browser GETs `location`."""
    return web.Response(status=303, headers={"Location": location, **render.HEADERS})


def read_cookie(request: web.Request, name: str) -> str:
    """A console cookie: the `__Host-` one, or the plain one in development."""
    value = request.cookies.get(SECURE_PREFIX + name, "")
    if not value and not request.app[CONSOLE].settings.is_production:
        value = request.cookies.get(name, "")
    return value


def set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, *, max_age: int
) -> None:
    """A console cookie, `__Host-` wherever the browser keeps Secure cookies (as the chat's)."""
    options: dict[str, Any] = {"httponly": True, "samesite": "Strict", "max_age": max_age}
    secure = scheme(request) == "https" or is_loopback_host(request)
    if secure or request.app[CONSOLE].settings.is_production:
        response.set_cookie(SECURE_PREFIX + name, value, secure=True, path="/", **options)
    else:
        response.set_cookie(name, value, path="/console", **options)


def drop_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """Forget the session cookie in the browser."""
    set_cookie(request, response, SESSION_COOKIE, "", max_age=0)


def csrf_for(console: Console, cookie: str) -> str:
    """The CSRF token of the forms of a browser whose cookie is `cookie`."""
    return console.protector.blind_index(CSRF_KIND, cookie)[:43]


def refusal(request: web.Request, title: str, message: str, *, status: int) -> web.Response:
    """A page that says plainly why nothing was done (`title`, `message`: untranslated)."""
    return render.page(
        request, "refused.html", {"title": title, "message": message}, status=status
    )


FORBIDDEN = (
    N_("Not in your scope"),
    N_(
        "This page or action belongs to another role, ward or site than yours, so it is not "
        "shown. If you need it, ask an administrator."
    ),
)
BAD_FORM = (
    N_("This form cannot be accepted"),
    N_(
        "The form was not sent from this console page, or it is too old. Nothing was changed. "
        "Go back, reload the page and try again."
    ),
)


async def _who(request: web.Request, console: Console, token: str) -> Staff | None:
    """The staff member a session cookie signs in, if the session is live and holds a role."""
    async with console.db.session_scope() as session:
        found = await store.live_session(session, token, now=console.clock(), idle=console.idle)
        if found is None:
            return None
        members = await store.roles_of(session, found[1])
        return Staff.of(found[1], members) if members else None


async def _csrf_ok(request: web.Request, candidates: list[str]) -> bool:
    """Read the form; whether its CSRF token is one of `candidates`."""
    form = await request.post()
    request[FORM] = {key: value for key, value in form.items() if isinstance(value, str)}
    given = request[FORM].get("csrf", "")
    return any(hmac.compare_digest(given.encode(), c.encode()) for c in candidates)


@web.middleware
async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sessions, CSRF and refusals around every console route."""
    console = request.app[CONSOLE]
    if request.match_info.route.name in (None, "style", "script"):
        return await handler(request)
    token = read_cookie(request, SESSION_COOKIE)
    staff = await _who(request, console, token) if token else None
    pre = read_cookie(request, PRE_COOKIE)
    fresh_pre = "" if pre else store.new_token()
    request[STAFF], request[SESSION_TOKEN] = staff, token if staff else ""
    request[CSRF] = csrf_for(console, token if staff else (pre or fresh_pre))
    response: web.StreamResponse
    if staff is None and request.match_info.route.name not in PUBLIC:
        response = redirect("/console/sign-in" + ("?expired=1" if token else ""))
    elif request.method == "POST" and not await _csrf_ok(
        request, [csrf_for(console, c) for c in (request[SESSION_TOKEN], pre) if c]
    ):
        response = refusal(request, *BAD_FORM, status=403)
    else:
        try:
            response = await handler(request)
        except OutOfScope:
            response = refusal(request, *FORBIDDEN, status=403)
    if fresh_pre:
        set_cookie(request, response, PRE_COOKIE, fresh_pre, max_age=24 * 3600)
    if token and staff is None:
        drop_session_cookie(request, response)
    return response
