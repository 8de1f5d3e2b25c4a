"""`run_bot.py keys`, `verify` and `certificate revoke`: certificates on the command line."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import cbor2
import pytest
from PIL import Image
from sqlalchemy import select

from bot.app import build_service
from bot.config import Settings
from bot.crypto import DataProtector
from bot.domain import certificate_issuing as certificates
from bot.domain.dcc.codec import (
    PREFIX,
    TAG_COSE_SIGN1,
    CwtClaims,
    b45decode,
    b45encode,
    compress,
    decompress,
    unprefix,
)
from bot.domain.dcc.cose import kid_of, parse_sign1
from bot.domain.dcc.keys import load_signer
from bot.domain.dcc.trust import Authority
from bot.domain.identity import id_index
from bot.domain.qr_image import certificate_png, qr_png
from bot.i18n import TIMEZONE
from run_bot import main
from storage.db import Database
from storage.models import AuditEvent, Certificate, Person, Vaccination
from tests.clock import Clock

ID_NUMBER = "079190012345"


async def issue_certificate(
    db: Database,
    protector: DataProtector,
    authority: Authority,
    *,
    now: datetime,
    name: str = "Nguyễn Văn An",
) -> Certificate:
    """A person with a first Pfizer dose and its signed vaccination certificate, stored."""
    async with db.session_scope() as session:
        person = Person(
            full_name=name,
            birth_date=date(1990, 3, 1),
            gender="male",
            id_sealed=protector.seal(ID_NUMBER),
            id_index=id_index(protector, ID_NUMBER),
            province_code=79,
            ward_code=26743,
            divisions_version="test",
            priority_group="general",
        )
        session.add(person)
        await session.flush()
        dose = Vaccination(
            person_id=person.id,
            dose_number=1,
            product="pfizer",
            lot="FK8891",
            given_on=now.date(),
            source="import",
        )
        session.add(dose)
        await session.flush()
        return await certificates.issue_for_dose(
            session, authority, person, dose, first_product="pfizer", now=now
        )


def tampered(text: str) -> str:
    """The certificate with another given name and the original signature."""
    msg = parse_sign1(decompress(b45decode(unprefix(text))))
    claims = CwtClaims.decode(msg.payload)
    claims.hcert["nam"] |= {"gn": "Văn Bình", "gnt": "VAN<BINH"}
    parts = [msg.protected, msg.unprotected, claims.encode(), msg.signature]
    return PREFIX + b45encode(compress(cbor2.dumps(cbor2.CBORTag(TAG_COSE_SIGN1, parts))))


# One clock per test for issuing and for the command line: with a clock each, a slow migration
# could put "issued at" after the command line's "now".
_CLOCK: list[Clock] = []


@pytest.fixture(autouse=True)
def one_clock() -> Iterator[None]:
    _CLOCK[:] = [Clock()]
    yield
    _CLOCK.clear()


def _issue() -> Certificate:
    """Issue a certificate with the signer the command line will load (test keys in VAR_DIR)."""

    async def issue() -> Certificate:
        service = build_service(Settings.from_env(), clock=_CLOCK[0])
        try:
            await service.db.migrate()
            return await issue_certificate(
                service.db, service.protector, service.authority, now=service.clock()
            )
        finally:
            await service.db.dispose()

    return asyncio.run(issue())


def _audit(db_url: str) -> list[tuple[str, str, dict]]:
    async def read() -> list[tuple[str, str, dict]]:
        db = Database(db_url)
        try:
            async with db.read_scope() as session:
                trail = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
        finally:
            await db.dispose()
        return [(event.actor, event.action, event.detail) for event in trail]

    return asyncio.run(read())


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), clock=_CLOCK[0])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- keys ---------------------------------------------------------------------------------------


def test_keys_init_creates_the_signer_once(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = tmp_path / "var" / "keys"
    code, out, err = _run(capsys, "keys", "init")
    assert (code, err) == (0, "")
    key, cert = keys / "dcc-signer.key", keys / "dcc-signer.pem"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert (keys / "csca.pem").is_file()
    kid = kid_of(load_signer(key, cert).cert).hex()
    assert out.splitlines() == [
        f"signing key: {key} (owner-only, 0600: keep it secret and backed up)",
        f"signer certificate: {cert}",
        f"local CA certificate: {keys / 'csca.pem'} (what verifiers elsewhere must trust)",
        f"kid: {kid}",
        "issuer: TEST - not the Ministry of Health (VN)",
        "This is the default TEST issuer: certificates signed with this key are test "
        "certificates. For real ones, set DCC_ISSUER (and DCC_COUNTRY), move these files away "
        "and run keys init again.",
    ]

    before = key.read_bytes()
    code, out, err = _run(capsys, "keys", "init")
    assert (code, out) == (2, "")
    assert err == (
        f"error: a certificate signing key already exists at {key}; it is never overwritten "
        "(the certificates it signed would stop verifying)\n"
    )
    assert key.read_bytes() == before


def test_keys_init_with_a_real_issuer_says_nothing_of_tests(
    env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DCC_ISSUER", "Bộ Y tế")
    code, out, _err = _run(capsys, "keys", "init")
    assert code == 0
    assert "issuer: Bộ Y tế (VN)" in out.splitlines() and "TEST" not in out


@pytest.mark.parametrize("argv", [("keys",), ("keys", "data-key")], ids=["bare", "data-key"])
def test_keys_data_key_prints_a_new_key(
    argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = (_run(capsys, *argv) for _ in range(2))
    assert first[0] == second[0] == 0
    assert len(first[1].strip()) >= 43 and first[1] != second[1]


# --- verify -------------------------------------------------------------------------------------


def test_verify_a_fresh_certificate_by_text_and_by_picture(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    certificate = _issue()
    picture = tmp_path / "certificate.png"
    picture.write_bytes(certificate_png(certificate.hc1))
    signer = load_signer(
        tmp_path / "var/keys/dcc-signer.key", tmp_path / "var/keys/dcc-signer.pem"
    )
    for argument in (certificate.hc1, str(picture)):
        code, out, err = _run(capsys, "verify", argument)
        assert (code, err) == (0, "")
        assert '"fn": "Nguyễn"' in out  # printed as written, not as \u escapes
        shown = json.loads(out)
        assert shown["valid"] is True and shown["type"] == "vaccination"
        assert shown["kid"] == kid_of(signer.cert).hex()
        assert shown["hcert"]["nam"] == {
            "fn": "Nguyễn",
            "fnt": "NGUYEN",
            "gn": "Văn An",
            "gnt": "VAN<AN",
        }
        assert shown["hcert"]["v"][0]["ci"] == certificate.uvci


def test_verify_a_picture_with_several_codes_picks_the_certificate(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    certificate = _issue()
    booking = tmp_path / "booking.png"
    booking.write_bytes(qr_png("BK-7Q2M"))
    cert_png = tmp_path / "certificate.png"
    cert_png.write_bytes(certificate_png(certificate.hc1))
    codes = [Image.open(path).convert("L") for path in (booking, cert_png)]
    sheet = Image.new("L", (codes[0].width + codes[1].width + 40, codes[1].height), 255)
    sheet.paste(codes[0], (0, 0))
    sheet.paste(codes[1], (codes[0].width + 40, 0))
    both = tmp_path / "both.png"
    sheet.save(both)
    code, out, _err = _run(capsys, "verify", str(both))
    assert code == 0 and json.loads(out)["hcert"]["v"][0]["ci"] == certificate.uvci


def test_verify_a_tampered_certificate_fails(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    certificate = _issue()
    assert _run(capsys, "verify", tampered(certificate.hc1)) == (
        1,
        "",
        "invalid: signature: signature does not verify\n",
    )
    code, out, err = _run(capsys, "verify", "HC2:" + certificate.hc1[4:])
    assert (code, out, err) == (1, "", "invalid: prefix: text does not start with HC1:\n")


def test_verify_refuses_what_it_cannot_read(
    env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(certificate_png("x")[:8] + b"not really a png")
    notes = tmp_path / "notes.txt"
    notes.write_text("HC1: is what a certificate starts with", encoding="utf-8")
    white = tmp_path / "white.jpg"
    Image.new("L", (300, 200), 255).save(white)
    missing = tmp_path / "missing.png"
    assert _run(capsys, "verify", str(white)) == (2, "", f"error: no QR code found in {white}\n")
    for path in (broken, notes):
        assert _run(capsys, "verify", str(path)) == (
            2,
            "",
            f"error: {path} is not a PNG, JPEG or WebP picture\n",
        )
    assert _run(capsys, "verify", str(missing)) == (2, "", f"error: no such file: {missing}\n")


# --- certificate revoke -------------------------------------------------------------------------


def test_revoke_then_verify_says_revoked(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    certificate = _issue()
    issued = certificate.issued_at.astimezone(TIMEZONE).date().isoformat()
    code, out, err = _run(
        capsys, "certificate", "revoke", certificate.uvci, "--reason", "issued in error"
    )
    assert (code, err) == (0, "")
    assert out == f"revoked: {certificate.uvci} (vaccination certificate issued {issued})\n"
    assert "Nguy" not in out and ID_NUMBER not in out

    assert _run(capsys, "verify", certificate.hc1) == (
        1,
        "",
        "invalid: revoked: issued in error\n",
    )
    code, out, _err = _run(capsys, "certificate", "revoke", certificate.uvci, "--reason", "again")
    assert code == 1
    assert out.startswith("already revoked on ") and out.endswith(
        f": {certificate.uvci} (issued in error)\n"
    )
    assert _audit(env) == [
        (
            "cli",
            "certificate_revoked",
            {"uvci": certificate.uvci, "reason": "issued in error"},
        )
    ]


def test_revoke_an_unknown_uvci(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    uvci = "URN:UVCI:01:VN:NOSUCHCERTIFICATE#Q"
    assert _run(capsys, "certificate", "revoke", uvci, "--reason", "lost") == (
        1,
        f"no certificate has the UVCI {uvci}\n",
        "",
    )
    assert _audit(env) == []


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201], ids=["empty", "blank", "too-long"])
def test_revoke_needs_a_reason_of_200_characters_at_most(
    env: str, capsys: pytest.CaptureFixture[str], reason: str
) -> None:
    assert _run(capsys, "certificate", "revoke", "URN:UVCI:01:VN:X#A", "--reason", reason) == (
        2,
        "",
        "error: --reason must be 1 to 200 characters\n",
    )


def test_revoke_without_a_reason_is_a_usage_error(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["certificate", "revoke", "URN:UVCI:01:VN:X#A"], clock=Clock())
    assert stop.value.code == 2
    assert "--reason" in capsys.readouterr().err
