"""How each kind of message is queued: how urgent it is, which of Slack's rate limits its call
counts against (bot/outbox/pacing.py), and whether repeats merge into one delivery."""

from __future__ import annotations

from typing import Any

from bot.outbox.kinds import OutboxKind, Priority
from bot.outbox.pacing import card_key, home_key, method_key, post_key
from storage.outbox import NewMessage

_PRIORITY = {
    OutboxKind.POST_CARD: Priority.FIRST,
    OutboxKind.CONFIRM_RAISER: Priority.FIRST,
    OutboxKind.DM_NAG: Priority.CAN_WAIT,
    OutboxKind.ASK_VERIFY: Priority.CAN_WAIT,
    OutboxKind.ESCALATE: Priority.CAN_WAIT,
    OutboxKind.THREAD_NOTE: Priority.CAN_WAIT,
    OutboxKind.POST_DIGEST: Priority.CAN_WAIT,
    OutboxKind.POST_DIGEST_CHART: Priority.CAN_WAIT,
    OutboxKind.PUBLISH_HOME: Priority.CAN_WAIT,
}
# Where the kudos channel's posts are paced; the queueing code doesn't know its ID.
KUDOS = "kudos"


def outgoing(kind: OutboxKind, payload: dict[str, Any], *, item_id: int | None, to: str | None) -> NewMessage:
    """A message to queue. `to` is the channel or person it posts to (a card's channel, a DM's
    person), so that it is paced by that channel's limit; card updates and App Home publishes
    are paced by the card and the person."""
    return NewMessage(
        kind=kind.value,
        payload=payload,
        item_id=item_id,
        priority=_PRIORITY.get(kind, Priority.SOON),
        pace_key=_pace_key(kind, item_id=item_id, to=to),
        coalesce_key=_coalesce_key(kind, item_id=item_id, to=to),
        # The confirmation doesn't wait behind a card its channel's limit holds back.
        in_item_order=kind is not OutboxKind.CONFIRM_RAISER,
    )


def _pace_key(kind: OutboxKind, *, item_id: int | None, to: str | None) -> str | None:
    if kind is OutboxKind.CONFIRM_RAISER:
        return None  # a response_url reply, which no Web API limit counts
    if kind is OutboxKind.UPDATE_CARD and item_id is not None:
        return card_key(item_id)
    if kind in (OutboxKind.RETIRE_CARD, OutboxKind.CLAIM_DECIDED):
        return method_key("chat.update")
    if kind is OutboxKind.PUBLISH_HOME and to:
        return home_key(to)
    return post_key(to) if to else None


def _coalesce_key(kind: OutboxKind, *, item_id: int | None, to: str | None) -> str | None:
    if kind is OutboxKind.UPDATE_CARD and item_id is not None:
        return card_key(item_id)
    if kind is OutboxKind.PUBLISH_HOME and to:
        return home_key(to)
    return None
