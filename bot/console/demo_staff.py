"""Demo staff for the console: an admin, a ward officer and a site's dose desk, one password.

Seeded by `make run` (bot.app.running) only when ENV is not production: a known password on a
service with real citizens' data would be a door left open, so `seed_console_demo` refuses.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.console.passwords import hash_password
from storage import console as store
from storage import staff

DEMO_PASSWORD = "demo-console"
DEMO_WARD = 26743  # Phường Bến Thành, where the demo sites are (bot.demo)
DEMO_SITE = "hcm-benthanh"  # the demo site staff's dose desk (bot.demo)
# (sign-in name, name, role, wards, sites)
DEMO_STAFF = (
    ("admin", "Quản trị viên (demo)", "admin", (), ()),
    ("ward", "Cán bộ phường Bến Thành (demo)", "ward_staff", (DEMO_WARD,), ()),
    ("desk", "Bàn tiêm Trạm Y tế Bến Thành (demo)", "site_staff", (), (DEMO_SITE,)),
)
_hashed: list[str] = []  # one argon2 hash per process: tests start many services


async def seed_console_demo(session: AsyncSession, settings: Settings, *, now: datetime) -> bool:
    """The demo console staff that are missing; whether any were created.

    Raises:
        RuntimeError: ENV is production.
    """
    if settings.is_production:
        raise RuntimeError("the demo console staff are for development only")
    created = False
    for login, name, role, wards, sites in DEMO_STAFF:
        if await store.account_by_login(session, login) is not None:
            continue
        if not _hashed:
            _hashed.append(await hash_password(DEMO_PASSWORD))
        await staff.add_staff(
            session,
            channel="console",
            user_id=login,
            role=role,
            name=name,
            wards=wards,
            sites=sites,
            now=now,
        )
        account = await store.open_account(
            session, login=login, channel="console", user_id=login, now=now
        )
        account.password_hash = _hashed[0]
        created = True
    return created


def how_to_sign_in(settings: Settings) -> str:
    """The line `make run` prints: where the console is and the demo sign-ins."""
    names = ", ".join(f"{login!r}" for login, *_ in DEMO_STAFF)
    return (
        f"staff console: {settings.console_base}/ (demo sign-in: {names}, "
        f"password {DEMO_PASSWORD!r})"
    )
