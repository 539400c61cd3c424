"""What an item's card shows beyond the item's own columns, read in the caller's session: for
whatever renders the card (bot.blocks.card.card_blocks)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.blocks.card import CardExtras, HandedOver
from bot.items.lifecycle import HandOverReason
from storage.items import last_event_data
from storage.models import Item
from storage.votes import vote_count


def card_extras(*, session: Session, item: Item) -> CardExtras:
    return CardExtras(
        votes=vote_count(session=session, item_id=item.id),
        handed_over=handed_over(session=session, item=item),
    )


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
