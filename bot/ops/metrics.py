"""Prometheus metrics, with prometheus-client: served at GET /metrics by `cxbot run --http`, and on
CX_METRICS_PORT under Socket Mode. Each process has its own; Prometheus adds replicas up.

- cxbot_requests_total{kind}: what Slack sent (command, click, form, shortcut, event...)
- cxbot_filings_total{kind}: items filed (alarm, idea)
- cxbot_ack_seconds: from a request's arrival to its answer, over HTTP
- cxbot_outbox_messages{status}: the outbox's backlog, read from the database at each scrape
- cxbot_deliveries_total{kind,outcome}: deliveries sent, retried or failed, by message kind
  (nags sent: kind="dm_nag", outcome="sent")
- cxbot_slack_calls_total{method,outcome}: Web API calls by method: ok, error, or ratelimited (429)
- cxbot_job_runs_total{job,outcome} and cxbot_job_seconds{job}: scheduled jobs, ran or skipped
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry()

REQUESTS = Counter("cxbot_requests", "Requests from Slack, by kind", ["kind"], registry=REGISTRY)
FILINGS = Counter("cxbot_filings", "Items filed, by kind", ["kind"], registry=REGISTRY)
ACK_SECONDS = Histogram(
    "cxbot_ack_seconds",
    "Seconds from a request's arrival to its answer (Slack allows 3)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "cxbot_deliveries",
    "Outbox deliveries, by message kind and outcome",
    ["kind", "outcome"],
    registry=REGISTRY,
)
SLACK_CALLS = Counter(
    "cxbot_slack_calls",
    "Slack Web API calls, by method and outcome",
    ["method", "outcome"],
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "cxbot_job_runs", "Scheduled job runs, by job and outcome", ["job", "outcome"], registry=REGISTRY
)
JOB_SECONDS = Histogram(
    "cxbot_job_seconds",
    "Seconds a scheduled job took",
    ["job"],
    buckets=(0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0),
    registry=REGISTRY,
)


class OutboxBacklog(Collector):
    """The outbox's messages by status, and those waiting by priority, read when Prometheus scrapes."""

    def __init__(self, counts: Callable[[], dict[str, int]], waiting: Callable[[], dict[str, int]]) -> None:
        self._counts = counts
        self._waiting = waiting

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("cxbot_outbox_messages", "Outbox messages, by status", labels=["status"])
        for status, count in sorted(self._counts().items()):
            gauge.add_metric([status], count)
        yield gauge
        waiting = GaugeMetricFamily(
            "cxbot_outbox_waiting", "Outbox messages not yet delivered, by priority", labels=["priority"]
        )
        for priority, count in sorted(self._waiting().items()):
            waiting.add_metric([priority], count)
        yield waiting


_backlog: list[OutboxBacklog] = []


def watch_outbox(counts: Callable[[], dict[str, int]], waiting: Callable[[], dict[str, int]]) -> None:
    """Report the outbox's backlog from `counts` and `waiting` (the latest runtime's database) at
    each scrape."""
    for old in _backlog:
        REGISTRY.unregister(old)
    _backlog[:] = [OutboxBacklog(counts, waiting)]
    REGISTRY.register(_backlog[0])


def request_kind(body: dict[str, object]) -> str:
    """What a request is, for REQUESTS: a command's name, else the payload's type."""
    command = body.get("command")
    if isinstance(command, str) and command:
        return command
    kind = body.get("type")
    return kind if isinstance(kind, str) and kind else "other"
