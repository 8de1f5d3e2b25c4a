"""Staff roles (who may do what, where) and the audit log of what staff did."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, StaffMember

ROLES = ("admin", "ward_staff", "support", "site_staff", "sampler", "lab")


async def roles_of(
    session: AsyncSession, *, channel: str, user_id: str | None
) -> Sequence[StaffMember]:
    """The staff roles a platform user holds (none for citizens)."""
    if user_id is None:
        return []
    result = await session.scalars(
        select(StaffMember).where(StaffMember.channel == channel, StaffMember.user_id == user_id)
    )
    return result.all()


async def add_staff(
    session: AsyncSession,
    *,
    channel: str,
    user_id: str,
    role: str,
    name: str | None,
    wards: Sequence[int],
    sites: Sequence[str],
) -> StaffMember:
    """Grant a role, or replace the scope of a role already held.

    Raises:
        ValueError: an unknown role.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    member = await session.scalar(
        select(StaffMember).where(
            StaffMember.channel == channel,
            StaffMember.user_id == user_id,
            StaffMember.role == role,
        )
    )
    if member is None:
        member = StaffMember(channel=channel, user_id=user_id, role=role)
        session.add(member)
    member.name = name
    member.wards = list(wards)
    member.sites = list(sites)
    await session.flush()
    return member


async def list_staff(session: AsyncSession) -> Sequence[StaffMember]:
    """Every staff role, by channel, user and role."""
    result = await session.scalars(
        select(StaffMember).order_by(StaffMember.channel, StaffMember.user_id, StaffMember.role)
    )
    return result.all()


async def remove_staff(
    session: AsyncSession, *, channel: str, user_id: str, role: str | None
) -> int:
    """Take away one role (or all of them); returns how many were removed."""
    statement = delete(StaffMember).where(
        StaffMember.channel == channel, StaffMember.user_id == user_id
    )
    if role is not None:
        statement = statement.where(StaffMember.role == role)
    result = await session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


def actor_label(member: StaffMember) -> str:
    """How a staff member appears in the audit log."""
    name = f" {member.name}" if member.name else ""
    return f"{member.channel}:{member.user_id}{name} ({member.role})"


async def audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    subject: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one line of the audit log, in the transaction of the action itself."""
    session.add(
        AuditEvent(actor=actor, action=action, subject=subject, detail=detail or {}, at=now)
    )
    await session.flush()


async def audit_trail(session: AsyncSession, *, limit: int = 100) -> Sequence[AuditEvent]:
    """The latest audit lines, newest first."""
    result = await session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit))
    return result.all()
