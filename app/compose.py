"""The composition root: the one place that builds engines, the dialog and the channels."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from app.settings import Settings
from bot.handlers import WORDS, build_router
from bot.handlers.context import DialogRules, Services
from bot.handlers.dialog import Dialog
from bot.handlers.turn_order import TurnQueue
from bot.i18n import Catalogues
from bot.messages import Incoming, Reply
from core.accounts import LinkPolicy
from core.balances import BillingRules
from core.channels import default_rates
from core.clock import Clock, FrozenClock, SystemClock
from core.model import Channel
from core.payment_qr import BankTransferRules
from core.payments import PaymentProvider
from core.persons import mark_unreachable
from core.photo_reading import MeterPhotoReader
from core.ports import AbstractChatMemories, AbstractUnitOfWorkFactory
from core.privacy import mask
from core.readings import ReadingRules
from core.schedules import ScheduleRules
from documents.rendering import DirectoryDocuments, ThreadedDocumentRenderer
from observability.logs import log_ids, new_id
from observability.metrics import Metrics
from storage.database import make_engine
from storage.photo_files import DirectoryPhotoStore
from storage.shared_state import SqlChatMemories
from storage.uow import SqlAlchemyUnitOfWorkFactory

if TYPE_CHECKING:
    from bot.channels.base import ChannelAdapter
    from bot.channels.console import ConsoleChannel
    from bot.channels.media import MediaStore
    from bot.pushes import PushRenderer
    from operator_api.operations import Operator
    from payments.callback import EasyPayCallbacks, Pusher
    from scheduler.delivery import Pushes
    from storage.retention import Retention

log = logging.getLogger(__name__)


def make_clock(settings: Settings) -> Clock:
    """The system clock, or a frozen one when KABINET_NOW is set (with a warning)."""
    if settings.kabinet_now is None:
        return SystemClock()
    log.warning("KABINET_NOW is set: the clock is frozen at %s", settings.kabinet_now.isoformat())
    return FrozenClock(settings.kabinet_now)


def make_photo_reader(settings: Settings) -> MeterPhotoReader | None:
    """The photo reading pipeline (ocr/) in a bounded process pool; None when not installed."""
    if settings.ocr_workers == 0:
        return None
    try:
        from ocr import MeterReader
    except ImportError:  # onnxruntime or OpenCV missing: the bot still works, photos answered
        log.warning("OCR is unavailable: photos will be answered with 'type it in'")
        return None
    return MeterReader(
        workers=settings.ocr_workers,
        max_pending=settings.ocr_max_pending,
        timeout_s=settings.ocr_timeout_seconds,
    )


def _photo_confidence(settings: Settings) -> float:
    """The configured threshold, else the one the OCR model was calibrated for."""
    if settings.ocr_confidence is not None:
        return settings.ocr_confidence
    try:
        from ocr import CONFIDENT
    except ImportError:
        return 0.8
    return CONFIDENT


def make_rules(settings: Settings) -> DialogRules:
    """The domain rules as configured."""
    return DialogRules(
        readings=ReadingRules(
            last_days=settings.reading_window_last_days,
            first_days=settings.reading_window_first_days,
            timezone=settings.business_timezone,
            jump_factor=settings.reading_jump_factor,
            jump_floor_kwh=settings.reading_jump_floor_kwh,
        ),
        linking=LinkPolicy(
            max_failures=settings.link_max_failures,
            period=timedelta(minutes=settings.link_failure_period_minutes),
        ),
        billing=BillingRules(settings.bill_due_day, settings.bill_min_days_to_pay),
        bank=BankTransferRules(
            recipient=settings.bank_recipient or "",
            iban=settings.bank_iban or "",
            recipient_code=settings.bank_edrpou or "",
            purpose=settings.bank_purpose,
        ),
        schedules=ScheduleRules(stale_after=timedelta(hours=settings.schedule_stale_after_hours)),
        consent_version=settings.consent_version,
        push_channels=settings.push_channels,
        photo_confidence=_photo_confidence(settings),
        photo_retention_days=settings.photo_retention_days,
    )


@dataclass
class App:
    """Everything a command needs, built from settings; `close()` releases it."""

    settings: Settings
    engine: AsyncEngine
    clock: Clock
    catalogues: Catalogues
    dialog: Dialog
    metrics: Metrics
    uow_factory: AbstractUnitOfWorkFactory
    renderer: ThreadedDocumentRenderer
    payments: PaymentProvider | None = None
    photo_reader: MeterPhotoReader | None = None
    pushes: Pushes | None = None
    # What channel adapters keep of a chat, in the dialog state: shared by every replica.
    memories: AbstractChatMemories | None = None

    def pushes_queued(self) -> None:
        """Call after committing queued pushes (operator API): this process delivers now
        instead of at its next poll. Harmless when delivery is off here."""
        if self.pushes is not None:
            self.pushes.queued()

    async def handle(self, event: Incoming) -> list[Reply]:
        """The dialog's entry point for channels, counted and timed."""
        started = time.perf_counter()
        key = event.update_key
        # The platform's update id ties the turn's log lines to it, unless it holds the
        # person's id (Messenger's fallback keys do): then a random one.
        update_id = key if key and event.user_id not in key else new_id()
        with log_ids(update_id=update_id):
            replies = await self.dialog.handle(event)
        self.metrics.handling_seconds.labels(event.channel.value).observe(
            time.perf_counter() - started
        )
        outcome = "answered" if replies else "ignored"
        self.metrics.inbound.labels(event.channel.value, outcome).inc()
        return replies

    async def mark_unreachable(self, channel: Channel, user_id: str) -> None:
        """A channel learned the person blocked the bot or unsubscribed: no more pushes."""
        async with self.uow_factory() as uow:
            if await mark_unreachable(uow, channel, user_id):
                await uow.commit()
                log.info("%s user %s is unreachable now", channel.value, mask(user_id))

    async def close(self) -> None:
        """Dispose of the database pool, the render threads and the payment client."""
        close_payments = getattr(self.payments, "close", None)
        if close_payments is not None:
            await close_payments()
        self.renderer.close()
        close_reader = getattr(self.photo_reader, "close", None)
        if close_reader is not None:
            close_reader()
        await self.engine.dispose()


def make_payments(settings: Settings) -> PaymentProvider | None:
    """EasyPay when its keys are set (and a notify URL is known); else paying is off."""
    callback_url = settings.easypay_callback_url
    if not settings.easypay_configured or callback_url is None:
        return None
    from payments.easypay import EasyPayProvider  # aiohttp loads only when paying is on

    assert settings.easypay_partner_key and settings.easypay_service_key
    assert settings.easypay_secret_key is not None
    return EasyPayProvider(
        api_base=settings.easypay_api_base,
        partner_key=settings.easypay_partner_key,
        service_key=settings.easypay_service_key,
        secret_key=settings.easypay_secret_key,
        notify_url=callback_url,
        return_url=settings.easypay_return_url,
    )


async def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    run_migrations: bool = False,
    payments: PaymentProvider | None = None,
) -> App:
    """Build the application; migrate the database first when asked.

    `payments` replaces the provider the settings describe (the demo's fake EasyPay).
    """
    engine = make_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    if run_migrations:
        from storage.migrate import migrate  # Alembic loads only for commands that migrate

        await migrate(engine)
    clock = clock or make_clock(settings)
    catalogues = Catalogues()
    uow_factory = SqlAlchemyUnitOfWorkFactory(engine, settings.push_channels)
    renderer = ThreadedDocumentRenderer()
    payments = payments or make_payments(settings)
    photo_reader = make_photo_reader(settings)
    services = Services(
        documents=renderer,
        stored_documents=DirectoryDocuments(Path(settings.bills_dir)),
        payments=payments,
        photos=photo_reader,
        photo_store=DirectoryPhotoStore(
            Path(settings.photos_dir),
            pending_per_owner=settings.pending_photos_per_person,
            pending_total_bytes=settings.pending_photos_max_mb * 1024 * 1024,
        ),
    )
    dialog = Dialog(
        uow_factory=uow_factory,
        clock=clock,
        catalogues=catalogues,
        router=build_router(),
        rules=make_rules(settings),
        word_payloads=WORDS,
        services=services,
        turns=TurnQueue(settle=settings.turn_settle_ms / 1000),
    )
    return App(
        settings=settings,
        engine=engine,
        clock=clock,
        catalogues=catalogues,
        dialog=dialog,
        metrics=Metrics(),
        uow_factory=uow_factory,
        renderer=renderer,
        payments=payments,
        photo_reader=photo_reader,
        memories=SqlChatMemories(engine),
    )


def build_channels(app: App) -> list[ChannelAdapter]:
    """The messenger adapters whose credentials are configured; the others are off."""
    channels: list[ChannelAdapter] = []
    if app.settings.telegram_bot_token is not None:
        channels.append(
            telegram_channel(
                app.settings,
                handle=app.handle,
                mark_unreachable=app.mark_unreachable,
                catalogues=app.catalogues,
                metrics=app.metrics,
                memories=app.memories,
            )
        )
    if app.settings.viber_auth_token is not None or app.settings.messenger_page_token is not None:
        media = make_media_store(app)
        if app.settings.viber_auth_token is not None:
            channels.append(
                viber_channel(
                    app.settings,
                    handle=app.handle,
                    mark_unreachable=app.mark_unreachable,
                    catalogues=app.catalogues,
                    media=media,
                    metrics=app.metrics,
                )
            )
        if app.settings.messenger_page_token is not None:
            channels.append(
                messenger_channel(
                    app.settings,
                    handle=app.handle,
                    mark_unreachable=app.mark_unreachable,
                    catalogues=app.catalogues,
                    media=media,
                    metrics=app.metrics,
                    clock=app.clock,
                    memories=app.memories,
                )
            )
    return channels


def make_media_store(app: App) -> MediaStore:
    """The store behind GET /media/{token}, one for Viber and Messenger, its files in the
    database so that any replica serves a URL another made. Without MEDIA_SECRET its key
    is derived from a channel secret every replica has (Viber's token, Messenger's app
    secret), so replicas still accept each other's URLs."""
    from bot.channels.media import DEFAULT_MAX_BYTES, DEFAULT_MAX_ITEMS, MediaStore
    from storage.shared_state import SqlMediaFiles

    settings = app.settings
    fallback = settings.viber_auth_token or settings.messenger_app_secret
    secret = settings.media_secret
    return MediaStore.from_settings(
        secret.get_secret_value() if secret else None,
        settings.public_base_url,
        files=SqlMediaFiles(app.engine, max_items=DEFAULT_MAX_ITEMS, max_bytes=DEFAULT_MAX_BYTES),
        fallback_secret=fallback.get_secret_value() if fallback else None,
    )


def telegram_channel(settings: Settings, **options: Any) -> ChannelAdapter:
    """The Telegram adapter as configured; TELEGRAM_BOT_TOKEN must be set.

    `options` reach the constructor (handle, catalogues, metrics; tests add `sleep`). The
    command list is the main menu's, from the flows' router (`bot.menu.menu_commands`).
    """
    from bot.channels.telegram import TelegramChannel  # aiogram loads only when used
    from bot.menu import menu_commands

    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    secret = settings.telegram_webhook_secret
    return TelegramChannel(
        settings.telegram_bot_token.get_secret_value(),
        mode=settings.telegram_mode,
        webhook_secret=secret.get_secret_value() if secret else None,
        api_base=settings.telegram_api_base,
        public_base_url=settings.public_base_url,
        commands=options.pop("commands", None) or menu_commands(build_router().commands),
        **options,
    )


def viber_channel(settings: Settings, **options: Any) -> ChannelAdapter:
    """The Viber adapter as configured; VIBER_AUTH_TOKEN must be set."""
    from bot.channels.viber import ViberChannel  # viberbot loads only when used

    if settings.viber_auth_token is None:
        raise ValueError("VIBER_AUTH_TOKEN is not set")
    return ViberChannel(
        settings.viber_auth_token.get_secret_value(),
        bot_name=settings.viber_bot_name,
        api_base=settings.viber_api_base,
        public_base_url=settings.public_base_url,
        broadcast=settings.viber_broadcast,
        **options,
    )


def messenger_channel(settings: Settings, **options: Any) -> ChannelAdapter:
    """The Messenger adapter as configured; the page token, app secret and verify token are
    needed."""
    from bot.channels.messenger import MessengerChannel

    page_token = settings.messenger_page_token
    app_secret = settings.messenger_app_secret
    verify_token = settings.messenger_verify_token
    missing = [
        name
        for name, value in (
            ("MESSENGER_PAGE_TOKEN", page_token),
            ("MESSENGER_APP_SECRET", app_secret),
            ("MESSENGER_VERIFY_TOKEN", verify_token),
        )
        if value is None
    ]
    if missing or page_token is None or app_secret is None or verify_token is None:
        raise ValueError("Messenger needs " + ", ".join(missing))
    return MessengerChannel(
        page_token.get_secret_value(),
        app_secret.get_secret_value(),
        verify_token.get_secret_value(),
        api_base=settings.messenger_api_base,
        **options,
    )


def build_email_channel(settings: Settings) -> ChannelAdapter | None:
    """The e-mail channel when SMTP_HOST is set; else e-mail is off."""
    if not settings.smtp_host:
        return None
    from bot.channels.email import EmailChannel, SmtpSettings

    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return EmailChannel(
        SmtpSettings(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password,
            sender=settings.smtp_from,
            sender_name=settings.smtp_from_name,
            starttls=settings.smtp_starttls,
            use_tls=settings.smtp_tls,
        )
    )


def _delivery_limits(settings: Settings) -> dict[Channel, float]:
    """The rates set in the environment (`DELIVERY_RATE_*`); a channel whose rate is unset
    sends at its default from `core.channels`."""
    configured = {
        Channel.TELEGRAM: settings.delivery_rate_telegram,
        Channel.VIBER: settings.delivery_rate_viber,
        Channel.MESSENGER: settings.delivery_rate_messenger,
        Channel.EMAIL: settings.delivery_rate_email,
        Channel.CONSOLE: settings.delivery_rate_console,
    }
    limits = default_rates()
    if settings.viber_broadcast:
        # Viber counts calls, and a broadcast call carries up to 300 pushes: rows may be
        # claimed far faster than calls are made (the calls are paced on their own).
        limits[Channel.VIBER] = VIBER_BROADCAST_ROWS
    limits.update({channel: rate for channel, rate in configured.items() if rate is not None})
    return limits


VIBER_BROADCAST_ROWS = 3000.0
"""Viber pushes claimed a second with broadcast on (DELIVERY_RATE_VIBER unset)."""


def _push_renderer(app: App) -> PushRenderer:
    from zoneinfo import ZoneInfo

    from bot.pushes import PushRenderer

    zone = ZoneInfo(app.settings.business_timezone)
    return PushRenderer(
        app.uow_factory,
        app.catalogues,
        zone,
        app.renderer,
        billing=make_rules(app.settings).billing,
    )


def build_console_pushes(app: App, console: ConsoleChannel) -> Pushes:
    """Delivery of the console user's pushes inside a console chat (no scheduler: the
    jobs run in `kabinet serve`); the console shows them between turns."""
    from core.delivery import RetryPolicy
    from scheduler.delivery import DeliverySettings, DeliveryWorkers, InlineDelivery, Pushes
    from storage.outbox import OutboxQueue

    settings = app.settings
    workers = DeliveryWorkers(
        OutboxQueue(app.engine, DeliveryWorkers.worker_id(), user_id=console.user_id),
        {Channel.CONSOLE: console},
        _push_renderer(app),
        app.uow_factory,
        DeliverySettings(
            limits=_delivery_limits(settings),
            batch=settings.delivery_batch,
            lease_seconds=settings.delivery_lease_seconds,
            policy=RetryPolicy(max_attempts=settings.delivery_max_attempts),
            push_channels=settings.push_channels,
        ),
        metrics=app.metrics,
    )
    inline = InlineDelivery(workers, Channel.CONSOLE) if settings.delivery_enabled else None
    console.deliver_due = inline.drain if inline is not None else None
    app.pushes = Pushes(inline, None)
    return app.pushes


def build_pushes(app: App, channels: list[ChannelAdapter], *, scheduler: bool) -> Pushes:
    """Delivery workers over `channels` (plus e-mail when configured) and, when asked, the
    scheduler; stored on `app` so flows and the operator API can wake delivery."""
    from core.delivery import RetryPolicy
    from scheduler.delivery import DeliverySettings, DeliveryWorkers, Pushes
    from storage.outbox import OutboxQueue

    settings = app.settings
    adapters = {channel.channel: channel for channel in channels}
    email = build_email_channel(settings)
    if email is not None:
        adapters[email.channel] = email
    workers = None
    if settings.delivery_enabled and adapters:
        workers = DeliveryWorkers(
            OutboxQueue(app.engine, DeliveryWorkers.worker_id()),
            adapters,
            _push_renderer(app),
            app.uow_factory,
            DeliverySettings(
                limits=_delivery_limits(settings),
                batch=settings.delivery_batch,
                lease_seconds=settings.delivery_lease_seconds,
                policy=RetryPolicy(max_attempts=settings.delivery_max_attempts),
                push_channels=settings.push_channels,
                oldest_every=settings.delivery_oldest_every,
                paid_topics={Channel.TELEGRAM: settings.telegram_paid_topics},
                paid_limits={Channel.TELEGRAM: settings.delivery_rate_telegram_paid},
                paid_pause_seconds=settings.telegram_paid_pause_seconds,
                call_limits={Channel.VIBER: settings.viber_calls_per_second}
                if settings.viber_broadcast
                else {},
            ),
            metrics=app.metrics,
        )
    runner = None
    if scheduler:
        from datetime import time as clock_time

        from scheduler.jobs import Jobs
        from scheduler.runner import KabinetScheduler, SchedulerLock

        hour, minute = (int(part) for part in settings.reading_reminder_time.split(":"))
        pushes_ref: list[Pushes] = []
        jobs = Jobs(
            uow_factory=app.uow_factory,
            clock=app.clock,
            reading_rules=make_rules(settings).readings,
            reminder_at=clock_time(hour, minute),
            queued=lambda: pushes_ref[0].queued() if pushes_ref else None,
            pruner=make_retention(app),
        )
        runner = KabinetScheduler(
            jobs,
            SchedulerLock(app.engine),
            outage_every_seconds=settings.scheduler_tick_seconds,
            retention_every_seconds=settings.retention_every_minutes * 60,
        )
        pushes = Pushes(workers, runner)
        pushes_ref.append(pushes)
    else:
        pushes = Pushes(workers, None)
    app.pushes = pushes
    return pushes


def make_retention(app: App) -> Retention | None:
    """The retention job's work as configured (RETENTION_*); None when it is off."""
    from storage.retention import Retention, RetentionPolicy

    settings = app.settings
    if not settings.retention_enabled:
        return None

    def days(value: int) -> timedelta | None:
        return timedelta(days=value) if value else None

    hours = settings.retention_pending_photo_hours
    policy = RetentionPolicy(
        processed_updates=days(settings.retention_processed_updates_days),
        outbox=days(settings.retention_outbox_days),
        expired_photos=settings.retention_expired_photos,
        pending_photos=timedelta(hours=hours) if hours else None,
        batch=settings.retention_batch,
    )
    return Retention(
        app.engine, Path(settings.photos_dir), policy, on_batch=app.metrics.retention_batch
    )


def make_operator(app: App) -> Operator:
    """The operator's operations on the app's database, clock and bills directory (API, CLI)."""
    from operator_api.operations import Operator

    return Operator(
        uow_factory=app.uow_factory,
        clock=app.clock,
        zone=ZoneInfo(app.settings.business_timezone),
        bills_dir=Path(app.settings.bills_dir),
        batch_rows=app.settings.import_batch_rows,
        paid_topics={Channel.TELEGRAM: app.settings.telegram_paid_topics},
    )


@asynccontextmanager
async def operator_session(settings: Settings) -> AsyncIterator[Operator]:
    """An app without OCR processes (operator commands never read photos) and its operator,
    closed on the way out: what `kabinet import|outage|schedule|export-readings` run on."""
    app = await build_app(settings.model_copy(update={"ocr_workers": 0}))
    try:
        yield make_operator(app)
    finally:
        await app.close()


def payment_callbacks(
    app: App, channels: Sequence[Pusher], *extra: Pusher
) -> EasyPayCallbacks | None:
    """EasyPay's notifications settled against the app's database and told through `channels`;
    None when the app pays with another provider (or not at all)."""
    from payments.callback import ChannelNotifier, EasyPayCallbacks
    from payments.easypay import EasyPayProvider

    provider = app.payments
    if not isinstance(provider, EasyPayProvider):
        return None
    return EasyPayCallbacks(
        provider=provider,
        uow_factory=app.uow_factory,
        catalogues=app.catalogues,
        clock=app.clock,
        zone=ZoneInfo(app.settings.business_timezone),
        renderer=app.renderer,
        notify=ChannelNotifier([*channels, *extra]),
        billing=BillingRules(app.settings.bill_due_day, app.settings.bill_min_days_to_pay),
        queued=app.pushes_queued if app.pushes and app.pushes.workers else None,
        metrics=app.metrics,
    )
