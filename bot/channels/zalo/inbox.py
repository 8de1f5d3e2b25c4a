"""Zalo webhook events: stored before Zalo gets its answer, handled right after, in order.

Zalo wants an answer within 2 seconds and redelivers otherwise, so the webhook only verifies
the signature and stores the event (`receive`); this loop then handles what is stored, oldest
first, in batches: an unfollow marks the citizen unreachable; a text that is the label or
number of a choice we offered becomes that button's press (`choice_payload`); the citizens who
wrote get their messages kept `waiting` (outside Zalo's window) due again; the rest is the
dispatcher's, as for any channel. A handled event is emptied (its key stays, to refuse a
redelivery). Events left by a crash are handled at the next start, and the dispatcher's
deduplication makes a second handling of one a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.zalo import oa_api as zalo
from bot.clock import Clock
from bot.idle import IdleWatch
from bot.messages import Button, Incoming, Kind
from storage import accounts, inbox, outbox
from storage.db import Database

log = logging.getLogger(__name__)

BATCH = 100
CHOICE_MEMORY = 3  # how many of the messages the chat last saw a typed choice is looked up in
_POLL_S = 5.0  # a stored event is also found without a wake-up (another process stored it)


# The dispatcher's batch entry (`bot.dispatch.Dispatcher.handle_batch`), given by the composition
# root so that a channel never imports the dispatcher above it.
HandleBatch = Callable[[Sequence[Incoming]], Awaitable[object]]


class ZaloInbox:
    """Stores Zalo events as they come and hands them to the dispatcher in order."""

    def __init__(
        self,
        db: Database,
        handle_batch: HandleBatch,
        *,
        clock: Clock,
        on_released: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._handle_batch = handle_batch
        self._clock = clock
        self._on_released = on_released
        self._wake = asyncio.Event()
        self._idle = IdleWatch(self._wake.set)

    async def idle(self) -> None:
        """Wait until no stored event is left unhandled (needs `run()` going)."""
        await self._idle.wait()

    async def receive(self, event: dict[str, Any]) -> bool:
        """Keep an event for handling; False if it was kept before (Zalo redelivered it)."""
        async with self._db.session_scope() as session:
            fresh = await inbox.store(
                session,
                channel=zalo.NAME,
                event_key=zalo.event_key(event),
                body=event,
                now=self._clock(),
            )
        self._wake.set()
        return fresh

    async def run(self) -> None:
        """Handle stored events until cancelled."""
        while True:
            number = self._idle.begin()
            try:
                handled = await self.drain_once()
            except Exception:  # the database away for a moment: the events stay stored
                log.exception("could not handle stored Zalo events; retrying")
                handled = 0
                await asyncio.sleep(1)
            else:
                if not handled:
                    self._idle.quiet(number)
            if not handled:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), _POLL_S)
                self._wake.clear()

    async def drain_once(self) -> int:
        """Handle up to `BATCH` stored events; how many there were."""
        async with self._db.read_scope() as session:
            stored = await inbox.waiting(session, channel=zalo.NAME, limit=BATCH)
        if not stored:
            return 0
        events = [row.body for row in stored]
        msgs = [msg for msg in map(zalo.to_incoming, events) if msg is not None]
        async with self._db.session_scope() as session:
            await self._unfollowed(session, [e for e in events if zalo.is_unfollow(e)])
            msgs = await _with_choices(session, msgs)
            released = await outbox.release_waiting(
                session,
                channel=zalo.NAME,
                chat_ids=sorted({msg.chat.chat_id for msg in msgs}),
                now=self._clock(),
            )
        if released:
            self._on_released()
        if msgs:
            await self._handle_batch(msgs)
        async with self._db.session_scope() as session:
            await inbox.mark_handled(session, [row.id for row in stored], now=self._clock())
        return len(stored)

    async def _unfollowed(self, session: AsyncSession, events: Sequence[dict[str, Any]]) -> None:
        for event in events:
            user = zalo.user_of(event)
            if user is not None:
                await accounts.mark_unreachable(
                    session, channel=zalo.NAME, chat_id=user, reason="unfollowed", at=self._clock()
                )


async def _with_choices(session: AsyncSession, msgs: Sequence[Incoming]) -> list[Incoming]:
    """Texts that pick one of the choices we offered, as presses of those buttons."""
    offered: dict[str, list[list[Button]]] = {}
    out = []
    for msg in msgs:
        if msg.kind != Kind.TEXT:
            out.append(msg)
            continue
        chat_id = msg.chat.chat_id
        if chat_id not in offered:
            offered[chat_id] = await _offered(session, chat_id)
        payload = zalo.choice_payload(msg.text, offered[chat_id])
        out.append(msg if payload is None else replace(msg, kind=Kind.BUTTON, payload=payload))
    return out


async def _offered(session: AsyncSession, chat_id: str) -> list[list[Button]]:
    """The choices of each message the chat last saw, newest first (none: empty).

    Only messages that went out: one still waiting or withdrawn was never on screen, and an
    edit is not shown on Zalo.
    """
    rows = await outbox.recent_for_chat(
        session, channel=zalo.NAME, chat_id=chat_id, limit=CHOICE_MEMORY * 4
    )
    seen = [
        row
        for row in reversed(rows)
        if row.status in ("sent", "sending") and not row.body.get("edit_message_id")
    ]
    return [zalo.offered_buttons(row.body) for row in seen[:CHOICE_MEMORY]]
