"""The weekly digest: the last 7 days against the 7 before, for the CX leads."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.digest import digest_reply
from bot.items.sla import DEFAULT_POLICY, is_stale, stale_at
from bot.jobs.nag import policies_by_route
from bot.outbox.kinds import OutboxKind
from bot.outbox.messages import outgoing
from storage import board, jobs
from storage import digest as numbers
from storage.db import transaction
from storage.figures import Digest, Window
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


def build_digest(session: Session, *, end: datetime) -> Digest:
    start = end - WEEK
    policies = policies_by_route(jobs.routes_by_id(session=session))
    past: list[tuple[int, datetime]] = []
    for item in numbers.open_items_by_age(session=session, now=end):
        policy = policies.get(item.route_id, DEFAULT_POLICY)
        due = stale_at(item, policy)
        if due is not None and is_stale(item, policy, end):
            past.append((item.id, due))
    past.sort(key=lambda pair: pair[1])
    oldest = numbers.items_by_id(session=session, ids=[item_id for item_id, _ in past[:5]])
    came_in, resolved, unowned = numbers.grey_areas(session=session, start=start, end=end)
    return Digest(
        start=start,
        end=end,
        this_week=_window(session, start, end),
        last_week=_window(session, start - WEEK, start),
        past_sla=len(past),
        oldest_past_sla=[(oldest[item_id], due) for item_id, due in past[:5]],
        grey_came_in=came_in,
        grey_resolved=resolved,
        grey_unowned=unowned,
        by_area=numbers.breakdown(session=session, column=Item.area, start=start, end=end),
        by_stage=numbers.breakdown(session=session, column=Item.journey_stage, start=start, end=end),
        credited=board.recognition_board(session=session, since=start, until=end),
        top_ideas=numbers.top_ideas(session=session),
        verification=numbers.verification(session=session, start=start, end=end),
    )


def period_of(at: datetime) -> str:
    return at.replace(second=0, microsecond=0).isoformat()


def run_digest(
    session_factory: sessionmaker[Session], *, at: datetime, now: datetime, channel: str, zone: str
) -> bool:
    """Post the digest for the week ending `at`, once per `at` (to the minute). Returns whether it ran."""
    period = period_of(at)
    with transaction(session_factory) as session:
        if not jobs.claim_period(session=session, job=JOB, period=period, now=now):
            log.info("digest for %s already ran; skipping", period)
            return False
        digest = build_digest(session, end=at)
        reply = digest_reply(digest, zone=zone)
        payload = {"channel": channel, "text": reply.text, "blocks": reply.as_dicts()}
        message = outgoing(OutboxKind.POST_DIGEST, payload, item_id=None, to=channel)
        enqueue(session=session, message=message, now=now)
        jobs.record_summary(session=session, job=JOB, period=period, summary={"past_sla": digest.past_sla})
    log.info("digest for the week ending %s queued for %s", period, channel)
    return True
