"""Console passwords: argon2id hashes (argon2-cffi's RFC 9106 low-memory profile).

Hashing and checking take tens of milliseconds and 64 MiB on purpose, so they run in a thread,
never on the event loop. A name that has no account is checked against a dummy hash, so the time
an answer takes does not say whether the name exists.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from storage import console as store

LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_LENGTH = 10
MAX_LENGTH = 200  # argon2 takes any length; a bound keeps one request from costing much


@cache
def hasher() -> PasswordHasher:
    """The password hasher (argon2id, RFC 9106 low-memory parameters)."""
    return PasswordHasher()


@cache
def _dummy_hash() -> str:
    return hasher().hash("not a password of anyone's")


def problem(password: str, repeated: str) -> str | None:
    """Why a new password is refused (a message key for `bot.console.pages`), or None."""
    if password != repeated:
        return "mismatch"
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return "length"
    return None


async def hash_password(password: str) -> str:
    """The argon2id hash of `password` (computed in a thread)."""
    return await asyncio.to_thread(hasher().hash, password)


async def check_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches `stored` (None: no password set; still takes as long)."""
    if len(password) > MAX_LENGTH:
        return False

    def verify() -> bool:
        try:
            return hasher().verify(stored or _dummy_hash(), password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


async def login_problem(
    session: AsyncSession, channel: str, user_id: str, login: str
) -> str | None:
    """Why `login` cannot be this identity's console sign-in name, or None."""
    if not LOGIN.match(login):
        return "a sign-in name is 2 to 64 of a-z 0-9 . _ - (give --login)"
    taken = await store.account_by_login(session, login)
    if taken is not None and (taken.channel, taken.user_id) != (channel, user_id):
        return f"the sign-in name {login!r} is another staff member's (give --login)"
    return None


async def password_link(
    session: AsyncSession,
    settings: Settings,
    *,
    channel: str,
    user_id: str,
    login: str,
    now: datetime,
) -> str:
    """Open the console account of a staff identity if missing; a one-time set-password link.

    Raises:
        ValueError: `login` is another identity's.
    """
    account = await store.open_account(
        session, login=login, channel=channel, user_id=user_id, now=now
    )
    token = await store.issue_link(
        session,
        account,
        purpose=store.PASSWORD,
        now=now,
        lasts=timedelta(hours=settings.console_password_link_hours),
    )
    return f"{settings.console_base}/password/{token}"
