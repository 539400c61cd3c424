"""Claiming a grey area: "I can own this" on a grey-area card, its form, and a CX lead's Approve or
Not now in triage."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.blocks.claim import claim_modal, claim_note
from bot.blocks.dialogs import item_number, selected, typed_text
from bot.blocks.ids import Callback, ClaimAction, Field
from bot.deps import Deps
from bot.errors import CxError
from bot.routing import claims
from bot.routing.claims import ClaimPart, ClaimProblem, Proposal
from bot.routing.keywords import parse_keywords
from handlers.feedback import tell, tell_outcome, user_of

_FIELD_OF = {
    ClaimPart.AREA: Field.CLAIM_AREA,
    ClaimPart.OWNER: Field.CLAIM_OWNER,
    ClaimPart.CHANNEL: Field.CLAIM_CHANNEL,
    ClaimPart.KEYWORDS: Field.CLAIM_KEYWORDS,
}


def register(app: App, deps: Deps) -> None:
    app.action(ClaimAction.OFFER)(_offer_button(deps))
    app.view_submission(Callback.CLAIM)(_claim_submission(deps))
    app.action(ClaimAction.APPROVE)(_answer_button(deps, approve=True))
    app.action(ClaimAction.NOT_NOW)(_answer_button(deps, approve=False))


def _number(action: dict[str, Any]) -> int:
    number = item_number(str(action.get("value") or ""))
    if number is None:
        raise CxError("That button doesn't point at anything any more.")
    return number


def _offer_button(deps: Deps) -> Any:
    def on_offer(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        user = user_of(body)
        try:
            form = claims.open_form(deps, item_id=_number(action))
        except CxError as error:
            tell(body, client, error.user_message)
            return
        view = claim_modal(form.item, claimer=user, keywords=form.keywords, groups=form.groups)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    return on_offer


def _proposal(values: dict[str, Any]) -> Proposal:
    group = selected(values, Field.CLAIM_GROUP)
    return Proposal(
        area=typed_text(values, Field.CLAIM_AREA),
        owner=group or selected(values, Field.CLAIM_OWNER) or "",
        channel=selected(values, Field.CLAIM_CHANNEL) or "",
        keywords=parse_keywords(typed_text(values, Field.CLAIM_KEYWORDS)),
    )


def _claim_submission(deps: Deps) -> Any:
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = (view.get("state") or {}).get("values") or {}
        item_id = item_number(str(view.get("private_metadata") or ""))
        if item_id is None:
            ack()  # not a form of ours: nothing to act on
            return
        proposal = _proposal(values)
        try:
            change = claims.offer(
                deps, item_id=item_id, user_id=user_of(body), proposal=proposal, key=f"view:{view.get('id')}"
            )
        except ClaimProblem as problem:
            field = _FIELD_OF[problem.part]
            if field is Field.CLAIM_OWNER and selected(values, Field.CLAIM_GROUP):
                field = Field.CLAIM_GROUP
            ack(response_action="errors", errors={field: problem.user_message})
            return
        except CxError as error:
            ack(response_action="update", view=claim_note(error.user_message))
            return
        if change is None:
            ack()  # a repeat of a submission already handled
            return
        ack(response_action="update", view=claim_note(change.summary))

    return on_submit


def _answer_button(deps: Deps, *, approve: bool) -> Any:
    def on_answer(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        tell_outcome(
            body,
            client,
            lambda: claims.answer(deps, claim_id=_number(action), user_id=user_of(body), approve=approve),
        )

    on_answer.__name__ = "on_approve" if approve else "on_not_now"
    return on_answer
