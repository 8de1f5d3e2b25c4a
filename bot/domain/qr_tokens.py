"""Personal QR tokens for sampling: opaque, signed, expiring; nothing personal inside.

A token is `XN1:` and the base32 of an AES-GCM box (its own key, derived from DATA_KEY) around
the person's row id and the expiry. The 12-byte random nonce names the token (`token_id`): a
tube records it, so the same printed QR cannot be scanned into two tubes. Base32 keeps the text
inside the QR alphanumeric set (a smaller, faster-to-scan symbol).
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot.crypto import DataProtector
from bot.vn.refused import InputRefused

PREFIX = "XN1:"
VALID_FOR = timedelta(days=7)
_PAYLOAD = struct.Struct(">QI")  # person id, expiry (Unix seconds)
_NONCE_BYTES = 12


class TokenProblem(StrEnum):
    """Why a scanned token is refused."""

    MALFORMED = "malformed"  # not one of our tokens at all
    FORGED = "forged"  # looks like one, but does not verify
    EXPIRED = "expired"


class TokenRefused(InputRefused[TokenProblem]):
    """A scanned token was refused; `problem` says why."""


@dataclass(frozen=True)
class PersonalToken:
    """What a verified token says."""

    person_id: int
    expires_at: datetime
    token_id: str


def issue(protector: DataProtector, person_id: int, *, now: datetime) -> str:
    """A new token for a person, valid for VALID_FOR."""
    expires = int((now + VALID_FOR).timestamp())
    blob = protector.seal_token(_PAYLOAD.pack(person_id, expires))
    return PREFIX + base64.b32encode(blob).decode("ascii").rstrip("=")


def read(protector: DataProtector, text: str, *, now: datetime) -> PersonalToken:
    """Verify a scanned token.

    Raises:
        TokenRefused: malformed, forged or expired.
    """
    typed = text.strip().upper()
    if not typed.startswith(PREFIX) or len(typed) > 200:
        raise TokenRefused(TokenProblem.MALFORMED)
    body = typed.removeprefix(PREFIX)
    try:
        blob = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        raise TokenRefused(TokenProblem.MALFORMED) from None
    try:
        payload = protector.open_token(blob)
        person_id, expires = _PAYLOAD.unpack(payload)
    except (ValueError, struct.error):
        raise TokenRefused(TokenProblem.FORGED) from None
    expires_at = datetime.fromtimestamp(expires, UTC)
    if expires_at <= now:
        raise TokenRefused(TokenProblem.EXPIRED)
    return PersonalToken(person_id, expires_at, blob[:_NONCE_BYTES].hex())
