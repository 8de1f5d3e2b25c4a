"""Invitation campaigns: whom to invite, waves under a daily cap, answers, the report.

A campaign targets wards, priority groups (none listed: all), an age range on the day of each
wave and a dose status: `none` (no dose yet), `due` (the next dose may be given today, by
`bot.domain.vaccines.next_dose`; people with no dose count as due for dose 1) or
`dose1_older_than:<weeks>` (exactly one dose, given at least that many weeks ago).

Waves are scheduler jobs (`campaign_wave`, group `campaign:<id>`), so they are durable, fired
once across processes, and held in quiet hours like any non-urgent job. The first wave runs on
creation when that is in the daytime (outside quiet hours) and the campaign starts today, else
at 09:00 on its first day; each wave then schedules the next for 09:00 the following day while
anyone eligible remains, and finishes the campaign when nobody does. A wave invites at most
`daily_cap` people minus those already invited that day (a resumed campaign never exceeds its
cap), oldest first, each once per campaign: one invitation row and one bulk outbox row each, in
the account's language (the English text for English accounts when there is one), under the
buttons "Đặt lịch ngay" (`camp:book:<invitation>`) and "Không tham gia" (`camp:no:<invitation>`).

A campaign with a `child_vaccine` invites children for that vaccine of the children's schedule
instead (`bot.domain.immunisation.child_campaigns`): the same waves, cap, texts, buttons and
report, one invitation per child to the parent's chat, "Đặt lịch ngay" offering the ward's
children's sessions.

Who is eligible is decided when the wave fires: people with an active booking, or already
given the dose targeted, are never invited (so those who booked on their own are left alone),
nor are people on an account that is unreachable or has not consented.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.domain import notices
from bot.domain.form_lists import priority_groups
from bot.domain.immunisation import child_campaigns
from bot.domain.jobs import JobKind, Run, Verdict, local_time, quiet_until
from bot.domain.vaccines import BOOSTER_AFTER_DAYS, BOOSTERS, PRODUCTS
from bot.i18n import TIMEZONE, _, current_locale, local_day
from bot.messages import Button
from bot.vn import divisions
from storage import campaigns as store
from storage import jobs, outbox, staff
from storage.campaigns import (
    ACTIVE,
    CANCELLED,
    FINISHED,
    PAUSED,
    ChildEligibility,
    DoseRule,
    Eligibility,
    FirstDoseBefore,
    NewInvitation,
    NextDoseDue,
    NoDose,
    WardCounts,
)
from storage.jobs import NewJob
from storage.models import Account, Campaign, CampaignInvitation

log = logging.getLogger(__name__)

WAVE = "campaign_wave"
WAVE_AT = time(9, 0)
LATEST_START = time(18, 0)  # a wave started later would still be sending at night
WAVE_SHARE = 0.5  # of the channel's bulk rate (Telegram: 15 of its 30 messages a second)
BOOK, DECLINE = "camp:book:", "camp:no:"
MAX_NAME, MAX_TEXT, MAX_CAP, MAX_AGE, MAX_WEEKS = 80, 1000, 100_000, 120, 520
NO_DOSE, DUE, DOSE1_PREFIX = "none", "due", "dose1_older_than:"
_DOSE1 = re.compile(r"^(?:dose1_older_than|dose1-older-than-weeks):(\d{1,3})$")
UNKNOWN_PRIMARY = 2  # what `next_dose` assumes for a product it does not know


class CampaignError(ValueError):
    """A campaign that cannot be created as given (the message says why, in English)."""


@dataclass(frozen=True)
class Targeting:
    """Whom a campaign invites (see the module docstring for the dose statuses)."""

    wards: tuple[int, ...]
    dose_status: str
    groups: tuple[str, ...] = ()
    min_age: int = 0
    max_age: int | None = None
    child_vaccine: str | None = None  # a children's campaign: the vaccine of their schedule


@dataclass(frozen=True)
class Invitee:
    """Someone a wave invites: a person, or a child (by its parent's account)."""

    name: str
    ward_code: int
    account: Account
    person_id: int | None = None
    child_id: int | None = None


@dataclass(frozen=True)
class NewCampaign:
    """A campaign as staff described it."""

    name: str
    targeting: Targeting
    text_vi: str
    daily_cap: int
    starts_on: date
    text_en: str | None = None


# ---------------------------------------------------------------- targeting


def parse_dose_status(text: str) -> str:
    """The stored spelling of a dose status: `none`, `due` or `dose1_older_than:<weeks>`.

    `dose1-older-than-weeks:<weeks>` (the command line's spelling) is accepted too.

    Raises:
        CampaignError: not a dose status, or weeks outside 1-520.
    """
    value = text.strip().lower()
    if value in (NO_DOSE, DUE):
        return value
    found = _DOSE1.match(value)
    if found is None or not 1 <= int(found.group(1)) <= MAX_WEEKS:
        raise CampaignError(
            f"dose status must be none, due or dose1-older-than-weeks:N (N from 1 to {MAX_WEEKS})"
        )
    return f"{DOSE1_PREFIX}{int(found.group(1))}"


def dose_status_label(status: str) -> str:
    """A dose status in words, in the current language."""
    if status == NO_DOSE:
        return _("No dose yet")
    if status == DUE:
        return _("Next dose due (people with no dose included)")
    return _("Dose 1 at least {weeks} weeks ago, no dose 2 yet").format(
        weeks=status.removeprefix(DOSE1_PREFIX)
    )


def years_before(day: date, years: int) -> date:
    """The same day `years` earlier (28 February for a 29 February that does not exist)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def dose_rule(status: str, today: date) -> DoseRule:
    """The dose condition of a status as cut-off dates for `today`."""
    if status == NO_DOSE:
        return NoDose()
    if status == DUE:
        return NextDoseDue(
            primary={
                key: (product.primary_doses, today - timedelta(days=product.interval_days))
                for key, product in PRODUCTS.items()
            },
            unknown_primary=UNKNOWN_PRIMARY,
            boosters=BOOSTERS,
            booster_cutoff=today - timedelta(days=BOOSTER_AFTER_DAYS),
        )
    weeks = int(status.removeprefix(DOSE1_PREFIX))
    return FirstDoseBefore(today - timedelta(weeks=weeks))


def eligibility(targeting: Targeting, today: date) -> Eligibility:
    """The query rule of a targeting on `today`: ages are whole years on that day."""
    return Eligibility(
        wards=targeting.wards,
        born_on_or_before=years_before(today, targeting.min_age),
        doses=dose_rule(targeting.dose_status, today),
        groups=targeting.groups,
        born_after=(
            years_before(today, targeting.max_age + 1) if targeting.max_age is not None else None
        ),
    )


def child_eligibility(targeting: Targeting, today: date) -> ChildEligibility:
    """The query rule of a children's campaign on `today`: ages in whole years on that day."""
    return ChildEligibility(
        wards=targeting.wards,
        born_on_or_before=years_before(today, targeting.min_age),
        born_after=(
            years_before(today, targeting.max_age + 1) if targeting.max_age is not None else None
        ),
        vaccine=targeting.child_vaccine or "",
        no_dose=targeting.dose_status == NO_DOSE,
    )


def targeting_of(campaign: Campaign) -> Targeting:
    """What a stored campaign targets."""
    return Targeting(
        wards=tuple(campaign.wards),
        dose_status=campaign.dose_status,
        groups=tuple(campaign.groups),
        min_age=campaign.min_age,
        max_age=campaign.max_age,
        child_vaccine=campaign.child_vaccine,
    )


async def invitees(
    session: AsyncSession,
    targeting: Targeting,
    *,
    today: date,
    campaign_id: int | None,
    limit: int,
) -> list[Invitee]:
    """Up to `limit` people (or children) to invite today, oldest first."""
    if targeting.child_vaccine is not None:
        kids = await child_campaigns.eligible(
            session,
            child_eligibility(targeting, today),
            dose_status=targeting.dose_status,
            today=today,
            campaign_id=campaign_id,
            limit=limit,
        )
        return [Invitee(c.full_name, c.ward_code, a, child_id=c.id) for c, a in kids]
    found = await store.eligible(
        session, eligibility(targeting, today), campaign_id=campaign_id, limit=limit
    )
    return [Invitee(p.full_name, p.ward_code, a, person_id=p.id) for p, a in found]


async def count_eligible(session: AsyncSession, targeting: Targeting, *, now: datetime) -> int:
    """How many people (or children) a targeting selects today (the preview before sending)."""
    today = local_day(now)
    if targeting.child_vaccine is not None:
        found = await invitees(session, targeting, today=today, campaign_id=None, limit=MAX_CAP)
        return len(found)
    return await store.count_eligible(session, eligibility(targeting, today))


def check(new: NewCampaign, settings: Settings) -> None:
    """Refuse a campaign that cannot work.

    Raises:
        CampaignError: what is wrong, in English (the chat checks each answer as it comes).
    """
    target = new.targeting
    if not 1 <= len(new.name.strip()) <= MAX_NAME:
        raise CampaignError(f"the name must be 1 to {MAX_NAME} characters")
    if not target.wards:
        raise CampaignError("at least one ward is needed")
    for code in target.wards:
        try:
            divisions.ward(code)
        except KeyError:
            raise CampaignError(
                f"ward {code} is no current ward (codes since 1 July 2025)"
            ) from None
    if target.child_vaccine is not None and (
        wrong := child_campaigns.problem(
            target.child_vaccine, target.dose_status, target.groups, target.max_age
        )
    ):
        raise CampaignError(wrong)
    known = {group.code for group in priority_groups(settings.priority_groups_file)}
    if unknown := [group for group in target.groups if group not in known]:
        raise CampaignError(f"unknown priority group {unknown[0]!r}; one of {', '.join(known)}")
    if not 0 <= target.min_age <= MAX_AGE or (
        target.max_age is not None and not target.min_age <= target.max_age <= MAX_AGE
    ):
        raise CampaignError(f"ages must be 0 to {MAX_AGE}, the minimum not above the maximum")
    parse_dose_status(target.dose_status)
    for text in (new.text_vi, new.text_en or "x"):
        if not 1 <= len(text.strip()) <= MAX_TEXT:
            raise CampaignError(f"a message text must be 1 to {MAX_TEXT} characters")
    if not 1 <= new.daily_cap <= MAX_CAP:
        raise CampaignError(f"the daily cap must be 1 to {MAX_CAP}")


# ---------------------------------------------------------------- managing campaigns


def group_of(campaign_id: int) -> str:
    """The job group of a campaign's waves."""
    return f"campaign:{campaign_id}"


def first_wave_at(starts_on: date, *, now: datetime, settings: Settings) -> datetime:
    """When a campaign starting on `starts_on` sends its first wave, as of `now`.

    At once if it starts today (or earlier) and there is daytime enough left to send a wave
    before the evening (`LATEST_START`); otherwise 09:00 on its first day, or the next 09:00.
    """
    local = now.astimezone(TIMEZONE)
    if starts_on > local.date():
        return datetime.combine(starts_on, WAVE_AT, TIMEZONE)
    if quiet_until(now, settings) is None and local.time() < LATEST_START:
        return now
    morning = datetime.combine(local.date(), WAVE_AT, TIMEZONE)
    return morning if now < morning else local_time(1, WAVE_AT, now)


async def _schedule_wave(
    session: AsyncSession, campaign_id: int, due: datetime, *, now: datetime
) -> None:
    wave = NewJob(WAVE, due, {"campaign": campaign_id}, group_of(campaign_id))
    await jobs.schedule(session, [wave], now=now)


def _audit_detail(campaign: Campaign) -> dict[str, object]:
    return {
        "name": campaign.name,
        "wards": campaign.wards,
        "groups": campaign.groups,
        "min_age": campaign.min_age,
        "max_age": campaign.max_age,
        "dose_status": campaign.dose_status,
        "child_vaccine": campaign.child_vaccine,
        "daily_cap": campaign.daily_cap,
        "starts_on": campaign.starts_on.isoformat(),
    }


async def create_campaign(
    session: AsyncSession, new: NewCampaign, *, actor: str, now: datetime, settings: Settings
) -> tuple[Campaign, datetime]:
    """Store a campaign, audit it and schedule its first wave; the campaign and that time.

    Raises:
        CampaignError: the campaign cannot work (see `check`).
    """
    check(new, settings)
    target = new.targeting
    campaign = await store.add_campaign(
        session,
        Campaign(
            name=new.name.strip(),
            created_by=actor[:120],
            wards=list(dict.fromkeys(target.wards)),
            groups=list(dict.fromkeys(target.groups)),
            min_age=target.min_age,
            max_age=target.max_age,
            dose_status=parse_dose_status(target.dose_status),
            text_vi=new.text_vi.strip(),
            text_en=new.text_en.strip() if new.text_en and new.text_en.strip() else None,
            daily_cap=new.daily_cap,
            status=ACTIVE,
            starts_on=new.starts_on,
            created_at=now,
            child_vaccine=target.child_vaccine,
        ),
    )
    first = first_wave_at(new.starts_on, now=now, settings=settings)
    await _schedule_wave(session, campaign.id, first, now=now)
    await staff.audit(
        session,
        actor=actor,
        action="campaign_created",
        subject=f"campaign:{campaign.id}",
        now=now,
        detail=_audit_detail(campaign),
    )
    return campaign, first


async def pause(session: AsyncSession, campaign: Campaign, *, actor: str, now: datetime) -> bool:
    """Stop an active campaign's waves until resumed; False if it was not active."""
    if not await store.change_status(session, campaign, PAUSED, allowed_from=(ACTIVE,)):
        return False
    await jobs.cancel_group(session, group_of(campaign.id), now=now)
    await _audit(session, campaign, "campaign_paused", actor=actor, now=now)
    return True


async def resume(
    session: AsyncSession, campaign: Campaign, *, actor: str, now: datetime, settings: Settings
) -> datetime | None:
    """Start a paused campaign's waves again; when the next wave goes (None: not paused).

    The day's cap counts what was sent earlier that day, so resuming never floods a site.
    """
    if not await store.change_status(session, campaign, ACTIVE, allowed_from=(PAUSED,)):
        return None
    await jobs.cancel_group(session, group_of(campaign.id), now=now)
    due = first_wave_at(campaign.starts_on, now=now, settings=settings)
    await _schedule_wave(session, campaign.id, due, now=now)
    await _audit(session, campaign, "campaign_resumed", actor=actor, now=now)
    return due


async def cancel(session: AsyncSession, campaign: Campaign, *, actor: str, now: datetime) -> bool:
    """End an active or paused campaign for good; False if it had ended already.

    Invitations already sent keep working: their buttons still book or decline.
    """
    if not await store.change_status(session, campaign, CANCELLED, allowed_from=(ACTIVE, PAUSED)):
        return False
    await jobs.cancel_group(session, group_of(campaign.id), now=now)
    await _audit(session, campaign, "campaign_cancelled", actor=actor, now=now)
    return True


async def _audit(
    session: AsyncSession, campaign: Campaign, action: str, *, actor: str, now: datetime
) -> None:
    await staff.audit(
        session,
        actor=actor,
        action=action,
        subject=f"campaign:{campaign.id}",
        now=now,
        detail={"name": campaign.name},
    )


async def report(session: AsyncSession, campaign_id: int) -> list[WardCounts]:
    """Invited, booked, declined, no answer and unreachable per ward (see `storage.campaigns`)."""
    return await store.report(session, campaign_id)


def total(counts: Sequence[WardCounts]) -> WardCounts:
    """The sum of the wards' counts (ward code 0)."""
    return WardCounts(
        0,
        booked=sum(c.booked for c in counts),
        declined=sum(c.declined for c in counts),
        unreachable=sum(c.unreachable for c in counts),
        no_answer=sum(c.no_answer for c in counts),
    )


# ---------------------------------------------------------------- waves


async def run_wave(run: Run) -> Verdict:
    """Invite today's share of the eligible; schedule tomorrow's wave or finish the campaign."""
    session = run.session
    campaign = await session.get(Campaign, int(run.job.payload["campaign"]))
    if campaign is None or campaign.status != ACTIVE:
        return Verdict.SKIPPED  # paused or cancelled since (their jobs are withdrawn anyway)
    today = local_day(run.now)
    if campaign.starts_on > today:
        start = datetime.combine(campaign.starts_on, WAVE_AT, TIMEZONE)
        await _schedule_wave(session, campaign.id, start, now=run.now)
        return Verdict.SKIPPED
    midnight = datetime.combine(today, time(0), TIMEZONE)
    room = max(
        campaign.daily_cap - await store.invited_since(session, campaign.id, since=midnight), 0
    )
    found = await invitees(
        session,
        targeting_of(campaign),
        today=today,
        campaign_id=campaign.id,
        limit=room + 1,  # one more tells whether anyone is left for tomorrow
    )
    invited = await _invite(run, campaign, found[:room])
    if len(found) > room:
        await _schedule_wave(session, campaign.id, local_time(1, WAVE_AT, run.now), now=run.now)
    else:
        await store.change_status(session, campaign, FINISHED, allowed_from=(ACTIVE,))
    log.info("campaign %s: %s invited, %s", campaign.id, invited, campaign.status)
    return Verdict.DONE


async def _invite(run: Run, campaign: Campaign, chosen: Sequence[Invitee]) -> int:
    """Write the invitations and their messages (one statement each); how many."""
    ids = await store.add_invitations(
        run.session,
        campaign.id,
        [NewInvitation(i.person_id, i.account.id, i.ward_code, i.child_id) for i in chosen],
        now=run.now,
    )
    written = []
    # A wave is spread over time at half the channel's bulk rate, so the reminders and results
    # written meanwhile are not queued behind thousands of invitations.
    spacing = timedelta(seconds=1 / (run.settings.bulk_rate_per_s * WAVE_SHARE))
    for number, (invitation_id, invitee) in enumerate(zip(ids, chosen, strict=True)):
        message = notices.compose_for(
            invitee.account,
            partial(invitation_text, campaign, invitee.name),
            buttons=partial(invitation_buttons, invitation_id),
            template=partial(invitation_facts, campaign, invitee.name),
        )
        if message is not None:  # the query already left out unreachable accounts
            written.append(
                (
                    invitation_id,
                    replace(message, not_before=run.now + number * spacing, lane=outbox.BULK),
                )
            )
    message_ids = await outbox.enqueue(run.session, [m for _i, m in written], now=run.now)
    await store.link_messages(
        run.session, [(inv, msg) for (inv, _m), msg in zip(written, message_ids, strict=True)]
    )
    return len(ids)


def invitation_text(campaign: Campaign, name: str) -> str:
    """The staff's text in the current language (Vietnamese when there is no English one)."""
    text = campaign.text_en if current_locale() == "en" and campaign.text_en else campaign.text_vi
    return text + "\n\n" + _("This invitation is for {name}.").format(name=name)


def invitation_facts(campaign: Campaign, name: str) -> tuple[str, dict[str, str]]:
    """The invitation in a few facts, for a template message (Zalo outside its window)."""
    return "invitation", {"name": name, "campaign": campaign.name}


def invitation_buttons(invitation_id: int) -> list[list[Button]]:
    """The buttons "Book now" and "Not taking part", in the current language."""
    return [
        [
            Button(_("Book now"), f"{BOOK}{invitation_id}"),
            Button(_("Not taking part"), f"{DECLINE}{invitation_id}"),
        ]
    ]


def answer(invitation: CampaignInvitation, status: str, *, now: datetime) -> bool:
    """Record a citizen's answer (`accepted` or `declined`); False if it was that already."""
    if invitation.status == status:
        return False
    invitation.status, invitation.answered_at = status, now
    return True


KINDS = {WAVE: JobKind(run_wave)}
