"""Symptoms first: urgent guidance for messages about symptoms, then a reaction report.

From any state (bot.dispatch routes it before the flows), a message the classifier
(bot.vn.symptoms) reads as a danger sign gets "call 115 now" with the vaccination site's phone
when a recent dose was given at a site that has one; a mild symptom gets reassurance and when
to seek care. Both offer to report a reaction after vaccination (`rx:report`, valid from any
message). The flow a citizen was in is untouched by the guidance, and kept while they report:
it resumes when the report is done.

Flow `reaction`: which dose (the account's recent doses, or none), what, since when, how severe.
The report is stored with the dose, its site and product (storage.reactions), and opens an
urgent support ticket (bot.domain.tickets) so staff see it; a severe one, or one about a
danger sign, is answered with the 115 advice again. Wording and sources: docs/safety.md.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.conversation import Conversation
from bot.domain import tickets
from bot.domain.tickets import DESK_LOCALE, END
from bot.domain.vaccines import PRODUCTS
from bot.handlers import registration, support
from bot.handlers.menu import kept_note, menu_buttons
from bot.i18n import N_, _, use_locale
from bot.messages import Button, Incoming, Kind, payload_id
from bot.payloads import REACTION
from bot.vn.symptoms import Concern, classify
from bot.vn.text import clean_text, fold
from storage import reactions, sites
from storage import tickets as ticket_store
from storage.models import Person, Reaction, Site, Vaccination

FLOW = "reaction"
REPORT = f"{REACTION}report"
EMERGENCY = "115"
RECENT_DAYS = 42  # doses offered in a report, and whose site's phone is given
NOTE_LIMIT = 500
STARTED = (
    ("today", N_("Today")),
    ("yesterday", N_("Yesterday")),
    ("earlier", N_("Earlier")),
)
SEVERITY = (
    ("mild", N_("Mild: I can go about my day")),
    ("moderate", N_("Moderate: I need to rest")),
    ("severe", N_("Severe: I cannot do my usual things")),
)
SYMPTOMS = (
    ("fever", N_("Fever")),
    ("injection_site", N_("Pain or swelling where injected")),
    ("tired", N_("Tiredness, headache, aches")),
    ("rash", N_("Rash or itching")),
    ("breathing", N_("Difficulty breathing, chest pain")),
    ("fainting", N_("Fainting or seizure")),
)
DANGER_SYMPTOMS = frozenset({"breathing", "fainting"})
_WHEN_WORDS = {"hom nay": "today", "nay": "today", "hom qua": "yesterday", "qua": "yesterday"}


class Step:
    """Where the report flow waits."""

    DOSE = "dose"
    WHAT = "what"
    WHEN = "when"
    SEVERITY = "severity"


# ---------------------------------------------------------------- guidance


def is_about_symptoms(msg: Incoming) -> bool:
    """Whether a typed message is about symptoms or a reaction (see bot.vn.symptoms)."""
    return msg.kind == Kind.TEXT and msg.command is None and classify(msg.text) is not None


def danger_text(site: Site | None) -> str:
    """Call 115 now; the vaccination site's phone when known."""
    text = _(
        "⚠️ This may be a danger sign. Call {emergency} (emergency) now, or go to the nearest "
        "emergency department. Do not wait for an answer here."
    ).format(emergency=EMERGENCY)
    if site is not None and site.phone:
        text += "\n" + _("Your vaccination site, {site}: {phone}.").format(
            site=site.name, phone=site.phone
        )
    return text


def mild_text(site: Site | None) -> str:
    """Common reactions, what helps, and when to seek care."""
    text = _(
        "Mild fever, pain or swelling where the injection was given, tiredness and headache "
        "are common after a vaccination and usually pass within 1–2 days. Rest and drink "
        "plenty of water; put nothing on the injection site.\n"
        "See a doctor now if the fever reaches 39 °C, does not come down or lasts more than "
        "a day, or if it gets worse. Call {emergency} at once for difficulty breathing, chest "
        "pain, fainting, seizures or swelling of the lips or face."
    ).format(emergency=EMERGENCY)
    if site is not None and site.phone:
        text += "\n" + _("Your vaccination site, {site}: {phone}.").format(
            site=site.name, phone=site.phone
        )
    return text


async def _recent(conv: Conversation) -> list[tuple[Vaccination, Person]]:
    since = conv.now.date() - timedelta(days=RECENT_DAYS)
    return list(await reactions.recent_doses(conv.session, conv.owner_id, since=since))


async def _site_with_phone(conv: Conversation) -> Site | None:
    """The site of the newest recent dose given where a phone is known."""
    for dose, _person in await _recent(conv):
        site = await sites.get_site(conv.session, dose.site_id) if dose.site_id else None
        if site is not None and site.phone:
            return site
    return None


async def guide(msg: Incoming, conv: Conversation) -> None:
    """Answer a message about symptoms first; the flow (or ticket) the citizen was in goes on."""
    concern = classify(msg.text)
    site = await _site_with_phone(conv) if conv.consented else None
    first = danger_text(site) if concern == Concern.DANGER else mild_text(site)
    offer = _(
        "If this began after a vaccination, you can report it: the staff will be told and "
        "can contact you."
    )
    if conv.ticket_id is not None:  # staff are on the line: they read it too
        conv.reply(first)
        await support.relay(msg, conv)
        return
    conv.reply(
        first + "\n\n" + offer + kept_note(conv),
        buttons=[[Button(_("Report a reaction"), REPORT)]],
    )


# ---------------------------------------------------------------- the report


def _begin(conv: Conversation) -> None:
    """Open the report, keeping the flow the citizen was in (it resumes after)."""
    resume = conv.data.get("resume") if conv.flow == FLOW else None
    if conv.flow not in (None, FLOW):
        resume = {"flow": conv.flow, "step": conv.step, "data": dict(conv.data)}
    conv.goto(FLOW, Step.DOSE)
    conv.data = {"resume": resume} if resume else {}


async def report_about_dose(conv: Conversation, dose_id: int) -> None:
    """Open a report about a dose already known (a check-in's "need help"): ask what happened."""
    _begin(conv)
    if dose_id in {dose.id for dose, _person in await _recent(conv)}:
        conv.data["dose"] = dose_id
    await _ask_what(conv)


async def start_report(msg: Incoming, conv: Conversation) -> None:
    """`rx:report`: ask which dose, keeping the flow the citizen was in."""
    _begin(conv)
    doses = await _recent(conv)
    if not doses:
        await _ask_what(conv)
        return
    buttons = [
        [Button(_dose_label(dose, person)[:60], f"{REACTION}dose:{dose.id}")]
        for dose, person in doses
    ]
    buttons.append([Button(_("Another vaccination"), f"{REACTION}dose:none")])
    conv.reply(_("After which vaccination did it begin?"), buttons=buttons)


def _dose_label(dose: Vaccination, person: Person) -> str:
    product = PRODUCTS[dose.product].label if dose.product in PRODUCTS else dose.product
    return _("{name}, dose {number}, {day}").format(
        name=person.full_name, number=dose.dose_number, day=dose.given_on.strftime("%d/%m")
    ) + (f" ({product.split(' ')[0]})" if product else "")


async def receive_dose(msg: Incoming, conv: Conversation) -> None:
    """Take the dose button (or "another vaccination")."""
    choice = (msg.payload or "").removeprefix(f"{REACTION}dose:")
    if choice != "none":
        dose_id = payload_id(choice)
        mine = {dose.id for dose, _person in await _recent(conv)}
        if dose_id is None or dose_id not in mine:
            conv.reply(_("Please choose one of the buttons above."))
            return
        conv.data["dose"] = dose_id
    await _ask_what(conv)


async def _ask_what(conv: Conversation) -> None:
    conv.goto(FLOW, Step.WHAT)
    buttons = [[Button(_(label), f"{REACTION}what:{code}")] for code, label in SYMPTOMS]
    conv.reply(_("What happened? Choose below, or describe it in a few words."), buttons=buttons)


async def receive_what(msg: Incoming, conv: Conversation) -> None:
    """Take a symptom button, or a description typed."""
    code = (msg.payload or "").removeprefix(f"{REACTION}what:")
    if code in dict(SYMPTOMS):
        conv.data["symptoms"] = [code]
    elif msg.kind == Kind.TEXT and msg.text.strip():
        conv.data["note"] = clean_text(msg.text, limit=NOTE_LIMIT)
        conv.data["symptoms"] = ["danger" if classify(msg.text) == Concern.DANGER else "other"]
    else:
        conv.reply(_("Please choose one of the buttons above, or describe it in a few words."))
        return
    conv.goto(FLOW, Step.WHEN)
    conv.reply(
        _("When did it start?"),
        buttons=[[Button(_(label), f"{REACTION}when:{code}") for code, label in STARTED]],
    )


async def receive_when(msg: Incoming, conv: Conversation) -> None:
    """Take today / yesterday / earlier."""
    code = (msg.payload or "").removeprefix(f"{REACTION}when:")
    code = code if code in dict(STARTED) else _WHEN_WORDS.get(fold(msg.text), "")
    if not code:
        conv.reply(_("Please choose one of the buttons above."))
        return
    conv.goto(FLOW, Step.SEVERITY, started=code)
    conv.reply(
        _("How severe is it?"),
        buttons=[[Button(_(label), f"{REACTION}sev:{code}")] for code, label in SEVERITY],
    )


async def receive_severity(msg: Incoming, conv: Conversation) -> None:
    """Take the severity, store the report, tell the staff, and go back to what was kept."""
    severity = (msg.payload or "").removeprefix(f"{REACTION}sev:")
    if severity not in dict(SEVERITY):
        conv.reply(_("Please choose one of the buttons above."))
        return
    report = await _store(conv, severity)
    urgent = (
        severity == "severe"
        or bool(DANGER_SYMPTOMS.intersection(report.symptoms))
        or ("danger" in report.symptoms)
    )
    site = await sites.get_site(conv.session, report.site_id) if report.site_id else None
    if urgent:
        conv.reply(danger_text(site))
    dose = await conv.session.get(Vaccination, report.vaccination_id or 0)
    ticket_text = await _open_ticket(conv, report, site, dose)
    resume: dict[str, Any] | None = conv.data.get("resume")
    conv.finish()
    thanks = _("Thank you. Your report #{id} is recorded.").format(id=report.id)
    if resume:
        conv.goto(resume["flow"], resume["step"])
        conv.data = dict(resume["data"])
    if conv.ticket_id is not None:
        conv.reply(thanks + " " + ticket_text, buttons=[[Button(_("End the conversation"), END)]])
    elif conv.flow == registration.FLOW:
        conv.reply(thanks + " " + ticket_text + kept_note(conv))
        await registration.advance(conv)  # the question the form waits on, again
    else:
        conv.reply(
            thanks + " " + ticket_text + kept_note(conv),
            buttons=[] if conv.flow else menu_buttons(),
        )


async def _store(conv: Conversation, severity: str) -> Reaction:
    dose_id = conv.data.get("dose")
    found = {dose.id: (dose, person) for dose, person in await _recent(conv)}
    dose, person = found.get(dose_id, (None, None)) if dose_id else (None, None)
    return await reactions.add_reaction(
        conv.session,
        Reaction(
            account_id=conv.account.id,
            person_id=person.id if person else None,
            vaccination_id=dose.id if dose else None,
            site_id=dose.site_id if dose else None,
            product=dose.product if dose else None,
            symptoms=list(conv.data.get("symptoms", [])),
            note=conv.data.get("note"),
            started=str(conv.data.get("started", "")),
            severity=severity,
            reported_at=conv.now,
        ),
    )


def _reason(report: Reaction, site: Site | None) -> str:
    """The ticket's reason, for the desk."""
    with use_locale(DESK_LOCALE):
        severity = _(dict(SEVERITY)[report.severity]).split(":")[0]
        where = site.name if site else _("no dose named")
        return _("URGENT: reaction after vaccination, report #{id} ({severity}; {where})").format(
            id=report.id, severity=severity, where=where
        )


def _details(report: Reaction, dose: Vaccination | None) -> str:
    """What the citizen reported, for the desk."""
    with use_locale(DESK_LOCALE):
        what = ", ".join(_(dict(SYMPTOMS).get(code, code)) for code in report.symptoms)
        started = _(dict(STARTED).get(report.started, report.started))
        lines = [
            _("What: {what}").format(what=what if report.note is None else report.note),
            _("Started: {when}").format(when=started),
        ]
        if dose is not None:
            lines.append(
                _("Dose {number}: {product}, lot {lot}, given on {day}").format(
                    number=dose.dose_number,
                    product=dose.product,
                    lot=dose.lot,
                    day=dose.given_on.strftime("%d/%m/%Y"),
                )
            )
        return "\n".join(lines)


async def _open_ticket(
    conv: Conversation, report: Reaction, site: Site | None, dose: Vaccination | None
) -> str:
    """Open the urgent ticket (desk and console, or console alone); what to tell the citizen."""
    desk = conv.services.desk  # None: the ticket is in the console's inbox alone
    session, account = conv.session, conv.account
    with use_locale(DESK_LOCALE):
        who = await tickets.describe_citizen(session, account, conv.services.protector)
        details = _details(report, dose)
    ticket = await tickets.open_ticket(
        session,
        account=account,
        reason=_reason(report, site),
        who=who,
        context=details.split("\n"),
        desk=desk,
        now=conv.now,
    )
    # The console shows the report itself too, as a note staff see and the citizen does not.
    await ticket_store.add_entry(
        session,
        ticket.id,
        kind=ticket_store.NOTE,
        author=tickets.BOT_ACTOR,
        text=details,
        now=conv.now,
    )
    report.ticket_id = ticket.id
    conv.ticket_id = ticket.id
    conv.after_commit.append(conv.services.desk_woken)
    return _(
        "A staff member has been asked to contact you here (request #{id}); write to them in "
        "this chat. Press “End” when you are done."
    ).format(id=ticket.id)


STEPS = {
    Step.DOSE: receive_dose,
    Step.WHAT: receive_what,
    Step.WHEN: receive_when,
    Step.SEVERITY: receive_severity,
}
