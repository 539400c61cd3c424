"""Refusing malformed payloads with 400 before Bolt or a listener looks at them.

Slack's payloads have a known shape. A signed request whose fields have the wrong types (a view
that is a string, actions that aren't a list, no user on a click) is a broken or hostile sender:
it gets a 400, never a 500 from code that trusted the shape.

Slack sends optional keys as null where they don't apply (`"enterprise": null` outside Enterprise
Grid, `"team": null` for org-wide apps, no channel, message or view): null reads as absent.
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
# What a payload of each type can't do without (Bolt reads them unchecked).
_NEEDS_OBJECT = {"view_submission": "view", "view_closed": "view", "event_callback": "event"}
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
        if body.get(key) is not None and not isinstance(body[key], dict):
            return f"{key} is not an object"
    for key in _STRING_KEYS:
        if body.get(key) is not None and not isinstance(body[key], str):
            return f"{key} is not a string"
    if body.get("type") in _NEEDS_USER and not _non_empty_string((body.get("user") or {}).get("id")):
        return "no user"
    needed = _NEEDS_OBJECT.get(str(body.get("type")))
    if needed is not None and body.get(needed) is None:
        return f"no {needed}"
    if needed == "view" and not all(
        _non_empty_string(body["view"].get(key)) for key in ("type", "callback_id")
    ):
        return "a view without its type or callback_id"
    if body.get("type") == "block_actions" and not body.get("actions"):
        return "no actions"
    if body.get("response_url") and not str(body["response_url"]).startswith(("https://", "http://")):
        return "response_url is not a web address"
    if body.get("type") in _NEEDS_TRIGGER and not _non_empty_string(body.get("trigger_id")):
        return "no trigger_id"
    if "command" in body and not all(body.get(key) for key in ("user_id", "trigger_id")):
        return "a command without user_id or trigger_id"
    for key in ("response_urls", "authorizations"):
        if not _list_of_objects(body.get(key, [])):
            return f"{key} is not a list of objects"
    return _view_problem(body.get("view")) or _actions_problem(body.get("actions")) or _event_problem(body)


def _list_of_objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(entry, dict) for entry in value)


def _non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _view_problem(view: Any) -> str | None:
    if view is None:
        return None
    for key in ("id", "callback_id", "private_metadata", "type"):
        if view.get(key) is not None and not isinstance(view[key], str):
            return f"view.{key} is not a string"
    state = view.get("state")
    if state is not None and not (isinstance(state, dict) and isinstance(state.get("values", {}), dict)):
        return "view.state.values is not an object"
    return None


def _actions_problem(actions: Any) -> str | None:
    if actions is None:
        return None
    if not _list_of_objects(actions):
        return "actions is not a list of objects"
    for action in actions:
        if not _non_empty_string(action.get("action_id")):
            return "an action without an action_id"
        for key in ("block_id", "value", "type", "selected_user"):
            if action.get(key) is not None and not isinstance(action[key], str):
                return f"actions[].{key} is not a string"
        if action.get("selected_option") is not None and not isinstance(action["selected_option"], dict):
            return "actions[].selected_option is not an object"
    return None


def _event_problem(body: dict[str, Any]) -> str | None:
    event = body.get("event")
    if event is not None and not isinstance(event.get("type"), str):
        return "event.type is not a string"
    return None


def without_nulls(body: dict[str, Any]) -> dict[str, Any]:
    """`body` without the optional objects Slack sent as null, so that nothing downstream (Bolt's
    own logging included) mistakes a null for an object."""
    if not any(key in body and body[key] is None for key in _OBJECT_KEYS):
        return body
    return {key: value for key, value in body.items() if not (key in _OBJECT_KEYS and value is None)}


def refusal(req: BoltRequest) -> BoltResponse | None:
    """A 400 for a malformed payload, or None to let it through (with nulls read as absent)."""
    found = problem(req.body)
    if found is not None:
        return BoltResponse(status=400, body=f'{{"error": "malformed payload: {found}"}}')
    req.body = without_nulls(req.body)
    return None
