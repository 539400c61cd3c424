"""Fixtures: each storage test runs on SQLite and on PostgreSQL; end-to-end tests run the real app
over HTTP against the fake Slack server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import psycopg
import pytest
import yaml
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.app import build_runtime
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_limits import SlackLimits
from bot.settings import Settings
from storage.db import make_engine, make_session_factory
from storage.schema import migrate
from tests.support import (
    ADMINS,
    BOT_TOKEN,
    ROUTES_TOML,
    SIGNING_SECRET,
    TRIAGE,
    BotUnderTest,
    FakeClock,
    ServedBot,
    TrackingExecutor,
)

POSTGRES_URL = os.environ.get("CXBOT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("CXBOT_REQUIRE_POSTGRES") == "1"


@cache
def _postgres_unreachable() -> str | None:
    """Why PostgreSQL can't be used, or None if it can."""
    try:
        with psycopg.connect(_libpq_url(POSTGRES_URL), connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"no PostgreSQL at {POSTGRES_URL} ({str(error).strip().splitlines()[0]})"


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cxbot.db'}"
        return
    yield from _postgres_schema()


def _postgres_schema() -> Iterator[str]:
    """A fresh schema on the shared server for one test, dropped afterwards."""
    reason = _postgres_unreachable()
    if reason is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"CXBOT_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    schema = f"cxbot_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq_url(POSTGRES_URL), autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(_libpq_url(POSTGRES_URL), autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _migrated_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    yield from _migrated_engine(database_url)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema on the shared PostgreSQL server, for tests about PostgreSQL alone."""
    yield from _postgres_schema()


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    yield from _migrated_engine(postgres_url)


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    yield from serve_fake_slack()


@cache
def manifest_scopes() -> list[str]:
    """The bot scopes manifest.yaml asks for: the fake's token has them, as an install would."""
    manifest = yaml.safe_load((Path(__file__).resolve().parents[1] / "manifest.yaml").read_text())
    return list(manifest["oauth_config"]["scopes"]["bot"])


def serve_fake_slack(limits: SlackLimits | None = None) -> Iterator[FakeSlack]:
    """The fake Slack for a test; with `limits`, limiting as Slack does. A module whose tests need
    the limits overrides the fake_slack fixture with `yield from serve_fake_slack(SlackLimits())`."""
    with FakeSlack(limits=limits, scopes=manifest_scopes()) as fake:
        fake.set_user("U0RAISER", tz="Europe/London")
        yield fake
        fake.assert_no_violations()


@pytest.fixture
def routes_file(tmp_path: Path) -> Path:
    path = tmp_path / "routes.toml"
    path.write_text(ROUTES_TOML, encoding="utf-8")
    return path


@pytest.fixture
def settings(database_url: str, fake_slack: FakeSlack, routes_file: Path) -> Settings:
    return Settings(
        database_url=database_url,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake_slack.base_url,
        routes_file=routes_file,
        triage_channel=TRIAGE,
        kudos_channel="C0KUDOS",
        roundup_channel="C0KUDOS",
        digest_channel="C0DIGEST",
        admins=ADMINS,
        timezone="Europe/London",
        # The fake Slack doesn't limit unless a test asks; tests that pace turn this on.
        slack_pacing=False,
    )


@pytest.fixture
def start_bot(settings: Settings, clock: FakeClock) -> Iterator[Callable[..., BotUnderTest]]:
    """Start the bot over real HTTP; call again after stopping to simulate a restart."""
    served: list[ServedBot] = []

    def start(**overrides: object) -> BotUnderTest:
        chosen = Settings(**{**settings.__dict__, **overrides})  # type: ignore[arg-type]
        executor = TrackingExecutor()
        runtime = build_runtime(chosen, clock=clock, listener_executor=executor)
        bot = ServedBot(runtime, executor)
        served.append(bot)
        return bot.__enter__()

    yield start
    for bot in served:
        bot.__exit__(None, None, None)


@pytest.fixture
def bot(start_bot: Callable[..., BotUnderTest]) -> BotUnderTest:
    return start_bot()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs PostgreSQL carries the `postgres` mark, whether through the database
    parameter or the postgres_url fixture, so that `-m postgres` selects exactly them (.ci/run)."""
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
