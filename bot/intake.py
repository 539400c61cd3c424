"""Filing an item: check it, route it, store it with its event, and queue what Slack must hear.

Everything happens in the caller's transaction; nothing here talks to Slack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.errors import InvalidSubmission
from bot.outbox_kinds import OutboxKind
from bot.routing import choose_route
from storage import routes as route_queries
from storage.items import item_by_intake_key
from storage.models import Event, Item, ItemKind, ItemStatus, JourneyStage, Severity
from storage.outbox import enqueue

MAX_TEXT_LENGTH = 100_000
MAX_CUSTOMERS_LENGTH = 5_000


@dataclass(frozen=True)
class ReplyTarget:
    """Where to confirm to the raiser: Slack's response_url if we have one, else a DM."""

    response_url: str | None = None
    channel_id: str | None = None


@dataclass(frozen=True)
class Submission:
    kind: ItemKind
    text: str
    raiser_id: str
    customers: str | None = None
    journey_stage: JourneyStage | None = None
    severity: Severity | None = None
    picked_area: str | None = None
    anonymous: bool = False
    source_channel: str | None = None
    source_ts: str | None = None
    intake_key: str | None = None
    reply: ReplyTarget = ReplyTarget()


@dataclass(frozen=True)
class Triage:
    """Where grey areas go and who owns them."""

    channel: str
    admins: tuple[str, ...]


def check_text(text: str, *, kind: ItemKind) -> str:
    """The text as it will be stored, or InvalidSubmission with a kind explanation."""
    if not text.strip():
        noun = "what happened" if kind is ItemKind.ALARM else "your idea"
        raise InvalidSubmission(f"Please tell me {noun}; it can't be empty.", field="what_happened")
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidSubmission(
            f"That's {len(text):,} characters; I can keep up to {MAX_TEXT_LENGTH:,}. "
            "Could you shorten it, or link to a doc with the details?",
            field="what_happened",
        )
    return text


def file_item(*, session: Session, submission: Submission, triage: Triage, now: datetime) -> Item:
    """Store the item, its `filed` event and its outbox messages. Filing the same intake_key
    twice (a double-submitted modal) returns the first item and queues nothing more."""
    if submission.intake_key:
        existing = item_by_intake_key(session=session, intake_key=submission.intake_key)
        if existing is not None:
            return existing
    text = check_text(submission.text, kind=submission.kind)
    customers = (submission.customers or "")[:MAX_CUSTOMERS_LENGTH] or None
    decision = choose_route(
        text=text,
        picked_area=submission.picked_area,
        routes=route_queries.active_routes(session=session),
    )
    route = decision.route
    item = Item(
        kind=submission.kind,
        status=ItemStatus.NEW,
        text=text,
        customers=customers,
        journey_stage=submission.journey_stage,
        severity=submission.severity if submission.kind is ItemKind.ALARM else None,
        raiser_id=submission.raiser_id,
        anonymous=submission.anonymous,
        route_id=route.id if route else None,
        area=route.area if route else None,
        grey_area=route is None,
        routed_by=decision.routed_by,
        owner=route.owner if route else ",".join(triage.admins),
        channel=route.channel if route else triage.channel,
        source_channel=submission.source_channel,
        source_ts=submission.source_ts,
        intake_key=submission.intake_key,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    session.add(
        Event(
            item_id=item.id,
            kind="filed",
            actor=submission.raiser_id,
            at=now,
            data={
                "routed_by": decision.routed_by.value,
                "area": item.area,
                "owner": item.owner,
                "matched_keywords": list(decision.matched_keywords),
            },
        )
    )
    _queue_messages(session=session, item=item, reply=submission.reply, now=now)
    return item


def _queue_messages(*, session: Session, item: Item, reply: ReplyTarget, now: datetime) -> None:
    enqueue(session=session, kind=OutboxKind.POST_CARD, payload={}, item_id=item.id, now=now)
    enqueue(
        session=session,
        kind=OutboxKind.CONFIRM_RAISER,
        payload={"response_url": reply.response_url, "channel_id": reply.channel_id},
        item_id=item.id,
        now=now,
    )
