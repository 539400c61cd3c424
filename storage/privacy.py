"""Retention and erasure: closed items purged of their free text and their people, and one person
removed from every table, each person replaced by a tombstone of their own (TOMBSTONE_PREFIX).

What each table keeps:

- items: kind, area, stage, severity, status, routing, owner, timestamps, credit. Purged: text
  (left empty), customers, resolution, the raised message's link; raiser_id and acted_by name
  tombstones. Forget: the same for the items they raised (but not the owner's resolution), and
  their ID wherever else it is (acted_by, the owner of a closed item).
- events: kind, time and every non-text detail the digest reads. The text keys (FREE_TEXT_KEYS)
  become null; people become their tombstones, in `actor` and in `data`.
- co_raisers, votes, verify_asks: the rows stay (the digest and the top ideas count them), with
  tombstones; a "did this fix it?" note goes.
- route_claims, routes.claimed_by: untouched by retention (who owns which area); forget replaces
  the person.
- outbox: delivered (sent) and failed messages lose the person (forget), or everything they said
  (retention: the payload of a purged item's sent messages is emptied); pending and sending
  ones are never touched, so nothing waiting to be delivered breaks.
- slack_pace: forget drops their DM pacing row (a time, keyed by their ID).
- handled_requests and job_runs hold keys and counts, no people.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, Text, bindparam, delete, func, or_, select, update
from sqlalchemy import cast as as_type
from sqlalchemy.orm import Session

from storage.models import (
    OPEN_STATUSES,
    TOMBSTONE_PREFIX,
    CoRaiser,
    Event,
    Item,
    OutboxMessage,
    OutboxStatus,
    Route,
    RouteClaim,
    SlackPace,
    VerifyAsk,
    Vote,
    is_tombstone,
)

# What people wrote, in events' data: a reply in the card's thread, a comment, what was done, why
# it was declined, what a raiser still sees.
FREE_TEXT_KEYS = ("reply", "text", "what_was_done", "why", "note")
DELIVERED = (OutboxStatus.SENT, OutboxStatus.FAILED)

_ITEMS = cast(Table, Item.__table__)
_EVENTS = cast(Table, Event.__table__)
_CO_RAISERS = cast(Table, CoRaiser.__table__)
_VOTES = cast(Table, Vote.__table__)
_ASKS = cast(Table, VerifyAsk.__table__)
_OUTBOX = cast(Table, OutboxMessage.__table__)

Counts = dict[str, int]


def new_tombstone() -> str:
    """A fresh stand-in for one person: random, so it can't be traced back to them."""
    return TOMBSTONE_PREFIX + secrets.token_hex(8)


# --- Retention -------------------------------------------------------------------------------


def purgeable_items(*, session: Session, closed_before: Any, limit: int) -> list[int]:
    """Up to `limit` closed items, closed before `closed_before` and not purged yet, lowest first."""
    query = (
        select(Item.id)
        .where(
            Item.purged_at.is_(None),
            Item.closed_at.is_not(None),
            Item.closed_at < closed_before,
            Item.status.not_in(OPEN_STATUSES),
        )
        .order_by(Item.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def purge_items(*, session: Session, ids: Sequence[int], now: Any, tombstones: dict[str, str]) -> Counts:
    """Take the free text and the people (raisers, co-raisers, voters, commenters) from these
    items, in the caller's transaction. `tombstones` maps each person to theirs and grows as new
    people turn up, so that one person is one tombstone across a run's batches."""
    if not ids:
        return {}
    people = _people_of(session, ids)
    for person in people:
        tombstones.setdefault(person, new_tombstone())
    swap = {person: tombstones[person] for person in people}
    return {
        "items": _purge_item_rows(session, ids, swap, now),
        "events": _rewrite_events(session, select(Event).where(Event.item_id.in_(ids)), swap, text_of=None),
        "co_raisers": _swap_keyed(session, _CO_RAISERS, "user_id", ids, swap),
        "votes": _swap_keyed(session, _VOTES, "voter_id", ids, swap),
        "verify_asks": _swap_keyed(session, _ASKS, "user_id", ids, swap, note=None),
        "outbox": _empty_sent_payloads(session, ids),
    }


def _people_of(session: Session, ids: Sequence[int]) -> set[str]:
    found = (
        select(Item.raiser_id).where(Item.id.in_(ids)),
        select(CoRaiser.user_id).where(CoRaiser.item_id.in_(ids)),
        select(Vote.voter_id).where(Vote.item_id.in_(ids)),
        select(VerifyAsk.user_id).where(VerifyAsk.item_id.in_(ids)),
        select(Event.actor).where(Event.item_id.in_(ids), Event.kind == "comment"),
    )
    return {person for query in found for person in session.scalars(query) if not is_tombstone(person)}


def _purge_item_rows(session: Session, ids: Sequence[int], swap: Mapping[str, str], now: Any) -> int:
    rows = session.execute(select(Item.id, Item.raiser_id, Item.acted_by).where(Item.id.in_(ids))).all()
    changes = [
        {
            "item": item_id,
            "raiser": swap.get(raiser, raiser),
            "actor": swap.get(acted_by, acted_by) if acted_by else acted_by,
        }
        for item_id, raiser, acted_by in rows
    ]
    statement = (
        update(_ITEMS)
        .where(_ITEMS.c.id == bindparam("item"))
        .values(
            raiser_id=bindparam("raiser"),
            acted_by=bindparam("actor"),
            text="",
            customers=None,
            resolution=None,
            source_permalink=None,
            source_channel=None,
            source_ts=None,
            purged_at=now,
        )
    )
    session.connection().execute(statement, changes)
    return len(changes)


def _swap_keyed(
    session: Session,
    table: Table,
    column: str,
    ids: Sequence[int],
    swap: Mapping[str, str],
    **also: Any,
) -> int:
    """Replace each person in `column` (part of the primary key, with item_id) on these items."""
    person = table.c[column]
    rows = session.execute(select(table.c.item_id, person).where(table.c.item_id.in_(ids))).all()
    changes = [{"item": item_id, "old": who, "new": swap[who]} for item_id, who in rows if who in swap]
    if changes:
        statement = (
            update(table)
            .where(table.c.item_id == bindparam("item"), person == bindparam("old"))
            .values({column: bindparam("new"), **also})
        )
        session.connection().execute(statement, changes)
    return len(changes)


def _empty_sent_payloads(session: Session, ids: Sequence[int]) -> int:
    """A purged item's delivered messages keep no payload: it held what they said, and to whom."""
    statement = (
        update(_OUTBOX)
        .where(_OUTBOX.c.item_id.in_(ids), _OUTBOX.c.status == OutboxStatus.SENT)
        .values(payload={}, pace_key=None, coalesce_key=None)
    )
    return int(getattr(session.connection().execute(statement), "rowcount", 0) or 0)


# --- Events, for both --------------------------------------------------------------------------


def _rewrite_events(session: Session, query: Any, swap: Mapping[str, str], *, text_of: str | None) -> int:
    """Put tombstones for people in the events `query` finds, and drop their free text: every
    event's (text_of None: retention), or only that written by `text_of` (forget)."""
    changes = []
    for event_id, actor, data in session.execute(query.with_only_columns(Event.id, Event.actor, Event.data)):
        new_data = _swapped(data or {}, swap)
        if text_of is None or actor == text_of:
            new_data = {key: None if key in FREE_TEXT_KEYS else value for key, value in new_data.items()}
        new_actor = swap.get(actor, actor)
        if new_actor != actor or new_data != (data or {}):
            changes.append({"event": event_id, "new_actor": new_actor, "details": new_data})
    if changes:
        statement = (
            update(_EVENTS)
            .where(_EVENTS.c.id == bindparam("event"))
            .values(actor=bindparam("new_actor"), data=bindparam("details", type_=_EVENTS.c.data.type))
        )
        session.connection().execute(statement, changes)
    return len(changes)


_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,20}")


def _swapped(value: Any, swap: Mapping[str, str]) -> Any:
    """`value` with every person in `swap` replaced, wherever they appear in its strings (an ID, a
    comma-separated list of owners, a mention in rendered text)."""
    if isinstance(value, str):
        return _SLACK_USER.sub(lambda found: swap.get(found.group(), found.group()), value)
    if isinstance(value, list):
        return [_swapped(part, swap) for part in value]
    if isinstance(value, dict):
        return {key: _swapped(part, swap) for key, part in value.items()}
    return value


# --- Forget ------------------------------------------------------------------------------------


def still_responsible(*, session: Session, user_id: str) -> list[str]:
    """What the person still looks after, which forgetting them would orphan: open items they own
    and active routes they own or are escalated to."""
    owns = or_(Item.owner == user_id, _in_list(Item.owner, user_id))
    items = session.scalars(select(Item.id).where(Item.status.in_(OPEN_STATUSES), owns).order_by(Item.id))
    found = [f"open item #{item_id}" for item_id in items]
    routes = session.scalars(
        select(Route.area).where(
            Route.active.is_(True), or_(Route.owner == user_id, Route.escalate_to == user_id)
        )
    )
    found += [f"route {area!r}" for area in routes]
    return found


def _in_list(column: Any, user_id: str) -> Any:
    return ("," + column + ",").contains("," + user_id + ",")


def forget_person(*, session: Session, user_id: str, tombstone: str) -> Counts:
    """Replace `user_id` with `tombstone` in every table, in the caller's transaction, and drop the
    free text they wrote (the text of items they raised, their comments, replies and notes). Rows
    changed, by table. Messages still waiting for Slack are left as they are (see waiting_about)."""
    swap = {user_id: tombstone}
    raised = [*session.scalars(select(Item.id).where(Item.raiser_id == user_id))]
    counts: Counts = {"items raised": len(raised)}
    connection = session.connection()
    if raised:
        connection.execute(
            update(_ITEMS)
            .where(_ITEMS.c.raiser_id == user_id)
            .values(
                raiser_id=tombstone,
                text="",
                customers=None,
                source_permalink=None,
                source_channel=None,
                source_ts=None,
            )
        )
    counts["items acted on"] = _rowcount(
        connection.execute(update(_ITEMS).where(_ITEMS.c.acted_by == user_id).values(acted_by=tombstone))
    )
    counts["items owned"] = _swap_owner(session, user_id, tombstone)
    counts["events"] = _rewrite_events(
        session,
        select(Event).where(or_(Event.actor == user_id, as_type(Event.data, Text).contains(user_id))),
        swap,
        text_of=user_id,
    )
    counts["co_raisers"] = _update(session, _CO_RAISERS.c.user_id, user_id, tombstone)
    counts["votes"] = _update(session, _VOTES.c.voter_id, user_id, tombstone)
    counts["verify_asks"] = _update(session, _ASKS.c.user_id, user_id, tombstone, note=None)
    counts["route_claims"] = _forget_in_claims(session, user_id, tombstone)
    counts["routes"] = _update(session, cast(Table, Route.__table__).c.claimed_by, user_id, tombstone)
    counts["outbox"] = _forget_in_outbox(session, swap)
    counts["slack_pace"] = _rowcount(
        connection.execute(delete(SlackPace).where(SlackPace.key.contains(user_id)))
    )
    return counts


def waiting_about(*, session: Session, user_id: str) -> int:
    """Messages to or about the person that Slack hasn't been given yet (forget leaves them)."""
    query = select(func.count()).where(
        OutboxMessage.status.not_in(DELIVERED),
        or_(
            as_type(OutboxMessage.payload, Text).contains(user_id),
            OutboxMessage.pace_key.contains(user_id),
        ),
    )
    return int(session.scalar(query) or 0)


def _update(session: Session, column: Any, user_id: str, tombstone: str, **also: Any) -> int:
    statement = update(column.table).where(column == user_id).values({column.name: tombstone, **also})
    return _rowcount(session.connection().execute(statement))


def _swap_owner(session: Session, user_id: str, tombstone: str) -> int:
    """Closed items they owned, alone or among the CX leads (open ones: still_responsible)."""
    rows = session.execute(
        select(Item.id, Item.owner).where(
            Item.status.not_in(OPEN_STATUSES), or_(Item.owner == user_id, _in_list(Item.owner, user_id))
        )
    ).all()
    changes = [
        {
            "item": item_id,
            "new_owner": ",".join(tombstone if part == user_id else part for part in owner.split(",")),
        }
        for item_id, owner in rows
    ]
    if changes:
        statement = (
            update(_ITEMS).where(_ITEMS.c.id == bindparam("item")).values(owner=bindparam("new_owner"))
        )
        session.connection().execute(statement, changes)
    return len(changes)


def _forget_in_claims(session: Session, user_id: str, tombstone: str) -> int:
    claims = cast(Table, RouteClaim.__table__)
    total = 0
    for column in (claims.c.claimer, claims.c.decided_by, claims.c.owner):
        total += _update(session, column, user_id, tombstone)
    return total


def _forget_in_outbox(session: Session, swap: Mapping[str, str]) -> int:
    [user_id] = swap
    query = select(
        OutboxMessage.id, OutboxMessage.payload, OutboxMessage.pace_key, OutboxMessage.coalesce_key
    ).where(
        OutboxMessage.status.in_(DELIVERED),
        or_(
            as_type(OutboxMessage.payload, Text).contains(user_id),
            OutboxMessage.pace_key.contains(user_id),
            OutboxMessage.coalesce_key.contains(user_id),
        ),
    )
    changes = [
        {
            "message": message_id,
            "details": _swapped(payload, swap),
            "pace": _swapped(pace, swap),
            "coalesce": _swapped(coalesce, swap),
        }
        for message_id, payload, pace, coalesce in session.execute(query)
    ]
    if changes:
        statement = (
            update(_OUTBOX)
            .where(_OUTBOX.c.id == bindparam("message"))
            .values(
                payload=bindparam("details", type_=_OUTBOX.c.payload.type),
                pace_key=bindparam("pace"),
                coalesce_key=bindparam("coalesce"),
            )
        )
        session.connection().execute(statement, changes)
    return len(changes)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
