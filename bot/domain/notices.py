"""Messages to a citizen that no conversation asked for (a dose recorded, a result ready).

They are written to the outbox in the caller's transaction, in the recipient's language, so a
notice exists if and only if the change it announces was committed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeGuard

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import use_locale
from bot.messages import Button, ChatRef, Outgoing
from storage import outbox
from storage.models import Account
from storage.outbox import NewMessage

Compose = Callable[[], str]
Buttons = Callable[[], list[list[Button]]]
# The kind of a notice and its facts, for platforms that carry proactive messages only as
# pre-approved templates (Zalo's ZBS; see `bot.config.TEMPLATE_FIELDS` and ZALO_TEMPLATES).
TemplateFacts = Callable[[], tuple[str, dict[str, str]]]


async def tell(
    session: AsyncSession,
    account: Account | None,
    compose: Callable[[], str],
    *,
    now: datetime,
    bulk: bool = True,
) -> bool:
    """Queue `compose()` (called in the account's language) to the account's chat.

    Notices are bulk rows by default: they share the channel's overall rate (Telegram: 30/s,
    or 1000/s with paid broadcast) so a big import never trips the platform's limits, while
    conversation replies keep skipping that queue.

    Returns:
        False when there is nobody to tell (an erased account, one marked unreachable, or one
        whose consent was withdrawn).
    """
    notice = compose_for(account, compose, bulk=bulk)
    if notice is None:
        return False
    await outbox.enqueue(session, [notice], now=now)
    return True


def can_tell(account: Account | None) -> TypeGuard[Account]:
    """Whether we may write to this account unasked: it exists, is reachable and consents.

    Consent withdrawn means we stop processing: no notice, reminder or certificate follows.
    """
    return (
        account is not None
        and account.unreachable_at is None
        and account.consent_version is not None
    )


def address_of(account: Account) -> ChatRef:
    """Where messages to an account go: its chat, or the linked chat used last (or chosen)."""
    if account.reach_channel and account.reach_chat_id:
        return ChatRef(account.reach_channel, account.reach_chat_id)
    return ChatRef(account.channel, account.chat_id)


def compose_for(
    account: Account | None,
    compose: Compose,
    *,
    bulk: bool = True,
    buttons: Buttons | None = None,
    template: TemplateFacts | None = None,
) -> NewMessage | None:
    """The outbox row telling `account` what `compose()` says in its language; None if nobody.

    `buttons()` and `template()`, if given, are called in the same language. For callers that
    tell many people at once and write all the rows in one statement.
    """
    if not can_tell(account):
        return None
    chat = address_of(account)
    with use_locale(account.locale):
        kind, facts = template() if template else (None, None)
        message = Outgoing(
            chat,
            compose(),
            buttons=tuple(tuple(row) for row in buttons()) if buttons else (),
            template=kind,
            template_data=facts,
        )
    return NewMessage(chat.channel, chat.chat_id, message.to_body(), account.id, bulk=bulk)
