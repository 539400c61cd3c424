"""The nag sweep: one DM per owner listing their stale items, within their working hours, and an
escalation after 3 unanswered nags. Runs once per period, whichever replica gets there first."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.items.permissions import MembersOf
from bot.items.sla import (
    DEFAULT_POLICY,
    NAGS_BEFORE_ESCALATION,
    StalePolicy,
    due_for_nag,
    in_working_hours,
    shortest,
)
from bot.outbox.kinds import OutboxKind
from bot.outbox.messages import outgoing
from storage import jobs
from storage.db import transaction
from storage.items import OpenItem, add_events
from storage.models import Item, Route
from storage.outbox import NewMessage, enqueue_many

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


def policies_by_route(routes: dict[int, Route]) -> dict[int | None, StalePolicy]:
    """Each route's stale policy, worked out once; look an item up with `.get(item.route_id,
    DEFAULT_POLICY)` (no route, or an unknown one: the default)."""
    policies: dict[int | None, StalePolicy] = {None: DEFAULT_POLICY}
    for route_id, route in routes.items():
        policies[route_id] = DEFAULT_POLICY.with_overrides(route.stale_after)
    return policies


def recipients(item: Item | OpenItem, *, admins: tuple[str, ...], members_of: MembersOf) -> list[str]:
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
    """Sweep as if the time were `at` (staleness, working hours); queue messages as of `now`.

    Who is in an owner group and what time zone each person is in are Slack's to say. They are
    asked in between two database visits, never with a transaction open: a read finds what is
    due and so whom to ask; then the transaction that queues the nags reads those items again
    (anything acted on meanwhile drops out) and uses the answers."""
    period = period_of(at, interval)
    with session_factory() as session:
        if jobs.already_ran(session=session, job=JOB, period=period):
            log.info("nag sweep for %s already ran; skipping", period)
            return SweepResult(ran=False, period=period)
        routes = jobs.routes_by_id(session=session)
        found = _due(session, routes, at=at)
    people = _People.look_up(found, admins=admins, members_of=members_of, zone_of=zone_of)
    with transaction(session_factory) as session:
        # The claim commits with the nags it queues, or neither does.
        if not jobs.claim_period(session=session, job=JOB, period=period, now=now):
            log.info("nag sweep for %s ran meanwhile elsewhere; skipping", period)
            return SweepResult(ran=False, period=period)
        due = _due(session, routes, at=at, among=[item.id for item in found])
        result = _sweep(session, due, routes, at=at, now=now, period=period, admins=admins, people=people)
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


@dataclass(frozen=True)
class _People:
    """Slack's answers for one sweep: the members of each owner group, and each person's zone.
    Someone the first read didn't find (an item reassigned meanwhile) is asked when met."""

    members: dict[str, frozenset[str]]
    zones: dict[str, str]
    members_of: MembersOf
    zone_of: ZoneOf

    @classmethod
    def look_up(
        cls, due: list[OpenItem], *, admins: tuple[str, ...], members_of: MembersOf, zone_of: ZoneOf
    ) -> _People:
        members: dict[str, frozenset[str]] = {}

        def ask_once(group: str) -> frozenset[str]:
            if group not in members:
                members[group] = members_of(group)
            return members[group]

        people = {person for item in due for person in recipients(item, admins=admins, members_of=ask_once)}
        return cls(
            members=members,
            zones={person: zone_of(person) for person in sorted(people)},
            members_of=members_of,
            zone_of=zone_of,
        )

    def members_of_group(self, group: str) -> frozenset[str]:
        known = self.members.get(group)
        return known if known is not None else self.members_of(group)

    def zone_of_person(self, person: str) -> str:
        known = self.zones.get(person)
        return known if known is not None else self.zone_of(person)


def _due(
    session: Session, routes: dict[int, Route], *, at: datetime, among: list[int] | None = None
) -> list[OpenItem]:
    """The open items due for a nag at `at`, under their own route's policy."""
    policies = policies_by_route(routes)
    floor = shortest(policies.values())
    candidates = jobs.nag_candidates(
        session=session,
        now=at,
        alarm=floor.alarm,
        high=floor.high,
        critical=floor.critical,
        idea=floor.idea,
        acknowledged=floor.acknowledged,
        among=among,
    )
    return [item for item in candidates if due_for_nag(item, policies.get(item.route_id, DEFAULT_POLICY), at)]


def _sweep(
    session: Session,
    due: list[OpenItem],
    routes: dict[int, Route],
    *,
    at: datetime,
    now: datetime,
    period: str,
    admins: tuple[str, ...],
    people: _People,
) -> SweepResult:
    """Writes in one statement per table (and per distinct nag count): queued messages get ids in
    the order they were queued, escalations (an ESCALATE then a THREAD_NOTE per item) before the
    DMs, as each item's messages go out in id order."""
    escalated = [
        item for item in due if item.nag_count >= NAGS_BEFORE_ESCALATION and item.escalated_at is None
    ]
    messages: list[NewMessage] = []
    events: list[tuple[int, str, dict[str, Any]]] = []
    for item in escalated:
        route = routes.get(item.route_id) if item.route_id is not None else None
        to = [route.escalate_to] if route is not None and route.escalate_to else list(admins)
        events.append((item.id, "escalated", {"to": to, "nags": item.nag_count}))
        payload = {"to": to, "nags": item.nag_count}
        messages.append(outgoing(OutboxKind.ESCALATE, payload, item_id=item.id, to=to[0] if to else None))
        # Queued after the card's own messages, so it lands in the card's thread once the card exists.
        note = {"note": "escalated", "to": to, "nags": item.nag_count}
        messages.append(outgoing(OutboxKind.THREAD_NOTE, note, item_id=item.id, to=item.channel))
    by_person: dict[str, list[OpenItem]] = defaultdict(list)
    for item in due:
        for person in recipients(item, admins=admins, members_of=people.members_of_group):
            by_person[person].append(item)
    nagged: dict[int, list[str]] = defaultdict(list)
    for person, items in by_person.items():
        if not in_working_hours(at, people.zone_of_person(person)):
            continue
        nag = {"user": person, "items": [i.id for i in items]}
        messages.append(outgoing(OutboxKind.DM_NAG, nag, item_id=None, to=person))
        for item in items:
            nagged[item.id].append(person)
    counts = {item.id: item.nag_count + 1 for item in due if item.id in nagged}
    events += [(item_id, "nagged", {"period": period, "count": count}) for item_id, count in counts.items()]
    jobs.mark_escalated(session=session, ids=[item.id for item in escalated], at=at)
    jobs.mark_nagged(session=session, counts=counts, at=at)
    add_events(session=session, events=events, actor="cxbot", at=at)
    enqueue_many(session=session, messages=messages, now=now)
    return SweepResult(
        ran=True,
        period=period,
        nagged_items=len(nagged),
        dms=len({person for people in nagged.values() for person in people}),
        escalated=len(escalated),
        waiting_for_working_hours=len(due) - len(nagged),
    )
