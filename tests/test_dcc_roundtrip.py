"""Our own DCCs: keys → Vietnamese vaccination payload → HC1 → verifier, and what must fail."""

from __future__ import annotations

import re
import stat
import unicodedata
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from bot.config import DEFAULT_DCC_ISSUER
from bot.domain.dcc.codec import (
    PREFIX,
    CwtClaims,
    b45decode,
    b45encode,
    cbor_dumps,
    compress,
    decompress,
    unprefix,
)
from bot.domain.dcc.cose import ALG_ES256, HEADER_ALG, HEADER_KID, Sign1, kid_of, parse_sign1
from bot.domain.dcc.errors import DccInvalid, Problem
from bot.domain.dcc.issue import (
    luhn_mod_n,
    sign_hc1,
    transliterate,
    uvci,
    uvci_is_valid,
    vaccination_payload,
)
from bot.domain.dcc.keys import (
    DEFAULT_COUNTRY,
    OID_TEST,
    Signer,
    create_csca,
    create_dsc,
    load_signer,
    write_signer,
)
from bot.domain.dcc.verify import dcc_usages, verify

DATA = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "dcc"
if not DATA.is_dir():
    DATA = Path("/work/shared/testdata/dcc")
SCHEMA = DATA / "eu-dcc-schema" / "DCC.combined-schema.json"
VALUE_SETS = DATA / "eu-dcc-valuesets"

ISSUED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
EXPIRES = ISSUED + timedelta(days=365)
NOW = ISSUED + timedelta(days=10)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return create_dsc(now=ISSUED - timedelta(days=1))


def comirnaty(family: str, given: str, *, dose: int = 2) -> dict[str, Any]:
    return vaccination_payload(
        family_name=family,
        given_name=given,
        dob=date(1990, 7, 14),
        vaccine_type="1119349007",
        product="EU/1/20/1528",
        manufacturer="ORG-100030215",
        dose_number=dose,
        total_doses=2,
        vaccinated_on=date(2026, 2, 27),
        issuer=DEFAULT_DCC_ISSUER,
        certificate_id=uvci(),
    )


def check(text: str, signer: Signer, now: datetime = NOW) -> Any:
    return verify(
        text, trusted=[signer.cert], now=now, value_sets_dir=VALUE_SETS, schema_path=SCHEMA
    )


def reencode(text: str, **changes: Any) -> str:
    """Rebuild an HC1 text with some COSE_Sign1 parts replaced."""
    msg = parse_sign1(decompress(b45decode(unprefix(text))))
    parts = {
        "protected": msg.protected,
        "unprotected": msg.unprotected,
        "payload": msg.payload,
        "signature": msg.signature,
    } | changes
    cose = cbor2.dumps(cbor2.CBORTag(18, list(parts.values())))
    return PREFIX + b45encode(compress(cose))


def reason_of(text: str, signer: Signer, now: datetime = NOW) -> Problem:
    with pytest.raises(DccInvalid) as info:
        check(text, signer, now)
    return info.value.reason


# --- round trip -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "given", "fnt", "gnt"),
    [("Nguyễn", "Thị Đào", "NGUYEN", "THI<DAO"), ("Trần", "Văn An", "TRAN", "VAN<AN")],
)
def test_vietnamese_vaccination_round_trip(
    signer: Signer, family: str, given: str, fnt: str, gnt: str
) -> None:
    payload = comirnaty(family, given)
    text = sign_hc1(payload, signer.key, signer.cert, "VN", ISSUED, EXPIRES)
    assert text.startswith("HC1:")
    assert re.fullmatch(r"HC1:[0-9A-Z $%*+\-./:]+", text)

    result = check(text, signer)

    assert result.hcert == payload
    assert result.hcert["nam"] == {"fn": family, "fnt": fnt, "gn": given, "gnt": gnt}
    assert result.entry_type == "v"
    assert result.iss == "VN"
    assert result.iat == ISSUED.replace(microsecond=0)
    assert result.exp == EXPIRES.replace(microsecond=0)
    assert result.kid == kid_of(signer.cert)
    assert result.signer == signer.cert


def test_kid_is_in_the_protected_header_with_es256(signer: Signer) -> None:
    text = sign_hc1(comirnaty("Lê", "Hoa"), signer.key, signer.cert, "VN", ISSUED, EXPIRES)
    msg = parse_sign1(decompress(b45decode(unprefix(text))))
    assert msg.protected_map == {HEADER_ALG: ALG_ES256, HEADER_KID: kid_of(signer.cert)}
    assert len(msg.signature) == 64
    assert msg.unprotected == {}


def test_kid_only_in_unprotected_header_is_accepted(signer: Signer) -> None:
    """The kid may sit in the unprotected header (common test cases CO19/CO20)."""
    text = sign_hc1(comirnaty("Lê", "Hoa"), signer.key, signer.cert, "VN", ISSUED, EXPIRES)
    msg = parse_sign1(decompress(b45decode(unprefix(text))))
    protected = cbor_dumps({HEADER_ALG: ALG_ES256})
    to_sign = Sign1(protected, {}, msg.payload, b"").to_be_signed()
    r, s = decode_dss_signature(signer.key.sign(to_sign, ec.ECDSA(hashes.SHA256())))
    moved = reencode(
        text,
        protected=protected,
        unprotected={HEADER_KID: kid_of(signer.cert)},
        signature=r.to_bytes(32, "big") + s.to_bytes(32, "big"),
    )
    assert check(moved, signer).hcert == CwtClaims.decode(msg.payload).hcert


def test_nfd_input_is_stored_as_nfc() -> None:
    payload = comirnaty(unicodedata.normalize("NFD", "Nguyễn"), "Thị Đào")
    assert payload["nam"]["fn"] == "Nguyễn"
    assert unicodedata.is_normalized("NFC", payload["nam"]["fn"])
    assert payload["ver"] == "1.3.0"
    entry = payload["v"][0]
    assert (entry["tg"], entry["dn"], entry["sd"], entry["co"]) == ("840539006", 2, 2, "VN")


# --- transliteration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "icao"),
    [
        ("Nguyễn", "NGUYEN"),
        ("Văn An", "VAN<AN"),
        ("Thị Đào", "THI<DAO"),
        ("Đặng", "DANG"),
        ("đỗ đức", "DO<DUC"),
        ("Ưng Ơn", "UNG<ON"),
        ("Bảo Duy", "BAO<DUY"),
        ("Huỳnh  Thúy   Vy", "HUYNH<THUY<VY"),
        ("Musterfrau-Gößinger", "MUSTERFRAU<GOESSINGER"),
        ("Lövström", "LOEVSTROEM"),
        ("Rogaliński-Król", "ROGALINSKI<KROL"),
        ("O'Brien", "OBRIEN"),
        ("", ""),
    ],
)
def test_transliterate(written: str, icao: str) -> None:
    assert transliterate(written) == icao
    assert transliterate(unicodedata.normalize("NFD", written)) == icao


def test_every_vietnamese_letter_transliterates_to_a_to_z() -> None:
    letters = (
        "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ"
    )
    for ch in letters + letters.upper():
        out = transliterate(ch)
        assert re.fullmatch(r"[A-Z]{1,2}", out), (ch, out)
    assert transliterate("ĐƯỜNG") == "DUONG"


def test_transliteration_is_capped_at_80() -> None:
    out = transliterate("Tôn Nữ " * 30)
    assert len(out) == 80
    assert re.fullmatch(r"[A-Z<]*", out)


# --- UVCI -------------------------------------------------------------------------------------


def test_uvci_check_character_matches_published_examples() -> None:
    # Austrian test certificates carry correct check characters (Luhn mod 38 over the whole UVCI).
    for ci in (
        "URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B",
        "URN:UVCI:01:AT:B5921A35D6A0D696421B3E2462178297#I",
    ):
        assert uvci_is_valid(ci)
    assert not uvci_is_valid("URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD814#B")
    assert not uvci_is_valid("URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#C")


def test_uvci_format() -> None:
    value = uvci("HCM/2026/000123")
    body, check_char = value.split("#")
    assert body == "URN:UVCI:01:VN:HCM/2026/000123"
    assert check_char == luhn_mod_n(body)
    generated = {uvci() for _ in range(50)}
    assert len(generated) == 50
    for ci in generated:
        assert re.fullmatch(r"URN:UVCI:01:VN:[A-Z0-9]{26}#[A-Z0-9/:]", ci)
        assert uvci_is_valid(ci)
        assert len(ci) <= 80


def test_luhn_rejects_characters_outside_the_alphabet() -> None:
    with pytest.raises(ValueError):
        luhn_mod_n("URN:UVCI:01:VN:abc")


# --- what must fail, and why ------------------------------------------------------------------


def test_forged_signature(signer: Signer) -> None:
    text = sign_hc1(comirnaty("Nguyễn", "Thị Đào"), signer.key, signer.cert, "VN", ISSUED, EXPIRES)
    msg = parse_sign1(decompress(b45decode(unprefix(text))))
    flipped = bytes([msg.signature[0] ^ 1]) + msg.signature[1:]
    assert reason_of(reencode(text, signature=flipped), signer) is Problem.SIGNATURE


def test_altered_payload(signer: Signer) -> None:
    text = sign_hc1(comirnaty("Nguyễn", "Thị Đào"), signer.key, signer.cert, "VN", ISSUED, EXPIRES)
    msg = parse_sign1(decompress(b45decode(unprefix(text))))
    tampered = msg.payload.replace("Đào".encode(), "Đan".encode())
    assert tampered != msg.payload
    assert reason_of(reencode(text, payload=tampered), signer) is Problem.SIGNATURE


def test_signed_by_another_key_with_our_kid(signer: Signer) -> None:
    impostor = create_dsc(now=ISSUED)
    text = sign_hc1(comirnaty("Trần", "Văn An"), impostor.key, signer.cert, "VN", ISSUED, EXPIRES)
    assert reason_of(text, signer) is Problem.SIGNATURE


def test_wrong_kid(signer: Signer) -> None:
    other = create_dsc(now=ISSUED)
    text = sign_hc1(comirnaty("Trần", "Văn An"), other.key, other.cert, "VN", ISSUED, EXPIRES)
    assert reason_of(text, signer) is Problem.KID_UNKNOWN
    # Trusting both works: every certificate with the kid is tried.
    assert verify(text, trusted=[signer.cert, other.cert], now=NOW).hcert["nam"]["gnt"] == "VAN<AN"


def test_truncated_text(signer: Signer) -> None:
    text = sign_hc1(comirnaty("Trần", "Văn An"), signer.key, signer.cert, "VN", ISSUED, EXPIRES)
    body = text[len(PREFIX) :]
    whole_groups = body[: (len(body) // 3 - 10) * 3]  # decodes fine, the zlib stream is cut
    assert reason_of(PREFIX + whole_groups, signer) is Problem.ZLIB
    assert reason_of(text[:-1], signer) in {Problem.BASE45, Problem.ZLIB}
    assert reason_of(text[:-2], signer) in {Problem.BASE45, Problem.ZLIB}
    assert reason_of("HC1:", signer) is Problem.ZLIB
    assert reason_of(text[4:], signer) is Problem.PREFIX
    assert reason_of("HC2:" + text[4:], signer) is Problem.PREFIX
    assert reason_of(text.replace("HC1:", "HC1:a", 1), signer) is Problem.BASE45


def test_expired_and_not_yet_valid(signer: Signer) -> None:
    text = sign_hc1(comirnaty("Trần", "Văn An"), signer.key, signer.cert, "VN", ISSUED, EXPIRES)
    assert check(text, signer, now=EXPIRES - timedelta(seconds=1)).entry_type == "v"
    assert reason_of(text, signer, now=EXPIRES + timedelta(seconds=1)) is Problem.EXPIRED
    assert reason_of(text, signer, now=ISSUED - timedelta(seconds=1)) is Problem.NOT_YET_VALID


def test_key_usage_limits_the_entry_type() -> None:
    tests_only = create_dsc(usages=(OID_TEST,), now=ISSUED)
    assert dcc_usages(tests_only.cert) == {"t"}
    text = sign_hc1(
        comirnaty("Trần", "Văn An"), tests_only.key, tests_only.cert, "VN", ISSUED, EXPIRES
    )
    assert reason_of(text, tests_only) is Problem.KEY_USAGE
    unrestricted = create_dsc(usages=(), now=ISSUED)
    assert dcc_usages(unrestricted.cert) is None


def test_schema_and_value_sets_are_checked(signer: Signer) -> None:
    bad_code = comirnaty("Trần", "Văn An")
    bad_code["v"][0]["mp"] = "NOT-A-PRODUCT"
    text = sign_hc1(bad_code, signer.key, signer.cert, "VN", ISSUED, EXPIRES)
    assert reason_of(text, signer) is Problem.VALUE_SET
    bad_shape = comirnaty("Trần", "Văn An")
    bad_shape["dob"] = "14/07/1990"
    text = sign_hc1(bad_shape, signer.key, signer.cert, "VN", ISSUED, EXPIRES)
    assert reason_of(text, signer) is Problem.SCHEMA


def test_garbage_cose(signer: Signer) -> None:
    assert reason_of(PREFIX + b45encode(compress(b"\xff\x00")), signer) is Problem.CBOR
    not_cose = cbor2.dumps({"hello": "world"})
    assert reason_of(PREFIX + b45encode(compress(not_cose)), signer) is Problem.COSE


# --- base45 (RFC 9285 examples) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        (b"AB", "BB8"),
        (b"Hello!!", "%69 VD92EX0"),
        (b"base-45", "UJCLQE7W581"),
        (b"ietf!", "QED8WEX0"),
    ],
)
def test_base45_rfc_examples(raw: bytes, encoded: str) -> None:
    assert b45encode(raw) == encoded
    assert b45decode(encoded) == raw


@pytest.mark.parametrize("bad", ["GGW", "ZZZ", "A", "abc", "QED8WEX"])
def test_base45_rejects(bad: str) -> None:
    with pytest.raises(DccInvalid) as info:
        b45decode(bad)
    assert info.value.reason is Problem.BASE45


def test_base45_all_byte_values() -> None:
    data = bytes(range(256)) + b"\xff"
    assert b45decode(b45encode(data)) == data


# --- keys -------------------------------------------------------------------------------------


def test_key_file_is_owner_only_and_loads_back(tmp_path: Path) -> None:
    key_path, cert_path = tmp_path / "keys" / "dsc.key", tmp_path / "keys" / "dsc.pem"
    signer = create_dsc(now=ISSUED)
    write_signer(signer, key_path, cert_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    loaded = load_signer(key_path, cert_path)
    assert loaded.cert == signer.cert
    assert kid_of(loaded.cert) == kid_of(signer.cert)
    text = sign_hc1(comirnaty("Phạm", "Minh"), loaded.key, loaded.cert, "VN", ISSUED, EXPIRES)
    assert check(text, signer).hcert["nam"]["fnt"] == "PHAM"


def test_existing_key_file_is_tightened(tmp_path: Path) -> None:
    key_path, cert_path = tmp_path / "dsc.key", tmp_path / "dsc.pem"
    key_path.write_bytes(b"old")
    key_path.chmod(0o644)
    write_signer(create_dsc(now=ISSUED), key_path, cert_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_default_issuer_is_a_plain_test_issuer(signer: Signer) -> None:
    names = {a.value for a in signer.cert.subject}
    assert DEFAULT_DCC_ISSUER in names
    assert DEFAULT_COUNTRY == "VN"
    assert "test" in DEFAULT_DCC_ISSUER.lower()
    assert "not the ministry of health" in DEFAULT_DCC_ISSUER.lower()
    assert len(DEFAULT_DCC_ISSUER) <= 80
    assert dcc_usages(signer.cert) == {"t", "v", "r"}


def test_certificate_must_not_outlive_its_signer(signer: Signer) -> None:
    payload = comirnaty("Trần", "Văn An")
    late = signer.cert.not_valid_after_utc + timedelta(days=1)
    with pytest.raises(ValueError, match="validity"):
        sign_hc1(payload, signer.key, signer.cert, "VN", ISSUED, late)
    early = signer.cert.not_valid_before_utc - timedelta(days=1)
    with pytest.raises(ValueError, match="validity"):
        sign_hc1(payload, signer.key, signer.cert, "VN", early, EXPIRES)


def test_csca_signed_dsc() -> None:
    csca = create_csca(now=ISSUED)
    dsc = create_dsc(csca=csca, now=ISSUED)
    dsc.cert.verify_directly_issued_by(csca.cert)
    assert dsc.cert.issuer == csca.cert.subject


def test_load_rejects_mismatched_key(tmp_path: Path) -> None:
    a, b = create_dsc(now=ISSUED), create_dsc(now=ISSUED)
    write_signer(a, tmp_path / "a.key", tmp_path / "a.pem")
    write_signer(b, tmp_path / "b.key", tmp_path / "b.pem")
    with pytest.raises(ValueError, match="does not match"):
        load_signer(tmp_path / "a.key", tmp_path / "b.pem")


def test_a_zip_bomb_is_refused_before_it_is_inflated() -> None:
    import zlib as _zlib

    from bot.domain.dcc.codec import MAX_INFLATED, decompress

    bomb = _zlib.compress(b"\0" * (50 * MAX_INFLATED), 9)
    assert len(bomb) < 4_000  # small enough for a QR code
    with pytest.raises(DccInvalid) as error:
        decompress(bomb)
    assert error.value.reason == Problem.ZLIB
    assert decompress(_zlib.compress(b"x" * MAX_INFLATED)) == b"x" * MAX_INFLATED
