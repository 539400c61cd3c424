"""How each kind of outbox message is delivered to Slack.

A delivery reads what it needs, calls Slack, and returns the result together with the changes
to store (say, the card's ts) in the same transaction that marks the message sent.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.web import SlackResponse
from sqlalchemy.orm import Session, sessionmaker

from bot.blocks import claim as claim_blocks
from bot.blocks.card import CardExtras, card_blocks, card_text, moved_card
from bot.blocks.nags import escalation_message, escalation_note, nag_message
from bot.blocks.notices import (
    channel_problem_notice,
    credit_question,
    kudos,
    kudos_addendum,
    owner_notice,
    raiser_news,
    route_channel_problem,
    storm_notice,
)
from bot.blocks.replies import Reply, confirmation
from bot.blocks.verify import still_happening_notice, verify_question
from bot.clock import Clock, system_clock
from bot.items.cards import REROUTED, card_extras
from bot.items.metoo import suggestions_for
from bot.jobs.digest import chart_series
from bot.outbox.kinds import OutboxKind, RaiserNews
from bot.outbox.messages import outgoing
from bot.outbox.slack_calls import (
    PermanentFailure,
    ResponseUrlGone,
    TransientFailure,
    call,
    look_up,
    post_to_response_url,
)
from bot.outbox.uploads import upload_png
from bot.slack.ids import is_user
from storage.claims import get_claim, set_request_message
from storage.co_raisers import credited_co_raisers
from storage.items import (
    add_events,
    credited_duplicate_raisers,
    events_since,
    get_item,
    open_items_among,
)
from storage.models import Item, ItemStatus, OutboxMessage, RouteClaim
from storage.outbox import card_was_refused, enqueue

log = logging.getLogger(__name__)

METADATA_EVENT = "cxbot_outbox"
_RECONCILE_SLACK_SECONDS = 5.0
_RECONCILE_MAX_PAGES = 10
# Slack's answers to chat.postMessage that mean a route's channel can't take cards.
CHANNEL_PROBLEMS = frozenset({"is_archived", "channel_not_found", "not_in_channel"})
LEADS_TOLD_EVERY = timedelta(days=1)
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
    triage_channel: str = ""
    admins: tuple[str, ...] = ()  # the CX leads, told when a route's channel can't take cards
    # Renders a person's App Home (bot/home/build.py), given by bot/app.py.
    render_home: Callable[[str], dict[str, Any]] | None = None
    # The workspace's address (auth.test's url), for card permalinks made without a call.
    workspace_url: str | None = None
    # Outbox ids of the confirmations this process posted by response_url, oldest first. Such a
    # reply can't be looked up in Slack afterwards, so when one is claimed again (the database
    # went away between Slack's answer and the commit that marks it sent, and its lease ran out)
    # this is how the process knows it arrived, and doesn't confirm a second time by DM.
    confirmed_by_response_url: OrderedDict[int, None] = field(default_factory=OrderedDict)


Delivery = Callable[[DeliveryContext, OutboxMessage], Delivered]


def post_card(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    item, extras = _load_card(ctx, message)
    if item.source_channel and item.source_ts and not item.source_permalink:
        item.source_permalink = _permalink(ctx, item.source_channel, item.source_ts)
    try:
        posted = post_message(
            ctx, message, channel=item.channel, text=card_text(item), blocks=card_blocks(item, extras)
        )
    except PermanentFailure as failure:
        if failure.error not in CHANNEL_PROBLEMS or item.channel == ctx.triage_channel:
            raise
        return _card_to_triage(ctx, message, item, problem=failure.error)
    return _card_posted(item, posted)


def _card_posted(
    item: Item, posted: dict[str, Any], *, then: Callable[[Session], None] | None = None
) -> Delivered:
    card_channel, card_ts, permalink = str(posted["channel"]), str(posted["ts"]), item.source_permalink

    def store(session: Session) -> None:
        stored = session.get(Item, item.id)
        if stored is not None:
            stored.channel = card_channel
            stored.card_ts = card_ts
            stored.source_permalink = permalink
        if then is not None:
            then(session)

    return Delivered(result={"channel": card_channel, "ts": card_ts}, store=store)


def _card_to_triage(ctx: DeliveryContext, message: OutboxMessage, item: Item, *, problem: str) -> Delivered:
    """The route's channel can't take the card (archived, gone, private without cxbot): post it in
    triage, marked with why, and tell the CX leads which route to fix (once a day per channel)."""
    log.warning(
        "outbox #%s: item #%s can't go to %s (%s); posting it in triage",
        message.id,
        item.id,
        item.channel,
        problem,
        extra={"outbox_id": message.id, "item_id": item.id},
    )
    meant_for = item.channel
    notice = channel_problem_notice(channel=meant_for, area=item.area, problem=problem)
    posted = post_message(
        ctx,
        message,
        channel=ctx.triage_channel,
        text=card_text(item),
        blocks=card_blocks(item, CardExtras(notices=(notice,))),
    )

    def record(session: Session) -> None:
        since = ctx.clock() - LEADS_TOLD_EVERY
        told_lately = any(
            data.get("channel") == meant_for
            for data in events_since(session=session, kind=REROUTED, since=since)
        )
        add_events(
            session=session,
            events=[(item.id, REROUTED, {"channel": meant_for, "problem": problem, "area": item.area})],
            actor="cxbot",
            at=ctx.clock(),
        )
        if not told_lately and ctx.admins:
            payload = {"channel": meant_for, "problem": problem, "area": item.area}
            lead_message = outgoing(OutboxKind.DM_LEADS, payload, item_id=item.id, to=ctx.admins[0])
            enqueue(session=session, message=lead_message, now=ctx.clock())

    return _card_posted(item, posted, then=record)


def confirm_raiser(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    if message.id in ctx.confirmed_by_response_url:
        log.info("outbox #%s: already confirmed by response_url; not confirming again", message.id)
        return Delivered(result={"via": "response_url"})
    item = _load_item(ctx, message)
    with ctx.session_factory() as session:
        card_failed = item.card_ts is None and card_was_refused(session=session, item_id=item.id)
        alike = suggestions_for(session, item, now=ctx.clock()) if item.status is ItemStatus.NEW else []
    permalink = _card_permalink(ctx, item)
    reply = confirmation(item, permalink=permalink, card_failed=card_failed, suggestions=alike)
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
    co_raiser = payload.get("co_raiser")  # whom it is for, when not the raiser
    reply = raiser_news(
        item,
        RaiserNews(payload["news"]),
        by=str(payload.get("by") or ""),
        text=payload.get("text"),
        original=int(original) if original is not None else None,
        permalink=_card_permalink(ctx, item),
        co_raiser=bool(co_raiser),
        anonymous=bool(payload.get("anonymous")) if co_raiser else None,
    )
    person = str(co_raiser) if co_raiser else item.raiser_id
    return _delivered_dm(send_dm(ctx, message, user_id=person, reply=reply))


def dm_owner(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    item = _load_item(ctx, message)
    permalink = _card_permalink(ctx, item)
    storm = message.payload.get("storm")
    if storm is not None:
        reply = storm_notice(item, joined=int(storm), permalink=permalink)
    elif message.payload.get("still_happening"):
        reply = still_happening_notice(
            item,
            raiser=message.payload.get("raiser"),
            note=message.payload.get("note"),
            reopened=bool(message.payload.get("reopened")),
            permalink=permalink,
        )
    else:
        reply = owner_notice(item, by=str(message.payload.get("by") or ""), permalink=permalink)
    # The owner may be several people (a grey area's CX leads); a user group's card is its channel.
    people = [owner for owner in item.owner.split(",") if is_user(owner)]
    sent = [send_dm(ctx, message, user_id=person, reply=reply)["channel"] for person in people]
    return Delivered(result={"dms": sent})


def post_kudos(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    item = _load_item(ctx, message)
    thanks = message.payload.get("thanks")
    if thanks:  # an anonymous co-raiser said yes after the kudos went out
        reply = kudos_addendum(item, person=str(thanks), permalink=_card_permalink(ctx, item))
        posted = post_message(ctx, message, channel=ctx.kudos_channel, text=reply.text, blocks=reply.blocks)
        return Delivered(result={"channel": posted["channel"], "ts": posted["ts"]})
    with ctx.session_factory() as session:
        named = credited_co_raisers(session=session, item_id=item.id)
        merged = credited_duplicate_raisers(session=session, item_id=item.id)
    also = [person for person in dict.fromkeys([*named, *merged]) if person != item.raiser_id]
    reply = kudos(item, also_raised_by=also, permalink=_card_permalink(ctx, item))
    posted = post_message(ctx, message, channel=ctx.kudos_channel, text=reply.text, blocks=reply.blocks)
    return Delivered(result={"channel": posted["channel"], "ts": posted["ts"]})


def ask_credit(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    item = _load_item(ctx, message)
    co_raiser = message.payload.get("co_raiser")  # whom it is for, when not the raiser
    reply = credit_question(item, kudos_channel=ctx.kudos_channel, co_raiser=bool(co_raiser))
    person = str(co_raiser) if co_raiser else item.raiser_id
    return _delivered_dm(send_dm(ctx, message, user_id=person, reply=reply))


def ask_verify(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    """ "Did this fix it?", unless the item was reopened since it was queued."""
    item = _load_item(ctx, message)
    if item.status is not ItemStatus.ACTIONED:
        return Delivered(result={"skipped": f"the item is {item.status.value} now"})
    payload = message.payload
    reply = verify_question(
        item,
        co_raiser=bool(payload.get("co_raiser")),
        anonymous=bool(payload.get("anonymous")),
        permalink=_card_permalink(ctx, item),
    )
    return _delivered_dm(send_dm(ctx, message, user_id=str(payload["user"]), reply=reply))


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
    """The digest; then its chart, queued to follow in its thread (a delivery of its own, so that
    a chart that can't be drawn or uploaded never holds the digest back)."""
    payload = message.payload
    posted = post_message(
        ctx, message, channel=str(payload["channel"]), text=str(payload["text"]), blocks=payload["blocks"]
    )
    channel, ts = str(posted["channel"]), str(posted["ts"])
    chart = payload.get("chart")

    def store(session: Session) -> None:
        if isinstance(chart, dict):
            follow = {"channel": channel, "thread_ts": ts, "end": chart["end"]}
            queued = outgoing(OutboxKind.POST_DIGEST_CHART, follow, item_id=None, to=channel)
            enqueue(session=session, message=queued, now=ctx.clock())

    return Delivered(result={"channel": channel, "ts": ts}, store=store)


def post_digest_chart(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    """The chart of the 12 weeks before the digest's end, drawn now and shared in the digest's
    thread. Not drawn: logged, and the digest stays as it is. After an uncertain attempt, the
    thread is searched for the file first (by its name, which carries the outbox id)."""
    payload = message.payload
    channel, thread_ts = str(payload["channel"]), str(payload["thread_ts"])
    filename = f"cx-digest-chart-{message.id}.png"
    if message.outcome_uncertain:
        found = _find_shared_file(ctx, channel=channel, thread_ts=thread_ts, filename=filename)
        if found is not None:
            log.info(
                "outbox #%s: the chart is already in Slack as %s; not uploading again", message.id, found
            )
            return Delivered(result={"file": found, "channel": channel})
    chart = draw_chart(ctx, end=datetime.fromisoformat(str(payload["end"])), outbox_id=message.id)
    if chart is None:
        return Delivered(result={"skipped": "the chart could not be drawn"})
    png, title, alt = chart
    try:
        file_id = upload_png(
            ctx.client,
            png=png,
            filename=filename,
            title=title,
            alt_text=alt,
            channel=channel,
            thread_ts=thread_ts,
            timeout=ctx.timeout,
        )
    except PermanentFailure as failure:
        log.warning(
            "outbox #%s: Slack refused the digest's chart (%s); the digest stays without it",
            message.id,
            failure.error,
            extra={"outbox_id": message.id},
        )
        raise
    return Delivered(result={"file": file_id, "channel": channel})


def draw_chart(
    ctx: DeliveryContext, *, end: datetime, outbox_id: int | None = None
) -> tuple[bytes, str, str] | None:
    """(PNG, title, alt text) of the digest's chart for the 12 weeks before `end`; None, logged,
    if it can't be drawn. matplotlib is imported here, by the first chart, not at start."""
    try:
        from bot.charts import weekly

        with ctx.session_factory() as session:
            series = chart_series(session, end=end)
        return weekly.draw(series), weekly.title_of(series), weekly.alt_text(series)
    except Exception:
        log.exception(
            "outbox #%s: couldn't draw the digest's chart; the digest goes without it",
            outbox_id,
            extra={"outbox_id": outbox_id},
        )
        return None


def _find_shared_file(ctx: DeliveryContext, *, channel: str, thread_ts: str, filename: str) -> str | None:
    """The ID of a file named `filename` shared in the thread, if one is."""
    try:
        replies = look_up(ctx.client.conversations_replies, channel=channel, ts=thread_ts, limit=200)
    except PermanentFailure as failure:
        log.warning("can't check %s for an earlier chart (%s); uploading again", channel, failure.error)
        return None
    for posted in replies.get("messages", []):
        for shared in posted.get("files") or []:
            if shared.get("name") == filename:
                return str(shared.get("id"))
    return None


def dm_leads(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    """Tell each CX lead that a route's channel can't take cards, and how to fix it."""
    item = _load_item(ctx, message)
    payload = message.payload
    reply = route_channel_problem(
        item,
        channel=str(payload["channel"]),
        area=payload.get("area"),
        problem=str(payload["problem"]),
        permalink=_card_permalink(ctx, item),
    )
    sent = [
        send_dm(ctx, message, user_id=lead, reply=reply)["channel"] for lead in ctx.admins if is_user(lead)
    ]
    return Delivered(result={"dms": sent})


def publish_home(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    """The person's App Home as it is now: waiting publishes for them were folded into this one."""
    if ctx.render_home is None:
        raise PermanentFailure("no App Home renderer")
    user = str(message.payload["user"])
    call(ctx.client.views_publish, user_id=user, view=ctx.render_home(user))
    return Delivered(result={"user": user})


def claim_request(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    """Ask the CX leads, in triage, to approve someone's claim of a grey area."""
    claim, item = _load_claim(ctx, message)
    reply = claim_blocks.claim_request(claim, item, permalink=_card_permalink(ctx, item))
    posted = post_message(ctx, message, channel=ctx.triage_channel, text=reply.text, blocks=reply.blocks)
    channel, ts = str(posted["channel"]), str(posted["ts"])

    def store(session: Session) -> None:
        set_request_message(session=session, claim_id=claim.id, channel=channel, ts=ts)

    return Delivered(result={"channel": channel, "ts": ts}, store=store)


def claim_decided(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    """Show a CX lead's answer on the request, in place of its buttons."""
    claim, item = _load_claim(ctx, message)
    if not claim.request_channel or not claim.request_ts:
        raise PermanentFailure("the claim's request was never posted")
    reply = claim_blocks.claim_decided(claim, item, permalink=_card_permalink(ctx, item))
    call(
        ctx.client.chat_update,
        channel=claim.request_channel,
        ts=claim.request_ts,
        text=reply.text,
        blocks=reply.blocks,
    )
    return Delivered(result={"channel": claim.request_channel, "ts": claim.request_ts})


def dm_claimer(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    claim, item = _load_claim(ctx, message)
    reply = claim_blocks.claimer_news(claim, item, permalink=_card_permalink(ctx, item))
    return _delivered_dm(send_dm(ctx, message, user_id=claim.claimer, reply=reply))


def post_claim_thanks(ctx: DeliveryContext, message: OutboxMessage) -> Delivered:
    claim, item = _load_claim(ctx, message)
    reply = claim_blocks.claim_thanks(claim, item)
    posted = post_message(ctx, message, channel=ctx.kudos_channel, text=reply.text, blocks=reply.blocks)
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
    OutboxKind.ASK_VERIFY: ask_verify,
    OutboxKind.DM_NAG: dm_nag,
    OutboxKind.ESCALATE: escalate,
    OutboxKind.THREAD_NOTE: thread_note,
    OutboxKind.POST_DIGEST: post_digest,
    OutboxKind.POST_DIGEST_CHART: post_digest_chart,
    OutboxKind.DM_LEADS: dm_leads,
    OutboxKind.PUBLISH_HOME: publish_home,
    OutboxKind.CLAIM_REQUEST: claim_request,
    OutboxKind.CLAIM_DECIDED: claim_decided,
    OutboxKind.DM_CLAIMER: dm_claimer,
    OutboxKind.POST_CLAIM_THANKS: post_claim_thanks,
}


def _delivered_dm(posted: dict[str, Any]) -> Delivered:
    return Delivered(result={"via": "dm", "channel": posted["channel"], "ts": posted["ts"]})


def _card_permalink(ctx: DeliveryContext, item: Item) -> str | None:
    """A card's link, made from the workspace's address as Slack makes it (a top-level message:
    /archives/<channel>/p<ts without the dot>), so that a storm of cards costs no
    chat.getPermalink calls (Tier 4, 100 a minute)."""
    if not item.card_ts:
        return None
    if ctx.workspace_url is None:
        try:
            ctx.workspace_url = str(look_up(ctx.client.auth_test).get("url") or "") or None
        except PermanentFailure:
            return _permalink(ctx, item.channel, item.card_ts)
    if not ctx.workspace_url:
        return _permalink(ctx, item.channel, item.card_ts)
    return f"{ctx.workspace_url.rstrip('/')}/archives/{item.channel}/p{item.card_ts.replace('.', '')}"


def send_dm(ctx: DeliveryContext, message: OutboxMessage, *, user_id: str, reply: Reply) -> dict[str, Any]:
    """A DM from cxbot: chat.postMessage to the person's ID, which Slack delivers in their DM
    with the app, with no conversations.open first (Tier 3). After an uncertain attempt, the DM's
    channel is opened to look for the earlier post."""
    channel = user_id
    if message.outcome_uncertain:
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
    if channel.startswith(("C", "G")):  # not a DM (D...) or a person (U..., W...)
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
        return item, card_extras(session=session, item=item, triage_channel=ctx.triage_channel)


def _load_claim(ctx: DeliveryContext, message: OutboxMessage) -> tuple[RouteClaim, Item]:
    item = _load_item(ctx, message)
    with ctx.session_factory() as session:
        claim = get_claim(session=session, claim_id=int(message.payload["claim"]))
    if claim is None:
        raise PermanentFailure(f"claim {message.payload['claim']} not found")
    return claim, item


def _load_item(ctx: DeliveryContext, message: OutboxMessage) -> Item:
    if message.item_id is None:
        raise PermanentFailure("message has no item")
    with ctx.session_factory() as session:
        item = get_item(session=session, item_id=message.item_id)
    if item is None:
        raise PermanentFailure(f"item #{message.item_id} not found")
    return item


__all__ = ["DELIVERIES", "Delivered", "DeliveryContext", "TransientFailure"]
