"""Faults against the real bot process and the fake Slack: Slack failing for two minutes, the bot
killed with SIGKILL mid-delivery, PostgreSQL restarted while requests arrive. In every case no
item is lost, no message is posted twice, and everything pending is delivered after recovery."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.db import make_engine, make_session_factory
from storage.models import Item, OutboxMessage, OutboxStatus
from tests.fake_slack import FakeSlack
from tests.process import BotProcess, free_port

FAST_RECOVERY = {
    "CX_OUTBOX_MAX_BACKOFF_SECONDS": "3",
    "CX_SLACK_TIMEOUT_SECONDS": "1",
    "CX_OUTBOX_LEASE_SECONDS": "5",
    "LOG_LEVEL": "WARNING",
}
# Slack fails in each way in turn (500, 503, 429, timeouts) for this long: two minutes in all.
SECONDS_PER_FAULT = 30


def posts_per_outbox_message(fake: FakeSlack) -> Counter[tuple[str, int]]:
    """How many times Slack accepted each outbox message (by its metadata) in each channel."""
    counted: Counter[tuple[str, int]] = Counter()
    for call in fake.calls_to("chat.postMessage"):
        if call.fault is None:
            outbox_id = (call.args.get("metadata") or {}).get("event_payload", {}).get("outbox_id")
            counted[(str(call.args["channel"]), int(outbox_id))] += 1
    return counted


def database_counts(database_url: str) -> tuple[int, dict[str, int]]:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            items = int(session.scalar(select(func.count()).select_from(Item)) or 0)
            rows = session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            ).all()
            return items, {str(status): int(count) for status, count in rows}
    finally:
        engine.dispose()


def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting {timeout} s for {what}")


def assert_all_delivered_once(fake: FakeSlack, database_url: str, filed: int) -> None:
    wait_until(lambda: len(fake.calls_to("response_url")) >= filed, 90, f"{filed} confirmations")
    wait_until(
        lambda: database_counts(database_url)[1].get("sent", 0) == 2 * filed, 30, "the outbox to empty"
    )
    items, outbox = database_counts(database_url)
    assert items == filed, "an item was lost"
    assert outbox == {OutboxStatus.SENT.value: 2 * filed}
    posted = posts_per_outbox_message(fake)
    assert len(posted) == filed  # one card per item (the confirmations went by response_url)
    assert set(posted.values()) == {1}, f"posted twice: {[key for key, n in posted.items() if n > 1]}"
    assert len(fake.calls_to("response_url")) == filed


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'faults.db'}"


def test_slack_failing_for_minutes_loses_and_repeats_nothing(
    fake_slack: FakeSlack, sqlite_url: str, routes_file: Path, tmp_path: Path
) -> None:
    bot = BotProcess(
        fake=fake_slack,
        database_url=sqlite_url,
        routes_file=routes_file,
        log=tmp_path / "bot.log",
        **FAST_RECOVERY,
    ).start()
    try:
        filed = 0
        for mode in ("500", "503", "429", "timeout"):
            fake_slack.outage(mode, seconds=SECONDS_PER_FAULT, retry_after=4, delay=2.0)
            started = time.monotonic()
            while time.monotonic() - started < SECONDS_PER_FAULT - 1:
                assert (
                    bot.command(
                        f"refund problem {filed}",
                        response_url=fake_slack.response_url(f"c{filed}"),
                        trigger=f"t{filed}",
                    )
                    == 200
                )
                filed += 1
                time.sleep(3)
            _items, outbox = database_counts(sqlite_url)
            held_back = outbox.get(OutboxStatus.PENDING.value, 0) + outbox.get(OutboxStatus.SENDING.value, 0)
            assert held_back > 0, f"nothing was held back during the {mode} fault"
            time.sleep(max(0.0, SECONDS_PER_FAULT + 0.5 - (time.monotonic() - started)))
        faulted = {call.fault for call in fake_slack.calls if call.fault}
        assert faulted >= {"http_500", "http_503", "http_429"}
        assert_all_delivered_once(fake_slack, sqlite_url, filed)
        assert fake_slack.calls_to("conversations.history"), "timeouts should be checked before reposting"
    finally:
        bot.stop()


def test_sigkill_mid_delivery_then_restart(
    fake_slack: FakeSlack, sqlite_url: str, routes_file: Path, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    bot = BotProcess(
        fake=fake_slack, database_url=sqlite_url, routes_file=routes_file, log=log, **FAST_RECOVERY
    )
    bot.start()
    fake_slack.fail_next("chat.postMessage", status=200, delay=30)  # Slack posts it, then hangs
    assert bot.command("refund problem", response_url=fake_slack.response_url("c0"), trigger="t0") == 200
    fake_slack.wait_for("chat.postMessage", timeout=20)
    bot.kill()  # mid-delivery: Slack has the card, the outbox doesn't know
    assert database_counts(sqlite_url) == (1, {"sending": 1, "pending": 1})
    restarted = BotProcess(
        fake=fake_slack, database_url=sqlite_url, routes_file=routes_file, log=log, **FAST_RECOVERY
    )
    restarted.start()
    try:
        for n in range(1, 4):
            restarted.command(
                f"invoice problem {n}", response_url=fake_slack.response_url(f"c{n}"), trigger=f"t{n}"
            )
        assert_all_delivered_once(fake_slack, sqlite_url, 4)
        assert fake_slack.calls_to("conversations.history")
    finally:
        restarted.stop()


@pytest.fixture
def throwaway_postgres() -> Iterator[tuple[str, Path]]:
    """A PostgreSQL cluster of the test's own (not the shared server), to restart at will."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    runuser = shutil.which("runuser")
    if not bins or runuser is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) or runuser on this machine")
    pg_bin = bins[-1]
    data = Path(tempfile.mkdtemp(prefix="cxbot-pg-", dir="/tmp"))
    data.chmod(0o755)
    shutil.chown(data, "postgres", "postgres")
    port = free_port()

    def as_postgres(*argv: str) -> None:
        subprocess.run([runuser, "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=120)

    as_postgres(str(pg_bin / "initdb"), "-D", str(data / "db"), "-U", "postgres", "--auth=trust")
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [str(pg_bin / "pg_ctl"), "-D", str(data / "db"), "-o", options, "-l", str(data / "log"), "-w"]
    as_postgres(*ctl, "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", data
    finally:
        subprocess.run(
            [runuser, "-u", "postgres", "--", *ctl, "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(data, ignore_errors=True)


def test_postgres_restart_while_requests_arrive(
    fake_slack: FakeSlack, throwaway_postgres: tuple[str, Path], routes_file: Path, tmp_path: Path
) -> None:
    database_url, data = throwaway_postgres
    pg_ctl = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1] / "pg_ctl"
    bot = BotProcess(
        fake=fake_slack,
        database_url=database_url,
        routes_file=routes_file,
        log=tmp_path / "bot.log",
        **FAST_RECOVERY,
    ).start()
    try:
        filed = 0
        for n in range(24):
            if n == 8:
                restart = subprocess.Popen(
                    [
                        "runuser",
                        "-u",
                        "postgres",
                        "--",
                        str(pg_ctl),
                        "-D",
                        str(data / "db"),
                        "-m",
                        "fast",
                        "-w",
                        "-o",
                        f"-p {database_url.rsplit(':', 1)[1].split('/')[0]} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off",
                        "-l",
                        str(data / "log"),
                        "restart",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            assert (
                bot.command(
                    f"refund problem {n}", response_url=fake_slack.response_url(f"c{n}"), trigger=f"t{n}"
                )
                == 200
            )
            filed += 1
            time.sleep(0.25)
        assert restart.wait(timeout=60) == 0
        assert_all_delivered_once(fake_slack, database_url, filed)
    finally:
        bot.stop()
