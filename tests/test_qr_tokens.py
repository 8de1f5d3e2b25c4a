"""Personal QR tokens: opaque, verified, expiring; and reading lab result words and times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.crypto import DataProtector, generate_key
from bot.crypto import _decode_key as decode_key
from bot.domain import qr_tokens
from bot.domain.qr_tokens import TokenProblem, TokenRefused
from bot.domain.results import read_result, read_tested_at

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def protector() -> DataProtector:
    return DataProtector(decode_key(generate_key()))


def test_a_token_carries_only_an_opaque_box(protector: DataProtector) -> None:
    token = qr_tokens.issue(protector, 4242, now=NOW)
    assert token.startswith("XN1:") and set(token[4:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert "4242" not in token
    read = qr_tokens.read(protector, token, now=NOW + timedelta(days=6))
    assert read.person_id == 4242 and len(read.token_id) == 24
    assert read.expires_at == NOW + qr_tokens.VALID_FOR
    assert qr_tokens.read(protector, f"  {token.lower()} ", now=NOW).person_id == 4242
    assert qr_tokens.issue(protector, 4242, now=NOW) != token  # each token is new


def test_expired_forged_and_garbage_tokens_are_refused(protector: DataProtector) -> None:
    token = qr_tokens.issue(protector, 7, now=NOW)
    with pytest.raises(TokenRefused) as expired:
        qr_tokens.read(protector, token, now=NOW + qr_tokens.VALID_FOR)
    assert expired.value.problem == TokenProblem.EXPIRED
    other = DataProtector(decode_key(generate_key()))
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    for forged in (qr_tokens.issue(other, 7, now=NOW), tampered):
        with pytest.raises(TokenRefused) as refused:
            qr_tokens.read(protector, forged, now=NOW)
        assert refused.value.problem == TokenProblem.FORGED
    for garbage in ("", "hello", "XN1:!!!", "XN1:" + "A" * 500, "🙂"):
        with pytest.raises(TokenRefused) as refused:
            qr_tokens.read(protector, garbage, now=NOW)
        assert refused.value.problem in (TokenProblem.MALFORMED, TokenProblem.FORGED)


@pytest.mark.parametrize(
    ("typed", "result"),
    [
        ("negative", "negative"), ("Âm tính", "negative"), ("am tinh", "negative"),
        ("DƯƠNG TÍNH", "positive"), ("positive", "positive"), ("duong tinh", "positive"),
        ("Không xác định", "inconclusive"), ("inconclusive", "inconclusive"), ("maybe", None),
        ("-", None), ("+", None),  # labs write "-" for "not done yet"
    ],
)  # fmt: skip
def test_result_words(typed: str, result: str | None) -> None:
    assert read_result(typed) == result


def test_tested_at_is_vietnam_time_unless_an_offset_says_otherwise() -> None:
    assert read_tested_at("2026-12-01 10:00") == datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    assert read_tested_at("01/12/2026 10:00") == datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    assert read_tested_at("2026-12-01T10:00:00+00:00") == datetime(2026, 12, 1, 10, tzinfo=UTC)
    for bad in ("2026-12-01", "yesterday", "31/02/2026 10:00", ""):
        assert read_tested_at(bad) is None


def test_a_tube_code_has_a_digit() -> None:
    from bot.domain.samples import read_tube_code

    assert read_tube_code(" hcm-0042 ") == "HCM-0042"
    assert read_tube_code("XONG") is None and read_tube_code("HUY1") == "HUY1"
