"""Certificates in the chat: `/chungnhan`, re-sending one, test certificates, checking a QR photo.

`/chungnhan` lists the certificates in force of everyone on the account, with a button to
re-send each (by the platform's file id: no new picture, no new upload). An expired one is
renewed there and then (the hourly sweep in `bot.workers.renderer` would do it too). Buttons:
    cert:send:<certificate id>             re-send a certificate
    cert:test:<sample id>:<person id>      the test certificate of a negative result
A photo sent to the bot is read for QR codes (before the event's transaction, see
`bot.domain.photos`) and any certificate in it is verified.
"""

from __future__ import annotations

import logging

from bot.conversation import Conversation
from bot.domain import certificate_issuing as certificates
from bot.domain import certificate_wording as wording
from bot.domain.dcc import DccInvalid, Problem
from bot.domain.dcc.qr_reader import certificate_text
from bot.domain.photos import MAX_PHOTO_BYTES, PhotoStatus
from bot.domain.results import NEGATIVE
from bot.handlers.menu import kept_note, menu_buttons
from bot.i18n import _, format_day, local_day
from bot.messages import Button, Incoming, payload_id
from storage import certificates as stored
from storage import people, samples
from storage.models import Certificate, Person, Sample

log = logging.getLogger(__name__)

MAX_LISTED = 10  # buttons under one message; older certificates are rarely wanted again


async def show_certificates(msg: Incoming, conv: Conversation) -> None:
    """/chungnhan: each person's certificates in force, with a "send again" button for each."""
    conv.finish()
    registered = {p.id: p for p in await people.people_of(conv.session, conv.owner_id)}
    listed = await _listed(conv, list(registered))
    if any(_expired(c, conv) for c in listed):
        await certificates.renew_expired(
            conv.session, conv.services.authority, now=conv.now, person_ids=list(registered)
        )
        conv.after_commit.append(conv.services.certificates_issued)
        listed = await _listed(conv, list(registered))
    if not listed:
        conv.reply(
            _(
                "There are no certificates on this account yet. A vaccination certificate is "
                "sent here after each dose is recorded; a test certificate can be requested "
                "from a negative PCR result (/ketqua)."
            ),
            buttons=menu_buttons(),
        )
        return
    lines, buttons = [], []
    for number, certificate in enumerate(listed[:MAX_LISTED], start=1):
        person = registered[certificate.person_id]
        lines.append(f"{number}. {_describe(certificate, person, conv)}")
        if certificate.revoked_at is None:
            label = _("Send again: {number}").format(number=number)
            buttons.append(Button(label, f"cert:send:{certificate.id}"))
    conv.reply(
        _("Certificates on this account:")
        + "\n"
        + "\n".join(lines)
        + "\n\n"
        + _("Press a number to receive that certificate again."),
        buttons=[buttons[i : i + 3] for i in range(0, len(buttons), 3)],
    )


async def _listed(conv: Conversation, person_ids: list[int]) -> list[Certificate]:
    """Vaccination certificates first (newest first), then test certificates still valid.

    An expired test certificate is of no use any more, and weekly tests must not push the
    vaccination certificates off the list.
    """
    found = await stored.of_people(conv.session, person_ids)
    kept = [c for c in found if c.kind == "v" or c.expires_at > conv.now]
    return sorted(kept, key=lambda c: (c.kind != "v", -c.id))


def _expired(certificate: Certificate, conv: Conversation) -> bool:
    return (
        certificate.kind == "v"
        and certificate.revoked_at is None
        and certificate.expires_at <= conv.now
    )


def _describe(certificate: Certificate, person: Person, conv: Conversation) -> str:
    payload = certificate.payload
    if certificate.kind == "v":
        entry = payload["v"][0]
        what = _("vaccination, {dose}, {product}").format(
            dose=wording.dose_text(entry), product=wording.product_label(entry["mp"])
        )
    else:
        what = _("negative PCR test")
    until = format_day(local_day(certificate.expires_at))
    if certificate.revoked_at is not None:
        state = _("revoked")
    elif certificate.expires_at <= conv.now:
        state = _("expired on {day}").format(day=until)
    elif certificate.status == stored.NEW:
        state = _("being prepared")
    else:
        state = _("valid until {day}").format(day=until)
    return f"{person.full_name}: {what} ({state})"


async def receive_choice(msg: Incoming, conv: Conversation) -> None:
    """A `cert:` button, from any message however old: checked against the account on use."""
    action, _sep, rest = (msg.payload or "").removeprefix("cert:").partition(":")
    certificate_id = payload_id(rest)
    if action == "send" and certificate_id:
        await _send_again(conv, certificate_id)
        return
    sample, _sep, person = rest.partition(":")
    sample_id, person_id = payload_id(sample), payload_id(person)
    if action == "test" and sample_id and person_id:
        await _send_test_certificate(conv, sample_id, person_id)
        return
    await show_certificates(msg, conv)


async def _own_person(conv: Conversation, person_id: int) -> Person | None:
    person = await conv.session.get(Person, person_id)
    return person if person is not None and person.account_id == conv.owner_id else None


async def _send_again(conv: Conversation, certificate_id: int) -> None:
    certificate = await conv.session.get(Certificate, certificate_id)
    if certificate is None or await _own_person(conv, certificate.person_id) is None:
        conv.reply(_("This certificate is not on this account any more."))
        return
    if certificate.replaced_at is not None:  # renewed since that list: send the new one
        current = await stored.current_for(conv.session, certificate.subject)
        certificate = current or certificate
    await _deliver(conv, certificate)


async def _deliver(conv: Conversation, certificate: Certificate) -> None:
    if certificate.revoked_at is not None:
        conv.reply(
            _("This certificate has been revoked. Please contact the support team (/hotro).")
        )
        return
    if certificate.status == stored.NEW or certificate.png is None:
        conv.reply(_("The certificate is being prepared and will arrive here in a moment."))
        conv.after_commit.append(conv.services.certificates_issued)
        return
    conv.send(await certificates.photo_of(conv.session, certificate, conv.chat))


async def _send_test_certificate(conv: Conversation, sample_id: int, person_id: int) -> None:
    person = await _own_person(conv, person_id)
    sample = await conv.session.get(Sample, sample_id)
    members = {m.person_id for m in await samples.members(conv.session, sample_id)}
    if person is None or sample is None or person.id not in members:
        conv.reply(_("This result is not on this account any more."))
        return
    if sample.result != NEGATIVE:
        conv.reply(
            _(
                "The result of this sample has changed since that message and is no longer "
                "negative, so no test certificate can be issued. See /ketqua for the current "
                "result."
            )
        )
        return
    try:
        certificate = await certificates.issue_for_test(
            conv.session, conv.services.authority, person, sample, now=conv.now
        )
    except certificates.CannotSign:
        log.error("the certificate signer cannot sign: a test certificate was refused")
        conv.reply(_("Certificates cannot be issued at the moment. Please try again later."))
        return
    if certificate is None:
        conv.reply(
            _(
                "A test certificate is valid for 72 hours from sampling, and this sample was "
                "taken more than 72 hours ago, so it can no longer be issued."
            )
        )
        return
    await _deliver(conv, certificate)


async def check_photo(msg: Incoming, conv: Conversation) -> None:
    """A photo: verify the certificate QR in it, or say kindly why that was not possible."""
    conv.reply(await _photo_verdict(msg, conv) + kept_note(conv))


async def _photo_verdict(msg: Incoming, conv: Conversation) -> str:
    if msg.photo_status == PhotoStatus.UNAVAILABLE:
        return _("Sorry, the photo could not be downloaded. Please send it again.")
    if msg.photo_status == PhotoStatus.TOO_BIG:
        return _(
            "What you sent is too large. Please send a smaller photo (at most {size} MB)."
        ).format(size=MAX_PHOTO_BYTES // (1024 * 1024))
    if msg.photo_status in (PhotoStatus.NOT_AN_IMAGE, None):
        return _("This file could not be opened as a picture. Please send a photo of the QR code.")
    if not msg.photo_texts:
        return _(
            "No QR code was found in this photo. Please send a sharp photo of the whole QR "
            "code, in good light, or the picture of the certificate itself."
        )
    text = certificate_text(list(msg.photo_texts)) or ""
    try:
        verified = await certificates.check(
            conv.session, conv.services.authority, text, now=conv.now
        )
    except DccInvalid as error:
        verdict = _("This certificate is NOT valid.") + " " + wording.problem_text(error.reason)
        if error.reason == Problem.PREFIX:
            verdict = wording.problem_text(error.reason)
        return verdict
    return wording.summary(verified)
