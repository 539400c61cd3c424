"""Serving Slack's requests over HTTP with waitress, a production WSGI server, through Bolt's
WSGI adapter. Commands, interactivity and events all arrive at one URL, /slack/events."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from waitress.server import create_server

from bot.guard.edge import SlackEdge

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# Slack's largest payloads (a view_submission of a full modal) are tens of kilobytes. A larger body
# is answered 413 by waitress from its Content-Length, before it is read.
MAX_BODY_BYTES = 1_000_000
HEALTH_PATH = "/healthz"
# Request threads. Each holds a request only until its ack (a few ms, once the item is stored),
# and they all share one interpreter lock. With more of them, a burst's requests wait for that
# lock in no order; with fewer, they wait in waitress's queue, first come first served. But a
# thread carries one filing at a time, and the worker stores whatever is waiting as one batch:
# while a batch is stored, the threads are what fills the next one. On SQLite, at 32 concurrent
# slash commands, 8 threads gave a p99 about a sixth lower than 16 for the same throughput. On
# PostgreSQL, whose server takes its own share of the cores for each batch, 8 didn't help and
# cost throughput (docs/performance.md, sixth round).
SQLITE_THREADS = 8
DEFAULT_THREADS = 16

StartResponse = Callable[..., Any]


def wsgi_app(app: App, *, signing_secret: str) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    edge = SlackEdge(app, signing_secret=signing_secret, path=EVENTS_PATH)

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [b"ok"]
        result: Iterable[bytes] = edge(environ, start_response)
        return result

    return application


class _QueueWarnings:
    """Stands in for waitress's "waitress.queue" logger. Waitress warns "Task queue depth is N"
    for every request that has to wait for a thread: under a burst, one warning per request,
    costing CPU when it is shortest. Let one through a minute, saying how many were held back,
    and build no log record for the others."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._monotonic = monotonic
        self._next_at = 0.0
        self._held_back = 0

    def warning(self, msg: str, *args: Any) -> None:
        now = self._monotonic()
        if now < self._next_at:
            self._held_back += 1
            return
        if self._held_back:
            msg = f"{msg} ({self._held_back} similar warnings held back)"
        self._next_at, self._held_back = now + self._interval, 0
        self._logger.warning(msg, *args)


def request_threads(dialect: str) -> int:
    """How many request threads to serve with, for the database dialect cxbot stores to."""
    return SQLITE_THREADS if dialect == "sqlite" else DEFAULT_THREADS


def make_http_server(
    app: App, *, signing_secret: str, host: str, port: int, threads: int = DEFAULT_THREADS
) -> Any:
    """A waitress server, not yet serving: call `.run()` (blocks) and `.close()`.
    Port 0 picks a free port; the bound one is `.effective_port`."""
    server = create_server(
        wsgi_app(app, signing_secret=signing_secret),
        host=host,
        port=port,
        threads=threads,
        backlog=1024,
        connection_limit=1000,
        channel_timeout=60,
        clear_untrusted_proxy_headers=True,
        ident="cxbot",
        max_request_body_size=MAX_BODY_BYTES,
    )
    # waitress calls only .warning() on it
    server.task_dispatcher.queue_logger = _QueueWarnings(logging.getLogger("waitress.queue"))  # type: ignore[assignment]
    return server
