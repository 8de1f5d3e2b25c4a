"""Correction requests about a recorded dose (issue 16.7).

Opened by the citizen, decided by the staff of the site that recorded the dose, the citizen
told the decision in their language.

Every decision is audited; the notice is written to the outbox in the decision's transaction,
so the citizen is told if and only if the decision was committed.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto import DataProtector
from bot.domain import certificate_issuing, notices
from bot.domain.dcc.trust import Authority
from bot.domain.vaccines import PRODUCTS
from bot.i18n import _, format_day, local_day
from bot.vn.refused import InputRefused
from storage import certificates as certificate_store
from storage import corrections, staff, vaccinations
from storage.corrections import ACCEPTED, OPEN, REFUSED
from storage.models import Account, DoseCorrection, Person, Site, Vaccination

MAX_PROBLEM = 500
MAX_NOTE = 500
LOT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./-]{1,39}$")  # as the desk and /tiem


class CorrectionProblem(StrEnum):
    """Why a request cannot be opened or decided."""

    NOT_FOUND = "not_found"  # no such request, or outside the deciding staff's sites
    BAD_CHANGE = "bad_change"  # the corrected product, lot or day cannot be right
    DECIDED = "decided"  # already accepted or refused
    ALREADY_OPEN = "already_open"  # this dose already has an open request
    EMPTY = "empty"  # nothing said about what is wrong


class CorrectionRefused(InputRefused[CorrectionProblem]):
    """A request could not be opened or decided; `problem` says why."""


@dataclass(frozen=True)
class DoseChange:
    """What an accepted request changes in the dose record (None: that part stays)."""

    product: str | None = None
    lot: str | None = None
    given_on: date | None = None

    def problem(self, person: Person, *, today: date) -> bool:
        """Whether the change cannot be right: an unknown product, a bad lot, an impossible day."""
        return (
            (self.product is not None and self.product not in PRODUCTS)
            or (self.lot is not None and not LOT.match(self.lot))
            or (self.given_on is not None and not person.birth_date <= self.given_on <= today)
        )

    @property
    def empty(self) -> bool:
        """Whether nothing is changed."""
        return self.product is None and self.lot is None and self.given_on is None


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
    change: DoseChange | None = None,
    authority: Authority | None = None,
) -> DoseCorrection:
    """Accept or refuse an open request, audit it and tell the citizen in their language.

    `sites` is the deciding staff's scope (None: any site, as for an admin); a request of
    another site is answered as not found. An acceptance with a `change` corrects the dose
    record too, and (with the `authority`) re-issues its certificate (`_reissue`).

    Raises:
        CorrectionRefused: NOT_FOUND, DECIDED if it was decided already, or BAD_CHANGE.
    """
    request = await _open_request(session, request_id, sites)
    corrected = accept and change is not None and not change.empty
    if corrected:
        assert change is not None
        await _correct(session, request, change, actor=actor, now=now, authority=authority)
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
    await _tell(session, request, now=now, corrected=corrected)
    await session.flush()
    return request


async def _open_request(
    session: AsyncSession, request_id: int, sites: Sequence[str] | None
) -> DoseCorrection:
    """The open request, if it lies in the sites' scope (refused otherwise)."""
    request = await corrections.get(session, request_id)
    if request is None or (sites is not None and request.site_id not in sites):
        raise CorrectionRefused(CorrectionProblem.NOT_FOUND)
    if request.status != OPEN:
        raise CorrectionRefused(CorrectionProblem.DECIDED)
    return request


async def _correct(
    session: AsyncSession,
    request: DoseCorrection,
    change: DoseChange,
    *,
    actor: str,
    now: datetime,
    authority: Authority | None,
) -> None:
    """Correct the dose record (audited with before and after) and re-issue its certificate."""
    dose = await session.get(Vaccination, request.vaccination_id)
    person = await session.get(Person, request.person_id)
    if dose is None or person is None or change.problem(person, today=local_day(now)):
        raise CorrectionRefused(CorrectionProblem.BAD_CHANGE)
    before = {"product": dose.product, "lot": dose.lot, "given_on": dose.given_on.isoformat()}
    dose.product = change.product or dose.product
    dose.lot = change.lot or dose.lot
    dose.given_on = change.given_on or dose.given_on
    await session.flush()
    after = {"product": dose.product, "lot": dose.lot, "given_on": dose.given_on.isoformat()}
    await staff.audit(
        session, actor=actor, action="dose_corrected", subject=f"dose:{dose.id}", now=now,
        detail={"correction": request.id, "before": before, "after": after},
    )  # fmt: skip
    if authority is not None and certificate_issuing.can_sign(authority, now):
        await _reissue(session, authority, person, dose, actor=actor, now=now)


async def _reissue(
    session: AsyncSession,
    authority: Authority,
    person: Person,
    dose: Vaccination,
    *,
    actor: str,
    now: datetime,
) -> None:
    """Revoke and replace the dose's certificate with one that says what is now recorded."""
    old = await certificate_store.current_for(session, f"dose:{dose.id}")
    if old is not None:
        await certificate_issuing.revoke(
            session, old.uvci, reason="dose record corrected", actor=actor, now=now
        )
        old.replaced_at = now
    history = await vaccinations.history(session, person.id)
    first = history[0].product if history else dose.product
    await certificate_issuing.issue_for_dose(
        session, authority, person, dose, first_product=first, now=now, replaces=old
    )


async def _tell(
    session: AsyncSession, request: DoseCorrection, *, now: datetime, corrected: bool
) -> None:
    account = await session.get(Account, request.account_id) if request.account_id else None
    person = await session.get(Person, request.person_id)
    dose = await session.get(Vaccination, request.vaccination_id)
    site = await session.get(Site, request.site_id) if request.site_id else None
    if person is None or dose is None:
        return

    def compose() -> str:
        return decision_text(request, person, dose, site, corrected=corrected)

    await notices.tell(session, account, compose, now=now, bulk=False)


def decision_text(
    request: DoseCorrection,
    person: Person,
    dose: Vaccination,
    site: Site | None,
    *,
    corrected: bool = False,
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
        if corrected:
            text = _(
                "Your correction request #{id} about {name}'s dose was accepted by {site} on "
                "{day}: the record now says {dose}. A new certificate will be sent here."
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
