"""Signed vaccination and test certificates (EU DCC "HC1:"): issue, deliver, renew, revoke, check.

What a certificate says to a person is in `bot.domain.certificate_wording`.

Issuing signs the payload in the caller's transaction (a fraction of a millisecond) and stores
the certificate as `new`. Rendering its QR picture takes tens of milliseconds of pure Python, so
`bot.workers.renderer` does it off the request path, once per certificate, and queues the
photo to the person in the same transaction that stores the picture. Sending it again later
reuses the stored picture and, where the platform gave one, its file id (no render, no upload).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import notices
from bot.domain.certificate_wording import NOT_DETECTED, caption
from bot.domain.dcc import DccInvalid, Problem, Verified, sign_hc1, uvci, vaccination_payload
from bot.domain.dcc.issue import DISEASE_COVID19, SCHEMA_VERSION, holder_names
from bot.domain.dcc.trust import SCHEMA_PATH, VALUE_SETS_DIR, Authority
from bot.domain.dcc.verify import verify
from bot.domain.vaccines import PRODUCTS, series_total
from bot.i18n import _, use_locale
from bot.messages import Button, ChatRef, Outgoing
from storage import certificates, media, outbox, staff, vaccinations
from storage.certificates import NEW
from storage.models import Account, Certificate, Person, Sample, Site, Vaccination

log = logging.getLogger(__name__)

VACCINATION_VALIDITY = timedelta(days=365)
TEST_VALIDITY = timedelta(hours=72)  # counted from sampling, as travel rules count it
NAAT = "LP6464-4"
RENEW_BATCH = 100
MIN_SIGNER_LEFT = timedelta(days=1)  # a signer this close to its end issues nothing more
MAX_REASON = 200


def image_key(certificate_id: int) -> str:
    """Our name for a certificate's picture in the platforms' file-id cache."""
    return f"certificate:{certificate_id}"


def split_name(full_name: str) -> tuple[str, str]:
    """Family name and given names of a Vietnamese full name ("Nguyễn Văn An" → Nguyễn, Văn An).

    The family name comes first in Vietnamese; a one-word name is a family name alone.
    """
    words = full_name.split()
    return (words[0], " ".join(words[1:])) if words else ("", "")


class CannotSign(Exception):
    """Our signer's certificate is not valid now (or for less than `MIN_SIGNER_LEFT` more)."""


def can_sign(authority: Authority, now: datetime) -> bool:
    """Whether our signer's certificate lets us issue certificates now."""
    cert = authority.signer.cert
    return cert.not_valid_before_utc <= now < cert.not_valid_after_utc - MIN_SIGNER_LEFT


def _signed(
    authority: Authority, payload: dict[str, Any], *, now: datetime, exp: datetime
) -> tuple[str, datetime]:
    """The HC1 text and its expiry (never after the signer's certificate, as HCERT requires)."""
    signer = authority.signer
    if not can_sign(authority, now):
        raise CannotSign(
            f"the signer certificate is valid {signer.cert.not_valid_before_utc} .. "
            f"{signer.cert.not_valid_after_utc}; it cannot sign at {now}"
        )
    exp = min(exp, signer.cert.not_valid_after_utc)
    return sign_hc1(payload, signer.key, signer.cert, authority.country, now, exp), exp


def _new_certificate(
    session: AsyncSession,
    authority: Authority,
    *,
    person_id: int,
    kind: str,
    subject: str,
    payload: dict[str, Any],
    ci: str,
    now: datetime,
    exp: datetime,
) -> Certificate:
    hc1, exp = _signed(authority, payload, now=now, exp=exp)
    certificate = Certificate(
        person_id=person_id,
        kind=kind,
        subject=subject,
        uvci=ci,
        payload=payload,
        hc1=hc1,
        status=NEW,
        issued_at=now,
        expires_at=exp,
    )
    session.add(certificate)
    return certificate


async def issue_for_dose(
    session: AsyncSession,
    authority: Authority,
    person: Person,
    dose: Vaccination,
    *,
    first_product: str,
    now: datetime,
    replaces: Certificate | None = None,
) -> Certificate:
    """Sign a vaccination certificate for a recorded dose (the picture follows, `Renderer`).

    Raises:
        CannotSign: Our signer's certificate has expired (or is not valid yet).
    """
    product = PRODUCTS[dose.product]
    family, given = split_name(person.full_name)
    ci = uvci(country=authority.country)
    payload = vaccination_payload(
        family_name=family,
        given_name=given,
        dob=person.birth_date,
        vaccine_type=product.dcc.vp,
        product=product.dcc.mp,
        manufacturer=product.dcc.ma,
        dose_number=dose.dose_number,
        total_doses=series_total(first_product, dose.dose_number),
        vaccinated_on=dose.given_on,
        issuer=authority.issuer,
        certificate_id=ci,
        country=authority.country,
    )
    certificate = _new_certificate(
        session,
        authority,
        person_id=person.id,
        kind="v",
        subject=f"dose:{dose.id}",
        payload=payload,
        ci=ci,
        now=now,
        exp=now + VACCINATION_VALIDITY,
    )
    certificate.replaces_id = replaces.id if replaces else None
    await session.flush()
    return certificate


def test_payload(
    person: Person, sample: Sample, site: Site | None, authority: Authority, ci: str
) -> dict[str, Any]:
    """A DCC test payload (one `t` entry) for a negative NAAT (PCR) result."""
    nam = holder_names(*split_name(person.full_name))
    entry: dict[str, Any] = {
        "tg": DISEASE_COVID19,
        "tt": NAAT,
        "sc": sample.taken_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tr": NOT_DETECTED,
        "co": authority.country,
        "is": authority.issuer,
        "ci": ci,
    }
    if site is not None:
        entry["tc"] = site.name[:80]
    return {"ver": SCHEMA_VERSION, "nam": nam, "dob": person.birth_date.isoformat(), "t": [entry]}


async def issue_for_test(
    session: AsyncSession,
    authority: Authority,
    person: Person,
    sample: Sample,
    *,
    now: datetime,
) -> Certificate | None:
    """The test certificate of a negative result: the one already issued, or a new one.

    Returns:
        None when a test certificate is no longer useful (the sample is older than
        `TEST_VALIDITY`).

    Raises:
        CannotSign: Our signer's certificate has expired (or is not valid yet).
    """
    # One per person in the tube (a pooled tube holds up to ten) and result version.
    subject = f"test:{sample.id}:{person.id}:{sample.result_version}"
    existing = await certificates.current_for(session, subject)
    if existing is not None:
        return existing
    expires = sample.taken_at + TEST_VALIDITY
    if expires <= now:
        return None
    site = await session.get(Site, sample.site_id) if sample.site_id else None
    ci = uvci(country=authority.country)
    certificate = _new_certificate(
        session,
        authority,
        person_id=person.id,
        kind="t",
        subject=subject,
        payload=test_payload(person, sample, site, authority, ci),
        ci=ci,
        now=now,
        exp=expires,
    )
    await session.flush()
    return certificate


async def renew_expired(
    session: AsyncSession,
    authority: Authority,
    *,
    now: datetime,
    person_ids: Sequence[int] | None = None,
) -> tuple[int, int]:
    """Re-issue expired vaccination certificates (of these people) with new UVCIs.

    Only each person's latest dose is renewed, and only for people on an account; the people
    are sent the new ones by the `Renderer`. Nothing happens while our signer cannot sign.

    Returns:
        (expired certificates seen, renewed); at most `RENEW_BATCH` are seen per call.
    """
    if not can_sign(authority, now):
        log.error("the certificate signer cannot sign any more: expired certificates wait")
        return 0, 0
    renewed = 0
    found = await certificates.expired(session, now=now, limit=RENEW_BATCH, person_ids=person_ids)
    for old in found:
        if not await certificates.mark_replaced(session, old.id, now=now):
            continue  # another process renewed it a moment ago
        person = await session.get(Person, old.person_id)
        dose_id = int(old.subject.removeprefix("dose:"))
        dose = await session.get(Vaccination, dose_id)
        if person is None or dose is None or dose.product not in PRODUCTS:
            continue  # the dose record is gone: nothing left to certify
        first = await _first_product(session, person.id, default=dose.product)
        await issue_for_dose(
            session, authority, person, dose, first_product=first, now=now, replaces=old
        )
        renewed += 1
    await session.flush()
    return len(found), renewed


async def _first_product(session: AsyncSession, person_id: int, *, default: str) -> str:
    history = await vaccinations.history(session, person_id)
    return history[0].product if history else default


async def revoke(
    session: AsyncSession, ci: str, *, reason: str, actor: str, now: datetime
) -> Certificate | None:
    """Revoke a certificate by UVCI: the verifier reports it revoked from now on.

    Returns:
        The certificate, or None if no certificate has this UVCI. Revoking twice keeps the
        first reason.
    """
    certificate = await certificates.by_uvci(session, ci.strip())
    if certificate is None:
        return None
    if certificate.revoked_at is None:
        certificate.revoked_at = now
        certificate.revoked_reason = reason.strip()[:MAX_REASON]
        certificate.revoked_by = actor[:80]
        await staff.audit(
            session,
            actor=actor,
            action="certificate_revoked",
            subject=f"person:{certificate.person_id}",
            now=now,
            detail={"uvci": certificate.uvci, "reason": certificate.revoked_reason},
        )
    return certificate


async def check(
    session: AsyncSession, authority: Authority, text: str, *, now: datetime
) -> Verified:
    """Verify a certificate's text against our trust list, the clock and our revocations.

    Raises:
        DccInvalid: With the first check that failed (`Problem.REVOKED` for ours revoked).
    """
    verified = verify(
        text.strip(),
        trusted=list(authority.trusted),
        now=now,
        value_sets_dir=VALUE_SETS_DIR,
        schema_path=SCHEMA_PATH,
    )
    entry = verified.hcert[verified.entry_type][0]
    ours = await certificates.by_uvci(session, str(entry.get("ci", "")))
    if ours is not None and ours.revoked_at is not None:
        raise DccInvalid(Problem.REVOKED, ours.revoked_reason or "")
    return verified


async def photo_of(
    session: AsyncSession,
    certificate: Certificate,
    chat: ChatRef,
    *,
    renewed: bool = False,
    buttons: tuple[tuple[Button, ...], ...] = (),
) -> Outgoing:
    """The certificate as a photo for `chat`, by file id when this platform has it already.

    The stored picture goes along, so a platform that forgot its file id gets an upload.
    """
    key = image_key(certificate.id)
    return Outgoing(
        chat=chat,
        text=caption(certificate, renewed=renewed),
        buttons=buttons,
        image=certificate.png,
        image_file_id=await media.file_id(session, channel=chat.channel, key=key),
        image_key=key,
    )


async def queue_photo(
    session: AsyncSession,
    certificate: Certificate,
    account: Account | None,
    *,
    now: datetime,
    fit: Callable[[Outgoing], list[Outgoing]] = lambda message: [message],
) -> bool:
    """Queue the certificate's photo to the account that registered the person, if any.

    `fit` cuts it into what the account's platform takes (Zalo: the picture, then its text).
    """
    if not notices.can_tell(account):
        return False
    chat = notices.address_of(account)
    with use_locale(account.locale):
        photo = await photo_of(
            session,
            certificate,
            chat,
            renewed=certificate.replaces_id is not None,
            buttons=((Button(_("My certificates"), "menu:certificate"),),),
        )
    rows = [
        outbox.NewMessage(
            chat.channel, chat.chat_id, part.to_body(), account.id, part.image, bulk=True
        )
        for part in fit(photo)
    ]
    await outbox.enqueue(session, rows, now=now)
    return True
