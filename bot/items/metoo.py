""" "Me too": people who raise the same problem join its item as co-raisers instead of filing it
again. Co-raisers hear what its owner does, as its raiser does, and share its credit. When many
join one alarm within an hour, it is a storm: its severity goes up once and its owner is told."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.blocks.replies import Suggestion
from bot.items import lifecycle
from bot.items.lifecycle import Change, InvalidTransition
from bot.items.permissions import Actor, require_raiser
from bot.items.similar import Match, best_matches, search
from bot.outbox.kinds import OutboxKind
from storage.co_raisers import add_co_raiser, joined_since, open_items_like, raised_by_counts
from storage.items import last_event_data
from storage.models import OPEN_STATUSES, Item, ItemKind, ItemStatus, Severity

# Open items raised this recently are suggested at filing.
SUGGEST_WITHIN = timedelta(days=30)
SUGGESTIONS = 3
# A storm: this many joining one alarm within STORM_WINDOW (CX_STORM_JOINERS changes the count).
DEFAULT_STORM_JOINERS = 5
STORM_WINDOW = timedelta(hours=1)
# In a storm, the card shows the joiners at most this often.
STORM_CARD_EVERY = timedelta(minutes=1)
STORM = "storm"
_ONE_UP = {
    None: Severity.HIGH,  # an alarm filed without a severity counts as medium
    Severity.LOW: Severity.MEDIUM,
    Severity.MEDIUM: Severity.HIGH,
    Severity.HIGH: Severity.CRITICAL,
    Severity.CRITICAL: Severity.CRITICAL,
}


def find(session: Session, query: str, *, now: datetime, limit: int = 5) -> list[Suggestion]:
    """Open alarms and ideas raised in the last SUGGEST_WITHIN whose text has the query's words:
    App Home's "me too" search."""
    since = now - SUGGEST_WITHIN
    candidates = [
        candidate
        for kind in ItemKind
        for candidate in open_items_like(session=session, kind=kind, since=since, leave_out=0)
    ]
    return _suggestions(session, search(query, candidates, limit=limit))


def suggestions_for(session: Session, item: Item, *, now: datetime) -> list[Suggestion]:
    """Up to SUGGESTIONS open items of the same kind, raised in the last SUGGEST_WITHIN, that read
    like `item`, in any area: the raiser may join one instead."""
    candidates = open_items_like(
        session=session, kind=item.kind, since=now - SUGGEST_WITHIN, leave_out=item.id
    )
    return _suggestions(session, best_matches(item.text, candidates, limit=SUGGESTIONS))


def _suggestions(session: Session, matches: list[Match]) -> list[Suggestion]:
    counts = raised_by_counts(session=session, item_ids=[match.key for match in matches])
    found = []
    for match in matches:
        similar = session.get(Item, match.key)
        if similar is not None:
            found.append(Suggestion(similar.id, similar.text, similar.area, counts[similar.id]))
    return found


def join(
    *,
    session: Session,
    item: Item,
    actor: Actor,
    now: datetime,
    via: str,
    anonymous: bool = False,
    storm_joiners: int = DEFAULT_STORM_JOINERS,
) -> Change:
    """Make the actor a co-raiser of the item."""
    if item.status not in OPEN_STATUSES:
        raise InvalidTransition(f"#{item.id} is {item.status.value} already; there's nothing to join.")
    if actor.user_id == item.raiser_id:
        raise InvalidTransition(f"You raised #{item.id} yourself: you'll hear what its owner does.")
    if not add_co_raiser(
        session=session, item_id=item.id, user_id=actor.user_id, anonymous=anonymous, via=via, now=now
    ):
        raise InvalidTransition(f"You're already on #{item.id}: you'll hear what its owner does.")
    lifecycle.record(session, item, "co_raised", actor.user_id, now, via=via, anonymous=anonymous)
    storming = item.kind is ItemKind.ALARM and _storming(session, item, now=now, joiners=storm_joiners)
    if storming:
        _raise_the_storm(session, item, now=now)
    # In a storm the card waits a minute, gathering everyone who joins meanwhile into one update.
    lifecycle.queue(
        session, item, OutboxKind.UPDATE_CARD, now + (STORM_CARD_EVERY if storming else timedelta(0))
    )
    return Change(item.id, f"You're on #{item.id} now: you'll hear what its owner does, as its raiser does.")


def join_instead(
    *, session: Session, item: Item, target: Item, actor: Actor, now: datetime, storm_joiners: int
) -> Change:
    """The raiser of a just-filed `item` joins `target` instead: `item` is folded into it, as a
    duplicate, and the raiser becomes a co-raiser (anonymous there if they filed anonymously)."""
    require_raiser(item, actor, "join it to another item")
    if item.status is not ItemStatus.NEW:
        raise InvalidTransition(f"#{item.id}'s owner has it in hand already, so it stays as it is.")
    original = lifecycle.root_of(session, target.id)
    if original is None or original.id == item.id:
        raise InvalidTransition(f"#{target.id} can't take #{item.id}.")
    if original.status not in OPEN_STATUSES:
        raise InvalidTransition(
            f"#{original.id} is {original.status.value} already, so #{item.id} stays open."
        )
    lifecycle.fold_into(
        session=session, item=item, original=original, actor_id=actor.user_id, now=now, via="filing"
    )
    lifecycle.record(
        session, original, "co_raised", actor.user_id, now, via="filing", anonymous=item.anonymous
    )
    if original.kind is ItemKind.ALARM and _storming(session, original, now=now, joiners=storm_joiners):
        _raise_the_storm(session, original, now=now)
    return Change(
        original.id,
        f"You're on #{original.id} now, and #{item.id} is folded into it: you'll hear what its owner does.",
    )


def _storming(session: Session, item: Item, *, now: datetime, joiners: int) -> bool:
    return joined_since(session=session, item_id=item.id, since=now - STORM_WINDOW) >= joiners


def _raise_the_storm(session: Session, item: Item, *, now: datetime) -> None:
    """Once per item: its severity goes up a level and its owner gets one notice."""
    if last_event_data(session=session, item_id=item.id, kind=STORM) is not None:
        return
    before = item.severity
    item.severity = _ONE_UP[item.severity]
    joined = joined_since(session=session, item_id=item.id, since=now - STORM_WINDOW)
    lifecycle.record(
        session,
        item,
        STORM,
        lifecycle.CXBOT,
        now,
        joined=joined,
        severity_before=before.value if before else None,
        severity=item.severity.value,
    )
    lifecycle.queue(session, item, OutboxKind.DM_OWNER, now, storm=joined)
