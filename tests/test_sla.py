"""Staleness edges and working hours (with a DST change), on plain values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.items.sla import (
    DEFAULT_POLICY,
    due_for_nag,
    in_working_hours,
    is_stale,
    parse_duration,
    stale_period,
)
from storage.models import Item, ItemKind, ItemStatus, Severity

T0 = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)


def item(kind: ItemKind = ItemKind.ALARM, severity: Severity | None = None, **fields: object) -> Item:
    values: dict[str, object] = {
        "kind": kind,
        "severity": severity,
        "status": ItemStatus.NEW,
        "created_at": T0,
        "acknowledged_at": None,
        "last_nagged_at": None,
        "snoozed_until": None,
    }
    values.update(fields)
    return Item(**values)


@pytest.mark.parametrize(
    ("subject", "period"),
    [
        (item(), timedelta(hours=24)),
        (item(severity=Severity.LOW), timedelta(hours=24)),
        (item(severity=Severity.MEDIUM), timedelta(hours=24)),
        (item(severity=Severity.HIGH), timedelta(hours=8)),
        (item(severity=Severity.CRITICAL), timedelta(hours=2)),
        (item(ItemKind.IDEA), timedelta(days=7)),
        (item(status=ItemStatus.ACKNOWLEDGED, acknowledged_at=T0), timedelta(days=7)),
        (item(ItemKind.IDEA, status=ItemStatus.ACKNOWLEDGED, acknowledged_at=T0), timedelta(days=7)),
    ],
)
def test_stale_exactly_at_the_end_of_its_period(subject: Item, period: timedelta) -> None:
    assert stale_period(subject, DEFAULT_POLICY) == period
    assert not is_stale(subject, DEFAULT_POLICY, T0 + period - timedelta(seconds=1))
    assert is_stale(subject, DEFAULT_POLICY, T0 + period)


@pytest.mark.parametrize(
    "status", [ItemStatus.ACTIONED, ItemStatus.DECLINED, ItemStatus.DUPLICATE, ItemStatus.WITHDRAWN]
)
def test_closed_items_are_never_stale(status: ItemStatus) -> None:
    assert not is_stale(item(status=status), DEFAULT_POLICY, T0 + timedelta(days=365))


def test_acknowledged_clock_starts_at_acknowledgement() -> None:
    acked = item(status=ItemStatus.ACKNOWLEDGED, acknowledged_at=T0 + timedelta(days=3))
    assert not is_stale(acked, DEFAULT_POLICY, T0 + timedelta(days=9))
    assert is_stale(acked, DEFAULT_POLICY, T0 + timedelta(days=10))


def test_route_overrides() -> None:
    policy = DEFAULT_POLICY.with_overrides({"alarm": parse_duration("4h") or 0, "critical": 1800.0})
    assert stale_period(item(), policy) == timedelta(hours=4)
    assert stale_period(item(severity=Severity.CRITICAL), policy) == timedelta(minutes=30)
    assert stale_period(item(severity=Severity.HIGH), policy) == timedelta(hours=8)


def test_nags_at_most_once_per_period_and_not_while_snoozed() -> None:
    stale = T0 + timedelta(hours=24)
    assert due_for_nag(item(), DEFAULT_POLICY, stale)
    nagged = item(last_nagged_at=stale)
    assert not due_for_nag(nagged, DEFAULT_POLICY, stale + timedelta(hours=23, minutes=59))
    assert due_for_nag(nagged, DEFAULT_POLICY, stale + timedelta(hours=24))
    snoozed = item(snoozed_until=stale + timedelta(days=1))
    assert not due_for_nag(snoozed, DEFAULT_POLICY, stale + timedelta(hours=23))
    assert due_for_nag(snoozed, DEFAULT_POLICY, stale + timedelta(days=1))


@pytest.mark.parametrize("text", ["", "5", "h", "-1h", "0d", "1w", "two days"])
def test_bad_durations(text: str) -> None:
    assert parse_duration(text) is None


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "zone", "working"),
    [
        (utc(2026, 11, 16, 8, 59), "Europe/London", False),  # Monday 08:59
        (utc(2026, 11, 16, 9, 0), "Europe/London", True),
        (utc(2026, 11, 16, 17, 59), "Europe/London", True),
        (utc(2026, 11, 16, 18, 0), "Europe/London", False),
        (utc(2026, 11, 21, 12, 0), "Europe/London", False),  # Saturday
        (utc(2026, 11, 16, 14, 0), "America/New_York", True),  # 09:00 in New York
        (utc(2026, 11, 16, 13, 59), "America/New_York", False),
        (utc(2026, 11, 16, 0, 30), "Asia/Tokyo", True),  # Monday 09:30 in Tokyo
        (utc(2026, 11, 15, 23, 30), "Asia/Tokyo", False),  # Monday 08:30 in Tokyo, Sunday in UTC
        (utc(2026, 11, 20, 23, 30), "Pacific/Auckland", False),  # Saturday 12:30 in Auckland, Friday in UTC
        # London leaves summer time on Sunday 25 October 2026: 08:30 UTC is 09:30 on the Friday
        # before, but 08:30 on the Monday after.
        (utc(2026, 10, 23, 8, 30), "Europe/London", True),
        (utc(2026, 10, 26, 8, 30), "Europe/London", False),
        (utc(2026, 10, 26, 9, 0), "Europe/London", True),
        (utc(2026, 10, 23, 17, 30), "Europe/London", False),  # 18:30 in summer time
    ],
)
def test_working_hours(moment: datetime, zone: str, working: bool) -> None:
    assert in_working_hours(moment, zone) is working
