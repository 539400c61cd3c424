"""The owner's loop, as flows for the handlers: each opens one transaction, acts once per request
key, applies one lifecycle change, commits, and wakes the outbox."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.blocks.replies import Suggestion
from bot.deps import Deps
from bot.errors import CxError
from bot.items import lifecycle, metoo
from bot.items.lifecycle import Change
from bot.items.permissions import Actor, require_manager
from storage import requests
from storage.db import transaction
from storage.items import item_by_card, item_for_update, last_event_at
from storage.models import Item

log = logging.getLogger(__name__)

VOTE_DEBOUNCE = timedelta(seconds=2)
Apply = Callable[[Session, Item, Actor], Change | None]


class ItemNotFound(CxError):
    pass


def actor(deps: Deps, user_id: str) -> Actor:
    return Actor(user_id=user_id, admins=deps.settings.admins, members_of=deps.members_of)


def change_item(deps: Deps, *, item_id: int, user_id: str, key: str | None, apply: Apply) -> Change | None:
    """Apply one change to an item. Returns None when `key` was already handled (a retry or a
    double submission): the first one acted, this one does nothing."""
    who = actor(deps, user_id)
    try:
        with transaction(deps.session_factory) as session:
            if key is not None and requests.seen(session=session, key=key):
                return None
            item = item_for_update(session=session, item_id=item_id)
            if item is None:
                raise ItemNotFound(f"I can't find item #{item_id}.")
            change = apply(session, item, who)
            if key is not None:
                requests.remember(session=session, key=key, now=deps.clock())
    except IntegrityError:
        if key is None:
            raise
        return None
    deps.wake_outbox()
    return change


def check_manager(deps: Deps, *, item_id: int, user_id: str, doing: str) -> Item:
    """The item, if `user_id` may manage it; otherwise NotAllowed, before a modal is opened."""
    with deps.session_factory() as session:
        item = session.get(Item, item_id)
    if item is None:
        raise ItemNotFound(f"I can't find item #{item_id}.")
    require_manager(item, actor(deps, user_id), doing)
    return item


def thread_reply(
    deps: Deps, *, channel: str, thread_ts: str, user_id: str, text: str, ts: str, event_id: str
) -> bool:
    """A reply in a card's thread. Returns whether it was about an item."""
    with deps.session_factory() as session:
        item = item_by_card(session=session, channel=channel, card_ts=thread_ts)
    if item is None:
        return False
    now = deps.clock()

    def apply(session: Session, item: Item, who: Actor) -> None:
        lifecycle.reply_in_thread(session=session, item=item, actor=who, now=now, text=text, ts=ts)

    change_item(deps, item_id=item.id, user_id=user_id, key=f"event:{event_id}", apply=apply)
    return True


def vote(deps: Deps, *, item_id: int, user_id: str) -> Change | None:
    now = deps.clock()

    def apply(session: Session, item: Item, who: Actor) -> Change | None:
        last = last_event_at(session=session, item_id=item.id, actor=who.user_id, kinds=("vote", "unvote"))
        if last is not None and now - last < VOTE_DEBOUNCE:
            return None  # a double click: the first click counted
        voted = lifecycle.toggle_vote(session=session, item=item, voter=who.user_id, now=now)
        return Change(item.id, f"Upvoted #{item.id}." if voted else f"Took back your vote on #{item.id}.")

    return change_item(deps, item_id=item_id, user_id=user_id, key=None, apply=apply)


def me_too(deps: Deps, *, item_id: int, user_id: str, via: str) -> Change | None:
    """Someone says "me too" to an open item, from its card or App Home."""
    now = deps.clock()

    def apply(session: Session, item: Item, who: Actor) -> Change:
        return metoo.join(
            session=session, item=item, actor=who, now=now, via=via, storm_joiners=deps.settings.storm_joiners
        )

    return change_item(deps, item_id=item_id, user_id=user_id, key=None, apply=apply)


def join_instead(deps: Deps, *, filed_id: int, target_id: int, user_id: str) -> Change | None:
    """The raiser of a just-filed item joins a similar open one instead (their confirmation's
    suggestion): the just-filed item folds into it."""
    now = deps.clock()

    def apply(session: Session, item: Item, who: Actor) -> Change:
        target = item_for_update(session=session, item_id=target_id)
        if target is None:
            raise ItemNotFound(f"I can't find item #{target_id}.")
        return metoo.join_instead(
            session=session,
            item=item,
            target=target,
            actor=who,
            now=now,
            storm_joiners=deps.settings.storm_joiners,
        )

    return change_item(deps, item_id=filed_id, user_id=user_id, key=None, apply=apply)


def find_open_items(deps: Deps, query: str) -> list[Suggestion]:
    """App Home's "me too" search."""
    with deps.session_factory() as session:
        return metoo.find(session, query, now=deps.clock())
