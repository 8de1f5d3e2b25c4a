"""Which children a children's campaign invites: by age, ward and status for one vaccine.

A campaign with a `child_vaccine` (a code of the children's schedule, e.g. `measles`) invites
children instead of people: one invitation per child, to the parent's chat. Its dose status is
`none` (no dose of that vaccine on record, reported or given) or `due` (the rules engine says a
dose of it is due or overdue today). The query (`storage.campaigns.eligible_children`) narrows
to the wards, ages, consent and reachability, bookings and earlier invitations; `due` is then
judged child by child, a page at a time.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.immunisation.rules import DoseRecord, DoseStatus, State, assess
from bot.domain.immunisation.schedule import load_schedule
from storage import campaigns as store
from storage import children
from storage.campaigns import ChildEligibility
from storage.models import Account, Child

NO_DOSE, DUE = "none", "due"
STATUSES = (NO_DOSE, DUE)
PAGE = 500
MAX_AGE = 16  # the children's registry ends there (bot.handlers.children.MAX_AGE_YEARS)


def problem(vaccine: str, dose_status: str, groups: tuple[str, ...], max_age: int | None) -> str:
    """What is wrong with a children's campaign's targeting, in English; "" if nothing."""
    try:
        load_schedule().vaccine(vaccine)
    except KeyError:
        codes = ", ".join(v.code for v in load_schedule().vaccines)
        return f"unknown children's vaccine {vaccine!r}; one of {codes}"
    if dose_status not in STATUSES:
        return "a children's campaign's dose status is none or due"
    if groups:
        return "priority groups are for adults, not for a children's campaign"
    if max_age is None or max_age >= MAX_AGE:
        return f"a children's campaign needs a maximum age under {MAX_AGE}"
    return ""


def _needs(child: Child, doses: list[DoseRecord], vaccine: str, today: date) -> bool:
    """Whether the rules engine has a dose of `vaccine` due or overdue for the child today."""
    found = assess(load_schedule(), child.birth_date, doses, today=today)
    return any(
        d.dose.vaccine == vaccine and d.state in (State.DUE, State.OVERDUE) for d in found.doses
    )


async def eligible(
    session: AsyncSession,
    rule: ChildEligibility,
    *,
    dose_status: str,
    today: date,
    campaign_id: int | None,
    limit: int,
) -> list[tuple[Child, Account]]:
    """Up to `limit` children to invite (with their parent's account), oldest first."""
    chosen: list[tuple[Child, Account]] = []
    after: tuple[date, int] | None = None
    while len(chosen) < limit:
        page = await store.eligible_children(
            session, rule, campaign_id=campaign_id, limit=PAGE, after=after
        )
        if dose_status == NO_DOSE:
            chosen.extend(page)
        else:
            doses = await children.doses_of_children(session, [c.id for c, _a in page])
            for child, account in page:
                records = [
                    DoseRecord(d.vaccine, d.dose_number, d.given_on, DoseStatus(d.status))
                    for d in doses[child.id]
                ]
                if _needs(child, records, rule.vaccine, today):
                    chosen.append((child, account))
        if len(page) < PAGE:
            break
        after = (page[-1][0].birth_date, page[-1][0].id)
    return chosen[:limit]
