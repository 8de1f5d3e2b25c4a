"""Reminders of a child's doses: a week before, the day before, and 7 and 30 days late.

Each child has one job group (`child:<id>`). `plan` (re)writes it from the rules engine: for each
day a dose falls due (the first missing dose of each series: due, overdue or upcoming) within
`HORIZON` (at least the next one), one job a week before, one the day before, and one 7 and one
30 days after that day if the dose is still missing, all at 09:00 Vietnam time, only those still
ahead; each reminder that fires plans again. Planning runs when a child is
registered, when a parent reports a dose and when a site records one, in that transaction, so
the jobs of a recorded dose are withdrawn with it; the handler also checks again at firing time
and skips a reminder whose doses are all on record (or that the parent booked a session for).

Nothing is said twice: every job carries the keys (moment, vaccine, dose) it speaks for, and a
re-plan leaves out keys of reminders that already fired. The scheduler holds them in the quiet
hours like any non-urgent job, and `notices` drops them for an account without consent.
Each reminder offers the ward health station's children's sessions (`child:book:<child>`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import groupby

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import notices
from bot.domain.immunisation.rules import Assessment, DoseRecord, DoseState, DoseStatus, State
from bot.domain.immunisation.rules import assess as judge
from bot.domain.immunisation.schedule import load_schedule
from bot.domain.jobs import JobKind, Run, Verdict
from bot.i18n import TIMEZONE, _, current_locale, format_day, local_day
from bot.messages import Button
from storage import children, jobs, outbox
from storage.jobs import NewJob
from storage.models import Account, Child, ChildDose, Slot

KIND = "child_reminder"
REMIND_AT = time(9, 0)
HORIZON = timedelta(days=400)  # due days planned ahead (a reminder that fires plans again)
BOOK, RECORD = "child:book:", "child:record"


@dataclass(frozen=True)
class Moment:
    """When a reminder goes, in days from the day the dose is due."""

    name: str
    offset: int


WEEK_BEFORE, DAY_BEFORE = Moment("week", -7), Moment("eve", -1)
LATE_7, LATE_30 = Moment("late7", 7), Moment("late30", 30)
MOMENTS = (WEEK_BEFORE, DAY_BEFORE, LATE_7, LATE_30)
_BY_NAME = {moment.name: moment for moment in MOMENTS}


def group_of(child_id: int) -> str:
    """The job group of a child's reminders."""
    return f"child:{child_id}"


def key_of(moment: Moment, state: DoseState) -> str:
    """What one reminder says about one dose, to say it once."""
    return f"{moment.name}:{state.dose.vaccine}:{state.dose.number}"


def assessment(child: Child, doses: Sequence[ChildDose], today: date) -> Assessment:
    """The rules engine's view of a child today, from its stored doses."""
    records = [
        DoseRecord(d.vaccine, d.dose_number, d.given_on, DoseStatus(d.status)) for d in doses
    ]
    return judge(load_schedule(), child.birth_date, records, today=today)


def awaited(found: Assessment) -> list[DoseState]:
    """The first missing dose of each series still indicated, with its due day."""
    seen: set[str] = set()
    wanted = []
    for state in found.doses:
        if state.state is State.DONE or state.dose.vaccine in seen:
            continue
        seen.add(state.dose.vaccine)
        if state.state is not State.NOT_INDICATED and state.due_on is not None:
            wanted.append(state)
    return wanted


def planned(child_id: int, found: Assessment, *, now: datetime, sent: set[str]) -> list[NewJob]:
    """The reminders still ahead of `now` for the awaited doses, minus what was already said.

    Only for the days due within `HORIZON` (or the first one, when none is): each reminder
    that fires plans again, so the later days are planned as they come near.
    """
    new = []
    waiting = sorted(awaited(found), key=lambda s: s.due_on or found.today)
    near = [s for s in waiting if s.due_on and s.due_on <= found.today + HORIZON]
    if not near and waiting:
        near = [s for s in waiting if s.due_on == waiting[0].due_on]
    by_day = near
    for due_on, states in groupby(by_day, key=lambda s: s.due_on):
        assert due_on is not None
        doses = list(states)
        for moment in MOMENTS:
            at = datetime.combine(due_on + timedelta(days=moment.offset), REMIND_AT, TIMEZONE)
            keys = [key_of(moment, s) for s in doses if key_of(moment, s) not in sent]
            if at <= now or not keys:
                continue
            payload = {
                "child": child_id,
                "moment": moment.name,
                "due": due_on.isoformat(),
                "doses": [
                    [s.dose.vaccine, s.dose.number] for s in doses if key_of(moment, s) in keys
                ],
                "keys": keys,
            }
            new.append(NewJob(KIND, at, payload, group_of(child_id)))
    return new


async def plan(session: AsyncSession, child: Child, *, now: datetime) -> int:
    """(Re)write the child's reminders from its doses today; how many are pending."""
    group = group_of(child.id)
    await jobs.cancel_group(session, group, now=now, kinds=[KIND])
    if child.account_id is None:
        return 0
    doses = await children.doses_of(session, child.id)
    found = assessment(child, doses, local_day(now))
    sent = {
        key for p in await children.sent_job_payloads(session, group, KIND) for key in p["keys"]
    }
    new = planned(child.id, found, now=now, sent=sent)
    await jobs.schedule(session, new, now=now)
    return len(new)


# ---------------------------------------------------------------- firing


async def remind(run: Run) -> Verdict:
    """Tell the parent about the doses still missing, with the ward's sessions to book."""
    payload = run.job.payload
    child = await run.session.get(Child, int(payload["child"]))
    if child is None or child.account_id is None:
        return Verdict.SKIPPED
    account = await run.session.get(Account, child.account_id)
    moment = _BY_NAME[payload["moment"]]
    doses = await children.doses_of(run.session, child.id)
    found = assessment(child, doses, local_day(run.now))
    wanted = {(tuple(item)) for item in payload["doses"]}
    missing = [s for s in awaited(found) if (s.dose.vaccine, s.dose.number) in wanted]
    if not missing:
        return Verdict.SKIPPED  # recorded (or reported) since: nothing to remind of
    if moment.offset < 0 and await _session_ahead(run, child.id):
        return Verdict.SKIPPED  # a session is booked: its day is what matters now
    due_on = date.fromisoformat(payload["due"])

    def compose() -> str:
        return reminder_text(child.full_name, moment, missing, due_on)

    def buttons() -> list[list[Button]]:
        return [
            [Button(_("Book at the health station"), f"{BOOK}{child.id}")],
            [Button(_("Immunisation card"), RECORD)],
        ]

    def template() -> tuple[str, dict[str, str]]:
        names = ", ".join(s.dose.name(current_locale()) for s in missing)
        return KIND, {"name": child.full_name, "doses": names, "day": format_day(due_on)}

    notice = notices.compose_for(account, compose, buttons=buttons, template=template)
    if notice is None:
        return Verdict.SKIPPED  # unreachable, or consent withdrawn
    await outbox.enqueue(run.session, [notice], now=run.now)
    await plan(run.session, child, now=run.now)  # this one is done: the next days come near
    return Verdict.DONE


async def _session_ahead(run: Run, child_id: int) -> bool:
    booking = await children.active_booking(run.session, child_id)
    slot = await run.session.get(Slot, booking.slot_id) if booking is not None else None
    return slot is not None and slot.starts_at > run.now


def reminder_text(name: str, moment: Moment, missing: list[DoseState], due_on: date) -> str:
    """The reminder's words, in the current language."""
    names = ", ".join(s.dose.name(current_locale()) for s in missing)
    facts = {"name": name, "doses": names, "day": format_day(due_on)}
    if moment is WEEK_BEFORE:
        text = _("In a week, on {day}, {name} is due for: {doses}.")
    elif moment is DAY_BEFORE:
        text = _("Tomorrow, {day}, {name} is due for: {doses}.")
    else:
        text = _(
            "{name} was due on {day} for: {doses}. It is not on record yet; please bring "
            "{name} to the health station soon (if it was given, the station can record it)."
        )
    return text.format(**facts) + "\n" + _("You can book a session at the ward health station.")


KINDS = {KIND: JobKind(remind)}
