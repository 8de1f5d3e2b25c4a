"""What wakes the live dashboard: a write to a table it shows, committed, or the shutdown.

`Changes` listens to the engine (SQLAlchemy's `after_cursor_execute` and `commit` events): a
transaction that wrote to people, bookings, slots, doses, samples, tickets or the outbox bumps a
counter when it commits, and every dashboard stream waiting on it wakes. Nothing else in the
service has to remember to tell the dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

WATCHED = frozenset(
    {
        "people",
        "bookings",
        "slots",
        "vaccinations",
        "samples",
        "sample_members",
        "tickets",
        "outbox",
    }
)
_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)
_DIRTY = "dashboard_dirty"


class Changes:
    """A counter of committed writes to the dashboard's tables, and a way to wait for the next."""

    def __init__(self) -> None:
        self.version = 0
        self.closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: set[asyncio.Future[None]] = set()
        self._stopped = asyncio.Event()

    def attach(self, engine: AsyncEngine) -> None:
        """Listen to `engine`'s writes (once; call from the running loop)."""
        self._loop = asyncio.get_running_loop()
        sync = engine.sync_engine
        if not event.contains(sync, "after_cursor_execute", self._seen):
            event.listen(sync, "after_cursor_execute", self._seen)
            event.listen(sync, "commit", self._committed)

    def _seen(self, conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        found = _WRITE.match(statement)
        if found and found.group(1).lower() in WATCHED:
            conn.info[_DIRTY] = True

    def _committed(self, conn: Connection) -> None:
        if conn.info.pop(_DIRTY, False) and self._loop is not None:
            self._loop.call_soon_threadsafe(self.bump)

    def bump(self) -> None:
        """Count a change and wake every waiter."""
        self.version += 1
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    def close(self) -> None:
        """The service stops: wake every waiter for good."""
        self.closed = True
        self._stopped.set()
        self.bump()

    async def stopping(self, timeout: float) -> None:
        """Wait `timeout` seconds, or less if the service stops meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout)

    async def wait(self, since: int, timeout: float) -> None:
        """Return once the version is past `since`, the service stops, or `timeout` passes."""
        if self.version != since or self.closed:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)
