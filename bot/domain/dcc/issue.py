"""Building and signing DCC payloads: names, UVCIs, vaccination entries, the ``HC1:`` text."""

from __future__ import annotations

import secrets
import unicodedata
from datetime import date, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from bot.domain.dcc.codec import PREFIX, CwtClaims, b45encode, compress
from bot.domain.dcc.cose import kid_of, sign_es256

SCHEMA_VERSION = "1.3.0"
DISEASE_COVID19 = "840539006"
MAX_FIELD = 80

# Luhn mod N alphabet for the UVCI check character (eHN UVCI guidelines; N = 38). The check
# character is computed over the whole UVCI, "URN:UVCI:" prefix included, and follows a "#".
UVCI_CHECK_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:"
UVCI_PREFIX = "URN:UVCI:01:"

# ICAO 9303 part 3 transliterations that are not just "drop the diacritic".
_ICAO_SPECIAL = {
    "Đ": "D",
    "đ": "D",
    "Ð": "D",
    "ð": "D",
    "Ä": "AE",
    "ä": "AE",
    "Ö": "OE",
    "ö": "OE",
    "Ü": "UE",
    "ü": "UE",
    "ß": "SS",
    "Æ": "AE",
    "æ": "AE",
    "Ø": "OE",
    "ø": "OE",
    "Å": "AA",
    "å": "AA",
    "Œ": "OE",
    "œ": "OE",
    "Þ": "TH",
    "þ": "TH",
    "Ł": "L",
    "ł": "L",
    "Ħ": "H",
    "ħ": "H",
    "Ĳ": "IJ",
    "ĳ": "IJ",
    "ı": "I",
}
_FILLER_SOURCES = frozenset(" -\u00a0\u2010\u2011\u2012\u2013,")


def transliterate(name: str) -> str:
    """Transliterate a name the ICAO 9303 way: ``A-Z`` and ``<`` only, at most 80 characters.

    Vietnamese diacritics are dropped (tones, breve, circumflex, horn), Đ becomes D, spaces and
    hyphens become ``<``, apostrophes and other characters are left out.

    Args:
        name: The name as written, e.g. ``"Văn An"``.

    Returns:
        The machine-readable form, e.g. ``"VAN<AN"``.
    """
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", name.strip()):
        if ch in _ICAO_SPECIAL:
            out.append(_ICAO_SPECIAL[ch])
        elif ch in _FILLER_SOURCES:
            if out and out[-1] != "<":
                out.append("<")
        else:
            base = "".join(
                c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c)
            ).upper()
            out.append("".join(c for c in base if "A" <= c <= "Z"))
    return "".join(out).strip("<")[:MAX_FIELD]


def luhn_mod_n(text: str, alphabet: str = UVCI_CHECK_ALPHABET) -> str:
    """Return the Luhn mod N check character of a text over an alphabet.

    Raises:
        ValueError: When the text holds a character outside the alphabet.
    """
    n = len(alphabet)
    factor, total = 2, 0
    for ch in reversed(text):
        index = alphabet.find(ch)
        if index < 0:
            raise ValueError(f"character {ch!r} is not in the check alphabet")
        addend = index * factor
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return alphabet[(n - total % n) % n]


def uvci(opaque: str | None = None, *, country: str = "VN") -> str:
    """Build a UVCI ``URN:UVCI:01:<country>:<opaque>#<check>``.

    Args:
        opaque: The unique part (``A-Z``, ``0-9``, ``/``); 26 random characters when None.
        country: ISO 3166-1 alpha-2 country code.

    Returns:
        The UVCI with its Luhn mod N check character.
    """
    if opaque is None:
        opaque = "".join(secrets.choice(UVCI_CHECK_ALPHABET[:36]) for _ in range(26))
    body = f"{UVCI_PREFIX}{country}:{opaque.upper()}"
    return f"{body}#{luhn_mod_n(body)}"


def uvci_is_valid(value: str) -> bool:
    """Check a UVCI's check character (a UVCI without ``#`` has none and passes)."""
    body, sep, check = value.rpartition("#")
    if not sep:
        return True
    try:
        return len(check) == 1 and luhn_mod_n(body) == check
    except ValueError:
        return False


def holder_names(family_name: str, given_name: str) -> dict[str, str]:
    """The ``nam`` object: names as written (NFC, cut at 80 characters) and transliterated.

    Raises:
        ValueError: When neither name has a letter that transliterates.
    """
    fn = unicodedata.normalize("NFC", family_name.strip())[:MAX_FIELD].strip()
    gn = unicodedata.normalize("NFC", given_name.strip())[:MAX_FIELD].strip()
    fnt, gnt = transliterate(fn), transliterate(gn)
    if not fnt and not gnt:
        raise ValueError("the name has no transliterable letters")
    named = (("fn", fn), ("fnt", fnt), ("gn", gn), ("gnt", gnt))
    return {key: value for key, value in named if value}


def vaccination_payload(
    *,
    family_name: str,
    given_name: str,
    dob: date | str,
    vaccine_type: str,
    product: str,
    manufacturer: str,
    dose_number: int,
    total_doses: int,
    vaccinated_on: date,
    issuer: str,
    certificate_id: str,
    country: str = "VN",
) -> dict[str, Any]:
    """Build a DCC vaccination payload (schema 1.3.0, one ``v`` entry).

    Args:
        family_name: Family name as written (e.g. ``"Nguyễn"``); normalised to NFC.
        given_name: Given name(s) as written (e.g. ``"Thị Đào"``).
        dob: Date of birth, or a partial ISO date ("YYYY", "YYYY-MM") or "".
        vaccine_type: ``vp`` code (vaccine-prophylaxis value set).
        product: ``mp`` code (vaccine-medicinal-product value set).
        manufacturer: ``ma`` code (vaccine-mah-manf value set).
        dose_number: ``dn``, at least 1.
        total_doses: ``sd``, at least 1.
        vaccinated_on: ``dt``.
        issuer: ``is`` (at most 80 characters).
        certificate_id: ``ci``, a UVCI (see `uvci`).
        country: ``co``, where the dose was given.

    Returns:
        The payload as JSON data.

    Raises:
        ValueError: On an empty name pair, a dose number below 1 or an over-long ``is``/``ci``.
    """
    nam = holder_names(family_name, given_name)
    if dose_number < 1 or total_doses < 1:
        raise ValueError("dose numbers start at 1")
    for label, value in (("is", issuer), ("ci", certificate_id)):
        if len(value) > MAX_FIELD:
            raise ValueError(f"{label} is longer than {MAX_FIELD} characters")
    return {
        "ver": SCHEMA_VERSION,
        "nam": nam,
        "dob": dob.isoformat() if isinstance(dob, date) else dob,
        "v": [
            {
                "tg": DISEASE_COVID19,
                "vp": vaccine_type,
                "mp": product,
                "ma": manufacturer,
                "dn": dose_number,
                "sd": total_doses,
                "dt": vaccinated_on.isoformat(),
                "co": country,
                "is": issuer,
                "ci": certificate_id,
            }
        ],
    }


def sign_hc1(
    payload: dict[str, Any],
    key: ec.EllipticCurvePrivateKey,
    cert: x509.Certificate,
    iss: str,
    iat: datetime,
    exp: datetime,
) -> str:
    """Sign a DCC payload and return its QR text.

    CWT claims → COSE_Sign1 (ES256, kid of ``cert`` in the protected header) → zlib
    (level 9) → base45 → ``HC1:``.

    Args:
        payload: The DCC payload (JSON data).
        key: The document signer's P-256 private key.
        cert: The document signer's certificate.
        iss: Issuing country claim (e.g. ``"VN"``).
        iat: Issue time (timezone-aware).
        exp: Expiry time (timezone-aware).

    Returns:
        The ``HC1:...`` text.

    Raises:
        ValueError: When ``iat``..``exp`` does not lie within the certificate's validity (the
            HCERT spec forbids a DCC that outlives its signer certificate).
    """
    if iat < cert.not_valid_before_utc or exp > cert.not_valid_after_utc or exp <= iat:
        raise ValueError(
            f"iat {iat} .. exp {exp} must lie within the signer certificate's validity "
            f"({cert.not_valid_before_utc} .. {cert.not_valid_after_utc})"
        )
    claims = CwtClaims(hcert=payload, iss=iss, iat=int(iat.timestamp()), exp=int(exp.timestamp()))
    cose = sign_es256(claims.encode(), key, kid_of(cert))
    return PREFIX + b45encode(compress(cose))
