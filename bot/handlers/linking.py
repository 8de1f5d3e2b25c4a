"""One citizen, several chats: link this chat to the one on another channel (`/lienket`).

Telegram, Zalo and the web chat link alike: a web chat (a browser's cookie) linked to an app
keeps its records when the cookie is lost.

Flow `link`:
    PHONE -> the phone number on record with the other chat (typed or shared); a six-digit
             code goes to that chat. The answer is the same whether or not the number is
             known, so nobody learns who is registered; a chat may ask for 3 codes a day, and
             a number be sent 3 a day (counted in `lookup_failures`, like result lookups).
    CODE  -> the code, within 10 minutes and 5 tries: this chat's people move to the other
             account, and both chats show the same people, bookings, results and certificates.
Messages unasked (reminders, results) go to the chat used last, unless the citizen chose one
(`link:here`, `link:last` under the status `/lienket` shows once linked).
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from bot.conversation import Conversation, Handler
from bot.handlers.menu import menu_buttons
from bot.handlers.phone_number import PHONE_INDEX
from bot.i18n import _, use_locale
from bot.messages import Button, ChatRef, Incoming, Kind, Outgoing
from bot.vn.phone import normalize_phone
from storage import accounts, outbox, samples
from storage.models import Account
from storage.outbox import NewMessage

FLOW = "link"
CODE_LIFETIME = timedelta(minutes=10)
MAX_TRIES = 5
HERE, LAST = "link:here", "link:last"
MESSENGERS = ("telegram", "zalo", "web")  # the channels whose chats a citizen links
_CODE_INDEX = "link-code"  # blind-index kind of the codes kept in the conversation
_CODES_CHAT, _CODES_NUMBER = "link-chat", "link-number"  # blind-index kinds of code requests
MAX_CODES = 3  # codes a chat may ask for, and a number may be sent, in `CODES_WINDOW`
CODES_WINDOW = timedelta(days=1)


class Step(StrEnum):
    """Where the link flow waits."""

    PHONE = "phone"
    CODE = "code"


def channel_name(channel: str) -> str:
    """A channel as citizens call it."""
    return {"telegram": "Telegram", "zalo": "Zalo"}.get(channel, _("web"))


async def start_linking(msg: Incoming, conv: Conversation) -> None:
    """/lienket: the linked chats and where messages go, or the start of a new link."""
    chats = await accounts.linked_chats(conv.session, conv.owner_id)
    if len(chats) > 1:
        _show_links(conv, chats)
        return
    conv.goto(FLOW, Step.PHONE)
    conv.reply(
        _(
            "You can use this service on Telegram, Zalo and the web chat with the same records. "
            "Please type the phone number you registered with in the other chat, for example "
            "0912 345 678. We will send a code there to make sure it is you."
        ),
        request_phone=_("Share my phone number"),
    )


def _show_links(conv: Conversation, chats: list[Account]) -> None:
    holder = chats[0]
    names = ", ".join(sorted({channel_name(chat.channel) for chat in chats}))
    where = (
        _("Messages go to the chat you chose.")
        if holder.reach_pinned
        else _("Messages go to the chat you used last.")
    )
    conv.reply(
        _("This chat is linked: {names} show the same records.").format(names=names) + " " + where,
        buttons=[
            [Button(_("Always send messages here"), HERE)],
            [Button(_("Send to the chat I used last"), LAST)],
        ],
    )


async def _offer_code(conv: Conversation, target: Account | None) -> None:
    """Send a fresh code to the other chat, if any; wait for it here either way (same words)."""
    code = f"{secrets.randbelow(10**6):06d}"
    if target is not None:
        await _send_code(conv, target, code)
    expires = conv.now + CODE_LIFETIME
    conv.goto(
        FLOW,
        Step.CODE,
        target=target.id if target else None,
        code=conv.services.protector.blind_index(
            _CODE_INDEX, f"{target.id if target else 0}:{code}"
        ),
        expires=expires.isoformat(),
        tries=0,
    )


async def _may_ask_code(conv: Conversation, phone: str) -> bool:
    """Whether this chat and this number are still under today's limit of codes; counts one.

    Counted like failed result lookups: per chat and per number, whatever the outcome.
    """
    protector = conv.services.protector
    chat_key = protector.blind_index(_CODES_CHAT, f"{conv.chat.channel}:{conv.chat.chat_id}")
    number_key = protector.blind_index(_CODES_NUMBER, phone)
    since = conv.now - CODES_WINDOW
    asked = await samples.failed_lookups_since(conv.session, since=since, chat_key=chat_key)
    aimed = await samples.failed_lookups_since(conv.session, since=since, target=number_key)
    if len(asked) >= MAX_CODES or len(aimed) >= MAX_CODES:
        return False
    await samples.record_failed_lookup(
        conv.session, chat_key=chat_key, target=number_key, now=conv.now
    )
    return True


async def receive_phone(msg: Incoming, conv: Conversation) -> None:
    """Send a code to the other chat with this number on record (if there is one)."""
    typed = msg.contact.phone if msg.contact else msg.text if msg.kind == Kind.TEXT else ""
    phone = normalize_phone(typed)
    if phone is None:
        conv.reply(
            _(
                "That does not look like a Vietnamese mobile number (10 digits starting with 0). "
                "Please type it again, for example 0912 345 678, or /huy to stop."
            )
        )
        return
    if not await _may_ask_code(conv, phone):
        conv.finish()
        conv.reply(
            _(
                "Several codes were asked for today already. To keep your records safe, please "
                "try again tomorrow, or choose “Talk to support staff” (/hotro)."
            )
        )
        return
    protector = conv.services.protector
    found = await accounts.holders_by_phone(
        conv.session,
        phone_index=protector.blind_index(PHONE_INDEX, phone),
        channels=[c for c in MESSENGERS if c != conv.chat.channel],
    )
    target = next((a for a in found if a.id != conv.account.id), None)
    await _offer_code(conv, target)
    conv.reply(
        _(
            "If this number is on record with your other chat, we have just sent a six-digit "
            "code there. Please type it here within 10 minutes."
        )
    )


async def _send_code(conv: Conversation, target: Account, code: str) -> None:
    """The code, to the other chat, in its language; it leaves once this event commits."""
    with use_locale(target.locale):
        text = _(
            "Your code to link a {channel} chat with this one: {code}. If you did not ask for "
            "it, do not give it to anyone and ignore this message."
        ).format(channel=channel_name(conv.chat.channel), code=code)
    message = Outgoing(ChatRef(target.channel, target.chat_id), text)
    row = NewMessage(target.channel, target.chat_id, message.to_body(), target.id)
    await outbox.enqueue(conv.session, [row], now=conv.now)
    conv.after_commit.append(conv.services.outbox_written)


async def receive_code(msg: Incoming, conv: Conversation) -> None:
    """Link the chats if the code is right and fresh; count the tries."""
    typed = "".join(ch for ch in msg.text if ch.isdigit()) if msg.kind == Kind.TEXT else ""
    if datetime.fromisoformat(conv.data["expires"]) < conv.now:
        conv.finish()
        conv.reply(_("That code has expired. Type /lienket to get a new one."))
        return
    target_id = conv.data.get("target")
    expected = conv.data["code"]
    given = conv.services.protector.blind_index(_CODE_INDEX, f"{target_id or 0}:{typed}")
    if target_id is None or len(typed) != 6 or not hmac.compare_digest(given, expected):
        tries = int(conv.data.get("tries", 0)) + 1
        if tries >= MAX_TRIES:
            conv.finish()
            conv.reply(
                _(
                    "That code is not right, and that was the last try. Type /lienket to "
                    "start again."
                )
            )
            return
        conv.goto(FLOW, Step.CODE, tries=tries)
        conv.reply(_("That code is not right. Please check it and type the six digits again."))
        return
    holder = await conv.session.get(Account, int(target_id))
    linked_meanwhile = len(await accounts.linked_chats(conv.session, conv.owner_id)) > 1
    if holder is None or holder.holder_id is not None or linked_meanwhile:
        conv.finish()
        conv.reply(_("That chat can no longer be linked. Type /lienket to start again."))
        return
    await accounts.link(conv.session, conv.account, holder)
    conv.finish()
    conv.reply(
        _(
            "Done: this chat and your {channel} chat are linked. Both show the same people, "
            "appointments, results and certificates; messages go to the chat you used last."
        ).format(channel=channel_name(holder.channel)),
        buttons=menu_buttons(),
    )


async def receive_button(msg: Incoming, conv: Conversation) -> None:
    """Choose where messages go: always here, or to the chat used last."""
    chats = await accounts.linked_chats(conv.session, conv.owner_id)
    if len(chats) < 2:
        conv.reply(_("This chat is not linked to another. Type /lienket to link it."))
        return
    holder = chats[0]
    here = conv.account.id != holder.id
    holder.reach_channel = conv.chat.channel if here else None
    holder.reach_chat_id = conv.chat.chat_id if here else None
    holder.reach_pinned = msg.payload == HERE
    conv.reply(
        _("From now on, messages come to this chat.")
        if holder.reach_pinned
        else _("From now on, messages go to the chat you used last.")
    )


STEPS: dict[str, Handler] = {Step.PHONE: receive_phone, Step.CODE: receive_code}
