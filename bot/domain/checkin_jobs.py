"""Post-vaccination check-ins by chat, as CDC's V-safe does by text: "how are you now?".

Each recorded dose (`bot.domain.doses`) schedules two jobs in its group (`checkin:<dose id>`):
on the day after it was given and a week after, at 10:00. Firing, a job stores the question
(storage.checkins, one per dose and day) and sends it with three buttons: fine, mild symptoms,
need help (`ci:<answer>:<check-in id>`, answered by `bot.handlers.checkins`). It is skipped when
the account cannot be told (erased, unreachable, consent withdrawn) or turned check-ins off
(/tathoitham); like reminders, it waits while the quiet hours last, and after a long pause
only the latest of a dose's two is asked. A check-in more than a day past its time (an import
of old records, a long outage) is not asked.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import notices
from bot.domain.jobs import JobKind, Run, Verdict
from bot.domain.vaccines import PRODUCTS
from bot.i18n import TIMEZONE, _, format_day
from bot.messages import Button
from bot.payloads import CHECK_IN
from storage import checkins, jobs, outbox
from storage.checkins import FINE, HELP, MILD
from storage.jobs import NewJob
from storage.models import Account, CheckIn, Person, Vaccination

KIND = "checkin"
DAYS = (1, 7)
ASK_AT = time(10, 0)
LATE = timedelta(days=1)  # a check-in this late (a dose recorded late, an outage) is not asked


def group_of(dose_id: int) -> str:
    """The job group of a dose's check-ins."""
    return f"checkin:{dose_id}"


async def schedule_for_dose(session: AsyncSession, dose: Vaccination, *, now: datetime) -> None:
    """Plan the day-1 and day-7 check-ins of a dose just recorded (those still ahead)."""
    planned = [
        NewJob(
            KIND,
            datetime.combine(dose.given_on + timedelta(days=day), ASK_AT, TIMEZONE),
            {"dose": dose.id, "day": day},
            group_of(dose.id),
        )
        for day in DAYS
    ]
    # A dose recorded a little late (the next morning) still gets its day-1 question.
    await jobs.schedule(session, [job for job in planned if job.due_at > now - LATE], now=now)


def question(name: str, day: int, product: str, given_on: date) -> str:
    """The check-in question, in the current language.

    Worded from the day of the dose, so it reads right on whichever day it is asked.
    """
    text = (
        _("How is {name} after the {product} vaccination on {day}?")
        if day == 1
        else _("A week after the {product} vaccination on {day}: how is {name}?")
    )
    return (
        text.format(name=name, product=product, day=format_day(given_on))
        + "\n"
        + _("Please press one of the buttons. To stop these questions, type /tathoitham.")
    )


def answer_buttons(checkin_id: int) -> list[list[Button]]:
    """Fine / mild symptoms / need help, in the current language."""
    return [
        [Button(_("I am fine"), f"{CHECK_IN}{FINE}:{checkin_id}")],
        [Button(_("Mild symptoms"), f"{CHECK_IN}{MILD}:{checkin_id}")],
        [Button(_("I need help"), f"{CHECK_IN}{HELP}:{checkin_id}")],
    ]


async def ask(run: Run) -> Verdict:
    """Ask how the vaccinated person is, unless the account may not or does not want to hear."""
    session, day = run.session, int(run.job.payload["day"])
    dose = await session.get(Vaccination, int(run.job.payload["dose"]))
    person = await session.get(Person, dose.person_id) if dose is not None else None
    if dose is None or person is None or person.account_id is None:
        return Verdict.SKIPPED
    account = await session.get(Account, person.account_id)
    if (
        not notices.can_tell(account)
        or account.checkins_off_at is not None
        or run.now - run.job.due_at > LATE
    ):
        return Verdict.SKIPPED
    checkin = await checkins.ask(
        session,
        CheckIn(
            account_id=account.id,
            person_id=person.id,
            vaccination_id=dose.id,
            site_id=dose.site_id,
            product=dose.product,
            day=day,
            asked_at=run.now,
        ),
    )
    if checkin is None:
        return Verdict.SKIPPED
    label = PRODUCTS[dose.product].label if dose.product in PRODUCTS else dose.product
    notice = notices.compose_for(
        account,
        lambda: question(person.full_name, day, label, dose.given_on),
        buttons=lambda: answer_buttons(checkin.id),
        template=lambda: (KIND, {"name": person.full_name, "product": label, "day": str(day)}),
    )
    if notice is None:
        return Verdict.SKIPPED
    await outbox.enqueue(session, [notice], now=run.now)
    return Verdict.DONE


KINDS = {KIND: JobKind(ask)}
