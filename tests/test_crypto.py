"""Personal data at rest: sealed with AES-GCM, looked up by a keyed blind index."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings
from bot.crypto import DataProtector, generate_key, load_master_key

KEY = b"k" * 32
OTHER_KEY = b"o" * 32


@pytest.mark.parametrize(
    "value",
    ["+84912345678", "079123456734", "Nguyễn Thị Ánh Tuyết, phường Bến Nghé", "", "😷" * 50],
    ids=["phone", "id-number", "vietnamese-name", "empty", "emoji"],
)
def test_seal_and_open_round_trip(value: str) -> None:
    protector = DataProtector(KEY)
    assert protector.open(protector.seal(value)) == value


def test_each_seal_differs_and_hides_the_value() -> None:
    protector = DataProtector(KEY)
    value = "Nguyễn Văn An 0912345678"
    first, second = protector.seal(value), protector.seal(value)
    assert first != second
    for sealed in (first, second):
        assert value.encode() not in sealed
        assert b"0912345678" not in sealed
        assert "Nguyễn".encode() not in sealed


@pytest.mark.parametrize("position", [0, 5, 20, -1], ids=["version", "nonce", "body", "tag"])
def test_tampered_value_is_refused(position: int) -> None:
    protector = DataProtector(KEY)
    sealed = bytearray(protector.seal("+84912345678"))
    sealed[position] ^= 0x01
    with pytest.raises(ValueError):
        protector.open(bytes(sealed))


def test_value_sealed_under_another_key_is_refused() -> None:
    sealed = DataProtector(OTHER_KEY).seal("+84912345678")
    with pytest.raises(ValueError, match="authentication"):
        DataProtector(KEY).open(sealed)


def test_blind_index_is_stable_per_key_and_separated_by_kind() -> None:
    protector = DataProtector(KEY)
    index = protector.blind_index("phone", "+84912345678")
    assert index == DataProtector(KEY).blind_index("phone", "+84912345678")
    assert len(index) == 64 and int(index, 16) >= 0
    assert "912345678" not in index
    assert index != DataProtector(OTHER_KEY).blind_index("phone", "+84912345678")
    assert index != protector.blind_index("id_number", "+84912345678")
    assert index != protector.blind_index("phone", "+84912345679")


def test_short_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="DATA_KEY"):
        DataProtector(b"x" * 31)


def test_data_key_setting_is_decoded() -> None:
    key = generate_key()
    master = load_master_key(Settings(data_key=key))
    assert master == base64.urlsafe_b64decode(key) and len(master) == 32
    assert load_master_key(Settings(data_key=key.rstrip("="))) == master


def test_short_data_key_setting_is_refused(tmp_path: Path) -> None:
    short = base64.urlsafe_b64encode(b"x" * 16).decode()
    with pytest.raises(ConfigError, match="DATA_KEY"):
        DataProtector(load_master_key(Settings(data_key=short, var_dir=tmp_path)))


def test_development_key_is_generated_once_and_reused(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var")
    path = tmp_path / "var" / "data.key"
    first = load_master_key(settings)
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = path.read_text()
    second = load_master_key(settings)
    assert second == first and len(first) == 32
    assert path.read_text() == written
    sealed = DataProtector(first).seal("+84912345678")
    assert DataProtector(second).open(sealed) == "+84912345678"


def test_production_without_data_key_is_refused(tmp_path: Path) -> None:
    settings = Settings(env="production", var_dir=tmp_path)
    with pytest.raises(ConfigError, match="DATA_KEY is required when ENV=production"):
        load_master_key(settings)
    assert not (tmp_path / "data.key").exists()


def test_generated_keys_are_random() -> None:
    assert generate_key() != generate_key()


def test_web_sessions_are_ours_only() -> None:
    protector = DataProtector(KEY)
    token = protector.new_session()
    assert protector.is_our_session(token) and token != protector.new_session()
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert not DataProtector(OTHER_KEY).is_our_session(token)
    session_id, _, mac = token.partition(".")
    for changed in range(len(token)):
        if token[changed] != ".":
            flipped = "A" if token[changed] != "A" else "B"
            assert not protector.is_our_session(token[:changed] + flipped + token[changed + 1 :])
    for forged in ("", ".", session_id, f"{session_id}.", f".{mac}", f"{token}.x", f"{token}x"):
        assert not protector.is_our_session(forged)
    assert not protector.is_our_session(f"{session_id}.{mac}é")
