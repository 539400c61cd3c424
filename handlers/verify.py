"""The raiser's answer to "did this fix it?": Fixed for customers, or Still happening and its form."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.blocks.dialogs import item_number, typed_text
from bot.blocks.ids import Callback, Field, VerifyAction
from bot.blocks.verify import answered_view, still_happening_modal
from bot.deps import Deps
from bot.errors import CxError
from bot.items import verify
from handlers.feedback import settle_message, tell, user_of


def register(app: App, deps: Deps) -> None:
    app.action(VerifyAction.FIXED)(_fixed_button(deps))
    app.action(VerifyAction.STILL_HAPPENING)(_still_happening_button(deps))
    app.view_submission(Callback.STILL_HAPPENING)(_still_happening_submission(deps))


def _item_id(action: dict[str, Any]) -> int:
    number = item_number(str(action.get("value") or ""))
    if number is None:
        raise CxError("That button doesn't point at an item any more.")
    return number


def _fixed_button(deps: Deps) -> Any:
    def on_fixed(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        try:
            change = verify.answer(
                deps, item_id=_item_id(action), user_id=user_of(body), still=None, key=None
            )
        except CxError as error:
            tell(body, client, error.user_message)
            return
        if change is None:
            return
        # The question is settled: its buttons give way to the answer. A repeat is told apart.
        if "already" in change.summary or not settle_message(body, change.summary):
            tell(body, client, change.summary)

    return on_fixed


def _still_happening_button(deps: Deps) -> Any:
    def on_still(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        try:
            item, said = verify.form_or_answer(deps, item_id=_item_id(action), user_id=user_of(body))
        except CxError as error:
            tell(body, client, error.user_message)
            return
        if said is not None:
            tell(body, client, said.summary)
            return
        client.views_open(trigger_id=body["trigger_id"], view=still_happening_modal(item))

    return on_still


def _still_happening_submission(deps: Deps) -> Any:
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        item_id = item_number(str(view.get("private_metadata") or ""))
        if item_id is None:
            ack()  # not a form of ours: nothing to act on
            return
        note = typed_text((view.get("state") or {}).get("values") or {}, Field.STILL_SEEING)
        try:
            change = verify.answer(
                deps, item_id=item_id, user_id=user_of(body), still=note, key=f"view:{view.get('id')}"
            )
        except CxError as error:
            ack(response_action="errors", errors={Field.STILL_SEEING: error.user_message})
            return
        if change is None:  # the same form sent twice: the first did it
            ack()
            return
        ack(response_action="update", view=answered_view(change.summary))

    return on_submit
