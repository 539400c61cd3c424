"""Events: replies in a card's thread, App Home being opened, and the app losing its token."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.deps import Deps
from bot.home.build import refresh_home
from bot.items import flows

# The message subtypes that are a person writing: a plain message has none; a reply also sent to
# the channel is a thread_broadcast, one with a file a file_share, "/me waves" a me_message. The
# rest (edits, deletions, bot posts, joins...) are not a person replying.
_PERSON_SUBTYPES = {None, "thread_broadcast", "file_share", "me_message"}


def register(app: App, deps: Deps) -> None:
    app.event("message")(_thread_reply_listener(deps))
    app.event("app_home_opened")(_home_listener(deps))
    app.event("tokens_revoked")(_token_listener(deps, "tokens_revoked"))
    app.event("app_uninstalled")(_token_listener(deps, "app_uninstalled"))


def _thread_reply_listener(deps: Deps) -> Any:
    def on_message(event: dict[str, Any], body: dict[str, Any]) -> None:
        thread_ts, user, channel = event.get("thread_ts"), event.get("user"), event.get("channel")
        if event.get("subtype") not in _PERSON_SUBTYPES or event.get("bot_id"):
            return
        if not (isinstance(thread_ts, str) and isinstance(user, str) and isinstance(channel, str)):
            return
        if thread_ts == event.get("ts"):
            return  # a top-level message, not a reply
        flows.thread_reply(
            deps,
            channel=channel,
            thread_ts=thread_ts,
            user_id=user,
            text=str(event.get("text") or ""),
            ts=str(event.get("ts") or ""),
            event_id=str(body.get("event_id") or f"{channel}:{event.get('ts')}"),
        )

    return on_message


def _home_listener(deps: Deps) -> Any:
    def on_home_opened(event: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab", "home") == "home" and isinstance(user, str) and user:
            refresh_home(deps, user_id=user)

    return on_home_opened


def _token_listener(deps: Deps, event_type: str) -> Any:
    def on_token_lost() -> None:
        deps.token_refused(event_type)

    on_token_lost.__name__ = f"on_{event_type}"
    return on_token_lost
