"""Whom staff may reach, the answers that say it, and the chat steps both staff flows share.

Shared by the invitation campaigns (/chiendich) and the ward announcements (/thongbao):
ward codes, priority groups, scopes, and the preview's "Send"/"Cancel" answer that confirms
through `bot.domain.staff_operations`. Admins reach any ward; ward staff only their own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.conversation import Conversation
from bot.domain import staff_operations as operations
from bot.domain.form_lists import PriorityGroup, priority_groups
from bot.domain.staff_operations import Confirmed, Draft, Problem, Reason, Scope, ward_name
from bot.handlers import start
from bot.handlers.roles import role_held
from bot.i18n import _
from bot.messages import Button, Incoming
from bot.vn import divisions
from storage import staff
from storage.models import Broadcast, Campaign, StaffMember

ADMIN, WARD_STAFF = "admin", "ward_staff"
MAX_WARDS = 50


async def ward_scope(msg: Incoming, conv: Conversation) -> tuple[StaffMember, Scope] | None:
    """The sender's admin or ward staff role and ward scope, or None (not allowed)."""
    admin = await role_held(msg, conv, ADMIN)
    if admin is not None:
        return admin, None
    member = await role_held(msg, conv, WARD_STAFF)
    return (member, tuple(member.wards)) if member is not None else None


async def refuse(msg: Incoming, conv: Conversation) -> None:
    """Not (or no longer) staff: leave the staff flow, answer as to an unknown command."""
    conv.finish()
    await start.unknown_command(msg, conv)


def read_ward_codes(text: str) -> list[int] | None:
    """Ward codes typed with spaces, commas or semicolons between them; None if not that."""
    typed = re.split(r"[\s,;]+", text.strip())
    if not text.strip() or not all(code.isascii() and code.isdigit() for code in typed):
        return None
    return list(dict.fromkeys(int(code) for code in typed))[:MAX_WARDS]


def wards_problem(wards: Sequence[int], scope: Scope) -> str | None:
    """Why these wards cannot be targeted (not a current ward, or outside the scope), if so."""
    for code in wards:
        try:
            divisions.ward(code)
        except KeyError:
            return _(
                "{code} is not a current ward code. Please check it and type the codes again."
            ).format(code=code)
        if scope is not None and code not in scope:
            return _(
                "{ward} is not one of your wards: yours are {wards}. Please type the codes again."
            ).format(ward=ward_name(code), wards=", ".join(ward_name(c) for c in scope))
    return None


def group_choices(conv: Conversation) -> tuple[PriorityGroup, ...]:
    """The priority groups, in their numbered order."""
    return priority_groups(conv.services.settings.priority_groups_file)


def numbered_groups(conv: Conversation) -> str:
    """The priority groups as a numbered list, one a line."""
    return "\n".join(
        f"{number}. {group.label()}" for number, group in enumerate(group_choices(conv), 1)
    )


def ask_groups_text(conv: Conversation) -> str:
    """The question for priority groups, with the numbered list."""
    return (
        _(
            "Which priority groups? Type their numbers separated by spaces (for example 1 5), "
            "or press “All groups”."
        )
        + "\n"
        + numbered_groups(conv)
    )


def groups_refused(conv: Conversation) -> str:
    """What to say when the typed answer is not group numbers."""
    return _("Please type numbers from 1 to {count}, or press “All groups”.").format(
        count=len(group_choices(conv))
    )


def read_groups(conv: Conversation, text: str) -> list[str] | None:
    """Group codes from their numbers typed ("1 5"); None if something else was typed."""
    groups = group_choices(conv)
    typed = re.split(r"[\s,;.]+", text.strip().strip("."))
    if not text.strip() or not all(
        n.isascii() and n.isdigit() and 1 <= int(n) <= len(groups) for n in typed
    ):
        return None
    return list(dict.fromkeys(groups[int(n) - 1].code for n in typed))


def groups_label(conv: Conversation, codes: Sequence[str]) -> str:
    """Chosen groups in words (all of them when none is chosen)."""
    if not codes:
        return _("all groups")
    return "; ".join(
        f"{number}. {group.label()}"
        for number, group in enumerate(group_choices(conv), 1)
        if group.code in codes
    )


# ---------------------------------------------------------------- steps both flows take


async def staff_record(
    msg: Incoming, conv: Conversation, kind: operations.Kind, number: int, *, missing: str
) -> tuple[StaffMember, Broadcast | Campaign] | None:
    """For a staff button naming an operation: the staff member and the operation, in scope.

    None once answered: not staff (the menu has expired) or `missing` (no such operation in
    the scope).
    """
    found = await ward_scope(msg, conv)
    if found is None:
        await start.menu_expired(msg, conv)
        return None
    member, scope = found
    record = await operations.find(conv.session, kind, number, scope)
    if record is None:
        conv.reply(missing)
        return None
    return member, record


async def scope_or_refuse(msg: Incoming, conv: Conversation) -> tuple[StaffMember, Scope] | None:
    """The sender's role and scope; out of the flow, as to an unknown command, if none."""
    found = await ward_scope(msg, conv)
    if found is None:
        await refuse(msg, conv)
    return found


def take_wards(
    msg: Incoming, conv: Conversation, scope: Scope, *, mine: str, not_codes: str
) -> list[int] | None:
    """The wards answered (the `mine` button: all of the scope); None once told why not."""
    wards = list(scope) if msg.payload == mine and scope is not None else read_ward_codes(msg.text)
    problem = not_codes if wards is None else wards_problem(wards, scope)
    if problem is not None or wards is None:
        conv.reply(problem or not_codes)
        return None
    return wards


def ask(conv: Conversation, flow: str, step: str, text: str, *buttons: Button) -> None:
    """Go to a step of a staff flow and ask its question, with one button a row."""
    conv.goto(flow, step)
    conv.reply(text, buttons=[[button] for button in buttons])


def ask_wards(
    conv: Conversation,
    flow: str,
    step: str,
    scope: Scope,
    *,
    anywhere: str,
    yours: str,
    mine: Button,
) -> None:
    """Ask for the wards: admins type codes, ward staff press `mine` or type some of theirs.

    `anywhere` is the admins' question; `yours` the ward staff's, whose `{wards}` lists them.
    """
    if scope is None:
        ask(conv, flow, step, anywhere)
        return
    ask(conv, flow, step, yours.format(wards="\n".join(ward_name(code) for code in scope)), mine)


def ask_groups(conv: Conversation, flow: str, step: str, *, every: str) -> None:
    """Go to the groups step and ask, with the "All groups" button (payload `every`)."""
    ask(conv, flow, step, ask_groups_text(conv), Button(_("All groups"), every))


def take_groups(msg: Incoming, conv: Conversation, *, every: str) -> bool:
    """Keep the groups answered as `groups` ([] for the `every` button: all).

    False once told why the answer is not group numbers.
    """
    chosen = [] if msg.payload == every else read_groups(conv, msg.text)
    if chosen is None:
        conv.reply(groups_refused(conv))
        return False
    conv.data["groups"] = chosen
    return True


async def preview_count(
    msg: Incoming, conv: Conversation, draft: Draft, *, show: bool, gone: str, unsendable: str
) -> int | None:
    """Count the audience (with `show`, after the message as citizens will see it).

    None once told why not: `gone` (the wards are out of scope now) or `unsendable` (the draft
    cannot be sent as it is).
    """
    found = await scope_or_refuse(msg, conv)
    if found is None:
        return None
    shown = operations.preview(draft, conv.chat)
    count = await operations.audience_count(conv.session, draft, found[1], now=conv.now)
    if isinstance(shown, Problem) or isinstance(count, Problem):
        conv.finish()
        conv.reply(unsendable if isinstance(shown, Problem) else gone)
        return None
    if show:
        conv.send(shown)
    return count


def send_or_cancel(send: str, cancel: str, *, sendable: bool = True) -> list[list[Button]]:
    """The preview's buttons: "Send" (unless nothing can be sent) and "Cancel"."""
    cancel_button = Button(_("Cancel"), cancel)
    return [[Button(_("Send"), send), cancel_button]] if sendable else [[cancel_button]]


async def confirm_answer(
    msg: Incoming,
    conv: Conversation,
    draft: Draft,
    *,
    buttons: tuple[str, str],
    dropped: str,
    gone: str,
    unsendable: str,
) -> Confirmed | None:
    """The answer to the preview: "Send" (`buttons[0]`) creates it; "Cancel" drops it.

    Role and scope are checked again, and the service audits what it creates. None once told
    why nothing was created: `dropped`, `gone` (wards no longer in scope) or `unsendable`.
    """
    send, cancel = buttons
    if msg.payload == cancel:
        conv.finish()
        conv.reply(dropped)
        return None
    if msg.payload != send:
        conv.reply(_("Please press “Send” or “Cancel”."))
        return None
    found = await scope_or_refuse(msg, conv)
    if found is None:
        return None
    member, scope = found
    outcome = await operations.confirm(
        conv.session,
        draft,
        scope=scope,
        actor=staff.actor_label(member),
        now=conv.now,
        settings=conv.services.settings,
    )
    conv.finish()
    if isinstance(outcome, Problem):
        conv.reply(unsendable if outcome.reason == Reason.INVALID else gone)
        return None
    return outcome
