"""The "you said, we did" roundup: monthly by default (CX_ROUNDUP_CRON), to CX_ROUNDUP_CHANNEL,
once per period across replicas, like the digest."""

from __future__ import annotations

import calendar
import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.roundup import Change, Claimed, Roundup, roundup_reply
from bot.outbox.kinds import OutboxKind
from bot.outbox.messages import outgoing
from storage import jobs
from storage import roundup as numbers
from storage.co_raisers import co_raiser_count, co_raisers_of
from storage.db import transaction
from storage.models import CreditState, Item, is_tombstone
from storage.outbox import enqueue

log = logging.getLogger(__name__)

JOB = "roundup"
COLLEAGUE = "a colleague"


def build_roundup(session: Session, *, start: datetime, end: datetime) -> Roundup:
    changes = [_change(session, item) for item in numbers.acted_on(session=session, start=start, end=end)]
    claimed = [
        Claimed(item=item, by=actor, area=area)
        for item, actor, area in numbers.grey_areas_owned(session=session, start=start, end=end)
    ]
    people = set()
    for item in numbers.acted_on(session=session, start=start, end=end, limit=10_000):
        people.add(item.raiser_id)
        people.update(row.user_id for row in co_raisers_of(session=session, item_id=item.id))
    return Roundup(start=start, end=end, changes=changes, claimed=claimed, people=len(people))


def _change(session: Session, item: Item) -> Change:
    """Who raised it, as the roundup may name them: anonymous raisers only if they agreed to be
    credited; otherwise, or once retention or `cxbot forget` removed them, "a colleague"."""
    named = (not item.anonymous or item.credit is CreditState.POSTED) and not is_tombstone(item.raiser_id)
    raised_by = f"<@{item.raiser_id}>" if named else COLLEAGUE
    return Change(item=item, raised_by=raised_by, others=co_raiser_count(session=session, item_id=item.id))


def period_start(end: datetime) -> datetime:
    """The roundup covers the month before its run: the same day and time a month earlier (the
    month's last day, where that month is shorter)."""
    year, month = (end.year, end.month - 1) if end.month > 1 else (end.year - 1, 12)
    return end.replace(year=year, month=month, day=min(end.day, calendar.monthrange(year, month)[1]))


def run_roundup(session_factory: sessionmaker[Session], *, at: datetime, now: datetime, channel: str) -> bool:
    """Post the roundup for the month ending `at`, once per `at` (to the minute)."""
    period = at.replace(second=0, microsecond=0).isoformat()
    with transaction(session_factory) as session:
        if not jobs.claim_period(session=session, job=JOB, period=period, now=now):
            log.info("roundup for %s already ran; skipping", period)
            return False
        roundup = build_roundup(session, start=period_start(at), end=at)
        reply = roundup_reply(roundup)
        payload = {"channel": channel, "text": reply.text, "blocks": reply.as_dicts()}
        enqueue(
            session=session,
            message=outgoing(OutboxKind.POST_DIGEST, payload, item_id=None, to=channel),
            now=now,
        )
        jobs.record_summary(
            session=session, job=JOB, period=period, summary={"changes": len(roundup.changes)}
        )
    log.info("roundup for the month ending %s queued for %s", period, channel)
    return True
