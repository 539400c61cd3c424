"""Filing an item: check it, route it, store it with its event, and queue what Slack must hear.

Everything happens in the caller's transaction; nothing here talks to Slack.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from bot.errors import InvalidSubmission
from bot.outbox_kinds import OutboxKind
from bot.routing import choose_route
from storage import routes as route_queries
from storage.filing import NewItemRows, insert_filed
from storage.items import numbers_by_intake_key
from storage.models import Item, ItemKind, ItemStatus, JourneyStage, Route, Severity
from storage.outbox import pending_message

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
    routes = route_queries.active_routes(session=session)
    number = file_items(
        connection=session.connection(), submissions=[submission], triage=triage, now=now, routes=routes
    )[0]
    item = session.get(Item, number)
    assert item is not None
    return item


@dataclass
class _NewItem:
    submission: Submission
    row: dict[str, Any]  # the items row to insert
    matched_keywords: tuple[str, ...]
    number: int = 0  # once inserted


def file_items(
    *,
    connection: Connection,
    submissions: Sequence[Submission],
    triage: Triage,
    now: datetime,
    routes: Sequence[Route],
) -> list[int]:
    """File several submissions on the caller's connection, in one batch (storage.filing);
    returns their numbers in the same order. A submission whose intake_key is already stored, or
    repeated in the batch, gets that item's number and queues nothing. `routes`: the active ones."""
    outcomes: list[_NewItem] = []
    new_by_key: dict[str, _NewItem] = {}
    for submission in submissions:
        key = submission.intake_key or f"once:{uuid.uuid4().hex}"
        if key not in new_by_key:
            new_by_key[key] = _new_item(submission, key, routes, triage=triage, now=now)
        outcomes.append(new_by_key[key])
    _insert(connection, list(new_by_key.values()), now=now)
    return [outcome.number for outcome in outcomes]


def _new_item(
    submission: Submission, intake_key: str, routes: Sequence[Route], *, triage: Triage, now: datetime
) -> _NewItem:
    text = check_text(submission.text, kind=submission.kind)
    decision = choose_route(text=text, picked_area=submission.picked_area, routes=routes)
    route = decision.route
    row = {
        "kind": submission.kind,
        "status": ItemStatus.NEW,
        "text": text,
        "customers": (submission.customers or "")[:MAX_CUSTOMERS_LENGTH] or None,
        "journey_stage": submission.journey_stage,
        "severity": submission.severity if submission.kind is ItemKind.ALARM else None,
        "raiser_id": submission.raiser_id,
        "anonymous": submission.anonymous,
        "route_id": route.id if route else None,
        "area": route.area if route else None,
        "grey_area": route is None,
        "routed_by": decision.routed_by.value,
        "owner": route.owner if route else ",".join(triage.admins),
        "channel": route.channel if route else triage.channel,
        "source_channel": submission.source_channel,
        "source_ts": submission.source_ts,
        "intake_key": intake_key,
        "created_at": now,
        "updated_at": now,
    }
    return _NewItem(submission, row, decision.matched_keywords)


def _insert(connection: Connection, new_items: list[_NewItem], *, now: datetime) -> None:
    """The items with their `filed` events and outbox messages, in one batch (storage.filing).
    Items whose intake_key is already stored get that item's number and add nothing."""
    inserted = insert_filed(connection=connection, batch=[_rows(new, now) for new in new_items])
    repeats = [new.row["intake_key"] for new in new_items if new.row["intake_key"] not in inserted]
    stored = numbers_by_intake_key(connection=connection, intake_keys=repeats)
    for new in new_items:
        key = new.row["intake_key"]
        new.number = inserted[key] if key in inserted else stored[key]


def _rows(new: _NewItem, now: datetime) -> NewItemRows:
    event = {
        "kind": "filed",
        "actor": new.submission.raiser_id,
        "at": now,
        "data": {
            "routed_by": new.row["routed_by"],
            "area": new.row["area"],
            "owner": new.row["owner"],
            "matched_keywords": list(new.matched_keywords),
        },
    }
    messages = [pending_message(kind, payload, now=now) for kind, payload in _messages(new.submission.reply)]
    return NewItemRows(item=new.row, events=[event], messages=messages)


def _messages(reply: ReplyTarget) -> list[tuple[str, dict[str, Any]]]:
    """What Slack must hear about a new item: its card, then the raiser's confirmation."""
    return [
        (OutboxKind.POST_CARD, {}),
        (OutboxKind.CONFIRM_RAISER, {"response_url": reply.response_url, "channel_id": reply.channel_id}),
    ]
