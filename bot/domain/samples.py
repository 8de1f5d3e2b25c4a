"""Recording a sample: a tube code and the personal QR tokens of the people swabbed into it.

Used by the sampler's chat command and by `POST /api/samples`. A tube holds one person, or a
pool of up to MAX_POOL. Every token is checked before anything is written: one bad token
refuses the whole tube, with the reason per token, so a tube is never half recorded. The same
tube with the same tokens again (a scanner app retrying) changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto import DataProtector
from bot.domain import notices, qr_tokens
from bot.domain.qr_tokens import TokenProblem, TokenRefused
from bot.i18n import _, format_moment
from storage import samples, staff
from storage.models import Account, Person, Sample, SampleMember, Site

MAX_POOL = 10
# A tube still without a result after this long is taken as lost: it no longer stops a new one.
LOST_AFTER = timedelta(days=3)
_TUBE = re.compile(r"^(?=.*\d)[A-Z0-9][A-Z0-9-]{3,39}$")  # with a digit: "XONG" is a word


class SampleProblem(StrEnum):
    """Why a tube or one of its tokens is refused."""

    TUBE_CODE = "tube_code"  # not 4-40 letters, digits or dashes
    TUBE_TAKEN = "tube_taken"  # this tube was recorded with other people
    NO_PEOPLE = "no_people"
    TOO_MANY = "too_many"  # more than MAX_POOL people
    MALFORMED = "malformed"
    FORGED = "forged"
    EXPIRED = "expired"
    UNKNOWN_PERSON = "unknown_person"  # a valid token for a person since erased
    TOKEN_USED = "token_used"  # this QR was already scanned into a tube
    IN_OPEN_TUBE = "in_open_tube"  # the person waits for another tube's result
    TWICE = "twice"  # the same person twice in this tube


_FROM_TOKEN = {
    TokenProblem.MALFORMED: SampleProblem.MALFORMED,
    TokenProblem.FORGED: SampleProblem.FORGED,
    TokenProblem.EXPIRED: SampleProblem.EXPIRED,
}


@dataclass
class SampleOutcome:
    """What recording a tube did: `created`, or nothing (`problems` say why, by token)."""

    created: bool = False
    unchanged: bool = False
    sample: Sample | None = None
    people: list[Person] = field(default_factory=list)
    problems: list[tuple[int | None, SampleProblem]] = field(default_factory=list)


def read_tube_code(text: str) -> str | None:
    """A tube code as printed on its barcode (upper case, at least one digit), or None."""
    code = text.strip().upper()
    return code if _TUBE.match(code) else None


async def check_token(
    session: AsyncSession, protector: DataProtector, text: str, *, now: datetime
) -> tuple[qr_tokens.PersonalToken | None, Person | None, SampleProblem | None]:
    """Verify one scanned token and that its person may go into a new tube."""
    try:
        token = qr_tokens.read(protector, text, now=now)
    except TokenRefused as refused:
        return None, None, _FROM_TOKEN[refused.problem]
    person = await session.get(Person, token.person_id)
    if person is None or person.account_id is None:  # gone, or nobody left to tell the result
        return token, None, SampleProblem.UNKNOWN_PERSON
    if await samples.token_used(session, token.token_id):
        return token, person, SampleProblem.TOKEN_USED
    if await samples.open_tube_of(session, person.id, since=now - LOST_AFTER) is not None:
        return token, person, SampleProblem.IN_OPEN_TUBE
    return token, person, None


async def record_sample(
    session: AsyncSession,
    protector: DataProtector,
    *,
    tube_code: str,
    tokens: list[str],
    site_id: str | None,
    taken_by: int | None,
    actor: str,
    now: datetime,
) -> SampleOutcome:
    """Record a tube and its people, audit it and tell each person; or refuse it whole."""
    outcome = SampleOutcome()
    code = read_tube_code(tube_code)
    if code is None:
        outcome.problems.append((None, SampleProblem.TUBE_CODE))
        return outcome
    existing = await samples.by_tube(session, code, lock=True)
    if existing is not None:
        return await _same_again(session, protector, existing, tokens, now=now)
    if not tokens:
        outcome.problems.append((None, SampleProblem.NO_PEOPLE))
    if len(tokens) > MAX_POOL:
        outcome.problems.append((None, SampleProblem.TOO_MANY))
    checked: list[tuple[qr_tokens.PersonalToken, Person]] = []
    seen: set[int] = set()
    for index, text in enumerate(tokens[: MAX_POOL + 1]):
        token, person, problem = await check_token(session, protector, text, now=now)
        if problem is None and person is not None and person.id in seen:
            problem = SampleProblem.TWICE
        if problem is not None or token is None or person is None:
            outcome.problems.append((index, problem or SampleProblem.MALFORMED))
            continue
        seen.add(person.id)
        checked.append((token, person))
    if outcome.problems:
        return outcome
    sample = Sample(
        tube_code=code,
        site_id=site_id,
        taken_at=now,
        taken_by=taken_by,
        pooled=len(checked) > 1,
        result_version=0,
        created_at=now,
    )
    session.add(sample)
    await session.flush()
    for token, person in checked:
        session.add(
            SampleMember(
                sample_id=sample.id,
                person_id=person.id,
                token_id=token.token_id,
                notified_version=0,
            )
        )
    await session.flush()
    await staff.audit(
        session,
        actor=actor,
        action="sample_recorded",
        subject=f"tube:{code}",
        now=now,
        detail={"people": len(checked), "site": site_id},
    )
    site = await session.get(Site, site_id) if site_id else None
    for _token, person in checked:
        await _tell_taken(session, person, sample, site, now=now)
    outcome.created, outcome.sample = True, sample
    outcome.people = [person for _token, person in checked]
    return outcome


async def _same_again(
    session: AsyncSession,
    protector: DataProtector,
    sample: Sample,
    tokens: list[str],
    *,
    now: datetime,
) -> SampleOutcome:
    """A tube already recorded: unchanged if sent again with the same tokens, else refused."""
    recorded = {m.token_id for m in await samples.members(session, sample.id)}
    sent = set()
    for text in tokens:
        try:
            sent.add(qr_tokens.read(protector, text, now=now).token_id)
        except TokenRefused:
            sent.add(text)
    if sent == recorded:
        return SampleOutcome(unchanged=True, sample=sample)
    return SampleOutcome(problems=[(None, SampleProblem.TUBE_TAKEN)])


async def _tell_taken(
    session: AsyncSession, person: Person, sample: Sample, site: Site | None, *, now: datetime
) -> None:
    account = await session.get(Account, person.account_id) if person.account_id else None

    def compose() -> str:
        text = _(
            "A sample was taken from {name}: tube {tube}, {moment}{site}. The result will "
            "arrive in this chat."
        ).format(
            name=person.full_name,
            tube=sample.tube_code,
            moment=format_moment(sample.taken_at),
            site=_(", at {site}").format(site=site.name) if site else "",
        )
        if sample.pooled:
            text += " " + _("It is a pooled sample (mẫu gộp) with other people.")
        return text

    await notices.tell(session, account, compose, now=now)
