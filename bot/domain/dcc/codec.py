"""Transport encoding of a DCC: ``HC1:`` prefix, base45 (RFC 9285), zlib and CBOR/CWT."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import cbor2

from bot.domain.dcc.errors import DccInvalid, Problem

PREFIX = "HC1:"
B45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_INDEX = {c: i for i, c in enumerate(B45_ALPHABET)}

TAG_COSE_SIGN1 = 18
TAG_CWT = 61

CLAIM_ISS = 1
CLAIM_EXP = 4
CLAIM_IAT = 6
CLAIM_HCERT = -260
HCERT_EU_DCC_V1 = 1
MAX_TIME = 253402300799  # 9999-12-31T23:59:59Z, the last moment a datetime holds


def b45encode(data: bytes) -> str:
    """Encode bytes as base45 (RFC 9285).

    Args:
        data: The bytes to encode.

    Returns:
        The base45 text (QR alphanumeric characters only).
    """
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out += [B45_ALPHABET[c], B45_ALPHABET[d], B45_ALPHABET[e]]
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += [B45_ALPHABET[c], B45_ALPHABET[d]]
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode base45 text (RFC 9285), strictly.

    Args:
        text: The base45 text.

    Returns:
        The decoded bytes.

    Raises:
        DccInvalid: ``Problem.BASE45`` on a character outside the alphabet, a dangling
            single character or a group whose value does not fit.
    """
    try:
        values = [_B45_INDEX[c] for c in text]
    except KeyError as exc:
        raise DccInvalid(Problem.BASE45, f"invalid character {exc.args[0]!r}") from None
    if len(values) % 3 == 1:
        raise DccInvalid(Problem.BASE45, "invalid length")
    out = bytearray()
    for i in range(0, len(values), 3):
        group = values[i : i + 3]
        if len(group) == 3:
            n = group[0] + group[1] * 45 + group[2] * 45 * 45
            if n > 0xFFFF:
                raise DccInvalid(Problem.BASE45, "group value out of range")
            out += n.to_bytes(2, "big")
        else:
            n = group[0] + group[1] * 45
            if n > 0xFF:
                raise DccInvalid(Problem.BASE45, "group value out of range")
            out.append(n)
    return bytes(out)


def unprefix(text: str) -> str:
    """Strip the ``HC1:`` context identifier.

    Args:
        text: The QR text.

    Returns:
        The base45 part.

    Raises:
        DccInvalid: ``Problem.PREFIX`` when the text does not start with ``HC1:``.
    """
    text = text.strip()
    if not text.startswith(PREFIX):
        raise DccInvalid(Problem.PREFIX, "text does not start with HC1:")
    return text[len(PREFIX) :]


def compress(data: bytes) -> bytes:
    """Compress with zlib at level 9 (RFC 1950, header included)."""
    return zlib.compress(data, 9)


# A QR code holds under 3 kB; a real certificate inflates to well under 10 kB. Anything that
# inflates beyond this is a zip bomb, refused before it fills the memory.
MAX_INFLATED = 64 * 1024


def decompress(data: bytes) -> bytes:
    """Inflate zlib data; uncompressed input is rejected.

    Raises:
        DccInvalid: ``Problem.ZLIB`` when the data is not a complete zlib stream or inflates
            to more than `MAX_INFLATED` bytes.
    """
    try:
        inflater = zlib.decompressobj()
        out = inflater.decompress(data, MAX_INFLATED)
    except zlib.error as exc:
        raise DccInvalid(Problem.ZLIB, str(exc)) from None
    if inflater.unconsumed_tail:
        raise DccInvalid(Problem.ZLIB, f"inflates to more than {MAX_INFLATED} bytes")
    if not inflater.eof:
        raise DccInvalid(Problem.ZLIB, "truncated zlib stream")
    return out


def cbor_loads(data: bytes) -> Any:
    """Decode one CBOR item.

    Raises:
        DccInvalid: ``Problem.CBOR`` on malformed CBOR or trailing bytes.
    """
    try:
        return cbor2.loads(data)
    except Exception as exc:  # cbor2 raises several types (CBORDecodeError, ValueError...)
        raise DccInvalid(Problem.CBOR, str(exc)) from None


def cbor_dumps(obj: Any) -> bytes:
    """Encode one item as canonical CBOR."""
    return cbor2.dumps(obj, canonical=True)


def untag(obj: Any) -> Any:
    """Remove the CWT (61) and COSE_Sign1 (18) tags around a COSE message, if any."""
    while isinstance(obj, cbor2.CBORTag) and obj.tag in (TAG_CWT, TAG_COSE_SIGN1):
        obj = obj.value
    return obj


def to_json_data(obj: Any) -> Any:
    """Turn decoded CBOR into plain JSON data.

    Tuples become lists and CBOR date/date-time values become ISO 8601 strings (the Swedish
    test data sends ``sc`` as a tagged date-time).
    """
    if isinstance(obj, Mapping):
        return {k: to_json_data(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json_data(v) for v in obj]
    if isinstance(obj, datetime):
        text = obj.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(obj, date):
        return obj.isoformat()
    return obj


@dataclass(frozen=True)
class CwtClaims:
    """The CWT claims of a DCC.

    Attributes:
        hcert: The DCC payload (``ver``, ``nam``, ``dob``, ``v``/``t``/``r``) as JSON data.
        iss: Issuing country (ISO 3166-1 alpha-2), if present.
        iat: Issued-at time, seconds since the epoch, if present.
        exp: Expiry time, seconds since the epoch, if present.
    """

    hcert: dict[str, Any]
    iss: str | None = None
    iat: int | None = None
    exp: int | None = None

    def encode(self) -> bytes:
        """Encode the claims as a CBOR map with integer keys."""
        claims: dict[int, Any] = {}
        if self.iss is not None:
            claims[CLAIM_ISS] = self.iss
        if self.exp is not None:
            claims[CLAIM_EXP] = self.exp
        if self.iat is not None:
            claims[CLAIM_IAT] = self.iat
        claims[CLAIM_HCERT] = {HCERT_EU_DCC_V1: self.hcert}
        return cbor_dumps(claims)

    @classmethod
    def decode(cls, data: bytes) -> CwtClaims:
        """Decode CWT claims from a COSE payload.

        Raises:
            DccInvalid: ``Problem.CBOR`` when the payload is not a claims map holding
                ``-260 → {1: DCC}`` or its times are not integers.
        """
        claims = cbor_loads(data)
        if not isinstance(claims, Mapping):
            raise DccInvalid(Problem.CBOR, "CWT claims are not a map")
        hcert = claims.get(CLAIM_HCERT)
        if not isinstance(hcert, Mapping) or not isinstance(hcert.get(HCERT_EU_DCC_V1), Mapping):
            raise DccInvalid(Problem.CBOR, "no hcert claim (-260 → 1)")
        iss, iat, exp = claims.get(CLAIM_ISS), claims.get(CLAIM_IAT), claims.get(CLAIM_EXP)
        for name, value in (("iat", iat), ("exp", exp)):
            if value is not None and (
                not isinstance(value, int | float) or isinstance(value, bool)
            ):
                raise DccInvalid(Problem.CBOR, f"{name} is not a number")
            if value is not None and not 0 <= value <= MAX_TIME:  # NaN too
                raise DccInvalid(Problem.CBOR, f"{name} is not a time between 1970 and 9999")
        if iss is not None and not isinstance(iss, str):
            raise DccInvalid(Problem.CBOR, "iss is not a string")
        return cls(
            hcert=to_json_data(hcert[HCERT_EU_DCC_V1]),
            iss=iss,
            iat=None if iat is None else int(iat),
            exp=None if exp is None else int(exp),
        )
