"""Invitation campaigns in the chat: staff create and manage them, citizens answer them.

Flow `campaign`, started by /chiendich (roles `admin` and `ward_staff`; anyone else gets the
ordinary "unknown command" answer). Ward staff target and see only campaigns within their own
wards; admins any ward. `/chiendich moi` goes straight to a new campaign.
    LIST    -> the campaigns in scope (report, pause/resume, cancel buttons) and "New campaign"
    NAME    -> a short name
    WARDS   -> ward codes (ward staff: "My wards", or some of them; others are refused)
    GROUPS  -> priority group numbers, or "All groups", or "Children" (routine immunisation)
    VACCINE -> (children) the vaccine of the children's schedule, with buttons
    AGES    -> "50-64", "65+", or "Any age" (children: "1-10")
    DOSE    -> the dose status, with buttons (children: no dose of the vaccine yet, or due)
    CAP     -> invitations a day at most
    TEXT_VI -> the invitation text in Vietnamese
    TEXT_EN -> the same in English, or "No English text"
    PREVIEW -> everything, with the number of people eligible now: "Gửi" creates it, "Hủy" not
A wrong answer is explained and the step kept; /huy leaves at any step.

`camp:` buttons stay valid on any message and are checked on use: the citizens'
`camp:book:<invitation>` and `camp:no:<invitation>` (only on the invited person's account), and
the staff's `camp:rep|pause|resume|stop|stopok|keep:<campaign>` (role and scope again).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from enum import StrEnum

from bot.conversation import Conversation, Handler
from bot.domain import campaign_waves as service
from bot.domain import staff_operations as operations
from bot.domain.campaign_waves import CampaignError
from bot.domain.immunisation.schedule import load_schedule
from bot.domain.staff_operations import campaign_status
from bot.handlers import child_sessions, registration, start
from bot.handlers.registration.form import person_of_account
from bot.handlers.targeting import (
    Scope,
    ask,
    ask_groups_text,
    ask_wards,
    confirm_answer,
    groups_label,
    preview_count,
    scope_or_refuse,
    send_or_cancel,
    staff_record,
    take_groups,
    take_wards,
    ward_name,
    ward_scope,
)
from bot.handlers.today import local_today
from bot.i18n import N_, _, current_locale, format_moment
from bot.messages import Button, Incoming, Kind, payload_id
from bot.vn.text import fold
from storage import campaigns as store
from storage import children, staff
from storage.campaigns import ACCEPTED, ACTIVE, DECLINED, PAUSED
from storage.models import Campaign, CampaignInvitation, Child, Person

FLOW = "campaign"
SHOWN = 10  # campaigns listed by /chiendich, newest first
DOSE1_WEEKS = (4, 8, 12)
_AGE_WORDS = frozenset({"tu", "den", "tro", "len", "tuoi", "from", "to", "and", "over"})
_NEW_WORDS = frozenset({"moi", "tao", "tao moi", "new"})
_KIDS, _VACCINE = "cd:g:kids", "cd:v:"


class Step(StrEnum):
    """Where the campaign flow waits."""

    LIST = "list"
    NAME = "name"
    WARDS = "wards"
    GROUPS = "groups"
    VACCINE = "vaccine"
    AGES = "ages"
    DOSE = "dose"
    CAP = "cap"
    TEXT_VI = "text_vi"
    TEXT_EN = "text_en"
    PREVIEW = "preview"


# ---------------------------------------------------------------- labels


def _ages_label(min_age: int, max_age: int | None) -> str:
    if max_age is None:
        return _("{min} and over").format(min=min_age) if min_age else _("any age")
    return _("{min} to {max}").format(min=min_age, max=max_age)


# ---------------------------------------------------------------- the list


async def start_campaigns(msg: Incoming, conv: Conversation) -> None:
    """/chiendich: admins and ward staff only; list the campaigns, or start a new one."""
    found = await ward_scope(msg, conv)
    if found is None:
        await start.unknown_command(msg, conv)
        return
    if fold(msg.args) in _NEW_WORDS:
        await _ask_name(conv)
        return
    await _show_list(conv, found[1])


async def _show_list(conv: Conversation, scope: Scope) -> None:
    kind = operations.Kind.CAMPAIGN
    listed = await operations.recent(conv.session, kind, scope, shown=SHOWN)
    invited = await store.invited_counts(conv.session, [c.id for c in listed])
    lines = [_("Invitation campaigns:") if listed else _("There are no campaigns yet.")]
    rows: list[list[Button]] = []
    for campaign in listed:
        assert isinstance(campaign, Campaign)
        lines.append(
            _("#{id} “{name}”: {status}, {invited} invited").format(
                id=campaign.id,
                name=campaign.name,
                status=campaign_status(campaign.status),
                invited=invited.get(campaign.id, 0),
            )
        )
        rows.append(_campaign_buttons(campaign))
    rows.append([Button(_("New campaign"), "cd:new")])
    conv.goto(FLOW, Step.LIST)
    conv.reply("\n".join(lines), buttons=rows)


def _campaign_buttons(campaign: Campaign) -> list[Button]:
    number = campaign.id
    row = [Button(_("Report #{id}").format(id=number), f"camp:rep:{number}")]
    if campaign.status == ACTIVE:
        row.append(Button(_("Pause #{id}").format(id=number), f"camp:pause:{number}"))
    if campaign.status == PAUSED:
        row.append(Button(_("Resume #{id}").format(id=number), f"camp:resume:{number}"))
    if campaign.status in (ACTIVE, PAUSED):
        row.append(Button(_("Cancel #{id}").format(id=number), f"camp:stop:{number}"))
    return row


async def receive_list(msg: Incoming, conv: Conversation) -> None:
    """Start a new campaign ("New campaign", or "mới" typed); explain anything else."""
    if msg.payload == "cd:new" or fold(msg.text) in _NEW_WORDS:
        await _ask_name(conv)
        return
    conv.reply(_("Please choose with the buttons, or type /huy to finish."))


# ---------------------------------------------------------------- creating a campaign


async def _ask_name(conv: Conversation) -> None:
    conv.goto(FLOW, Step.NAME)
    conv.data = {}
    conv.reply(
        _("New invitation campaign. First, a short name for it (for example “Mũi 2 tháng 12”):")
    )


async def receive_name(msg: Incoming, conv: Conversation) -> None:
    """Take the name; ask for the wards."""
    name = msg.text.strip()
    if not 1 <= len(name) <= service.MAX_NAME:
        conv.reply(
            _("A name has 1 to {max} characters. Please type it again.").format(
                max=service.MAX_NAME
            )
        )
        return
    found = await scope_or_refuse(msg, conv)
    if found is None or _without_wards(conv, found[1]):
        return
    conv.data["name"] = name
    _ask_wards(conv, found[1])


def _without_wards(conv: Conversation, scope: Scope) -> bool:
    """Ward staff with no ward in scope cannot invite anyone: say so and leave the flow."""
    if scope is None or scope:
        return False
    conv.finish()
    conv.reply(_("No ward is in your scope yet: ask an administrator to add yours."))
    return True


def _ask_wards(conv: Conversation, scope: Scope) -> None:
    ask_wards(
        conv,
        FLOW,
        Step.WARDS,
        scope,
        anywhere=_(
            "Which wards? Type the ward codes, separated by spaces (for example 26743 26740)."
        ),
        yours=_(
            "Which wards? Press “My wards” for all of yours, or type some of their codes "
            "separated by spaces:\n{wards}"
        ),
        mine=Button(_("My wards"), "cd:w:mine"),
    )


async def receive_wards(msg: Incoming, conv: Conversation) -> None:
    """Take ward codes within the staff member's scope; ask for the priority groups."""
    found = await scope_or_refuse(msg, conv)
    if found is None or _without_wards(conv, found[1]):
        return
    wards = take_wards(
        msg,
        conv,
        found[1],
        mine="cd:w:mine",
        not_codes=_("Please type ward codes (digits), separated by spaces."),
    )
    if wards is None:
        return
    conv.data["wards"] = wards
    ask(
        conv,
        FLOW,
        Step.GROUPS,
        ask_groups_text(conv) + "\n" + _("To invite children for a vaccine, press “Children”."),
        Button(_("All groups"), "cd:g:all"),
        Button(_("Children (routine immunisation)"), _KIDS),
    )


async def receive_groups(msg: Incoming, conv: Conversation) -> None:
    """Take group numbers (or all, or children); ask for the ages (children: the vaccine)."""
    if msg.payload == _KIDS:
        conv.data.update(groups=[])
        locale, vaccines = current_locale(), load_schedule().vaccines
        ask(
            conv,
            FLOW,
            Step.VACCINE,
            _("Which vaccine of the children's schedule?"),
            *(Button(v.name(locale)[:60], f"{_VACCINE}{v.code}") for v in vaccines),
        )
        return
    if take_groups(msg, conv, every="cd:g:all"):
        conv.data["child_vaccine"] = None
        ask(
            conv,
            FLOW,
            Step.AGES,
            _(
                "Which ages? Type a range such as 50-64, or 65+ for 65 and over, or press "
                "“Any age”."
            ),
            Button(_("Any age"), "cd:a:all"),
        )


async def receive_vaccine(msg: Incoming, conv: Conversation) -> None:
    """Take the children's vaccine button; ask for the children's ages."""
    code = (msg.payload or "").removeprefix(_VACCINE)
    if code not in {v.code for v in load_schedule().vaccines}:
        conv.reply(_("Please choose with the buttons below."))
        return
    conv.data["child_vaccine"] = code
    ask(conv, FLOW, Step.AGES, _("Which ages? Type a range in years, such as 1-10."))


def _dose_label(status: str, vaccine: str | None) -> str:
    """A dose status in words; a children's campaign's names its vaccine."""
    if vaccine is None:
        return service.dose_status_label(status)
    name = load_schedule().vaccine(vaccine).name(current_locale())
    if status == service.NO_DOSE:
        return _("Children with no dose of {vaccine} yet").format(vaccine=name)
    return _("Children due or overdue for {vaccine}").format(vaccine=name)


def read_ages(text: str) -> tuple[int, int | None] | None:
    """An age range typed as "50-64", "từ 50 đến 64", "65+", "65 trở lên" or "65"; None if not.

    One number means that age and over; two, a range. Any other word (such as "dưới") is
    refused rather than guessed at.
    """
    tokens = fold(text).split()  # punctuation ("-", "+") is folded away
    numbers = [t for t in tokens if t.isascii() and t.isdigit()]
    words = [t for t in tokens if t not in numbers]
    if len(numbers) not in (1, 2) or any(len(n) > 3 for n in numbers):
        return None
    if any(word not in _AGE_WORDS for word in words):
        return None
    low, high = int(numbers[0]), int(numbers[1]) if len(numbers) == 2 else None
    if low > service.MAX_AGE or (high is not None and not low <= high <= service.MAX_AGE):
        return None
    return low, high


async def receive_ages(msg: Incoming, conv: Conversation) -> None:
    """Take an age range; ask for the dose status."""
    ages = (0, None) if msg.payload == "cd:a:all" else read_ages(msg.text)
    if ages is None:
        conv.reply(_("Please type an age range such as 50-64, or 65+ for 65 and over."))
        return
    low, high = ages
    conv.data.update(min_age=low, max_age=high)
    conv.goto(FLOW, Step.DOSE)
    vaccine = conv.data.get("child_vaccine")
    statuses = [service.NO_DOSE, service.DUE]
    if vaccine is None:
        statuses += [f"{service.DOSE1_PREFIX}{weeks}" for weeks in DOSE1_WEEKS]
    conv.reply(
        _("Whom should the campaign invite?"),
        buttons=[[Button(_dose_label(status, vaccine), f"cd:d:{status}")] for status in statuses],
    )


async def receive_dose(msg: Incoming, conv: Conversation) -> None:
    """Take the dose status button; ask for the daily cap."""
    try:
        status = service.parse_dose_status((msg.payload or "").removeprefix("cd:d:"))
    except CampaignError:
        conv.reply(_("Please choose with the buttons below."))
        return
    conv.data["dose"] = status
    conv.goto(FLOW, Step.CAP)
    conv.reply(
        _("How many invitations a day at most, so that sites are not flooded? For example 200.")
    )


async def receive_cap(msg: Incoming, conv: Conversation) -> None:
    """Take the daily cap; ask for the Vietnamese text."""
    typed = re.sub(r"[\s.,]", "", msg.text)
    if not (typed.isascii() and typed.isdigit() and 1 <= int(typed) <= service.MAX_CAP):
        conv.reply(
            _("Please type a whole number from 1 to {max}.").format(max=f"{service.MAX_CAP:,}")
        )
        return
    conv.data["cap"] = int(typed)
    conv.goto(FLOW, Step.TEXT_VI)
    conv.reply(
        _(
            "Now the invitation in Vietnamese, as citizens will read it (up to {max} "
            "characters). The invited person's name is added below it."
        ).format(max=service.MAX_TEXT)
    )


def _text(msg: Incoming) -> str | None:
    text = msg.text.strip() if msg.kind == Kind.TEXT else ""
    return text if 1 <= len(text) <= service.MAX_TEXT else None


async def receive_text_vi(msg: Incoming, conv: Conversation) -> None:
    """Take the Vietnamese text; ask for an English one."""
    text = _text(msg)
    if text is None:
        conv.reply(
            _("Please type the invitation text (1 to {max} characters).").format(
                max=service.MAX_TEXT
            )
        )
        return
    conv.data["text_vi"] = text
    ask(
        conv,
        FLOW,
        Step.TEXT_EN,
        _(
            "The same invitation in English, for citizens who chose English? Type it, or press "
            "“No English text” to send them the Vietnamese one."
        ),
        Button(_("No English text"), "cd:en:none"),
    )


async def receive_text_en(msg: Incoming, conv: Conversation) -> None:
    """Take the English text (or none); show the preview."""
    if msg.payload == "cd:en:none":
        conv.data["text_en"] = None
    elif (text := _text(msg)) is not None:
        conv.data["text_en"] = text
    else:
        conv.reply(
            _("Please type the English text (1 to {max} characters), or press the button.").format(
                max=service.MAX_TEXT
            )
        )
        return
    await _show_preview(msg, conv)


def _draft(conv: Conversation) -> operations.Draft:
    data = conv.data
    return operations.Draft(
        kind=operations.Kind.CAMPAIGN,
        name=data["name"],
        wards=tuple(data["wards"]),
        dose_status=data["dose"],
        groups=tuple(data["groups"]),
        min_age=data["min_age"],
        max_age=data["max_age"],
        text=data["text_vi"],
        text_en=data.get("text_en"),
        daily_cap=data["cap"],
        starts_on=local_today(conv),
        child_vaccine=data.get("child_vaccine"),
    )


_GONE = N_("Some of these wards are no longer yours; nothing was created.")
_UNSENDABLE = N_("This campaign can no longer be created as it is; nothing was created.")


async def _show_preview(msg: Incoming, conv: Conversation) -> None:
    """Everything staff chose, with the number of people eligible now."""
    new = _draft(conv)
    eligible = await preview_count(
        msg, conv, new, show=False, gone=_(_GONE), unsendable=_(_UNSENDABLE)
    )
    if eligible is None:
        return
    lines = [
        _("Please check the campaign:"),
        _("Campaign: {name}").format(name=new.name),
        _("Wards: {wards}").format(wards=", ".join(ward_name(c) for c in new.wards)),
        _("Priority groups: {groups}").format(groups=groups_label(conv, new.groups))
        if new.child_vaccine is None
        else _("Children (routine immunisation), one invitation per child to the parent"),
        _("Ages: {ages}").format(ages=_ages_label(new.min_age, new.max_age)),
        _("Invites: {doses}").format(doses=_dose_label(new.dose_status, new.child_vaccine)),
        _("At most {cap} invitations a day, from today.").format(cap=new.daily_cap),
        _("Text in Vietnamese:") + "\n" + new.text,
        (_("Text in English:") + "\n" + new.text_en)
        if new.text_en
        else _("No English text: everyone gets the Vietnamese one."),
        (
            _("People eligible now: {count}")
            if new.child_vaccine is None
            else _("Children eligible now: {count}")
        ).format(count=eligible),
    ]
    conv.goto(FLOW, Step.PREVIEW)
    conv.reply("\n".join(lines), buttons=send_or_cancel("cd:send", "cd:drop"))


async def receive_preview(msg: Incoming, conv: Conversation) -> None:
    """Create the campaign on "Gửi" (scope checked again, audited); drop it on "Hủy"."""
    done = await confirm_answer(
        msg,
        conv,
        _draft(conv),
        buttons=("cd:send", "cd:drop"),
        dropped=_("Nothing was sent: the campaign was not created."),
        gone=_(_GONE),
        unsendable=_(_UNSENDABLE),
    )
    if done is None:
        return
    campaign = done.record
    assert isinstance(campaign, Campaign)
    text = (
        _(
            "Campaign #{id} “{name}” is created: the first invitations are going out now, at "
            "most {cap} a day."
        )
        if done.starts_at <= conv.now
        else _(
            "Campaign #{id} “{name}” is created: the first invitations go out on {when}, at "
            "most {cap} a day."
        )
    )
    conv.reply(
        text.format(
            id=done.id,
            name=campaign.name,
            cap=campaign.daily_cap,
            when=format_moment(done.starts_at),
        )
    )


STEPS: dict[str, Handler] = {
    Step.LIST: receive_list,
    Step.NAME: receive_name,
    Step.WARDS: receive_wards,
    Step.GROUPS: receive_groups,
    Step.VACCINE: receive_vaccine,
    Step.AGES: receive_ages,
    Step.DOSE: receive_dose,
    Step.CAP: receive_cap,
    Step.TEXT_VI: receive_text_vi,
    Step.TEXT_EN: receive_text_en,
    Step.PREVIEW: receive_preview,
}


# ---------------------------------------------------------------- `camp:` buttons


async def receive_button(msg: Incoming, conv: Conversation) -> None:
    """A `camp:` button from any message: a citizen's answer or a staff member's action."""
    parts = (msg.payload or "").split(":")
    action, raw = [*parts, "", ""][1:3]
    number = payload_id(raw) or 0
    if action in ("book", "no"):
        await _answer(conv, number, accept=action == "book")
        return
    missing = _("This campaign does not exist or is outside your wards.")
    found = await staff_record(msg, conv, operations.Kind.CAMPAIGN, number, missing=missing)
    if found is None:
        return
    member, campaign = found
    assert isinstance(campaign, Campaign)
    await ACTIONS.get(action, _keep)(conv, campaign, staff.actor_label(member))


async def _pause(conv: Conversation, campaign: Campaign, actor: str) -> None:
    paused = await service.pause(conv.session, campaign, actor=actor, now=conv.now)
    text = (
        _("Campaign #{id} is paused: no more invitations until you resume it.")
        if paused
        else _("Campaign #{id} is not running; nothing changed.")
    )
    conv.reply(text.format(id=campaign.id))


async def _resume(conv: Conversation, campaign: Campaign, actor: str) -> None:
    settings = conv.services.settings
    due = await service.resume(
        conv.session, campaign, actor=actor, now=conv.now, settings=settings
    )
    if due is None:
        conv.reply(_("Campaign #{id} is not paused; nothing changed.").format(id=campaign.id))
    elif due <= conv.now:
        conv.reply(
            _("Campaign #{id} runs again: invitations are going out now.").format(id=campaign.id)
        )
    else:
        conv.reply(
            _("Campaign #{id} runs again: the next invitations go out on {when}.").format(
                id=campaign.id, when=format_moment(due)
            )
        )


async def _ask_cancel(conv: Conversation, campaign: Campaign, actor: str) -> None:
    conv.reply(
        _(
            "Cancel campaign #{id} “{name}” for good? Invitations already sent keep working."
        ).format(id=campaign.id, name=campaign.name),
        buttons=[
            [
                Button(_("Yes, cancel the campaign"), f"camp:stopok:{campaign.id}"),
                Button(_("No"), f"camp:keep:{campaign.id}"),
            ]
        ],
    )


async def _cancel(conv: Conversation, campaign: Campaign, actor: str) -> None:
    cancelled = await service.cancel(conv.session, campaign, actor=actor, now=conv.now)
    text = (
        _("Campaign #{id} is cancelled. Invitations already sent keep working.")
        if cancelled
        else _("Campaign #{id} has already ended; nothing changed.")
    )
    conv.reply(text.format(id=campaign.id))


async def _keep(conv: Conversation, campaign: Campaign, actor: str) -> None:
    conv.reply(_("Campaign #{id} goes on as before.").format(id=campaign.id))


async def _report(conv: Conversation, campaign: Campaign, actor: str) -> None:
    report = await operations.report_of(conv.session, operations.Kind.CAMPAIGN, campaign)
    conv.reply("\n".join(report.lines))


Action = Callable[[Conversation, Campaign, str], Awaitable[None]]
ACTIONS: dict[str, Action] = {
    "rep": _report,
    "pause": _pause,
    "resume": _resume,
    "stop": _ask_cancel,  # asks first; "stopok" cancels, "keep" does not
    "stopok": _cancel,
    "keep": _keep,
}


async def _own_invitation(
    conv: Conversation, number: int
) -> tuple[CampaignInvitation, Person | Child] | None:
    """The invitation if it was sent to this account for a person (or child) still on it."""
    invitation = await store.get_invitation(conv.session, number) if number else None
    if invitation is None or invitation.account_id != conv.owner_id:
        return None
    if invitation.child_id is not None:
        child = await children.get_child(conv.session, invitation.child_id)
        return (invitation, child) if child and child.account_id == conv.owner_id else None
    person = await person_of_account(conv, invitation.person_id or 0)
    return (invitation, person) if person is not None else None


async def _answer(conv: Conversation, number: int, *, accept: bool) -> None:
    """Record the answer; "Đặt lịch ngay" then books, "Không tham gia" is thanked.

    A child's invitation books a place in the ward's children's sessions.
    """
    found = await _own_invitation(conv, number)
    if found is None:
        conv.reply(_("This invitation is not for this chat, or it is no longer valid."))
        return
    invitation, person = found
    if accept:
        service.answer(invitation, ACCEPTED, now=conv.now)
        conv.finish()
        if isinstance(person, Child):
            await child_sessions.offer(conv, person)
            return
        await registration.book_for_registered(conv, person.id)
        return
    service.answer(invitation, DECLINED, now=conv.now)
    conv.reply(
        _(
            "Thank you for letting us know: {name} will get no more invitations from this "
            "campaign. You can still register at any time with /dangky."
        ).format(name=person.full_name)
    )
