"""Reasons a DCC is rejected, and the exception that carries them."""

from __future__ import annotations

from enum import StrEnum


class Problem(StrEnum):
    """Why a certificate failed verification, one value per pipeline step."""

    PREFIX = "prefix"
    BASE45 = "base45"
    ZLIB = "zlib"
    CBOR = "cbor"
    COSE = "cose"
    KID_UNKNOWN = "kid_unknown"
    SIGNATURE = "signature"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    KEY_USAGE = "key_usage"
    SCHEMA = "schema"
    VALUE_SET = "value_set"
    REVOKED = "revoked"


class DccInvalid(Exception):
    """A certificate failed one verification step.

    Attributes:
        reason: The step that failed.
        detail: A human-readable explanation (English, for logs).
    """

    def __init__(self, reason: Problem, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
