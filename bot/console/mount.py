"""Mount the console at `/console` on the service's own aiohttp application."""

from __future__ import annotations

from aiohttp import web

from bot.console import (
    announcement_pages,
    audit_pages,
    campaign_pages,
    children_pages,
    correction_pages,
    dashboard_pages,
    desk_pages,
    gate,
    inbox_events,
    inbox_pages,
    pages,
    render,
    site_form,
    site_pages,
    staff_edit,
    staff_pages,
)
from bot.console.gate import CONSOLE, Console
from bot.console.live import Changes
from bot.domain.ratelimit import KeyedLimiter
from bot.web.app_keys import SETTINGS

PREFIX = "/console"
# Sign-in links a name or an address may ask for: three at once, then one a minute.
LINKS_PER_S, LINK_BURST = 1 / 60, 3
_STYLE = (render.STATIC / "console.css").read_bytes()
# Our own scripts, each for the pages that stay live (they work without them too).
_SCRIPTS = {
    name: (render.STATIC / name).read_bytes() for name in ("inbox.js", "dashboard.js", "desk.js")
}


def setup(app: web.Application, console: Console) -> None:
    """Add the console's pages to `app` (a sub-application with its own gate)."""
    sub = web.Application(middlewares=[gate.gate])
    sub[CONSOLE] = console
    sub[SETTINGS] = console.settings  # read by bot.web.clients (the client's address)

    def seconds() -> float:
        return console.clock().timestamp()

    sub[pages.LINK_REQUESTS] = KeyedLimiter(rate=LINKS_PER_S, burst=LINK_BURST, clock=seconds)
    render.setup(sub)
    sub.add_routes(pages.routes)
    sub.add_routes(staff_pages.routes)
    sub.add_routes(children_pages.routes)
    sub.add_routes(audit_pages.routes)
    sub.add_routes(staff_edit.routes)
    sub.add_routes(announcement_pages.routes)
    sub.add_routes(campaign_pages.routes)
    sub.add_routes(desk_pages.routes)
    sub.add_routes(site_form.routes)  # before /sites/{site_id}
    sub.add_routes(site_pages.routes)
    inbox_events.setup(sub)
    sub.add_routes(inbox_events.routes)  # before /inbox/{ticket}
    sub.add_routes(inbox_pages.routes)
    inbox_pages.setup(sub)
    sub.add_routes(dashboard_pages.routes)
    sub.add_routes(correction_pages.routes)
    _watch_changes(sub, console)
    sub.router.add_get("/static/console.css", style, name="style")
    sub.router.add_get("/static/{name:(inbox|dashboard|desk)\\.js}", script, name="script")
    app.router.add_get(PREFIX, to_home)
    app.add_subapp(PREFIX, sub)


def _watch_changes(sub: web.Application, console: Console) -> None:
    """The dashboard's change listener on the database engine, and its streams' end."""
    changes = sub[dashboard_pages.CHANGES] = Changes()
    sub[dashboard_pages.CACHE] = {}

    async def listen(_: web.Application) -> None:
        changes.attach(console.db.engine)

    async def stop_streams(_: web.Application) -> None:
        changes.close()  # open dashboard streams end now, not at the shutdown timeout

    sub.on_startup.append(listen)
    sub.on_shutdown.append(stop_streams)


async def to_home(request: web.Request) -> web.Response:
    """`/console` without its slash: the home page (or sign-in)."""
    return web.Response(status=308, headers={"Location": PREFIX + "/"})


async def style(request: web.Request) -> web.Response:
    """The console's one style sheet."""
    return web.Response(
        body=_STYLE, content_type="text/css", headers={"Cache-Control": "max-age=3600"}
    )


async def script(request: web.Request) -> web.Response:
    """One of our scripts (the inbox's or the dashboard's live updates)."""
    return web.Response(
        body=_SCRIPTS[request.match_info["name"]],
        content_type="text/javascript",
        headers={"Cache-Control": "max-age=3600"},
    )
