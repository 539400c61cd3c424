"""How each kind of outbox message is delivered to Slack.

A delivery reads what it needs, calls Slack, and returns the result together with the changes
to store (say, the card's ts) in the same transaction that marks the message sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.card import card_blocks, card_text
from bot.blocks.replies import Reply, confirmation
from bot.outbox_kinds import OutboxKind
from bot.slack_calls import (
    PermanentFailure,
    ResponseUrlGone,
    TransientFailure,
    call,
    post_to_response_url,
)
from storage.items import get_item
from storage.models import Item, OutboxMessage

log = logging.getLogger(__name__)

METADATA_EVENT = "cxbot_outbox"
_RECONCILE_SLACK_SECONDS = 5.0
_RECONCILE_MAX_PAGES = 10


@dataclass
class Delivered:
    result: dict[str, Any]
    store: Callable[[Session], None] | None = None


@dataclass
class DeliveryContext:
    client: WebClient
    session_factory: sessionmaker[Session]
    timeout: int = 10
    joined_channels: set[str] = field(default_factory=set)


Delivery = Callable[[DeliveryContext, OutboxMessage], Delivered]


def post_card(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    item = _load_item(ctx, message)
    if item.source_channel and item.source_ts and not item.source_permalink:
        item.source_permalink = _permalink(ctx, item.source_channel, item.source_ts)
    posted = post_message(ctx, message, channel=item.channel, text=card_text(item), blocks=card_blocks(item))
    card_ts, permalink = str(posted["ts"]), item.source_permalink

    def store(session: Session) -> None:
        stored = session.get(Item, item.id)
        if stored is not None:
            stored.card_ts = card_ts
            stored.source_permalink = permalink

    return Delivered(result={"channel": posted["channel"], "ts": card_ts}, store=store)


def confirm_raiser(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    item = _load_item(ctx, message)
    permalink = _permalink(ctx, item.channel, item.card_ts) if item.card_ts else None
    reply = confirmation(item, permalink=permalink)
    response_url = message.payload.get("response_url")
    if isinstance(response_url, str) and response_url and not message.outcome_uncertain:
        try:
            post_to_response_url(response_url, text=reply.text, blocks=reply.as_dicts(), timeout=ctx.timeout)
        except ResponseUrlGone as gone:
            log.info("outbox #%s: response_url gone (%s); confirming by DM", message.id, gone)
        else:
            return Delivered(result={"via": "response_url"})
    posted = send_dm(ctx, message, user_id=item.raiser_id, reply=reply)
    return Delivered(result={"via": "dm", "channel": posted["channel"], "ts": posted["ts"]})


DELIVERIES: dict[str, Delivery] = {
    OutboxKind.POST_CARD: post_card,
    OutboxKind.CONFIRM_RAISER: confirm_raiser,
}


def send_dm(ctx: DeliveryContext, message: OutboxMessage, *, user_id: str, reply: Reply) -> dict[str, Any]:
    opened = call(ctx.client.conversations_open, users=user_id)
    channel = str(opened["channel"]["id"])
    return post_message(ctx, message, channel=channel, text=reply.text, blocks=reply.blocks)


def post_message(
    ctx: DeliveryContext, message: OutboxMessage, *, channel: str, text: str, blocks: list[Any]
) -> dict[str, Any]:
    """chat.postMessage tagged with the outbox id, so that a retry after an uncertain outcome
    finds the first post instead of making a second."""
    if message.outcome_uncertain:
        found = _find_posted(ctx, message, channel)
        if found is not None:
            log.info("outbox #%s: already in Slack as %s; not posting again", message.id, found)
            return {"channel": channel, "ts": found}
    metadata = {"event_type": METADATA_EVENT, "event_payload": {"outbox_id": message.id}}
    arguments = {"channel": channel, "text": text, "blocks": blocks, "metadata": metadata}
    try:
        return call(ctx.client.chat_postMessage, **arguments)
    except PermanentFailure as failure:
        if failure.error != "not_in_channel" or channel in ctx.joined_channels:
            raise
    call(ctx.client.conversations_join, channel=channel)
    ctx.joined_channels.add(channel)
    return call(ctx.client.chat_postMessage, **arguments)


def _find_posted(ctx: DeliveryContext, message: OutboxMessage, channel: str) -> str | None:
    oldest = f"{message.created_at.timestamp() - _RECONCILE_SLACK_SECONDS:.6f}"
    cursor: str | None = None
    for _page in range(_RECONCILE_MAX_PAGES):
        try:
            history = call(
                ctx.client.conversations_history,
                channel=channel,
                oldest=oldest,
                limit=200,
                include_all_metadata=True,
                cursor=cursor,
            )
        except PermanentFailure as failure:
            log.warning(
                "outbox #%s: can't check %s for an earlier post (%s); posting again",
                message.id,
                channel,
                failure.error,
            )
            return None
        for posted in history.get("messages", []):
            if _outbox_id_of(posted) == message.id:
                return str(posted["ts"])
        cursor = (history.get("response_metadata") or {}).get("next_cursor") or None
        if not history.get("has_more") or not cursor:
            return None
    return None


def _outbox_id_of(posted: dict[str, Any]) -> int | None:
    metadata = posted.get("metadata") or {}
    if metadata.get("event_type") != METADATA_EVENT:
        return None
    outbox_id = (metadata.get("event_payload") or {}).get("outbox_id")
    return outbox_id if isinstance(outbox_id, int) else None


def _permalink(ctx: DeliveryContext, channel: str, ts: str) -> str | None:
    try:
        data = call(ctx.client.chat_getPermalink, channel=channel, message_ts=ts)
    except PermanentFailure as failure:
        log.info("no permalink for %s/%s: %s", channel, ts, failure.error)
        return None
    permalink = data.get("permalink")
    return permalink if isinstance(permalink, str) else None


def _load_item(ctx: DeliveryContext, message: OutboxMessage) -> Item:
    if message.item_id is None:
        raise PermanentFailure("message has no item")
    with ctx.session_factory() as session:
        item = get_item(session=session, item_id=message.item_id)
    if item is None:
        raise PermanentFailure(f"item #{message.item_id} not found")
    return item


__all__ = ["DELIVERIES", "Delivered", "DeliveryContext", "TransientFailure"]
