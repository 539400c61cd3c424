"""Answering Slack the moment a listener acks (bot/ack_relay.py), not at Bolt's next 10 ms poll.

Bolt's request thread sleeps 10 ms at a time until the listener has acked. With the relay it
never needs to: by the time Bolt looks, ack() has been called. The tests count Bolt's sleeps.
"""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from slack_bolt import Ack
from slack_bolt.listener import thread_runner

from bot.ack_relay import AckWaitingExecutor, InRequestThread, RingingAck, ring_on_ack
from tests.fake_slack import FakeSlack
from tests.support import BotUnderTest


class _CountingTime(types.SimpleNamespace):
    """Stands in for the `time` module inside Bolt's listener runner, counting its sleeps."""

    def __init__(self) -> None:
        super().__init__(time=time.time, monotonic=time.monotonic)
        self.sleeps = 0

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        time.sleep(seconds)


@pytest.fixture
def bolt_sleeps(monkeypatch: pytest.MonkeyPatch) -> _CountingTime:
    counting = _CountingTime()
    monkeypatch.setattr(thread_runner, "time", counting)
    return counting


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


class _FakeRequest:
    def __init__(self) -> None:
        self.context: dict[str, Any] = {}


def test_submit_returns_once_the_listener_acks_while_it_goes_on_running(pool: ThreadPoolExecutor) -> None:
    request = _FakeRequest()
    ring_on_ack(request)  # type: ignore[arg-type]
    ack = request.context["ack"]
    assert isinstance(ack, RingingAck)
    carry_on = threading.Event()

    def listener() -> str:
        ack(text="noted")
        carry_on.wait(10)
        return "done"

    running = AckWaitingExecutor(pool).submit(listener)
    assert ack.response is not None and ack.response.status == 200
    assert not running.done()  # the work after the ack is still going
    carry_on.set()
    assert running.result(timeout=10) == "done"


def test_submit_returns_when_a_listener_finishes_without_acking(pool: ThreadPoolExecutor) -> None:
    request = _FakeRequest()
    ring_on_ack(request)  # type: ignore[arg-type]
    finished = AckWaitingExecutor(pool).submit(lambda: "no ack")
    assert finished.done() and finished.result() == "no ack"


def test_work_submitted_without_a_ringing_ack_does_not_wait(pool: ThreadPoolExecutor) -> None:
    request = _FakeRequest()
    ring_on_ack(request)  # type: ignore[arg-type]
    executor = AckWaitingExecutor(pool)
    executor.submit(lambda: None).result(timeout=10)  # the listener: takes the bell
    release = threading.Event()
    lazy = executor.submit(release.wait, 10)  # e.g. a lazy listener after it: no bell left
    assert not lazy.done()
    release.set()
    assert lazy.result(timeout=10) is True


def test_a_plain_ack_is_not_replaced_by_a_ringing_one_until_the_middleware_runs() -> None:
    request = _FakeRequest()
    request.context["ack"] = Ack()  # type: ignore[no-untyped-call]
    ring_on_ack(request)  # type: ignore[arg-type]
    assert isinstance(request.context["ack"], RingingAck)


def test_a_filed_command_is_answered_without_bolt_polling_for_the_ack(
    bot: BotUnderTest, fake_slack: FakeSlack, bolt_sleeps: _CountingTime
) -> None:
    answer = bot.command("/cx-alarm", "refund missing", response_url=fake_slack.response_url("r"))
    assert answer.status == 200
    bot.settle()
    assert bolt_sleeps.sleeps == 0


def test_the_ack_does_not_wait_for_work_the_listener_does_after_it(
    bot: BotUnderTest, fake_slack: FakeSlack, bolt_sleeps: _CountingTime
) -> None:
    """/cx-alarm alone acks, then opens the modal: Slack has its answer while views.open is still
    waiting for (the fake) Slack, which holds it for 5 s."""
    fake_slack.fail_next("views.open", status=200, delay=5)
    answer = bot.command("/cx-alarm", "", response_url=fake_slack.response_url("r"))
    assert answer.status == 200
    assert bot.executor.running() == 1  # the listener, still in views.open
    assert bolt_sleeps.sleeps == 0
    bot.settle()
    assert fake_slack.calls_to("views.open")


def test_a_listener_marked_in_request_thread_runs_there(pool: ThreadPoolExecutor) -> None:
    request = _FakeRequest()
    ring_on_ack(request)  # type: ignore[arg-type]
    InRequestThread().process(req=request, resp=None, next=lambda: None)  # type: ignore[arg-type]
    ran_in: list[threading.Thread] = []
    done = AckWaitingExecutor(pool).submit(lambda: ran_in.append(threading.current_thread()))
    assert done.done() and ran_in == [threading.current_thread()]
    # A request marked but answered by a middleware before any listener ran leaves no mark on
    # the thread: the next request's listener runs on the pool, unless it is marked too.
    InRequestThread().process(req=_FakeRequest(), resp=None, next=lambda: None)  # type: ignore[arg-type]
    ring_on_ack(_FakeRequest())  # type: ignore[arg-type]
    elsewhere = AckWaitingExecutor(pool).submit(lambda: threading.current_thread())
    assert elsewhere.result(timeout=10) is not threading.current_thread()


def test_in_request_thread_can_pick_its_requests(pool: ThreadPoolExecutor) -> None:
    request = _FakeRequest()
    ring_on_ack(request)  # type: ignore[arg-type]
    InRequestThread(when=lambda req: False).process(req=request, resp=None, next=lambda: None)  # type: ignore[arg-type]
    ran = AckWaitingExecutor(pool).submit(lambda: threading.current_thread())
    assert ran.result(timeout=10) is not threading.current_thread()


def test_a_filed_command_is_answered_from_the_request_thread(bot: BotUnderTest, monkeypatch: Any) -> None:
    """Filing a command's text is the hot path: no hand-over to a listener thread and back."""
    filed_from: list[str] = []
    file = bot.runtime.filer.file

    def noting_thread(submission: Any, *, timeout: float | None = None) -> int:
        filed_from.append(threading.current_thread().name)
        return file(submission, timeout=timeout)

    monkeypatch.setattr(bot.runtime.filer, "file", noting_thread)
    assert bot.command("/cx-alarm", "refund missing").status == 200
    assert len(filed_from) == 1 and filed_from[0].startswith("waitress")
