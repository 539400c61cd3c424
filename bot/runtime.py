"""Assembling a running bot from its settings: database, routes, dispatcher and Bolt app."""

from __future__ import annotations

import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from slack_bolt import App
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app, make_web_client
from bot.clock import Clock, system_clock
from bot.delivery import DELIVERIES, DeliveryContext
from bot.deps import Deps
from bot.directory import Directory
from bot.dispatcher import Dispatcher
from bot.routes_file import load_routes_file
from bot.settings import Settings
from storage import routes as route_queries
from storage import schema
from storage.db import make_engine, make_session_factory, transaction

log = logging.getLogger(__name__)

# The threads that store submissions (bot/capture/filing.py), each for one short transaction.
FILING_THREADS = 8


@dataclass
class Runtime:
    engine: Engine
    deps: Deps
    app: App
    dispatcher: Dispatcher
    filing: ThreadPoolExecutor

    def close(self) -> None:
        self.filing.shutdown(wait=True)
        self.dispatcher.stop()
        self.engine.dispose()


def migrate(engine: Engine) -> None:
    before, after = schema.upgrade(engine)
    if before != after:
        log.info("database schema migrated from %s to %s", before or "empty", after)


def import_routes_file(engine: Engine, path: Path, *, clock: Clock) -> route_queries.ImportSummary:
    specs = load_routes_file(path)
    with transaction(make_session_factory(engine)) as session:
        return route_queries.import_routes(session=session, specs=specs, now=clock())


def build_runtime(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    listener_executor: Executor | None = None,
) -> Runtime:
    """Migrate the schema, load the routes file, and wire the app. Raises on anything wrong.
    Nothing runs yet: `dispatcher.start()` starts delivering."""
    engine = make_engine(settings.database_url)
    migrate(engine)
    if settings.routes_file is not None:
        summary = import_routes_file(engine, settings.routes_file, clock=clock)
        log.info(
            "routes loaded from %s: %d active (%d new, %d changed, %d retired)",
            settings.routes_file,
            len(summary.added) + len(summary.changed) + len(summary.unchanged),
            len(summary.added),
            len(summary.changed),
            len(summary.retired),
        )
    session_factory = make_session_factory(engine)
    dispatcher = make_dispatcher(settings, session_factory, clock=clock)
    filing = ThreadPoolExecutor(max_workers=FILING_THREADS, thread_name_prefix="cxbot-filing")
    directory = Directory(make_web_client(settings.slack_bot_token, settings.slack_api_url, retries=True))
    deps = Deps(
        settings=settings,
        session_factory=session_factory,
        clock=clock,
        wake_outbox=dispatcher.wake,
        filing=filing,
        members_of=directory.members_of,
        zone_of=lambda user: directory.timezone_of(user, default=settings.timezone),
    )
    return Runtime(
        engine=engine,
        deps=deps,
        app=create_app(deps, listener_executor=listener_executor),
        dispatcher=dispatcher,
        filing=filing,
    )


def make_dispatcher(
    settings: Settings, session_factory: sessionmaker[Session], *, clock: Clock
) -> Dispatcher:
    return Dispatcher(
        session_factory=session_factory,
        context=DeliveryContext(
            client=make_web_client(
                settings.slack_bot_token,
                settings.slack_api_url,
                retries=False,
                timeout=settings.slack_timeout_seconds,
            ),
            session_factory=session_factory,
            kudos_channel=settings.kudos_channel,
            clock=clock,
            timeout=settings.slack_timeout_seconds,
        ),
        deliveries=DELIVERIES,
        clock=clock,
        max_backoff=settings.outbox_max_backoff_seconds,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
    )
