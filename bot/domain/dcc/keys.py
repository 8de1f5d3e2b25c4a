"""Signing keys and X.509 document-signer certificates (DSC) for issuing DCCs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.config import DEFAULT_DCC_ISSUER
from storage import files

OID_TEST = "1.3.6.1.4.1.1847.2021.1.1"
OID_VACCINATION = "1.3.6.1.4.1.1847.2021.1.2"
OID_RECOVERY = "1.3.6.1.4.1.1847.2021.1.3"
ALL_USAGES = (OID_TEST, OID_VACCINATION, OID_RECOVERY)

DEFAULT_COUNTRY = "VN"
DSC_VALIDITY = timedelta(days=2 * 365)
CSCA_VALIDITY = timedelta(days=10 * 365)


@dataclass(frozen=True)
class Signer:
    """A private key with its certificate.

    Attributes:
        key: The P-256 private key.
        cert: Its certificate.
    """

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _name(common_name: str, country: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def create_csca(
    *,
    common_name: str = f"{DEFAULT_DCC_ISSUER} CSCA",
    country: str = DEFAULT_COUNTRY,
    now: datetime,
) -> Signer:
    """Create a self-signed country signing CA (CSCA) to sign document-signer certificates.

    Args:
        common_name: The CA's common name.
        country: ISO 3166-1 alpha-2 country code.
        now: Start of validity.

    Returns:
        The new CA key and certificate.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name, country)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CSCA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Signer(key, cert)


def create_dsc(
    *,
    common_name: str = DEFAULT_DCC_ISSUER,
    country: str = DEFAULT_COUNTRY,
    usages: tuple[str, ...] = ALL_USAGES,
    csca: Signer | None = None,
    now: datetime,
    validity: timedelta = DSC_VALIDITY,
) -> Signer:
    """Create an ES256 key and a document-signer certificate with the DCC key-usage OIDs.

    Args:
        common_name: The signer's common name; the default says plainly it is a test issuer.
        country: ISO 3166-1 alpha-2 country code.
        usages: DCC extended-key-usage OIDs (``OID_TEST``, ``OID_VACCINATION``,
            ``OID_RECOVERY``) for the entry types this key may sign.
        csca: The CA that signs the certificate; self-signed when None.
        now: Start of validity.
        validity: How long the certificate is valid.

    Returns:
        The new key and certificate.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(common_name, country)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(csca.cert.subject if csca else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + validity)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if usages:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier(oid) for oid in usages]),
            critical=False,
        )
    cert = builder.sign(csca.key if csca else key, hashes.SHA256())
    return Signer(key, cert)


def write_signer(signer: Signer, key_path: Path, cert_path: Path) -> None:
    """Write a key (PKCS#8 PEM, owner-only 0600 from creation) and its certificate (PEM).

    Args:
        signer: The key and certificate.
        key_path: Where the private key goes.
        cert_path: Where the certificate goes.
    """
    key_path.parent.mkdir(mode=files.FOLDER_MODE, parents=True, exist_ok=True)
    cert_path.parent.mkdir(mode=files.FOLDER_MODE, parents=True, exist_ok=True)
    pem = signer.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, files.FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.chmod(key_path, files.FILE_MODE)  # the file may have existed with wider permissions
    cert_path.write_bytes(signer.cert.public_bytes(serialization.Encoding.PEM))


def load_signer(key_path: Path, cert_path: Path) -> Signer:
    """Load a P-256 private key and its certificate (PEM or DER).

    Raises:
        ValueError: When the key is not a P-256 key or does not match the certificate.
    """
    key_data, cert_data = key_path.read_bytes(), cert_path.read_bytes()
    if key_data.lstrip().startswith(b"-----"):
        key = serialization.load_pem_private_key(key_data, password=None)
    else:
        key = serialization.load_der_private_key(key_data, password=None)
    if cert_data.lstrip().startswith(b"-----"):
        cert = x509.load_pem_x509_certificate(cert_data)
    else:
        cert = x509.load_der_x509_certificate(cert_data)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the DCC signing key must be an EC P-256 key (ES256)")
    if key.public_key() != cert.public_key():
        raise ValueError("the signing key does not match the certificate")
    return Signer(key, cert)
