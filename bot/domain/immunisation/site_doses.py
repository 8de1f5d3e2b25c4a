"""A vaccination site records a child's dose: the record, the audit line, the reminders, the card.

In one transaction: the dose is stored as `given` (or the parent's `reported` record of it is
confirmed, with the exact day), a booked children's session counts as attended, the audit log
gets a line, the child's reminders are re-planned (those of this dose are withdrawn) and the
parent gets the updated card as a picture, so the card is sent if and only if the dose was
recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import notices
from bot.domain.immunisation import child_reminders
from bot.domain.immunisation.card import card_png
from bot.domain.immunisation.rules import Assessment, DoseState
from bot.domain.immunisation.schedule import load_schedule
from bot.i18n import _, local_day, use_locale
from bot.messages import Button, Outgoing
from bot.vn.refused import InputRefused
from storage import children, outbox, staff
from storage.models import Account, Child, ChildDose, Site

AUDIT = "child_dose_recorded"
Fit = Callable[[Outgoing], list[Outgoing]]


class ChildDoseProblem(StrEnum):
    """Why a site's dose cannot be recorded."""

    UNKNOWN_DOSE = "unknown_dose"  # not a dose of the national schedule
    BEFORE_BIRTH = "before_birth"
    IN_FUTURE = "in_future"
    CONFLICT = "conflict"  # this dose is already recorded by a site, with another day or site


class ChildDoseRefused(InputRefused[ChildDoseProblem]):
    """A child's dose could not be recorded; `problem` says why."""


async def record_given(
    session: AsyncSession,
    child: Child,
    *,
    vaccine: str,
    number: int,
    given_on: date,
    site: Site,
    actor: str,
    staff_id: int | None,
    now: datetime,
    fit: Fit = lambda message: [message],
) -> bool:
    """Record (or confirm) a dose a site gave the child and send the parent the new card.

    Also: a booked children's session counts as attended, the audit log gets a line, and the
    child's reminders are planned again.

    Returns:
        True if recorded now; False if the site had already recorded it identically.

    Raises:
        ChildDoseRefused: not a dose of the schedule, a day before birth or in the future,
            or a site's record of this dose that says otherwise.
    """
    _check(child, vaccine, number, given_on, today=local_day(now))
    held = dose_of(await children.doses_of(session, child.id), vaccine, number)
    if _already_given(held, given_on, site):
        return False
    await _write(session, child, held, (vaccine, number, given_on), site, staff_id, now)
    await children.attend_booking(session, child.id)
    detail = {"vaccine": vaccine, "dose": number, "site": site.id, "confirmed": bool(held)}
    subject = f"child:{child.id}"
    await staff.audit(session, actor=actor, action=AUDIT, subject=subject, now=now, detail=detail)
    await child_reminders.plan(session, child, now=now)
    await send_card(session, child, now=now, fit=fit, site_name=site.name)
    return True


async def givable_today(session: AsyncSession, child: Child, today: date) -> list[DoseState]:
    """The first missing dose of each series that may be given to the child today."""
    doses = await children.doses_of(session, child.id)
    found = child_reminders.assessment(child, doses, today)
    return [s for s in child_reminders.awaited(found) if s.earliest and s.earliest <= today]


def _already_given(held: ChildDose | None, given_on: date, site: Site) -> bool:
    """Whether a site recorded this dose already, identically (a different record: refused)."""
    if held is None or held.status != children.GIVEN:
        return False
    if (held.given_on, held.site_id) == (given_on, site.id):
        return True
    raise ChildDoseRefused(ChildDoseProblem.CONFLICT)


async def _write(
    session: AsyncSession,
    child: Child,
    held: ChildDose | None,
    dose: tuple[str, int, date],
    site: Site,
    staff_id: int | None,
    now: datetime,
) -> None:
    """Confirm the parent's record of the dose, or add the site's."""
    vaccine, number, given_on = dose
    if held is not None:
        await children.confirm_dose(
            session, held.id, site_id=site.id, recorded_by=staff_id, now=now, given_on=given_on
        )
        return
    await children.add_dose(
        session,
        child_id=child.id,
        vaccine=vaccine,
        dose_number=number,
        given_on=given_on,
        now=now,
        status=children.GIVEN,
        site_id=site.id,
        recorded_by=staff_id,
    )


def _check(child: Child, vaccine: str, number: int, given_on: date, *, today: date) -> None:
    try:
        doses = load_schedule().vaccine(vaccine).doses
    except KeyError:
        raise ChildDoseRefused(ChildDoseProblem.UNKNOWN_DOSE) from None
    if not 1 <= number <= len(doses):
        raise ChildDoseRefused(ChildDoseProblem.UNKNOWN_DOSE)
    if given_on < child.birth_date:
        raise ChildDoseRefused(ChildDoseProblem.BEFORE_BIRTH)
    if given_on > today:
        raise ChildDoseRefused(ChildDoseProblem.IN_FUTURE)


async def send_card(
    session: AsyncSession,
    child: Child,
    *,
    now: datetime,
    fit: Fit = lambda message: [message],
    site_name: str | None = None,
) -> bool:
    """Queue the child's card (a picture, in the parent's language) to the parent's chat.

    Returns:
        False when there is nobody to tell (no account, unreachable, consent withdrawn).
    """
    account = await session.get(Account, child.account_id) if child.account_id else None
    if not notices.can_tell(account):
        return False
    doses = await children.doses_of(session, child.id)
    found = child_reminders.assessment(child, doses, local_day(now))
    chat = notices.address_of(account)
    with use_locale(account.locale):
        png = await asyncio.to_thread(_draw, account, child, found)
        caption = _("A dose for {name} was recorded{site}. Here is the updated card.").format(
            name=child.full_name,
            site=_(" at {site}").format(site=site_name) if site_name else "",
        )
        photo = Outgoing(
            chat,
            caption,
            buttons=((Button(_("Immunisation card"), child_reminders.RECORD),),),
            image=png,
        )
    rows = [
        outbox.NewMessage(
            chat.channel, chat.chat_id, part.to_body(), account.id, part.image, bulk=True
        )
        for part in fit(photo)
    ]
    await outbox.enqueue(session, rows, now=now)
    return True


def _draw(account: Account, child: Child, found: Assessment) -> bytes:
    """The card in the account's language (drawn in a worker thread)."""
    with use_locale(account.locale):
        return card_png(child.full_name, child.birth_date, found)


def dose_of(doses: Sequence[ChildDose], vaccine: str, number: int) -> ChildDose | None:
    """The record of one dose among a child's, if any."""
    return next((d for d in doses if (d.vaccine, d.dose_number) == (vaccine, number)), None)
