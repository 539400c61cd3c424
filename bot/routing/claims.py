"""Claiming a grey area: "I can own this".

Anyone may offer to own the area a grey-area item belongs to: its name, its owner (themselves or a
user group), its channel and its keywords. A CX lead approves the offer from a message in triage
(a CX lead's own offer needs no approval). Approval makes the route, moves the item to it (a grey
area resolved), and thanks the claimer in public; later items with those keywords route there.
Every step is an event on the item, and every message goes through the outbox.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.blocks import labels
from bot.deps import Deps
from bot.errors import CxError
from bot.items import flows
from bot.items.lifecycle import Change, InvalidTransition, move_to_route, queue, record
from bot.items.permissions import Actor, NotAllowed
from bot.outbox.kinds import OutboxKind
from bot.outbox.messages import KUDOS
from bot.routing.keywords import distinctive_words, too_common
from bot.routing.routes_file import MAX_AREA_LENGTH, MAX_ROUTES
from bot.routing.rules import NOT_SURE, Triage
from bot.slack import ids as slack_ids
from storage import claims as claim_queries
from storage.models import OPEN_STATUSES, ClaimStatus, Item, RouteClaim

# An area's name shows in cards, menus and posts as it is: no markup, no mentions.
_AREA_NAME = re.compile(r"[^\W_](?:[^\W_]|[ \-'.,/+()])*")
MAX_KEYWORDS = 20
MAX_KEYWORD_LENGTH = 50
# Whose words make a word common: items raised in this long.
KEYWORD_HISTORY = timedelta(days=90)


class ClaimPart(enum.StrEnum):
    """The part of the claim form a problem is about."""

    AREA = "area"
    OWNER = "owner"
    CHANNEL = "channel"
    KEYWORDS = "keywords"


class ClaimProblem(CxError):
    """Something in the claim form needs changing; `part` says which field."""

    def __init__(self, part: ClaimPart, message: str) -> None:
        super().__init__(message)
        self.part = part


@dataclass(frozen=True)
class Proposal:
    """The route someone offers to own."""

    area: str
    owner: str  # a user ID, or a user group ID
    channel: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class ClaimOutcome:
    claim_id: int
    approved: bool
    item_moved: bool
    summary: str


def suggested_keywords(session: Session, item: Item, *, now: datetime) -> list[str]:
    """The item's distinctive words, to pre-fill the form."""
    others = claim_queries.recent_texts(session=session, since=now - KEYWORD_HISTORY)
    return distinctive_words(item.text, (text for text in others if text != item.text))


def require_claimable(item: Item) -> None:
    if item.status not in OPEN_STATUSES:
        raise InvalidTransition(f"#{item.id} is {item.status.value}, so there's nothing to claim now.")
    if not item.grey_area:
        raise InvalidTransition(
            f"#{item.id} isn't a grey area any more: it belongs to {_where(item)}. Thanks for offering!"
        )


def propose(
    *, session: Session, item: Item, actor: Actor, proposal: Proposal, now: datetime, triage: Triage
) -> ClaimOutcome:
    """Record the offer. A CX lead's is approved at once; anyone else's waits in triage."""
    require_claimable(item)
    waiting = claim_queries.pending_claim_by(session=session, item_id=item.id, claimer=actor.user_id)
    if waiting is not None:
        raise InvalidTransition(
            f"You've already offered to own *{waiting.area}* for #{item.id}; it's waiting for a CX lead."
        )
    checked = check_proposal(session, proposal)
    claim = claim_queries.add_claim(
        session=session,
        item_id=item.id,
        claimer=actor.user_id,
        area=checked.area,
        owner=checked.owner,
        channel=checked.channel,
        keywords=checked.keywords,
        now=now,
    )
    record(
        session,
        item,
        "claim_offered",
        actor.user_id,
        now,
        claim=claim.id,
        area=claim.area,
        owner=claim.owner,
        channel=claim.channel,
        keywords=list(claim.keywords),
    )
    if actor.is_admin:
        return _approve(session, claim, item, actor, now, requested=False)
    queue(session, item, OutboxKind.CLAIM_REQUEST, now, to=triage.channel, claim=claim.id)
    return ClaimOutcome(
        claim.id,
        approved=False,
        item_moved=False,
        summary=f"Thank you for offering to own *{claim.area}*! A CX lead will look at it in triage, "
        "and I'll tell you what they decide.",
    )


def decide(
    *, session: Session, claim: RouteClaim, item: Item, actor: Actor, now: datetime, approve: bool
) -> ClaimOutcome:
    """A CX lead's Approve or Not now. A claim is decided once; a second click says how it went."""
    if not actor.is_admin:
        raise NotAllowed("Only a CX lead can approve a claim or say not now.")
    if claim.status is not ClaimStatus.PENDING:
        by = f" by {labels.mention(claim.decided_by)}" if claim.decided_by else ""
        answer = "approved" if claim.status is ClaimStatus.APPROVED else "turned down for now"
        return ClaimOutcome(
            claim.id, approved=False, item_moved=False, summary=f"That claim was already {answer}{by}."
        )
    if approve:
        return _approve(session, claim, item, actor, now, requested=True)
    claim.status = ClaimStatus.DECLINED
    claim.decided_by, claim.decided_at = actor.user_id, now
    record(session, item, "claim_declined", actor.user_id, now, claim=claim.id, area=claim.area)
    queue(session, item, OutboxKind.CLAIM_DECIDED, now, claim=claim.id)
    queue(session, item, OutboxKind.DM_CLAIMER, now, to=claim.claimer, claim=claim.id)
    return ClaimOutcome(
        claim.id,
        approved=False,
        item_moved=False,
        summary=f"Not now, then. {labels.mention(claim.claimer)} will hear that *{claim.area}* wasn't "
        "made an area yet; a word from you in a DM would help.",
    )


def _approve(
    session: Session, claim: RouteClaim, item: Item, actor: Actor, now: datetime, *, requested: bool
) -> ClaimOutcome:
    """Make the route, move the item to it if it is still an open grey area, and say thank you.
    `requested`: the claim waited in triage, where its request now shows the answer."""
    proposal = Proposal(claim.area, claim.owner, claim.channel, tuple(claim.keywords))
    try:
        check_proposal(session, proposal)
    except ClaimProblem as problem:
        raise InvalidTransition(f"I can't make *{claim.area}* a route: {problem.user_message}") from None
    route = claim_queries.add_claimed_route(session=session, claim=claim, now=now)
    claim.status = ClaimStatus.APPROVED
    claim.decided_by, claim.decided_at, claim.route_id = actor.user_id, now, route.id
    moved = item.grey_area and item.status in OPEN_STATUSES
    record(
        session,
        item,
        "claim_approved",
        actor.user_id,
        now,
        claim=claim.id,
        area=claim.area,
        claimed_by=claim.claimer,
        route=route.id,
        item_moved=moved,
    )
    if moved:
        move_to_route(
            session=session, item=item, route=route, actor_id=actor.user_id, now=now, claimed_by=claim.claimer
        )
    if requested:
        queue(session, item, OutboxKind.CLAIM_DECIDED, now, claim=claim.id)
    if claim.claimer != actor.user_id:
        queue(session, item, OutboxKind.DM_CLAIMER, now, to=claim.claimer, claim=claim.id)
    queue(session, item, OutboxKind.POST_CLAIM_THANKS, now, to=KUDOS, claim=claim.id)
    where = f"#{item.id} is in <#{claim.channel}> now" if moved else f"#{item.id} stays where it is"
    return ClaimOutcome(
        claim.id,
        approved=True,
        item_moved=moved,
        summary=f"*{claim.area}* is an area now, owned by {labels.mention(claim.owner)}: {where}, and items "
        "with its keywords will go straight there.",
    )


def check_proposal(session: Session, proposal: Proposal) -> Proposal:
    """The proposal, tidied, if it can be a route; else ClaimProblem naming the field to fix."""
    area = " ".join(proposal.area.split())
    if not area:
        raise ClaimProblem(ClaimPart.AREA, "Give the area a name, like “Gift cards”.")
    if len(area) > MAX_AREA_LENGTH:
        raise ClaimProblem(ClaimPart.AREA, f"Please keep the name under {MAX_AREA_LENGTH} characters.")
    if not _AREA_NAME.fullmatch(area):
        raise ClaimProblem(
            ClaimPart.AREA, "Use letters, numbers, spaces and simple punctuation ( - ' . , / + ) in the name."
        )
    if area.casefold() == NOT_SURE:
        raise ClaimProblem(ClaimPart.AREA, f"“{NOT_SURE}” is kept for items nobody can place.")
    existing = claim_queries.route_named(session=session, area=area)
    if existing is not None and existing.active:
        raise ClaimProblem(
            ClaimPart.AREA, f"There's already an area called “{existing.area}”. Pick another name."
        )
    if claim_queries.active_route_count(session=session) >= MAX_ROUTES:
        raise ClaimProblem(
            ClaimPart.AREA, f"cxbot has {MAX_ROUTES} areas, as many as Slack's menu holds. Ask a CX lead."
        )
    if not slack_ids.is_owner(proposal.owner):
        raise ClaimProblem(ClaimPart.OWNER, "Pick a person or a user group to own it.")
    if not slack_ids.is_channel(proposal.channel):
        raise ClaimProblem(ClaimPart.CHANNEL, "Pick the channel where its items should go.")
    return Proposal(area, proposal.owner, proposal.channel, _checked_keywords(proposal.keywords))


def _checked_keywords(keywords: Sequence[str]) -> tuple[str, ...]:
    if not keywords:
        raise ClaimProblem(
            ClaimPart.KEYWORDS, "Give at least one keyword, so that later items can find their way here."
        )
    if len(keywords) > MAX_KEYWORDS:
        raise ClaimProblem(ClaimPart.KEYWORDS, f"Please give at most {MAX_KEYWORDS} keywords.")
    common = [word for word in keywords if too_common(word)]
    if common:
        raise ClaimProblem(
            ClaimPart.KEYWORDS,
            f"“{common[0]}” is too common to route by: most items would match it. Pick a more telling word.",
        )
    too_long = [word for word in keywords if len(word) > MAX_KEYWORD_LENGTH]
    if too_long:
        raise ClaimProblem(
            ClaimPart.KEYWORDS,
            f"Keep each keyword under {MAX_KEYWORD_LENGTH} characters; separate them with commas.",
        )
    return tuple(keywords)


def _where(item: Item) -> str:
    return f"*{item.area}*" if item.area else labels.mentions(item.owner)


# Flows for the handlers: each opens one transaction through bot.items.flows and wakes the outbox.


@dataclass(frozen=True)
class ClaimForm:
    """What the "I can own this" form starts from."""

    item: Item
    keywords: list[str]
    groups: list[tuple[str, str]]


def open_form(deps: Deps, *, item_id: int) -> ClaimForm:
    """The item and its suggested keywords, if it can still be claimed; else a CxError to tell."""
    with deps.session_factory() as session:
        item = session.get(Item, item_id)
        if item is None:
            raise flows.ItemNotFound(f"I can't find item #{item_id}.")
        require_claimable(item)
        keywords = suggested_keywords(session, item, now=deps.clock())
    return ClaimForm(item, keywords, deps.groups())


def offer(deps: Deps, *, item_id: int, user_id: str, proposal: Proposal, key: str) -> Change | None:
    """The form, sent. None: this submission was already handled."""
    now = deps.clock()

    def apply(session: Session, item: Item, who: Actor) -> Change:
        outcome = propose(
            session=session, item=item, actor=who, proposal=proposal, now=now, triage=deps.triage
        )
        return Change(item.id, outcome.summary)

    return flows.change_item(deps, item_id=item_id, user_id=user_id, key=key, apply=apply)


def answer(deps: Deps, *, claim_id: int, user_id: str, approve: bool) -> Change | None:
    """A CX lead's Approve or Not now on a request in triage."""
    with deps.session_factory() as session:
        found = claim_queries.get_claim(session=session, claim_id=claim_id)
        item_id = found.item_id if found is not None else None
    if item_id is None:
        raise CxError("That claim isn't there any more.")
    now = deps.clock()

    def apply(session: Session, item: Item, who: Actor) -> Change:
        claim = claim_queries.claim_for_update(session=session, claim_id=claim_id)
        if claim is None:
            raise CxError("That claim isn't there any more.")
        outcome = decide(session=session, claim=claim, item=item, actor=who, now=now, approve=approve)
        return Change(item.id, outcome.summary)

    return flows.change_item(deps, item_id=item_id, user_id=user_id, key=None, apply=apply)
