"""What the gate stores on a console request for the pages (typed aiohttp request keys)."""

from __future__ import annotations

from aiohttp import web

from bot.console.access import Staff

STAFF = web.RequestKey[Staff | None]("console_staff")  # None: nobody signed in
SESSION_TOKEN = web.RequestKey("console_session_token", str)  # "" when nobody is signed in
CSRF = web.RequestKey("console_csrf", str)  # the token this browser's forms carry
FORM = web.RequestKey[dict[str, str]]("console_form")  # a POST's text fields, once checked
