"""The verify sweep, run with each nag sweep: each raiser (and co-raiser) of an item actioned some
working days ago is asked "did this fix it?" by DM, once, in their working hours; a question
unanswered for 7 days makes the item unconfirmed, and nobody is asked again. Runs once per period,
whichever replica gets there first."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.items.lifecycle import CXBOT
from bot.items.sla import VERIFY_ANSWER_WITHIN, in_working_hours
from bot.jobs.nag import period_of
from bot.jobs.people import SweepPeople
from bot.outbox.kinds import OutboxKind
from bot.outbox.messages import outgoing
from bot.slack.directory import PeopleOf
from storage import jobs
from storage import verify as asks
from storage.db import transaction
from storage.items import add_events
from storage.outbox import enqueue_many

log = logging.getLogger(__name__)

JOB = "verify"


@dataclass(frozen=True)
class VerifyResult:
    ran: bool
    period: str
    asked: int = 0
    waiting_for_working_hours: int = 0
    unconfirmed: int = 0  # items whose every question went unanswered for 7 days


def run_verify_sweep(
    session_factory: sessionmaker[Session],
    *,
    at: datetime,
    now: datetime,
    interval: timedelta,
    people_of: PeopleOf,
) -> VerifyResult:
    """Ask and expire as if the time were `at`; queue the questions as of `now`. People's zones are
    asked of Slack between a read and the transaction, never with one open."""
    period = period_of(at, interval)
    with session_factory() as session:
        if jobs.already_ran(session=session, job=JOB, period=period):
            return VerifyResult(ran=False, period=period)
        found = asks.due_asks(session=session, at=at)
    people = SweepPeople(members_of=lambda _group: frozenset(), people_of=people_of)
    people.learn(ask.user_id for ask in found)
    with transaction(session_factory) as session:
        if not jobs.claim_period(session=session, job=JOB, period=period, now=now):
            return VerifyResult(ran=False, period=period)
        due = asks.due_asks(session=session, at=at, among=[(a.item_id, a.user_id) for a in found])
        ready = [
            ask
            for ask in due
            if not people.is_deactivated(ask.user_id) and in_working_hours(at, people.zone_of(ask.user_id))
        ]
        messages = [
            outgoing(
                OutboxKind.ASK_VERIFY,
                {"user": ask.user_id, "anonymous": ask.anonymous, "co_raiser": ask.co_raiser},
                item_id=ask.item_id,
                to=ask.user_id,
            )
            for ask in ready
        ]
        asks.mark_asked(session=session, asks=[(a.item_id, a.user_id) for a in ready], at=at)
        add_events(
            session=session,
            events=[(ask.item_id, "verify_asked", {"user": ask.user_id}) for ask in ready],
            actor=CXBOT,
            at=at,
        )
        enqueue_many(session=session, messages=messages, now=now)
        expired = asks.expire_asks(session=session, asked_before=at - VERIFY_ANSWER_WITHIN, now=at)
        unconfirmed = asks.settled_unconfirmed(session=session, item_ids=expired)
        add_events(session=session, events=[(i, "unconfirmed", {}) for i in unconfirmed], actor=CXBOT, at=at)
        result = VerifyResult(
            ran=True,
            period=period,
            asked=len(ready),
            waiting_for_working_hours=len(due) - len(ready),
            unconfirmed=len(unconfirmed),
        )
        jobs.record_summary(session=session, job=JOB, period=period, summary=result.__dict__)
    log.info(
        "verify sweep %s: %d asked, %d waiting for working hours, %d items unconfirmed",
        period,
        result.asked,
        result.waiting_for_working_hours,
        result.unconfirmed,
    )
    return result
