"""The staff console's accounts, sessions, one-time links and failed sign-ins.

Secrets never reach the database in clear: a session cookie and a one-time link's token are
stored as their SHA-256 (each is 256 random bits, so no salt or slow hash is needed, and the
row is found by an index), a password as its argon2id hash (bot.console.passwords).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    ConsoleAccount,
    ConsoleFailure,
    ConsoleLink,
    ConsoleSession,
    StaffMember,
)

SIGN_IN, PASSWORD = "sign_in", "password"  # what a one-time link is for
MAX_TOKEN = 100


def new_token() -> str:
    """A fresh secret for a cookie or a link: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored of a cookie or link token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def account_by_login(session: AsyncSession, login: str) -> ConsoleAccount | None:
    """The account signed in to with `login` (sign-in names are kept lower case)."""
    return await session.scalar(
        select(ConsoleAccount).where(ConsoleAccount.login == login.strip().lower())
    )


async def account_of(
    session: AsyncSession, *, channel: str, user_id: str
) -> ConsoleAccount | None:
    """The console account of a platform identity, if it has one."""
    return await session.scalar(
        select(ConsoleAccount).where(
            ConsoleAccount.channel == channel, ConsoleAccount.user_id == user_id
        )
    )


async def open_account(
    session: AsyncSession, *, login: str, channel: str, user_id: str, now: datetime
) -> ConsoleAccount:
    """The console account of a platform identity, made if missing (its name kept if present).

    Raises:
        ValueError: `login` is already another identity's.
    """
    login = login.strip().lower()
    account = await account_of(session, channel=channel, user_id=user_id)
    if account is not None:
        return account
    taken = await account_by_login(session, login)
    if taken is not None:
        raise ValueError(f"the sign-in name {login!r} is already taken")
    account = ConsoleAccount(login=login, channel=channel, user_id=user_id, created_at=now)
    session.add(account)
    await session.flush()
    return account


async def roles_of(session: AsyncSession, account: ConsoleAccount) -> Sequence[StaffMember]:
    """The staff roles the account's identity holds (none: it may not sign in)."""
    result = await session.scalars(
        select(StaffMember)
        .where(StaffMember.channel == account.channel, StaffMember.user_id == account.user_id)
        .order_by(StaffMember.role)
    )
    return result.all()


async def start_session(
    session: AsyncSession, account: ConsoleAccount, *, now: datetime, lasts: timedelta
) -> str:
    """Sign a browser in; returns the cookie's token (stored only as its hash)."""
    token = new_token()
    session.add(
        ConsoleSession(
            token_hash=token_hash(token),
            account_id=account.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lasts,
        )
    )
    await session.flush()
    return token


async def live_session(
    session: AsyncSession, token: str, *, now: datetime, idle: timedelta
) -> tuple[ConsoleSession, ConsoleAccount] | None:
    """The session a cookie names if it is still live, marked seen now; an expired one is ended."""
    if not token or len(token) > MAX_TOKEN:
        return None
    found = await session.execute(
        select(ConsoleSession, ConsoleAccount)
        .join(ConsoleAccount, ConsoleAccount.id == ConsoleSession.account_id)
        .where(ConsoleSession.token_hash == token_hash(token))
    )
    row = found.first()
    if row is None:
        return None
    live, account = row
    if now >= live.expires_at or now - live.last_seen_at >= idle:
        await session.delete(live)
        return None
    live.last_seen_at = now
    return live, account


async def end_session(session: AsyncSession, token: str) -> None:
    """Sign one browser out."""
    await session.execute(
        delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token))
    )


async def end_every_session(session: AsyncSession, account_id: int) -> int:
    """Sign the account out of every browser; returns how many sessions ended."""
    result = await session.execute(
        delete(ConsoleSession).where(ConsoleSession.account_id == account_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def issue_link(
    session: AsyncSession,
    account: ConsoleAccount,
    *,
    purpose: str,
    now: datetime,
    lasts: timedelta,
) -> str:
    """A one-time link's token for `purpose`; earlier unused links of that purpose stop working."""
    await session.execute(
        update(ConsoleLink)
        .where(
            ConsoleLink.account_id == account.id,
            ConsoleLink.purpose == purpose,
            ConsoleLink.used_at.is_(None),
        )
        .values(used_at=now)
    )
    token = new_token()
    session.add(
        ConsoleLink(
            token_hash=token_hash(token),
            account_id=account.id,
            purpose=purpose,
            created_at=now,
            expires_at=now + lasts,
        )
    )
    await session.flush()
    return token


async def valid_link(
    session: AsyncSession, token: str, *, purpose: str, now: datetime
) -> tuple[ConsoleLink, ConsoleAccount] | None:
    """The unused, unexpired link a token names, with its account (not yet used up)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    found = await session.execute(
        select(ConsoleLink, ConsoleAccount)
        .join(ConsoleAccount, ConsoleAccount.id == ConsoleLink.account_id)
        .where(ConsoleLink.token_hash == token_hash(token), ConsoleLink.purpose == purpose)
    )
    row = found.first()
    if row is None or row[0].used_at is not None or now >= row[0].expires_at:
        return None
    return row[0], row[1]


async def use_link(session: AsyncSession, link: ConsoleLink, *, now: datetime) -> bool:
    """Use a link up; False if another request used it first (a link works once only)."""
    result = await session.execute(
        update(ConsoleLink)
        .where(ConsoleLink.id == link.id, ConsoleLink.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def failures_since(session: AsyncSession, key: str, *, since: datetime) -> list[datetime]:
    """When `key` (a sign-in name's or an address's keyed hash) failed since `since`, in order."""
    result = await session.scalars(
        select(ConsoleFailure.at)
        .where(ConsoleFailure.key == key, ConsoleFailure.at >= since)
        .order_by(ConsoleFailure.at)
    )
    return list(result.all())


async def record_failures(session: AsyncSession, keys: Sequence[str], *, now: datetime) -> None:
    """Count one failed sign-in against each key."""
    session.add_all(ConsoleFailure(key=key, at=now) for key in keys)
    await session.flush()


async def forget_failures(session: AsyncSession, key: str) -> None:
    """A successful sign-in clears the sign-in name's failures (not the address's)."""
    await session.execute(delete(ConsoleFailure).where(ConsoleFailure.key == key))


async def forget_old(session: AsyncSession, *, now: datetime, before: datetime) -> None:
    """Drop expired sessions and links, and failures older than `before`."""
    await session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    await session.execute(delete(ConsoleLink).where(ConsoleLink.expires_at < now))
    await session.execute(delete(ConsoleFailure).where(ConsoleFailure.at < before))


async def list_accounts(session: AsyncSession) -> Sequence[ConsoleAccount]:
    """Every console account, by sign-in name."""
    return (await session.scalars(select(ConsoleAccount).order_by(ConsoleAccount.login))).all()
