"""Assembling a bot from its settings: the database, the routes, the outbox dispatcher and the Bolt
app with every listener registered (create_app). No side effects at import: `cxbot run` builds
one with build_runtime, and so do the end-to-end tests."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, system_clock
from bot.deps import Deps
from bot.guard import payload
from bot.guard.workspace import WorkspaceGuard
from bot.home.build import build_home
from bot.ops import metrics
from bot.outbox.deliveries import DELIVERIES, DeliveryContext
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.kinds import Priority
from bot.outbox.pacing import Pacer
from bot.routing.routes_file import import_routes_file
from bot.settings import Settings
from bot.slack.directory import Directory
from handlers import register_all
from storage import outbox as outbox_queries
from storage import schema
from storage.db import make_engine, make_session_factory

log = logging.getLogger(__name__)

# Bolt runs each listener on one of these; a command's listener holds one until its item is
# stored (milliseconds), and longer only while the database is away. Bolt's default is 5.
LISTENER_THREADS = 16
# The threads that store submissions (bot/capture/filing.py), each for one short transaction.
FILING_THREADS = 8


def make_web_client(token: str, base_url: str, *, retries: bool, timeout: int = 10) -> WebClient:
    """The dispatcher's client does its own retrying (retries=False), so a call is never silently
    repeated; the listeners' client keeps slack_sdk's one retry on a dropped connection."""
    client = WebClient(token=token, base_url=base_url, timeout=timeout)
    if not retries:
        client.retry_handlers.clear()
    return client


class RequestGuard(Middleware):
    """Refuses malformed payloads with 400 before Bolt's authorization or any listener sees them,
    over HTTP and Socket Mode alike; counts the rest by kind."""

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse | None:
        refused = payload.refusal(req)
        if refused is not None:
            return refused
        metrics.REQUESTS.labels(metrics.request_kind(req.body)).inc()
        return next()


def create_app(deps: Deps, *, listener_executor: Executor | None = None) -> App:
    """`listener_executor` runs the listeners; tests pass one they can wait on."""
    settings = deps.settings
    app = App(
        name="cxbot",
        client=make_web_client(settings.slack_bot_token, settings.slack_api_url, retries=True),
        # Over HTTP, bot/guard/edge.py checks the signature on the raw body before Bolt sees the
        # request; Socket Mode has none to check.
        request_verification_enabled=False,
        process_before_response=False,
        listener_executor=listener_executor or ThreadPoolExecutor(max_workers=LISTENER_THREADS),
        # Right after the signature check, before Bolt's own middleware reads the payload (its
        # authorization step trusts `event` to be an object).
        before_authorize=RequestGuard(),
    )
    app.use(WorkspaceGuard())
    register_all(app, deps)
    return app


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


def build_runtime(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    listener_executor: Executor | None = None,
) -> Runtime:
    """Migrate the schema, load the routes file, and wire the app. Raises on anything wrong.
    Nothing runs yet: `dispatcher.start()` starts delivering."""
    engine = make_engine(settings.database_url)
    schema.migrate(engine)
    if settings.routes_file is not None:
        summary = import_routes_file(engine, settings.routes_file, clock=clock)
        log.info(
            "routes loaded from %s: %d active (%d new, %d changed, %d retired), and %d claimed in Slack kept",
            settings.routes_file,
            len(summary.added) + len(summary.changed) + len(summary.unchanged),
            len(summary.added),
            len(summary.changed),
            len(summary.retired),
            len(summary.kept),
        )
    session_factory = make_session_factory(engine)
    metrics.watch_outbox(lambda: _outbox_counts(session_factory), lambda: _outbox_waiting(session_factory))
    dispatcher = make_dispatcher(settings, session_factory, clock=clock)
    filing = ThreadPoolExecutor(max_workers=FILING_THREADS, thread_name_prefix="cxbot-filing")
    directory = Directory(
        make_web_client(settings.slack_bot_token, settings.slack_api_url, retries=True),
        default_zone=settings.timezone,
    )
    deps = Deps(
        settings=settings,
        session_factory=session_factory,
        clock=clock,
        wake_outbox=dispatcher.wake,
        token_refused=dispatcher.refuse_token,
        filing=filing,
        members_of=directory.members_of,
        people_of=directory.people,
        groups=directory.groups,
    )
    dispatcher.context.render_home = lambda user: build_home(deps, user_id=user).to_dict()
    return Runtime(
        engine=engine,
        deps=deps,
        app=create_app(deps, listener_executor=listener_executor),
        dispatcher=dispatcher,
        filing=filing,
    )


def _outbox_counts(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with session_factory() as session:
        return outbox_queries.counts_by_status(session=session)


def _outbox_waiting(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with session_factory() as session:
        waiting = outbox_queries.unfinished_by_priority(session=session)
    return {Priority(priority).name.lower(): count for priority, count in waiting.items()}


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
            triage_channel=settings.triage_channel,
            admins=settings.admins,
        ),
        deliveries=DELIVERIES,
        clock=clock,
        max_backoff=settings.outbox_max_backoff_seconds,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
        pacer=Pacer(posts_per_minute=settings.slack_posts_per_minute) if settings.slack_pacing else None,
    )
