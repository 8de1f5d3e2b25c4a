"""Verification of a DCC ("HC1:" text): every check in order, each also usable on its own."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtensionOID
from jsonschema import Draft202012Validator

from bot.domain.dcc.codec import CwtClaims, b45decode, decompress, unprefix
from bot.domain.dcc.cose import Sign1, find_signer, parse_sign1
from bot.domain.dcc.errors import DccInvalid, Problem

ENTRY_TYPES = ("v", "t", "r")
# Both spellings occur: the spec's, and the one with an extra ".0" used by most test certificates.
_EKU_PREFIXES = ("1.3.6.1.4.1.1847.2021.1.", "1.3.6.1.4.1.0.1847.2021.1.")
_EKU_SUFFIX_TO_TYPE = {"1": "t", "2": "v", "3": "r"}

# (entry type, field) → value-set file; `ma` means a maker for vaccines and a RAT device for tests.
_VALUE_SET_FILES: dict[tuple[str, str], str] = {
    ("v", "tg"): "disease-agent-targeted.json",
    ("v", "vp"): "vaccine-prophylaxis.json",
    ("v", "mp"): "vaccine-medicinal-product.json",
    ("v", "ma"): "vaccine-mah-manf.json",
    ("t", "tg"): "disease-agent-targeted.json",
    ("t", "tt"): "test-type.json",
    ("t", "tr"): "test-result.json",
    ("t", "ma"): "test-manf-example.json",
    ("r", "tg"): "disease-agent-targeted.json",
    ("v", "co"): "country-2-codes.json",
    ("t", "co"): "country-2-codes.json",
    ("r", "co"): "country-2-codes.json",
}


@dataclass(frozen=True)
class Verified:
    """A certificate that passed every check.

    Attributes:
        hcert: The DCC payload as JSON data.
        entry_type: ``"v"``, ``"t"`` or ``"r"``.
        iss: Issuing country claim, if any.
        iat: Issued-at time (UTC), if any.
        exp: Expiry time (UTC), if any.
        kid: The key identifier.
        signer: The trusted certificate whose key verified the signature.
    """

    hcert: dict[str, Any]
    entry_type: str
    iss: str | None
    iat: datetime | None
    exp: datetime | None
    kid: bytes
    signer: x509.Certificate


def _utc(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def entry_type(hcert: dict[str, Any]) -> str:
    """Return which of ``v``/``t``/``r`` the DCC holds.

    Raises:
        DccInvalid: ``Problem.SCHEMA`` unless exactly one is present, with exactly one entry.
    """
    present = [key for key in ENTRY_TYPES if key in hcert]
    if len(present) != 1:
        raise DccInvalid(Problem.SCHEMA, f"expected exactly one of v/t/r, found {present}")
    entries = hcert[present[0]]
    if not isinstance(entries, list) or len(entries) != 1:
        raise DccInvalid(Problem.SCHEMA, f"{present[0]} must hold exactly one entry")
    return present[0]


def check_times(claims: CwtClaims, now: datetime) -> None:
    """Check ``iat <= now <= exp``.

    Raises:
        DccInvalid: ``Problem.NOT_YET_VALID`` or ``Problem.EXPIRED``.
    """
    stamp = now.timestamp()
    if claims.iat is not None and stamp < claims.iat:
        raise DccInvalid(Problem.NOT_YET_VALID, f"issued at {_utc(claims.iat)}, now {now}")
    if claims.exp is not None and stamp > claims.exp:
        raise DccInvalid(Problem.EXPIRED, f"expired at {_utc(claims.exp)}, now {now}")


def dcc_usages(cert: x509.Certificate) -> set[str] | None:
    """Return the entry types a signer certificate may sign, or None when unrestricted.

    A certificate without DCC extended-key-usage OIDs (or with an empty, unparsable EKU
    extension, as in test case CO15) may sign any type.
    """
    try:
        eku = cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:
        return None
    if not isinstance(eku, x509.ExtendedKeyUsage):
        return None
    types: set[str] = set()
    for oid in eku:
        for prefix in _EKU_PREFIXES:
            suffix = oid.dotted_string.removeprefix(prefix)
            if suffix != oid.dotted_string and suffix in _EKU_SUFFIX_TO_TYPE:
                types.add(_EKU_SUFFIX_TO_TYPE[suffix])
    return types or None


def check_key_usage(cert: x509.Certificate, hcert: dict[str, Any]) -> None:
    """Check that the signer may sign this entry type.

    Raises:
        DccInvalid: ``Problem.KEY_USAGE`` when the certificate's DCC OIDs exclude it.
    """
    allowed = dcc_usages(cert)
    kind = entry_type(hcert)
    if allowed is not None and kind not in allowed:
        raise DccInvalid(Problem.KEY_USAGE, f"signer may sign {sorted(allowed)}, not {kind!r}")


@cache
def _validator(schema_path: Path) -> Draft202012Validator:
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def check_schema(hcert: dict[str, Any], schema_path: Path) -> None:
    """Validate the DCC against the JSON schema (draft 2020-12), with one v/t/r entry.

    Raises:
        DccInvalid: ``Problem.SCHEMA`` with the first error found.
    """
    error = next(iter(_validator(schema_path).iter_errors(hcert)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        raise DccInvalid(Problem.SCHEMA, f"{where}: {error.message}")
    entry_type(hcert)


@cache
def _value_set(path: Path) -> frozenset[str]:
    return frozenset(json.loads(path.read_text(encoding="utf-8"))["valueSetValues"])


def check_value_sets(hcert: dict[str, Any], value_sets_dir: Path) -> None:
    """Check the coded fields against the value sets (the schema does not list codes).

    Raises:
        DccInvalid: ``Problem.VALUE_SET`` naming the first code not in its value set.
    """
    kind = entry_type(hcert)
    entry = hcert[kind][0]
    for (entry_kind, key), filename in _VALUE_SET_FILES.items():
        if entry_kind != kind or key not in entry:
            continue
        if entry[key] not in _value_set(value_sets_dir / filename):
            raise DccInvalid(Problem.VALUE_SET, f"{kind}.{key} {entry[key]!r} not in {filename}")


def decode_text(text: str) -> Sign1:
    """Run the transport steps: prefix, base45, zlib, COSE structure.

    Raises:
        DccInvalid: With the reason of the first step that fails.
    """
    return parse_sign1(decompress(b45decode(unprefix(text))))


def verify(
    text: str,
    *,
    trusted: list[x509.Certificate],
    now: datetime,
    value_sets_dir: Path | None = None,
    schema_path: Path | None = None,
) -> Verified:
    """Verify a DCC from its QR text.

    Args:
        text: The ``HC1:`` text.
        trusted: Trusted document-signer certificates; every one whose kid matches is tried.
        now: The clock to check ``iat``/``exp`` against (timezone-aware).
        value_sets_dir: Folder of value-set JSON files; value sets are not checked when None.
        schema_path: The DCC JSON schema; the schema is not checked when None.

    Returns:
        The verified certificate.

    Raises:
        DccInvalid: With the reason of the first check that fails.
    """
    msg = decode_text(text)
    signer = find_signer(msg, trusted)
    claims = CwtClaims.decode(msg.payload)
    check_times(claims, now)
    kind = entry_type(claims.hcert)
    check_key_usage(signer, claims.hcert)
    if schema_path is not None:
        check_schema(claims.hcert, schema_path)
    if value_sets_dir is not None:
        check_value_sets(claims.hcert, value_sets_dir)
    assert msg.kid is not None  # find_signer rejects a message without one
    return Verified(
        hcert=claims.hcert,
        entry_type=kind,
        iss=claims.iss,
        iat=_utc(claims.iat),
        exp=_utc(claims.exp),
        kid=msg.kid,
        signer=signer,
    )
