"""COSE_Sign1 (RFC 9052) for the DCC: ES256 signing, ES256 and PS256 verification."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from bot.domain.dcc.codec import TAG_COSE_SIGN1, cbor_dumps, cbor_loads, untag
from bot.domain.dcc.errors import DccInvalid, Problem

HEADER_ALG = 1
HEADER_KID = 4
ALG_ES256 = -7
ALG_PS256 = -37
KID_LENGTH = 8
_P256_COORD = 32


def kid_of(cert: x509.Certificate) -> bytes:
    """Return the DCC key identifier: the first 8 bytes of SHA-256 over the certificate's DER."""
    return cert.fingerprint(hashes.SHA256())[:KID_LENGTH]


@dataclass(frozen=True)
class Sign1:
    """A parsed COSE_Sign1 message.

    Attributes:
        protected: The protected header as its serialized byte string.
        unprotected: The unprotected header map.
        payload: The payload bytes (the CWT claims).
        signature: The signature bytes.
        protected_map: The decoded protected header.
    """

    protected: bytes
    unprotected: dict[Any, Any]
    payload: bytes
    signature: bytes
    protected_map: dict[Any, Any] = field(default_factory=dict)

    def header(self, label: int) -> Any:
        """Return a header parameter, from the protected header if there, else the unprotected."""
        if label in self.protected_map:
            return self.protected_map[label]
        return self.unprotected.get(label)

    @property
    def alg(self) -> Any:
        """The signature algorithm (COSE label 1)."""
        return self.header(HEADER_ALG)

    @property
    def kid(self) -> bytes | None:
        """The key identifier (COSE label 4), or None."""
        kid = self.header(HEADER_KID)
        return kid if isinstance(kid, bytes) else None

    def to_be_signed(self) -> bytes:
        """The ``Sig_structure`` bytes that the signature covers."""
        return cbor_dumps(["Signature1", self.protected, b"", self.payload])


def parse_sign1(data: bytes) -> Sign1:
    """Parse a COSE_Sign1 message, tagged 18, 61+18 or untagged.

    Raises:
        DccInvalid: ``Problem.CBOR`` on malformed CBOR, ``Problem.COSE`` on a wrong structure.
    """
    obj = untag(cbor_loads(data))
    if isinstance(obj, cbor2.CBORTag):
        raise DccInvalid(Problem.COSE, f"unexpected CBOR tag {obj.tag}")
    if not isinstance(obj, list | tuple) or len(obj) != 4:
        raise DccInvalid(Problem.COSE, "not a 4-element COSE_Sign1 array")
    protected, unprotected, payload, signature = obj
    if not (
        isinstance(protected, bytes)
        and isinstance(unprotected, Mapping)
        and isinstance(payload, bytes)
        and isinstance(signature, bytes)
    ):
        raise DccInvalid(Problem.COSE, "COSE_Sign1 element of the wrong type")
    protected_map = cbor_loads(protected) if protected else {}
    if not isinstance(protected_map, Mapping):
        raise DccInvalid(Problem.COSE, "protected header is not a map")
    return Sign1(protected, dict(unprotected), payload, signature, dict(protected_map))


def sign_es256(payload: bytes, key: ec.EllipticCurvePrivateKey, kid: bytes) -> bytes:
    """Sign a payload as a tagged COSE_Sign1 message with ES256.

    Args:
        payload: The CWT claims bytes.
        key: A P-256 private key.
        kid: The key identifier, put in the protected header.

    Returns:
        The CBOR bytes of the COSE_Sign1 message (tag 18).
    """
    protected = cbor_dumps({HEADER_ALG: ALG_ES256, HEADER_KID: kid})
    unsigned = Sign1(protected, {}, payload, b"")
    der = key.sign(unsigned.to_be_signed(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(_P256_COORD, "big") + s.to_bytes(_P256_COORD, "big")
    return cbor2.dumps(cbor2.CBORTag(TAG_COSE_SIGN1, [protected, {}, payload, signature]))


def verify_signature(msg: Sign1, cert: x509.Certificate) -> None:
    """Check the message's signature with a certificate's public key.

    Raises:
        DccInvalid: ``Problem.SIGNATURE`` when it does not verify, the algorithm is not
            ES256/PS256 or it does not match the key type.
    """
    key = cert.public_key()
    data = msg.to_be_signed()
    try:
        if msg.alg == ALG_ES256 and isinstance(key, ec.EllipticCurvePublicKey):
            if len(msg.signature) != 2 * _P256_COORD:
                raise DccInvalid(Problem.SIGNATURE, "ES256 signature is not 64 bytes")
            r = int.from_bytes(msg.signature[:_P256_COORD], "big")
            s = int.from_bytes(msg.signature[_P256_COORD:], "big")
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        elif msg.alg == ALG_PS256 and isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            key.verify(msg.signature, data, pss, hashes.SHA256())
        else:
            raise DccInvalid(Problem.SIGNATURE, f"algorithm {msg.alg!r} unsupported for this key")
    except InvalidSignature:
        raise DccInvalid(Problem.SIGNATURE, "signature does not verify") from None


def find_signer(msg: Sign1, trusted: list[x509.Certificate]) -> x509.Certificate:
    """Return the trusted certificate whose kid matches and whose key verifies the signature.

    Every certificate with the message's kid is tried, since 8-byte kids can collide.

    Raises:
        DccInvalid: ``Problem.COSE`` without a kid, ``Problem.KID_UNKNOWN`` when no trusted
            certificate has it, ``Problem.SIGNATURE`` when none of those verifies.
    """
    kid = msg.kid
    if kid is None:
        raise DccInvalid(Problem.COSE, "no kid in the protected or unprotected header")
    candidates = [cert for cert in trusted if kid_of(cert) == kid]
    if not candidates:
        raise DccInvalid(Problem.KID_UNKNOWN, f"no trusted signer with kid {kid.hex()}")
    failure: DccInvalid | None = None
    for cert in candidates:
        try:
            verify_signature(msg, cert)
        except DccInvalid as exc:
            failure = exc
        else:
            return cert
    assert failure is not None
    raise failure
