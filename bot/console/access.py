"""Who may see what in the console: the chat's roles and scopes, unchanged.

admin: everything. ward_staff: their wards (and the sites in them). support: the support work
(every ward: tickets come from anywhere). site_staff: their sites. sampler and lab: the sites of
their API keys. A signed-in person may hold several roles; what they may see is the union.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage.models import ConsoleAccount, Site, StaffMember

ADMIN, WARD_STAFF, SUPPORT, SITE_STAFF, SAMPLER, LAB = (
    "admin",
    "ward_staff",
    "support",
    "site_staff",
    "sampler",
    "lab",
)
SITE_ROLES = (SITE_STAFF, SAMPLER, LAB)  # scoped to their sites


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member: their account and every role they hold, with its scope."""

    account_id: int
    login: str
    channel: str
    user_id: str
    name: str | None
    roles: tuple[str, ...]
    wards: frozenset[int]
    sites: frozenset[str]

    @classmethod
    def of(cls, account: ConsoleAccount, members: Sequence[StaffMember]) -> Staff:
        """Gather an account's roles (`members`, all of the same identity)."""
        return cls(
            account_id=account.id,
            login=account.login,
            channel=account.channel,
            user_id=account.user_id,
            name=next((m.name for m in members if m.name), None),
            roles=tuple(sorted({m.role for m in members})),
            wards=frozenset(w for m in members if m.role == WARD_STAFF for w in m.wards),
            sites=frozenset(s for m in members if m.role in SITE_ROLES for s in m.sites),
        )

    @property
    def is_admin(self) -> bool:
        """Whether the person holds the admin role."""
        return ADMIN in self.roles

    @property
    def actor(self) -> str:
        """How the person appears in the audit log (as the chat writes it, plus the console)."""
        name = f" {self.name}" if self.name else ""
        return f"{self.channel}:{self.user_id}{name} (console: {', '.join(self.roles)})"[:120]

    def may_see_ward(self, ward: int) -> bool:
        """A ward's page: admins, and ward staff of that ward."""
        return self.is_admin or ward in self.wards

    def may_see_site(self, site: Site) -> bool:
        """A site's page: admins, ward staff of its ward, and staff of that site."""
        return self.is_admin or site.ward_code in self.wards or site.id in self.sites

    def may_manage_site(self, site: Site) -> bool:
        """A site's details, slots and days: admins, its ward's officers and its site staff."""
        return (
            self.is_admin
            or site.ward_code in self.wards
            or (SITE_STAFF in self.roles and site.id in self.sites)
        )

    def may_add_site(self, ward: int) -> bool:
        """A new site in a ward: admins and that ward's officers."""
        return self.is_admin or ward in self.wards

    @property
    def desk_sites(self) -> frozenset[str]:
        """The sites whose dose desk the person works at (site staff's own sites)."""
        return self.sites if SITE_STAFF in self.roles else frozenset()

    def may_record_doses(self, site: Site) -> bool:
        """A site's dose desk: its site staff, and admins."""
        return self.is_admin or site.id in self.desk_sites

    def may_broadcast(self) -> bool:
        """Ward announcements: admins (any ward or province) and ward officers (their wards)."""
        return self.is_admin or WARD_STAFF in self.roles

    def may_manage_staff(self) -> bool:
        """The staff list and creating staff: admins only (as `run_bot.py staff`)."""
        return self.is_admin

    def may_see_audit(self) -> bool:
        """The audit log and its export: admins only (it names every staff member's actions)."""
        return self.is_admin

    def may_see_inbox(self) -> bool:
        """The support inbox: admins, support agents (every ticket), ward staff (their wards')."""
        return any(role in self.roles for role in (ADMIN, SUPPORT, WARD_STAFF))

    def ticket_wards(self) -> frozenset[int] | None:
        """The wards whose tickets the person sees; None: every ticket (admins, support).

        A ticket's ward is the ward of the citizen's first registered person; a ticket of a
        citizen who registered nobody has no ward and is seen by admins and support agents only.
        """
        if self.is_admin or SUPPORT in self.roles:
            return None
        return self.wards
