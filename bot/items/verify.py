""" "Did this fix it?": the answers of an actioned item's raisers. **Fixed for customers** marks
it verified; **Still happening** reopens it for its owner, who is told. Each person answers once,
and only the people asked may answer. When the asks are owed and sent: bot/jobs/verify.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.blocks.verify import NOTE_LIMIT
from bot.deps import Deps
from bot.items import flows
from bot.items.lifecycle import Change, InvalidTransition, queue, record, reopen_for_raiser
from bot.items.permissions import Actor, NotAllowed
from bot.outbox.kinds import OutboxKind
from storage.models import OPEN_STATUSES, Item, ItemStatus, VerifyAnswer, VerifyAsk
from storage.verify import find_ask

_ALREADY = {
    VerifyAnswer.FIXED: "that it's fixed for customers",
    VerifyAnswer.STILL_HAPPENING: "that it's still happening",
}


def _ask_of(session: Session, item: Item, actor: Actor) -> VerifyAsk:
    ask = find_ask(session=session, item_id=item.id, user_id=actor.user_id)
    if ask is None:
        raise NotAllowed(
            f"Only the people who raised #{item.id} and were asked can answer whether it's fixed."
        )
    return ask


def _answered(item: Item, ask: VerifyAsk) -> Change | None:
    """A second click: what they said the first time."""
    if ask.answer in _ALREADY:
        return Change(item.id, f"You already told me {_ALREADY[ask.answer]} on #{item.id}. Thank you!")
    return None


def check_question(session: Session, item: Item, actor: Actor) -> Change | None:
    """Before the Still happening form opens: NotAllowed for someone not asked; a Change if they
    answered already (say that instead); None if the form may open."""
    return _answered(item, _ask_of(session, item, actor))


def _answer(ask: VerifyAsk, answer: VerifyAnswer, now: datetime, note: str | None = None) -> None:
    ask.answer = answer
    ask.answered_at = now
    ask.note = note


def fixed(*, session: Session, item: Item, actor: Actor, now: datetime) -> Change:
    ask = _ask_of(session, item, actor)
    already = _answered(item, ask)
    if already is not None:
        return already
    _answer(ask, VerifyAnswer.FIXED, now)
    if item.status is not ItemStatus.ACTIONED:
        record(session, item, "verify_answered", actor.user_id, now, answer=VerifyAnswer.FIXED.value)
        return Change(
            item.id,
            f"Thank you! #{item.id} was reopened since, so its owner is looking at it again; "
            "I've noted that it looks fixed to you.",
        )
    record(session, item, "verified", actor.user_id, now)
    queue(session, item, OutboxKind.UPDATE_CARD, now)
    return Change(item.id, f":tada: Thank you for checking! #{item.id} is confirmed fixed for customers.")


def still_happening(*, session: Session, item: Item, actor: Actor, now: datetime, note: str) -> Change:
    ask = _ask_of(session, item, actor)
    already = _answered(item, ask)
    if already is not None:
        return already
    if len(note) > NOTE_LIMIT:
        raise InvalidTransition(f"Please keep it under {NOTE_LIMIT:,} characters.")
    said = note if note.strip() else None
    _answer(ask, VerifyAnswer.STILL_HAPPENING, now, said)
    reopened = item.status is ItemStatus.ACTIONED
    if reopened:
        reopen_for_raiser(session=session, item=item, raiser=actor.user_id, now=now, note=said)
    else:
        record(
            session,
            item,
            "verify_answered",
            actor.user_id,
            now,
            answer=VerifyAnswer.STILL_HAPPENING.value,
            note=said,
        )
    if reopened or item.status in OPEN_STATUSES:
        raiser = None if ask.anonymous else actor.user_id
        queue(
            session,
            item,
            OutboxKind.DM_OWNER,
            now,
            still_happening=True,
            raiser=raiser,
            note=said,
            reopened=reopened,
        )
    if reopened:
        return Change(
            item.id,
            f"Thank you for telling me. I reopened #{item.id} and told its owner; "
            "you'll hear from me when they act on it.",
        )
    if item.status in OPEN_STATUSES:
        return Change(
            item.id,
            f"Thank you. #{item.id} is already open again and its owner has it; I've passed on what you see.",
        )
    return Change(
        item.id, f"Thank you. #{item.id} is {item.status.value} now, so I've kept your answer on it."
    )


def answer(deps: Deps, *, item_id: int, user_id: str, still: str | None, key: str | None) -> Change | None:
    """Record `user_id`'s answer: Fixed when `still` is None, else Still happening with what they
    still see (may be empty)."""
    now = deps.clock()

    def apply(session: Session, item: Item, who: Actor) -> Change:
        if still is None:
            return fixed(session=session, item=item, actor=who, now=now)
        return still_happening(session=session, item=item, actor=who, now=now, note=still)

    return flows.change_item(deps, item_id=item_id, user_id=user_id, key=key, apply=apply)


def form_or_answer(deps: Deps, *, item_id: int, user_id: str) -> tuple[Item, Change | None]:
    """For the Still happening button: the item, and what to say instead of opening the form."""
    with deps.session_factory() as session:
        item = session.get(Item, item_id)
        if item is None:
            raise flows.ItemNotFound(f"I can't find item #{item_id}.")
        said = check_question(session, item, flows.actor(deps, user_id))
        session.expunge(item)
    return item, said
