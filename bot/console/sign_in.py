"""Signing in to the console: by password, or by a one-time link sent to the staff member's chat.

Failed password sign-ins are counted per sign-in name and per client address (keyed hashes,
so the names tried and the addresses are not stored), and each then waits longer before the
next try, as failed result lookups do (bot.domain.lookups.wait_after: three free tries, then
one minute, doubling up to four hours). While a wait runs, no password is checked at all, the
right one included. A name without an account fails exactly as a wrong password does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.access import Staff
from bot.console.gate import Console
from bot.console.passwords import check_password
from bot.domain.lookups import MEMORY, wait_after
from bot.i18n import _, use_locale
from bot.messages import ChatRef, Outgoing
from bot.web.clients import hashed_client_key
from storage import console as store
from storage import outbox, staff
from storage.outbox import NewMessage

NAME_KIND = "console-login"  # blind-index kind of the sign-in names tried
LINK_CHANNELS = ("telegram", "zalo")  # the chats a sign-in link can be sent to


@dataclass(frozen=True)
class Outcome:
    """What a sign-in came to: a session token, or a wait still owed, or neither (refused)."""

    token: str | None = None
    wait: timedelta | None = None


def _keys(console: Console, request: web.Request, login: str) -> tuple[str, str]:
    name = console.protector.blind_index(NAME_KIND, login.strip().lower())
    return name, hashed_client_key(request, console.protector)


async def _wait(
    session: AsyncSession, keys: tuple[str, ...], console: Console
) -> timedelta | None:
    now = console.clock()
    waits = [
        wait_after(await store.failures_since(session, key, since=now - MEMORY), now=now)
        for key in keys
    ]
    return max((wait for wait in waits if wait), default=None)


async def with_password(
    console: Console, request: web.Request, login: str, password: str
) -> Outcome:
    """Check a sign-in name and password; a session token if they match an account with roles."""
    keys = _keys(console, request, login)
    async with console.db.read_scope() as session:
        wait = await _wait(session, keys, console)
        if wait is not None:
            return Outcome(wait=wait)
        account = await store.account_by_login(session, login[:64])
        stored = account.password_hash if account else None
        members = await store.roles_of(session, account) if account else []
    matches = await check_password(stored, password)  # as long for a name that is nobody's
    async with console.db.session_scope() as session:
        now = console.clock()
        if not (matches and members and account is not None):
            await store.record_failures(session, keys, now=now)
            if account is not None:
                await staff.audit(
                    session,
                    actor=f"console:{account.login}",
                    action="console_sign_in_failed",
                    subject=f"console:{account.id}",
                    now=now,
                )
            return Outcome()
        await store.forget_failures(session, keys[0])
        return Outcome(token=await begin(session, console, Staff.of(account, members), "password"))


async def begin(session: AsyncSession, console: Console, who: Staff, how: str) -> str:
    """Start a session for `who` (signed in `how`), in the audit log; returns its token."""
    account = await store.account_by_login(session, who.login)
    assert account is not None
    now = console.clock()
    token = await store.start_session(session, account, now=now, lasts=console.lasts)
    await staff.audit(
        session,
        actor=who.actor,
        action="console_sign_in",
        subject=f"console:{who.account_id}",
        now=now,
        detail={"how": how},
    )
    return token


async def send_link(console: Console, login: str, *, locale: str) -> bool:
    """Send a one-time sign-in link to the account's registered chat; whether one was sent.

    Nothing is sent for a name without an account, without a role, or whose identity is not a
    Telegram or Zalo chat; the page says the same in every case.
    """
    async with console.db.session_scope() as session:
        account = await store.account_by_login(session, login[:64])
        if account is None or account.channel not in LINK_CHANNELS:
            return False
        members = await store.roles_of(session, account)
        if not members:
            return False
        now = console.clock()
        minutes = console.settings.console_link_minutes
        token = await store.issue_link(
            session,
            account,
            purpose=store.SIGN_IN,
            now=now,
            lasts=timedelta(minutes=minutes),
        )
        text = _link_text(f"{console.settings.console_base}/link/{token}", minutes, locale)
        body = Outgoing(ChatRef(account.channel, account.user_id), text).to_body()
        await outbox.enqueue(
            session, [NewMessage(account.channel, account.user_id, body)], now=now
        )
        await staff.audit(
            session,
            actor=Staff.of(account, members).actor,
            action="console_link_sent",
            subject=f"console:{account.id}",
            now=now,
            detail={"channel": account.channel},
        )
    console.outbox_written()
    return True


def _link_text(link: str, minutes: float, locale: str) -> str:
    """The chat message that carries a sign-in link, in the staff member's language."""
    with use_locale(locale):
        return _(
            "Your sign-in link for the staff console (it works once, within {minutes} "
            "minutes): {link}\nIf you did not ask for it, ignore this message."
        ).format(minutes=int(minutes), link=link)
