"""Refusing malformed payloads with 400 before Bolt or a listener looks at them.

Slack's payloads have a known shape. A signed request whose fields have the wrong types (a view
that is a string, actions that aren't a list, no user on a click) is a broken or hostile sender:
it gets a 400, never a 500 from code that trusted the shape.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

_OBJECT_KEYS = ("view", "user", "team", "channel", "container", "message", "enterprise", "event", "state")
_STRING_KEYS = (
    "type",
    "callback_id",
    "trigger_id",
    "command",
    "text",
    "user_id",
    "channel_id",
    "response_url",
)
# Slack sends a trigger_id with each of these, and a listener may need it to open a form.
_NEEDS_TRIGGER = {"block_actions", "message_action", "shortcut"}
_NEEDS_USER = {
    "block_actions",
    "view_submission",
    "view_closed",
    "message_action",
    "shortcut",
    "block_suggestion",
}


def problem(body: Any) -> str | None:
    """What is wrong with the payload's shape, or None."""
    if not isinstance(body, dict):
        return "the payload is not an object"
    for key in _OBJECT_KEYS:
        if key in body and not isinstance(body[key], dict):
            return f"{key} is not an object"
    for key in _STRING_KEYS:
        if key in body and not isinstance(body[key], str):
            return f"{key} is not a string"
    if body.get("type") in _NEEDS_USER and not _non_empty_string((body.get("user") or {}).get("id")):
        return "no user"
    if body.get("response_url") and not str(body["response_url"]).startswith(("https://", "http://")):
        return "response_url is not a web address"
    if body.get("type") in _NEEDS_TRIGGER and not _non_empty_string(body.get("trigger_id")):
        return "no trigger_id"
    if "command" in body and not all(body.get(key) for key in ("user_id", "trigger_id")):
        return "a command without user_id or trigger_id"
    return _view_problem(body.get("view")) or _actions_problem(body.get("actions")) or _event_problem(body)


def _non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _view_problem(view: Any) -> str | None:
    if view is None:
        return None
    for key in ("id", "callback_id", "private_metadata", "type"):
        if key in view and not isinstance(view[key], str):
            return f"view.{key} is not a string"
    state = view.get("state")
    if state is not None and not (isinstance(state, dict) and isinstance(state.get("values", {}), dict)):
        return "view.state.values is not an object"
    return None


def _actions_problem(actions: Any) -> str | None:
    if actions is None:
        return None
    if not isinstance(actions, list) or not all(isinstance(action, dict) for action in actions):
        return "actions is not a list of objects"
    for action in actions:
        if not _non_empty_string(action.get("action_id")):
            return "an action without an action_id"
        for key in ("block_id", "value", "type", "selected_user"):
            if key in action and not isinstance(action[key], str):
                return f"actions[].{key} is not a string"
        if "selected_option" in action and not isinstance(action["selected_option"], dict):
            return "actions[].selected_option is not an object"
    return None


def _event_problem(body: dict[str, Any]) -> str | None:
    event = body.get("event")
    if event is not None and not isinstance(event.get("type"), str):
        return "event.type is not a string"
    return None


def refusal(req: BoltRequest) -> BoltResponse | None:
    """A 400 for a malformed payload, or None to let it through."""
    found = problem(req.body)
    if found is not None:
        return BoltResponse(status=400, body=f'{{"error": "malformed payload: {found}"}}')
    return None
