"""What an item's card shows beyond the item's own columns, read in the caller's session: for
whatever renders the card (bot.blocks.card.card_blocks)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.blocks.card import CardExtras, HandedOver
from bot.blocks.notices import channel_problem_notice
from bot.blocks.verify import confirmed_line, reopened_line
from bot.items.lifecycle import HandOverReason
from storage.co_raisers import co_raiser_count
from storage.items import last_event_data
from storage.models import OPEN_STATUSES, Item, ItemStatus
from storage.verify import fixed_count
from storage.votes import vote_count

# The event recorded when a route's channel refused a card and it went to triage instead.
REROUTED = "card_rerouted"


def card_extras(*, session: Session, item: Item, triage_channel: str) -> CardExtras:
    return CardExtras(
        votes=vote_count(session=session, item_id=item.id),
        co_raisers=co_raiser_count(session=session, item_id=item.id),
        handed_over=handed_over(session=session, item=item),
        notices=rerouted(session=session, item=item, triage_channel=triage_channel),
        verification=verification(session=session, item=item),
    )


def verification(*, session: Session, item: Item) -> str | None:
    """While it is actioned, whether its raisers confirmed the fix; while it is open again because
    one of them said it is still happening, that (and what they still see)."""
    if item.status is ItemStatus.ACTIONED:
        fixed = fixed_count(session=session, item_id=item.id)
        return confirmed_line(fixed) if fixed else None
    if item.status in OPEN_STATUSES:
        data = last_event_data(session=session, item_id=item.id, kind="reopened")
        if data is not None and data.get("by_raiser"):
            return reopened_line(data.get("note"))
    return None


def rerouted(*, session: Session, item: Item, triage_channel: str) -> tuple[str, ...]:
    """Why a card is in triage, while it is: its route's channel refused it."""
    data = last_event_data(session=session, item_id=item.id, kind=REROUTED)
    if data is None or item.channel != triage_channel:
        return ()
    notice = channel_problem_notice(
        channel=str(data["channel"]), area=data.get("area"), problem=str(data["problem"])
    )
    return (notice,)


def handed_over(*, session: Session, item: Item) -> HandedOver | None:
    """Why its owner has it, while they still do: the latest reassignment, if cxbot made it because
    the owner before was deactivated."""
    data = last_event_data(session=session, item_id=item.id, kind="reassigned")
    if (
        data is None
        or data.get("why") != HandOverReason.OWNER_DEACTIVATED
        or data.get("to_owner") != item.owner
    ):
        return None
    return HandedOver(from_owner=str(data.get("from_owner") or ""), to_owner=item.owner)
