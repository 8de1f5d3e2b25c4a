"""Booking a child into a children's immunisation session, from a reminder's button.

"Đặt lịch ở trạm y tế" (`child:book:<child>`) lists the sessions with free places in the next
`WINDOW` at the active sites of the child's ward (slots a site marked `purpose = children`);
pressing one (`child:slot:<child>:<slot>`) takes a place in the event's transaction. A parent
can only book their own children; a full or past session gets a kind answer and the list again.
"""

from __future__ import annotations

from datetime import timedelta

from bot.conversation import Conversation
from bot.handlers import menu
from bot.i18n import _, format_moment
from bot.messages import Button, Incoming
from bot.payloads import CHILD
from bot.vn import divisions
from storage import children
from storage.models import Child, Site, Slot

BOOK, SLOT = f"{CHILD}book:", f"{CHILD}slot:"
WINDOW = timedelta(days=21)


def takes(payload: str | None) -> bool:
    """Whether a button is this module's."""
    return (payload or "").startswith((BOOK, SLOT))


async def handle(msg: Incoming, conv: Conversation) -> None:
    """A "book" or a session button."""
    payload = msg.payload or ""
    if payload.startswith(BOOK):
        child = await _own_child(conv, payload.removeprefix(BOOK))
        if child is not None:
            await offer(conv, child)
        return
    child_part, _colon, slot_part = payload.removeprefix(SLOT).partition(":")
    child = await _own_child(conv, child_part)
    if child is not None:
        await book(conv, child, slot_part)


async def _own_child(conv: Conversation, number: str) -> Child | None:
    child = await children.get_child(conv.session, int(number)) if number.isdigit() else None
    if child is None or child.account_id != conv.owner_id:
        conv.reply(_("This button is no longer valid."), buttons=menu.menu_buttons())
        return None
    return child


async def offer(conv: Conversation, child: Child, *, intro: str | None = None) -> None:
    """The ward's children's sessions with places, one button each."""
    found = await children.sessions_with_places(
        conv.session, ward_code=child.ward_code, since=conv.now, until=conv.now + WINDOW
    )
    conv.finish()
    ward = divisions.ward(child.ward_code).name
    if not found:
        conv.reply(
            (intro + "\n" if intro else "")
            + _(
                "There is no children's immunisation session with free places in {ward} in the "
                "next three weeks. Please ask the ward health station, or try again in a few days."
            ).format(ward=ward),
            buttons=menu.menu_buttons(),
        )
        return
    rows = [[Button(_label(slot, site), f"{SLOT}{child.id}:{slot.id}")] for slot, site in found]
    conv.reply(
        (intro + "\n" if intro else "")
        + _("Children's immunisation sessions in {ward} for {name}: choose one.").format(
            ward=ward, name=child.full_name
        ),
        buttons=rows,
    )


def _label(slot: Slot, site: Site) -> str:
    return f"{format_moment(slot.starts_at)} · {site.name}"[:60]


async def book(conv: Conversation, child: Child, slot_number: str) -> None:
    """Take a place in the session, or say it is gone and offer the others."""
    slot = await conv.session.get(Slot, int(slot_number)) if slot_number.isdigit() else None
    site = await conv.session.get(Site, slot.site_id) if slot is not None else None
    booked = (
        await children.book_session(conv.session, child.id, slot, now=conv.now)
        if slot is not None and site is not None and site.ward_code == child.ward_code
        else None
    )
    if booked is None or slot is None or site is None:
        await offer(conv, child, intro=_("Sorry, that session has no free place any more."))
        return
    conv.reply(
        _(
            "Booked: {name}, {when} at {site}, {address}. Please bring the child's "
            "immunisation book (or type “sổ tiêm” to show the card)."
        ).format(
            name=child.full_name,
            when=format_moment(slot.starts_at),
            site=site.name,
            address=site.address,
        ),
        buttons=menu.menu_buttons(),
    )
