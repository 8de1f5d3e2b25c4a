"""Live updates of the inbox: Server-Sent Events saying that tickets or conversations changed.

The page's script (`static/inbox.js`) then fetches the page again and swaps what changed.

The stream carries no ticket content (only the newest ids), so it tells nobody anything beyond
"something changed"; the page fetched again applies the scope. A stream ends at once when the
service stops (`stop()` from the application's shutdown), so it never delays a graceful stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from aiohttp import web

from bot.console.gate import CONSOLE, require, staff_of
from storage import tickets as store

routes = web.RouteTableDef()
STOPPING = web.AppKey("console_inbox_stopping", asyncio.Event)
POLL_S = 1.0  # how often a stream looks for changes
KEEPALIVE_ROUNDS = 15  # a comment line this often keeps proxies from closing a quiet stream


def setup(app: web.Application) -> None:
    """Give the console's application the event that ends every stream at shutdown."""
    app[STOPPING] = asyncio.Event()

    async def stop(_app: web.Application) -> None:
        app[STOPPING].set()

    app.on_shutdown.append(stop)


@routes.get("/inbox/events", name="inbox_events")
async def events(request: web.Request) -> web.StreamResponse:
    """`change` events (newest ticket and entry ids) whenever the inbox changes."""
    require(staff_of(request).may_see_inbox())
    console, stopping = request.app[CONSOLE], request.app[STOPPING]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    seen: tuple[int, int] | None = None
    rounds = 0
    with contextlib.suppress(ConnectionResetError):
        await response.write(b"retry: 3000\n\n")
        while not stopping.is_set():
            async with console.db.read_scope() as session:
                latest = await store.latest_change(session)
            if latest != seen:
                payload = json.dumps({"tickets": latest[0], "entries": latest[1]})
                await response.write(f"event: change\ndata: {payload}\n\n".encode())
                seen, rounds = latest, 0
            elif (rounds := rounds + 1) >= KEEPALIVE_ROUNDS:
                await response.write(b": still here\n\n")
                rounds = 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), POLL_S)
    return response
