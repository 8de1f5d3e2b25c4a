"""What a certificate says to a person: its caption, its dose, a verifier's verdict and summary.

Issuing and delivering are in `bot.domain.certificate_issuing`; the words are here, each in the
current language.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.domain.dcc import Problem, Verified
from bot.domain.vaccines import BY_DCC_PRODUCT
from bot.i18n import _, format_day, format_moment, local_day
from storage.models import Certificate

NOT_DETECTED = "260415000"  # SNOMED CT: a negative test result


def holder_name(hcert: dict[str, Any]) -> str:
    """The holder's name as written (or transliterated when that is all there is)."""
    nam = hcert.get("nam", {})
    written = " ".join(p for p in (nam.get("fn"), nam.get("gn")) if p)
    return written or " ".join(p for p in (nam.get("fnt"), nam.get("gnt")) if p)


def product_label(mp: str) -> str:
    """Our name of a vaccine from its ``mp`` code (the code itself if it is not ours)."""
    product = BY_DCC_PRODUCT.get(mp)
    return product.label if product else mp


def dose_text(entry: dict[str, Any]) -> str:
    """'dose 1 of 2', or 'booster (dose 3)' where the EU numbering (3/3, 2/1) would puzzle."""
    number, total = entry["dn"], entry["sd"]
    product = BY_DCC_PRODUCT.get(entry.get("mp", ""))
    primary = product.primary_doses if product else total
    if number > total or number > primary:
        return _("booster (dose {number})").format(number=number)
    return _("dose {number} of {total}").format(number=number, total=total)


def caption(certificate: Certificate, *, renewed: bool = False) -> str:
    """The photo caption, in the current language: who, what, when, valid until."""
    payload = certificate.payload
    name = holder_name(payload)
    until = format_day(local_day(certificate.expires_at))
    if certificate.kind == "v":
        entry = payload["v"][0]
        text = _(
            "COVID-19 vaccination certificate of {name}: {dose}, {product}, given {day}. "
            "Valid until {until}."
        ).format(
            name=name,
            dose=dose_text(entry),
            product=product_label(entry["mp"]),
            day=format_day(datetime.fromisoformat(entry["dt"]).date()),
            until=until,
        )
    else:
        entry = payload["t"][0]
        taken = datetime.fromisoformat(entry["sc"].replace("Z", "+00:00"))
        text = _(
            "COVID-19 test certificate of {name}: PCR test NEGATIVE, sample taken {moment}. "
            "Valid until {until_moment}."
        ).format(
            name=name,
            moment=format_moment(taken),
            until_moment=format_moment(certificate.expires_at),
        )
    if renewed:
        text = _("The earlier certificate had expired, so here is a new one.") + " " + text
    return (
        text
        + " "
        + _("Show this QR code when asked; it follows the EU digital COVID certificate standard.")
    )


def describe_verified(verified: Verified) -> dict[str, Any]:
    """What a verifier shows of a valid certificate (JSON-safe)."""
    return {
        "valid": True,
        "type": {"v": "vaccination", "t": "test", "r": "recovery"}[verified.entry_type],
        "issuer_country": verified.iss,
        "issued_at": verified.iat.isoformat() if verified.iat else None,
        "expires_at": verified.exp.isoformat() if verified.exp else None,
        "kid": verified.kid.hex(),
        "hcert": verified.hcert,
    }


def problem_text(problem: Problem) -> str:
    """Why a certificate is not valid, for the person holding it, in the current language."""
    texts = {
        Problem.PREFIX: _(
            "This is not an EU digital COVID certificate (it does not start with HC1:)."
        ),
        Problem.BASE45: _("The code is damaged or incomplete: part of it cannot be read."),
        Problem.ZLIB: _("The code is damaged or incomplete: part of it cannot be read."),
        Problem.CBOR: _("The code is damaged: its content cannot be read."),
        Problem.COSE: _("The code is damaged: its signature block cannot be read."),
        Problem.KID_UNKNOWN: _(
            "The certificate was signed by an issuer this service does not know, so it "
            "cannot be trusted here."
        ),
        Problem.SIGNATURE: _(
            "The signature does not match: the certificate was changed or forged."
        ),
        Problem.NOT_YET_VALID: _("The certificate is not valid yet."),
        Problem.EXPIRED: _("The certificate has expired."),
        Problem.KEY_USAGE: _("The issuer is not allowed to sign this kind of certificate."),
        Problem.SCHEMA: _("The certificate's content does not follow the EU DCC format."),
        Problem.VALUE_SET: _("The certificate uses a code that is not in the EU DCC lists."),
        Problem.REVOKED: _("The certificate has been revoked by its issuer."),
    }
    return texts[problem]


def summary(verified: Verified) -> str:
    """What a valid certificate says (name, birth date, what it certifies), current language."""
    hcert = verified.hcert
    name = holder_name(hcert)
    entry = hcert[verified.entry_type][0]
    if verified.entry_type == "v":
        what = _("vaccination, dose {number} of {total}, on {day}").format(
            number=entry.get("dn"), total=entry.get("sd"), day=_as_day(entry.get("dt"))
        )
    elif verified.entry_type == "t":
        negative = entry.get("tr") == NOT_DETECTED
        what = (
            _("test, NEGATIVE, sample taken {moment}")
            if negative
            else _("test, POSITIVE, sample taken {moment}")
        ).format(moment=_as_moment(entry.get("sc")))
    else:
        what = _("recovery, valid {start} to {end}").format(
            start=_as_day(entry.get("df")), end=_as_day(entry.get("du"))
        )
    return _(
        "VALID certificate. Name: {name}. Born: {dob}. {what}. Issued by {issuer} ({country}). "
        "Valid until {until}."
    ).format(
        name=name,
        dob=_as_day(hcert.get("dob")),
        what=what[0].upper() + what[1:],
        issuer=entry.get("is", "-"),
        country=entry.get("co", "-"),
        until=format_moment(verified.exp) if verified.exp else "-",
    )


def _as_day(value: object) -> str:
    """A certificate's ISO date as written in Vietnam (dd/mm/yyyy); partial dates as they are."""
    text = str(value or "")
    try:
        return datetime.strptime(text[:10], "%Y-%m-%d").strftime("%d/%m/%Y")
    except ValueError:
        return text or "-"


def _as_moment(value: object) -> str:
    """A certificate's ISO date-time in Vietnam's time, or the text as it is."""
    text = str(value or "")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text or "-"
    return format_moment(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
