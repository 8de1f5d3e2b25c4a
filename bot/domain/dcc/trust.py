"""The service's certificate authority: its signer, what it trusts, and the key files on disk.

`init_keys` makes a local CSCA and a document-signer certificate (what `run_bot.py keys init`
runs); `load_authority` reads them at start-up (making test keys on a developer's first start)
together with the trust list: our own signer plus every certificate in the trust-list folder.
A production key and certificate are dropped in at the configured paths instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509

from bot.config import ConfigError, Settings
from bot.domain.dcc.keys import Signer, create_csca, create_dsc, load_signer, write_signer

DATA_DIR = Path(__file__).resolve().parent / "data"
SCHEMA_PATH = DATA_DIR / "DCC.combined-schema.json"
VALUE_SETS_DIR = DATA_DIR / "valuesets"
CSCA_KEY = "csca.key"
CSCA_CERT = "csca.pem"


@dataclass(frozen=True)
class Authority:
    """Who signs our certificates and whose certificates we accept.

    Attributes:
        signer: Our document signer (key and certificate).
        issuer: The ``is`` field of our certificates (at most 80 characters).
        country: ``co`` and the CWT ``iss`` claim (ISO 3166-1 alpha-2).
        trusted: Signer certificates the verifier accepts: ours first, then the trust list.
    """

    signer: Signer
    issuer: str
    country: str
    trusted: tuple[x509.Certificate, ...]


@dataclass(frozen=True)
class KeyFiles:
    """What `init_keys` wrote."""

    key: Path
    cert: Path
    csca_cert: Path


def init_keys(settings: Settings, *, now: datetime) -> KeyFiles:
    """Create a local CSCA and a document signer it certifies, for every DCC entry type.

    Raises:
        FileExistsError: A signing key already exists at the configured path; it is never
            overwritten (certificates already issued would stop verifying).
    """
    key_path, cert_path = settings.dcc_key_path, settings.dcc_cert_path
    if key_path.exists() or cert_path.exists():
        raise FileExistsError(key_path if key_path.exists() else cert_path)
    csca = create_csca(
        common_name=f"{settings.dcc_issuer} CSCA"[:64], country=settings.dcc_country, now=now
    )
    signer = create_dsc(
        common_name=settings.dcc_issuer[:64], country=settings.dcc_country, csca=csca, now=now
    )
    keys_dir = key_path.parent
    write_signer(csca, keys_dir / CSCA_KEY, keys_dir / CSCA_CERT)
    write_signer(signer, key_path, cert_path)
    return KeyFiles(key_path, cert_path, keys_dir / CSCA_CERT)


def load_authority(settings: Settings, *, now: datetime) -> Authority:
    """Load the signer and the trust list; in development, create test keys on first start.

    Raises:
        ConfigError: The key files are missing in production, unreadable or do not match, or
            the signer's certificate has expired.
    """
    key_path, cert_path = settings.dcc_key_path, settings.dcc_cert_path
    if not key_path.exists() and not cert_path.exists():
        if settings.is_production:
            raise ConfigError(
                f"no certificate signing key at {key_path}: run `python run_bot.py keys init` "
                "or set DCC_KEY_FILE and DCC_CERT_FILE"
            )
        init_keys(settings, now=now)
    try:
        signer = load_signer(key_path, cert_path)
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot use the certificate signing key ({error})") from None
    if signer.cert.not_valid_after_utc <= now:
        raise ConfigError(
            f"the certificate signer's certificate {cert_path} expired on "
            f"{signer.cert.not_valid_after_utc:%Y-%m-%d}: move the old key and certificate "
            "away (the certificate into DCC_TRUST_DIR, so what it signed still verifies) and "
            "run `python run_bot.py keys init`, or drop in the new production pair"
        )
    trusted = (signer.cert, *read_trust_list(settings.dcc_trust_path))
    return Authority(signer, settings.dcc_issuer, settings.dcc_country, trusted)


def read_trust_list(folder: Path) -> list[x509.Certificate]:
    """Every signer certificate (PEM or DER; ``.pem``, ``.crt``, ``.cer``, ``.der``) in a folder.

    Raises:
        ConfigError: A file with one of those suffixes is not a certificate.
    """
    if not folder.is_dir():
        return []
    found: list[x509.Certificate] = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".pem", ".crt", ".cer", ".der"):
            continue
        data = path.read_bytes()
        try:
            if b"-----BEGIN" in data:
                found.extend(x509.load_pem_x509_certificates(data))
            else:
                found.append(x509.load_der_x509_certificate(data))
        except ValueError:
            raise ConfigError(
                f"{path} in the certificate trust list (DCC_TRUST_DIR) is not an X.509 certificate"
            ) from None
    return found
