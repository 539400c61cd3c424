"""Telling the person who clicked: ephemeral in a channel, a small modal where there's no channel
(App Home), and a refreshed App Home when they acted from it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock
from slack_sdk.models.views import View
from slack_sdk.webhook import WebhookClient

from bot.blocks.replies import simple
from bot.errors import CxError
from bot.items.lifecycle import Change

log = logging.getLogger(__name__)


def tell(body: dict[str, Any], client: WebClient | None, text: str) -> None:
    """Tell the person who sent `body`, privately: by its response_url, else (with a client) in a
    small modal opened with its trigger_id."""
    response_url = body.get("response_url")
    if isinstance(response_url, str) and response_url:
        reply = simple(text)
        WebhookClient(response_url, timeout=5).send(
            text=reply.text, blocks=reply.as_dicts(), response_type="ephemeral", replace_original=False
        )
        return
    if client is None:
        return
    trigger_id = body.get("trigger_id")
    if isinstance(trigger_id, str) and trigger_id:
        view = View(
            type="modal",
            title="cxbot",
            close="OK",
            blocks=[SectionBlock(text=MarkdownTextObject(text=text))],
        )
        try:
            client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as error:
            log.warning("couldn't show a notice: %s", error.response.get("error"))


def user_of(body: dict[str, Any]) -> str:
    user = body.get("user")
    user_id = user.get("id") if isinstance(user, dict) else None
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("request has no user")
    return user_id


def from_app_home(body: dict[str, Any]) -> bool:
    container = body.get("container")
    view = body.get("view")
    return (isinstance(container, dict) and container.get("type") == "view") and (
        isinstance(view, dict) and view.get("type") == "home"
    )


def tell_outcome(body: dict[str, Any], client: WebClient | None, act: Callable[[], Change | None]) -> None:
    """Make a change the person asked for, and tell them privately what it did, or why it couldn't
    be done. Nothing is said when it was a repeat already handled (`act` returns None)."""
    try:
        change = act()
    except CxError as error:
        tell(body, client, error.user_message)
        return
    if change is not None:
        tell(body, client, change.summary)


def settle_message(body: dict[str, Any], text: str) -> bool:
    """Answer a question asked in a message by replacing its buttons with `text`, as Slack apps
    do once a choice is made. False where there is no message to change (App Home, a modal)."""
    response_url = body.get("response_url")
    message = body.get("message")
    if not isinstance(response_url, str) or not response_url or not isinstance(message, dict):
        return False
    kept = [block for block in message.get("blocks") or [] if block.get("type") != "actions"]
    said = {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
    WebhookClient(response_url, timeout=5).send(
        text=str(message.get("text") or text), blocks=[*kept, said], replace_original=True
    )
    return True
