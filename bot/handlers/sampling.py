"""Sampling staff record a tube in the chat: tube code -> personal QRs -> "Done".

Flow `sampling` (only for users holding the `sampler` role; anyone else gets the ordinary
"unknown command" answer), started by /laymau (a tube code may follow the command):
    TUBE   -> the tube code, typed or the text of its barcode
    PEOPLE -> personal QR texts (`XN1:...`), one or several per message (spaces or new lines
              between them), each checked at once and refused with the reason in plain words;
              "Done" records the tube (one person, or a pool of up to 10) and tells each person;
              "Drop this tube" forgets it.
After a tube the flow waits for the next tube code, for a quick desk routine; /huy ends it.
The site is the sampler's first site (none for a sampler without sites).

The accepted tokens wait in the conversation row until "Done": they are opaque (no personal
data in them), and `record_sample` checks them all again before anything is written.
"""

from __future__ import annotations

import re
from enum import StrEnum

from bot.conversation import Conversation, Handler
from bot.domain import qr_tokens
from bot.domain.samples import (
    MAX_POOL,
    SampleProblem,
    check_token,
    read_tube_code,
    record_sample,
)
from bot.handlers import start
from bot.handlers.roles import role_held
from bot.i18n import _
from bot.messages import Button, Incoming, Kind
from bot.vn.text import fold
from storage import samples, staff
from storage.models import Person, StaffMember

FLOW = "sampling"
ROLE = "sampler"
DONE, DROP = "smp:done", "smp:drop"
_SEPARATORS = re.compile(r"[\s,;]+")
_DONE_WORDS = frozenset({"xong", "xong roi", "done"})


class Step(StrEnum):
    """Where the sampling flow waits."""

    TUBE = "tube"
    PEOPLE = "people"


async def _sampler(msg: Incoming, conv: Conversation) -> StaffMember | None:
    return await role_held(msg, conv, ROLE)


async def _refuse(msg: Incoming, conv: Conversation) -> None:
    """Not (or no longer) a sampler: leave the flow, answer as to an unknown command."""
    if conv.flow == FLOW:
        conv.finish()
    await start.unknown_command(msg, conv)


def reason_text(problem: SampleProblem, *, name: str = "", tube: str = "") -> str:
    """Why a personal QR (or the tube) is refused, in plain words for the sampler."""
    if problem is SampleProblem.EXPIRED:
        return _("This QR has expired: ask the person to open a new one with /maqr.")
    if problem in (SampleProblem.FORGED, SampleProblem.MALFORMED):
        return _("This is not a personal QR of this service.")
    if problem is SampleProblem.UNKNOWN_PERSON:
        return _("This QR belongs to a person who is no longer registered.")
    if problem is SampleProblem.TOKEN_USED:
        return _(
            "This QR was already used for a sample: ask the person to open a new one with /maqr."
        )
    if problem is SampleProblem.IN_OPEN_TUBE:
        return _(
            "{name} is already in tube {tube}, whose result is pending: no new sample until it "
            "arrives."
        ).format(name=name, tube=tube)
    if problem is SampleProblem.TWICE:
        return _("{name} is already in this tube.").format(name=name)
    if problem is SampleProblem.TOO_MANY:
        return _("The tube is full ({limit} people): press Done to record it.").format(
            limit=MAX_POOL
        )
    if problem is SampleProblem.TUBE_TAKEN:
        return _("Tube {tube} is already recorded: please use a new tube.").format(tube=tube)
    if problem is SampleProblem.NO_PEOPLE:
        return _("Nobody is in this tube yet: scan a personal QR first.")
    return _("A tube code has 4 to 40 letters, digits or dashes. Please send it again.")


def _who(person: Person) -> str:
    return f"{person.full_name} ({person.birth_date.year})"


async def start_sampling(msg: Incoming, conv: Conversation) -> None:
    """/laymau: samplers only; a tube code given with the command is read at once."""
    if await _sampler(msg, conv) is None:
        await start.unknown_command(msg, conv)
        return
    conv.goto(FLOW, Step.TUBE)
    conv.data = {}
    if msg.args.strip():
        await receive_tube(
            Incoming(msg.chat, msg.update_id, Kind.TEXT, msg.user_id, msg.args), conv
        )
        return
    conv.reply(_("Send the tube code (typed, or the text of its barcode)."))


async def receive_tube(msg: Incoming, conv: Conversation) -> None:
    """Take a new tube's code; then wait for the personal QRs."""
    if await _sampler(msg, conv) is None:
        await _refuse(msg, conv)
        return
    typed = msg.text.strip()
    if typed.upper().startswith(qr_tokens.PREFIX):
        conv.reply(_("That is a personal QR. Scan the tube's barcode first, then the QRs."))
        return
    code = read_tube_code(typed)
    if code is None:
        conv.reply(reason_text(SampleProblem.TUBE_CODE))
        return
    if await samples.by_tube(conv.session, code) is not None:
        conv.reply(reason_text(SampleProblem.TUBE_TAKEN, tube=code))
        return
    conv.goto(FLOW, Step.PEOPLE)
    conv.data = {"tube": code, "tokens": [], "people": []}
    conv.reply(
        _(
            "Tube {tube}. Scan the personal QR of each person in it (up to {limit} for a pooled "
            "sample); several QR texts may come in one message."
        ).format(tube=code, limit=MAX_POOL),
        buttons=_buttons(),
    )


async def receive_people(msg: Incoming, conv: Conversation) -> None:
    """Check each scanned QR at once; or record the tube (Done), or forget it (Drop)."""
    if await _sampler(msg, conv) is None:
        await _refuse(msg, conv)
        return
    if msg.payload == DONE or (msg.kind == Kind.TEXT and fold(msg.text) in _DONE_WORDS):
        await _record(msg, conv)
        return
    if msg.payload == DROP:
        tube = str(conv.data.get("tube", ""))
        conv.goto(FLOW, Step.TUBE)
        conv.data = {}
        conv.reply(
            _("Tube {tube} dropped; nothing recorded.").format(tube=tube)
            + "\n"
            + _("Send the next tube code, or /huy to finish.")
        )
        return
    pieces = [piece for piece in _SEPARATORS.split(msg.text) if piece][: MAX_POOL + 2]
    if msg.kind != Kind.TEXT or not pieces:
        conv.reply(_("Please scan a personal QR, or use the buttons."), buttons=_buttons())
        return
    if len(pieces) == 1 and read_tube_code(pieces[0]) is not None:
        conv.reply(
            _(
                "That looks like a tube code. Press Done to record tube {tube} first, or Drop "
                "this tube."
            ).format(tube=conv.data.get("tube", "")),
            buttons=_buttons(),
        )
        return
    lines = [await _scan(conv, piece) for piece in pieces]
    if len(pieces) > 1:
        lines = [f"{number}. {line}" for number, line in enumerate(lines, start=1)]
    lines += ["", await _summary(conv)]
    conv.reply("\n".join(lines), buttons=_buttons())


async def _scan(conv: Conversation, text: str) -> str:
    """Check one scanned QR; keep it if it is good. One line for the sampler."""
    token, person, problem = await check_token(
        conv.session, conv.services.protector, text, now=conv.now
    )
    people: list[int] = conv.data["people"]
    if problem is None and person is not None and person.id in people:
        problem = SampleProblem.TWICE
    if problem is None and len(people) >= MAX_POOL:
        problem = SampleProblem.TOO_MANY
    if problem is not None or token is None or person is None:
        tube = ""
        if problem is SampleProblem.IN_OPEN_TUBE and person is not None:
            open_tube = await samples.open_tube_of(conv.session, person.id)
            tube = open_tube.tube_code if open_tube else ""
        name = person.full_name if person is not None else ""
        return "✗ " + reason_text(problem or SampleProblem.MALFORMED, name=name, tube=tube)
    conv.data["tokens"] = [*conv.data["tokens"], text.strip()]
    conv.data["people"] = [*people, person.id]
    return "✓ " + _who(person)


async def _summary(conv: Conversation) -> str:
    people = [await conv.session.get(Person, int(pid)) for pid in conv.data["people"]]
    listed = [f"• {_who(person)}" for person in people if person is not None]
    head = _("Tube {tube}: {count}/{limit} people.").format(
        tube=conv.data["tube"], count=len(conv.data["people"]), limit=MAX_POOL
    )
    return "\n".join([head, *listed])


def _recorded(conv: Conversation, tube: str, *, pooled: bool, count: int) -> None:
    """The tube is recorded: say so, and wait for the next tube."""
    conv.goto(FLOW, Step.TUBE)
    conv.data = {}
    text = (
        _("Recorded tube {tube} with {count} people (pooled). Each of them has been told.")
        if pooled
        else _("Recorded tube {tube} with {count} person. The person has been told.")
    )
    conv.reply(
        text.format(tube=tube, count=count)
        + "\n"
        + _("Send the next tube code, or /huy to finish.")
    )


async def _record(msg: Incoming, conv: Conversation) -> None:
    """Done: record the tube, tell each person, and wait for the next tube."""
    member = await _sampler(msg, conv)
    if member is None:
        await _refuse(msg, conv)
        return
    tube, tokens = str(conv.data["tube"]), list(conv.data["tokens"])
    if not tokens:
        conv.reply(reason_text(SampleProblem.NO_PEOPLE), buttons=_buttons())
        return
    outcome = await record_sample(
        conv.session,
        conv.services.protector,
        tube_code=tube,
        tokens=tokens,
        site_id=member.sites[0] if member.sites else None,
        taken_by=member.id,
        actor=staff.actor_label(member),
        now=conv.now,
    )
    if outcome.created and outcome.sample is not None:
        _recorded(conv, tube, pooled=outcome.sample.pooled, count=len(outcome.people))
        return
    if any(problem is SampleProblem.TUBE_TAKEN for _index, problem in outcome.problems):
        conv.goto(FLOW, Step.TUBE)
        conv.data = {}
        conv.reply(
            reason_text(SampleProblem.TUBE_TAKEN, tube=tube)
            + "\n"
            + _("Nothing recorded. Send a new tube code, or /huy to finish.")
        )
        return
    await _drop_refused(conv, outcome.problems)


async def _drop_refused(
    conv: Conversation, problems: list[tuple[int | None, SampleProblem]]
) -> None:
    """Something changed since the scan (a QR used elsewhere meanwhile): drop those people."""
    bad = {index for index, _problem in problems if index is not None}
    lines = [_("Nothing recorded yet: some QRs are no longer valid.")]
    for index, problem in problems:
        if index is None:
            continue
        person = await conv.session.get(Person, int(conv.data["people"][index]))
        name = person.full_name if person else ""
        tube = ""
        if problem is SampleProblem.IN_OPEN_TUBE and person is not None:
            open_tube = await samples.open_tube_of(conv.session, person.id)
            tube = open_tube.tube_code if open_tube else ""
        lines.append(f"✗ {name}: " + reason_text(problem, name=name, tube=tube))
    conv.data["tokens"] = [t for i, t in enumerate(conv.data["tokens"]) if i not in bad]
    conv.data["people"] = [p for i, p in enumerate(conv.data["people"]) if i not in bad]
    lines += ["", await _summary(conv)]
    conv.reply("\n".join(lines), buttons=_buttons())


def _buttons() -> list[list[Button]]:
    return [[Button(_("Done"), DONE), Button(_("Drop this tube"), DROP)]]


STEPS: dict[str, Handler] = {
    Step.TUBE: receive_tube,
    Step.PEOPLE: receive_people,
}
