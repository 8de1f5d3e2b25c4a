"""From incoming updates to committed state and queued replies, exactly once per update.

For updates that arrive together (one `getUpdates` batch; one web or webhook post): take their
chats' locks (updates of one chat are handled in arrival order, other chats run concurrently),
open one unit of work, skip updates whose (channel, update id) was seen, load the accounts and
conversations, then for each update set the locale and run the handler the route table picks;
save the conversations, write the replies to the outbox, commit, hand the replies to the
sender. If a handler fails, nothing it did is kept: the citizen gets an apology and stays on
the step they were on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import Conversation, Services, unstamped
from bot.dispatch.routes import route
from bot.domain.photos import PhotoReader
from bot.handlers import (
    desk,
    start,
)
from bot.i18n import _, negotiate, use_locale
from bot.messages import ChatRef, Incoming, Outgoing
from bot.workers.sender import LEASE, Sender
from storage import accounts, conversations, outbox, updates
from storage.conversations import SavedState
from storage.db import Database
from storage.models import Account
from storage.outbox import NewMessage

log = logging.getLogger(__name__)


def _run_hooks(hooks: Sequence[Callable[[], None]]) -> None:
    for hook in hooks:
        try:
            hook()
        except Exception:  # the event is committed: a hook's failure must not undo the reply
            log.exception("an after-commit hook failed")


class ChatLocks:
    """One lock per chat, created on demand and dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[ChatRef, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, chats: Sequence[ChatRef]) -> AsyncIterator[None]:
        """Hold the locks of `chats`; waiters get a lock in arrival order.

        Several locks are always taken in one global order, so two batches cannot deadlock.
        """
        async with contextlib.AsyncExitStack() as stack:
            for chat in sorted(set(chats), key=lambda c: (c.channel, c.chat_id)):
                await stack.enter_async_context(self._hold_one(chat))
            yield

    @contextlib.asynccontextmanager
    async def _hold_one(self, chat: ChatRef) -> AsyncIterator[None]:
        lock, users = self._locks.get(chat, (None, 0))
        lock = lock or asyncio.Lock()
        self._locks[chat] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[chat]
            if users == 1:
                del self._locks[chat]
            else:
                self._locks[chat] = (lock, users - 1)


Jobs = list[tuple[int, Outgoing]]


@dataclass
class _Chat:
    """A chat while a batch is handled: its account and state as the last update left them."""

    account: Account
    state: SavedState
    loaded_version: int


class Dispatcher:
    """Handles every incoming update, whichever channel it came from."""

    def __init__(
        self,
        db: Database,
        services: Services,
        sender: Sender,
        photos: PhotoReader | None = None,
    ) -> None:
        self._db = db
        self._services = services
        self._sender = sender
        self._photos = photos or PhotoReader({})
        self._locks = ChatLocks()
        self._idle_limit = timedelta(hours=services.settings.conversation_idle_hours)
        self._in_hand = 0  # batches being handled
        self._idle = asyncio.Event()
        self._idle.set()

    async def handle(self, msg: Incoming) -> None:
        """Process one update (ignored if seen before) and start sending its replies."""
        await self.handle_batch([msg])

    async def idle(self) -> None:
        """Wait until no update is in hand: every one received so far has its replies queued."""
        await self._idle.wait()

    async def handle_batch(self, msgs: Sequence[Incoming]) -> None:
        """Process updates that arrived together, in order, and start sending their replies.

        They share one unit of work and one statement per step for all of them (a group
        commit: deduplicate, load the chats, save the conversations and write the replies once
        per batch, not once per update). If any of them fails, the whole unit is rolled back
        and each update is processed again in a unit of its own, so only the failing one ends
        in an apology.
        """
        self._in_hand += 1
        self._idle.clear()
        try:
            await self._handle_batch(msgs)
        finally:
            self._in_hand -= 1
            if not self._in_hand:
                self._idle.set()

    async def _handle_batch(self, msgs: Sequence[Incoming]) -> None:
        msgs = await self._photos.read_all(msgs)  # downloads: before the lock and transaction
        async with self._locks.hold([msg.chat for msg in msgs]):
            try:
                hooks: list[Callable[[], None]] = []
                async with self._db.session_scope() as session:
                    jobs = await self._process(session, msgs, hooks)
                _run_hooks(hooks)
            except Exception:
                if len(msgs) == 1:
                    log.exception("handling a %s update failed; apologising", msgs[0].chat.channel)
                    jobs = await self._apologise(msgs[0])
                else:
                    log.warning("a batch of %s updates failed; one by one now", len(msgs))
                    for msg in msgs:  # each one's replies leave as soon as it is committed
                        self._sender.deliver_now(await self._process_alone(msg))
                    return
            self._sender.deliver_now(jobs)

    async def _process_alone(self, msg: Incoming) -> Jobs:
        try:
            hooks: list[Callable[[], None]] = []
            async with self._db.session_scope() as session:
                jobs = await self._process(session, [msg], hooks)
            _run_hooks(hooks)
            return jobs
        except Exception:
            log.exception("handling a %s update failed; apologising", msg.chat.channel)
            return await self._apologise(msg)

    async def _process(
        self, session: AsyncSession, msgs: Sequence[Incoming], hooks: list[Callable[[], None]]
    ) -> Jobs:
        """Run `msgs` in order in the session; return the outbox rows to send now.

        What the handlers asked to run after the commit is added to `hooks`.
        """
        now = self._services.clock()
        fresh = await updates.claim_updates(
            session, keys=[(m.chat.channel, m.update_id) for m in msgs], now=now
        )
        todo = []
        for msg in msgs:  # a redelivery, or the same update twice in one batch, is skipped
            key = (msg.chat.channel, msg.update_id)
            if key in fresh:
                fresh.discard(key)
                todo.append(msg)
        replies: list[tuple[Outgoing, int | None]] = []
        desk_chat = self._services.desk.chat if self._services.desk else None
        from_desk = [m for m in todo if m.chat == desk_chat]
        for msg in [m for m in todo if not m.private and m.chat != desk_chat]:
            replies.append((start.private_only(msg), None))
        todo = [msg for msg in todo if msg.private and msg.chat != desk_chat]
        chats = await self._load(session, todo)
        for msg in todo:
            chat = chats.get(msg.chat) or await self._open(session, msg, now)
            conv = await self._run(session, msg, chat, now)
            hooks.extend(conv.after_commit)
            if conv.erased:
                chats.pop(msg.chat, None)
                replies += [(reply, None) for reply in conv.replies()]
            else:
                chat.state, answered = conv.conclude()
                chats[msg.chat] = chat
                replies += [(reply, chat.account.id) for reply in answered]
        for msg in from_desk:  # the support staff's chat: no account, no conversation
            turn = desk.DeskTurn(session=session, services=self._services, now=now)
            await desk.handle(msg, turn)
            replies += turn.messages
            hooks.extend(turn.after_commit)
        replies = [(part, owner) for reply, owner in replies for part in self._sender.fit(reply)]
        await conversations.save_states(
            session,
            [
                (c.account.id, c.state, c.loaded_version)
                for c in chats.values()
                if c.state.version != c.loaded_version
            ],
        )
        rows = await outbox.enqueue_replies(
            session,
            [
                NewMessage(r.chat.channel, r.chat.chat_id, r.to_body(), owner, r.image)
                for r, owner in replies
            ],
            now=now,
            lease_until=now + LEASE,
            held_here=self._sender.held_rows(),
        )
        if not all(mine for _id, mine in rows):  # some wait behind their chats' earlier ones
            hooks.append(self._sender.wake)
        return [(i, reply) for (i, mine), (reply, _) in zip(rows, replies, strict=True) if mine]

    async def _load(self, session: AsyncSession, msgs: Sequence[Incoming]) -> dict[ChatRef, _Chat]:
        by_channel: dict[str, list[str]] = {}
        for msg in msgs:
            by_channel.setdefault(msg.chat.channel, []).append(msg.chat.chat_id)
        chats: dict[ChatRef, _Chat] = {}
        for channel, chat_ids in by_channel.items():
            loaded = await accounts.load_chats(session, channel=channel, chat_ids=chat_ids)
            for chat_id, (account, state) in loaded.items():
                chats[ChatRef(channel, chat_id)] = _Chat(account, state, state.version)
        return chats

    async def _open(self, session: AsyncSession, msg: Incoming, now: datetime) -> _Chat:
        """First contact: an account in the language the platform reports."""
        account, state = await accounts.open_chat(
            session,
            channel=msg.chat.channel,
            chat_id=msg.chat.chat_id,
            user_id=msg.user_id,
            locale=negotiate(msg.language),
            now=now,
        )
        return _Chat(account, state, state.version)

    async def _run(
        self, session: AsyncSession, msg: Incoming, chat: _Chat, now: datetime
    ) -> Conversation:
        """Route one update to its handler, in the account's language."""
        account = chat.account
        if account.unreachable_at is not None:  # they wrote to us: reachable again
            account.unreachable_at = account.unreachable_reason = None
            self._sender.reachable_again(msg.chat)
        if account.holder_id is not None:  # a linked chat: messages follow the citizen here
            where = msg.chat
            await accounts.used_now(
                session, holder_id=account.holder_id, channel=where.channel, chat_id=where.chat_id
            )
        elif account.reach_channel is not None and not account.reach_pinned:
            account.reach_channel = account.reach_chat_id = None  # back on the holder's chat
        conv = Conversation(
            session=session,
            account=account,
            saved=chat.state,
            chat=msg.chat,
            services=self._services,
            now=now,
        )
        with use_locale(account.locale):
            # A form waiting while the citizen talks to staff is not idle: it resumes after.
            idle = conv.ticket_id is None and conv.idle_for() > self._idle_limit
            reset = conv.flow is not None and idle
            if reset:
                conv.finish()
                start.idle_notice(conv)
            if msg.payload is not None:
                conv.stale_button = conv.is_stale(msg.payload) or (
                    reset and msg.payload != unstamped(msg.payload)
                )
                msg = replace(msg, payload=unstamped(msg.payload))
            await route(msg, conv)
        return conv

    async def _apologise(self, msg: Incoming) -> Jobs:
        now = self._services.clock()
        chat = msg.chat
        async with self._db.session_scope() as session:
            await updates.claim_update(
                session, channel=chat.channel, update_id=msg.update_id, now=now
            )
            loaded = await accounts.load_chat(session, channel=chat.channel, chat_id=chat.chat_id)
            locale = loaded[0].locale if loaded else negotiate(msg.language)
            with use_locale(locale):
                reply = Outgoing(
                    chat=chat,
                    text=_(
                        "Sorry, something went wrong on our side and your message was not "
                        "handled. Please try again in a few minutes."
                    ),
                )
            ids = await outbox.enqueue(
                session,
                [
                    NewMessage(
                        chat.channel,
                        chat.chat_id,
                        reply.to_body(),
                        loaded[0].id if loaded else None,
                    )
                ],
                now=now,
                lease_until=now + LEASE,
            )
        return [(ids[0], reply)]
