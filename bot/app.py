"""Composition root: settings, database, channels, sender, workers, dispatcher, web, polling.

The order is the order of dependencies, and start-up follows it so that nothing takes traffic
before what it needs is ready: the schema is migrated before anything reads it; channels exist
before the sender that delivers through them; the dispatcher before the web server that feeds
it; Telegram polling last, so no update is pulled before it can be handled. Shutdown runs in
reverse: stop taking updates, let the sender finish, close the channels, close the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy.exc import DBAPIError
from telegram.error import InvalidToken, TelegramError

from bot.channels import Channel
from bot.channels.telegram.bot_api import ALLOWED_UPDATES, HandleBatch, TelegramChannel
from bot.channels.web_chat import WebChannel
from bot.channels.zalo.inbox import ZaloInbox
from bot.channels.zalo.oa_api import PhoneOf, Template, ZaloChannel
from bot.channels.zalo.tokens import TokenKeeper
from bot.clock import Clock, wall_clock
from bot.config import DEFAULT_DCC_ISSUER, ConfigError, Settings
from bot.console.demo_staff import how_to_sign_in, seed_console_demo
from bot.conversation import Services
from bot.crypto import DataProtector, load_master_key
from bot.demo import seed_demo
from bot.dispatch import Dispatcher
from bot.domain import reminders, retention
from bot.domain.dcc.trust import Authority, load_authority
from bot.domain.immunisation.schedule import ScheduleError, load_schedule
from bot.domain.photos import PhotoReader
from bot.domain.ratelimit import LocalLimiter, RateLimiter
from bot.domain.tickets import Desk
from bot.handlers.start import command_menu
from bot.i18n import SUPPORTED, _, use_locale
from bot.logs import quiet_library_loggers
from bot.messages import ChatRef, Outgoing
from bot.vn import divisions
from bot.web.server import TELEGRAM_WEBHOOK_PATH, build_web_app
from bot.web.zalo_webhook import ZALO_WEBHOOK_PATH
from bot.workers.desk_linker import DeskLinker
from bot.workers.jobs_table import JOB_KINDS
from bot.workers.renderer import Renderer
from bot.workers.scheduler import Scheduler
from bot.workers.sender import STOP_TIMEOUT_S, Sender
from storage import accounts, console, files, inbox, jobs, outbox, samples, updates
from storage.db import Database
from storage.outbox import NewMessage
from storage.shared_limits import RedisError, RedisLimiter

log = logging.getLogger(__name__)

UPDATE_MEMORY = timedelta(days=3)  # platforms stop redelivering long before this
JOB_MEMORY = timedelta(days=30)  # settled jobs are kept this long, to look into
# A chat that never consented (opened, refused, or never answered) is deleted this long after
# its last message: it holds nothing the citizen needs, and a script could open millions.
NEVER_CONSENTED_MEMORY = timedelta(days=1)
SIGNER_WARNING = timedelta(days=60)  # warn at start-up this long before the signer expires
# Shutdown: every step is bounded so that the process is gone within 5 s of SIGTERM (README,
# Operations). Requests still running when the web server stops get this long, twice (aiohttp
# waits, then cancels and waits again); a background task this long to end once cancelled.
WEB_STOP_S = 0.75
TASK_STOP_S = 1.0


@dataclass
class Service:
    """Everything one process runs, built by `build_service`."""

    settings: Settings
    db: Database
    protector: DataProtector
    web_channel: WebChannel
    telegram: TelegramChannel | None
    sender: Sender
    dispatcher: Dispatcher
    web_app: web.Application
    authority: Authority
    renderer: Renderer
    scheduler: Scheduler
    desk_linker: DeskLinker | None = None
    zalo: ZaloChannel | None = None
    zalo_tokens: TokenKeeper | None = None
    zalo_inbox: ZaloInbox | None = None
    clock: Clock = wall_clock
    limiter: RateLimiter = field(default_factory=LocalLimiter)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def build_service(settings: Settings, *, clock: Clock = wall_clock) -> Service:
    """Wire the service's parts without starting anything.

    Raises:
        ConfigError: a data file the rules need (the children's schedule) is broken.
    """
    quiet_library_loggers()
    try:
        load_schedule()  # validated now rather than at a parent's first question (cached)
    except ScheduleError as error:
        raise ConfigError(f"the immunisation schedule: {error}") from None
    db = Database(settings.database_url)
    protector = DataProtector(load_master_key(settings))
    web_channel = WebChannel()
    channels: dict[str, Channel] = {web_channel.name: web_channel}
    telegram = None
    if settings.telegram_bot_token:
        telegram = TelegramChannel(
            token=settings.telegram_bot_token,
            base_url=settings.telegram_api_base_url,
            chat_rate_per_s=settings.chat_rate_per_s,
            chat_burst=settings.chat_burst,
            bulk_rate_per_s=settings.bulk_rate_per_s,
            group_rate_per_min=settings.telegram_group_rate_per_min,
            paid_broadcast=settings.telegram_paid_broadcast,
        )
        channels[telegram.name] = telegram
    zalo, keeper = None, None
    if settings.zalo_enabled:
        keeper = _zalo_tokens(settings, db, protector, clock)
        zalo = _zalo_channel(settings, keeper, _phone_lookup(db, protector), clock)
        channels[zalo.name] = zalo
    limiter = RedisLimiter.from_url(settings.redis_url) if settings.redis_url else LocalLimiter()
    sender = Sender(
        db, channels, clock=clock, max_attempts=settings.send_max_attempts, limiter=limiter
    )
    authority = load_authority(settings, now=clock())
    renderer = Renderer(db, authority, clock=clock, on_queued=sender.wake, fit=sender.fit)
    scheduler = Scheduler(db, JOB_KINDS, settings=settings, clock=clock, on_queued=sender.wake)
    desk, linker = None, None
    if telegram is not None and settings.support_chat_id:
        chat = ChatRef(telegram.name, settings.support_chat_id)
        desk = Desk(chat, timedelta(minutes=settings.support_claim_minutes))
        linker = DeskLinker(
            db, chat, is_forum=telegram.chat_is_forum, clock=clock, on_queued=sender.wake
        )
    services = Services(
        settings,
        protector,
        clock,
        authority,
        renderer.wake,
        desk=desk,
        desk_woken=linker.wake if linker else lambda: None,
        outbox_written=sender.wake,
        outbox_withdrawn=sender.withdraw,
        fit=sender.fit,
    )
    fetchers = {channel.name: channel.fetch_file for channel in (telegram, zalo) if channel}
    dispatcher = Dispatcher(db, services, sender, PhotoReader(fetchers))
    zalo_inbox = None
    if zalo is not None:
        zalo_inbox = ZaloInbox(db, dispatcher.handle_batch, clock=clock, on_released=sender.wake)
    if keeper is not None and settings.support_chat_id:
        desk_chat = ChatRef("telegram", settings.support_chat_id)
        keeper.alert = _desk_alert(db, desk_chat, sender.wake, clock)
    web_app = build_web_app(
        settings=settings,
        db=db,
        dispatcher=dispatcher,
        protector=protector,
        web_channel=web_channel,
        telegram=telegram,
        authority=authority,
        clock=clock,
        zalo_inbox=zalo_inbox,
        outbox_written=sender.wake,
        outbox_withdrawn=sender.withdraw,
        certificates_issued=renderer.wake,
        fit=sender.fit,
    )
    return Service(
        settings,
        db,
        protector,
        web_channel,
        telegram,
        sender,
        dispatcher,
        web_app,
        authority,
        renderer,
        scheduler,
        linker,
        zalo,
        keeper,
        zalo_inbox,
        clock,
        limiter,
    )


def _zalo_tokens(
    settings: Settings, db: Database, protector: DataProtector, clock: Clock
) -> TokenKeeper:
    assert settings.zalo_app_id and settings.zalo_app_secret
    refresh = settings.zalo_refresh_token
    return TokenKeeper(
        db,
        protector,
        oauth_base_url=settings.zalo_oauth_base_url,
        app_id=settings.zalo_app_id,
        app_secret=settings.zalo_app_secret,
        initial=(settings.zalo_access_token, refresh) if refresh else None,
        clock=clock,
    )


def _zalo_channel(
    settings: Settings, tokens: TokenKeeper, phone_of: PhoneOf, clock: Clock
) -> ZaloChannel:
    return ZaloChannel(
        api_base_url=settings.zalo_api_base_url,
        business_base_url=settings.zalo_business_api_base_url,
        tokens=tokens,
        phone_of=phone_of,
        templates={
            kind: Template(template_id, fields)
            for kind, (template_id, fields) in settings.zalo_templates.items()
        },
        clock=clock,
        chat_rate_per_s=settings.chat_rate_per_s,
        chat_burst=settings.chat_burst,
        bulk_rate_per_s=settings.zalo_rate_per_s,
        info_image_url=settings.zalo_info_image_url,
    )


def _phone_lookup(db: Database, protector: DataProtector) -> PhoneOf:
    """A Zalo citizen's phone number on record, for template messages by phone."""

    async def phone_of(chat_id: str) -> str | None:
        async with db.read_scope() as session:
            sealed = await accounts.sealed_phone(session, channel="zalo", chat_id=chat_id)
        return protector.open(sealed) if sealed else None

    return phone_of


def _desk_alert(
    db: Database, desk: ChatRef, wake: Callable[[], None], clock: Clock
) -> Callable[[str], Awaitable[None]]:
    """Tell the support staff's chat something an admin must act on."""

    async def alert(reason: str) -> None:
        with use_locale("vi"):
            text = _(
                "Zalo is not working: {reason}. An OA admin must grant the app access again "
                "(README, section Zalo); until then Zalo messages wait."
            ).format(reason=reason)
        message = Outgoing(desk, text)
        async with db.session_scope() as session:
            row = NewMessage(desk.channel, desk.chat_id, message.to_body())
            await outbox.enqueue(session, [row], now=clock())
        wake()

    return alert


@contextlib.asynccontextmanager
async def running(service: Service) -> AsyncIterator[web.AppRunner]:
    """Start every part in dependency order; stop them in reverse when the block ends.

    If start-up fails half way, whatever was started is stopped.
    """
    settings = service.settings
    runner = web.AppRunner(service.web_app, access_log=None, shutdown_timeout=WEB_STOP_S)
    try:
        # The database, the keys and whatever else is under VAR_DIR are the owner's only.
        files.tighten_tree(settings.var_dir)
        files.tighten(settings.dcc_key_path)
        await migrate(service.db)
        await _check_limiter(service.limiter)
        # The ward index takes about 0.3 s of CPU to build: build it off the event loop now,
        # not in the middle of the first citizen's ward question, where it would stall every chat.
        await asyncio.to_thread(divisions.popular_provinces)
        if not settings.is_production:  # demo sites must never be bookable by real citizens
            await _seed_demo(service)
        if service.telegram is not None:
            await _check_telegram(service.telegram)
        if service.zalo_tokens is not None:
            await service.zalo_tokens.load()
            service.tasks.append(
                asyncio.create_task(service.zalo_tokens.run(), name="zalo-tokens")
            )
        service.tasks.append(asyncio.create_task(service.sender.run(), name="sender"))
        service.tasks.append(asyncio.create_task(_forget_old_rows(service), name="cleanup"))
        service.tasks.append(asyncio.create_task(service.renderer.run(), name="certificates"))
        await _backfill_reminders(service)
        service.tasks.append(asyncio.create_task(service.scheduler.run(), name="scheduler"))
        if service.desk_linker is not None:
            service.tasks.append(asyncio.create_task(service.desk_linker.run(), name="desk"))
        if service.zalo_inbox is not None:  # events stored before a stop are handled first
            service.tasks.append(asyncio.create_task(service.zalo_inbox.run(), name="zalo"))
        await runner.setup()
        await _listen(runner, settings)
        if service.telegram is not None:
            telegram = _run_telegram(service.telegram, settings, service.dispatcher.handle_batch)
            service.tasks.append(asyncio.create_task(telegram, name="telegram"))
        yield runner
    finally:
        # Stop taking updates (Telegram, then the web: the browsers' long polls are answered
        # at once), then the workers, then stop sending: the sender hands back to the table
        # what it still holds, replies to the last requests included. Work cut short is rolled
        # back and done again after a restart (updates are confirmed once handled).
        tasks = {task.get_name(): task for task in service.tasks}
        service.tasks.clear()
        await _cancel(tasks.pop("telegram", None))
        service.web_channel.close()
        await runner.cleanup()
        await _cancel(tasks.pop("zalo", None))
        sender = tasks.pop("sender", None)
        await asyncio.gather(*(_cancel(task) for task in tasks.values()))
        await _cancel(sender)
        await service.sender.stop()
        if service.telegram is not None:
            await service.telegram.stop()
        if service.zalo is not None:
            await service.zalo.stop()
        await service.limiter.close()
        await service.db.dispose()


async def _check_limiter(limiter: RateLimiter) -> None:
    """Refuse to start when the shared rate limits cannot be kept (Redis does not answer)."""
    if isinstance(limiter, RedisLimiter):
        try:
            async with asyncio.timeout(5):
                await limiter.check()
        except (OSError, TimeoutError, RedisError) as error:
            raise ConfigError(f"REDIS_URL: Redis does not answer ({_reason(error)})") from None


async def _seed_demo(service: Service) -> None:
    """The demo citizen, sites and slots, and the console's demo staff (development only)."""
    async with service.db.session_scope() as session:
        if await seed_demo(session, service.protector, now=service.clock()):
            log.info("demo data seeded")
        await seed_console_demo(session, service.settings, now=service.clock())
    log.info("%s", how_to_sign_in(service.settings))


async def _listen(runner: web.AppRunner, settings: Settings) -> None:
    try:
        await web.TCPSite(runner, settings.http_host, settings.http_port).start()
    except OSError as error:
        where = f"{settings.http_host}:{settings.http_port}"
        raise ConfigError(f"cannot listen on {where} ({_reason(error)}); set HTTP_PORT") from None


async def serve(settings: Settings, *, clock: Clock = wall_clock) -> None:
    """Run the service until SIGINT or SIGTERM."""
    service = build_service(settings, clock=clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running(service):
        where = f"http://{settings.http_host}:{settings.http_port}"
        log.info("web chat at %s/chat", where)
        left = service.authority.signer.cert.not_valid_after_utc - service.clock()
        if left < SIGNER_WARNING:
            log.warning(
                "the certificate signer's certificate expires in %s days: prepare its successor",
                left.days,
            )
        if settings.dcc_issuer == DEFAULT_DCC_ISSUER:
            log.warning(
                "certificates are signed by a TEST issuer (keys in %s); see README, Certificates",
                settings.dcc_key_path.parent,
            )
        if settings.support_chat_id is None:
            log.warning(
                "SUPPORT_CHAT_ID is not set: citizens asking for support are given the hotline"
            )
        if service.telegram is not None:
            mode = settings.telegram_mode
            log.info(
                "telegram on (%s%s)",
                mode,
                f", webhook path {TELEGRAM_WEBHOOK_PATH}" if mode == "webhook" else "",
            )
        if service.zalo is not None:
            log.info("zalo on, webhook path %s", ZALO_WEBHOOK_PATH)
        await stop.wait()
        log.info("stopping")


async def migrate(db: Database) -> None:
    """Bring the schema up to date; an unreachable database is a one-line start-up error.

    Raises:
        ConfigError: the database cannot be opened.
    """
    try:
        await db.migrate()
    except (OSError, DBAPIError) as error:  # a server that is down, a file we cannot write
        raise ConfigError(f"cannot open the database of DATABASE_URL ({_reason(error)})") from None


def _reason(error: Exception) -> str:
    """The cause of a start-up failure in a few words, without the URL (it may hold a password)."""
    cause = getattr(error, "orig", None) or error
    return getattr(cause, "strerror", None) or type(cause).__name__


async def _cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel `task` and wait for it, at most `TASK_STOP_S` (the sender: its own bound too)."""
    if task is None:
        return
    task.cancel()
    bound = TASK_STOP_S + (STOP_TIMEOUT_S if task.get_name() == "sender" else 0)
    done, _ = await asyncio.wait({task}, timeout=bound)
    if not done:
        log.warning("the %s task did not stop within %.1f s", task.get_name(), bound)
    elif not task.cancelled() and task.exception() is not None:
        log.error("the %s task had failed", task.get_name(), exc_info=task.exception())


async def _check_telegram(telegram: TelegramChannel) -> None:
    """Fail start-up on a token Telegram refuses; if Telegram is unreachable, carry on."""
    try:
        await telegram.start()
    except InvalidToken:  # its message quotes the token: never log it
        raise ConfigError("TELEGRAM_BOT_TOKEN was refused by Telegram") from None
    except TelegramError as error:
        log.warning("Telegram is not reachable (%s); the web chat starts anyway", _reason(error))


async def _run_telegram(
    telegram: TelegramChannel, settings: Settings, handle: HandleBatch
) -> None:
    """Connect (retrying while Telegram is unreachable), publish the commands, then receive."""
    delay = 1.0
    while True:
        try:
            await telegram.start()
            await _publish_commands(telegram)
            if settings.telegram_mode == "webhook":
                assert settings.telegram_webhook_url is not None  # checked by Settings.check
                await telegram.bot.set_webhook(
                    settings.telegram_webhook_url,
                    secret_token=settings.telegram_webhook_secret,
                    allowed_updates=ALLOWED_UPDATES,
                )
            break
        except InvalidToken:
            log.error("TELEGRAM_BOT_TOKEN was refused by Telegram; Telegram is off")
            return
        except TelegramError as error:
            log.warning(
                "Telegram is not reachable (%s); retrying in %.0f s", _reason(error), delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)
    if settings.telegram_mode == "polling":
        await telegram.poll(handle)


async def _publish_commands(telegram: TelegramChannel) -> None:
    for locale in SUPPORTED:
        with use_locale(locale):
            commands = command_menu()
        # Vietnamese is what clients in any other language see.
        await telegram.set_commands(commands, None if locale == "vi" else locale)


async def _backfill_reminders(service: Service) -> None:
    """Reminders for bookings made before the scheduler existed (a no-op once done)."""
    total = 0
    while True:
        async with service.db.session_scope() as session:
            added = await reminders.backfill(session, now=service.clock())
        total += added
        if added < 1000:
            break
    if total:
        log.info("scheduled the reminders of %s earlier bookings", total)


async def _forget_old_rows(service: Service) -> None:
    """Hourly: forget what is past its time and strip old messages, on the service's clock."""
    db, clock = service.db, service.clock
    keep_messages = timedelta(days=service.settings.outbox_retention_days)
    keep_records = timedelta(days=service.settings.outbox_prune_days)
    while True:
        try:
            await forget_old_rows(db, now=clock())
            await retention.strip_old_messages(db, now=clock(), keep=keep_messages)
            await retention.prune_old_messages(db, now=clock(), keep=keep_records)
        except Exception:  # the database may be away for a while: try again next hour
            log.exception("could not forget old rows or strip old messages")
        await asyncio.sleep(3600)


async def forget_old_rows(db: Database, *, now: datetime) -> None:
    """The hourly clean-up: what is no longer needed at `now` is deleted."""
    async with db.session_scope() as session:
        await updates.forget_updates_before(session, cutoff=now - UPDATE_MEMORY)
        await inbox.forget_handled_before(session, cutoff=now - UPDATE_MEMORY)
        # Failed result lookups count for a day at most (bot.handlers.pcr).
        await samples.forget_lookups_before(session, now - timedelta(days=2))
        await jobs.forget_settled_before(session, now - JOB_MEMORY)
        await console.forget_old(session, now=now, before=now - timedelta(days=2))
        forgotten = await accounts.forget_never_consented(
            session, idle_before=now - NEVER_CONSENTED_MEMORY
        )
    if forgotten:
        log.info("deleted %s accounts that never consented", forgotten)
