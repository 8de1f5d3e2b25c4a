"""Demo data, seeded on first start so a newcomer can try every flow locally.

Idempotent: running it again changes nothing. Later features add their demo rows here
(sites, slots, results...), each guarded the same way.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.crypto import DataProtector
from bot.handlers.phone import PHONE_INDEX
from bot.handlers.privacy import CONSENT_VERSION
from storage import accounts

DEMO_CHAT = ("web", "demo-citizen")
DEMO_PHONE = "+84912345678"


async def seed_demo(session: AsyncSession, protector: DataProtector) -> bool:
    """Create the demo citizen (consented, with a phone number); False if already there."""
    channel, chat_id = DEMO_CHAT
    if await accounts.load_chat(session, channel=channel, chat_id=chat_id) is not None:
        return False
    account, _ = await accounts.open_chat(
        session, channel=channel, chat_id=chat_id, user_id=None, locale="vi"
    )
    await accounts.record_consent(session, account, version=CONSENT_VERSION, granted=True)
    account.phone_sealed = protector.seal(DEMO_PHONE)
    account.phone_index = protector.blind_index(PHONE_INDEX, DEMO_PHONE)
    return True
