"""Site staff record a child's dose in the chat: /tiemtre (role `site_staff`).

Flow `child_dose`. CHILD: the child's number from the due list (`#12`) or the child's 12-digit
personal ID number; the child and the doses the rules engine says may be given today are shown,
one button each. DOSE: the button records the dose as given today at the staff member's site
(`bot.domain.immunisation.site_doses`: confirmed if the parent reported it, audited, reminders
re-planned, the parent sent the updated card), then the next child's number is asked. Anyone
without the role gets the ordinary "unknown command" answer; /huy leaves.
"""

from __future__ import annotations

from enum import StrEnum

from bot.conversation import Conversation, Handler
from bot.domain.identity import id_index
from bot.domain.immunisation.rules import DoseState
from bot.domain.immunisation.site_doses import ChildDoseRefused, givable_today, record_given
from bot.handlers import start
from bot.handlers.roles import role_held
from bot.i18n import _, current_locale, format_day, local_day
from bot.messages import Button, Incoming
from bot.payloads import CHILD_DOSE
from bot.vn.ids import InvalidId, parse_personal_id
from storage import children, staff
from storage.models import Child, Site, StaffMember

FLOW = "child_dose"
COMMAND = "tiemtre"
ROLE = "site_staff"
_DOSE = CHILD_DOSE


class Step(StrEnum):
    """Where the flow waits."""

    CHILD = "child"
    DOSE = "dose"


async def _member_and_site(msg: Incoming, conv: Conversation) -> tuple[StaffMember, Site] | None:
    member = await role_held(msg, conv, ROLE)
    site = await conv.session.get(Site, member.sites[0]) if member and member.sites else None
    return (member, site) if member is not None and site is not None else None


async def start_child_dose(msg: Incoming, conv: Conversation) -> None:
    """/tiemtre: site staff only; ask which child."""
    if await _member_and_site(msg, conv) is None:
        await start.unknown_command(msg, conv)
        return
    _ask_child(conv)


def _ask_child(conv: Conversation) -> None:
    conv.goto(FLOW, Step.CHILD)
    conv.reply(
        _(
            "Which child? Send the number from the due list (for example #12) or the child's "
            "12-digit personal ID number; /huy to finish."
        )
    )


async def handle_step(msg: Incoming, conv: Conversation) -> None:
    """The step the flow waits on (the role is checked again at each one)."""
    found = await _member_and_site(msg, conv)
    if found is None:
        conv.finish()
        await start.unknown_command(msg, conv)
        return
    if conv.step == Step.DOSE and (msg.payload or "").startswith(_DOSE):
        await _record(msg, conv, *found)
        return
    await _receive_child(msg, conv)


async def _find(conv: Conversation, typed: str) -> Child | None:
    digits = typed.strip().removeprefix("#").replace(" ", "")
    if digits.isascii() and digits.isdigit() and len(digits) <= 9:
        return await children.get_child(conv.session, int(digits))
    try:
        pid = parse_personal_id(typed, current_year=local_day(conv.now).year)
    except InvalidId:
        return None
    index = id_index(conv.services.protector, pid.number)
    return await children.find_by_id_index(conv.session, index)


async def _receive_child(msg: Incoming, conv: Conversation) -> None:
    """Find the child; show who it is and the doses that may be given today."""
    child = await _find(conv, msg.text)
    if child is None:
        conv.goto(FLOW, Step.CHILD)
        conv.reply(
            _("No child was found with “{typed}”. Please check it and send it again.").format(
                typed=msg.text.strip()[:20]
            )
        )
        return
    givable = await _givable(conv, child)
    head = _("Child #{id}: {name}, born {born}.").format(
        id=child.id, name=child.full_name, born=format_day(child.birth_date)
    )
    if not givable:
        conv.goto(FLOW, Step.CHILD)
        conv.reply(head + "\n" + _("No dose of the schedule may be given today. Next child?"))
        return
    locale = current_locale()
    conv.goto(FLOW, Step.DOSE, child=child.id)
    conv.reply(
        head + "\n" + _("Which dose was given today?"),
        buttons=[
            [Button(s.dose.name(locale)[:60], f"{_DOSE}{s.dose.vaccine}:{s.dose.number}")]
            for s in givable
        ],
    )


async def _givable(conv: Conversation, child: Child) -> list[DoseState]:
    """The first missing dose of each series that may be given today."""
    return await givable_today(conv.session, child, local_day(conv.now))


async def _chosen(conv: Conversation, child: Child | None, payload: str) -> DoseState | None:
    """The dose a button names, if it may still be given today."""
    if child is None:
        return None
    vaccine, _colon, number = payload.removeprefix(_DOSE).partition(":")
    givable = await _givable(conv, child)
    return next(
        (s for s in givable if (s.dose.vaccine, str(s.dose.number)) == (vaccine, number)), None
    )


async def _record(msg: Incoming, conv: Conversation, member: StaffMember, site: Site) -> None:
    """Record the dose pressed as given today here, and ask for the next child."""
    child = await children.get_child(conv.session, int(conv.data.get("child", 0)))
    chosen = await _chosen(conv, child, msg.payload or "")
    if child is None or chosen is None:
        conv.reply(_("Please choose with the buttons below."))
        return
    try:
        await record_given(
            conv.session,
            child,
            vaccine=chosen.dose.vaccine,
            number=chosen.dose.number,
            given_on=local_day(conv.now),
            site=site,
            actor=staff.actor_label(member),
            staff_id=member.id,
            now=conv.now,
            fit=conv.services.fit,
        )
    except ChildDoseRefused:
        conv.reply(_("This dose is already recorded differently; nothing changed."))
        _ask_child(conv)
        return
    conv.after_commit.append(conv.services.outbox_written)
    done = _("Recorded for #{id} {name}: {dose}, today at {site}. The parent was sent the card.")
    dose = chosen.dose.name(current_locale())
    conv.reply(done.format(id=child.id, name=child.full_name, dose=dose, site=site.name))
    _ask_child(conv)


STEPS: dict[str, Handler] = {Step.CHILD: handle_step, Step.DOSE: handle_step}
