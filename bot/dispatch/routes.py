"""The route table: which handler an update goes to, in order (the first that matches wins).

The unit of work (`bot.dispatch.unit_of_work`) runs `route` for each update, inside its
transaction, with the chat's conversation loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot import payloads
from bot.conversation import Conversation, Handler
from bot.handlers import (
    appointments,
    broadcasts,
    campaigns,
    certificates,
    checkins,
    child_doses,
    children,
    linking,
    menu,
    pcr,
    phone_number,
    privacy,
    reactions,
    record_fixes,
    recovery,
    registration,
    sampling,
    staff,
    start,
    support,
    why,
)
from bot.handlers.registration import form
from bot.i18n import _
from bot.messages import Button, Incoming, Kind
from bot.vn.intents import Intent, is_answer, match_intent

FLOWS: Mapping[str, Mapping[str, Handler]] = {
    privacy.FLOW: privacy.STEPS,
    phone_number.FLOW: phone_number.STEPS,
    registration.FLOW: registration.STEPS,
    appointments.FLOW: appointments.STEPS,
    staff.FLOW: staff.STEPS,
    pcr.FLOW: pcr.STEPS,
    sampling.FLOW: sampling.STEPS,
    campaigns.FLOW: campaigns.STEPS,
    broadcasts.FLOW: broadcasts.STEPS,
    linking.FLOW: linking.STEPS,
    recovery.FLOW: recovery.STEPS,
    reactions.FLOW: reactions.STEPS,
    record_fixes.FLOW: record_fixes.STEPS,
    child_doses.FLOW: child_doses.STEPS,
}
# What each main-menu entry (and the entries reached from other messages) opens.
MENU_FLOWS: Mapping[str, Handler] = {
    "menu:register": registration.start_registration,
    "menu:appointments": appointments.show_appointments,
    "menu:results": pcr.show_results,
    "menu:qr": pcr.show_qr,
    "menu:lookup": pcr.start_lookup,
    "menu:qr_add": pcr.add_person_for_qr,
    "menu:certificate": certificates.show_certificates,
    "menu:support": support.open_ticket,
}
# Flows whose steps take photos themselves (any other photo is read as a certificate).
TAKES_PHOTOS = frozenset({broadcasts.FLOW, record_fixes.FLOW})
# What /huy says depends on the flow it stops.
CANCELLERS: Mapping[str, Handler] = {registration.FLOW: registration.cancel}
# Each flow's "Back" button (offered after repeated wrong answers).
GO_BACK: Mapping[str, Handler] = {registration.FLOW: registration.go_back}


async def open_menu(msg: Incoming, conv: Conversation) -> None:
    """Run a main-menu entry (button, command or free text)."""
    await MENU_FLOWS[menu.menu_payload(msg)](msg, conv)


LEAVE_YES, LEAVE_NO = "reg:leave:yes", "reg:leave:no"


def _leaves_form(msg: Incoming, conv: Conversation) -> bool:
    """A menu entry (command or button) chosen while a registration is being filled in.

    Support is not leaving: a ticket opens and the form waits for its end.
    """
    entry = (
        msg.payload if msg.payload in menu.ENTRIES else menu.COMMAND_TO_MENU.get(msg.command or "")
    )
    return (
        entry is not None
        and entry != "menu:support"
        and conv.flow == registration.FLOW
        and conv.step not in (form.RegisterStep.WHO, form.RegisterStep.LEAVE)
    )


async def ask_leave(msg: Incoming, conv: Conversation) -> None:
    """Ask before dropping a registration for a menu entry: nothing is lost unasked."""
    entry = menu.menu_payload(msg)
    conv.goto(registration.FLOW, form.RegisterStep.LEAVE, leave_to=entry, leave_from=conv.step)
    conv.reply(
        _(
            "Your registration is not finished. Leave it and open “{entry}”? What you "
            "entered for it would not be kept."
        ).format(entry=_(menu.ENTRIES[entry])),
        buttons=[
            [Button(_("Go on with the registration"), LEAVE_NO)],
            [Button(_("Leave it"), LEAVE_YES)],
        ],
    )


async def answer_leave(msg: Incoming, conv: Conversation) -> None:
    """Leave the form for the menu entry, or go back to the question it waited on."""
    entry = conv.data.pop("leave_to", "menu:register")
    step = conv.data.pop("leave_from", None)
    if msg.payload == LEAVE_YES or (msg.payload is None and is_answer(msg.text, Intent.YES)):
        conv.finish()
        await MENU_FLOWS[entry](msg, conv)
        return
    conv.goto(registration.FLOW, step or form.RegisterStep.NAME)
    await registration.advance(conv)


async def cancel(msg: Incoming, conv: Conversation) -> None:
    """/huy: the flow's own way of stopping, or the generic one."""
    await CANCELLERS.get(conv.flow or "", start.cancel)(msg, conv)


COMMANDS: Mapping[str, Handler] = {
    "start": start.start,
    "menu": menu.show_menu,
    "help": start.show_help,
    "trogiup": start.show_help,
    "language": start.ask_language,
    "ngonngu": start.ask_language,
    "xemdulieu": privacy.show_my_data,
    "xoadulieu": privacy.ask_erase,
    "rutdongy": privacy.ask_withdraw,
    "sodienthoai": phone_number.ask_phone,
    "lienket": linking.start_linking,
    "huy": cancel,
    "cancel": cancel,
    "tatthongbao": broadcasts.stop_announcements,
    "batthongbao": broadcasts.resume_announcements,
    "tathoitham": checkins.stop,
    "batthoitham": checkins.resume,
    **dict.fromkeys(menu.COMMAND_TO_MENU, open_menu),
    # Staff commands answer "unknown command" to anyone without the role.
    "tiem": staff.start_dose,
    "ghinhan": staff.start_dose,
    "laymau": sampling.start_sampling,
    "chiendich": campaigns.start_campaigns,
    "thongbao": broadcasts.start_broadcast,
    child_doses.COMMAND: child_doses.start_child_dose,
}
# Flows where typed text is not about the sender's health (staff at work), or is the report.
NOT_SYMPTOMS = frozenset(
    {reactions.FLOW, staff.FLOW, sampling.FLOW, campaigns.FLOW, broadcasts.FLOW, child_doses.FLOW}
)
# Steps that ask for a name, where words such as "Xỉu" or "Sốt" are part of it.
NAME_STEPS = frozenset({(form.FLOW, form.RegisterStep.NAME), (children.FLOW, children.Step.NAME)})
# Commands that collect no personal data, so they work before consent.
# Rights and settings that concern no personal data: they work before consent and while a
# support ticket is open.
PRIVACY_COMMANDS = frozenset(
    {"xemdulieu", "xoadulieu", "rutdongy", "tatthongbao", "batthongbao"}
    | {"tathoitham", "batthoitham"}
)
BEFORE_CONSENT = frozenset({"start", "help", "trogiup", "language", "ngonngu"}) | PRIVACY_COMMANDS
INTENTS: Mapping[Intent, Handler] = {
    Intent.REGISTER: open_menu,
    Intent.RESULTS: open_menu,
    Intent.CERTIFICATE: open_menu,
    Intent.SUPPORT: open_menu,
    Intent.APPOINTMENTS: open_menu,
    Intent.QR: open_menu,
    Intent.LOOKUP: open_menu,
    Intent.MENU: menu.show_menu,
    Intent.HELP: start.show_help,
    Intent.LANGUAGE: start.ask_language,
    Intent.VIEW_DATA: privacy.show_my_data,
    Intent.DELETE_DATA: privacy.ask_erase,
    Intent.ADD_CHILD: children.start_add,
    Intent.CHILD_RECORD: children.show_children,
    Intent.WHY: why.explain,
    Intent.CORRECTION: record_fixes.start,
}


async def run_command(msg: Incoming, conv: Conversation) -> None:
    """Run a slash command, or say kindly that it does not exist."""
    await COMMANDS.get(msg.command or "", start.unknown_command)(msg, conv)


async def run_step(msg: Incoming, conv: Conversation) -> None:
    """Hand the update to the step the conversation waits on."""
    go_back = GO_BACK.get(conv.flow or "")
    if msg.payload == form.BACK and go_back is not None:
        await go_back(msg, conv)
        return
    handler = FLOWS.get(conv.flow or "", {}).get(conv.step or "")
    if handler is None:  # a step that no longer exists after an upgrade
        await menu.show_menu(msg, conv)
        return
    await handler(msg, conv)


async def run_intent(msg: Incoming, conv: Conversation) -> None:
    """Run what free text asks for."""
    intent = match_intent(msg.text)
    handler = INTENTS.get(intent, start.not_understood) if intent else start.not_understood
    await handler(msg, conv)


def _is_cancel(msg: Incoming, conv: Conversation) -> bool:
    # Only a message that is nothing but "hủy" / "thôi"...: inside a flow, "Nguyễn Văn Huy" is
    # a name and "0912 345 678 thôi" a phone number.
    return msg.command in ("huy", "cancel") or (
        msg.kind == Kind.TEXT and conv.flow is not None and is_answer(msg.text, Intent.CANCEL)
    )


def _with_staff(msg: Incoming, conv: Conversation) -> bool:
    """Whether a support ticket takes this update.

    All of it does, but for the citizen's rights (and the answers to them), the rating of
    an earlier ticket and the answers to a check-in after vaccination.
    """
    return (
        conv.ticket_id is not None
        and msg.command not in PRIVACY_COMMANDS
        and conv.flow != privacy.FLOW
        and not (msg.payload or "").startswith((support.RATE, payloads.CHECK_IN))
    )


def _about_symptoms(msg: Incoming, conv: Conversation) -> bool:
    """Whether a message is about the sender's health, where typed text may be that at all.

    A name step is left alone: "Nguyễn Thị Xỉu" is a name there, not a faint.
    """
    if conv.flow in NOT_SYMPTOMS or (conv.flow, conv.step) in NAME_STEPS:
        return False
    return reactions.is_about_symptoms(msg)


def _pressed(prefix: str) -> Callable[[Incoming, Conversation], bool]:
    """A route rule: the update is a button of this family (bot.payloads)."""
    return lambda msg, conv: (msg.payload or "").startswith(prefix)


# Order matters: the first matching rule handles the update. Gatekeepers come first; while a
# support ticket is open, what the citizen writes goes to staff (the flow waits); commands
# that need no consent come before the consent gate; a flow in progress sees everything that
# is not a command or a main-menu button; free text is matched to an intent only outside flows.
ROUTES: list[tuple[str, Callable[[Incoming, Conversation], bool], Handler]] = [
    ("too long", lambda m, c: len(m.text) > start.MAX_TEXT, start.too_long),
    (
        "symptoms first, from any state",
        _about_symptoms,
        reactions.guide,
    ),
    ("talking with support staff", _with_staff, support.relay),
    ("button from an old message", lambda m, c: c.stale_button, start.menu_expired),
    ("command before consent", lambda m, c: m.command in BEFORE_CONSENT, run_command),
    (
        "language button",
        _pressed(payloads.LANGUAGE),
        start.set_language,
    ),
    ("cancel", _is_cancel, cancel),
    ("consent and privacy steps", lambda m, c: c.flow == privacy.FLOW, run_step),
    ("consent gate", lambda m, c: not c.consented, privacy.ask_consent),
    (
        "appointment button",
        _pressed(payloads.APPOINTMENT),
        appointments.receive_choice,
    ),
    (
        "book a registered person",
        _pressed(payloads.BOOK),
        registration.book_from_button,
    ),
    (
        "certificate button",
        _pressed(payloads.CERTIFICATE),
        certificates.receive_choice,
    ),
    (
        "campaign button",
        _pressed(payloads.CAMPAIGN),
        campaigns.receive_button,
    ),
    (
        "broadcast button",
        _pressed(payloads.BROADCAST),
        broadcasts.receive_button,
    ),
    ("rating button", _pressed(support.RATE), support.rate),
    ("report a reaction", lambda m, c: m.payload == reactions.REPORT, reactions.start_report),
    ("check-in answer", _pressed(payloads.CHECK_IN), checkins.answer),
    (
        "link button",
        _pressed(payloads.LINK),
        linking.receive_button,
    ),
    ("ticket button", _pressed(payloads.TICKET), support.relay),
    ("ID recovery button", _pressed(payloads.RECOVER), recovery.receive_button),
    ("wrong dose record button", _pressed(payloads.FIX), record_fixes.start),
    ("menu entry mid-registration", _leaves_form, ask_leave),
    (
        "leave the registration?",
        lambda m, c: c.flow == registration.FLOW and c.step == form.RegisterStep.LEAVE,
        answer_leave,
    ),
    ("children's immunisation", children.takes, children.handle),
    ("command", lambda m, c: m.command is not None, run_command),
    ("menu button", lambda m, c: m.payload in menu.ENTRIES, open_menu),
    (
        "photo of a certificate",
        lambda m, c: m.kind == Kind.PHOTO and c.flow not in TAKES_PHOTOS,
        certificates.check_photo,
    ),
    ("flow step", lambda m, c: c.flow is not None, run_step),
    (
        "content the bot cannot read",
        lambda m, c: m.kind not in (Kind.TEXT, Kind.BUTTON),
        start.unsupported,
    ),
    ("free text", lambda m, c: True, run_intent),
]


async def route(msg: Incoming, conv: Conversation) -> None:
    """Run the first route whose rule matches."""
    for _name, matches, handler in ROUTES:
        if matches(msg, conv):
            await handler(msg, conv)
            return
