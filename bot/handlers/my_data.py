"""`/xemdulieu`, the part about people: everything held about each person, masked.

For each person the account registered: identity (ID and phone numbers masked), ward, priority
group, appointments with their screening answers, doses, test tubes and results, certificates,
post-vaccination check-ins; then the children registered (with their doses), the reactions
reported and the support requests. Read from the database in a few queries, so what is shown
is what is stored.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from bot.conversation import Conversation
from bot.domain.form_lists import ANSWER_NO, ANSWER_YES, SCREENING, priority_groups
from bot.domain.immunisation.schedule import load_schedule
from bot.domain.results import INCONCLUSIVE, NEGATIVE, POSITIVE
from bot.domain.vaccines import PRODUCTS
from bot.i18n import N_, _, current_locale, format_day, format_moment
from bot.vn import divisions
from bot.vn.phone import mask_id_number, mask_phone
from storage import (
    accounts,
    bookings,
    certificates,
    checkins,
    children,
    held_data,
    people,
    vaccinations,
)
from storage.models import Booking, CheckIn, Child, Person, Sample, Site, Slot, Vaccination
from storage.tickets import OPEN

STATUSES = {
    bookings.ACTIVE: N_("booked"),
    bookings.ATTENDED: N_("attended"),
    bookings.CANCELLED: N_("cancelled"),
    bookings.MISSED: N_("missed"),
}
ANSWERS = {
    checkins.FINE: N_("fine"),
    checkins.MILD: N_("mild symptoms"),
    checkins.HELP: N_("needs help"),
}
SEVERITIES = {"mild": N_("mild"), "moderate": N_("moderate"), "severe": N_("severe")}


async def people_lines(conv: Conversation) -> str:
    """The people the account registered, each with everything held about them."""
    registered = list(await people.people_of(conv.session, conv.owner_id))
    if not registered:
        return ""
    ids = [person.id for person in registered]
    session = conv.session
    held = Counter(c.person_id for c in await certificates.of_people(session, ids))
    appointments: defaultdict[int, list[tuple[Booking, Slot, Site]]] = defaultdict(list)
    for booking, slot, site in reversed(await bookings.bookings_of(session, ids)):
        appointments[booking.person_id].append((booking, slot, site))
    doses = await vaccinations.histories(session, ids)
    tubes: defaultdict[int, list[Sample]] = defaultdict(list)
    for person_id, sample in await held_data.samples_of(session, ids):
        tubes[person_id].append(sample)
    asked: defaultdict[int, list[CheckIn]] = defaultdict(list)
    for checkin in await checkins.of_people(session, ids):
        asked[checkin.person_id].append(checkin)
    sections = [
        _person(conv, person, held[person.id])
        + _appointments(appointments[person.id], person.full_name)
        + _doses(doses[person.id], {site.id: site for _b, _s, site in appointments[person.id]})
        + _tubes(tubes[person.id])
        + _checkins(asked[person.id], doses[person.id])
        for person in registered
    ]
    return "\n\n" + _("People registered for vaccination:") + "\n\n" + "\n\n".join(sections)


def _person(conv: Conversation, person: Person, certificates_held: int) -> str:
    protector = conv.services.protector
    phone = mask_phone(protector.open(person.phone_sealed)) if person.phone_sealed else _("none")
    try:
        ward = divisions.ward(person.ward_code)
        place = f"{ward.name}, {ward.province_name}"
    except KeyError:
        place = str(person.ward_code)
    groups = priority_groups(conv.services.settings.priority_groups_file)
    group = next((g.label() for g in groups if g.code == person.priority_group), None)
    return "• " + _(
        "{name}, born {day}, {gender}, ID number {number}, phone {phone}, {place}, priority "
        "group: {group}, registered on {registered}, certificates: {count}"
    ).format(
        name=person.full_name,
        day=person.birth_date.strftime("%d/%m/%Y"),
        gender=_("male") if person.gender == "male" else _("female"),
        number=mask_id_number(protector.open(person.id_sealed)),
        phone=phone,
        place=place,
        group=group or person.priority_group,
        registered=format_moment(person.created_at),
        count=certificates_held,
    )


def _appointments(found: Sequence[tuple[Booking, Slot, Site]], name: str) -> str:
    lines = []
    for booking, slot, site in found:
        lines.append(
            _("Appointment {code}: dose {dose}, {site}, {when}, {status}").format(
                code=booking.code,
                dose=booking.dose_number,
                site=site.name,
                when=format_moment(slot.starts_at),
                status=_(STATUSES.get(booking.status, booking.status)),
            )
        )
        lines.extend(_screening(booking.screening, name))
    return "".join(line if line.startswith("\n") else f"\n  – {line}" for line in lines)


def _screening(answers: dict[str, str], name: str) -> list[str]:
    words = {ANSWER_YES: _("yes"), ANSWER_NO: _("no")}
    return [
        "\n      · "
        + _("Screening: {question} {answer}").format(
            question=_(text).format(name=name), answer=words.get(answers[key], _("not sure"))
        )
        for key, text in SCREENING
        if key in answers
    ]


def _doses(given: Sequence[Vaccination], known: dict[str, Site]) -> str:
    lines = [
        _("Dose {number}: {product}, lot {lot}, {day}{site}").format(
            number=dose.dose_number,
            product=_product(dose.product),
            lot=dose.lot,
            day=format_day(dose.given_on),
            site=", " + (known[dose.site_id].name if dose.site_id in known else dose.site_id)
            if dose.site_id
            else "",
        )
        for dose in given
    ]
    return "".join(f"\n  – {line}" for line in lines)


def _product(code: str) -> str:
    return PRODUCTS[code].label if code in PRODUCTS else code


def _tubes(taken: Sequence[Sample]) -> str:
    words = {NEGATIVE: _("negative"), POSITIVE: _("positive"), INCONCLUSIVE: _("inconclusive")}
    lines = [
        _("Test tube {tube}, sampled {moment}: {result}").format(
            tube=sample.tube_code,
            moment=format_moment(sample.taken_at),
            result=words.get(sample.result, sample.result)
            if sample.result
            else _("no result yet"),
        )
        for sample in taken
    ]
    return "".join(f"\n  – {line}" for line in lines)


def _checkins(asked: Sequence[CheckIn], given: Sequence[Vaccination]) -> str:
    numbers = {dose.id: dose.dose_number for dose in given}
    lines = [
        _("Check-in {days} after dose {number}: {answer}").format(
            days=_("the day after") if checkin.day == 1 else _("a week after"),
            number=numbers.get(checkin.vaccination_id, "?"),
            answer=_(ANSWERS[checkin.answer]) if checkin.answer in ANSWERS else _("no answer"),
        )
        for checkin in asked
    ]
    return "".join(f"\n  – {line}" for line in lines)


async def children_lines(conv: Conversation) -> str:
    """The children the account registered, with the doses recorded for them."""
    found: Sequence[Child] = await children.children_of(conv.session, conv.owner_id)
    if not found:
        return ""
    schedule, locale = load_schedule(), current_locale()
    protector = conv.services.protector
    sections = []
    for child in found:
        number = mask_id_number(protector.open(child.id_sealed)) if child.id_sealed else _("none")
        lines = [
            "• "
            + _("{name}, born {day}, ID number {number}").format(
                name=child.full_name, day=child.birth_date.strftime("%d/%m/%Y"), number=number
            )
        ]
        for dose in await children.doses_of(conv.session, child.id):
            try:
                vaccine = schedule.vaccine(dose.vaccine).name(locale)
            except KeyError:
                vaccine = dose.vaccine
            lines.append(
                "  – "
                + _("{vaccine}, dose {number}, {day}").format(
                    vaccine=vaccine, number=dose.dose_number, day=format_day(dose.given_on)
                )
            )
        sections.append("\n".join(lines))
    return "\n\n" + _("Children registered:") + "\n\n" + "\n\n".join(sections)


async def reaction_lines(conv: Conversation) -> str:
    """The reactions reported from this account."""
    found = await held_data.reactions_of(conv.session, conv.owner_id)
    if not found:
        return ""
    lines = [
        "• "
        + _("Report #{id}, {moment}: {severity}{product}").format(
            id=report.id,
            moment=format_moment(report.reported_at),
            severity=_(SEVERITIES.get(report.severity, report.severity)),
            product=f" ({_product(report.product)})" if report.product else "",
        )
        for report in found
    ]
    return "\n\n" + _("Reactions reported after vaccination:") + "\n" + "\n".join(lines)


async def ticket_lines(conv: Conversation) -> str:
    """The support requests opened from the citizen's chats."""
    chats = await accounts.linked_chats(conv.session, conv.owner_id)
    found = await held_data.tickets_of(conv.session, [chat.id for chat in chats])
    if not found:
        return ""
    lines = [
        "• "
        + _("Request #{id}, {moment}: {status}").format(
            id=ticket.id,
            moment=format_moment(ticket.opened_at),
            status=_("open") if ticket.status == OPEN else _("closed"),
        )
        for ticket in found
    ]
    return "\n\n" + _("Support requests:") + "\n" + "\n".join(lines)
