"""Console passwords: argon2id hashes (argon2-cffi's RFC 9106 low-memory profile).

Hashing and checking take tens of milliseconds and 64 MiB on purpose, so they run in a thread,
never on the event loop. A name that has no account is checked against a dummy hash, so the time
an answer takes does not say whether the name exists.
"""

from __future__ import annotations

import asyncio
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

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
