"""Correction requests about a recorded dose (issue 16.7).

Opened by the citizen, decided by the staff of the site that recorded the dose, the citizen
told the decision in their language.

Every decision is audited; the notice is written to the outbox in the decision's transaction,
so the citizen is told if and only if the decision was committed.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto import DataProtector
from bot.domain import notices
from bot.domain.vaccines import PRODUCTS
from bot.i18n import _, format_day, local_day
from bot.vn.refused import InputRefused
from storage import corrections, staff
from storage.corrections import ACCEPTED, OPEN, REFUSED
from storage.models import Account, DoseCorrection, Person, Site, Vaccination

MAX_PROBLEM = 500
MAX_NOTE = 500


class CorrectionProblem(StrEnum):
    """Why a request cannot be opened or decided."""

    NOT_FOUND = "not_found"  # no such request, or outside the deciding staff's sites
    DECIDED = "decided"  # already accepted or refused
    ALREADY_OPEN = "already_open"  # this dose already has an open request
    EMPTY = "empty"  # nothing said about what is wrong


class CorrectionRefused(InputRefused[CorrectionProblem]):
    """A request could not be opened or decided; `problem` says why."""


def dose_label(dose: Vaccination) -> str:
    """The dose in words, e.g. “Mũi 2 · Pfizer · 02/09/2026”, in the current language."""
    product = PRODUCTS.get(dose.product)
    return _("Dose {number} · {product} · {day}").format(
        number=dose.dose_number,
        product=product.label if product else dose.product,
        day=format_day(dose.given_on),
    )


async def request_correction(
    session: AsyncSession,
    *,
    dose: Vaccination,
    account_id: int | None,
    problem: str,
    photo: bytes | None,
    protector: DataProtector,
    now: datetime,
) -> DoseCorrection:
    """Open a request about `dose`, routed to the site that recorded it.

    Raises:
        CorrectionRefused: EMPTY without words, ALREADY_OPEN if the dose has one open.
    """
    said = " ".join(problem.split())[:MAX_PROBLEM]
    if not said:
        raise CorrectionRefused(CorrectionProblem.EMPTY)
    if await corrections.open_for_dose(session, dose.id) is not None:
        raise CorrectionRefused(CorrectionProblem.ALREADY_OPEN)
    sealed = protector.seal(base64.b64encode(photo).decode()) if photo else None
    request = DoseCorrection(
        vaccination_id=dose.id,
        person_id=dose.person_id,
        account_id=account_id,
        site_id=dose.site_id,
        problem=said,
        photo_sealed=sealed,
        status=OPEN,
        created_at=now,
    )
    return await corrections.add(session, request)


def photo_of(request: DoseCorrection, protector: DataProtector) -> bytes | None:
    """The paper card's photo sent with a request, opened; None if none was sent."""
    if request.photo_sealed is None:
        return None
    return base64.b64decode(protector.open(request.photo_sealed))


async def decide(
    session: AsyncSession,
    request_id: int,
    *,
    accept: bool,
    note: str,
    actor: str,
    sites: Sequence[str] | None,
    now: datetime,
) -> DoseCorrection:
    """Accept or refuse an open request, audit it and tell the citizen in their language.

    `sites` is the deciding staff's scope (None: any site, as for an admin); a request of
    another site is answered as not found, so ids tell nothing.

    Raises:
        CorrectionRefused: NOT_FOUND, or DECIDED if it was decided already.
    """
    request = await corrections.get(session, request_id)
    if request is None or (sites is not None and request.site_id not in sites):
        raise CorrectionRefused(CorrectionProblem.NOT_FOUND)
    if request.status != OPEN:
        raise CorrectionRefused(CorrectionProblem.DECIDED)
    request.status = ACCEPTED if accept else REFUSED
    request.decided_at, request.decided_by = now, actor
    request.decision_note = " ".join(note.split())[:MAX_NOTE] or None
    await staff.audit(
        session,
        actor=actor,
        action="dose_correction_decided",
        subject=f"correction:{request.id}",
        now=now,
        detail={"status": request.status, "dose": request.vaccination_id},
    )
    await _tell(session, request, now=now)
    await session.flush()
    return request


async def _tell(session: AsyncSession, request: DoseCorrection, *, now: datetime) -> None:
    account = await session.get(Account, request.account_id) if request.account_id else None
    person = await session.get(Person, request.person_id)
    dose = await session.get(Vaccination, request.vaccination_id)
    site = await session.get(Site, request.site_id) if request.site_id else None
    if person is None or dose is None:
        return

    def compose() -> str:
        return decision_text(request, person, dose, site)

    await notices.tell(session, account, compose, now=now, bulk=False)


def decision_text(
    request: DoseCorrection, person: Person, dose: Vaccination, site: Site | None
) -> str:
    """What the citizen is told of a decision, in the current language."""
    facts = {
        "id": request.id,
        "name": person.full_name,
        "dose": dose_label(dose),
        "site": site.name if site else _("the vaccination site"),
        "day": format_day(local_day(request.decided_at or request.created_at)),
    }
    if request.status == ACCEPTED:
        text = _(
            "Your correction request #{id} about {name}'s dose ({dose}) was accepted by {site} "
            "on {day}: the site will correct the record."
        ).format(**facts)
    else:
        text = _(
            "Your correction request #{id} about {name}'s dose ({dose}) was not accepted by "
            "{site} on {day}: the record stays as it is. If you think it is still wrong, "
            "please bring the paper vaccination card to the site, or write “hỗ trợ”."
        ).format(**facts)
    if request.decision_note:
        text += "\n" + _("Note from the site: {note}").format(note=request.decision_note)
    return text
