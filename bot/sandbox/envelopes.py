"""Slack's payloads as Slack sends them: every key of the envelope, nulls included.

Shapes from Slack's documentation and slackapi's own SDK test payloads (slackapi/bolt-python
tests/scenario_tests/, slackapi/java-slack-sdk slack-app-backend tests; the samples themselves
are in tests/slack_payloads/). Outside Enterprise Grid, interactivity payloads carry
`"enterprise": null, "is_enterprise_install": false`; a command's form carries every field even
when empty; an event comes wrapped with its authorizations. A builder that leaves keys out is
kinder than Slack and hides real bugs.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

TEAM = "T0TEST"
DOMAIN = "cxbot-test"
APP = "A0CXBOT"
BOT_USER = "U0BOT"
BOT = "B0BOT"
TOKEN = "Jhj5dZrVaK7ZwHHjRyZWjbDl"  # the legacy verification token Slack still sends

_sequence = itertools.count(1)


def trigger_id() -> str:
    return f"{next(_sequence)}.{int(time.time())}.7e6c5ae2f1b3b0b8e2c9d3f4a5b6c7d8"


def _team(enterprise: str | None) -> dict[str, Any]:
    team: dict[str, Any] = {"id": TEAM, "domain": DOMAIN}
    if enterprise:
        team["enterprise_id"] = enterprise
        team["enterprise_name"] = "Grid Org"
    return team


def _user(user: str) -> dict[str, Any]:
    return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM}


def _enterprise(enterprise: str | None) -> dict[str, Any] | None:
    return {"id": enterprise, "name": "Grid Org"} if enterprise else None


def command_form(
    *,
    command: str,
    text: str,
    user: str,
    channel: str,
    response_url: str,
    trigger: str | None = None,
    enterprise: str | None = None,
    channel_name: str = "general",
    user_name: str = "raiser",
) -> dict[str, str]:
    """A slash command's form fields, in the order Slack sends them."""
    form = {"token": TOKEN, "team_id": TEAM, "team_domain": DOMAIN}
    if enterprise:
        form.update(enterprise_id=enterprise, enterprise_name="Grid Org")
    form.update(
        channel_id=channel,
        channel_name=channel_name,
        user_id=user,
        user_name=user_name,
        command=command,
        text=text,
        api_app_id=APP,
        is_enterprise_install="false",
        response_url=response_url,
        trigger_id=trigger or trigger_id(),
    )
    return form


def card_message(ts: str, text: str = "card") -> dict[str, Any]:
    """A message cxbot posted, as Slack echoes it back in a click's payload."""
    return {
        "user": BOT_USER,
        "type": "message",
        "ts": ts,
        "bot_id": BOT,
        "app_id": APP,
        "text": text,
        "team": TEAM,
        "blocks": [{"type": "section", "block_id": "b", "text": {"type": "mrkdwn", "text": text}}],
    }


def home_view(view_id: str = "VHOME") -> dict[str, Any]:
    return view(view_id=view_id, view_type="home", callback_id="", private_metadata="")


def view(
    *,
    view_id: str,
    callback_id: str,
    private_metadata: str,
    view_type: str = "modal",
    values: dict[str, Any] | None = None,
    blocks: list[dict[str, Any]] | None = None,
    shown: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A view as Slack includes it in a payload: every key, nulls included. `shown` is the view as
    the app opened it: its blocks, title, submit, close and external_id come along."""
    payload = {
        "id": view_id,
        "team_id": TEAM,
        "type": view_type,
        "blocks": blocks or [],
        "private_metadata": private_metadata,
        "callback_id": callback_id,
        "state": {"values": values or {}},
        "hash": f"{int(time.time())}.abcDEF12",
        "title": {"type": "plain_text", "text": "cxbot", "emoji": True},
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": {"type": "plain_text", "text": "Submit", "emoji": True} if view_type == "modal" else None,
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": APP,
        "external_id": "",
        "app_installed_team_id": TEAM,
        "bot_id": BOT,
    }
    for key in ("blocks", "external_id", "clear_on_close", "notify_on_close"):
        if shown is not None and key in shown:
            payload[key] = shown[key]
    for key in ("title", "submit", "close"):
        if shown is not None and key in shown:
            payload[key] = _plain(shown[key])
    return payload


def _plain(value: Any) -> Any:
    """A view's title, submit or close as Slack echoes it: a plain_text object."""
    if isinstance(value, str):
        return {"type": "plain_text", "text": value, "emoji": True}
    if isinstance(value, dict) and value.get("type") == "plain_text":
        return {"emoji": True, **value}
    return value


def block_actions(
    *,
    action: dict[str, Any],
    user: str,
    channel: str | None,
    message_ts: str,
    response_url: str,
    home: bool = False,
    enterprise: str | None = None,
    modal: dict[str, Any] | None = None,
    trigger: str | None = None,
    message: dict[str, Any] | None = None,
    channel_name: str = "cx-billing",
) -> dict[str, Any]:
    """A click on a button or menu: in a message in `channel` (`message`, as Slack echoes it back;
    a card by default), in App Home, or in an open `modal` (a view as `view()` makes it)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user),
        "api_app_id": APP,
        "token": TOKEN,
        "container": (
            {"type": "view", "view_id": "VHOME"}
            if home
            else {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False}
        ),
        "trigger_id": trigger or trigger_id(),
        "team": _team(enterprise),
        "enterprise": _enterprise(enterprise),
        "is_enterprise_install": False,
    }
    if modal is not None:
        payload["container"] = {"type": "view", "view_id": modal["id"]}
        payload["view"] = modal
    elif home:
        payload["view"] = home_view()
    else:
        payload["channel"] = {"id": channel, "name": channel_name}
        payload["message"] = message or card_message(message_ts)
        payload["state"] = {"values": {}}
        payload["response_url"] = response_url
    payload["actions"] = [action]
    return payload


def button(action_id: str, value: str) -> dict[str, Any]:
    return {
        "action_id": action_id,
        "block_id": "b",
        "text": {"type": "plain_text", "text": "x", "emoji": True},
        "value": value,
        "type": "button",
        "action_ts": f"{time.time():.6f}",
    }


def overflow(action_id: str, selected_option: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "overflow",
        "action_id": action_id,
        "block_id": "b",
        "selected_option": selected_option,
        "action_ts": f"{time.time():.6f}",
    }


def message_action(
    *,
    callback_id: str,
    user: str,
    channel: str,
    message: dict[str, Any],
    response_url: str,
    trigger: str | None = None,
    enterprise: str | None = None,
) -> dict[str, Any]:
    """A message shortcut ("Raise as CX alarm" from a message's ⋯ menu)."""
    return {
        "type": "message_action",
        "token": TOKEN,
        "action_ts": f"{time.time():.6f}",
        "team": _team(enterprise),
        "user": _user(user),
        "channel": {"id": channel, "name": "support"},
        "is_enterprise_install": False,
        "enterprise": _enterprise(enterprise),
        "callback_id": callback_id,
        "trigger_id": trigger or trigger_id(),
        "response_url": response_url,
        "message_ts": message["ts"],
        "message": message,
    }


def view_submission(
    *,
    callback_id: str,
    values: dict[str, Any],
    user: str,
    view_id: str,
    private_metadata: str,
    enterprise: str | None = None,
) -> dict[str, Any]:
    shown = view(view_id=view_id, callback_id=callback_id, private_metadata=private_metadata, values=values)
    return view_submission_of(view=shown, user=user, enterprise=enterprise)


def view_submission_of(
    *, view: dict[str, Any], user: str, trigger: str | None = None, enterprise: str | None = None
) -> dict[str, Any]:
    """The submission of `view` (as `view()` makes it, its state filled in)."""
    return {
        "type": "view_submission",
        "team": _team(enterprise),
        "user": _user(user),
        "api_app_id": APP,
        "token": TOKEN,
        "trigger_id": trigger or trigger_id(),
        "view": view,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": _enterprise(enterprise),
    }


def event_callback(event: dict[str, Any], *, event_id: str, team: str = TEAM) -> dict[str, Any]:
    """The Events API envelope around `event`, authorised for `team`."""
    return {
        "token": TOKEN,
        "team_id": team,
        "context_team_id": team,
        "context_enterprise_id": None,
        "api_app_id": APP,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJ{event_id}",
    }


def message(*, user: str, text: str, ts: str) -> dict[str, Any]:
    """A person's message, as a shortcut's payload or a message event carries it."""
    return {
        "client_msg_id": "a1b2c3d4-0000-4000-8000-" + ts.replace(".", "")[-12:].rjust(12, "0"),
        "type": "message",
        "text": text,
        "user": user,
        "ts": ts,
        "team": TEAM,
        "blocks": [
            {
                "type": "rich_text",
                "block_id": "Kx4w",
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
            }
        ],
    }


def message_event(
    *,
    channel: str,
    user: str,
    text: str,
    ts: str,
    thread_ts: str | None = None,
    subtype: str | None = None,
) -> dict[str, Any]:
    """A person's message in a channel (a reply in a thread with `thread_ts`), as the message
    event carries it."""
    event = {
        **message(user=user, text=text, ts=ts),
        "channel": channel,
        "event_ts": ts,
        "channel_type": "channel",
    }
    if subtype:
        del event["client_msg_id"]
        event["subtype"] = subtype
    if thread_ts:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = BOT_USER
    return event


def app_home_opened(user: str, *, tab: str = "home") -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": "D" + user[1:],
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    if tab == "home":
        event["view"] = home_view()
    return event
