"""Lab results: recorded once per tube (then corrections), and pushed to everyone in the tube.

Used by `import-results` and `POST /api/results`. The same result sent twice changes nothing
and tells nobody twice: each member remembers which result version they were told. Once a tube
is negative or positive, only a deliberate correction (with its reason) changes it: recorded as
a new version, audited with the old and new result and the reason, and everyone in the tube is
told that it corrects the earlier one. After an inconclusive result, the next one is the
awaited result, not a correction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import notices
from bot.domain.samples import read_tube_code
from bot.i18n import TIMEZONE, _, format_moment
from bot.messages import Button
from bot.vn.text import fold
from storage import outbox, samples, staff
from storage.models import Person, Sample, SampleResult, Site

NEGATIVE, POSITIVE, INCONCLUSIVE = "negative", "positive", "inconclusive"
DEFINITE = (NEGATIVE, POSITIVE)  # changed only by a correction with a reason
REASON_LENGTH = (5, 300)  # characters of a correction's reason
SAMPLE_CLOCK_SKEW = timedelta(hours=1)  # a lab clock a little behind the sampler's
# A result "in the future" is one beyond this: a lab's clock may run a little fast.
FUTURE_SKEW = timedelta(minutes=5)
HOTLINE = "1900 9095"  # the Ministry of Health's COVID-19 line (reference/vietnam-domain.md §6)
_WORDS = {
    # No "-" or "+": labs write "-" for "not done yet".
    "negative": NEGATIVE, "neg": NEGATIVE, "am tinh": NEGATIVE,
    "positive": POSITIVE, "pos": POSITIVE, "duong tinh": POSITIVE,
    "inconclusive": INCONCLUSIVE, "khong xac dinh": INCONCLUSIVE, "kxd": INCONCLUSIVE,
    "invalid": INCONCLUSIVE, "nghi ngo": INCONCLUSIVE,
}  # fmt: skip


class Outcome(StrEnum):
    """What recording one result did."""

    ADDED = "added"
    CORRECTED = "corrected"
    UNCHANGED = "unchanged"
    UNKNOWN_TUBE = "unknown_tube"  # no such tube, or one sampled outside the caller's sites
    BEFORE_SAMPLE = "before_sample"  # tested before the sample was even taken
    NEEDS_CORRECTION = "needs_correction"  # would change a definite result without a reason


_TESTED_AT_FORMATS = (
    "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
    "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S",
)  # fmt: skip


def read_tested_at(text: str) -> datetime | None:
    """When a sample was tested: ISO 8601 (an offset is honoured) or `DD/MM/YYYY HH:MM`.

    Without an offset the time is Vietnam time. None if it cannot be read.
    """
    typed = text.strip()
    try:
        moment = datetime.fromisoformat(typed)
    except ValueError:
        moment = None
        for pattern in _TESTED_AT_FORMATS:
            try:
                moment = datetime.strptime(typed, pattern)
                break
            except ValueError:
                continue
    if moment is None or not any(ch == ":" for ch in typed):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=TIMEZONE)


def read_result(text: str) -> str | None:
    """`negative` / `positive` / `inconclusive` from English or Vietnamese words, any accents."""
    typed = text.strip()
    return _WORDS.get(typed) or _WORDS.get(fold(typed))


def read_reason(text: str) -> str | None:
    """A correction's reason, stripped, or None unless it is 5 to 300 characters."""
    reason = text.strip()
    low, high = REASON_LENGTH
    return reason if low <= len(reason) <= high else None


async def record_result(
    session: AsyncSession,
    *,
    tube_code: str,
    result: str,
    tested_at: datetime,
    lab: str,
    source: str,
    actor: str,
    now: datetime,
    sites: Collection[str] | None,
    correction: str | None = None,
) -> Outcome:
    """Record a tube's result (or a correction) and queue a notice to each person in it.

    `sites` are the sites whose tubes the caller may result (a lab key's; None: any, for an
    operator's import): a tube sampled elsewhere is UNKNOWN_TUBE, found by the same one query
    as a code that does not exist. `correction` is the reason (see `read_reason`) that a
    negative or positive result may change; without it such a change is NEEDS_CORRECTION and
    nothing is written. A result after an inconclusive one needs none: it is the awaited one.
    """
    code = read_tube_code(tube_code)
    sample = await samples.by_tube(session, code, sites=sites, lock=True) if code else None
    if sample is None:
        return Outcome.UNKNOWN_TUBE
    if tested_at < sample.taken_at - SAMPLE_CLOCK_SKEW:
        return Outcome.BEFORE_SAMPLE
    earlier = await samples.history(session, sample.id)
    if _already_recorded(sample, earlier, (result, tested_at, lab), correction):
        return Outcome.UNCHANGED
    correcting = sample.result in DEFINITE
    if correcting and correction is None:
        return Outcome.NEEDS_CORRECTION
    # A new lab name or time with the same result is history, not news: nobody is told.
    tell = result != sample.result
    detail: dict[str, str | int] = {"version": sample.result_version + 1, "lab": lab}
    if correcting:
        detail |= {"old": str(sample.result), "new": result}
    if correction is not None:
        detail["reason"] = correction
    sample.result_version += 1
    sample.result, sample.tested_at, sample.lab = result, tested_at, lab
    session.add(
        SampleResult(
            sample_id=sample.id,
            version=sample.result_version,
            result=result,
            tested_at=tested_at,
            lab=lab,
            source=source,
            reason=correction,
            recorded_at=now,
        )
    )
    await session.flush()
    await staff.audit(
        session,
        actor=actor,
        action="result_corrected" if correcting else "result_imported",
        subject=f"tube:{sample.tube_code}",
        now=now,
        detail=detail,
    )
    await _tell_members(session, sample, correction=correcting, now=now, tell=tell)
    return Outcome.CORRECTED if correcting else Outcome.ADDED


def _already_recorded(
    sample: Sample,
    earlier: Sequence[SampleResult],
    row: tuple[str, datetime, str],
    correction: str | None,
) -> bool:
    """Whether a row changes nothing: the current result again, or an earlier row again.

    Any earlier version counts, not only the latest: re-running yesterday's file after a
    correction must not undo the correction. An earlier correction counts only with its own
    reason: a correction back to an earlier result needs a reason of its own, and sending the
    same correction again (a retry) changes nothing.
    """
    if sample.result_version and (sample.result, sample.tested_at, sample.lab) == row:
        return True
    return any(
        (r.result, r.tested_at, r.lab) == row and correction in (None, r.reason) for r in earlier
    )


async def _tell_members(
    session: AsyncSession, sample: Sample, *, correction: bool, now: datetime, tell: bool
) -> None:
    site = await session.get(Site, sample.site_id) if sample.site_id else None
    rows = []
    for member, person, account in await samples.members_with_accounts(session, sample.id):
        if member.notified_version >= sample.result_version:
            continue
        member.notified_version = sample.result_version
        if not tell:
            continue
        member.notified_at = now  # the dashboard's turnaround: result -> citizen told

        def compose(person: Person = person) -> str:
            text = result_text(sample, person, site) + certificate_offer(sample)
            return _("Correction of an earlier result.") + " " + text if correction else text

        def buttons(person: Person = person) -> list[list[Button]]:
            return certificate_button(sample, person)

        def template(person: Person = person) -> tuple[str, dict[str, str]]:
            return "result", result_facts(sample, person)

        notice = notices.compose_for(account, compose, buttons=buttons, template=template)
        if notice is not None:
            rows.append(notice)
    await outbox.enqueue(session, rows, now=now)  # one statement for the whole tube
    await session.flush()


def certificate_button(sample: Sample, person: Person) -> list[list[Button]]:
    """The "test certificate" button under a negative result (none under other results)."""
    if sample.result != NEGATIVE:
        return []
    return [[Button(_("Get the test certificate"), f"cert:test:{sample.id}:{person.id}")]]


def certificate_offer(sample: Sample) -> str:
    """The sentence that goes with `certificate_button` (empty when there is no button)."""
    if sample.result != NEGATIVE:
        return ""
    return " " + _(
        "For a signed test certificate (a QR code valid for 72 hours from sampling), press the "
        "button below."
    )


def result_facts(sample: Sample, person: Person) -> dict[str, str]:
    """A result in a few words, in the current language, for a template message."""
    assert sample.result is not None and sample.tested_at is not None
    words = {NEGATIVE: _("negative"), POSITIVE: _("positive"), INCONCLUSIVE: _("inconclusive")}
    return {
        "name": person.full_name,
        "result": words.get(sample.result, sample.result),
        "tube": sample.tube_code,
        "time": format_moment(sample.tested_at),
    }


def result_text(sample: Sample, person: Person, site: Site | None) -> str:
    """The result message for one person in a tube, in the current language."""
    assert sample.result is not None and sample.tested_at is not None
    facts = {
        "name": person.full_name,
        "tube": sample.tube_code,
        "moment": format_moment(sample.tested_at),
        "lab": sample.lab or "",
        "site": site.name if site else _("the sampling site"),
        "hotline": HOTLINE,
    }
    if sample.result == NEGATIVE:
        return _("PCR result for {name}: NEGATIVE (tube {tube}, tested {moment}, {lab}).").format(
            **facts
        )
    if sample.result == INCONCLUSIVE:
        return _(
            "PCR result for {name}: INCONCLUSIVE (tube {tube}, tested {moment}, {lab}). The "
            "sample could not be read: please come back to {site} for a new sample."
        ).format(**facts)
    if sample.pooled:
        return _(
            "The pooled sample (mẫu gộp) {tube} with {name} is POSITIVE (tested {moment}, "
            "{lab}). This does not yet mean that {name} is infected: everyone in the pool will "
            "be sampled again individually. Please stay at home and come back to {site} for an "
            "individual sample today or tomorrow morning. Health hotline: {hotline}."
        ).format(**facts)
    return _(
        "PCR result for {name}: POSITIVE (tube {tube}, tested {moment}, {lab}). What to do now: "
        "stay at home and apart from others, wear a mask, tell your ward health station "
        "(trạm y tế phường/xã). If breathing becomes hard or there is chest pain, call 115 at "
        "once. Health hotline: {hotline}."
    ).format(**facts)
