"""Configuration from the environment (and an optional `.env`), validated at start-up.

Every setting has a safe default or fails start-up with one line naming it. Secrets are
`SecretStr`, so they never print in logs or tracebacks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from stdnum import iban
from stdnum.ua import edrpou, rntrc

from core.model import Channel, Topic


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it in one line."""


class Settings(BaseSettings):
    """All settings of DESIGN.md §3 and the rules operators may tune."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
    )

    database_url: str = "sqlite+aiosqlite:///./kabinet.db"
    kabinet_host: str = "127.0.0.1"
    kabinet_port: int = Field(8080, ge=1, le=65535)
    public_base_url: str | None = None
    kabinet_now: datetime | None = None
    log_level: str = "INFO"

    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_mode: str = "webhook"
    telegram_api_base: str = "https://api.telegram.org"

    viber_auth_token: SecretStr | None = None
    viber_bot_name: str = "Kabinet"
    viber_api_base: str = "https://chatapi.viber.com/pa"

    messenger_page_token: SecretStr | None = None
    messenger_app_secret: SecretStr | None = None
    messenger_verify_token: SecretStr | None = None
    messenger_api_base: str = "https://graph.facebook.com/v25.0"

    easypay_api_base: str = "https://merchantapi.easypay.ua"
    easypay_partner_key: str | None = None
    easypay_service_key: str | None = None
    easypay_secret_key: SecretStr | None = None
    # Where EasyPay posts notifications; PUBLIC_BASE_URL + /payments/easypay when unset.
    easypay_notify_url: str | None = Field(None, validate_default=True)
    # Where EasyPay's page sends the consumer after paying (e.g. https://t.me/<bot>).
    easypay_return_url: str | None = None
    # A local fake EasyPay in-process (no money moves): None = only for `kabinet demo`.
    easypay_fake: bool | None = None

    bills_dir: str = "./bills"
    photos_dir: str = "./photos"
    photo_retention_days: int = Field(365, ge=1)
    # Photos read but not yet confirmed («Так»): each person's newest N are kept, and all
    # of them together take at most this many megabytes (the oldest go first).
    pending_photos_per_person: int = Field(3, ge=1, le=100)
    pending_photos_max_mb: int = Field(512, ge=20)
    ocr_workers: int = Field(1, ge=0, le=16)
    ocr_max_pending: int = Field(8, ge=1)
    ocr_timeout_seconds: float = Field(10.0, gt=0)
    ocr_confidence: float | None = Field(None, ge=0, le=1)
    admin_token: SecretStr | None = None
    # Operator imports are read, checked and upserted this many rows at a time (in one
    # transaction), so the server answers other requests between the parts.
    import_batch_rows: int = Field(5000, ge=100, le=100_000)
    # Signs media URLs; unset: derived from a channel secret (app.compose.make_media_store).
    media_secret: SecretStr | None = None

    business_timezone: str = "Europe/Kyiv"
    reading_window_last_days: int = Field(2, ge=1, le=10)
    reading_window_first_days: int = Field(3, ge=1, le=10)
    reading_jump_factor: int = Field(3, ge=1, le=100)
    reading_jump_floor_kwh: int = Field(1000, ge=1)
    link_max_failures: int = Field(5, ge=1, le=100)
    link_failure_period_minutes: int = Field(60, ge=1)
    consent_version: str = "2024-01"
    # A person's message that reaches an idle server waits this long for an earlier one of
    # theirs still on its way (bot.handlers.turn_order); 0: start at once. Waiting turns
    # of one person always run in the platform's order.
    turn_settle_ms: int = Field(0, ge=0, le=1000)
    # An outage schedule the source has not confirmed for longer than this is shown with
    # a warning that it may be out of date.
    schedule_stale_after_hours: float = Field(12.0, gt=0, le=168)

    # Bills: paid by this day of the month after the period, and never sooner than this
    # many days after the bill is issued.
    bill_due_day: int = Field(20, ge=1, le=28)
    bill_min_days_to_pay: int = Field(10, ge=0, le=60)
    # Paying by bank transfer (shown with the NBU payment QR code): the payee when the
    # account's supplier has no bank details in the database, and the payment purpose.
    bank_recipient: str | None = Field(None, max_length=70)
    bank_iban: str | None = None
    bank_edrpou: str | None = None
    bank_purpose: str = Field(
        "Оплата за електроенергію, о/р {account}, період {period}", max_length=140
    )

    # Pushes: delivery workers, per-channel rate limits (messages a second, all processes
    # together), the claim lease after which a dead worker's rows are recovered.
    delivery_enabled: bool = True
    # Unset: the channel's default rate in core.channels (30, 50, 250, 10 and 1000 a second).
    delivery_rate_telegram: float | None = Field(None, gt=0)
    delivery_rate_viber: float | None = Field(None, gt=0)
    delivery_rate_messenger: float | None = Field(None, gt=0)
    delivery_rate_email: float | None = Field(None, gt=0)
    delivery_rate_console: float | None = Field(None, gt=0)
    delivery_batch: int = Field(50, ge=1, le=1000)
    delivery_lease_seconds: float = Field(60.0, ge=1)
    delivery_max_attempts: int = Field(8, ge=1)
    # Every Nth claim takes the oldest rows whatever their priority lane (0: never).
    delivery_oldest_every: int = Field(10, ge=0)
    # Telegram paid broadcast (allow_paid_broadcast, 0.1 Stars a message from the bot's
    # balance): the topics sent that way (comma-separated, e.g. "emergency"; empty: none),
    # their own rate, and how long Telegram stays on the free rate once the Stars ran out.
    telegram_paid_broadcast_topics: str = ""
    delivery_rate_telegram_paid: float = Field(1000.0, gt=0)
    telegram_paid_pause_seconds: float = Field(600.0, ge=1)
    # Viber: identical pushes go in broadcast_message calls of up to 300 receivers, once
    # Viber has enabled broadcast for the bot.
    viber_broadcast: bool = False
    # Viber calls a second of one process when broadcast is on (500 per 10 s is Viber's
    # broadcast rate; with several processes, share it out).
    viber_calls_per_second: float = Field(50.0, gt=0)
    # Scheduled jobs: the reading-window reminder's business time, the outage tick.
    reading_reminder_time: str = Field("09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    scheduler_tick_seconds: float = Field(60.0, ge=1)
    # E-mail (SMTP): off unless SMTP_HOST is set.
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "kabinet@localhost"
    smtp_from_name: str = "Kabinet"
    smtp_starttls: bool = True
    smtp_tls: bool = False

    # --- Operations (issue 16): retention, probes, metrics, logs, the connection pool ---
    # Retention jobs (run by the scheduler every RETENTION_EVERY_MINUTES; 0 days/hours
    # keeps that kind forever). Rows go in batches of RETENTION_BATCH, one commit each.
    retention_enabled: bool = True
    retention_every_minutes: float = Field(60.0, ge=1)
    retention_batch: int = Field(1000, ge=100, le=100_000)
    retention_processed_updates_days: int = Field(7, ge=0)
    retention_outbox_days: int = Field(30, ge=0)
    retention_expired_photos: bool = True
    retention_pending_photo_hours: int = Field(24, ge=0)
    # /metrics answers only with `Authorization: Bearer $METRICS_TOKEN`; 404 without it.
    metrics_token: SecretStr | None = None
    # text (one line a record) or json (one JSON object a line, with request/update/push ids).
    log_format: str = Field("text", pattern=r"(?i)^(text|json)$")
    # PostgreSQL connection pool of each process (SQLite has none).
    database_pool_size: int = Field(15, ge=1, le=500)
    database_max_overflow: int = Field(0, ge=0, le=500)

    @field_validator("kabinet_now")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-11-29T10:00:00+02:00")
        return value

    @field_validator("easypay_notify_url")
    @classmethod
    def _easypay(cls, value: str | None, info: ValidationInfo) -> str | None:
        keys = ("easypay_partner_key", "easypay_service_key", "easypay_secret_key")
        given = [key for key in keys if info.data.get(key) is not None]
        if given and len(given) < len(keys):
            missing = ", ".join(key.upper() for key in keys if key not in given)
            raise ValueError(f"EasyPay needs {missing} as well")
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        if given and value is None and not info.data.get("public_base_url"):
            raise ValueError("needed for EasyPay: set it or PUBLIC_BASE_URL")
        return value

    @property
    def easypay_configured(self) -> bool:
        """All three EasyPay keys are set (the real provider is on)."""
        return None not in (
            self.easypay_partner_key,
            self.easypay_service_key,
            self.easypay_secret_key,
        )

    @property
    def push_channels(self) -> frozenset[Channel]:
        """Channels a push can reach in this installation: each messenger whose credentials
        are set, e-mail when SMTP_HOST is, and the console (a console chat delivers its own
        user's pushes while it is open). A person's choice of a channel that is off is not
        offered, and pushes fall back to the channels that are on."""
        on = {Channel.CONSOLE}
        if self.telegram_bot_token is not None:
            on.add(Channel.TELEGRAM)
        if self.viber_auth_token is not None:
            on.add(Channel.VIBER)
        if self.messenger_page_token is not None:
            on.add(Channel.MESSENGER)
        if self.smtp_host:
            on.add(Channel.EMAIL)
        return frozenset(on)

    @property
    def easypay_callback_url(self) -> str | None:
        """The URL EasyPay notifies: EASYPAY_NOTIFY_URL, else PUBLIC_BASE_URL's route."""
        if self.easypay_notify_url:
            return self.easypay_notify_url
        if self.public_base_url:
            return self.public_base_url.rstrip("/") + "/payments/easypay"
        return None

    @field_validator("bank_iban")
    @classmethod
    def _iban(cls, value: str | None) -> str | None:
        if value is None:
            return None
        compact = value.replace(" ", "").upper()
        if not (compact.startswith("UA") and len(compact) == 29 and iban.is_valid(compact)):
            raise ValueError("must be a Ukrainian IBAN: UA and 27 characters, check digits right")
        return compact

    @field_validator("bank_edrpou")
    @classmethod
    def _edrpou(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not (edrpou.is_valid(value) or rntrc.is_valid(value)):
            raise ValueError("must be an EDRPOU (8 digits) or a RNOKPP (10 digits)")
        return value

    @field_validator("bank_purpose")
    @classmethod
    def _purpose(cls, value: str) -> str:
        try:
            value.format(account="2010000232", period="10.2026")
        except (KeyError, IndexError, ValueError):
            raise ValueError("may use only {account} and {period}") from None
        if "{account}" not in value:
            raise ValueError("must contain {account}, so the payee can match the payment")
        return value

    @field_validator("telegram_paid_broadcast_topics")
    @classmethod
    def _paid_topics(cls, value: str) -> str:
        paid_topics(value)  # raises on an unknown topic
        return value

    @property
    def telegram_paid_topics(self) -> frozenset[str]:
        """The topics Telegram sends as paid broadcasts (TELEGRAM_PAID_BROADCAST_TOPICS)."""
        return paid_topics(self.telegram_paid_broadcast_topics)

    @field_validator("telegram_mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        if value not in ("webhook", "polling"):
            raise ValueError("must be webhook or polling")
        return value

    @field_validator("business_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning validation errors into one clear line per bad setting."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = str(item["loc"][0]).upper() if item["loc"] else "?"
            problems.append(f"{name}: {item['msg']}")
        raise ConfigError("bad setting " + "; ".join(problems)) from None


# Short names an operator may use for the outage topics.
_TOPIC_ALIASES = {"emergency": Topic.OUTAGES_EMERGENCY, "planned": Topic.OUTAGES_PLANNED}


def paid_topics(value: str) -> frozenset[str]:
    """Topic names from a comma-separated list ("emergency", "planned" or a topic's own
    name, e.g. "outages_emergency"); ValueError for anything else."""
    topics = set()
    for word in (part.strip().lower() for part in value.split(",")):
        if not word:
            continue
        try:
            topics.add(_TOPIC_ALIASES.get(word) or Topic(word))
        except ValueError:
            known = ", ".join([*_TOPIC_ALIASES, *(t.value for t in Topic)])
            raise ValueError(f"unknown topic {word!r}; one of: {known}") from None
    return frozenset(t.value for t in topics)
