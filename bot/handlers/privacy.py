"""Consent before any personal data, and the citizen's rights: see, delete, withdraw.

Flow `privacy`:
    CONSENT        -> "I agree" records consent (with the text version) and shows the menu
    CONFIRM_ERASE  -> "Delete" erases the account and everything linked to it
    CONFIRM_WITHDRAW -> "Withdraw" records the withdrawal; nothing more is processed
"""

from __future__ import annotations

from enum import StrEnum

from bot.conversation import Conversation, Handler
from bot.domain import erasure, tickets
from bot.handlers import my_data
from bot.handlers.menu import menu_buttons
from bot.i18n import CHANNEL_NAMES, LANGUAGE_NAMES, _, format_moment
from bot.messages import Button, Incoming, Outgoing
from bot.vn.intents import Intent, is_answer
from bot.vn.phone import mask_phone
from storage import accounts, people
from storage.models import Account

FLOW = "privacy"
# Bump when the consent text changes in substance: people are asked again.
CONSENT_VERSION = "2026-11"


class Step(StrEnum):
    """Where the privacy flow waits."""

    CONSENT = "consent"
    CONFIRM_ERASE = "confirm_erase"
    CONFIRM_WITHDRAW = "confirm_withdraw"


def consent_text() -> str:
    """The welcome and the consent notice, as one message."""
    return "\n\n".join(
        (
            _(
                "Hello! I am the citizen health assistant. I can help you register for "
                "vaccination, receive your PCR test results and get your vaccination certificate."
            ),
            _(
                "Before we start, please read how we handle your data:\n"
                "• We process: full name, date of birth, gender, personal ID number, phone "
                "number, address (province, ward) and health information (vaccinations, screening "
                "answers, test results). Health information is sensitive personal data.\n"
                "• Purposes: vaccination registration, reminders, returning test results, "
                "issuing certificates.\n"
                "• Shared only with the health facilities, the CDC and the Ministry of Health "
                "systems that handle your case.\n"
                "• Kept as long as the law on medical records requires. You can see your data "
                "(/xemdulieu), delete it (/xoadulieu) or withdraw your consent (/rutdongy) at any "
                "time."
            ),
            _("Do you agree?"),
        )
    )


async def ask_consent(msg: Incoming, conv: Conversation) -> None:
    """Show the welcome and consent notice; wait for "I agree" or "I do not agree"."""
    conv.goto(FLOW, Step.CONSENT)
    conv.reply(
        consent_text(),
        buttons=[[Button(_("I agree"), "consent:yes"), Button(_("I do not agree"), "consent:no")]],
    )


async def answer_consent(msg: Incoming, conv: Conversation) -> None:
    """Record the consent decision; show the menu if given, else say nothing is collected."""
    agreed = msg.payload == "consent:yes" or is_answer(msg.text, Intent.YES)
    refused = msg.payload == "consent:no" or is_answer(msg.text, Intent.NO)
    if not (agreed or refused):
        await ask_consent(msg, conv)
        return
    conv.finish()
    if refused:
        await accounts.record_consent(
            conv.session, conv.account, version=CONSENT_VERSION, granted=False, now=conv.now
        )
        conv.reply(
            _(
                "That's all right. Without your consent we collect no personal data. Whenever "
                "you want to use the service, type /start."
            )
        )
        return
    await accounts.record_consent(
        conv.session, conv.account, version=CONSENT_VERSION, granted=True, now=conv.now
    )
    conv.reply(_("Thank you! What can I do for you today?"), buttons=menu_buttons())


async def show_my_data(msg: Incoming, conv: Conversation) -> None:
    """List what is stored about this account, with the phone number masked."""
    account = conv.account
    if account.consented_at is not None:
        consent = _("given on {moment} (version {version})").format(
            moment=format_moment(account.consented_at), version=account.consent_version
        )
    else:
        consent = _("not given")
    phone = await _phone(conv)
    conv.reply(
        _(
            "The data we hold about you:\n"
            "• Channel: {channel}\n"
            "• Language: {language}\n"
            "• Consent to data processing: {consent}\n"
            "• Consent decisions recorded: {history}\n"
            "• Phone number: {phone}\n"
            "• First contact: {created}\n\n"
            "Phone and ID numbers are stored encrypted and only ever shown in part. "
            "Type /xoadulieu to delete everything."
        ).format(
            channel=_(CHANNEL_NAMES.get(account.channel, account.channel)),
            language=LANGUAGE_NAMES.get(account.locale, account.locale),
            consent=consent,
            history=await _consent_history(conv),
            phone=phone,
            created=format_moment(account.created_at),
        )
        + "\n\n"
        + _settings_lines(account)
        + await my_data.people_lines(conv)
        + await my_data.children_lines(conv)
        + await my_data.reaction_lines(conv)
        + await my_data.ticket_lines(conv)
    )


def _settings_lines(account: Account) -> str:
    """What the citizen chose to receive unasked."""
    return (
        (
            _("• Ward announcements: off (/batthongbao turns them on)")
            if account.announcements_off_at
            else _("• Ward announcements: on (/tatthongbao turns them off)")
        )
        + "\n"
        + (
            _("• Check-ins after vaccination: off (/batthoitham turns them on)")
            if account.checkins_off_at
            else _("• Check-ins after vaccination: on (/tathoitham turns them off)")
        )
    )


async def _phone(conv: Conversation) -> str:
    """The chat's phone number, masked; else the one given when registering oneself."""
    protector = conv.services.protector
    if conv.account.phone_sealed:
        return mask_phone(protector.open(conv.account.phone_sealed))
    registered = await people.people_of(conv.session, conv.owner_id)
    own = next((p for p in registered if p.is_holder and p.phone_sealed), None)
    if own is None or own.phone_sealed is None:
        return _("none")
    return _("{phone} (given when registering)").format(
        phone=mask_phone(protector.open(own.phone_sealed))
    )


async def _consent_history(conv: Conversation) -> str:
    """Each recorded consent decision, newest last (the last five)."""
    events = await accounts.consent_history(conv.session, account_id=conv.account.id)
    if not events:
        return _("none")
    return "; ".join(
        (_("agreed on {moment}") if event.granted else _("declined on {moment}")).format(
            moment=format_moment(event.at)
        )
        for event in events[-5:]
    )


async def ask_erase(msg: Incoming, conv: Conversation) -> None:
    """Ask for confirmation before deleting everything."""
    conv.goto(FLOW, Step.CONFIRM_ERASE)
    conv.reply(
        _(
            "Do you really want to delete all your data? This cannot be undone. Note: records of "
            "vaccinations and tests already passed to health facilities are kept as the law on "
            "medical records requires."
        ),
        buttons=[[Button(_("Delete my data"), "erase:yes"), Button(_("No, keep it"), "erase:no")]],
    )


async def confirm_erase(msg: Incoming, conv: Conversation) -> None:
    """Erase the account if confirmed; otherwise keep everything."""
    if msg.payload == "erase:yes" or is_answer(msg.text, Intent.YES):
        # Linked chats are one citizen: all of them go (the holder's, with its people).
        withdrawn = await erasure.erase_citizen(conv.session, conv.owner_id, now=conv.now)
        services = conv.services  # the desk is told; what it was still to get is not sent
        conv.after_commit.append(services.outbox_written)
        conv.after_commit.append(lambda: services.outbox_withdrawn(withdrawn))
        conv.ticket_id = None
        conv.erase()
        goodbye = _(
            "All your data has been deleted. Thank you for using the service. You can start "
            "again at any time with /start."
        )
        conv.send(Outgoing(conv.chat, goodbye, forget=True))  # the web page wipes its copy
    elif msg.payload == "erase:no" or is_answer(msg.text, Intent.NO):
        conv.finish()
        conv.reply(_("Nothing was deleted: your data is kept as it was."))
    else:
        await ask_erase(msg, conv)


async def ask_withdraw(msg: Incoming, conv: Conversation) -> None:
    """Explain what withdrawing consent means and ask for confirmation."""
    if not conv.consented:
        conv.reply(_("You have not given consent, so there is nothing to withdraw."))
        return
    conv.goto(FLOW, Step.CONFIRM_WITHDRAW)
    conv.reply(
        _(
            "If you withdraw your consent, we stop processing your data and the services stay "
            "closed until you agree again. What is stored stays until you delete it with "
            "/xoadulieu. Do you want to withdraw?"
        ),
        buttons=[[Button(_("Withdraw consent"), "withdraw:yes"), Button(_("No"), "withdraw:no")]],
    )


async def confirm_withdraw(msg: Incoming, conv: Conversation) -> None:
    """Record the withdrawal if confirmed."""
    if msg.payload == "withdraw:yes" or is_answer(msg.text, Intent.YES):
        await _end_ticket(conv, why="consent withdrawn")
        # One citizen: withdrawn in one of their linked chats is withdrawn in all of them.
        for account in await accounts.linked_chats(conv.session, conv.owner_id):
            if account.consent_version is not None or account.id == conv.account.id:
                await accounts.record_consent(
                    conv.session, account, version=CONSENT_VERSION, granted=False, now=conv.now
                )
        conv.finish()
        conv.reply(
            _(
                "Your withdrawal is recorded and we have stopped processing your data. You can "
                "delete it with /xoadulieu, or agree again at any time with /start."
            )
        )
    elif msg.payload == "withdraw:no" or is_answer(msg.text, Intent.NO):
        conv.finish()
        conv.reply(_("Nothing changed: your consent stays as it was."))
    else:
        await ask_withdraw(msg, conv)


async def _end_ticket(conv: Conversation, *, why: str) -> None:
    """Close an open support ticket: nothing more goes to staff (they are told why)."""
    if conv.ticket_id is not None:
        await tickets.close_for_account(conv.session, conv.account, why=why, now=conv.now)
        conv.ticket_id = None
        conv.after_commit.append(conv.services.outbox_written)


STEPS: dict[str, Handler] = {
    Step.CONSENT: answer_consent,
    Step.CONFIRM_ERASE: confirm_erase,
    Step.CONFIRM_WITHDRAW: confirm_withdraw,
}
