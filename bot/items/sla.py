"""When an item is stale, and when it may nag its owner again.

Defaults, each overridable per route in the routes file (`stale_after`):
- an alarm not acknowledged within 24 h is stale (high: 8 h, critical: 2 h);
- an idea not acknowledged within 7 days is stale;
- an acknowledged item neither actioned nor declined within 7 days is stale.
An item nags its owner at most once per staleness period, and escalates after 3 unanswered nags.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from storage.models import ItemKind, ItemStatus, Severity

NAGS_BEFORE_ESCALATION = 3
MAX_SNOOZES = 2
SNOOZE = timedelta(days=1)
POLICY_KEYS = ("alarm", "high", "critical", "idea", "acknowledged")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d)\s*$")
_UNITS = {"m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class StalePolicy:
    alarm: timedelta = timedelta(hours=24)
    high: timedelta = timedelta(hours=8)
    critical: timedelta = timedelta(hours=2)
    idea: timedelta = timedelta(days=7)
    acknowledged: timedelta = timedelta(days=7)

    def with_overrides(self, seconds: Mapping[str, float] | None) -> StalePolicy:
        if not seconds:
            return self
        known = {key: timedelta(seconds=value) for key, value in seconds.items() if key in POLICY_KEYS}
        return replace(self, **known)


DEFAULT_POLICY = StalePolicy()


def shortest(policies: Iterable[StalePolicy]) -> StalePolicy:
    """Each period at its shortest across `policies`: an item that isn't stale (or due for a nag)
    under this policy is stale (or due) under none of them."""
    chosen = list(policies) or [DEFAULT_POLICY]
    return StalePolicy(**{f.name: min(getattr(p, f.name) for p in chosen) for f in fields(StalePolicy)})


class Waiting(Protocol):
    """What the policy reads of an item: an `Item`, or a row of just these columns."""

    @property
    def kind(self) -> ItemKind: ...
    @property
    def status(self) -> ItemStatus: ...
    @property
    def severity(self) -> Severity | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def acknowledged_at(self) -> datetime | None: ...
    @property
    def last_nagged_at(self) -> datetime | None: ...
    @property
    def snoozed_until(self) -> datetime | None: ...


def parse_duration(text: str) -> float | None:
    """Seconds in "90m", "24h" or "7d"; None if it isn't one."""
    found = _DURATION.match(text)
    if not found or float(found.group(1)) <= 0:
        return None
    return float(found.group(1)) * _UNITS[found.group(2)]


def stale_period(item: Waiting, policy: StalePolicy) -> timedelta | None:
    """How long the item may wait in its current state; None once it is closed."""
    if item.status is ItemStatus.ACKNOWLEDGED:
        return policy.acknowledged
    if item.status is not ItemStatus.NEW:
        return None
    if item.kind is ItemKind.IDEA:
        return policy.idea
    if item.severity is Severity.CRITICAL:
        return policy.critical
    if item.severity is Severity.HIGH:
        return policy.high
    return policy.alarm


def waiting_since(item: Waiting) -> datetime:
    return (
        item.acknowledged_at
        if item.status is ItemStatus.ACKNOWLEDGED and item.acknowledged_at
        else item.created_at
    )


def stale_at(item: Waiting, policy: StalePolicy) -> datetime | None:
    period = stale_period(item, policy)
    return waiting_since(item) + period if period is not None else None


def is_stale(item: Waiting, policy: StalePolicy, now: datetime) -> bool:
    moment = stale_at(item, policy)
    return moment is not None and now >= moment


def due_for_nag(item: Waiting, policy: StalePolicy, now: datetime) -> bool:
    """Stale, not snoozed, and not nagged within the last staleness period."""
    period = stale_period(item, policy)
    if period is None or not is_stale(item, policy, now):
        return False
    if item.snoozed_until is not None and now < item.snoozed_until:
        return False
    return item.last_nagged_at is None or now - item.last_nagged_at >= period


def in_working_hours(now: datetime, zone: str) -> bool:
    """09:00 to 18:00, Monday to Friday, in the person's own time zone."""
    local = now.astimezone(ZoneInfo(zone))
    return local.weekday() < 5 and 9 <= local.hour < 18


# "Did this fix it?" (bot/items/verify.py): how many working days after an item is marked actioned
# its raisers are asked, unless its route says otherwise (`verify_after`; 0: never), and how long
# they have to answer before it counts as unconfirmed.
VERIFY_AFTER_WORKING_DAYS = 3.0
VERIFY_ANSWER_WITHIN = timedelta(days=7)


def verify_after(route_days: float | None) -> float:
    """A route's `verify_after`, or the default when it has none."""
    return VERIFY_AFTER_WORKING_DAYS if route_days is None else route_days


def working_days_after(moment: datetime, days: float) -> datetime:
    """`days` working days after `moment`, Saturdays and Sundays skipped: Friday 10:00 plus 3 is
    Wednesday 10:00, and Saturday plus 1 is Monday. A fraction of a day counts as that share of 24 h."""
    whole = int(days)
    later = moment
    for _ in range(whole):
        later += timedelta(days=1)
        while later.weekday() >= 5:
            later += timedelta(days=1)
    later += timedelta(days=days - whole)
    while later.weekday() >= 5:
        later += timedelta(days=1)
    return later
