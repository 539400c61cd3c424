"""The filing worker (bot/worker.py): `cxbot run` files and delivers in a second process.

On SQLite and PostgreSQL: what the web process submits is stored by the worker and each caller
hears its own number; a worker that dies is replaced, and what it was filing fails over to the
retry path without being lost or doubled; the worker dies with the bot; a button's outbox message
is delivered by the worker when the web process rings for it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from bot import worker
from bot.capture import file_submission, store_before_ack
from bot.clock import system_clock
from bot.deps import Deps
from bot.errors import FilingFailed, FilingUnavailable, InvalidSubmission
from bot.intake import ReplyTarget, Submission
from bot.runtime import import_routes_file, migrate
from bot.settings import Settings
from bot.wire import Channel
from bot.worker import FilingWorker, _serve, _verdict
from storage.db import make_engine, make_session_factory
from storage.models import Item, ItemKind, OutboxMessage
from tests.fake_slack import FakeSlack
from tests.process import REPO, BotProcess


def _submission(n: int) -> Submission:
    return Submission(
        kind=ItemKind.ALARM,
        text=f"refund problem {n}",
        raiser_id="U0RAISER",
        intake_key=f"command:worker-{n}",
        reply=ReplyTarget(response_url=None, channel_id="C0HERE"),
    )


def _count(database_url: str, model: type[Item] | type[OutboxMessage]) -> int:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        engine.dispose()


def _file_patiently(worker: FilingWorker, submission: Submission, *, within: float = 60) -> int:
    """What the capture listener does when the database or the worker is away: retry."""
    deadline = time.monotonic() + within
    while True:
        try:
            return worker.file(submission, timeout=within)
        except FilingUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _process_gone(pid: int, *, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return True  # a zombie: dead, waiting for its parent to reap it
        time.sleep(0.05)
    return False


@pytest.fixture
def prepared(settings: Settings) -> Settings:
    """The database migrated and the routes imported, as `cxbot run` does before the worker starts."""
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        assert settings.routes_file is not None
        import_routes_file(engine, settings.routes_file, clock=system_clock)
    finally:
        engine.dispose()
    return settings


def _file_at_once(worker: FilingWorker, submissions: list[Submission]) -> list[Future[int]]:
    """Each submission filed from a thread of its own, as request threads do."""
    with ThreadPoolExecutor(max_workers=len(submissions)) as threads:
        return [threads.submit(worker.file, submission, timeout=60) for submission in submissions]


def test_the_worker_files_what_the_web_process_submits(prepared: Settings, fake_slack: FakeSlack) -> None:
    worker = FilingWorker(prepared)
    worker.start()
    try:
        outcomes = _file_at_once(worker, [_submission(n) for n in range(30)])
        numbers = [outcome.result(timeout=60) for outcome in outcomes]
        assert len(set(numbers)) == 30
        # A resubmission (a retried ack) gets the same number and files nothing new.
        assert worker.file(_submission(7), timeout=30) == numbers[7]
        assert _count(prepared.database_url, Item) == 30
        # The worker's outbox delivers each item's card to its owner's channel.
        fake_slack.wait_for("chat.postMessage", count=30, timeout=60)
    finally:
        worker.stop()
    assert worker.pid is not None and _process_gone(worker.pid, within=5)


def test_stopping_lets_the_worker_store_what_it_was_given_first(prepared: Settings) -> None:
    worker = FilingWorker(prepared)
    worker.start()
    with ThreadPoolExecutor(max_workers=40) as threads:
        outcomes = [threads.submit(worker.file, _submission(n), timeout=60) for n in range(40)]
        deadline = time.monotonic() + 30
        # Every filing is under way (sent down its lane) or already answered...
        while worker.filings_under_way + sum(outcome.done() for outcome in outcomes) < 40:
            assert time.monotonic() < deadline
            time.sleep(0.001)
        worker.stop()  # ...and the stop waits for the answers before the worker goes
        numbers = {outcome.result(timeout=0) for outcome in outcomes}
    assert len(numbers) == 40
    assert _count(prepared.database_url, Item) == 40


def test_invalid_text_is_refused_without_a_trip_to_the_worker(prepared: Settings) -> None:
    worker = FilingWorker(prepared)  # never started: nothing may reach it
    with pytest.raises(InvalidSubmission):
        worker.file(Submission(kind=ItemKind.ALARM, text="   ", raiser_id="U0RAISER"), timeout=1)


@contextlib.contextmanager
def _items_locked(database_url: str) -> Iterator[None]:
    """Hold the items table so that the worker's next batch waits."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("LOCK TABLE items IN EXCLUSIVE MODE")
            else:
                connection.exec_driver_sql("SELECT 1")  # its BEGIN IMMEDIATE takes the write lock
            try:
                yield
            finally:
                connection.rollback()
    finally:
        engine.dispose()


def _number_of(database_url: str, intake_key: str) -> int | None:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            return session.scalar(select(Item.id).where(Item.intake_key == intake_key))
    finally:
        engine.dispose()


def test_stopping_stores_what_waits_on_the_lanes_even_when_nobody_waits_for_the_answer(
    prepared: Settings,
) -> None:
    worker = FilingWorker(prepared, lanes=1)
    worker.start()
    worker.file(_submission(0), timeout=60)
    with _items_locked(prepared.database_url):
        for n in (1, 2, 3):  # the first is in the worker's batch, the others queue on the lane
            with pytest.raises(TimeoutError):
                worker.file(_submission(n), timeout=0.3)
        stopping = threading.Thread(target=worker.stop)
        stopping.start()
        time.sleep(0.2)  # "stop" is on its way, and nobody is waiting for an answer
    stopping.join(60)
    assert not stopping.is_alive()
    assert _count(prepared.database_url, Item) == 4


def test_a_worker_killed_mid_filing_fails_over_whoever_waits_on_it(prepared: Settings) -> None:
    worker = FilingWorker(prepared, lanes=1)
    worker.start()
    try:
        worker.file(_submission(0), timeout=60)
        with _items_locked(prepared.database_url), ThreadPoolExecutor(max_workers=2) as threads:
            answering = threads.submit(worker.file, _submission(1), timeout=60)  # holds the lane
            while worker.filings_under_way < 1:
                time.sleep(0.01)
            waiting = threads.submit(worker.file, _submission(2), timeout=60)  # waits for the lane
            while worker.filings_under_way < 2:
                time.sleep(0.01)
            time.sleep(0.1)
            assert worker.pid is not None
            os.kill(worker.pid, signal.SIGKILL)
            # Both hear at once that the worker is gone, not when their minute is up.
            for outcome in (answering, waiting):
                assert isinstance(outcome.exception(timeout=10), FilingUnavailable)
        numbers = [_file_patiently(worker, _submission(n)) for n in (1, 2)]
        assert len(set(numbers)) == 2
    finally:
        worker.stop()


def test_a_late_answer_is_not_taken_for_the_next_filing_on_its_lane(prepared: Settings) -> None:
    worker = FilingWorker(prepared, lanes=1)  # every filing takes the same lane
    worker.start()
    try:
        worker.file(_submission(0), timeout=60)  # the worker is up and has its connection
        with _items_locked(prepared.database_url), pytest.raises(TimeoutError):
            worker.file(_submission(1), timeout=0.5)  # answered only after we stopped waiting
        second = worker.file(_submission(2), timeout=60)  # the late answer arrives first on the lane
        assert second == _number_of(prepared.database_url, "command:worker-2")
        assert worker.file(_submission(1), timeout=60) == _number_of(
            prepared.database_url, "command:worker-1"
        )
        assert _count(prepared.database_url, Item) == 3
    finally:
        worker.stop()


def test_a_worker_that_dies_is_replaced_and_nothing_is_lost_or_doubled(prepared: Settings) -> None:
    worker = FilingWorker(prepared)
    worker.start()
    try:
        first = worker.file(_submission(1), timeout=60)
        old_pid = worker.pid
        assert old_pid is not None
        os.kill(old_pid, signal.SIGKILL)
        # Whatever is submitted while it is down fails over to the retry path, then lands once.
        numbers = [_file_patiently(worker, _submission(n)) for n in range(2, 6)]
        assert worker.pid != old_pid
        assert len(set(numbers)) == 4 and first not in numbers
        assert _file_patiently(worker, _submission(3)) == numbers[1]
        assert _count(prepared.database_url, Item) == 5
    finally:
        worker.stop()


def test_submitting_to_a_stopped_worker_fails_at_once_and_is_not_retried(prepared: Settings) -> None:
    worker = FilingWorker(prepared)
    worker.start()
    worker.stop()
    with pytest.raises(FilingFailed):
        worker.file(_submission(1), timeout=10)
    deps = cast(Deps, SimpleNamespace(filer=worker))
    assert not store_before_ack(deps, _submission(2), ack_within=1)
    with pytest.raises(FilingFailed):
        file_submission(deps, _submission(2), patience=60)  # at once: retrying won't help


class _Flaky:
    """A filer that fails the first attempts the way a restarting worker or database does."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.attempts = 0

    def file(self, submission: Submission, *, timeout: float | None = None) -> int:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        return 42


def test_filing_is_retried_while_the_worker_or_database_is_away() -> None:
    flaky = _Flaky(FilingUnavailable("the filing worker stopped"), TimeoutError())
    deps = cast(Deps, SimpleNamespace(filer=flaky))
    assert file_submission(deps, _submission(1), patience=30) == 42
    assert flaky.attempts == 3


def test_the_worker_words_every_outcome_as_a_reply() -> None:
    def settled(value: int | BaseException) -> Future[int]:
        outcome: Future[int] = Future()
        if isinstance(value, BaseException):
            outcome.set_exception(value)
        else:
            outcome.set_result(value)
        return outcome

    down = OperationalError("INSERT", {}, Exception(""))  # a driver error with no message at all
    assert _verdict(settled(7)) == ("filed", 7)
    assert _verdict(settled(down)) == ("unavailable", "OperationalError")
    refused = IntegrityError("INSERT", {}, Exception("duplicate key\nDETAIL: ..."))
    assert _verdict(settled(refused)) == ("failed", "IntegrityError: duplicate key")
    assert _verdict(settled(ValueError("odd"))) == ("failed", "ValueError: odd")


def _worker_pids(bot: BotProcess) -> list[int]:
    assert bot.process is not None
    # Each thread lists the children it started: a replacement worker is started by another thread.
    tasks = Path(f"/proc/{bot.process.pid}/task").glob("*/children")
    children = [child for task in tasks for child in task.read_text().split()]
    return [int(child) for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc to find the worker")
def test_the_worker_dies_with_the_bot(fake_slack: FakeSlack, routes_file: Path, tmp_path: Path) -> None:
    bot = BotProcess(
        fake=fake_slack,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        routes_file=routes_file,
        log=tmp_path / "bot.log",
    ).start()
    workers = _worker_pids(bot)
    assert len(workers) == 1
    bot.kill()
    assert _process_gone(workers[0], within=5), "the worker outlived the bot it files for"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux's /proc to find the worker")
def test_a_command_while_the_worker_restarts_is_answered_and_filed_once(
    fake_slack: FakeSlack, routes_file: Path, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'bot.db'}"
    bot = BotProcess(
        fake=fake_slack, database_url=database_url, routes_file=routes_file, log=tmp_path / "bot.log"
    ).start()
    try:
        os.kill(_worker_pids(bot)[0], signal.SIGKILL)
        assert bot.command("refund problem", response_url=fake_slack.response_url("w1"), trigger="w1") == 200
        assert bot.command("invoice problem", response_url=fake_slack.response_url("w2"), trigger="w2") == 200
        fake_slack.wait_for("response_url", count=2, timeout=60)
        fake_slack.wait_for("chat.postMessage", count=2, timeout=60)
        assert _count(database_url, Item) == 2
        assert len(_worker_pids(bot)) == 1
    finally:
        bot.stop()
    assert "the filing worker stopped" in (tmp_path / "bot.log").read_text()


def test_a_bot_that_exits_without_stopping_its_worker_still_exits(tmp_path: Path) -> None:
    """E.g. interrupted while starting up: the worker is killed on the way out, not waited for."""
    database_url = f"sqlite:///{tmp_path / 'x.db'}"
    script = (
        "import sys, time\n"
        "from bot.settings import Settings\n"
        "from bot.worker import FilingWorker\n"
        f"worker = FilingWorker(Settings(database_url={database_url!r}))\n"
        "worker.start()\n"
        "print(worker.pid, flush=True)\n"
        "time.sleep(3)\n"  # the worker is up, and ignores SIGTERM as it should
        "sys.exit(3)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3, done.stderr
    assert _process_gone(int(done.stdout.split()[0]), within=5)


class _RecordingFiler:
    """Stands in for the worker's filer: files each submission as the next number."""

    def __init__(self) -> None:
        self.warmed = threading.Event()
        self.batches: list[list[str]] = []

    def keep_warm(self, *, within: float) -> None:
        assert within > 0
        self.warmed.set()

    def file_together(self, submissions: list[Submission]) -> list[Future[int]]:
        self.batches.append([submission.text for submission in submissions])
        outcomes = []
        for number, _submission in enumerate(submissions, start=1):
            outcome: Future[int] = Future()
            outcome.set_result(number)
            outcomes.append(outcome)
        return outcomes


def _serving(filer: _RecordingFiler, control: socket.socket, lanes: list[socket.socket]) -> threading.Thread:
    """The worker's loop on a thread of its own, reading `control` and `lanes` (not started)."""
    return threading.Thread(
        target=_serve, args=(control, lanes), kwargs={"filer": filer, "wake": lambda: None}, daemon=True
    )


def test_the_worker_loop_files_what_arrives_and_keeps_warm_in_between(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker, "IDLE_TICK_SECONDS", 0.01)
    filer = _RecordingFiler()
    control, their_control = socket.socketpair()
    lanes = [socket.socketpair() for _ in range(2)]
    loop = _serving(filer, their_control, [theirs for _, theirs in lanes])
    loop.start()
    try:
        assert filer.warmed.wait(5)  # nothing arrived: it readied the filer meanwhile
        first, second = (Channel(ours) for ours, _ in lanes)
        first.send(("file", 41, _submission(1)))
        assert first.receive(timeout=5) == (41, "filed", 1)
        first.send(("file", 42, _submission(2)))
        second.send(("file", 7, _submission(3)))
        answers = {first.receive(timeout=5)[0], second.receive(timeout=5)[0]}
        assert answers == {42, 7}
        Channel(control).send(("stop",))
        loop.join(5)
        assert not loop.is_alive()
    finally:
        control.close()
        their_control.close()
        for ours, theirs in lanes:
            ours.close()
            theirs.close()
    assert sorted(text for batch in filer.batches for text in batch) == [
        "refund problem 1",
        "refund problem 2",
        "refund problem 3",
    ]


def test_the_worker_loop_files_what_arrived_even_when_the_web_process_is_gone() -> None:
    """An ask read in the same pass as the end of the control socket is still an item raised."""
    filer = _RecordingFiler()
    control, their_control = socket.socketpair()
    lane, their_lane = socket.socketpair()
    Channel(lane).send(("file", 1, _submission(9)))
    control.close()
    loop = _serving(filer, their_control, [their_lane])
    try:
        loop.start()
        loop.join(5)
        assert not loop.is_alive()
    finally:
        for sock in (their_control, lane, their_lane):
            sock.close()
    assert filer.batches == [["refund problem 9"]]


def test_on_stop_the_worker_waits_a_moment_for_the_rest_of_a_half_arrived_ask() -> None:
    filer = _RecordingFiler()
    control, their_control = socket.socketpair()
    lane, their_lane = socket.socketpair()
    data = pickle.dumps(("file", 5, _submission(5)), protocol=pickle.HIGHEST_PROTOCOL)
    framed = struct.pack("!I", len(data)) + data
    loop = _serving(filer, their_control, [their_lane])
    try:
        loop.start()
        lane.sendall(framed[:10])
        time.sleep(0.05)  # the worker has read the first part
        Channel(control).send(("stop",))
        time.sleep(0.05)
        lane.sendall(framed[10:])
        assert Channel(lane).receive(timeout=5) == (5, "filed", 1)
        loop.join(5)
        assert not loop.is_alive()
    finally:
        for sock in (control, their_control, lane, their_lane):
            sock.close()
    assert filer.batches == [["refund problem 5"]]
