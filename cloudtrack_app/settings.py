"""Every knob of CloudTrack, read from the environment and `.env`.

One object, documented in `.env.example` and the README. Read it through
`get_settings()`; tests that change the environment call `get_settings.cache_clear()`.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"

MIN_CHECK_INTERVAL_SECONDS = 300
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: Path) -> None:
    """Create `path` (and missing parents) readable by this user only; an existing one is left as is.

    The data folder holds the database, the secret key and cached images: nobody else on the
    machine has any business reading them.
    """
    if not path.exists():
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        path.chmod(PRIVATE_DIR_MODE)  # mkdir's mode is cut by the umask, never widened


def create_private_file(path: Path, content: bytes = b"") -> bool:
    """Create `path` with mode 0600 from the first byte on; False when it exists already.

    Made with that mode by `open` itself, so there is no moment in which another user of the
    machine could open it (as there is between writing a file and `chmod`).
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    return True


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # --- storage and runtime -------------------------------------------------------
    data_dir: Path = Field(default=DEFAULT_DATA_DIR, validation_alias="CLOUDTRACK_DATA_DIR")
    database_url: str = Field(default="", validation_alias="DATABASE_URL")
    reflex_redis_url: str = Field(default="", validation_alias="REFLEX_REDIS_URL")
    secret_key: str = Field(default="", validation_alias="SECRET_KEY")
    public_url: str = Field(default="http://localhost:3000", validation_alias="PUBLIC_URL")
    scheduler_enabled: bool = Field(default=True, validation_alias="SCHEDULER_ENABLED")
    # Reverse proxies in front of CloudTrack that append to X-Forwarded-For; 0: none, use the peer address.
    trusted_proxy_hops: int = Field(default=0, ge=0, le=10, validation_alias="TRUSTED_PROXY_HOPS")

    # --- accounts ------------------------------------------------------------------
    session_ttl_days: int = Field(default=30, ge=1, validation_alias="SESSION_TTL_DAYS")
    login_max_failures: int = Field(default=5, ge=1, validation_alias="LOGIN_MAX_FAILURES")
    login_lock_minutes: int = Field(default=15, ge=1, validation_alias="LOGIN_LOCK_MINUTES")
    login_max_client_failures: int = Field(default=20, ge=1, validation_alias="LOGIN_MAX_CLIENT_FAILURES")
    login_max_account_failures: int = Field(default=50, ge=1, validation_alias="LOGIN_MAX_ACCOUNT_FAILURES")
    signup_enabled: bool = Field(default=True, validation_alias="SIGNUP_ENABLED")
    # Sign-ups answered per client address per hour, and test alerts per person per 10 minutes.
    signup_limit_per_hour: int = Field(default=5, ge=1, validation_alias="SIGNUP_LIMIT_PER_HOUR")
    test_alert_limit: int = Field(default=3, ge=1, validation_alias="TEST_ALERT_LIMIT")
    verification_link_hours: int = Field(default=24, ge=1, validation_alias="VERIFICATION_LINK_HOURS")

    # --- fetching ------------------------------------------------------------------
    allow_private_urls: bool = Field(
        default=False,
        validation_alias=AliasChoices("CLOUDTRACK_ALLOW_PRIVATE_URLS", "ALLOW_PRIVATE_URLS"),
    )
    user_agent: str = Field(
        default=(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36"
        ),
        validation_alias="FETCH_USER_AGENT",
    )
    accept_language: str = Field(default="en-US,en;q=0.9", validation_alias="FETCH_ACCEPT_LANGUAGE")
    fetch_connect_timeout: float = Field(default=10.0, gt=0, validation_alias="FETCH_CONNECT_TIMEOUT")
    fetch_read_timeout: float = Field(default=20.0, gt=0, validation_alias="FETCH_READ_TIMEOUT")
    fetch_total_timeout: float = Field(default=30.0, gt=0, validation_alias="FETCH_TOTAL_TIMEOUT")
    fetch_max_bytes: int = Field(default=5 * 1024 * 1024, gt=0, validation_alias="FETCH_MAX_BYTES")
    fetch_max_redirects: int = Field(default=5, ge=0, validation_alias="FETCH_MAX_REDIRECTS")
    # JSON object: shop domain -> fetcher name ("direct", "scraper_api", "browser").
    fetchers: dict[str, str] = Field(default_factory=dict, validation_alias="FETCHERS")
    # The target is checked before the service is asked; after the service's own redirects, only
    # when it reports the final URL in a header (scraper_api.FINAL_URL_HEADERS). Otherwise not.
    scraper_api_url: str = Field(default="", validation_alias="SCRAPER_API_URL")
    scraper_api_key: str = Field(default="", validation_alias="SCRAPER_API_KEY")
    browser_executable: str = Field(default="/usr/bin/chromium", validation_alias="BROWSER_EXECUTABLE")
    # Product images, fetched by CloudTrack and served from its own address (tracking/images.py).
    image_max_bytes: int = Field(default=2 * 1024 * 1024, gt=0, validation_alias="IMAGE_MAX_BYTES")
    image_cache_max_bytes: int = Field(
        default=256 * 1024 * 1024, gt=0, validation_alias="IMAGE_CACHE_MAX_BYTES"
    )
    image_fetch_timeout: float = Field(default=10.0, gt=0, validation_alias="IMAGE_FETCH_TIMEOUT")

    # --- checking ------------------------------------------------------------------
    check_interval: int = Field(default=6 * 3600, validation_alias="CHECK_INTERVAL")
    check_jitter: float = Field(default=0.1, ge=0, le=0.5, validation_alias="CHECK_JITTER")
    fetch_concurrency: int = Field(default=16, ge=1, validation_alias="FETCH_CONCURRENCY")
    per_shop_concurrency: int = Field(default=2, ge=1, validation_alias="PER_SHOP_CONCURRENCY")
    per_shop_delay: float = Field(default=1.0, ge=0, validation_alias="PER_SHOP_DELAY")
    failure_threshold: int = Field(default=3, ge=1, validation_alias="FAILURE_THRESHOLD")
    claim_batch_size: int = Field(default=100, ge=1, validation_alias="CLAIM_BATCH_SIZE")
    lease_seconds: int = Field(default=300, ge=10, validation_alias="LEASE_SECONDS")
    tick_seconds: int = Field(default=30, ge=1, validation_alias="TICK_SECONDS")
    # Worker processes that read pages during checks (parsing holds the GIL); 0: a thread.
    extract_processes: int = Field(
        default_factory=lambda: min(4, os.cpu_count() or 1), ge=0, validation_alias="EXTRACT_PROCESSES"
    )
    # CPU time one page may take to read (a normal page needs well under a second); the
    # worker reading past it is ended and the page refused as too slow to read.
    read_cpu_seconds: float = Field(default=3.0, gt=0, le=60, validation_alias="READ_CPU_SECONDS")
    # Pages people ask for (preview, "check now") are read in worker processes of the web
    # process: how many, and how many pages they may hold at once before refusing more.
    read_processes: int = Field(
        default_factory=lambda: min(2, os.cpu_count() or 1), ge=1, validation_alias="READ_PROCESSES"
    )
    read_queue: int = Field(default=8, ge=1, validation_alias="READ_QUEUE")
    # Per person, per web worker process: pages read at once, and pages read per minute.
    user_reads_at_once: int = Field(default=2, ge=1, validation_alias="USER_READS_AT_ONCE")
    user_reads_per_minute: int = Field(default=10, ge=1, validation_alias="USER_READS_PER_MINUTE")
    # REST API requests per token and minute (each web worker shares the count: it is in the database).
    api_requests_per_minute: int = Field(default=120, ge=1, validation_alias="API_REQUESTS_PER_MINUTE")

    # --- notifications -------------------------------------------------------------
    # Which service carries e-mail: Resend (RESEND_API_KEY) or the administrator's SMTP server.
    email_backend: Literal["resend", "smtp"] = Field(default="resend", validation_alias="EMAIL_BACKEND")
    resend_api_key: str = Field(default="", validation_alias="RESEND_API_KEY")
    resend_api_url: str = Field(default="", validation_alias="RESEND_API_URL")
    email_from: str = Field(default="CloudTrack <alerts@localhost>", validation_alias="EMAIL_FROM")
    smtp_host: str = Field(default="", validation_alias="SMTP_HOST")
    # 0: the usual port of SMTP_SECURITY (587 for starttls, 465 for tls, 25 for none).
    smtp_port: int = Field(default=0, ge=0, le=65535, validation_alias="SMTP_PORT")
    smtp_username: str = Field(default="", validation_alias="SMTP_USERNAME")
    smtp_password: str = Field(default="", validation_alias="SMTP_PASSWORD")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", validation_alias="SMTP_SECURITY"
    )
    # PEM file of the certificates that may sign the mail server's (its own, when self-signed);
    # empty: the system's certificate authorities.
    smtp_ca_file: str = Field(default="", validation_alias="SMTP_CA_FILE")
    telegram_bot_token: str = Field(default="", validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field(default="", validation_alias="TELEGRAM_API_URL")
    telegram_mode: Literal["polling", "webhook"] = Field(default="polling", validation_alias="TELEGRAM_MODE")
    openai_api_key: str = Field(default="", validation_alias="OPENAI_API_KEY")
    openai_base_url: str = Field(default="", validation_alias="OPENAI_BASE_URL")
    openai_model: str = Field(default="gpt-4o-mini", validation_alias="OPENAI_MODEL")
    ai_timeout: float = Field(default=10.0, gt=0, validation_alias="AI_TIMEOUT")
    # The same model reads a page whose price the rules are unsure of (tracking/llm_reading.py),
    # when an endpoint is set and LLM_READING is on: at most once per product per LLM_READING_HOURS.
    llm_reading: bool = Field(default=True, validation_alias="LLM_READING")
    llm_reading_hours: int = Field(default=24, ge=1, validation_alias="LLM_READING_HOURS")
    # Delivery: attempts per channel before giving up, and the backoff between them.
    notify_dispatch_seconds: int = Field(default=5, ge=1, validation_alias="NOTIFY_DISPATCH_SECONDS")
    notify_max_attempts: int = Field(default=8, ge=1, validation_alias="NOTIFY_MAX_ATTEMPTS")
    notify_retry_base_seconds: float = Field(default=30.0, gt=0, validation_alias="NOTIFY_RETRY_BASE_SECONDS")
    notify_retry_max_seconds: float = Field(default=3600.0, gt=0, validation_alias="NOTIFY_RETRY_MAX_SECONDS")
    notify_lease_seconds: int = Field(default=120, ge=10, validation_alias="NOTIFY_LEASE_SECONDS")
    notify_concurrency: int = Field(default=8, ge=1, validation_alias="NOTIFY_CONCURRENCY")
    notify_send_timeout: float = Field(default=15.0, gt=0, validation_alias="NOTIFY_SEND_TIMEOUT")
    # Hosts and networks (comma-separated, e.g. "ntfy.lan, 192.168.1.0/24") Apprise targets may
    # reach although they are private; every other private address is refused.
    notify_allow_private_hosts: str = Field(default="", validation_alias="NOTIFY_ALLOW_PRIVATE_HOSTS")
    # "Now watching" messages wait this long for more new watches of the same person, so
    # adding many at once sends one summary.
    confirmation_summary_seconds: int = Field(
        default=10, ge=0, validation_alias="CONFIRMATION_SUMMARY_SECONDS"
    )
    # A reading that would alert on a surprising change (a drop of more than half, a restock
    # right after the page changed) is read again this long after, and alerts only if confirmed.
    second_look_seconds: int = Field(default=120, ge=1, le=3600, validation_alias="SECOND_LOOK_SECONDS")
    unsubscribe_link_days: int = Field(default=90, ge=1, validation_alias="UNSUBSCRIBE_LINK_DAYS")
    telegram_link_minutes: int = Field(default=15, ge=1, validation_alias="TELEGRAM_LINK_MINUTES")

    @field_validator("check_interval")
    @classmethod
    def _check_interval_floor(cls, value: int) -> int:
        if value < MIN_CHECK_INTERVAL_SECONDS:
            raise ValueError(f"CHECK_INTERVAL must be at least {MIN_CHECK_INTERVAL_SECONDS} seconds")
        return value

    @property
    def language_model_configured(self) -> bool:
        """Whether an OpenAI-compatible endpoint is set (a key for OpenAI, or a base URL)."""
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def effective_smtp_port(self) -> int:
        return self.smtp_port or {"starttls": 587, "tls": 465, "none": 25}[self.smtp_security]

    @property
    def mail_configured(self) -> bool:
        """Whether the chosen e-mail backend has what it needs to send."""
        if self.email_backend == "smtp":
            return bool(self.smtp_host)
        return bool(self.resend_api_key)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cloudtrack.db').resolve()}"

    @property
    def effective_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the data folder.

        A self-hoster who never sets SECRET_KEY still gets signed links that survive
        restarts, without a well-known default anyone could forge.
        """
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        make_private_dir(self.data_dir)
        key = secrets.token_urlsafe(48)
        if not create_private_file(key_file, key.encode()):
            return key_file.read_text().strip()  # another process made it first
        return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
