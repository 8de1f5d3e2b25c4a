"""Staff roles (who may do what, where) and the audit log of what staff did."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, StaffMember

ROLES = ("admin", "ward_staff", "support", "site_staff", "sampler", "lab")
# Roles whose work arrives from machines (scanner apps, lab systems) with a per-staff API key.
API_ROLES = ("sampler", "lab")
_API_KEY_PREFIX = "hk_"
_MAX_API_KEY = 128


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
    lab: str | None = None,
    now: datetime,
) -> StaffMember:
    """Grant a role, or replace the scope of a role already held.

    `lab` is the lab a `lab` role records results for (the name citizens are told); its
    `sites` are those whose tubes it may result.

    Raises:
        ValueError: an unknown role, or a lab given to another role.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if lab is not None and role != "lab":
        raise ValueError("only the lab role has a lab")
    member = await session.scalar(
        select(StaffMember).where(
            StaffMember.channel == channel,
            StaffMember.user_id == user_id,
            StaffMember.role == role,
        )
    )
    if member is None:
        member = StaffMember(channel=channel, user_id=user_id, role=role, created_at=now)
        session.add(member)
    member.name = name
    member.wards = list(wards)
    member.sites = list(sites)
    member.lab = lab
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


def hash_api_key(key: str) -> str:
    """What is stored of an API key: its SHA-256, in hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


async def issue_api_key(session: AsyncSession, member: StaffMember) -> str:
    """Give an API role a new key (the old one stops working); returns it, shown only once.

    Only the key's SHA-256 is stored: a key is 256 random bits, so a plain hash is enough
    (no salt or slow hash needed), and it lets `staff_by_api_key` find the row by an index.

    Raises:
        ValueError: the role takes no API key.
    """
    if member.role not in API_ROLES:
        raise ValueError(f"role {member.role!r} takes no API key")
    key = _API_KEY_PREFIX + secrets.token_urlsafe(32)
    member.api_key_hash = hash_api_key(key)
    await session.flush()
    return key


async def staff_by_api_key(session: AsyncSession, key: str) -> StaffMember | None:
    """The staff role an API key belongs to, or None.

    The lookup is by the key's hash, never by the key, so how long the database takes to
    compare says nothing about the key itself.
    """
    if not key or len(key) > _MAX_API_KEY:
        return None
    return await session.scalar(
        select(StaffMember).where(StaffMember.api_key_hash == hash_api_key(key))
    )


def within_scope(wards: Sequence[int], scope: Sequence[int] | None) -> bool:
    """Whether every ward lies in a staff scope (None: any ward, as for an admin)."""
    return scope is None or set(wards) <= set(scope)


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


async def audited_since(
    session: AsyncSession, *, action: str, subject: str, since: datetime
) -> bool:
    """Whether the audit log has `action` on `subject` since `since`."""
    found = await session.scalar(
        select(AuditEvent.id)
        .where(AuditEvent.action == action, AuditEvent.subject == subject, AuditEvent.at >= since)
        .limit(1)
    )
    return found is not None
