"""`campaign create|list|report|cancel`: ward invitation campaigns from the command line."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bot.cli.arguments import CLI_ACTOR
from bot.domain import campaign_waves as campaigns
from bot.domain.form_lists import group_codes
from bot.i18n import TIMEZONE, local_day
from bot.vn import divisions
from storage import campaigns as store
from storage.models import Campaign

if TYPE_CHECKING:
    from bot.app import Service


async def run(args: argparse.Namespace, service: Service) -> int:
    """Run a `campaign` action; the exit code."""
    if args.campaign_command == "create":
        return await _campaign_create(args, service)
    if args.campaign_command == "list":
        return await _campaign_list(service)
    if args.campaign_command == "report":
        return await _campaign_report(args.id, service)
    return await _campaign_cancel(args.id, service)


async def _campaign_create(args: argparse.Namespace, service: Service) -> int:
    now = service.clock()
    today = local_day(now)
    if args.start is not None and args.start < today:
        print(f"error: --start {args.start} is in the past", file=sys.stderr)
        return 2
    new = campaigns.NewCampaign(
        name=args.name,
        targeting=campaigns.Targeting(
            wards=tuple(args.wards),
            dose_status=args.dose_status,
            groups=tuple(group_codes(args.groups, service.settings)),
            min_age=args.min_age,
            max_age=args.max_age,
            child_vaccine=args.children_vaccine,
        ),
        text_vi=args.text_vi,
        text_en=args.text_en,
        daily_cap=args.daily_cap,
        starts_on=args.start or today,
    )
    try:
        campaigns.check(new, service.settings)
    except campaigns.CampaignError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    async with service.db.session_scope() as session:
        campaign, first = await campaigns.create_campaign(
            session, new, actor=CLI_ACTOR, now=now, settings=service.settings
        )
        eligible = await campaigns.count_eligible(session, new.targeting, now=now)
    when = "now" if first <= now else first.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M")
    print(f"created campaign {campaign.id}: {campaign.name}")
    print(
        f"eligible now: {eligible}; first wave: {when} (Vietnam time); "
        f"at most {campaign.daily_cap} a day"
    )
    return 0


async def _campaign_list(service: Service) -> int:
    async with service.db.read_scope() as session:
        found = await store.list_campaigns(session)
        invited = await store.invited_counts(session, [c.id for c in found])
    for campaign in found:
        print(
            f"{campaign.id} [{campaign.status}] {campaign.name}: "
            f"wards {', '.join(str(w) for w in campaign.wards)}; "
            f"groups {', '.join(campaign.groups) or 'all'}; ages {_ages(campaign)}; "
            + (f"children, vaccine {campaign.child_vaccine}; " if campaign.child_vaccine else "")
            + f"dose {campaign.dose_status}; {campaign.daily_cap}/day from "
            f"{campaign.starts_on.isoformat()}; invited {invited.get(campaign.id, 0)}; "
            f"by {campaign.created_by}"
        )
    if not found:
        print("no campaigns")
    return 0


def _ages(campaign: Campaign) -> str:
    if campaign.max_age is not None:
        return f"{campaign.min_age}-{campaign.max_age}"
    return f"{campaign.min_age}+" if campaign.min_age else "any"


REPORT_COLUMNS = ("invited", "booked", "declined", "no answer", "unreachable")


async def _campaign_report(campaign_id: int, service: Service) -> int:
    async with service.db.read_scope() as session:
        campaign = await store.get_campaign(session, campaign_id)
        counts = await campaigns.report(session, campaign_id) if campaign else []
    if campaign is None:
        print(f"no campaign {campaign_id}")
        return 1
    print(f"campaign {campaign.id}: {campaign.name} [{campaign.status}]")
    print(f"{'ward':<36}" + "".join(f"{column:>13}" for column in REPORT_COLUMNS))
    for ward in [*counts, campaigns.total(counts)]:
        try:
            name = f"{ward.ward_code} {divisions.ward(ward.ward_code).name}"
        except KeyError:
            name = "total" if ward.ward_code == 0 else str(ward.ward_code)
        numbers = (ward.invited, ward.booked, ward.declined, ward.no_answer, ward.unreachable)
        print(f"{name[:35]:<36}" + "".join(f"{number:>13}" for number in numbers))
    return 0


async def _campaign_cancel(campaign_id: int, service: Service) -> int:
    async with service.db.session_scope() as session:
        campaign = await store.get_campaign(session, campaign_id)
        cancelled = campaign is not None and await campaigns.cancel(
            session, campaign, actor=CLI_ACTOR, now=service.clock()
        )
    if campaign is None:
        print(f"no campaign {campaign_id}")
        return 1
    if not cancelled:
        print(f"campaign {campaign.id} has already ended ({campaign.status})")
        return 1
    print(f"cancelled campaign {campaign.id}: {campaign.name}")
    return 0
