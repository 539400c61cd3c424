"""How each kind of outbox message is delivered to Slack.

A delivery reads what it needs, calls Slack, and returns the result together with the changes
to store (say, the card's ts) in the same transaction that marks the message sent.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.web import SlackResponse
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks.card import CardExtras, card_blocks, card_text, moved_card
from bot.blocks.nags import escalation_message, escalation_note, nag_message
from bot.blocks.notices import credit_question, kudos, owner_notice, raiser_news
from bot.blocks.replies import Reply, confirmation
from bot.clock import Clock, system_clock
from bot.outbox.kinds import OutboxKind, RaiserNews
from bot.outbox.slack_calls import (
    PermanentFailure,
    ResponseUrlGone,
    TransientFailure,
    call,
    look_up,
    post_to_response_url,
)
from bot.slack.ids import is_user
from storage.items import credited_duplicate_raisers, get_item, open_items_among
from storage.models import Item, OutboxMessage
from storage.votes import vote_count

log = logging.getLogger(__name__)

METADATA_EVENT = "cxbot_outbox"
_RECONCILE_SLACK_SECONDS = 5.0
_RECONCILE_MAX_PAGES = 10
# How many confirmations posted by response_url a process remembers (see DeliveryContext).
_REMEMBERED_CONFIRMATIONS = 10_000


@dataclass
class Delivered:
    result: dict[str, Any]
    store: Callable[[Session], None] | None = None


@dataclass
class DeliveryContext:
    client: WebClient
    session_factory: sessionmaker[Session]
    kudos_channel: str = ""
    clock: Clock = system_clock
    timeout: int = 10
    joined_channels: set[str] = field(default_factory=set)
    # Outbox ids of the confirmations this process posted by response_url, oldest first. Such a
    # reply can't be looked up in Slack afterwards, so when one is claimed again (the database
    # went away between Slack's answer and the commit that marks it sent, and its lease ran out)
    # this is how the process knows it arrived, and doesn't confirm a second time by DM.
    confirmed_by_response_url: OrderedDict[int, None] = field(default_factory=OrderedDict)


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
    if message.id in ctx.confirmed_by_response_url:
        log.info("outbox #%s: already confirmed by response_url; not confirming again", message.id)
        return Delivered(result={"via": "response_url"})
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
            _remember_confirmation(ctx, message.id)
            return Delivered(result={"via": "response_url"})
    return _delivered_dm(send_dm(ctx, message, user_id=item.raiser_id, reply=reply))


def _remember_confirmation(ctx: DeliveryContext, outbox_id: int) -> None:
    remembered = ctx.confirmed_by_response_url
    remembered[outbox_id] = None
    while len(remembered) > _REMEMBERED_CONFIRMATIONS:
        remembered.popitem(last=False)


def update_card(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    """Show the item's current state on its card. Updates are idempotent, so no look-up is needed."""
    item, extras = _load_card(ctx, message)
    if item.card_ts is None:
        raise PermanentFailure("the card was never posted")
    call(
        ctx.client.chat_update,
        channel=item.channel,
        ts=item.card_ts,
        text=card_text(item),
        blocks=card_blocks(item, extras),
    )
    return Delivered(result={"channel": item.channel, "ts": item.card_ts})


def retire_card(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    item = _load_item(ctx, message)
    channel, ts = str(message.payload["channel"]), str(message.payload["ts"])
    call(ctx.client.chat_update, channel=channel, ts=ts, text=card_text(item), blocks=moved_card(item))
    return Delivered(result={"channel": channel, "ts": ts})


def dm_raiser(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    item = _load_item(ctx, message)
    payload = message.payload
    original = payload.get("original")
    reply = raiser_news(
        item,
        RaiserNews(payload["news"]),
        by=str(payload.get("by") or ""),
        text=payload.get("text"),
        original=int(original) if original is not None else None,
        permalink=_card_permalink(ctx, item),
    )
    return _delivered_dm(send_dm(ctx, message, user_id=item.raiser_id, reply=reply))


def dm_owner(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    item = _load_item(ctx, message)
    reply = owner_notice(item, by=str(message.payload.get("by") or ""), permalink=_card_permalink(ctx, item))
    return _delivered_dm(send_dm(ctx, message, user_id=item.owner, reply=reply))


def post_kudos(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    item = _load_item(ctx, message)
    with ctx.session_factory() as session:
        also = credited_duplicate_raisers(session=session, item_id=item.id)
    reply = kudos(item, also_raised_by=also, permalink=_card_permalink(ctx, item))
    posted = post_message(ctx, message, channel=ctx.kudos_channel, text=reply.text, blocks=reply.blocks)
    return Delivered(result={"channel": posted["channel"], "ts": posted["ts"]})


def ask_credit(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    item = _load_item(ctx, message)
    reply = credit_question(item, kudos_channel=ctx.kudos_channel)
    return _delivered_dm(send_dm(ctx, message, user_id=item.raiser_id, reply=reply))


def dm_nag(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    """Listed as they are now: items acted on since the sweep are left out, and if none is left,
    nothing is sent."""
    with ctx.session_factory() as session:
        items = open_items_among(session=session, item_ids=[int(i) for i in message.payload["items"]])
    if not items:
        return Delivered(result={"skipped": "nothing left waiting"})
    reply = nag_message(items, now=ctx.clock())
    return _delivered_dm(send_dm(ctx, message, user_id=str(message.payload["user"]), reply=reply))


def escalate(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    item = _load_item(ctx, message)
    nags = int(message.payload.get("nags") or 0)
    reply = escalation_message(item, nags=nags, now=ctx.clock(), permalink=_card_permalink(ctx, item))
    sent = [
        send_dm(ctx, message, user_id=person, reply=reply)["channel"]
        for person in message.payload["to"]
        if is_user(person)
    ]
    return Delivered(result={"dms": sent})


def thread_note(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    item = _load_item(ctx, message)
    if not item.card_ts:
        raise PermanentFailure("the card was never posted")
    reply = escalation_note(
        nags=int(message.payload.get("nags") or 0), to=[str(person) for person in message.payload["to"]]
    )
    posted = post_message(
        ctx, message, channel=item.channel, text=reply.text, blocks=reply.blocks, thread_ts=item.card_ts
    )
    return Delivered(result={"channel": posted["channel"], "ts": posted["ts"]})


def post_digest(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    payload = message.payload
    posted = post_message(
        ctx, message, channel=str(payload["channel"]), text=str(payload["text"]), blocks=payload["blocks"]
    )
    return Delivered(result={"channel": posted["channel"], "ts": posted["ts"]})


DELIVERIES: dict[str, Delivery] = {
    OutboxKind.POST_CARD: post_card,
    OutboxKind.CONFIRM_RAISER: confirm_raiser,
    OutboxKind.UPDATE_CARD: update_card,
    OutboxKind.RETIRE_CARD: retire_card,
    OutboxKind.DM_RAISER: dm_raiser,
    OutboxKind.DM_OWNER: dm_owner,
    OutboxKind.POST_KUDOS: post_kudos,
    OutboxKind.ASK_CREDIT: ask_credit,
    OutboxKind.DM_NAG: dm_nag,
    OutboxKind.ESCALATE: escalate,
    OutboxKind.THREAD_NOTE: thread_note,
    OutboxKind.POST_DIGEST: post_digest,
}


def _delivered_dm(posted: dict[str, Any]) -> Delivered:
    return Delivered(result={"via": "dm", "channel": posted["channel"], "ts": posted["ts"]})


def _card_permalink(ctx: DeliveryContext, item: Item) -> str | None:
    return _permalink(ctx, item.channel, item.card_ts) if item.card_ts else None


def send_dm(ctx: DeliveryContext, message: OutboxMessage, *, user_id: str, reply: Reply) -> dict[str, Any]:
    opened = look_up(ctx.client.conversations_open, users=user_id)
    channel = str(opened["channel"]["id"])
    return post_message(ctx, message, channel=channel, text=reply.text, blocks=reply.blocks)


def post_message(
    ctx: DeliveryContext,
    message: OutboxMessage,
    *,
    channel: str,
    text: str,
    blocks: list[Any],
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """chat.postMessage tagged with the outbox id, so that a retry after an uncertain outcome
    finds the first post instead of making a second."""
    if message.outcome_uncertain:
        found = _find_posted(ctx, message, channel, thread_ts=thread_ts)
        if found is not None:
            log.info("outbox #%s: already in Slack as %s; not posting again", message.id, found)
            return {"channel": channel, "ts": found}
    if not channel.startswith("D"):
        _join(ctx, channel)
    metadata = {"event_type": METADATA_EVENT, "event_payload": {"outbox_id": message.id}}
    arguments = {"channel": channel, "text": text, "blocks": blocks, "metadata": metadata}
    if thread_ts:
        arguments["thread_ts"] = thread_ts
    try:
        return call(ctx.client.chat_postMessage, **arguments)
    except PermanentFailure as failure:
        if failure.error != "not_in_channel":
            raise
    _join(ctx, channel, again=True)
    return call(ctx.client.chat_postMessage, **arguments)


def _join(ctx: DeliveryContext, channel: str, *, again: bool = False) -> None:
    """Be a member of a public channel before posting there, so that replies in card threads
    reach cxbot as events. Private channels can't be joined: an admin invites the bot."""
    if channel in ctx.joined_channels and not again:
        return
    try:
        look_up(ctx.client.conversations_join, channel=channel)
    except PermanentFailure as failure:
        log.info("can't join %s (%s); invite cxbot there to see thread replies", channel, failure.error)
    ctx.joined_channels.add(channel)


def _find_posted(
    ctx: DeliveryContext, message: OutboxMessage, channel: str, *, thread_ts: str | None = None
) -> str | None:
    """Look for the message's earlier post. Thread replies aren't in a channel's history, so a
    reply is looked for among the thread's replies."""
    oldest = f"{message.created_at.timestamp() - _RECONCILE_SLACK_SECONDS:.6f}"
    method: Callable[..., SlackResponse] = ctx.client.conversations_history
    extra: dict[str, Any] = {}
    if thread_ts:
        method, extra = ctx.client.conversations_replies, {"ts": thread_ts}
    cursor: str | None = None
    for _page in range(_RECONCILE_MAX_PAGES):
        try:
            history = look_up(
                method,
                **extra,
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
        data = look_up(ctx.client.chat_getPermalink, channel=channel, message_ts=ts)
    except PermanentFailure as failure:
        log.info("no permalink for %s/%s: %s", channel, ts, failure.error)
        return None
    permalink = data.get("permalink")
    return permalink if isinstance(permalink, str) else None


def _load_card(ctx: DeliveryContext, message: OutboxMessage) -> tuple[Item, CardExtras]:
    item = _load_item(ctx, message)
    with ctx.session_factory() as session:
        return item, CardExtras(votes=vote_count(session=session, item_id=item.id))


def _load_item(ctx: DeliveryContext, message: OutboxMessage) -> Item:
    if message.item_id is None:
        raise PermanentFailure("message has no item")
    with ctx.session_factory() as session:
        item = get_item(session=session, item_id=message.item_id)
    if item is None:
        raise PermanentFailure(f"item #{message.item_id} not found")
    return item


__all__ = ["DELIVERIES", "Delivered", "DeliveryContext", "TransientFailure"]
