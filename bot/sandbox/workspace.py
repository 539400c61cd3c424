"""What each person in the sandbox sees, rebuilt from the Web API calls the app made to the
embedded fake Slack, and from what the page itself sends (people's messages, the app's answers to
form submissions).

The page gives every interaction a response URL and a trigger ID that say whose they are and where
they were made (`response_url_name`, `trigger_id`), so that an ephemeral reply lands in the right
person's view of the right channel, and a modal opens for the person who clicked.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

BOT_USER = "U0BOT"
_SEPARATOR = "~"


@dataclass
class Message:
    """A message in a channel or DM, as the page draws it."""

    channel: str
    ts: str
    user: str  # who posted it: the app (BOT_USER) or a person
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    ephemeral_to: str | None = None  # only this person sees it
    edited: bool = False


@dataclass
class Modal:
    view_id: str
    user: str
    view: dict[str, Any]


def dm_channel(user_id: str) -> str:
    """The DM between cxbot and a person, as the fake Slack names it."""
    return "D" + user_id[1:]


def response_url_name(*, channel: str, user: str, message_ts: str | None = None) -> str:
    """The name of a response URL for an interaction by `user` in `channel` (on a message)."""
    return _SEPARATOR.join([channel, user, message_ts or ""])


def trigger_id(*, user: str, number: int) -> str:
    return _SEPARATOR.join(["trigger", user, str(number)])


def user_of_trigger(trigger: str) -> str | None:
    parts = trigger.split(_SEPARATOR)
    return parts[1] if len(parts) == 3 and parts[0] == "trigger" else None


class Workspace:
    """Channels, DMs, ephemeral messages, open modals and App Homes, made from the calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: dict[str, list[Message]] = {}
        self._modals: dict[str, list[Modal]] = {}  # user -> the stack, top last
        self._homes: dict[str, dict[str, Any]] = {}
        self._ts = itertools.count(1)

    # Reading -------------------------------------------------------------------------------------
    def messages(self, channel: str, *, viewer: str, thread_ts: str | None = None) -> list[Message]:
        """Top-level messages (or one thread's replies) in `channel` that `viewer` may see."""
        with self._lock:
            found = list(self._messages.get(channel, []))
        return [
            message
            for message in found
            if message.ephemeral_to in (None, viewer)
            and (message.thread_ts == thread_ts if thread_ts else message.thread_ts in (None, message.ts))
        ]

    def replies_to(self, channel: str, ts: str) -> int:
        with self._lock:
            return sum(1 for m in self._messages.get(channel, []) if m.thread_ts == ts and m.ts != ts)

    def modal(self, user: str) -> Modal | None:
        with self._lock:
            stack = self._modals.get(user) or []
            return stack[-1] if stack else None

    def home(self, user: str) -> dict[str, Any] | None:
        with self._lock:
            return self._homes.get(user)

    def channels_with_messages(self) -> list[str]:
        with self._lock:
            return [channel for channel, messages in self._messages.items() if messages]

    # What the app did (calls to the fake Slack) ----------------------------------------------------
    def apply(
        self, method: str, args: Mapping[str, Any], response: Mapping[str, Any], path: str = ""
    ) -> None:
        """One call the app made, and what the fake Slack answered."""
        if method == "response_url":
            self._response_url(path.rsplit("/", 1)[-1], args)
        elif not response.get("ok"):
            return
        elif method == "chat.postMessage":
            self._posted(args, response)
        elif method == "chat.update":
            self._updated(str(args["channel"]), str(args["ts"]), args)
        elif method == "chat.postEphemeral":
            self._add(
                self._message_from(args, channel=str(args["channel"]), ts=self._next_ts()),
                to=str(args["user"]),
            )
        elif method.startswith("views."):
            self._view(method, args, response)
        elif method == "files.completeUploadExternal" and args.get("channel_id"):
            self._shared_files(args, response)

    def _shared_files(self, args: Mapping[str, Any], response: Mapping[str, Any]) -> None:
        """Files shared in a channel (a digest's chart in its thread): a message showing them."""
        files = [entry for entry in response.get("files") or [] if isinstance(entry, dict)]
        blocks = [
            {
                "type": "image",
                "slack_file": {"id": str(entry["id"])},
                "alt_text": str(entry.get("title") or entry.get("name") or "a file"),
                "title": {"type": "plain_text", "text": str(entry.get("title") or entry.get("name") or "")},
            }
            for entry in files
        ]
        thread = args.get("thread_ts")
        message = self._message_from(
            {"text": args.get("initial_comment") or "", "blocks": blocks},
            channel=str(args["channel_id"]),
            ts=self._next_ts(),
        )
        message.thread_ts = str(thread) if thread else None
        self._add(message)

    def _posted(self, args: Mapping[str, Any], response: Mapping[str, Any]) -> None:
        channel = str(response.get("channel") or args["channel"])
        thread = args.get("thread_ts")
        message = self._message_from(args, channel=channel, ts=str(response["ts"]))
        message.thread_ts = str(thread) if thread else None
        self._add(message)

    def _updated(self, channel: str, ts: str, args: Mapping[str, Any]) -> None:
        with self._lock:
            for message in self._messages.get(channel, []):
                if message.ts == ts:
                    message.text = str(args.get("text") or "")
                    message.blocks = list(args.get("blocks") or [])
                    message.edited = True

    def _response_url(self, name: str, args: Mapping[str, Any]) -> None:
        """A reply by response URL: ephemeral to whoever acted, or in place of the message acted on."""
        parts = unquote(name).split(_SEPARATOR)
        if len(parts) != 3:
            return
        channel, user, message_ts = parts
        if args.get("delete_original") and message_ts:
            with self._lock:
                kept = [m for m in self._messages.get(channel, []) if m.ts != message_ts]
                self._messages[channel] = kept
            return
        if args.get("replace_original") and message_ts:
            self._updated(channel, message_ts, args)
            return
        public = args.get("response_type") == "in_channel"
        message = self._message_from(args, channel=channel, ts=self._next_ts())
        self._add(message, to=None if public else user)

    def _view(self, method: str, args: Mapping[str, Any], response: Mapping[str, Any]) -> None:
        view = dict(response.get("view") or args.get("view") or {})
        if method == "views.publish":
            with self._lock:
                self._homes[str(args["user_id"])] = view
            return
        view_id = str(view.get("id") or "")
        if method in ("views.open", "views.push"):
            user = user_of_trigger(str(args.get("trigger_id") or ""))
            if user is not None:
                with self._lock:
                    stack = self._modals.setdefault(user, [])
                    if method == "views.open":
                        stack.clear()
                    stack.append(Modal(view_id, user, view))
            return
        self.replace_view(str(args.get("view_id") or ""), view, external_id=args.get("external_id"))

    # What people did (sent by the page) ----------------------------------------------------------
    def say(self, *, channel: str, user: str, text: str, thread_ts: str | None = None) -> Message:
        """A person's message, typed in the page's composer."""
        message = Message(channel=channel, ts=self._next_ts(), user=user, text=text, thread_ts=thread_ts)
        self._add(message)
        return message

    def replace_view(self, view_id: str, view: dict[str, Any], *, external_id: Any = None) -> None:
        """A modal updated in place (views.update, or a submission answered with "update")."""
        with self._lock:
            for stack in self._modals.values():
                for index, modal in enumerate(stack):
                    if modal.view_id == view_id or (
                        external_id and modal.view.get("external_id") == external_id
                    ):
                        kept_id = modal.view_id
                        stack[index] = Modal(kept_id, modal.user, {**view, "id": kept_id})

    def push_view(self, user: str, view: dict[str, Any]) -> None:
        with self._lock:
            number = sum(len(stack) for stack in self._modals.values()) + 1
            self._modals.setdefault(user, []).append(Modal(f"VPUSHED{number:05d}", user, view))

    def close_modal(self, user: str, *, everything: bool = False) -> None:
        with self._lock:
            stack = self._modals.get(user) or []
            if everything:
                stack.clear()
            elif stack:
                stack.pop()

    # Helpers -------------------------------------------------------------------------------------
    def _add(self, message: Message, *, to: str | None = None) -> None:
        message.ephemeral_to = to
        with self._lock:
            self._messages.setdefault(message.channel, []).append(message)

    def _next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    @staticmethod
    def _message_from(args: Mapping[str, Any], *, channel: str, ts: str) -> Message:
        return Message(
            channel=channel,
            ts=ts,
            user=BOT_USER,
            text=str(args.get("text") or ""),
            blocks=list(args.get("blocks") or []),
        )
