"""Settings: read once from the environment (and `.env`), checked at start.

A missing or malformed setting stops start-up with one line that names it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.exc import ArgumentError

from bot.slack import ids as slack_ids
from storage.db import normalise_url

DEFAULT_DATABASE_URL = "sqlite:///cxbot.db"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DIGEST_CRON = "0 9 * * mon"
DEFAULT_ROUNDUP_CRON = "0 10 1 * *"  # the 1st of each month, 10:00
RETENTION_CRON = "30 3 * * *"  # the daily purge, when CX_RETENTION_DAYS is set: 03:30
MAX_RETENTION_DAYS = 36_500


class SettingsError(Exception):
    """A setting is missing or malformed. The message names it and says what is wrong."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_app_token: str = ""
    slack_api_url: str = DEFAULT_SLACK_API_URL
    routes_file: Path | None = None
    triage_channel: str = ""
    kudos_channel: str = ""
    digest_channel: str = ""
    admins: tuple[str, ...] = ()
    timezone: str = "UTC"
    nag_interval_minutes: int = 15
    digest_cron: str = DEFAULT_DIGEST_CRON
    roundup_cron: str = DEFAULT_ROUNDUP_CRON
    roundup_channel: str = ""
    slack_timeout_seconds: int = 10
    outbox_max_backoff_seconds: int = 300
    outbox_lease_seconds: int = 120
    # chat.postMessage calls a minute across the workspace; Slack doesn't publish its figure.
    slack_posts_per_minute: int = 600
    # "Me too": this many joining one alarm within an hour make it a storm (bot/items/metoo.py).
    storm_joiners: int = 5
    # Closed items older than this many days lose their free text and people (bot/jobs/retention.py);
    # None: kept for ever.
    retention_days: int | None = None
    # Pace calls to Slack's rate limits (bot/outbox/pacing.py). Off only in tests that check
    # something else against a fake Slack that doesn't limit.
    slack_pacing: bool = True

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)


def load_settings(env: Mapping[str, str], *, need_slack: bool, http: bool = False) -> Settings:
    """Build Settings from `env`. `need_slack` is false for commands that only touch the database;
    `http` says the bot will serve Slack's requests over HTTP, which needs the signing secret."""
    reader = _Reader(env)
    database_url = reader.database_url()
    if not need_slack:
        return Settings(database_url=database_url, routes_file=reader.routes_file())
    triage_channel = reader.channel("CX_TRIAGE_CHANNEL", required=True)
    return Settings(
        database_url=database_url,
        slack_bot_token=reader.token("SLACK_BOT_TOKEN", "xoxb-", required=True),
        slack_signing_secret=reader.signing_secret(required=http),
        slack_app_token=reader.token("SLACK_APP_TOKEN", "xapp-", required=False),
        slack_api_url=reader.api_url(),
        routes_file=reader.routes_file(),
        triage_channel=triage_channel,
        kudos_channel=reader.channel("CX_KUDOS_CHANNEL", required=False) or triage_channel,
        digest_channel=reader.channel("CX_DIGEST_CHANNEL", required=False) or triage_channel,
        admins=reader.admins(),
        timezone=reader.timezone(),
        nag_interval_minutes=reader.nag_interval(),
        digest_cron=reader.digest_cron(),
        roundup_cron=reader.cron("CX_ROUNDUP_CRON", DEFAULT_ROUNDUP_CRON),
        roundup_channel=reader.channel("CX_ROUNDUP_CHANNEL", required=False)
        or reader.channel("CX_KUDOS_CHANNEL", required=False)
        or triage_channel,
        slack_timeout_seconds=reader.whole_number("CX_SLACK_TIMEOUT_SECONDS", default=10, low=1, high=120),
        outbox_max_backoff_seconds=reader.whole_number(
            "CX_OUTBOX_MAX_BACKOFF_SECONDS", default=300, low=1, high=3600
        ),
        outbox_lease_seconds=reader.whole_number("CX_OUTBOX_LEASE_SECONDS", default=120, low=5, high=3600),
        storm_joiners=reader.whole_number("CX_STORM_JOINERS", default=5, low=2, high=10_000),
        slack_posts_per_minute=reader.whole_number(
            "CX_SLACK_POSTS_PER_MINUTE", default=600, low=10, high=100_000
        ),
        retention_days=reader.retention_days(),
    )


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def get(self, name: str) -> str:
        return self._env.get(name, "").strip()

    def database_url(self) -> str:
        value = self.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        try:
            url = normalise_url(value)
        except ArgumentError:
            raise SettingsError(
                "DATABASE_URL is not a database URL; expected sqlite:///cxbot.db "
                "or postgresql://user:password@host:5432/dbname"
            ) from None
        if url.get_backend_name() not in {"sqlite", "postgresql"}:
            raise SettingsError(
                f"DATABASE_URL uses {url.get_backend_name()!r}; cxbot supports sqlite and postgresql"
            )
        return value

    def token(self, name: str, prefix: str, *, required: bool) -> str:
        value = self.get(name)
        if not value:
            if required:
                raise SettingsError(f"{name} is not set; copy it from your Slack app's settings")
            return ""
        if not value.startswith(prefix) or any(c.isspace() for c in value):
            raise SettingsError(f"{name} must be a token that starts with {prefix!r}")
        return value

    def signing_secret(self, *, required: bool) -> str:
        value = self.get("SLACK_SIGNING_SECRET")
        if not value:
            if required:
                raise SettingsError(
                    "SLACK_SIGNING_SECRET is not set; it is needed to serve Slack over HTTP "
                    "(Basic Information > App Credentials in your Slack app)"
                )
            return ""
        if not re.fullmatch(r"[0-9a-fA-F]{16,128}", value):
            raise SettingsError("SLACK_SIGNING_SECRET must be the hex string from your Slack app")
        return value

    def api_url(self) -> str:
        value = self.get("SLACK_API_URL") or DEFAULT_SLACK_API_URL
        parsed = urlparse(value)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise SettingsError(f"SLACK_API_URL must be an http(s) URL like {DEFAULT_SLACK_API_URL}")
        return value if value.endswith("/") else value + "/"

    def routes_file(self) -> Path | None:
        value = self.get("CX_ROUTES_FILE")
        if not value:
            return None
        path = Path(value).expanduser()
        if not path.is_file():
            raise SettingsError(f"CX_ROUTES_FILE points to {value}, which is not a readable file")
        return path

    def channel(self, name: str, *, required: bool) -> str:
        value = self.get(name)
        if not value:
            if required:
                raise SettingsError(f"{name} is not set; give a channel ID such as C0123ABCD")
            return ""
        if not slack_ids.is_channel(value):
            raise SettingsError(
                f"{name} must be a channel ID such as C0123ABCD (not a name like #cx), got {value!r}"
            )
        return value

    def admins(self) -> tuple[str, ...]:
        raw = self.get("CX_ADMINS")
        admins = tuple(part.strip() for part in raw.split(",") if part.strip())
        if not admins:
            raise SettingsError(
                "CX_ADMINS is not set; give the CX leads' user IDs, comma-separated (U0123ABCD,U0456EFGH)"
            )
        for admin in admins:
            if not slack_ids.is_user(admin):
                raise SettingsError(f"CX_ADMINS must list user IDs such as U0123ABCD; {admin!r} is not one")
        return admins

    def whole_number(self, name: str, *, default: int, low: int, high: int) -> int:
        value = self.get(name) or str(default)
        if not value.isdigit() or not low <= int(value) <= high:
            raise SettingsError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        return int(value)

    def retention_days(self) -> int | None:
        value = self.get("CX_RETENTION_DAYS")
        if not value:
            return None
        if not value.isdigit() or not 1 <= int(value) <= MAX_RETENTION_DAYS:
            raise SettingsError(
                f"CX_RETENTION_DAYS must be a whole number of days from 1 to {MAX_RETENTION_DAYS}, "
                f"or empty to keep everything, got {value!r}"
            )
        return int(value)

    def nag_interval(self) -> int:
        value = self.get("CX_NAG_INTERVAL_MINUTES") or "15"
        if not value.isdigit() or not 1 <= int(value) <= 1440:
            raise SettingsError(
                f"CX_NAG_INTERVAL_MINUTES must be a whole number of minutes from 1 to 1440, got {value!r}"
            )
        return int(value)

    def digest_cron(self) -> str:
        return self.cron("CX_DIGEST_CRON", DEFAULT_DIGEST_CRON)

    def cron(self, name: str, default: str) -> str:
        value = self.get(name) or default
        try:
            CronTrigger.from_crontab(value)
        except ValueError as error:
            raise SettingsError(f"{name} must be a crontab line like {default!r} ({error})") from None
        return value

    def timezone(self) -> str:
        value = self.get("CX_TIMEZONE") or "UTC"
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"CX_TIMEZONE must be an IANA time zone such as Europe/London, got {value!r}"
            ) from None
        return value
