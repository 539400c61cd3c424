"""The nag sweep: one DM per owner listing their stale items, within their working hours, and an
escalation after 3 unanswered nags; the open items of an owner whose Slack account is deactivated
go to the route's escalate_to, else the CX leads. Runs once per period, whichever replica gets
there first."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.items.lifecycle import CXBOT
from bot.items.permissions import MembersOf
from bot.items.sla import (
    DEFAULT_POLICY,
    NAGS_BEFORE_ESCALATION,
    StalePolicy,
    due_for_nag,
    in_working_hours,
    shortest,
)
from bot.jobs.handover import fallback, hand_over_from_deactivated, reachable_fallback
from bot.jobs.people import SweepPeople, people_in, recipients
from bot.outbox.kinds import OutboxKind
from bot.outbox.messages import outgoing
from bot.slack.directory import PeopleOf
from bot.slack.ids import is_user
from storage import jobs
from storage.db import transaction
from storage.items import OpenItem, add_events
from storage.models import Route
from storage.outbox import NewMessage, enqueue_many

log = logging.getLogger(__name__)

JOB = "nag"


@dataclass(frozen=True)
class SweepResult:
    ran: bool
    period: str
    nagged_items: int = 0
    dms: int = 0
    escalated: int = 0
    waiting_for_working_hours: int = 0
    handed_over: int = 0  # items whose owner is deactivated, handed to escalate_to or the CX leads


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


def run_nag_sweep(
    session_factory: sessionmaker[Session],
    *,
    at: datetime,
    now: datetime,
    interval: timedelta,
    admins: tuple[str, ...],
    members_of: MembersOf,
    people_of: PeopleOf,
) -> SweepResult:
    """Sweep as if the time were `at` (staleness, working hours); queue messages as of `now`.

    Who is in an owner group, what time zone each person is in and whether their account is
    deactivated are Slack's to say. They are asked in between two database visits, never with a
    transaction open: a read finds what is due and who owns open items, and so whom to ask; then
    the transaction hands the items of deactivated owners over, reads the due items again
    (anything acted on meanwhile drops out) and queues the nags, using the answers."""
    period = period_of(at, interval)
    with session_factory() as session:
        if jobs.already_ran(session=session, job=JOB, period=period):
            log.info("nag sweep for %s already ran; skipping", period)
            return SweepResult(ran=False, period=period)
        routes = jobs.routes_by_id(session=session)
        found = _due(session, routes, at=at)
        owners = jobs.open_owners(session=session)
    people = _look_up(found, owners, routes, admins=admins, members_of=members_of, people_of=people_of)
    with transaction(session_factory) as session:
        # The claim commits with the nags it queues, or neither does.
        if not jobs.claim_period(session=session, job=JOB, period=period, now=now):
            log.info("nag sweep for %s ran meanwhile elsewhere; skipping", period)
            return SweepResult(ran=False, period=period)
        handed = hand_over_from_deactivated(
            session,
            owners=sorted({owner for owner, _ in owners if people.gone(owner)}),
            routes=routes,
            admins=admins,
            is_deactivated=people.is_deactivated,
            now=now,
        )
        due = _due(session, routes, at=at, among=[item.id for item in found] + handed)
        result = _sweep(session, due, routes, at=at, now=now, period=period, admins=admins, people=people)
        result = replace(result, handed_over=len(handed))
        jobs.record_summary(session=session, job=JOB, period=period, summary=result.__dict__)
    log.info(
        "nag sweep %s: %d items nagged in %d DMs, %d escalated, %d waiting for working hours, "
        "%d handed over from deactivated owners",
        period,
        result.nagged_items,
        result.dms,
        result.escalated,
        result.waiting_for_working_hours,
        result.handed_over,
    )
    return result


def _look_up(
    due: list[OpenItem],
    owners: list[tuple[str, int | None]],
    routes: dict[int, Route],
    *,
    admins: tuple[str, ...],
    members_of: MembersOf,
    people_of: PeopleOf,
) -> SweepPeople:
    """Everyone the sweep may meet, asked in bulk: whoever is nagged, and every owner of an open
    item; then, if an owner is deactivated or an item escalates, whoever stands behind them."""
    people = SweepPeople(members_of=members_of, people_of=people_of)
    nagged = {
        who for item in due for who in recipients(item, admins=admins, members_of=people.members_of_group)
    }
    people.learn(nagged | {who for owner, _ in owners for who in people_in(owner)})
    behind = {route_id for owner, route_id in owners if people.gone(owner)}
    behind |= {item.route_id for item in due if _escalates(item)}
    if behind:
        escalate_to = [routes[r].escalate_to or "" for r in behind if r is not None and r in routes]
        people.learn(who for who in [*escalate_to, *admins] if is_user(who))
    return people


def _escalates(item: OpenItem) -> bool:
    return item.nag_count >= NAGS_BEFORE_ESCALATION and item.escalated_at is None


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
    people: SweepPeople,
) -> SweepResult:
    """Writes in one statement per table (and per distinct nag count): queued messages get ids in
    the order they were queued, escalations (an ESCALATE then a THREAD_NOTE per item) before the
    DMs, as each item's messages go out in id order."""
    escalated = [item for item in due if _escalates(item)]
    messages: list[NewMessage] = []
    events: list[tuple[int, str, dict[str, Any]]] = []
    for item in escalated:
        route = routes.get(item.route_id) if item.route_id is not None else None
        reachable = reachable_fallback(route, admins=admins, is_deactivated=people.is_deactivated)
        to = reachable or fallback(route, admins=admins)
        events.append((item.id, "escalated", {"to": to, "nags": item.nag_count}))
        payload = {"to": to, "nags": item.nag_count}
        messages.append(outgoing(OutboxKind.ESCALATE, payload, item_id=item.id, to=to[0] if to else None))
        # Queued after the card's own messages, so it lands in the card's thread once the card exists.
        note = {"note": "escalated", "to": to, "nags": item.nag_count}
        messages.append(outgoing(OutboxKind.THREAD_NOTE, note, item_id=item.id, to=item.channel))
    by_person: dict[str, list[OpenItem]] = defaultdict(list)
    for item in due:
        for person in recipients(item, admins=admins, members_of=people.members_of_group):
            if not people.is_deactivated(person):
                by_person[person].append(item)
    nagged: dict[int, list[str]] = defaultdict(list)
    for person, items in by_person.items():
        if not in_working_hours(at, people.zone_of(person)):
            continue
        nag = {"user": person, "items": [i.id for i in items]}
        messages.append(outgoing(OutboxKind.DM_NAG, nag, item_id=None, to=person))
        for item in items:
            nagged[item.id].append(person)
    counts = {item.id: item.nag_count + 1 for item in due if item.id in nagged}
    events += [(item_id, "nagged", {"period": period, "count": count}) for item_id, count in counts.items()]
    jobs.mark_escalated(session=session, ids=[item.id for item in escalated], at=at)
    jobs.mark_nagged(session=session, counts=counts, at=at)
    add_events(session=session, events=events, actor=CXBOT, at=at)
    enqueue_many(session=session, messages=messages, now=now)
    return SweepResult(
        ran=True,
        period=period,
        nagged_items=len(nagged),
        dms=len({person for people in nagged.values() for person in people}),
        escalated=len(escalated),
        waiting_for_working_hours=len(due) - len(nagged),
    )
