"""The weekly digest: the last 7 days against the 7 before, for the CX leads."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.digest import digest_reply
from bot.items.permissions import MembersOf
from bot.items.sla import DEFAULT_POLICY, POLICY_KEYS, StalePolicy, is_stale, stale_at
from bot.jobs.headline import choose_headline
from bot.jobs.nag import policies_by_route
from bot.outbox.kinds import OutboxKind
from bot.outbox.messages import outgoing
from bot.slack.ids import is_user, is_usergroup
from storage import board, jobs
from storage import digest as numbers
from storage.db import transaction
from storage.figures import Digest, Loop, PastSla, Series, Window
from storage.items import OpenItem
from storage.models import Item
from storage.outbox import enqueue

log = logging.getLogger(__name__)

JOB = "digest"
WEEK = timedelta(days=7)


def _window(session: Session, start: datetime, end: datetime) -> Window:
    return Window(
        flow=numbers.flow(session=session, start=start, end=end),
        to_acknowledge=numbers.speed(session=session, event_kind="acknowledged", start=start, end=end),
        to_action=numbers.speed(session=session, event_kind="actioned", start=start, end=end),
        people=numbers.people_who_spoke_up(session=session, start=start, end=end),
    )


def _seconds(policy: StalePolicy) -> dict[str, float]:
    return {key: getattr(policy, key).total_seconds() for key in POLICY_KEYS}


def sla_periods(session: Session) -> tuple[dict[str, float], dict[int, dict[str, float]]]:
    """The SLA each item is held to, in seconds: the default policy's, and each route's."""
    policies = policies_by_route(jobs.routes_by_id(session=session))
    by_route = {route: _seconds(policy) for route, policy in policies.items() if route is not None}
    return _seconds(DEFAULT_POLICY), by_route


def chart_series(session: Session, *, end: datetime) -> Series:
    """The digest chart's 12 weeks before `end`, with how many raisers heard within their SLA."""
    default, by_route = sla_periods(session)
    return numbers.weekly_series(session=session, end=end, default=default, by_route=by_route)


def _loop(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    policies: dict[int | None, StalePolicy],
    members_of: MembersOf | None,
) -> Loop:
    """Whether raisers hear back in time, and whether alarms come from outside the owning team."""
    by_route = {route: _seconds(policy) for route, policy in policies.items() if route is not None}
    heard, within, decided = numbers.heard(
        session=session, start=start, end=end, default=_seconds(DEFAULT_POLICY), by_route=by_route
    )
    outside, countable = _outside(numbers.raisers_by_owner(session=session, start=start, end=end), members_of)
    return Loop(heard=heard, within_sla=within, decided=decided, outside=outside, countable=countable)


def _outside(rows: list[tuple[str, str, int]], members_of: MembersOf | None) -> tuple[int, int]:
    """(alarms raised by someone outside the owning team, alarms whose team is known): the owner
    must be one person, or one user group whose members Slack tells (cached look-ups)."""
    outside = countable = 0
    teams: dict[str, frozenset[str] | None] = {}
    for owner, raiser, count in rows:
        if owner not in teams:
            teams[owner] = _team(owner, members_of)
        team = teams[owner]
        if team is None:
            continue
        countable += count
        if raiser not in team:
            outside += count
    return outside, countable


def _team(owner: str, members_of: MembersOf | None) -> frozenset[str] | None:
    if is_user(owner):
        return frozenset({owner})
    if not is_usergroup(owner) or members_of is None:
        return None
    try:
        members = members_of(owner)
    except Exception:  # Slack can't say now: leave the group out rather than fail the digest
        log.warning("digest: can't look up the members of %s; its alarms aren't counted", owner)
        return None
    return frozenset(members) if members else None


def _past_by_area(past: list[tuple[OpenItem, datetime]], end: datetime) -> list[PastSla]:
    oldest: dict[str | None, datetime] = {}
    counts: Counter[str | None] = Counter()
    for item, due in past:
        area = None if item.grey_area else item.area
        counts[area] += 1
        oldest[area] = min(due, oldest.get(area, due))
    return [
        PastSla(area=area, count=count, oldest=end - oldest[area]) for area, count in counts.most_common()
    ]


def build_digest(session: Session, *, end: datetime, members_of: MembersOf | None = None) -> Digest:
    """The digest for the week ending `end`. `members_of` looks up an owner group's members, to
    count alarms raised from outside the owning team (without it, only person owners count)."""
    start = end - WEEK
    policies = policies_by_route(jobs.routes_by_id(session=session))
    past: list[tuple[OpenItem, datetime]] = []
    for item in numbers.open_items_by_age(session=session, now=end):
        policy = policies.get(item.route_id, DEFAULT_POLICY)
        due = stale_at(item, policy)
        if due is not None and is_stale(item, policy, end):
            past.append((item, due))
    past.sort(key=lambda pair: pair[1])
    oldest = numbers.items_by_id(session=session, ids=[item.id for item, _ in past[:5]])
    came_in, resolved, unowned = numbers.grey_areas(session=session, start=start, end=end)
    digest = Digest(
        start=start,
        end=end,
        this_week=_window(session, start, end),
        last_week=_window(session, start - WEEK, start),
        past_sla=len(past),
        oldest_past_sla=[(oldest[item.id], due) for item, due in past[:5]],
        grey_came_in=came_in,
        grey_resolved=resolved,
        grey_unowned=unowned,
        by_area=numbers.breakdown(session=session, column=Item.area, start=start, end=end),
        by_stage=numbers.breakdown(session=session, column=Item.journey_stage, start=start, end=end),
        credited=board.recognition_board(session=session, since=start, until=end),
        top_ideas=numbers.top_ideas(session=session),
        verification=numbers.verification(session=session, start=start, end=end),
        loop=_loop(session, start=start, end=end, policies=policies, members_of=members_of),
        past_sla_by_area=_past_by_area(past, end),
        credited_fix=numbers.credited_fix(session=session, start=start, end=end),
    )
    return replace(_as_posted(session, digest), headline=choose_headline(digest))


def _as_posted(session: Session, digest: Digest) -> Digest:
    """A digest already posted keeps the figures that depend on who people are: how many spoke up,
    and how many alarms came from outside the owning team. Retention and `cxbot forget` replace
    people with tombstones, and teams change; counted again, those figures could differ from what
    leaders read. So the run records them (run_digest), and this puts them back."""
    posted = jobs.summary_of(session=session, job=JOB, period=period_of(digest.end)) or {}
    people, outside = posted.get("people"), posted.get("outside")
    if not isinstance(people, list) or not isinstance(outside, list):
        return digest
    this_week, last_week = people
    return replace(
        digest,
        this_week=replace(digest.this_week, people=int(this_week)),
        last_week=replace(digest.last_week, people=int(last_week)),
        loop=replace(digest.loop, outside=int(outside[0]), countable=int(outside[1])),
    )


def _posted_figures(digest: Digest) -> dict[str, Any]:
    """What run_digest records of the digest it posts: counts only, no one's name or ID."""
    return {
        "past_sla": digest.past_sla,
        "people": [digest.this_week.people, digest.last_week.people],
        "outside": [digest.loop.outside, digest.loop.countable],
    }


def period_of(at: datetime) -> str:
    return at.replace(second=0, microsecond=0).isoformat()


def run_digest(
    session_factory: sessionmaker[Session],
    *,
    at: datetime,
    now: datetime,
    channel: str,
    zone: str,
    members_of: MembersOf | None = None,
) -> bool:
    """Post the digest for the week ending `at`, once per `at` (to the minute). Returns whether it
    ran. Once the digest is posted, its chart follows in its thread (bot/outbox/deliveries.py),
    drawn then from the 12 weeks before `at`."""
    period = period_of(at)
    with transaction(session_factory) as session:
        if not jobs.claim_period(session=session, job=JOB, period=period, now=now):
            log.info("digest for %s already ran; skipping", period)
            return False
        digest = build_digest(session, end=at, members_of=members_of)
        reply = digest_reply(digest, zone=zone)
        payload = {
            "channel": channel,
            "text": reply.text,
            "blocks": reply.as_dicts(),
            "chart": {"end": at.isoformat()},
        }
        message = outgoing(OutboxKind.POST_DIGEST, payload, item_id=None, to=channel)
        enqueue(session=session, message=message, now=now)
        jobs.record_summary(session=session, job=JOB, period=period, summary=_posted_figures(digest))
    log.info("digest for the week ending %s queued for %s", period, channel)
    return True
