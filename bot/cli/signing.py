"""`keys init`, `verify` and `certificate revoke`: the certificate signer and its certificates."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.arguments import CLI_ACTOR, is_file
from bot.config import DEFAULT_DCC_ISSUER, Settings
from bot.domain import certificate_issuing
from bot.domain.certificate_wording import describe_verified
from bot.domain.dcc import DccInvalid
from bot.domain.dcc.cose import kid_of
from bot.domain.dcc.keys import load_signer
from bot.domain.dcc.qr_reader import (
    MAX_PIXELS,
    ImageTooLarge,
    NotAnImage,
    certificate_text,
    read_qr_texts,
)
from bot.domain.dcc.trust import init_keys
from bot.i18n import local_day

if TYPE_CHECKING:
    from bot.app import Service


def init_signer(settings: Settings, *, now: datetime) -> int:
    """`keys init`: create the certificate signer and say where it is; the exit code."""
    try:
        files = init_keys(settings, now=now)
    except FileExistsError as error:
        print(
            f"error: a certificate signing key already exists at {error.args[0]}; it is never "
            "overwritten (the certificates it signed would stop verifying)",
            file=sys.stderr,
        )
        return 2
    signer = load_signer(files.key, files.cert)
    print(f"signing key: {files.key} (owner-only, 0600: keep it secret and backed up)")
    print(f"signer certificate: {files.cert}")
    print(f"local CA certificate: {files.csca_cert} (what verifiers elsewhere must trust)")
    print(f"kid: {kid_of(signer.cert).hex()}")
    print(f"issuer: {settings.dcc_issuer} ({settings.dcc_country})")
    if settings.dcc_issuer == DEFAULT_DCC_ISSUER:
        print(
            "This is the default TEST issuer: certificates signed with this key are test "
            "certificates. For real ones, set DCC_ISSUER (and DCC_COUNTRY), move these files "
            "away and run keys init again."
        )
    return 0


async def verify(argument: str, service: Service) -> int:
    """`verify`: check a certificate (its text, or a picture of its QR); the exit code."""
    text = await _certificate_text(argument) if is_file(argument) else argument
    if text is None:
        return 2
    try:
        async with service.db.read_scope() as session:
            verified = await certificate_issuing.check(
                session, service.authority, text, now=service.clock()
            )
    except DccInvalid as invalid:
        detail = f": {invalid.detail}" if invalid.detail else ""
        print(f"invalid: {invalid.reason.value}{detail}", file=sys.stderr)
        return 1
    print(json.dumps(describe_verified(verified), ensure_ascii=False, indent=2))
    return 0


async def _certificate_text(file: str) -> str | None:
    """The certificate's text in a picture of its QR code; None (said why) if there is none."""
    try:
        data = await asyncio.to_thread(Path(file).read_bytes)
        text = certificate_text(await asyncio.to_thread(read_qr_texts, data))
    except OSError as error:
        print(f"error: cannot read {file}: {error.strerror or error}", file=sys.stderr)
        return None
    except ImageTooLarge:
        print(f"error: {file} has more than {MAX_PIXELS:,} pixels", file=sys.stderr)
        return None
    except NotAnImage:
        print(f"error: {file} is not a PNG, JPEG or WebP picture", file=sys.stderr)
        return None
    if text is None:
        print(f"error: no QR code found in {file}", file=sys.stderr)
    return text


async def revoke_certificate(uvci: str, reason: str, service: Service) -> int:
    """`certificate revoke`: revoke a certificate by its UVCI; the exit code."""
    now = service.clock()
    async with service.db.session_scope() as session:
        certificate = await certificate_issuing.revoke(
            session, uvci, reason=reason, actor=CLI_ACTOR, now=now
        )
    if certificate is None:
        print(f"no certificate has the UVCI {uvci.strip()}")
        return 1
    revoked_at = certificate.revoked_at or now
    if revoked_at != now:  # revoked before: the first revocation stands
        print(
            f"already revoked on {_day(revoked_at)}: {certificate.uvci} "
            f"({certificate.revoked_reason})"
        )
        return 1
    kind = "vaccination" if certificate.kind == "v" else "test"
    print(f"revoked: {certificate.uvci} ({kind} certificate issued {_day(certificate.issued_at)})")
    return 0


def _day(moment: datetime) -> str:
    """The day of a moment in Vietnam, as YYYY-MM-DD."""
    return local_day(moment).isoformat()
