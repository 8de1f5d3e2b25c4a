"""Signed vaccination and test certificates (EU DCC "HC1:"): issue, deliver, renew, revoke, check.

Issuing signs the payload in the caller's transaction (a fraction of a millisecond) and stores
the certificate as `new`. Rendering its QR picture takes tens of milliseconds of pure Python, so
the `Renderer` does it off the request path, once per certificate, and queues the photo to the
person in the same transaction that stores the picture. Sending it again later reuses the stored
picture and, where the platform gave one, its file id (no render, no upload).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import notices
from bot.domain.dcc import DccInvalid, Problem, Verified, sign_hc1, uvci, vaccination_payload
from bot.domain.dcc.issue import DISEASE_COVID19, SCHEMA_VERSION, holder_names
from bot.domain.dcc.trust import SCHEMA_PATH, VALUE_SETS_DIR, Authority
from bot.domain.dcc.verify import verify
from bot.domain.qr_image import certificate_png
from bot.domain.vaccines import BY_DCC_PRODUCT, PRODUCTS, series_total
from bot.i18n import _, format_day, format_moment, local_day, use_locale
from bot.messages import Button, ChatRef, Outgoing
from bot.workers.idle import IdleWatch
from storage import certificates, media, outbox, staff, vaccinations
from storage.certificates import NEW
from storage.db import Database
from storage.models import Account, Certificate, Person, Sample, Site, Vaccination

log = logging.getLogger(__name__)

VACCINATION_VALIDITY = timedelta(days=365)
TEST_VALIDITY = timedelta(hours=72)  # counted from sampling, as travel rules count it
NAAT, NOT_DETECTED = "LP6464-4", "260415000"
RENDER_BATCH = 20
RENEW_BATCH = 100
RENEW_EVERY = timedelta(hours=1)
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


# ---------------------------------------------------------------- what the person sees


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


# ---------------------------------------------------------------- the background worker


class Renderer:
    """Renders the pictures of new certificates and sends them; renews expired ones hourly."""

    def __init__(
        self,
        db: Database,
        authority: Authority,
        *,
        clock: Callable[[], datetime],
        on_queued: Callable[[], None] = lambda: None,
        fit: Callable[[Outgoing], list[Outgoing]] = lambda message: [message],
    ) -> None:
        self._db = db
        self._authority = authority
        self._clock = clock
        self._on_queued = on_queued
        self._fit = fit
        self._wake = asyncio.Event()
        self._idle = IdleWatch(self._wake.set)
        self._next_renewal: datetime | None = None

    def wake(self) -> None:
        """New certificates were committed: render them now rather than at the next poll."""
        self._wake.set()

    async def idle(self) -> None:
        """Wait until nothing is left to render or renew now (needs `run()` going)."""
        await self._idle.wait()

    async def run(self, *, poll_s: float = 2.0) -> None:
        """Render and renew until cancelled."""
        while True:
            number, busy = self._idle.begin(), False
            try:
                busy = bool(await self.renew_due())
            except Exception:  # the database may be away: the next sweep is an hour away
                log.exception("renewing expired certificates failed")
                busy = True
            try:
                while await self.render_pending():
                    busy = True
            except Exception:  # the database may be away for a while: try again shortly
                log.exception("certificate rendering failed; retrying")
                busy = True
            if not busy:
                self._idle.quiet(number)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll_s)
            self._wake.clear()

    async def renew_due(self) -> int:
        """Renew expired certificates, at most once per `RENEW_EVERY`."""
        now = self._clock()
        if self._next_renewal is not None and now < self._next_renewal:
            return 0
        self._next_renewal = now + RENEW_EVERY
        total = 0
        while True:
            async with self._db.session_scope() as session:
                seen, renewed = await renew_expired(session, self._authority, now=now)
            total += renewed
            if seen < RENEW_BATCH:
                break
        if total:
            log.info("renewed %s expired certificates", total)
        return total

    async def render_pending(self) -> int:
        """Render up to `RENDER_BATCH` new certificates and queue them; how many were done."""
        async with self._db.read_scope() as session:
            todo = await certificates.pending(session, limit=RENDER_BATCH)
        done = 0
        for certificate_id, hc1 in todo:
            png = await asyncio.to_thread(certificate_png, hc1)
            async with self._db.session_scope() as session:
                if not await certificates.mark_rendered(session, certificate_id, png):
                    continue
                certificate = await session.get(Certificate, certificate_id)
                assert certificate is not None
                person = await session.get(Person, certificate.person_id)
                account = (
                    await session.get(Account, person.account_id)
                    if person is not None and person.account_id
                    else None
                )
                await queue_photo(session, certificate, account, now=self._clock(), fit=self._fit)
            done += 1
        if done:
            self._on_queued()
        return done


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
