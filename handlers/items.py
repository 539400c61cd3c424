"""The owner's buttons on a card (and in App Home), the modals behind them, and the raiser's
credit choice."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.blocks.dialogs import (
    actioned_modal,
    decline_modal,
    duplicate_modal,
    item_number,
    reassign_modal,
    selected,
    typed_text,
)
from bot.blocks.ids import Callback, CreditAction, Field, ItemAction, MeTooAction, MoreOption
from bot.blocks.search import results_modal, search_modal
from bot.deps import Deps
from bot.errors import CxError
from bot.home.build import refresh_home
from bot.items import flows, lifecycle
from bot.items.lifecycle import Change
from bot.items.permissions import Actor
from handlers.feedback import from_app_home, tell, tell_outcome, user_of
from storage import routes as route_queries
from storage.models import OPEN_STATUSES, Item

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    app.action(ItemAction.ACKNOWLEDGE)(_change_button(deps, _acknowledge))
    app.action(ItemAction.REOPEN)(_change_button(deps, _reopen))
    app.action(ItemAction.SNOOZE)(_change_button(deps, _snooze, always_tell=True))
    app.action(ItemAction.UPVOTE)(_vote_button(deps))
    app.action(ItemAction.ME_TOO)(_me_too_button(deps))
    app.action(MeTooAction.JOIN_INSTEAD)(_join_instead_button(deps))
    app.action(MeTooAction.FIND)(_find_button())
    app.view_submission(Callback.FIND)(_find_submission(deps))
    app.action(MeTooAction.JOIN_FOUND)(_join_found_button(deps))
    app.action(ItemAction.MARK_ACTIONED)(
        _dialog_button(deps, "mark it actioned", lambda d, i: actioned_modal(i))
    )
    app.action(ItemAction.DECLINE)(_dialog_button(deps, "decline it", lambda d, i: decline_modal(i)))
    app.action(ItemAction.REASSIGN)(_dialog_button(deps, "reassign it", _reassign_view))
    app.action(ItemAction.MORE)(_more_menu(deps))
    for choice in CreditAction:
        app.action(choice)(_credit_button(deps, credit_me=choice is CreditAction.CREDIT_ME))
    app.view_submission(Callback.MARK_ACTIONED)(_submission(deps, _read_actioned))
    app.view_submission(Callback.DECLINE)(_submission(deps, _read_decline))
    app.view_submission(Callback.REASSIGN)(_submission(deps, _read_reassign))
    app.view_submission(Callback.DUPLICATE)(_submission(deps, _read_duplicate))


def _item_id(action: dict[str, Any]) -> int:
    value = str(action.get("value") or (action.get("selected_option") or {}).get("value") or "")
    number = item_number(value.rsplit(":", 1)[-1])
    if number is None:
        raise CxError("That button doesn't point at an item any more.")
    return number


def _acknowledge(deps: Deps) -> flows.Apply:
    now = deps.clock()
    return lambda session, item, who: lifecycle.acknowledge(
        session=session, item=item, actor=who, now=now, via="button"
    )


def _reopen(deps: Deps) -> flows.Apply:
    now = deps.clock()
    return lambda session, item, who: lifecycle.reopen(session=session, item=item, actor=who, now=now)


def _snooze(deps: Deps) -> flows.Apply:
    now = deps.clock()
    return lambda session, item, who: lifecycle.snooze(session=session, item=item, actor=who, now=now)


def _withdraw(deps: Deps) -> flows.Apply:
    now = deps.clock()
    return lambda session, item, who: lifecycle.withdraw(session=session, item=item, actor=who, now=now)


def _after(
    deps: Deps, body: dict[str, Any], client: WebClient, change: Change | None, *, quiet: bool
) -> None:
    if from_app_home(body):
        user = user_of(body)
        refresh_home(deps, user_id=user)
    elif change is not None and not quiet:
        tell(body, client, change.summary)


def _change_button(deps: Deps, make: Callable[[Deps], flows.Apply], *, always_tell: bool = False) -> Any:
    def on_click(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        try:
            change = flows.change_item(
                deps, item_id=_item_id(action), user_id=user_of(body), key=None, apply=make(deps)
            )
        except CxError as error:
            tell(body, client, error.user_message)
            return
        # The card's update shows a success; only a no-op ("already acknowledged") is worth saying.
        quiet = not always_tell and change is not None and "already" not in change.summary
        _after(deps, body, client, change, quiet=quiet)

    return on_click


def _vote_button(deps: Deps) -> Any:
    return _person_button(
        deps, lambda item_id, user, body: flows.vote(deps, item_id=item_id, user_id=user), name="on_vote"
    )


def _me_too_button(deps: Deps) -> Any:
    def me_too(item_id: int, user: str, body: dict[str, Any]) -> Change | None:
        via = "home" if from_app_home(body) else "card"
        return flows.me_too(deps, item_id=item_id, user_id=user, via=via)

    return _person_button(deps, me_too, name="on_me_too")


def _person_button(deps: Deps, act: Callable[[int, str, dict[str, Any]], Change | None], *, name: str) -> Any:
    """A button anyone may press for themselves (upvote, me too): they are told what it did."""

    def on_click(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        try:
            change = act(_item_id(action), user_of(body), body)
        except CxError as error:
            tell(body, client, error.user_message)
            return
        _after(deps, body, client, change, quiet=False)

    on_click.__name__ = name
    return on_click


def _join_instead_button(deps: Deps) -> Any:
    def on_join(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        filed, _, target = str(action.get("value") or "").partition(":")
        filed_id, target_id = item_number(filed), item_number(target)
        if filed_id is None or target_id is None:
            tell(body, client, "That button doesn't point at an item any more.")
            return
        user = user_of(body)
        tell_outcome(
            body,
            client,
            lambda: flows.join_instead(deps, filed_id=filed_id, target_id=target_id, user_id=user),
        )

    return on_join


def _find_button() -> Any:
    def on_find(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=search_modal())

    return on_find


def _find_submission(deps: Deps) -> Any:
    def on_search(ack: Ack, view: dict[str, Any]) -> None:
        query = typed_text((view.get("state") or {}).get("values") or {}, Field.LOOKING_FOR).strip()
        if not query:
            ack(response_action="errors", errors={Field.LOOKING_FOR: "Say in a few words what you saw."})
            return
        ack(response_action="update", view=results_modal(query, flows.find_open_items(deps, query)))

    return on_search


def _join_found_button(deps: Deps) -> Any:
    """Me too on a search result: join it, and show it joined (or why not) in the same modal."""

    def on_join(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        view = body.get("view") or {}
        query = str(view.get("private_metadata") or "")
        note: str | None = None
        joined: list[int] = []
        try:
            item_id = _item_id(action)
            flows.me_too(deps, item_id=item_id, user_id=user_of(body), via="home")
            joined.append(item_id)
        except CxError as error:
            note = error.user_message
        shown = results_modal(query, flows.find_open_items(deps, query), joined=joined, note=note)
        client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=shown)

    return on_join


def _reassign_view(deps: Deps, item: Item) -> Any:
    with deps.session_factory() as session:
        areas = [route.area for route in route_queries.active_routes(session=session)]
    return reassign_modal(item, areas)


def _dialog_button(deps: Deps, doing: str, view_for: Callable[[Deps, Item], Any]) -> Any:
    def on_click(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        try:
            item = _open_item_to_manage(deps, item_id=_item_id(action), user_id=user_of(body), doing=doing)
        except CxError as error:
            tell(body, client, error.user_message)
            return
        client.views_open(trigger_id=body["trigger_id"], view=view_for(deps, item))

    return on_click


def _open_item_to_manage(deps: Deps, *, item_id: int, user_id: str, doing: str) -> Item:
    """The item, if `user_id` may manage it and it is still open: checked before a form opens."""
    item = flows.check_manager(deps, item_id=item_id, user_id=user_id, doing=doing)
    if item.status not in OPEN_STATUSES:
        raise CxError(f"#{item.id} is {item.status.value}; reopen it first.")
    return item


def _more_menu(deps: Deps) -> Any:
    def on_choice(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        option = action.get("selected_option") or {}
        choice = str(option.get("value") or "").split(":", 1)[0]
        try:
            item_id = _item_id(action)
            if choice == MoreOption.WITHDRAW:
                change = flows.change_item(
                    deps, item_id=item_id, user_id=user_of(body), key=None, apply=_withdraw(deps)
                )
                _after(deps, body, client, change, quiet=False)
                return
            item = _open_item_to_manage(
                deps, item_id=item_id, user_id=user_of(body), doing="mark it a duplicate"
            )
        except CxError as error:
            tell(body, client, error.user_message)
            return
        client.views_open(trigger_id=body["trigger_id"], view=duplicate_modal(item))

    return on_choice


def _credit_button(deps: Deps, *, credit_me: bool) -> Any:
    def on_choice(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        now = deps.clock()

        def apply(session: Session, item: Item, who: Actor) -> Change:
            return lifecycle.set_credit_consent(
                session=session, item=item, actor=who, now=now, credit_me=credit_me
            )

        tell_outcome(
            body,
            client,
            lambda: flows.change_item(
                deps, item_id=_item_id(action), user_id=user_of(body), key=None, apply=apply
            ),
        )

    return on_choice


# Modal submissions: each reader returns (field to flag, apply) or raises CxError for the form.
Reader = Callable[[Deps, dict[str, Any]], tuple[Field, flows.Apply]]


def _read_actioned(deps: Deps, values: dict[str, Any]) -> tuple[Field, flows.Apply]:
    what = typed_text(values, Field.WHAT_WAS_DONE)
    led = selected(values, Field.LED_TO_ACTION) != "no"
    now = deps.clock()
    return Field.WHAT_WAS_DONE, lambda session, item, who: lifecycle.mark_actioned(
        session=session, item=item, actor=who, now=now, what_was_done=what, led_to_action=led
    )


def _read_decline(deps: Deps, values: dict[str, Any]) -> tuple[Field, flows.Apply]:
    why = typed_text(values, Field.WHY)
    now = deps.clock()
    return Field.WHY, lambda session, item, who: lifecycle.decline(
        session=session, item=item, actor=who, now=now, why=why
    )


def _read_reassign(deps: Deps, values: dict[str, Any]) -> tuple[Field, flows.Apply]:
    area, person = selected(values, Field.NEW_AREA), selected(values, Field.NEW_PERSON)
    if area and person:
        raise _FormError(Field.NEW_PERSON, "Pick an area or a person, not both.")
    now = deps.clock()
    return Field.NEW_PERSON, lambda session, item, who: lifecycle.reassign(
        session=session, item=item, actor=who, now=now, to_area=area, to_person=person, triage=deps.triage
    )


def _read_duplicate(deps: Deps, values: dict[str, Any]) -> tuple[Field, flows.Apply]:
    original = item_number(typed_text(values, Field.ORIGINAL))
    if original is None:
        raise _FormError(Field.ORIGINAL, "Give the other item's number, like 12 or #12.")
    now = deps.clock()
    return Field.ORIGINAL, lambda session, item, who: lifecycle.mark_duplicate(
        session=session, item=item, actor=who, now=now, original_id=original
    )


class _FormError(CxError):
    def __init__(self, field: Field, message: str) -> None:
        super().__init__(message)
        self.field = field


def _submission(deps: Deps, read: Reader) -> Any:
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = (view.get("state") or {}).get("values") or {}
        item_id = item_number(str(view.get("private_metadata") or ""))
        if item_id is None:
            ack()  # not a form of ours: nothing to act on
            return
        try:
            field, apply = read(deps, values)
        except _FormError as error:
            ack(response_action="errors", errors={error.field: error.user_message})
            return
        try:
            flows.change_item(
                deps, item_id=item_id, user_id=user_of(body), key=f"view:{view.get('id')}", apply=apply
            )
        except CxError as error:
            ack(response_action="errors", errors={field: error.user_message})
            return
        ack()

    return on_submit
