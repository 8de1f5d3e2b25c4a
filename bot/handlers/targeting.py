"""Whom staff may reach, and the answers that say it: ward codes, priority groups, scopes.

Shared by the invitation campaigns (/chiendich) and the ward announcements (/thongbao).
Admins reach any ward; ward staff only their own (their role's scope).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.conversation import Conversation
from bot.domain.form_lists import PriorityGroup, priority_groups
from bot.handlers import start
from bot.handlers.roles import role_held
from bot.i18n import _
from bot.messages import Incoming
from bot.vn import divisions
from storage.models import StaffMember

ADMIN, WARD_STAFF = "admin", "ward_staff"
MAX_WARDS = 50

Scope = tuple[int, ...] | None  # a ward staff member's wards; None: any ward (admin)


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


def ward_name(code: int) -> str:
    """A ward with its code, as staff read it: `Phường Bến Thành (26743)`."""
    try:
        return f"{divisions.ward(code).name} ({code})"
    except KeyError:
        return str(code)


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
