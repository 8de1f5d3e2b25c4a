"""Our signer and trust list: test keys on a developer's first start, none in production, and
other issuers' signer certificates from the trust-list folder."""

from __future__ import annotations

import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from bot.config import DEFAULT_DCC_ISSUER, ConfigError, Settings
from bot.domain.dcc import DccInvalid, Problem, sign_hc1, uvci, vaccination_payload
from bot.domain.dcc.keys import OID_VACCINATION, create_dsc
from bot.domain.dcc.trust import SCHEMA_PATH, VALUE_SETS_DIR, load_authority
from bot.domain.dcc.verify import dcc_usages, verify

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(var_dir=tmp_path / "var", data_key="x" * 44, **overrides)


def test_first_start_in_development_creates_test_keys_once(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = load_authority(settings, now=NOW)
    assert stat.S_IMODE(settings.dcc_key_path.stat().st_mode) == 0o600
    assert (settings.keys_dir / "csca.pem").is_file()
    assert first.issuer == DEFAULT_DCC_ISSUER and first.country == "VN"
    assert dcc_usages(first.signer.cert) == {"v", "t", "r"}
    again = load_authority(settings, now=NOW)  # the same key, not a new one
    assert again.signer.cert.public_bytes(Encoding.DER) == first.signer.cert.public_bytes(
        Encoding.DER
    )


def test_production_never_makes_keys(tmp_path: Path) -> None:
    settings = _settings(tmp_path, env="production")
    with pytest.raises(ConfigError, match="keys init"):
        load_authority(settings, now=NOW)
    assert not settings.dcc_key_path.exists()


def test_a_key_that_does_not_match_its_certificate_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    load_authority(settings, now=NOW)
    other = create_dsc(now=NOW)
    settings.dcc_cert_path.write_bytes(other.cert.public_bytes(Encoding.PEM))
    with pytest.raises(ConfigError, match="does not match"):
        load_authority(settings, now=NOW)


def test_signers_in_the_trust_list_are_accepted(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    stranger = create_dsc(
        common_name="Another issuer",
        country="SG",
        usages=(OID_VACCINATION,),
        now=NOW - timedelta(days=1),
    )
    ci = uvci(country="SG")
    payload = vaccination_payload(
        family_name="Tan",
        given_name="Mei Ling",
        dob=date(1990, 1, 2),
        vaccine_type="1119349007",
        product="EU/1/20/1528",
        manufacturer="ORG-100030215",
        dose_number=1,
        total_doses=2,
        vaccinated_on=date(2026, 11, 1),
        issuer="Another issuer",
        certificate_id=ci,
        country="SG",
    )
    text = sign_hc1(payload, stranger.key, stranger.cert, "SG", NOW, NOW + timedelta(days=30))

    def check() -> None:
        verify(
            text,
            trusted=list(load_authority(settings, now=NOW).trusted),
            now=NOW,
            value_sets_dir=VALUE_SETS_DIR,
            schema_path=SCHEMA_PATH,
        )

    with pytest.raises(DccInvalid) as unknown:
        check()
    assert unknown.value.reason == Problem.KID_UNKNOWN
    settings.dcc_trust_path.mkdir(parents=True)
    (settings.dcc_trust_path / "sg.der").write_bytes(stranger.cert.public_bytes(Encoding.DER))
    (settings.dcc_trust_path / "README.txt").write_text("not a certificate, not read")
    check()
    (settings.dcc_trust_path / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nxx\n")
    with pytest.raises(ConfigError, match=r"broken\.pem"):
        load_authority(settings, now=NOW)


@pytest.mark.parametrize(
    ("name", "value"),
    [("DCC_ISSUER", "x" * 81), ("DCC_COUNTRY", "vn"), ("DCC_COUNTRY", "VNM")],
)
def test_issuer_settings_are_checked(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})
