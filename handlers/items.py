"""The owner's buttons on an item card."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.blocks.ids import ItemAction
from bot.blocks.replies import simple
from bot.deps import Deps


def register(app: App, deps: Deps) -> None:
    for action in ItemAction:
        app.action(action)(_on_item_button)


def _on_item_button(ack: Ack, action: dict[str, Any], respond: Respond) -> None:
    ack()
    reply = simple(
        f"Got it. Acting on item #{action.get('value', '?')} from its card is coming in the next "
        "release of cxbot; until then, please reply in the card's thread."
    )
    respond(text=reply.text, blocks=reply.as_dicts(), response_type="ephemeral", replace_original=False)
