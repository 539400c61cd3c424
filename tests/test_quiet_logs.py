"""Logs that stay readable and cheap under a burst: waitress's queue warnings and the filer's
"filed" lines are let through at most once a second (or minute), saying how many were held back."""

from __future__ import annotations

import logging

import pytest

from bot.filer import FiledLog
from bot.server import _QueueWarnings


class _Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_queue_warnings_let_one_through_a_minute_and_count_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    ticks = _Ticks()
    warnings = _QueueWarnings(logging.getLogger("waitress.queue"), interval=60, monotonic=ticks)
    with caplog.at_level(logging.WARNING, logger="waitress.queue"):
        for depth in range(1, 6):
            warnings.warning("Task queue depth is %d", depth)
        ticks.now += 61
        warnings.warning("Task queue depth is %d", 9)
    assert [record.getMessage() for record in caplog.records] == [
        "Task queue depth is 1",
        "Task queue depth is 9 (4 similar warnings held back)",
    ]


def test_filed_items_get_a_line_each_when_they_come_one_at_a_time(caplog: pytest.LogCaptureFixture) -> None:
    ticks = _Ticks()
    filed = FiledLog(interval=1.0, monotonic=ticks)
    with caplog.at_level(logging.INFO, logger="bot.filer"):
        filed.add([1])
        ticks.now += 2
        filed.add([2])
    assert [record.getMessage() for record in caplog.records] == ["filed #1", "filed #2"]
    assert filed.due_in() is None


def test_a_burst_of_filed_items_gets_a_line_a_second(caplog: pytest.LogCaptureFixture) -> None:
    ticks = _Ticks()
    filed = FiledLog(interval=1.0, monotonic=ticks)
    with caplog.at_level(logging.INFO, logger="bot.filer"):
        filed.add([1, 2])
        for number in range(3, 11):
            ticks.now += 0.1
            filed.add([number])
        assert filed.due_in() == pytest.approx(0.2)
        ticks.now += 0.2
        filed.add([11])
        filed.add([12])
        filed.flush()  # the filer flushes once it is idle, and when it stops
        filed.flush()
    assert [record.getMessage() for record in caplog.records] == [
        "filed 2 items: #1, #2",
        "filed 9 items: #3, #4, #5, #6, #7 and 4 more",
        "filed #12",
    ]
