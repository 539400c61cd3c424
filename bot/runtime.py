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
from bot.deps import Deps, Filing
from bot.directory import Directory
from bot.dispatcher import Dispatcher
from bot.filer import Filer
from bot.intake import Triage
from bot.routes_file import load_routes_file
from bot.settings import Settings
from bot.worker import FilingWorker
from storage import routes as route_queries
from storage import schema
from storage.db import make_engine, make_session_factory, transaction

log = logging.getLogger(__name__)

# Listeners run on these threads after Bolt hands them a request; capture listeners wait there
# for their item to be stored before acking. At least as many as the HTTP server has request
# threads, so a burst of commands never queues for a listener thread (Bolt's default is 5).
LISTENER_THREADS = 16
# Deliveries wait while filings are arriving (until none has for INTAKE_QUIET_SECONDS), but no
# message waits longer than LONGEST_DELIVERY_DEFERRAL_SECONDS for its turn.
INTAKE_QUIET_SECONDS = 0.05
LONGEST_DELIVERY_DEFERRAL_SECONDS = 1.0


@dataclass
class Runtime:
    engine: Engine
    deps: Deps
    app: App
    dispatcher: Dispatcher
    filer: Filer
    # `cxbot run`: the filer and the dispatcher above run in this worker process instead.
    worker: FilingWorker | None = None

    def start_background(self) -> None:
        """Start delivering: in the worker process if there is one, else on a thread here."""
        if self.worker is not None:
            self.worker.start()
        else:
            self.dispatcher.start()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.filer.stop()
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
    filing_worker: bool = False,
) -> Runtime:
    """Migrate the schema, load the routes file, and wire the app. Raises on anything wrong.
    With `filing_worker`, filing and delivering run in a worker process (bot/worker.py), on the
    machine's next core, and this process only answers Slack."""
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
    filer = make_filer(settings, session_factory, clock=clock, dispatcher=dispatcher)
    worker = FilingWorker(settings) if filing_worker else None
    filing: Filing = worker or filer
    listener_threads = listener_executor or ThreadPoolExecutor(
        max_workers=LISTENER_THREADS, thread_name_prefix="cxbot-listener"
    )
    directory = Directory(make_web_client(settings.slack_bot_token, settings.slack_api_url, retries=True))
    deps = Deps(
        settings=settings,
        session_factory=session_factory,
        clock=clock,
        wake_outbox=worker.wake if worker else dispatcher.wake,
        filer=filing,
        later=listener_threads,
        members_of=directory.members_of,
        zone_of=lambda user: directory.timezone_of(user, default=settings.timezone),
    )
    return Runtime(
        engine=engine,
        deps=deps,
        app=create_app(deps, listener_executor=listener_threads),
        dispatcher=dispatcher,
        filer=filer,
        worker=worker,
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


def make_filer(
    settings: Settings, session_factory: sessionmaker[Session], *, clock: Clock, dispatcher: Dispatcher
) -> Filer:
    """A filer that wakes `dispatcher` after each batch, and a dispatcher that waits while a burst
    of filings is being stored."""
    filer = Filer(
        session_factory=session_factory,
        triage=Triage(channel=settings.triage_channel, admins=settings.admins),
        clock=clock,
        on_filed=dispatcher.wake,
    )
    dispatcher.before_delivery = lambda: filer.wait_until_quiet(
        quiet=INTAKE_QUIET_SECONDS, longest=LONGEST_DELIVERY_DEFERRAL_SECONDS
    )
    return filer
