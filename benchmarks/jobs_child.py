"""Run one scheduled job once against a seeded database, in a process of its own, and report its
time and peak memory as JSON on stdout. A process of its own so that the peak RSS is the job's,
not the seeding's.

    python -m benchmarks.jobs_child --database-url URL --job nag|digest --at ISO-8601
        [--slack-url URL] [--profile FILE]

The nag sweep asks Slack about people (time zones, deactivated accounts) and each owner group's
members through the bot's own Directory, against the fake Slack at --slack-url, starting with
nothing cached: as the first sweep of a day does. The time spent waiting for those answers is
reported apart from the rest (`slack_seconds`), which is what every later sweep of the day costs
(answers are cached).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Collection
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, func, select, text

from bot.app import make_web_client
from bot.blocks.digest import digest_reply
from bot.jobs.digest import build_digest
from bot.jobs.nag import run_nag_sweep
from bot.slack.directory import Directory, Person
from storage.db import make_engine, make_session_factory
from storage.models import OutboxMessage

ADMINS = ("U0ADMIN1", "U0ADMIN2")
INTERVAL = timedelta(minutes=15)


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _peak_rss_mb() -> float:
    """Peak RSS since this process started running Python: VmHWM, the high-water mark of its own
    address space. Not getrusage's ru_maxrss: on Linux that survives exec, so in a child it is at
    least the RSS of the parent that forked it (here, the process that seeded the database)."""
    return _status_mb("VmHWM")


class DriverTime:
    """Round trips to the database and the time spent in them (statement execution and fetching
    the cursor's rows, as the driver does it), to tell SQL time from Python time."""

    def __init__(self, engine: Engine) -> None:
        self.round_trips = 0
        self.seconds = 0.0
        self.enabled = False
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, connection: Any, *_args: Any) -> None:
        connection.info["bench_started"] = time.perf_counter()

    def _after(self, connection: Any, *_args: Any) -> None:
        if self.enabled:
            self.round_trips += 1
            self.seconds += time.perf_counter() - connection.info.pop("bench_started", time.perf_counter())


class SlackTime:
    """The sweep's questions to Slack, answered by a real Directory, and the time spent waiting."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        self.seconds = 0.0
        self.lookups = 0

    def members_of(self, group: str) -> frozenset[str]:
        started = time.perf_counter()
        try:
            return self._directory.members_of(group)
        finally:
            self._count(started)

    def people_of(self, users: Collection[str]) -> dict[str, Person]:
        started = time.perf_counter()
        try:
            return self._directory.people(users)
        finally:
            self._count(started)

    def _count(self, started: float) -> None:
        self.seconds += time.perf_counter() - started
        self.lookups += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.jobs_child", description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--job", choices=["nag", "digest"], required=True)
    parser.add_argument("--at", required=True, type=datetime.fromisoformat)
    parser.add_argument("--slack-url", default="", help="the fake Slack Web API the nag sweep asks")
    parser.add_argument("--profile", type=Path, help="also write a pyinstrument profile (text) here")
    args = parser.parse_args(argv)

    engine = make_engine(args.database_url)
    factory = make_session_factory(engine)
    driver = DriverTime(engine)
    with engine.connect() as connection:  # a warm pool, as in a running bot
        connection.execute(text("SELECT 1"))
    baseline = _rss_mb()
    profiler = None
    if args.profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
    result: dict[str, Any] = {"job": args.job, "baseline_rss_mb": baseline, "profiled": profiler is not None}
    driver.enabled = True
    started = time.perf_counter()
    if args.job == "nag":
        slack = SlackTime(
            Directory(make_web_client("xoxb-bench", args.slack_url, retries=True), default_zone="UTC")
        )
        sweep = run_nag_sweep(
            factory,
            at=args.at,
            now=args.at,
            interval=INTERVAL,
            admins=ADMINS,
            members_of=slack.members_of,
            people_of=slack.people_of,
        )
        result["first_of_day_seconds"] = time.perf_counter() - started
        result["slack_seconds"] = slack.seconds
        result["slack_lookups"] = slack.lookups
        result["seconds"] = result["first_of_day_seconds"] - slack.seconds
        driver.enabled = False
        result["sweep"] = sweep.__dict__
    else:
        with factory() as session:
            digest = build_digest(session, end=args.at)
            result["seconds"] = time.perf_counter() - started
            driver.enabled = False
            rendered = time.perf_counter()
            reply = digest_reply(digest, zone="UTC")
            result["render_seconds"] = time.perf_counter() - rendered
            result["digest"] = {
                "past_sla": digest.past_sla,
                "raised_this_week": {kind.value: flow.raised for kind, flow in digest.this_week.flow.items()},
                "actioned_this_week": {
                    kind.value: flow.actioned for kind, flow in digest.this_week.flow.items()
                },
                "ack_median_s": digest.this_week.to_acknowledge.median.total_seconds()
                if digest.this_week.to_acknowledge.median
                else None,
                "grey": [digest.grey_came_in, digest.grey_resolved, digest.grey_unowned],
                "areas": len(digest.by_area),
                "credited": len(digest.credited),
                "top_ideas": len(digest.top_ideas),
                "blocks": len(reply.as_dicts()),
            }
    if profiler is not None:
        profiler.stop()
        args.profile.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    result["peak_rss_mb"] = _peak_rss_mb()
    result["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["round_trips"] = driver.round_trips
    result["driver_seconds"] = driver.seconds
    with factory() as session:
        counts = dict(
            session.execute(select(OutboxMessage.kind, func.count()).group_by(OutboxMessage.kind)).all()
        )
    result["outbox"] = {str(kind): int(count) for kind, count in counts.items()}
    engine.dispose()
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
