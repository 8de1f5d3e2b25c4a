"""Protection of personal data at rest: AES-GCM encryption plus a keyed hash for lookups.

ID numbers and phone numbers are stored as `seal(value)` (never in clear) beside
`blind_index(kind, value)`, an HMAC that lets us find a record by exact value without
decrypting every row. Web chat session tokens carry an HMAC too, so only tokens we issued are
accepted. Every key is derived from the one `DATA_KEY` with HKDF.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.config import ConfigError, Settings
from storage import files

log = logging.getLogger(__name__)

_VERSION = b"\x01"  # leading byte of every sealed value, to allow key rotation later
_NONCE_BYTES = 12
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{32}")  # 24 random bytes, URL-safe base64
_SESSION_MAC_BYTES = 16


class DataProtector:
    """Seals and opens personal data with keys derived from one master key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) < 32:
            raise ConfigError("DATA_KEY must decode to at least 32 bytes")
        self._aead = AESGCM(_derive(master_key, b"bot/aes-gcm/v1"))
        self._mac_key = _derive(master_key, b"bot/blind-index/v1")
        self._token_aead = AESGCM(_derive(master_key, b"bot/qr-token/v1"))
        self._session_key = _derive(master_key, b"bot/web-session/v1")

    def seal(self, value: str) -> bytes:
        """Encrypt `value` with a fresh random nonce."""
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, value.encode("utf-8"), _VERSION)

    def open(self, sealed: bytes) -> str:
        """Decrypt what `seal` produced.

        Raises:
            ValueError: the value was tampered with or sealed under another key.
        """
        if sealed[:1] != _VERSION:
            raise ValueError("unknown sealed-data version")
        nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, _VERSION).decode("utf-8")
        except InvalidTag:
            raise ValueError("sealed data failed authentication") from None

    def seal_token(self, payload: bytes) -> bytes:
        """Encrypt and authenticate a short token payload (its own key: tokens leave the system).

        Returns:
            The 12-byte random nonce (unique per token) followed by the ciphertext and tag.
        """
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._token_aead.encrypt(nonce, payload, b"qr-token")

    def open_token(self, blob: bytes) -> bytes:
        """The payload of a token made by `seal_token`.

        Raises:
            ValueError: the token was forged, altered or made under another key.
        """
        try:
            return self._token_aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], b"qr-token")
        except InvalidTag:
            raise ValueError("token does not verify") from None

    def new_session(self) -> str:
        """A fresh web chat session token: a random id and its MAC, `<id>.<mac>`, URL-safe."""
        session_id = secrets.token_urlsafe(24)
        return f"{session_id}.{self._session_mac(session_id)}"

    def is_our_session(self, token: str) -> bool:
        """Whether `token` was made by `new_session` under this key (compared in constant time)."""
        session_id, dot, mac = token.partition(".")
        if not dot or not _SESSION_ID.fullmatch(session_id):
            return False
        return hmac.compare_digest(mac.encode(), self._session_mac(session_id).encode())

    def _session_mac(self, session_id: str) -> str:
        digest = hmac.new(self._session_key, session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:_SESSION_MAC_BYTES]).decode().rstrip("=")

    def blind_index(self, kind: str, value: str) -> str:
        """A keyed hash of a normalised value, for exact-match lookups (`kind` separates uses)."""
        message = kind.encode() + b"\x00" + value.encode("utf-8")
        return hmac.new(self._mac_key, message, hashlib.sha256).hexdigest()


def _derive(master_key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master_key)


def load_master_key(settings: Settings) -> bytes:
    """The master key from `DATA_KEY`, or (development only) from `var/data.key`, made once."""
    if settings.data_key:
        return _decode_key(settings.data_key)
    if settings.is_production:
        raise ConfigError("DATA_KEY is required when ENV=production")
    path = settings.var_dir / "data.key"
    if not path.exists():
        _write_new_key(path)
        log.warning("generated a development data key at %s (set DATA_KEY in production)", path)
    return _decode_key(path.read_text().strip())


def generate_key() -> str:
    """A new random master key, URL-safe base64, suitable for `DATA_KEY`."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(mode=files.FOLDER_MODE, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, files.FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(generate_key() + "\n")


def _decode_key(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise ConfigError("DATA_KEY must be URL-safe base64 (run_bot.py keys makes one)") from None
