"""Serving Slack's requests over HTTP with waitress, a production WSGI server, through Bolt's
WSGI adapter. Commands, interactivity and events all arrive at one URL, /slack/events; a load
balancer's health check at /healthz, and Prometheus at /metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App
from waitress.server import create_server

from bot.guard.edge import SlackEdge
from bot.ops import metrics

EVENTS_PATH = "/slack/events"
# Slack's largest payloads (a view_submission of a full modal) are tens of kilobytes. A larger body
# is answered 413 by waitress from its Content-Length, before it is read.
MAX_BODY_BYTES = 1_000_000
HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"
# Request threads: each holds a request until its listener acks (milliseconds; up to 2 s while
# the database is away), so a burst of 16 commands at once is taken without queueing.
REQUEST_THREADS = 16

StartResponse = Callable[..., Any]


def wsgi_app(app: App, *, signing_secret: str) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    edge = SlackEdge(app, signing_secret=signing_secret, path=EVENTS_PATH)

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [b"ok"]
        if environ.get("PATH_INFO") == METRICS_PATH:
            exposition = generate_latest(metrics.REGISTRY)
            start_response(
                "200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(exposition)))]
            )
            return [exposition]
        result: Iterable[bytes] = edge(environ, start_response)
        return result

    return application


def make_http_server(
    app: App, *, signing_secret: str, host: str, port: int, threads: int = REQUEST_THREADS
) -> Any:
    """A waitress server, not yet serving: call `.run()` (blocks) and `.close()`.
    Port 0 picks a free port; the bound one is `.effective_port`."""
    return create_server(
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
