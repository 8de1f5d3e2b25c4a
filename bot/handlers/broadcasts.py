"""Ward announcements in the chat: staff compose, preview and send; citizens opt out and in.

Flow `broadcast`, started by /thongbao (roles `admin` and `ward_staff`; anyone else gets the
ordinary "unknown command" answer); `/thongbao ds` lists the recent ones.
    TEXT    -> the announcement (a photo with a caption gives the text and the picture at once)
    PICTURE -> a photo to go with it, or "No picture"
    AREA    -> ward staff: "All my wards" or some of their ward codes; admins: ward codes, or a
               province (its code or name) for a province-wide announcement
    GROUPS  -> priority group numbers, or "All groups"
    WHEN    -> "Send now", or a time such as "17:30" or "8:00 15/12"
    PREVIEW -> the message exactly as citizens will see it, then the area, groups, time and the
               number of recipients: "Gửi" sends it (role and scope checked again, audited),
               "Hủy" drops it
A wrong answer is explained and the step kept; /huy leaves at any step.

`bc:stop:<id>` (under the progress message) and `bc:rep:<id>` (in the list) work from any
message; role and scope are checked on use. /tatthongbao and /batthongbao switch a citizen's
announcements off and on (reminders, results and certificates still come).
"""

from __future__ import annotations

import base64
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.conversation import Conversation, Handler
from bot.domain import broadcast_batches as service
from bot.domain import staff_operations as operations
from bot.domain.broadcast_batches import STOP
from bot.domain.photos import PhotoStatus
from bot.domain.staff_operations import Picture
from bot.handlers import start
from bot.handlers.targeting import (
    Scope,
    ask,
    ask_groups,
    ask_wards,
    confirm_answer,
    groups_label,
    preview_count,
    scope_or_refuse,
    send_or_cancel,
    staff_record,
    take_groups,
    take_wards,
    ward_name,
    ward_scope,
)
from bot.i18n import N_, TIMEZONE, _, format_count, format_moment
from bot.messages import Button, Incoming, Kind, payload_id
from bot.vn import divisions
from bot.vn.dates import parse_send_time
from bot.vn.text import fold
from storage import broadcasts as store
from storage import staff
from storage.models import Account, Broadcast

FLOW = "broadcast"
REPORT = "bc:rep:"
SHOWN = 10
_LIST_WORDS = frozenset({"ds", "danh sach", "list"})


class Step(StrEnum):
    """Where the broadcast flow waits."""

    TEXT = "text"
    PICTURE = "picture"
    AREA = "area"
    GROUPS = "groups"
    WHEN = "when"
    PREVIEW = "preview"


# ---------------------------------------------------------------- composing


async def start_broadcast(msg: Incoming, conv: Conversation) -> None:
    """/thongbao: admins and ward staff only; ask for the text (or list, with "ds")."""
    found = await ward_scope(msg, conv)
    if found is None:
        await start.unknown_command(msg, conv)
        return
    if fold(msg.args) in _LIST_WORDS:
        await _show_list(conv, found[1])
        return
    if found[1] is not None and not found[1]:
        conv.reply(_("No ward is in your scope yet: ask an administrator to add yours."))
        return
    conv.goto(FLOW, Step.TEXT)
    conv.data = {}
    conv.reply(
        _(
            "New announcement. Type it as citizens should read it (up to {max} characters), or "
            "send a photo with the text as its caption. (/thongbao ds lists the recent ones.)"
        ).format(max=service.MAX_TEXT)
    )


def _photo(msg: Incoming) -> dict[str, Any] | None:
    """A usable photo of the update as conversation data, or None."""
    if msg.kind != Kind.PHOTO or msg.photo_status != PhotoStatus.READ or not msg.photo_bytes:
        return None
    return {
        "image": base64.b64encode(msg.photo_bytes).decode("ascii"),
        "image_file_id": msg.photo_file_id,
        "image_channel": msg.chat.channel,
    }


def _photo_problem(msg: Incoming) -> str | None:
    if msg.kind != Kind.PHOTO:
        return None
    if msg.photo_bytes is not None and len(msg.photo_bytes) > service.MAX_IMAGE_BYTES:
        return _("This picture is larger than 1 MB. Please send a smaller one.")
    if _photo(msg) is None:
        return _("I could not get this picture. Please send it again.")
    return None


async def receive_text(msg: Incoming, conv: Conversation) -> None:
    """Take the text (and a photo sent with it); ask for a picture or the area."""
    problem = _photo_problem(msg)
    if problem is not None:
        conv.reply(problem)
        return
    text = msg.text.strip() if msg.kind in (Kind.TEXT, Kind.PHOTO) else ""
    photo = _photo(msg)
    limit = service.MAX_CAPTION_TEXT if photo else service.MAX_TEXT
    if not 1 <= len(text) <= limit:
        conv.reply(
            _("Please type the announcement (1 to {max} characters).").format(max=limit)
            if not photo
            else _(
                "Please send the photo again with the announcement as its caption (1 to {max} "
                "characters), or type the text first."
            ).format(max=limit)
        )
        return
    conv.data["text"] = text
    if photo:
        conv.data.update(photo)
        await _ask_area(msg, conv)
        return
    ask(
        conv,
        FLOW,
        Step.PICTURE,
        _("Add a picture? Send it now, or press “No picture”."),
        Button(_("No picture"), "nb:nopic"),
    )


async def receive_picture(msg: Incoming, conv: Conversation) -> None:
    """Take a photo (or none); ask for the area."""
    if msg.payload == "nb:nopic":
        await _ask_area(msg, conv)
        return
    problem = _photo_problem(msg) if msg.kind == Kind.PHOTO else None
    if msg.kind != Kind.PHOTO or problem is not None:
        conv.reply(problem or _("Please send a photo, or press “No picture”."))
        return
    if len(conv.data["text"]) > service.MAX_CAPTION_TEXT:
        conv.reply(
            _(
                "With a picture the text is its caption, at most {max} characters, and yours is "
                "longer. Press “No picture”, or type /thongbao to start again with a shorter text."
            ).format(max=service.MAX_CAPTION_TEXT),
            buttons=[[Button(_("No picture"), "nb:nopic")]],
        )
        return
    conv.data.update(_photo(msg) or {})
    await _ask_area(msg, conv)


async def _ask_area(msg: Incoming, conv: Conversation) -> None:
    found = await scope_or_refuse(msg, conv)
    if found is None:
        return
    ask_wards(
        conv,
        FLOW,
        Step.AREA,
        found[1],
        anywhere=_(
            "Which area? Type ward codes separated by spaces (for example 26743 26740), or a "
            "province's code or name for the whole province (for example 79 or Hồ Chí Minh)."
        ),
        yours=_(
            "Which wards? Press “All my wards”, or type some of their codes separated by "
            "spaces:\n{wards}"
        ),
        mine=Button(_("All my wards"), "nb:mine"),
    )


def _province_typed(text: str) -> int | None:
    """A province an admin typed: its code (one or two digits) or its name."""
    typed = text.strip()
    if typed.isascii() and typed.isdigit() and len(typed) <= 2:
        try:
            return divisions.province(int(typed)).code
        except KeyError:
            return None
    found = divisions.find_provinces(typed, limit=2) if not typed.isdigit() else []
    return found[0].code if len(found) == 1 else None


async def receive_area(msg: Incoming, conv: Conversation) -> None:
    """Take the wards (or, for admins, a province); ask for the priority groups."""
    found = await scope_or_refuse(msg, conv)
    if found is None:
        return
    scope = found[1]
    province = _province_typed(msg.text) if scope is None else None
    wards = (
        []
        if province is not None
        else take_wards(
            msg,
            conv,
            scope,
            mine="nb:mine",
            not_codes=_("Please type ward codes (digits), separated by spaces.")
            if scope is not None
            else _("Please type ward codes, or a province's code or name."),
        )
    )
    if wards is None:
        return
    conv.data.update(wards=wards, province=province)
    ask_groups(conv, FLOW, Step.GROUPS, every="nb:allgroups")


async def receive_groups(msg: Incoming, conv: Conversation) -> None:
    """Take the groups (or all); ask when to send."""
    if take_groups(msg, conv, every="nb:allgroups"):
        ask(
            conv,
            FLOW,
            Step.WHEN,
            _(
                "When should it go out? Press “Send now”, or type a time such as 17:30 or "
                "8:00 15/12."
            ),
            Button(_("Send now"), "nb:now"),
        )


async def receive_when(msg: Incoming, conv: Conversation) -> None:
    """Take "now" or a time within 30 days; show the preview."""
    if msg.payload == "nb:now":
        at = conv.now
    else:
        typed = parse_send_time(msg.text, now=conv.now, tz=TIMEZONE)
        if typed is None:
            conv.reply(_("Please type a time such as 17:30, or 8:00 15/12 for another day."))
            return
        if typed <= conv.now:
            conv.reply(_("That time has already passed. Please type a time still to come."))
            return
        if typed > conv.now + service.MAX_AHEAD:
            conv.reply(_("An announcement can be scheduled up to 30 days ahead."))
            return
        at = typed
    conv.data["send_at"] = at.isoformat()
    await _show_preview(msg, conv)


def _draft(conv: Conversation) -> operations.Draft:
    data = conv.data
    image = data.get("image")
    return operations.Draft(
        kind=operations.Kind.BROADCAST,
        wards=tuple(data["wards"]),
        province=data.get("province"),
        groups=tuple(data["groups"]),
        text=data["text"],
        send_at=datetime.fromisoformat(data["send_at"]),
        picture=Picture(
            base64.b64decode(image) if image else None,
            data.get("image_file_id"),
            data.get("image_channel"),
        ),
        staff_chat=conv.chat,
    )


def _area_label(draft: operations.Draft) -> str:
    if draft.province is not None:
        return _("the whole of {province}").format(
            province=divisions.province(draft.province).name
        )
    return ", ".join(ward_name(code) for code in draft.wards)


_GONE = N_("Some of these wards are no longer yours; nothing was sent.")
_UNSENDABLE = N_("This announcement can no longer be sent as it is; nothing was sent.")


async def _show_preview(msg: Incoming, conv: Conversation) -> None:
    """The announcement as citizens will see it, then what staff check before sending."""
    draft = _draft(conv)
    count = await preview_count(
        msg, conv, draft, show=True, gone=_(_GONE), unsendable=_(_UNSENDABLE)
    )
    if count is None:
        return
    assert draft.send_at is not None
    lines = [
        _("Above is the announcement as citizens will see it."),
        _("Area: {area}").format(area=_area_label(draft)),
        _("Priority groups: {groups}").format(groups=groups_label(conv, draft.groups)),
        _("Sending: {when}").format(when=operations.when_label(draft.send_at, now=conv.now)),
        _("Recipients now: {count} (people who turned announcements off are left out)").format(
            count=format_count(count)
        ),
    ]
    conv.goto(FLOW, Step.PREVIEW)
    if count == 0:
        lines.append(_("Nobody in this area can receive it yet, so there is nothing to send."))
    conv.reply("\n".join(lines), buttons=send_or_cancel("nb:send", "nb:drop", sendable=count > 0))


async def receive_preview(msg: Incoming, conv: Conversation) -> None:
    """Send on "Gửi" (role and scope checked again, audited); drop on "Hủy"."""
    done = await confirm_answer(
        msg,
        conv,
        _draft(conv),
        buttons=("nb:send", "nb:drop"),
        dropped=_("Nothing was sent: the announcement was dropped."),
        gone=_(_GONE),
        unsendable=_(_UNSENDABLE),
    )
    if done is None:
        return
    now = done.starts_at <= conv.now
    text = (
        _(
            "Announcement #{id} is going out now. I will show the progress here; you can stop "
            "it at any time."
        )
        if now
        else _("Announcement #{id} will go out on {when}.")
    )
    conv.reply(
        text.format(id=done.id, when=format_moment(done.starts_at)),
        buttons=[] if now else [[_stop_button(done.id)]],
    )


STEPS: dict[str, Handler] = {
    Step.TEXT: receive_text,
    Step.PICTURE: receive_picture,
    Step.AREA: receive_area,
    Step.GROUPS: receive_groups,
    Step.WHEN: receive_when,
    Step.PREVIEW: receive_preview,
}


# ---------------------------------------------------------------- the list, stop, report


def _stop_button(broadcast_id: int) -> Button:
    return Button(_("Stop #{id}").format(id=broadcast_id), f"{STOP}{broadcast_id}")


async def _show_list(conv: Conversation, scope: Scope) -> None:
    recent = await operations.recent(conv.session, operations.Kind.BROADCAST, scope, shown=SHOWN)
    if not recent:
        conv.reply(_("There are no announcements yet. Type /thongbao to write one."))
        return
    lines = [_("Recent announcements:")]
    rows = []
    for broadcast in recent:
        assert isinstance(broadcast, Broadcast)
        lines.append(service.headline(broadcast))
        row = [Button(_("Report #{id}").format(id=broadcast.id), f"{REPORT}{broadcast.id}")]
        if broadcast.status in (store.SCHEDULED, store.SENDING):
            row.append(_stop_button(broadcast.id))
        rows.append(row)
    conv.reply("\n".join(lines), buttons=rows)


async def receive_button(msg: Incoming, conv: Conversation) -> None:
    """A `bc:` button from any message: stop a broadcast, or show its report."""
    payload = msg.payload or ""
    number = payload_id(payload.rpartition(":")[2]) or 0
    kind = operations.Kind.BROADCAST
    missing = _("This announcement does not exist or is outside your wards.")
    found = await staff_record(msg, conv, kind, number, missing=missing)
    if found is None:
        return
    member, broadcast = found
    if payload.startswith(REPORT):
        conv.reply("\n".join((await operations.report_of(conv.session, kind, broadcast)).lines))
        return
    _stopped, withdrawn = await service.cancel(
        conv.session, number, actor=staff.actor_label(member), now=conv.now
    )
    if withdrawn is None:
        conv.reply(_("Announcement #{id} has already ended; nothing changed.").format(id=number))
        return
    conv.after_commit.append(lambda: conv.services.outbox_withdrawn(withdrawn))
    conv.after_commit.append(conv.services.outbox_written)
    conv.reply(_("Announcement #{id} is stopped: nothing more will be sent.").format(id=number))


# ---------------------------------------------------------------- citizens' choice


async def _holder(conv: Conversation) -> Account:
    """The account announcements are addressed to: this chat's, or the one it is linked to."""
    if conv.account.holder_id is None:
        return conv.account
    holder = await conv.session.get(Account, conv.account.holder_id)
    return holder or conv.account


async def stop_announcements(msg: Incoming, conv: Conversation) -> None:
    """/tatthongbao: no more ward announcements for this citizen (all their linked chats)."""
    holder = await _holder(conv)
    holder.announcements_off_at = holder.announcements_off_at or conv.now
    conv.reply(
        _(
            "Done: you will no longer receive ward announcements. Reminders, results and "
            "certificates still come. Type /batthongbao to turn announcements back on."
        )
    )


async def resume_announcements(msg: Incoming, conv: Conversation) -> None:
    """/batthongbao: ward announcements again."""
    (await _holder(conv)).announcements_off_at = None
    conv.reply(
        _(
            "Done: you will receive your ward's announcements again. Type /tatthongbao to turn "
            "them off."
        )
    )
