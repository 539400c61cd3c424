"""The nag sweep: one DM per owner listing their stale items, within their working hours, and an
escalation after 3 unanswered nags. Runs once per period, whichever replica gets there first."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.outbox_kinds import OutboxKind
from bot.permissions import MembersOf
from bot.sla import DEFAULT_POLICY, NAGS_BEFORE_ESCALATION, StalePolicy, due_for_nag, in_working_hours
from storage import jobs
from storage.db import transaction
from storage.models import Event, Item, Route
from storage.outbox import enqueue

log = logging.getLogger(__name__)

JOB = "nag"
ZoneOf = Callable[[str], str]


@dataclass(frozen=True)
class SweepResult:
    ran: bool
    period: str
    nagged_items: int = 0
    dms: int = 0
    escalated: int = 0
    waiting_for_working_hours: int = 0


def period_of(at: datetime, interval: timedelta) -> str:
    """The sweep period `at` falls in: the same for every moment between two scheduled sweeps."""
    step = int(interval.total_seconds())
    start = int(at.timestamp()) // step * step
    return datetime.fromtimestamp(start, UTC).isoformat()


def policy_for(item: Item, routes: dict[int, Route]) -> StalePolicy:
    route = routes.get(item.route_id) if item.route_id is not None else None
    return DEFAULT_POLICY.with_overrides(route.stale_after if route else None)


def recipients(item: Item, *, admins: tuple[str, ...], members_of: MembersOf) -> list[str]:
    """Who is nagged: the owner; each member of an owner group; the CX leads for grey areas."""
    if item.grey_area:
        return list(admins)
    people: list[str] = []
    for owner in item.owner.split(","):
        people += sorted(members_of(owner)) if owner.startswith("S") else [owner]
    return list(dict.fromkeys(people))


def run_nag_sweep(
    session_factory: sessionmaker[Session],
    *,
    at: datetime,
    now: datetime,
    interval: timedelta,
    admins: tuple[str, ...],
    members_of: MembersOf,
    zone_of: ZoneOf,
) -> SweepResult:
    """Sweep as if the time were `at` (staleness, working hours); queue messages as of `now`."""
    period = period_of(at, interval)
    if not jobs.claim_period(session_factory, job=JOB, period=period, now=now):
        log.info("nag sweep for %s already ran; skipping", period)
        return SweepResult(ran=False, period=period)
    with transaction(session_factory) as session:
        result = _sweep(
            session, at=at, now=now, period=period, admins=admins, members_of=members_of, zone_of=zone_of
        )
        jobs.record_summary(session=session, job=JOB, period=period, summary=result.__dict__)
    log.info(
        "nag sweep %s: %d items nagged in %d DMs, %d escalated, %d waiting for working hours",
        period,
        result.nagged_items,
        result.dms,
        result.escalated,
        result.waiting_for_working_hours,
    )
    return result


def _sweep(
    session: Session,
    *,
    at: datetime,
    now: datetime,
    period: str,
    admins: tuple[str, ...],
    members_of: MembersOf,
    zone_of: ZoneOf,
) -> SweepResult:
    routes = jobs.routes_by_id(session=session)
    due = [
        item
        for item in jobs.open_unsnoozed(session=session, now=at)
        if due_for_nag(item, policy_for(item, routes), at)
    ]
    escalated = [
        item for item in due if item.nag_count >= NAGS_BEFORE_ESCALATION and item.escalated_at is None
    ]
    for item in escalated:
        _escalate(session, item, routes, at=at, now=now, admins=admins)
    by_person: dict[str, list[Item]] = defaultdict(list)
    for item in due:
        for person in recipients(item, admins=admins, members_of=members_of):
            by_person[person].append(item)
    nagged: dict[int, list[str]] = defaultdict(list)
    for person, items in by_person.items():
        if not in_working_hours(at, zone_of(person)):
            continue
        enqueue(
            session=session,
            kind=OutboxKind.DM_NAG,
            payload={"user": person, "items": [i.id for i in items]},
            item_id=None,
            now=now,
        )
        for item in items:
            nagged[item.id].append(person)
    for item in due:
        if item.id in nagged:
            item.nag_count += 1
            item.last_nagged_at = at
            session.add(
                Event(
                    item_id=item.id,
                    kind="nagged",
                    actor="cxbot",
                    at=at,
                    data={"period": period, "count": item.nag_count},
                )
            )
    return SweepResult(
        ran=True,
        period=period,
        nagged_items=len(nagged),
        dms=len({person for people in nagged.values() for person in people}),
        escalated=len(escalated),
        waiting_for_working_hours=len(due) - len(nagged),
    )


def _escalate(
    session: Session,
    item: Item,
    routes: dict[int, Route],
    *,
    at: datetime,
    now: datetime,
    admins: tuple[str, ...],
) -> None:
    route = routes.get(item.route_id) if item.route_id is not None else None
    to = [route.escalate_to] if route is not None and route.escalate_to else list(admins)
    item.escalated_at = at
    session.add(
        Event(
            item_id=item.id, kind="escalated", actor="cxbot", at=at, data={"to": to, "nags": item.nag_count}
        )
    )
    enqueue(
        session=session,
        kind=OutboxKind.ESCALATE,
        payload={"to": to, "nags": item.nag_count},
        item_id=item.id,
        now=now,
    )
    # Queued after the card's own messages, so it lands in the card's thread once the card exists.
    enqueue(
        session=session,
        kind=OutboxKind.THREAD_NOTE,
        payload={"note": "escalated", "to": to, "nags": item.nag_count},
        item_id=item.id,
        now=now,
    )
