"""An item's lifecycle: new → acknowledged → actioned or declined; also duplicate, reopened,
withdrawn, reassigned. Every change a person makes checks their permissions; every change appends
an event with its actor and time, and queues what Slack must hear, all in the caller's transaction."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.errors import CxError
from bot.items.permissions import Actor, manages, require_manager, require_raiser
from bot.items.sla import MAX_SNOOZES, SNOOZE, verify_after, working_days_after
from bot.outbox.kinds import OutboxKind, RaiserNews
from bot.outbox.messages import KUDOS, outgoing
from bot.routing.rules import Triage
from bot.slack.ids import is_owner
from storage import routes as route_queries
from storage.co_raisers import add_co_raiser, co_raisers_of, find_co_raiser
from storage.models import (
    OPEN_STATUSES,
    CoRaiser,
    CreditState,
    Event,
    Item,
    ItemKind,
    ItemStatus,
    Route,
    is_tombstone,
)
from storage.outbox import enqueue
from storage.verify import schedule_asks
from storage.votes import add_vote, remove_vote

CLOSED = (ItemStatus.ACTIONED, ItemStatus.DECLINED, ItemStatus.DUPLICATE)
MAX_RESOLUTION_LENGTH = 3000
CXBOT = "cxbot"  # the actor of changes no person made: the scheduled jobs'


class HandOverReason(enum.StrEnum):
    """Why cxbot itself reassigned an item (a reassigned event's `why`)."""

    OWNER_DEACTIVATED = "owner_deactivated"


class InvalidTransition(CxError):
    """The item's state doesn't allow this change (say, acknowledging a declined item)."""


@dataclass(frozen=True)
class Change:
    """What happened, for the handler to tell the actor."""

    item_id: int
    summary: str


def _restart_staleness(item: Item) -> None:
    """A new state starts a new staleness period: nags and escalation count afresh."""
    item.nag_count = 0
    item.last_nagged_at = None
    item.escalated_at = None


def record(session: Session, item: Item, kind: str, actor: str, now: datetime, **data: Any) -> None:
    item.updated_at = now
    session.add(Event(item_id=item.id, kind=kind, actor=actor, at=now, data=data))


def queue(
    session: Session, item: Item, kind: OutboxKind, now: datetime, *, to: str | None = None, **payload: Any
) -> None:
    """Queue a message about the item; `to` is whom it goes to if not the kind's usual person."""
    destination = to or _destination(item, kind)
    if destination is not None and is_tombstone(destination):
        return  # someone retention or `cxbot forget` removed: nobody to tell
    message = outgoing(kind, payload, item_id=item.id, to=destination)
    enqueue(session=session, message=message, now=now)


def _destination(item: Item, kind: OutboxKind) -> str | None:
    """The channel or person the message posts to, for pacing (bot/outbox/pacing.py)."""
    if kind in (OutboxKind.DM_RAISER, OutboxKind.ASK_CREDIT):
        return item.raiser_id
    if kind is OutboxKind.DM_OWNER:
        return item.owner
    if kind is OutboxKind.POST_KUDOS:
        return KUDOS
    return item.channel


def _tell_raiser(session: Session, item: Item, news: RaiserNews, now: datetime, **details: Any) -> None:
    """Tell the raiser, and each co-raiser, what became of the item."""
    queue(session, item, OutboxKind.DM_RAISER, now, news=news.value, **details)
    for co_raiser in co_raisers_of(session=session, item_id=item.id):
        person = co_raiser.user_id
        about = {"news": news.value, "co_raiser": person, "anonymous": co_raiser.anonymous, **details}
        queue(session, item, OutboxKind.DM_RAISER, now, to=person, **about)


def _require_state(item: Item, allowed: tuple[ItemStatus, ...], doing: str) -> None:
    if item.status not in allowed:
        raise InvalidTransition(f"#{item.id} is {item.status.value}, so it can't be {doing}.")


def acknowledge(
    *, session: Session, item: Item, actor: Actor, now: datetime, via: str, reply_text: str | None = None
) -> Change:
    require_manager(item, actor, "acknowledge it")
    if item.status is ItemStatus.ACKNOWLEDGED:
        return Change(item.id, f"#{item.id} was already acknowledged.")
    _require_state(item, (ItemStatus.NEW,), "acknowledged")
    item.status = ItemStatus.ACKNOWLEDGED
    item.acknowledged_at = now
    _restart_staleness(item)
    data: dict[str, Any] = {"via": via}
    if reply_text is not None:
        data["reply"] = reply_text
    record(session, item, "acknowledged", actor.user_id, now, **data)
    queue(session, item, OutboxKind.UPDATE_CARD, now)
    _tell_raiser(session, item, RaiserNews.ACKNOWLEDGED, now, by=actor.user_id)
    return Change(item.id, f"Acknowledged #{item.id}. The raiser has been told.")


def mark_actioned(
    *, session: Session, item: Item, actor: Actor, now: datetime, what_was_done: str, led_to_action: bool
) -> Change:
    require_manager(item, actor, "mark it actioned")
    _require_state(item, OPEN_STATUSES, "marked actioned")
    what = _required_text(what_was_done, "what was done")
    item.status = ItemStatus.ACTIONED
    item.acknowledged_at = item.acknowledged_at or now
    item.closed_at = now
    item.acted_by = actor.user_id
    item.resolution = what
    item.led_to_action = led_to_action
    record(session, item, "actioned", actor.user_id, now, what_was_done=what, led_to_action=led_to_action)
    queue(session, item, OutboxKind.UPDATE_CARD, now)
    _tell_raiser(session, item, RaiserNews.ACTIONED, now, by=actor.user_id, text=what)
    if led_to_action:
        _credit(session, item, now)
    _ask_if_fixed(session, item, now)
    return Change(item.id, f"Marked #{item.id} actioned. The raiser has been told what was done.")


def _ask_if_fixed(session: Session, item: Item, now: datetime) -> None:
    """Owe its raiser and co-raisers "did this fix it?" some working days from now (the route's
    `verify_after`; 0: never). The verify sweep asks (bot/jobs/verify.py)."""
    days = verify_after(item.route.verify_after if item.route is not None else None)
    if days <= 0:
        return
    people = [(item.raiser_id, item.anonymous)]
    people += [(c.user_id, c.anonymous) for c in co_raisers_of(session=session, item_id=item.id)]
    schedule_asks(session=session, item_id=item.id, people=people, due_at=working_days_after(now, days))


def _credit(session: Session, item: Item, now: datetime) -> None:
    """One public credit per item, ever; anonymous raisers (and co-raisers) are asked first."""
    if item.credit is not CreditState.NONE:
        return
    for co_raiser in co_raisers_of(session=session, item_id=item.id):
        if co_raiser.anonymous:
            queue(
                session, item, OutboxKind.ASK_CREDIT, now, to=co_raiser.user_id, co_raiser=co_raiser.user_id
            )
    if item.anonymous:
        item.credit = CreditState.ASKED
        queue(session, item, OutboxKind.ASK_CREDIT, now)
        return
    item.credit = CreditState.POSTED
    item.credited_at = now
    queue(session, item, OutboxKind.POST_KUDOS, now)


def set_credit_consent(
    *, session: Session, item: Item, actor: Actor, now: datetime, credit_me: bool
) -> Change:
    joined = find_co_raiser(session=session, item_id=item.id, user_id=actor.user_id)
    if joined is not None and joined.anonymous:
        return _co_raiser_consent(session, item, joined, now=now, credit_me=credit_me)
    require_raiser(item, actor, "choose how it's credited")
    if item.credit is not CreditState.ASKED:
        already = "credited" if item.credit is CreditState.POSTED else "kept anonymous"
        return Change(item.id, f"#{item.id} is already {already}; nothing changed.")
    record(session, item, "credit_consent", actor.user_id, now, credit_me=credit_me)
    if not credit_me:
        item.credit = CreditState.DECLINED
        return Change(item.id, f"Understood: #{item.id} stays anonymous. Thank you for raising it.")
    item.credit = CreditState.POSTED
    item.credited_at = now
    queue(session, item, OutboxKind.POST_KUDOS, now)
    return Change(item.id, f"Thank you! Your credit for #{item.id} is on its way to the kudos channel.")


def _co_raiser_consent(
    session: Session, item: Item, joined: CoRaiser, *, now: datetime, credit_me: bool
) -> Change:
    """An anonymous co-raiser answers "may we thank you by name?". If the item's kudos is out
    already, a short thanks follows it; if not, the kudos names them when it goes."""
    if joined.credit_me is not None:
        said = "credited" if joined.credit_me else "kept anonymous"
        return Change(item.id, f"You're already {said} on #{item.id}; nothing changed.")
    joined.credit_me = credit_me
    record(session, item, "credit_consent", joined.user_id, now, credit_me=credit_me, co_raiser=True)
    if not credit_me:
        return Change(item.id, f"Understood: you stay anonymous on #{item.id}. Thank you for raising it.")
    if item.credit is CreditState.POSTED:
        queue(session, item, OutboxKind.POST_KUDOS, now, thanks=joined.user_id)
    return Change(item.id, f"Thank you! Your credit for #{item.id} is on its way to the kudos channel.")


def decline(*, session: Session, item: Item, actor: Actor, now: datetime, why: str) -> Change:
    require_manager(item, actor, "decline it")
    _require_state(item, OPEN_STATUSES, "declined")
    reason = _required_text(why, "why")
    item.status = ItemStatus.DECLINED
    item.closed_at = now
    item.acted_by = actor.user_id
    item.resolution = reason
    item.led_to_action = False
    record(session, item, "declined", actor.user_id, now, why=reason)
    queue(session, item, OutboxKind.UPDATE_CARD, now)
    _tell_raiser(session, item, RaiserNews.DECLINED, now, by=actor.user_id, text=reason)
    return Change(item.id, f"Declined #{item.id}. The raiser has been told why.")


def reopen(*, session: Session, item: Item, actor: Actor, now: datetime) -> Change:
    require_manager(item, actor, "reopen it")
    _require_state(item, CLOSED, "reopened")
    previous = item.status
    item.status = ItemStatus.ACKNOWLEDGED
    item.acknowledged_at = item.acknowledged_at or now
    item.closed_at = None
    item.duplicate_of_id = None
    _restart_staleness(item)
    record(session, item, "reopened", actor.user_id, now, was=previous.value)
    queue(session, item, OutboxKind.UPDATE_CARD, now)
    _tell_raiser(session, item, RaiserNews.REOPENED, now, by=actor.user_id)
    return Change(item.id, f"Reopened #{item.id}.")


def reopen_for_raiser(*, session: Session, item: Item, raiser: str, now: datetime, note: str | None) -> None:
    """Back to acknowledged, because someone who raised it says the problem is still happening
    after it was marked actioned (bot/items/verify.py tells its owner)."""
    item.status = ItemStatus.ACKNOWLEDGED
    item.acknowledged_at = item.acknowledged_at or now
    item.closed_at = None
    _restart_staleness(item)
    record(session, item, "reopened", raiser, now, was=ItemStatus.ACTIONED.value, by_raiser=True, note=note)
    queue(session, item, OutboxKind.UPDATE_CARD, now)


def withdraw(*, session: Session, item: Item, actor: Actor, now: datetime) -> Change:
    require_raiser(item, actor, "withdraw it")
    if item.status is not ItemStatus.NEW:
        raise InvalidTransition(
            f"#{item.id} is {item.status.value}: its owner has it in hand, so it can't be withdrawn now."
        )
    item.status = ItemStatus.WITHDRAWN
    item.closed_at = now
    record(session, item, "withdrawn", actor.user_id, now)
    queue(session, item, OutboxKind.UPDATE_CARD, now)
    return Change(item.id, f"Withdrew #{item.id}.")


def mark_duplicate(*, session: Session, item: Item, actor: Actor, now: datetime, original_id: int) -> Change:
    require_manager(item, actor, "mark it a duplicate")
    _require_state(item, OPEN_STATUSES, "marked a duplicate")
    original = root_of(session, original_id)
    if original is None:
        raise InvalidTransition(f"There is no item #{original_id}.")
    if original.id == item.id:
        raise InvalidTransition(f"#{item.id} can't be a duplicate of itself.")
    fold_into(session=session, item=item, original=original, actor_id=actor.user_id, now=now)
    _tell_raiser(session, item, RaiserNews.DUPLICATE, now, by=actor.user_id, original=original.id)
    return Change(
        item.id,
        f"Marked #{item.id} a duplicate of #{original.id}; its raiser shares #{original.id}'s credit.",
    )


def fold_into(
    *, session: Session, item: Item, original: Item, actor_id: str, now: datetime, via: str = "duplicate"
) -> None:
    """Close `item` as a duplicate of `original`: its raiser, and its co-raisers, become
    co-raisers of the original (a raiser filed anonymously stays anonymous there)."""
    item.status = ItemStatus.DUPLICATE
    item.duplicate_of_id = original.id
    item.closed_at = now
    item.acted_by = actor_id
    record(session, item, "duplicate", actor_id, now, original=original.id)
    queue(session, item, OutboxKind.UPDATE_CARD, now)
    joining = [(item.raiser_id, item.anonymous)]
    joining += [(c.user_id, c.anonymous) for c in co_raisers_of(session=session, item_id=item.id)]
    for person, anonymous in joining:
        if person != original.raiser_id:
            add_co_raiser(
                session=session,
                item_id=original.id,
                user_id=person,
                anonymous=anonymous,
                via=via,
                now=now,
            )
    queue(session, original, OutboxKind.UPDATE_CARD, now)


def root_of(session: Session, item_id: int) -> Item | None:
    """Follow duplicate links to the item they all point at."""
    seen: set[int] = set()
    item = session.get(Item, item_id)
    while item is not None and item.duplicate_of_id is not None and item.id not in seen:
        seen.add(item.id)
        item = session.get(Item, item.duplicate_of_id)
    return item


def reassign(
    *,
    session: Session,
    item: Item,
    actor: Actor,
    now: datetime,
    to_area: str | None,
    to_person: str | None,
    triage: Triage,
) -> Change:
    require_manager(item, actor, "reassign it")
    _require_state(item, OPEN_STATUSES, "reassigned")
    if to_area:
        route = route_queries.route_by_area(session=session, area=to_area)
        if route is None:
            raise InvalidTransition(f"There is no area called {to_area!r} any more.")
        home = _Home(route.id, route.area, route.owner, route.channel)
    elif to_person and is_owner(to_person):
        home = _Home(item.route_id, item.area, to_person, item.channel)
    else:
        raise InvalidTransition("Pick an area or a person to hand it to.")
    if home.owner == item.owner and home.channel == item.channel:
        raise InvalidTransition(f"#{item.id} already belongs there.")
    _move(session, item, home, actor.user_id, now, quiet_for=(actor.user_id,))
    where = f"*{item.area}*" if to_area else f"<@{item.owner}>"
    return Change(item.id, f"Reassigned #{item.id} to {where}.")


def move_to_route(
    *, session: Session, item: Item, route: Route, actor_id: str, now: datetime, claimed_by: str
) -> None:
    """Move an open grey area to the route just made for it from a claim ("I can own this"): it is
    new again for the route's owner, in the route's channel, and the event says who claimed it."""
    home = _Home(route.id, route.area, route.owner, route.channel)
    _move(session, item, home, actor_id, now, quiet_for=(actor_id, claimed_by), claimed_by=claimed_by)


@dataclass(frozen=True)
class _Home:
    """Where an item lives: its route, area, owner and channel."""

    route_id: int | None
    area: str | None
    owner: str
    channel: str


def _move(
    session: Session,
    item: Item,
    home: _Home,
    actor_id: str,
    now: datetime,
    *,
    quiet_for: tuple[str, ...],
    **why: str,
) -> None:
    """Give the item a new home. Its card moves if the channel does; its new owner gets a DM unless
    they are among `quiet_for` (who made the change, or already know)."""
    before = {"owner": item.owner, "area": item.area, "channel": item.channel, "grey_area": item.grey_area}
    old_card = (item.channel, item.card_ts)
    item.route_id, item.area, item.owner, item.channel = home.route_id, home.area, home.owner, home.channel
    _new_for_its_owner(session, item, before, actor_id, now, **why)
    if item.channel != before["channel"]:
        item.card_ts = None
        if old_card[1]:
            queue(session, item, OutboxKind.RETIRE_CARD, now, channel=old_card[0], ts=old_card[1])
        queue(session, item, OutboxKind.POST_CARD, now)
    else:
        queue(session, item, OutboxKind.UPDATE_CARD, now)
    if not item.owner.startswith("S") and item.owner not in quiet_for:
        queue(session, item, OutboxKind.DM_OWNER, now, by=actor_id)


def hand_over(*, session: Session, item: Item, to_owner: str, now: datetime, why: HandOverReason) -> None:
    """Reassign an open item with no person behind it (the nag sweep, say): it keeps its area and
    channel, goes to `to_owner` (a user, a user group, or several users, comma-separated), new again
    for them, and its card is updated; the event says why, and so does the card."""
    before = {"owner": item.owner, "area": item.area, "channel": item.channel, "grey_area": item.grey_area}
    item.owner = to_owner
    _new_for_its_owner(session, item, before, CXBOT, now, why=why.value)
    queue(session, item, OutboxKind.UPDATE_CARD, now)


def _new_for_its_owner(
    session: Session, item: Item, before: dict[str, Any], actor_id: str, now: datetime, **why: str
) -> None:
    """What every reassignment does: the item is new again for its new owner, and says where it
    came from."""
    item.grey_area = False
    item.status = ItemStatus.NEW
    item.acknowledged_at = None
    _restart_staleness(item)
    record(
        session,
        item,
        "reassigned",
        actor_id,
        now,
        from_owner=before["owner"],
        to_owner=item.owner,
        from_area=before["area"],
        to_area=item.area,
        from_grey_area=before["grey_area"],
        **why,
    )


def comment(*, session: Session, item: Item, actor: Actor, now: datetime, text: str, ts: str) -> None:
    record(session, item, "comment", actor.user_id, now, text=text, ts=ts)


def reply_in_thread(*, session: Session, item: Item, actor: Actor, now: datetime, text: str, ts: str) -> None:
    """A thread reply on the card: it acknowledges a new item when its author manages the item;
    otherwise it is kept as a comment."""
    if item.status is ItemStatus.NEW and manages(item, actor):
        acknowledge(session=session, item=item, actor=actor, now=now, via="thread_reply", reply_text=text)
        return
    comment(session=session, item=item, actor=actor, now=now, text=text, ts=ts)


def snooze(*, session: Session, item: Item, actor: Actor, now: datetime) -> Change:
    """Quiet the nags about an item for a day; twice at most."""
    require_manager(item, actor, "snooze it")
    _require_state(item, OPEN_STATUSES, "snoozed")
    if item.snooze_count >= MAX_SNOOZES:
        raise InvalidTransition(
            f"#{item.id} has been snoozed {MAX_SNOOZES} times already. Please act on it, decline it, "
            "or reassign it."
        )
    item.snooze_count += 1
    item.snoozed_until = now + SNOOZE
    record(session, item, "snoozed", actor.user_id, now, until=item.snoozed_until.isoformat())
    left = MAX_SNOOZES - item.snooze_count
    return Change(item.id, f"Snoozed #{item.id} for a day ({left} snooze{'s' if left != 1 else ''} left).")


def toggle_vote(*, session: Session, item: Item, voter: str, now: datetime) -> bool:
    """Add the voter's upvote, or take it back. Returns whether they now vote for it."""
    if item.kind is not ItemKind.IDEA:
        raise InvalidTransition(f"#{item.id} is an alarm; only ideas take votes.")
    if remove_vote(session=session, item_id=item.id, voter_id=voter):
        voted = False
    else:
        add_vote(session=session, item_id=item.id, voter_id=voter, now=now)
        voted = True
    record(session, item, "vote" if voted else "unvote", voter, now)
    queue(session, item, OutboxKind.UPDATE_CARD, now)
    return voted


def _required_text(text: str, what: str) -> str:
    """The text as typed (stored verbatim), once it is known to say something and to fit."""
    if not text.strip():
        raise InvalidTransition(f"Please say {what}.")
    if len(text) > MAX_RESOLUTION_LENGTH:
        raise InvalidTransition(f"Please keep {what} under {MAX_RESOLUTION_LENGTH:,} characters.")
    return text
