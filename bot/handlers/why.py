"""“Why?” answered from the record (issue 16.7).

"sao chưa có giấy chứng nhận", "tại sao chưa có kết quả", "sao không nhận được nhắc lịch",
"sao chưa ghi nhận mũi 2".

The answer is built from the account's own people and what is recorded about them (doses,
appointments that passed without a dose, tubes, certificates, where messages go), one line per
person, and ends with the next step as buttons. Nothing is guessed: what is not recorded is said
to be not recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from bot import payloads
from bot.conversation import Conversation
from bot.domain import notices
from bot.domain.dose_corrections import dose_label
from bot.handlers.menu import ENTRIES, menu_buttons
from bot.i18n import CHANNEL_NAMES, _, format_day, format_moment
from bot.messages import Button, Incoming
from bot.vn.intents import Topic, why_topic
from storage import bookings, certificates, explanations, people, vaccinations
from storage.certificates import NEW
from storage.models import Account, Person, Site

MAX_PEOPLE = 5  # a family's answer stays one readable message
USUAL_TURNAROUND = timedelta(hours=24)  # when the site has no results yet to measure
FIX_START = payloads.FIX + "start"

Lines = tuple[list[str], list[list[Button]]]


def _entry(payload: str) -> list[Button]:
    return [Button(_(ENTRIES[payload]), payload)]


def _fix_button() -> list[Button]:
    return [Button(_("Report a wrong dose record"), FIX_START)]


async def explain(msg: Incoming, conv: Conversation) -> None:
    """Answer a "why" question from the account's records, with the next step."""
    found = list(await people.people_of(conv.session, conv.owner_id))[:MAX_PEOPLE]
    if not found:
        conv.reply(
            _(
                "No one is registered on this account yet, so there is no record to explain. "
                "Register first, or write “hỗ trợ” to ask a staff member."
            ),
            buttons=menu_buttons(),
        )
        return
    topic = why_topic(msg.text) or Topic.DOSE
    answer: Callable[[Conversation, list[Person]], Awaitable[Lines]] = {
        Topic.CERTIFICATE: _certificate,
        Topic.RESULTS: _results,
        Topic.REMINDERS: _reminders,
        Topic.DOSE: _doses,
    }[topic]
    lines, buttons = await answer(conv, found)
    conv.reply("\n\n".join(lines), buttons=buttons)


async def _sites(conv: Conversation, ids: Sequence[str | None]) -> dict[str, str]:
    names = {}
    for site_id in {i for i in ids if i}:
        site = await conv.session.get(Site, site_id)
        names[site_id] = site.name if site else site_id
    return names


def _where_sent(owner: Account) -> str:
    channel = notices.address_of(owner).channel
    return _(CHANNEL_NAMES.get(channel, channel))


async def _certificate(conv: Conversation, found: list[Person]) -> Lines:
    ids = [p.id for p in found]
    doses = await vaccinations.histories(conv.session, ids)
    certs = [c for c in await certificates.of_people(conv.session, ids) if c.kind == "v"]
    passed = await explanations.passed_unrecorded(conv.session, ids, now=conv.now)
    owner = await conv.session.get(Account, conv.owner_id) or conv.account
    lines = []
    for person in found:
        given = doses[person.id]
        cert = next((c for c in certs if c.person_id == person.id), None)
        facts = {"name": person.full_name, "channel": _where_sent(owner)}
        if not given:
            missed = next(((b, s) for b, s in passed if b.person_id == person.id), None)
            lines.append(_no_dose_line(facts, missed[1].starts_at if missed else None))
        elif cert is None:
            facts["dose"] = dose_label(given[-1])
            lines.append(
                _(
                    "{name}: {dose} is recorded, but no certificate has been issued yet. "
                    "Please write “hỗ trợ” so that a staff member can check."
                ).format(**facts)
            )
        else:
            lines.append(_certificate_line(facts, cert.status, cert.issued_at, cert.revoked_at))
    return lines, [_entry("menu:certificate"), _fix_button(), _entry("menu:support")]


def _no_dose_line(facts: dict[str, str], missed_at: datetime | None) -> str:
    if missed_at is None:
        return _(
            "{name}: no dose is recorded yet, so there is no certificate. The certificate is "
            "issued as soon as the vaccination site records a dose."
        ).format(**facts)
    return _(
        "{name}: the appointment of {moment} has no dose recorded: the site has not recorded "
        "it yet. The certificate is issued as soon as it does. If {name} was vaccinated then, "
        "please tell the site, or write “hỗ trợ”."
    ).format(moment=format_moment(missed_at), **facts)


def _certificate_line(
    facts: dict[str, str], status: str, issued: datetime, revoked: datetime | None
) -> str:
    if revoked is not None:
        return _(
            "{name}: the certificate was withdrawn on {day}. Please write “hỗ trợ” to know why."
        ).format(day=format_day(revoked.date()), **facts)
    if status == NEW:
        return _(
            "{name}: the certificate is being prepared (since {moment}); it is sent to your "
            "{channel} chat within minutes."
        ).format(moment=format_moment(issued), **facts)
    return _(
        "{name}: the certificate was issued on {moment} and sent to your {channel} chat. "
        "Press “Certificates” to get it again."
    ).format(moment=format_moment(issued), **facts)


async def _results(conv: Conversation, found: list[Person]) -> Lines:
    lines = []
    for person in found:
        tube = await explanations.latest_tube(conv.session, person.id)
        facts = {"name": person.full_name}
        if tube is None:
            lines.append(
                _(
                    "{name}: no sample is recorded. If a sample was taken, look the result up "
                    "with the tube code on the slip (“Look up a result”)."
                ).format(**facts)
            )
        elif tube.result is None:
            usual = await explanations.usual_turnaround(conv.session, tube.site_id)
            lines.append(_waiting_line(conv, facts, tube.tube_code, tube.taken_at, usual))
        else:
            assert tube.tested_at is not None
            lines.append(
                _(
                    "{name}: the result of tube {tube} is ready (tested {moment}). Press "
                    "“Test results” to see it."
                ).format(tube=tube.tube_code, moment=format_moment(tube.tested_at), **facts)
            )
    buttons = [_entry("menu:results"), _entry("menu:lookup"), _entry("menu:support")]
    return lines, buttons


def _hours(span: timedelta) -> int:
    return max(1, round(span.total_seconds() / 3600))


def _waiting_line(
    conv: Conversation, facts: dict[str, str], tube: str, taken: datetime, usual: timedelta | None
) -> str:
    waited = conv.now - taken
    typical = usual or USUAL_TURNAROUND
    text = _(
        "{name}: tube {tube} was taken {moment}; it has no result yet. Results from there "
        "usually take about {usual} hours, and it has been {waited} hours. The result comes to "
        "this chat as soon as the lab sends it."
    ).format(
        tube=tube,
        moment=format_moment(taken),
        usual=_hours(typical),
        waited=_hours(waited),
        **facts,
    )
    if waited > 2 * typical:
        text += " " + _("This is longer than usual: write “hỗ trợ” and a staff member will ask.")
    return text


async def _reminders(conv: Conversation, found: list[Person]) -> Lines:
    owner = await conv.session.get(Account, conv.owner_id) or conv.account
    lines = []
    if notices.address_of(owner) != conv.chat:
        lines.append(
            _(
                "Reminders go to your {channel} chat (the one you chose or used last); "
                "write /lienket to change that."
            ).format(channel=_where_sent(owner))
        )
    if owner.unreachable_at is not None:
        lines.append(
            _(
                "Messages to your {channel} chat could not be delivered since {day} (was the "
                "chat blocked or deleted?), so no reminder reached you."
            ).format(channel=_where_sent(owner), day=format_day(owner.unreachable_at.date()))
        )
    lines.extend(await _appointment_lines(conv, found))
    if owner.announcements_off_at is not None:
        lines.append(
            _(
                "Ward announcements are off since {day} because you chose to stop them "
                "(/tatthongbao); appointment reminders are not affected. Write /batthongbao to "
                "receive announcements again."
            ).format(day=format_day(owner.announcements_off_at.date()))
        )
    return lines, [_entry("menu:appointments"), _entry("menu:register")]


async def _appointment_lines(conv: Conversation, found: list[Person]) -> list[str]:
    booked = await bookings.bookings_of(conv.session, [p.id for p in found])
    lines = []
    for person in found:
        ahead = [
            (b, slot, site)
            for b, slot, site in booked
            if b.person_id == person.id
            and b.status == bookings.ACTIVE
            and slot.starts_at > conv.now
        ]
        if not ahead:
            lines.append(
                _(
                    "{name}: no appointment is booked, so there is nothing to remind. Reminders "
                    "come the evening before (18:00) and 2 hours before an appointment."
                ).format(name=person.full_name)
            )
            continue
        _b, slot, site = min(ahead, key=lambda row: row[1].starts_at)
        lines.append(
            _(
                "{name}: appointment {moment} at {site}. Reminders are sent the evening before "
                "(18:00) and 2 hours before."
            ).format(name=person.full_name, moment=format_moment(slot.starts_at), site=site.name)
        )
    return lines


async def _doses(conv: Conversation, found: list[Person]) -> Lines:
    ids = [p.id for p in found]
    doses = await vaccinations.histories(conv.session, ids)
    passed = await explanations.passed_unrecorded(conv.session, ids, now=conv.now)
    sites = await _sites(conv, [d.site_id for given in doses.values() for d in given])
    lines = []
    for person in found:
        recorded = [
            dose_label(d) + (f" · {sites[d.site_id]}" if d.site_id else "")
            for d in doses[person.id]
        ]
        text = person.full_name + ": " + ("; ".join(recorded) or _("no dose recorded yet."))
        for _booking, slot in (row for row in passed if row[0].person_id == person.id):
            text += "\n" + _(
                "The appointment of {moment} has no dose recorded: the site has not recorded "
                "it yet."
            ).format(moment=format_moment(slot.starts_at))
        lines.append(text)
    return lines, [_fix_button(), _entry("menu:support")]
