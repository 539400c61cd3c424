"""Faults against the real bot process and the fake Slack: Slack failing for two minutes, the bot
killed with SIGKILL mid-delivery, PostgreSQL restarted while requests arrive. In every case no
item is lost, no message is posted twice, and everything pending is delivered after recovery.

The Slack outage and the SIGKILL test run on SQLite and on PostgreSQL (a fresh schema on the
shared server); the restart test runs on a PostgreSQL cluster of its own, made with initdb."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.outbox.kinds import OutboxKind
from bot.sandbox.fake_slack import Call, FakeSlack, Hold
from storage.db import make_engine, make_session_factory
from storage.models import Item, OutboxMessage, OutboxStatus
from tests.conftest import REQUIRE_POSTGRES
from tests.process import BotProcess, free_port

MAX_BACKOFF_SECONDS = 3
FAST_RECOVERY = {
    "CX_OUTBOX_MAX_BACKOFF_SECONDS": str(MAX_BACKOFF_SECONDS),
    "CX_SLACK_TIMEOUT_SECONDS": "1",
    "CX_OUTBOX_LEASE_SECONDS": "5",
    "LOG_LEVEL": "WARNING",
}
# For a call the test holds in flight (while it kills the bot or stops its database): the bot must
# not give up on it first.
PATIENT_WITH_SLACK = {**FAST_RECOVERY, "CX_SLACK_TIMEOUT_SECONDS": "60"}
# After everything is delivered, nothing more may be posted for this long: longer than the
# longest retry backoff (the cap, stretched by up to 20 % jitter) and the lease.
LATE_REPEAT_SECONDS = 6.0
# Slack fails in each way in turn (500, 503, 429, timeouts). In each, the Web API fails for this
# long while commands are filed; then it comes back while response URLs still fail the same way,
# until a confirmation has met that failure. About two minutes in all.
FAULT_MODES = {"500": "http_500", "503": "http_503", "429": "http_429", "timeout": "timeout"}
WEB_API_DOWN_SECONDS = 27
FILE_EVERY_SECONDS = 3.0
# What the bot answers a command when it can't store the item before Slack's 3 s are up.
SAVING_SLOWLY = "taking longer than usual"
POSTGRES_ROOT = Path("/usr/lib/postgresql")


# Reading what happened ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    item_id: int | None
    status: str
    payload: dict[str, Any]
    result: dict[str, Any] | None


def read_database(database_url: str) -> tuple[dict[int, str], list[OutboxRow]]:
    """Every item (id: text) and every outbox message."""
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            items = {int(row.id): str(row.text) for row in session.execute(select(Item.id, Item.text))}
            outbox = [
                OutboxRow(m.id, m.kind, m.item_id, str(m.status), dict(m.payload), m.result)
                for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            ]
            return items, outbox
    finally:
        engine.dispose()


def outbox_counts(database_url: str) -> Counter[str]:
    return Counter(row.status for row in read_database(database_url)[1])


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting {timeout} s for {what}")


def response_url_name(url: str) -> str:
    """c7 from http://127.0.0.1:port/response/c7."""
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[1])


def outbox_id_of(args: dict[str, Any]) -> int | None:
    outbox_id = ((args.get("metadata") or {}).get("event_payload") or {}).get("outbox_id")
    return int(outbox_id) if outbox_id is not None else None


def posting_calls(fake: FakeSlack) -> int:
    """Every attempt to post, accepted or faulted."""
    return len(fake.calls_to("chat.postMessage")) + len(fake.calls_to("response_url"))


def assert_all_delivered_once(
    fake: FakeSlack, database_url: str, sent: dict[str, str], *, timeout: float = 180
) -> Counter[str]:
    """Wait for the outbox to empty, then check: each command sent (response_url name: text) is
    one item; each card was accepted by Slack exactly once; each confirmation reached its raiser
    exactly once, by response_url or (after an uncertain outcome there) by DM; and nothing more
    is posted afterwards. Returns how many confirmations went each way."""
    expected = 2 * len(sent)  # a card and a confirmation for each item

    def delivered() -> bool:
        counts = outbox_counts(database_url)
        assert not counts.get(OutboxStatus.FAILED.value), f"an outbox message failed: {counts}"
        return counts == Counter({OutboxStatus.SENT.value: expected})

    wait_until(delivered, timeout, f"the outbox to deliver {expected} messages")
    items, outbox = read_database(database_url)
    assert sorted(items.values()) == sorted(sent.values()), "an item was lost, or stored twice"

    posts: Counter[int] = Counter()
    post_channels: dict[int, set[str]] = {}
    for call in fake.calls_to("chat.postMessage"):
        if call.fault is None:
            outbox_id = outbox_id_of(call.args)
            assert outbox_id is not None, f"a post without its outbox id: {call.args.get('text')!r}"
            posts[outbox_id] += 1
            post_channels.setdefault(outbox_id, set()).add(str(call.args["channel"]))
    answered = Counter(
        response_url_name(call.path) for call in fake.calls_to("response_url") if call.fault is None
    )
    assert set(answered) <= set(sent), f"confirmations to unknown response URLs: {answered}"
    assert set(posts) <= {row.id for row in outbox}, "a post for no outbox message"

    kinds = Counter(row.kind for row in outbox)
    assert kinds == Counter(
        {OutboxKind.POST_CARD.value: len(sent), OutboxKind.CONFIRM_RAISER.value: len(sent)}
    )
    via: Counter[str] = Counter()
    for row in outbox:
        assert row.item_id in items
        if row.kind == OutboxKind.POST_CARD:
            assert posts[row.id] == 1, f"card of item #{row.item_id} posted {posts[row.id]} times"
            continue
        name = response_url_name(str(row.payload["response_url"]))
        assert items[row.item_id] == sent[name], f"{name}'s confirmation is about another item"
        by_url, by_dm = answered[name], posts[row.id]
        assert (by_url, by_dm) in {(1, 0), (0, 1)}, (
            f"{name} was confirmed {by_url} time(s) by response_url and {by_dm} time(s) by DM"
        )
        way = "response_url" if by_url else "dm"
        assert row.result is not None and row.result.get("via") == way, (name, row.result)
        if by_dm:
            assert all(channel.startswith("D") for channel in post_channels[row.id]), post_channels[row.id]
        via[way] += 1

    # A late repeat (a retry or a reclaimed lease firing after all) would show up now.
    before = posting_calls(fake)
    time.sleep(LATE_REPEAT_SECONDS)
    assert posting_calls(fake) == before, "something was posted again after everything was delivered"
    assert outbox_counts(database_url) == Counter({OutboxStatus.SENT.value: expected})
    return via


def start_bot(
    fake: FakeSlack, database_url: str, routes_file: Path, tmp_path: Path, env: dict[str, str]
) -> BotProcess:
    """`cxbot run --http` against the fake Slack, logging to the test's bot.log."""
    return BotProcess(
        fake=fake, database_url=database_url, routes_file=routes_file, log=tmp_path / "bot.log", **env
    ).start()


class Commands:
    """Files /cx-alarm commands with response URLs c0, c1, … and remembers what was sent."""

    def __init__(self, fake: FakeSlack, prefix: str) -> None:
        self.fake = fake
        self.prefix = prefix
        self.sent: dict[str, str] = {}

    def file(self, bot: BotProcess) -> str:
        """File the next one; returns the body of the bot's answer (HTTP 200 asserted)."""
        n = len(self.sent)
        name, text = f"c{n}", f"{self.prefix} {n}"
        status, body = bot.command_answer(text, response_url=self.fake.response_url(name), trigger=f"t{n}")
        assert status == 200, (status, body)
        self.sent[name] = text
        return body


# Slack failing for minutes ----------------------------------------------------------------------------


def test_slack_failing_for_minutes_loses_and_repeats_nothing(
    fake_slack: FakeSlack, database_url: str, routes_file: Path, tmp_path: Path
) -> None:
    bot = start_bot(fake_slack, database_url, routes_file, tmp_path, FAST_RECOVERY)
    commands = Commands(fake_slack, "refund problem")
    try:
        for mode, fault in FAULT_MODES.items():
            # Both the Web API and response URLs fail, until the test says otherwise (at most 3 min).
            fake_slack.outage(mode, seconds=180, retry_after=4, delay=2.0, response_urls=True)
            back_at = time.monotonic() + WEB_API_DOWN_SECONDS
            while time.monotonic() + FILE_EVERY_SECONDS < back_at:
                commands.file(bot)
                time.sleep(FILE_EVERY_SECONDS)
            time.sleep(max(0.0, back_at - time.monotonic()))
            held_back = outbox_counts(database_url)
            unfinished = held_back[OutboxStatus.PENDING.value] + held_back[OutboxStatus.SENDING.value]
            assert unfinished > 0, f"nothing was held back during the {mode} fault"
            # The Web API comes back, so cards go out and confirmations are tried: response URLs
            # still fail the same way.
            fake_slack.end_outage(response_urls=False)
            wait_until(
                lambda fault=fault: any(call.fault == fault for call in fake_slack.calls_to("response_url")),
                60,
                f"a confirmation to meet the {mode} fault on its response URL",
            )
        fake_slack.end_outage()
        faulted = {call.fault for call in fake_slack.calls if call.method != "response_url" and call.fault}
        assert faulted >= {"http_500", "http_503", "http_429"}
        via = assert_all_delivered_once(fake_slack, database_url, commands.sent)
        # After a 5xx or a timeout from its response URL, a confirmation's outcome is uncertain and
        # it goes by DM (which can be looked up before posting again); the rest by response URL.
        assert via["dm"] > 0 and via["response_url"] > 0, via
        assert fake_slack.calls_to("conversations.history"), "timeouts should be checked before reposting"
    finally:
        bot.stop()


# SIGKILL mid-delivery -----------------------------------------------------------------------------------

KILLS = 3


def test_sigkill_mid_delivery_then_restart(
    fake_slack: FakeSlack, database_url: str, routes_file: Path, tmp_path: Path
) -> None:
    def launch() -> BotProcess:
        return start_bot(fake_slack, database_url, routes_file, tmp_path, PATIENT_WITH_SLACK)

    commands = Commands(fake_slack, "invoice problem")
    holds: list[Hold] = []
    bot = launch()
    try:
        for _cycle in range(KILLS):
            for _ in range(3):
                commands.file(bot)
            # The next post (a card, or a confirmation by DM) is made in Slack and never answered.
            holds.append(fake_slack.hold_next("chat.postMessage"))
            commands.file(bot)
            held = holds[-1].wait_reached(timeout=30)
            for _ in range(2):
                commands.file(bot)  # queued behind the post in flight
            bot.kill()  # mid-delivery: Slack has the post, the outbox doesn't know
            _items, outbox = read_database(database_url)
            in_flight = next(row for row in outbox if row.id == outbox_id_of(held.args))
            assert in_flight.status == OutboxStatus.SENDING.value
            assert Counter(row.status for row in outbox)[OutboxStatus.PENDING.value] >= 4
            bot = launch()
        for _ in range(3):
            commands.file(bot)
        assert_all_delivered_once(fake_slack, database_url, commands.sent)
        assert fake_slack.calls_to("conversations.history"), "posts in flight should be looked up"
    finally:
        for hold in holds:
            hold.release()
        bot.stop()


# PostgreSQL restarted while requests arrive ---------------------------------------------------------


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server's bin directory (Debian's layout, then PATH), or None."""
    found: list[tuple[tuple[int, ...], Path]] = []
    for bin_dir in POSTGRES_ROOT.glob("*/bin"):
        try:
            version = tuple(int(part) for part in bin_dir.parent.name.split("."))
        except ValueError:
            continue
        if (bin_dir / "initdb").is_file() and (bin_dir / "pg_ctl").is_file():
            found.append((version, bin_dir))
    if found:
        return max(found)[1]
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is not None and (Path(pg_ctl).parent / "initdb").is_file():
        return Path(pg_ctl).parent
    return None


@dataclass
class ThrowawayPostgres:
    """A PostgreSQL cluster of the test's own (not the shared server), to stop and start at will."""

    bin: Path
    home: Path
    port: int
    as_owner: list[str]  # runs a command as the cluster's owner (postgres, when we are root)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.home / "db"

    def run(self, *argv: str) -> None:
        done = subprocess.run([*self.as_owner, *argv], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            log = self.home / "log"
            raise AssertionError(
                f"{argv[0]} {argv[-1]} failed ({done.returncode}): {done.stderr}\n"
                + (log.read_text()[-2000:] if log.exists() else "")
            )

    def ctl(self, *argv: str) -> None:
        options = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg_ctl = str(self.bin / "pg_ctl")
        self.run(pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.home / "log"), "-w", *argv)

    def init(self) -> None:
        self.run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")

    def start(self) -> None:
        self.ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self.ctl("-m", mode, "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def postmaster_pid(self) -> int | None:
        """The running server's process id, from postmaster.pid; None while it is stopped."""
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except FileNotFoundError:
            return None


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A cluster of the test's own, started; removed afterwards. Without the server binaries (or,
    as root, runuser) it skips, saying why, unless CXBOT_REQUIRE_POSTGRES=1 (as in CI): then it
    fails."""
    pg_bin = postgres_bin()
    runuser = shutil.which("runuser")
    missing = None
    if pg_bin is None:
        missing = f"no PostgreSQL server binaries (initdb, pg_ctl) under {POSTGRES_ROOT} or on PATH"
    elif os.geteuid() == 0 and runuser is None:
        missing = "no runuser, to run PostgreSQL's initdb and pg_ctl as postgres rather than root"
    if missing is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"CXBOT_REQUIRE_POSTGRES=1 but {missing}")
        pytest.skip(missing)
    assert pg_bin is not None
    home = Path(tempfile.mkdtemp(prefix="cxbot-pg-", dir="/tmp"))
    as_owner: list[str] = []
    if os.geteuid() == 0:
        assert runuser is not None
        home.chmod(0o755)
        shutil.chown(home, "postgres", "postgres")
        as_owner = [runuser, "-u", "postgres", "--"]
    cluster = ThrowawayPostgres(bin=pg_bin, home=home, port=free_port(), as_owner=as_owner)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.postmaster_pid() is not None:
            subprocess.run(
                [*as_owner, str(pg_bin / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.postgres
def test_postgres_restart_while_requests_arrive(
    fake_slack: FakeSlack, throwaway_postgres: ThrowawayPostgres, routes_file: Path, tmp_path: Path
) -> None:
    """Stopped twice, each time just after Slack accepted a post and before the bot could record
    it: first a card (which the bot can look up in Slack), then a confirmation by response_url
    (which it can't). Commands keep arriving while it is down, and after."""
    postgres = throwaway_postgres
    bot = start_bot(fake_slack, postgres.url, routes_file, tmp_path, PATIENT_WITH_SLACK)
    commands = Commands(fake_slack, "refund problem")
    holds: list[Hold] = []
    held_posts: list[Call] = []
    try:
        for _ in range(3):
            commands.file(bot)
        for held_method in ("chat.postMessage", "response_url"):
            wait_until(
                lambda: (
                    outbox_counts(postgres.url) == Counter({OutboxStatus.SENT.value: 2 * len(commands.sent)})
                ),
                60,
                "the outbox to be idle",
            )
            # Slack does the next post, and answers it only once the database has gone.
            holds.append(fake_slack.hold_next(held_method))
            commands.file(bot)
            held_posts.append(holds[-1].wait_reached(timeout=30))
            first_postmaster = postgres.postmaster_pid()
            assert first_postmaster is not None
            postgres.stop()
            assert postgres.postmaster_pid() is None
            holds[-1].release()

            # While it is down, commands are still answered at once, saying saving is slow.
            for _ in range(3):
                body = commands.file(bot)
                assert SAVING_SLOWLY in body, (
                    f"expected the slow-save answer while PostgreSQL is down: {body!r}"
                )
            postgres.start()
            second_postmaster = postgres.postmaster_pid()
            assert second_postmaster is not None and second_postmaster != first_postmaster

            for _ in range(3):
                commands.file(bot)
        via = assert_all_delivered_once(fake_slack, postgres.url, commands.sent)
        assert via["response_url"] > 0, via
        # The card posted as the database went away was looked up in its channel, not posted again.
        card_channel = held_posts[0].args["channel"]
        assert any(
            call.args.get("channel") == card_channel for call in fake_slack.calls_to("conversations.history")
        )
    finally:
        for hold in holds:
            hold.release()
        bot.stop()
