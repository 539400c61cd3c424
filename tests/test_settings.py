from pathlib import Path

import pytest

from bot.settings import DEFAULT_DATABASE_URL, SettingsError, load_settings

GOOD = {
    "SLACK_BOT_TOKEN": "xoxb-123-abc",
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99a1b2c3d4e5",
    "CX_TRIAGE_CHANNEL": "C0TRIAGE",
    "CX_ADMINS": "U0ADMIN1, U0ADMIN2",
}


def test_the_roundup_goes_to_the_kudos_channel_unless_told() -> None:
    assert (
        load_settings({**GOOD, "CX_KUDOS_CHANNEL": "C0KUDOS"}, need_slack=True).roundup_channel == "C0KUDOS"
    )
    chosen = {**GOOD, "CX_KUDOS_CHANNEL": "C0KUDOS", "CX_ROUNDUP_CHANNEL": "C0WINS"}
    assert load_settings(chosen, need_slack=True).roundup_channel == "C0WINS"


def test_defaults() -> None:
    settings = load_settings(GOOD, need_slack=True, http=True)
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.admins == ("U0ADMIN1", "U0ADMIN2")
    assert settings.kudos_channel == settings.digest_channel == settings.roundup_channel == "C0TRIAGE"
    assert settings.roundup_cron == "0 10 1 * *"
    assert settings.timezone == "UTC"
    assert (settings.nag_interval_minutes, settings.digest_cron) == (15, "0 9 * * mon")
    assert (
        settings.slack_timeout_seconds,
        settings.outbox_max_backoff_seconds,
        settings.outbox_lease_seconds,
    ) == (
        10,
        300,
        120,
    )
    assert not settings.socket_mode


def test_everything_set(tmp_path: Path) -> None:
    routes = tmp_path / "routes.toml"
    routes.write_text("")
    env = {
        **GOOD,
        "SLACK_APP_TOKEN": "xapp-1-xyz",
        "SLACK_API_URL": "http://127.0.0.1:9999/api",
        "DATABASE_URL": "postgresql://u:p@db:5432/cx",
        "CX_ROUTES_FILE": str(routes),
        "CX_KUDOS_CHANNEL": "C0KUDOS",
        "CX_DIGEST_CHANNEL": "G0DIGEST",
        "CX_TIMEZONE": "Europe/Berlin",
    }
    settings = load_settings(env, need_slack=True)
    assert settings.socket_mode
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"
    assert settings.routes_file == routes
    assert (settings.kudos_channel, settings.digest_channel) == ("C0KUDOS", "G0DIGEST")
    assert settings.zone.key == "Europe/Berlin"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN is not set"),
        (
            {"SLACK_BOT_TOKEN": "xoxp-user-token"},
            "SLACK_BOT_TOKEN must be a token that starts with 'xoxb-'",
        ),
        ({"SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN must be a token"),
        ({"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET is not set"),
        ({"SLACK_SIGNING_SECRET": "not hex!"}, "SLACK_SIGNING_SECRET must be"),
        ({"SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL must be"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL is not a database URL"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL uses 'mysql'"),
        ({"CX_ROUTES_FILE": "/nope/routes.toml"}, "CX_ROUTES_FILE points to /nope/routes.toml"),
        ({"CX_TRIAGE_CHANNEL": ""}, "CX_TRIAGE_CHANNEL is not set"),
        ({"CX_TRIAGE_CHANNEL": "#cx-triage"}, "CX_TRIAGE_CHANNEL must be a channel ID"),
        ({"CX_KUDOS_CHANNEL": "kudos"}, "CX_KUDOS_CHANNEL must be a channel ID"),
        ({"CX_DIGEST_CHANNEL": "U0PERSON"}, "CX_DIGEST_CHANNEL must be a channel ID"),
        ({"CX_ADMINS": ""}, "CX_ADMINS is not set"),
        ({"CX_ADMINS": "U0OK,@bob"}, "CX_ADMINS must list user IDs such as U0123ABCD; '@bob'"),
        ({"CX_TIMEZONE": "Mars/Olympus"}, "CX_TIMEZONE must be an IANA time zone"),
        ({"CX_NAG_INTERVAL_MINUTES": "0"}, "CX_NAG_INTERVAL_MINUTES must be a whole number"),
        ({"CX_NAG_INTERVAL_MINUTES": "15m"}, "CX_NAG_INTERVAL_MINUTES must be a whole number"),
        ({"CX_DIGEST_CRON": "every monday"}, "CX_DIGEST_CRON must be a crontab line"),
        ({"CX_DIGEST_CRON": "0 25 * * mon"}, "CX_DIGEST_CRON must be a crontab line"),
        ({"CX_ROUNDUP_CRON": "monthly"}, "CX_ROUNDUP_CRON must be a crontab line"),
        ({"CX_SLACK_TIMEOUT_SECONDS": "0"}, "CX_SLACK_TIMEOUT_SECONDS must be a whole number from 1 to 120"),
        ({"CX_OUTBOX_MAX_BACKOFF_SECONDS": "1.5"}, "CX_OUTBOX_MAX_BACKOFF_SECONDS must be a whole number"),
        ({"CX_OUTBOX_LEASE_SECONDS": "2"}, "CX_OUTBOX_LEASE_SECONDS must be a whole number from 5 to 3600"),
        ({"CX_RETENTION_DAYS": "0"}, "CX_RETENTION_DAYS must be a whole number of days from 1"),
        ({"CX_RETENTION_DAYS": "90d"}, "CX_RETENTION_DAYS must be a whole number of days from 1"),
        ({"CX_RETENTION_DAYS": "-5"}, "CX_RETENTION_DAYS must be a whole number of days from 1"),
    ],
)
def test_bad_setting_is_named_in_one_line(change: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**GOOD, **change}, need_slack=True, http=True)
    message = str(caught.value)
    assert message.startswith(named)
    assert "\n" not in message


def test_retention_is_off_unless_set() -> None:
    assert load_settings(GOOD, need_slack=True).retention_days is None
    assert load_settings({**GOOD, "CX_RETENTION_DAYS": " 365 "}, need_slack=True).retention_days == 365


def test_signing_secret_only_needed_for_http() -> None:
    env = {**GOOD, "SLACK_SIGNING_SECRET": "", "SLACK_APP_TOKEN": "xapp-1"}
    assert load_settings(env, need_slack=True, http=False).slack_signing_secret == ""


def test_database_only_commands_need_no_slack_settings() -> None:
    settings = load_settings({"DATABASE_URL": "sqlite:///x.db"}, need_slack=False)
    assert settings.database_url == "sqlite:///x.db"
