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
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import Conversation, Handler, Services, unstamped
from bot.handlers import (
    appointments,
    broadcasts,
    campaigns,
    certificates,
    children,
    desk,
    form,
    linking,
    menu,
    pcr,
    phone,
    privacy,
    registration,
    sampling,
    staff,
    start,
    support,
)
from bot.i18n import _, negotiate, use_locale
from bot.messages import ChatRef, Incoming, Kind, Outgoing
from bot.services.outbox import LEASE, Sender
from bot.services.photos import PhotoReader
from bot.vn.intents import Intent, is_answer, match_intent
from storage import accounts, conversations, outbox, updates
from storage.conversations import SavedState
from storage.db import Database
from storage.models import Account
from storage.outbox import NewMessage

log = logging.getLogger(__name__)

FLOWS: Mapping[str, Mapping[str, Handler]] = {
    privacy.FLOW: privacy.STEPS,
    phone.FLOW: phone.STEPS,
    registration.FLOW: registration.STEPS,
    appointments.FLOW: appointments.STEPS,
    staff.FLOW: staff.STEPS,
    pcr.FLOW: pcr.STEPS,
    sampling.FLOW: sampling.STEPS,
    campaigns.FLOW: campaigns.STEPS,
    broadcasts.FLOW: broadcasts.STEPS,
    linking.FLOW: linking.STEPS,
}
# What each main-menu entry (and the entries reached from other messages) opens.
MENU_FLOWS: Mapping[str, Handler] = {
    "menu:register": registration.start_registration,
    "menu:appointments": appointments.show_appointments,
    "menu:results": pcr.show_results,
    "menu:qr": pcr.show_qr,
    "menu:lookup": pcr.start_lookup,
    "menu:qr_add": pcr.add_person_for_qr,
    "menu:certificate": certificates.show_certificates,
    "menu:support": support.open_ticket,
}
# Flows whose steps take photos themselves (any other photo is read as a certificate).
TAKES_PHOTOS = frozenset({broadcasts.FLOW})
# What /huy says depends on the flow it stops.
CANCELLERS: Mapping[str, Handler] = {registration.FLOW: registration.cancel}
# Each flow's "Back" button (offered after repeated wrong answers).
GO_BACK: Mapping[str, Handler] = {registration.FLOW: registration.go_back}


async def open_menu(msg: Incoming, conv: Conversation) -> None:
    """Run a main-menu entry (button, command or free text)."""
    await MENU_FLOWS[menu.menu_payload(msg)](msg, conv)


async def cancel(msg: Incoming, conv: Conversation) -> None:
    """/huy: the flow's own way of stopping, or the generic one."""
    await CANCELLERS.get(conv.flow or "", start.cancel)(msg, conv)


COMMANDS: Mapping[str, Handler] = {
    "start": start.start,
    "menu": menu.show_menu,
    "help": start.show_help,
    "trogiup": start.show_help,
    "language": start.ask_language,
    "ngonngu": start.ask_language,
    "xemdulieu": privacy.show_my_data,
    "xoadulieu": privacy.ask_erase,
    "rutdongy": privacy.ask_withdraw,
    "sodienthoai": phone.ask_phone,
    "lienket": linking.start_linking,
    "huy": cancel,
    "cancel": cancel,
    "tatthongbao": broadcasts.stop_announcements,
    "batthongbao": broadcasts.resume_announcements,
    **dict.fromkeys(menu.COMMAND_TO_MENU, open_menu),
    # Staff commands answer "unknown command" to anyone without the role.
    "tiem": staff.start_dose,
    "ghinhan": staff.start_dose,
    "laymau": sampling.start_sampling,
    "chiendich": campaigns.start_campaigns,
    "thongbao": broadcasts.start_broadcast,
}
# Commands that collect no personal data, so they work before consent.
# Rights and settings that concern no personal data: they work before consent and while a
# support ticket is open.
PRIVACY_COMMANDS = frozenset({"xemdulieu", "xoadulieu", "rutdongy", "tatthongbao", "batthongbao"})
BEFORE_CONSENT = frozenset({"start", "help", "trogiup", "language", "ngonngu"}) | PRIVACY_COMMANDS
INTENTS: Mapping[Intent, Handler] = {
    Intent.REGISTER: open_menu,
    Intent.RESULTS: open_menu,
    Intent.CERTIFICATE: open_menu,
    Intent.SUPPORT: open_menu,
    Intent.APPOINTMENTS: open_menu,
    Intent.QR: open_menu,
    Intent.LOOKUP: open_menu,
    Intent.MENU: menu.show_menu,
    Intent.HELP: start.show_help,
    Intent.LANGUAGE: start.ask_language,
    Intent.VIEW_DATA: privacy.show_my_data,
    Intent.DELETE_DATA: privacy.ask_erase,
}


async def run_command(msg: Incoming, conv: Conversation) -> None:
    """Run a slash command, or say kindly that it does not exist."""
    await COMMANDS.get(msg.command or "", start.unknown_command)(msg, conv)


async def run_step(msg: Incoming, conv: Conversation) -> None:
    """Hand the update to the step the conversation waits on."""
    go_back = GO_BACK.get(conv.flow or "")
    if msg.payload == form.BACK and go_back is not None:
        await go_back(msg, conv)
        return
    handler = FLOWS.get(conv.flow or "", {}).get(conv.step or "")
    if handler is None:  # a step that no longer exists after an upgrade
        await menu.show_menu(msg, conv)
        return
    await handler(msg, conv)


async def run_intent(msg: Incoming, conv: Conversation) -> None:
    """Run what free text asks for."""
    intent = match_intent(msg.text)
    handler = INTENTS.get(intent, start.not_understood) if intent else start.not_understood
    await handler(msg, conv)


def _is_cancel(msg: Incoming, conv: Conversation) -> bool:
    # Only a message that is nothing but "hủy" / "thôi"...: inside a flow, "Nguyễn Văn Huy" is
    # a name and "0912 345 678 thôi" a phone number.
    return msg.command in ("huy", "cancel") or (
        msg.kind == Kind.TEXT and conv.flow is not None and is_answer(msg.text, Intent.CANCEL)
    )


def _with_staff(msg: Incoming, conv: Conversation) -> bool:
    """Whether a support ticket takes this update.

    All of it does, but for the citizen's rights (and the answers to them) and the rating of
    an earlier ticket.
    """
    return (
        conv.ticket_id is not None
        and msg.command not in PRIVACY_COMMANDS
        and conv.flow != privacy.FLOW
        and not (msg.payload or "").startswith(support.RATE)
    )


# Order matters: the first matching rule handles the update. Gatekeepers come first; while a
# support ticket is open, what the citizen writes goes to staff (the flow waits); commands
# that need no consent come before the consent gate; a flow in progress sees everything that
# is not a command or a main-menu button; free text is matched to an intent only outside flows.
ROUTES: list[tuple[str, Callable[[Incoming, Conversation], bool], Handler]] = [
    ("too long", lambda m, c: len(m.text) > start.MAX_TEXT, start.too_long),
    ("talking with support staff", _with_staff, support.relay),
    ("button from an old message", lambda m, c: c.stale_button, start.menu_expired),
    ("command before consent", lambda m, c: m.command in BEFORE_CONSENT, run_command),
    ("language button", lambda m, c: (m.payload or "").startswith("lang:"), start.set_language),
    ("cancel", _is_cancel, cancel),
    ("consent and privacy steps", lambda m, c: c.flow == privacy.FLOW, run_step),
    ("consent gate", lambda m, c: not c.consented, privacy.ask_consent),
    (
        "appointment button",
        lambda m, c: (m.payload or "").startswith("appt:"),
        appointments.receive_choice,
    ),
    (
        "book a registered person",
        lambda m, c: (m.payload or "").startswith("book:"),
        registration.book_from_button,
    ),
    (
        "certificate button",
        lambda m, c: (m.payload or "").startswith("cert:"),
        certificates.receive_choice,
    ),
    (
        "campaign button",
        lambda m, c: (m.payload or "").startswith("camp:"),
        campaigns.receive_button,
    ),
    (
        "broadcast button",
        lambda m, c: (m.payload or "").startswith("bc:"),
        broadcasts.receive_button,
    ),
    ("rating button", lambda m, c: (m.payload or "").startswith(support.RATE), support.rate),
    ("link button", lambda m, c: (m.payload or "").startswith("link:"), linking.receive_button),
    ("ticket button", lambda m, c: (m.payload or "").startswith("tk:"), support.relay),
    ("children's immunisation", children.takes, children.handle),
    ("command", lambda m, c: m.command is not None, run_command),
    ("menu button", lambda m, c: m.payload in menu.ENTRIES, open_menu),
    (
        "photo of a certificate",
        lambda m, c: m.kind == Kind.PHOTO and c.flow not in TAKES_PHOTOS,
        certificates.check_photo,
    ),
    ("flow step", lambda m, c: c.flow is not None, run_step),
    (
        "content the bot cannot read",
        lambda m, c: m.kind not in (Kind.TEXT, Kind.BUTTON),
        start.unsupported,
    ),
    ("free text", lambda m, c: True, run_intent),
]


async def route(msg: Incoming, conv: Conversation) -> None:
    """Run the first route whose rule matches."""
    for _name, matches, handler in ROUTES:
        if matches(msg, conv):
            await handler(msg, conv)
            return


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
        ids = await outbox.enqueue(
            session,
            [
                NewMessage(r.chat.channel, r.chat.chat_id, r.to_body(), owner, r.image)
                for r, owner in replies
            ],
            now=now,
            lease_until=now + LEASE,
        )
        return list(zip(ids, [reply for reply, _owner in replies], strict=True))

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
