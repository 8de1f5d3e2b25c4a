"""The desk linker: moves new support tickets onto the staff desk, one loop per process.

What linking does is `bot.domain.tickets.link_desk`; this loop runs it when woken (a ticket
opened) and every second while any ticket waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from bot.clock import Clock
from bot.domain.tickets import link_desk
from bot.messages import ChatRef
from storage.db import Database

log = logging.getLogger(__name__)


class DeskLinker:
    """Moves new tickets onto the desk; one per process, started by `run()`.

    It learns once whether the desk has forum topics (retrying while Telegram cannot say), then
    links tickets whenever woken (a ticket opened) and every second while any wait.
    """

    def __init__(
        self,
        db: Database,
        desk: ChatRef,
        *,
        is_forum: Callable[[str], Awaitable[bool]],
        clock: Clock,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self._db, self._desk, self._is_forum = db, desk, is_forum
        self._clock, self._on_queued = clock, on_queued
        self._wake = asyncio.Event()
        self.forum: bool | None = None

    def wake(self) -> None:
        """A ticket was opened: link it now."""
        self._wake.set()

    async def run(self, *, poll_s: float = 1.0) -> None:
        """Link tickets until cancelled."""
        while True:
            try:
                if self.forum is None:
                    self.forum = await self._is_forum(self._desk.chat_id)
                    log.info(
                        "support chat: %s",
                        "one forum topic per ticket" if self.forum else "reply threads",
                    )
                async with self._db.session_scope() as session:
                    moved = await link_desk(
                        session, desk=self._desk, forum=self.forum, now=self._clock()
                    )
                if moved:
                    self._on_queued()
            except Exception:  # Telegram or the database away for a while: try again shortly
                log.exception("linking support tickets to the support chat failed; retrying")
                await asyncio.sleep(5 * poll_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll_s)
            self._wake.clear()
