"""The way to grow: two `cxbot run --http` replicas on one PostgreSQL database, behind a load
balancer's round robin (this test's own, in Python), against a fake Slack that limits as Slack
does. Every command is stored once, every card and confirmation posted once, each nag sweep and
digest runs once, however the requests and the schedulers' timers fall between the replicas, and
together the two keep to one channel's rate limit: Slack never has to say 429."""

from __future__ import annotations

import http.client
import itertools
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest

from bot.sandbox import envelopes
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.signing import signature
from bot.sandbox.slack_limits import SlackLimits
from tests.conftest import serve_fake_slack
from tests.process import BotProcess
from tests.support import file_stale_alarm

pytestmark = pytest.mark.postgres

COMMANDS = 24
OWNER = "U0BILLING"


class RoundRobin:
    """A load balancer on loopback: each request goes to the next replica in turn, as it came."""

    def __init__(self, ports: list[int]) -> None:
        turns = itertools.cycle(ports)
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                with lock:
                    port = next(turns)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                headers = {name: value for name, value in self.headers.items() if name.lower() != "host"}
                upstream.request("POST", self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                content = answer.read()
                upstream.close()
                self.send_response(answer.status)
                self.send_header("Content-Length", str(len(content)))
                self.send_header("X-Replica", str(port))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: object) -> None:
                return

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # socketserver's default of 5 resets a burst's connections

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def post(url: str, body: bytes, *, signed_ago: int = 0) -> tuple[int, str]:
    """POST a signed command; returns the status and which replica answered."""
    stamp = int(time.time()) - signed_ago
    address = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    connection.request(
        "POST",
        address.path,
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": signature(body, stamp),
        },
    )
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer.status, answer.getheader("X-Replica") or ""


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    yield from serve_fake_slack(SlackLimits())


@dataclass(frozen=True)
class Replicas:
    balancer: RoundRobin
    bots: list[BotProcess]
    # A zone in which the owner is in working hours now, so nagged; None on a weekend, when no
    # zone on Earth is in a weekday's working hours, and the owner waits for Monday.
    owner_zone: str | None


@pytest.fixture
def replicas(
    postgres_url: str, fake_slack: FakeSlack, routes_file: Path, tmp_path: Path
) -> Iterator[Replicas]:
    now = datetime.now(UTC)
    zone = working_zone(now)
    fake_slack.set_user(OWNER, tz=zone or "UTC")
    file_stale_alarm(postgres_url, routes_file, at=now)
    every_minute = {"CX_NAG_INTERVAL_MINUTES": "1", "CX_DIGEST_CRON": "* * * * *", "CX_TIMEZONE": "UTC"}
    bots = [
        BotProcess(
            fake=fake_slack,
            database_url=postgres_url,
            routes_file=routes_file,
            log=tmp_path / f"replica-{n}.log",
            scheduler=True,
            CX_DIGEST_CHANNEL="C0DIGEST",
            **every_minute,
        ).start()
        for n in (1, 2)
    ]
    balancer = RoundRobin([bot.port for bot in bots])
    try:
        yield Replicas(balancer, bots, zone)
    finally:
        balancer.close()
        for bot in bots:
            bot.stop()


def working_zone(now: datetime) -> str | None:
    """A time zone in which it is a weekday between 10:00 and 16:00 now, so the owner is nagged;
    None if there is none (from Friday evening in UTC-11 to Monday morning in UTC+13)."""
    for hours in range(-11, 14):
        local = now + timedelta(hours=hours)
        if local.weekday() < 5 and 10 <= local.hour < 16:
            # Etc/GMT zones are named with the sign the other way round: Etc/GMT-3 is UTC+3.
            return f"Etc/GMT{-hours:+d}" if hours else "UTC"
    return None


def nag_summaries(postgres_url: str) -> list[dict[str, int]]:
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        rows = connection.execute("SELECT summary FROM job_runs WHERE job = 'nag'").fetchall()
    return [dict(row[0]) for row in rows if row[0] is not None]


def job_runs(postgres_url: str) -> dict[str, int]:
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        rows = connection.execute("SELECT job, count(*) FROM job_runs GROUP BY job").fetchall()
    return {str(job): int(count) for job, count in rows}


def test_two_replicas_store_post_and_schedule_everything_once(
    replicas: Replicas, fake_slack: FakeSlack, postgres_url: str
) -> None:
    balancer, bots = replicas.balancer, replicas.bots
    bodies = [
        urllib.parse.urlencode(
            envelopes.command_form(
                command="/cx-alarm",
                text=f"Refund missing for order {n}",
                user="U0RAISER",
                channel="C0GENERAL",
                response_url=fake_slack.response_url(f"replica-{n}"),
                trigger=f"replicas-{n}",
            )
        ).encode()
        for n in range(COMMANDS)
    ]
    # Each command twice at once, signed anew (as a resubmitted form is): the copies race on
    # both replicas, and the intake key files each once.
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def send(body: bytes, signed_ago: int) -> None:
        answer = post(balancer.url, body, signed_ago=signed_ago)
        with lock:
            answers.append(answer)

    senders = [threading.Thread(target=send, args=(body, ago)) for body in bodies for ago in (0, 1)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(30)
    assert [status for status, _ in answers] == [200] * (2 * COMMANDS)
    assert {replica for _, replica in answers} == {str(bot.port) for bot in bots}

    # The schedulers fire every minute; wait until a replica has met periods the other ran, and
    # until every card is out (one channel's, at one a second, takes about 20 s).
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        logs = [bot.log.read_text() for bot in bots]
        skipped = [log.count("already ran") + log.count("ran meanwhile elsewhere") for log in logs]
        runs = job_runs(postgres_url)
        cards_out = [
            c
            for c in fake_slack.calls_to("chat.postMessage")
            if c.fault is None and c.args["channel"] == "C0BILLING" and not c.args.get("thread_ts")
        ]
        jobs_met = runs.get("digest", 0) >= 1 and runs.get("nag", 0) >= 1 and sum(skipped) >= 2
        if jobs_met and len(cards_out) >= COMMANDS + 1:
            break
        time.sleep(1)
    else:
        raise AssertionError(f"the replicas' jobs didn't both fire: {job_runs(postgres_url)}")
    time.sleep(3)  # a late second delivery would show by now

    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        stored = connection.execute("SELECT count(*), count(DISTINCT intake_key) FROM items").fetchone()
        digests_run = connection.execute("SELECT count(*) FROM job_runs WHERE job = 'digest'").fetchone()
    assert stored == (COMMANDS + 1, COMMANDS + 1)  # the stale alarm, and each command once
    posted = [c for c in fake_slack.calls_to("chat.postMessage") if c.fault is None]
    cards = [c for c in posted if c.args["channel"] == "C0BILLING" and not c.args.get("thread_ts")]
    assert len(cards) == COMMANDS + 1
    confirmations = [c for c in fake_slack.calls_to("response_url") if c.fault is None]
    assert sorted(c.path for c in confirmations) == sorted(f"/response/replica-{n}" for n in range(COMMANDS))
    digests = [c for c in posted if c.args["channel"] == "C0DIGEST"]
    assert digests_run is not None and len(digests) == digests_run[0] >= 1
    nag_dms = [c for c in posted if c.args["channel"] == OWNER and "waiting on you" in c.args["text"]]
    if replicas.owner_zone is not None:
        assert len(nag_dms) == 1  # the stale alarm, nagged once whichever replica swept first
    else:  # a weekend: each sweep, run once, found the alarm and left it for working hours
        assert nag_dms == []
        assert nag_summaries(postgres_url)
        assert all(summary["waiting_for_working_hours"] == 1 for summary in nag_summaries(postgres_url))
    # 24 cards for one channel from two replicas: paced together at the channel's one a second.
    assert [c for c in fake_slack.calls if c.fault == "http_429"] == []
