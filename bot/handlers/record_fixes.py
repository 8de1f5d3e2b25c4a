"""A wrong dose record, reported by the citizen (issue 16.7): "thông tin mũi tiêm của tôi bị sai".

Flow `fix`:
    DOSE  -> which recorded dose (a button per dose of the account's people);
    WHAT  -> what is wrong, in the citizen's words;
    PHOTO -> a photo of the paper vaccination card, or "No photo".
The request goes to the site that recorded the dose (bot.domain.dose_corrections); its staff
decide it, and the citizen is told the decision in this chat.
"""

from __future__ import annotations

from enum import StrEnum

from bot import payloads
from bot.conversation import Conversation, Handler
from bot.domain.dose_corrections import (
    MAX_PROBLEM,
    CorrectionProblem,
    CorrectionRefused,
    dose_label,
    request_correction,
)
from bot.domain.photos import PhotoStatus
from bot.i18n import _
from bot.messages import Button, Incoming, Kind, payload_id
from bot.vn.intents import Intent, is_answer
from storage import people, vaccinations
from storage.models import Site, Vaccination

FLOW = "fix"
DOSE_BUTTON = payloads.FIX_STEP  # fx:<dose id>, read by the DOSE step
NO_PHOTO = payloads.FIX_STEP + "nophoto"
MAX_DOSES = 8  # buttons offered; a family rarely has more doses to pick from


class Step(StrEnum):
    """Where the correction flow waits."""

    DOSE = "dose"
    WHAT = "what"
    PHOTO = "photo"


async def _doses_of_account(conv: Conversation) -> list[tuple[str, Vaccination]]:
    found = await people.people_of(conv.session, conv.owner_id)
    doses = await vaccinations.histories(conv.session, [p.id for p in found])
    return [(p.full_name, d) for p in found for d in doses[p.id]]


async def start(msg: Incoming, conv: Conversation) -> None:
    """Open a correction request: choose the dose whose record is wrong."""
    doses = (await _doses_of_account(conv))[-MAX_DOSES:]
    if not doses:
        conv.finish()
        conv.reply(
            _(
                "No dose is recorded on this account, so there is no record to correct. If a "
                "dose you had is missing, the site has not recorded it yet: please ask the site, "
                "or write “hỗ trợ”."
            )
        )
        return
    conv.goto(FLOW, Step.DOSE)
    conv.reply(
        _("Which dose record is wrong?"),
        buttons=[
            [Button(f"{name[:24]} · {dose_label(dose)}", f"{DOSE_BUTTON}{dose.id}")]
            for name, dose in doses
        ],
    )


async def receive_dose(msg: Incoming, conv: Conversation) -> None:
    """The dose chosen: ask what is wrong in its record."""
    chosen = payload_id((msg.payload or "").removeprefix(DOSE_BUTTON))
    mine = {dose.id: dose for _name, dose in await _doses_of_account(conv)}
    if chosen is None or chosen not in mine:
        conv.reply(_("Please choose the dose with the buttons above, or /huy to stop."))
        return
    conv.goto(FLOW, Step.WHAT, dose=chosen)
    conv.reply(
        _(
            "What is wrong in this record? For example: “the date should be 02/09/2026” or "
            "“it was Pfizer, not Moderna”."
        )
    )


async def receive_what(msg: Incoming, conv: Conversation) -> None:
    """What is wrong: then ask for a photo of the paper card."""
    said = " ".join(msg.text.split()) if msg.kind == Kind.TEXT else ""
    if len(said) < 3 or len(said) > MAX_PROBLEM:
        conv.reply(
            _("Please say in a few words (at most {count} characters) what is wrong.").format(
                count=MAX_PROBLEM
            )
        )
        return
    conv.goto(FLOW, Step.PHOTO, problem=said)
    conv.reply(
        _(
            "If you have the paper vaccination card, please send a photo of it: it helps the "
            "site check. Otherwise press “No photo”."
        ),
        buttons=[[Button(_("No photo"), NO_PHOTO)]],
    )


async def receive_photo(msg: Incoming, conv: Conversation) -> None:
    """The card's photo (or none): the request is opened and routed to the site."""
    no_photo = msg.payload == NO_PHOTO or (
        msg.kind == Kind.TEXT and is_answer(msg.text, Intent.NO)
    )
    if not no_photo and (msg.kind != Kind.PHOTO or msg.photo_bytes is None):
        if msg.kind == Kind.PHOTO and msg.photo_status != PhotoStatus.READ:
            conv.reply(_("Sorry, the photo could not be received. Please send it again."))
        else:
            conv.reply(_("Please send a photo of the paper card, or press “No photo”."))
        return
    await _open_request(conv, None if no_photo else msg.photo_bytes)


async def _open_request(conv: Conversation, photo: bytes | None) -> None:
    dose = await conv.session.get(Vaccination, int(conv.data["dose"]))
    if dose is None:  # erased meanwhile
        conv.finish()
        conv.reply(_("This dose record no longer exists."))
        return
    try:
        request = await request_correction(
            conv.session,
            dose=dose,
            account_id=conv.owner_id,
            problem=str(conv.data["problem"]),
            photo=photo,
            protector=conv.services.protector,
            now=conv.now,
        )
    except CorrectionRefused as refused:
        conv.finish()
        if refused.problem is CorrectionProblem.ALREADY_OPEN:
            conv.reply(_("A correction request about this dose is already open; please wait."))
        else:
            conv.reply(_("Please say what is wrong in this record."))
        return
    site = await conv.session.get(Site, dose.site_id) if dose.site_id else None
    conv.finish()
    conv.reply(
        _(
            "Request #{id} was sent to {site}, which recorded this dose. Its staff check it "
            "against their records; you will be told in this chat when it is decided."
        ).format(id=request.id, site=site.name if site else _("the vaccination site"))
    )


STEPS: dict[str, Handler] = {
    Step.DOSE: receive_dose,
    Step.WHAT: receive_what,
    Step.PHOTO: receive_photo,
}
