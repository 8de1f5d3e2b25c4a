"""The answers to a post-vaccination check-in (bot.domain.checkin_jobs), and turning them off.

`ci:<answer>:<check-in id>` works from any message, however old: "fine" is thanked; "mild
symptoms" gets the common reactions and when to seek care, with the offer to report one;
"need help" gets the danger signs to call 115 for, then the reaction report (symptoms first,
bot.handlers.reactions) about that dose. The answer is stored (a later press changes it) and
counted per site and product for staff. /tathoitham and /batthoitham turn the check-ins off
and on for the citizen (all their linked chats).
"""

from __future__ import annotations

from bot.conversation import Conversation
from bot.domain.tickets import BOT_ACTOR, DESK_LOCALE, END
from bot.handlers import reactions
from bot.handlers.menu import kept_note
from bot.i18n import _, use_locale
from bot.messages import Button, Incoming, payload_id
from bot.payloads import CHECK_IN
from storage import checkins, sites
from storage import tickets as ticket_store
from storage.checkins import FINE, MILD
from storage.models import Account, Site


def help_text(site: Site | None) -> str:
    """What to do now: the danger signs to call 115 for, and the site's phone when known."""
    text = _(
        "If there is difficulty breathing, chest pain, fainting, a seizure or swelling of the "
        "lips or face, call {emergency} (emergency) now, or go to the nearest emergency "
        "department."
    ).format(emergency=reactions.EMERGENCY)
    if site is not None and site.phone:
        text += "\n" + _("Your vaccination site, {site}: {phone}.").format(
            site=site.name, phone=site.phone
        )
    return text + "\n" + _("Otherwise, tell us what happened: the staff will contact you.")


async def answer(msg: Incoming, conv: Conversation) -> None:
    """Store the answer pressed and reply to it."""
    choice, _sep, number = (msg.payload or "").removeprefix(CHECK_IN).partition(":")
    checkin_id = payload_id(number)
    found = (
        await checkins.record_answer(
            conv.session, checkin_id, account_id=conv.owner_id, answer=choice, now=conv.now
        )
        if checkin_id is not None
        else None
    )
    if found is None:
        conv.reply(_("This question is no longer open. Thank you all the same."))
        return
    site = await sites.get_site(conv.session, found.site_id) if found.site_id else None
    if choice == FINE:
        conv.reply(_("Glad to hear it. Thank you for telling us!") + kept_note(conv))
    elif choice == MILD:
        conv.reply(
            reactions.mild_text(site) + kept_note(conv),
            buttons=[[Button(_("Report a reaction"), reactions.REPORT)]],
        )
    elif conv.ticket_id is not None:  # staff are on the line already: they see it too
        with use_locale(DESK_LOCALE):
            note = _("Check-in after vaccination: the citizen pressed “I need help”.")
        await ticket_store.add_entry(
            conv.session, conv.ticket_id, kind=ticket_store.NOTE, author=BOT_ACTOR, text=note,
            now=conv.now,
        )  # fmt: skip
        conv.reply(
            help_text(site) + "\n" + _("A staff member is in this chat: write to them here."),
            buttons=[[Button(_("End the conversation"), END)]],
        )
    else:
        conv.reply(help_text(site))
        await reactions.report_about_dose(conv, found.vaccination_id)


async def _holder(conv: Conversation) -> Account:
    if conv.account.holder_id is None:
        return conv.account
    return await conv.session.get(Account, conv.account.holder_id) or conv.account


async def stop(msg: Incoming, conv: Conversation) -> None:
    """/tathoitham: no more post-vaccination check-ins for this citizen."""
    holder = await _holder(conv)
    holder.checkins_off_at = holder.checkins_off_at or conv.now
    conv.reply(
        _(
            "Done: we will no longer ask how you are after a vaccination. You can still report "
            "a reaction at any time by describing it here. Type /batthoitham to turn the "
            "questions back on."
        )
    )


async def resume(msg: Incoming, conv: Conversation) -> None:
    """/batthoitham: check-ins again."""
    (await _holder(conv)).checkins_off_at = None
    conv.reply(
        _(
            "Done: after each vaccination we will ask how you are, the next day and a week "
            "later. Type /tathoitham to turn the questions off."
        )
    )
