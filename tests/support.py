"""Test support: a controllable clock, signed Slack requests, and the bot served over real HTTP."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.runtime import Runtime
from bot.server import EVENTS_PATH, make_http_server
from tests.signing import SIGNING_SECRET, signature

BOT_TOKEN = "xoxb-1-test"
TRIAGE = "C0TRIAGE"
ADMINS = ("U0ADMIN1", "U0ADMIN2")


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self.now += timedelta(**delta)
            return self.now


class TrackingExecutor(ThreadPoolExecutor):
    """Runs Bolt's listeners after ack, and lets a test wait until all of them have finished."""

    def __init__(self) -> None:
        super().__init__(max_workers=8, thread_name_prefix="listener")
        self._futures: list[Future[Any]] = []
        self._lock = threading.Lock()

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        with self._lock:
            self._futures.append(future)
        return future

    def running(self) -> int:
        """How many listeners haven't finished yet."""
        with self._lock:
            return sum(1 for future in self._futures if not future.done())

    def wait_idle(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [f for f in self._futures if not f.done()]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(pending)} listeners still running after {timeout} s")
            pending[0].result(timeout=max(deadline - time.monotonic(), 0.01))


# The routes the tests (and the ack benchmark) run with.
ROUTES_TOML = """
[[routes]]
area = "billing"
owner = "U0BILLING"
channel = "C0BILLING"
keywords = ["refund", "invoice", "charged twice"]
escalate_to = "U0CFO"

[[routes]]
area = "onboarding"
owner = "S0ONBOARD"
channel = "C0ONBOARD"
keywords = ["signup", "welcome email", "invoice"]
"""


@dataclass
class HttpAnswer:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class BotUnderTest:
    runtime: Runtime
    executor: TrackingExecutor
    url: str
    _signed: set[tuple[int, bytes]] = field(default_factory=set)

    # Requests, signed as Slack signs them.
    def send(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        headers: dict[str, str] | None = None,
    ) -> HttpAnswer:
        stamp = self._fresh_timestamp(body) if timestamp is None else timestamp
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": str(stamp),
                "X-Slack-Signature": signature(body, stamp, secret),
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return HttpAnswer(response.status, response.read(), dict(response.headers))
        except urllib.error.HTTPError as error:
            return HttpAnswer(error.code, error.read(), dict(error.headers))

    def _fresh_timestamp(self, body: bytes) -> int:
        """Each request of a test is a new request, as Slack's would be, so it gets a timestamp
        (and so a signature) no earlier identical body had: the bot refuses exact replays."""
        stamp = int(time.time())
        while (stamp, body) in self._signed:
            stamp -= 1
        self._signed.add((stamp, body))
        return stamp

    def command(
        self,
        command: str,
        text: str,
        *,
        user: str = "U0RAISER",
        channel: str = "C0GENERAL",
        response_url: str = "",
        trigger_id: str | None = None,
        **extra: Any,
    ) -> HttpAnswer:
        form = {
            "token": "legacy",
            "team_id": "T0TEST",
            "team_domain": "cxbot-test",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": "raiser",
            "command": command,
            "text": text,
            "api_app_id": "A0CXBOT",
            "response_url": response_url,
            "trigger_id": trigger_id or f"trigger-{time.monotonic_ns()}",
            **extra,
        }
        body = urllib.parse.urlencode(form).encode()
        return self.send(body, "application/x-www-form-urlencoded")

    def interaction(self, payload: dict[str, Any]) -> HttpAnswer:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return self.send(body, "application/x-www-form-urlencoded")

    def event(self, event: dict[str, Any], *, event_id: str = "Ev0001", **headers: str) -> HttpAnswer:
        envelope = {
            "token": "legacy",
            "team_id": "T0TEST",
            "api_app_id": "A0CXBOT",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": event,
        }
        return self.send(json.dumps(envelope).encode(), "application/json", headers=headers)

    # Letting the work that follows an ack finish.
    def settle(self) -> None:
        """Wait for running listeners, then deliver everything the outbox has due."""
        self.executor.wait_idle()
        self.runtime.dispatcher.drain()


class ServedBot:
    """`cxbot run --http` in-process: the same waitress server, on a free loopback port."""

    def __init__(self, runtime: Runtime, executor: TrackingExecutor) -> None:
        self.stopped = False
        self.server = make_http_server(runtime.app, host="127.0.0.1", port=0, threads=4)
        self.thread = threading.Thread(target=self._serve, name="waitress", daemon=True)
        url = f"http://127.0.0.1:{self.server.effective_port}{EVENTS_PATH}"
        self.bot = BotUnderTest(runtime=runtime, executor=executor, url=url)

    def _serve(self) -> None:
        try:
            self.server.run()
        except (OSError, ValueError):
            if not self.stopped:  # closing the sockets under waitress's select() ends it this way
                raise

    def __enter__(self) -> BotUnderTest:
        self.thread.start()
        return self.bot

    def __exit__(self, *_exc: object) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.server.close()
        self.thread.join(5)
        self.bot.executor.shutdown(wait=True)
        self.bot.runtime.close()


def view_submission(
    *,
    callback_id: str,
    values: dict[str, Any],
    user: str = "U0RAISER",
    view_id: str = "V0MODAL1",
    private_metadata: str = "",
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": "T0TEST", "domain": "cxbot-test"},
        "user": {"id": user, "username": "raiser", "team_id": "T0TEST"},
        "api_app_id": "A0CXBOT",
        "token": "legacy",
        "trigger_id": f"trigger-{time.monotonic_ns()}",
        "view": {
            "id": view_id,
            "team_id": "T0TEST",
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": values},
            "hash": "h1",
            "app_id": "A0CXBOT",
            "bot_id": "B0BOT",
        },
    }


def modal_values(
    text: str,
    *,
    customers: str | None = None,
    stage: str | None = None,
    severity: str | None = "medium",
    area: str = "not sure",
    anonymous: bool = False,
) -> dict[str, Any]:
    def select(value: str | None) -> dict[str, Any]:
        option = {"text": {"type": "plain_text", "text": value}, "value": value} if value else None
        return {"type": "static_select", "selected_option": option}

    values: dict[str, Any] = {
        "what_happened": {"what_happened": {"type": "plain_text_input", "value": text}},
        "customers": {"customers": {"type": "plain_text_input", "value": customers}},
        "journey_stage": {"journey_stage": select(stage)},
        "area": {"area": select(area)},
        "anonymous": {
            "anonymous": {
                "type": "checkboxes",
                "selected_options": [{"value": "anonymous"}] if anonymous else [],
            }
        },
    }
    if severity is not None:
        values["severity"] = {"severity": select(severity)}
    return values


def block_action(
    *,
    action_id: str,
    value: str,
    user: str,
    response_url: str = "",
    channel: str | None = "C0BILLING",
    message_ts: str = "1.0",
    home: bool = False,
    selected_option: dict[str, Any] | None = None,
) -> dict[str, Any]:
    action: dict[str, Any] = {"action_id": action_id, "block_id": "b", "action_ts": str(time.time())}
    if selected_option is not None:
        action.update(type="overflow", selected_option=selected_option)
    else:
        action.update(type="button", value=value, text={"type": "plain_text", "text": "x"})
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T0TEST", "domain": "cxbot-test"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEST"},
        "api_app_id": "A0CXBOT",
        "token": "legacy",
        "trigger_id": f"trigger-{time.monotonic_ns()}",
        "actions": [action],
    }
    if home:
        payload["container"] = {"type": "view", "view_id": "VHOME"}
        payload["view"] = {"id": "VHOME", "type": "home", "blocks": []}
    else:
        payload["container"] = {"type": "message", "message_ts": message_ts, "channel_id": channel}
        payload["channel"] = {"id": channel}
        payload["message"] = {"ts": message_ts, "text": "card"}
        payload["response_url"] = response_url
    return payload
