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
from pathlib import Path
from typing import Any

from bot.app import Runtime
from bot.capture.filing import file_item
from bot.capture.submission import Submission
from bot.routing.routes_file import import_routes_file
from bot.routing.rules import Triage
from bot.sandbox import envelopes
from bot.sandbox.signing import SIGNING_SECRET, signature
from bot.server import EVENTS_PATH, make_http_server
from storage.db import make_engine, make_session_factory, transaction
from storage.models import ItemKind
from storage.schema import migrate

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
        """A slash command with every field Slack sends (`extra` overrides or adds fields)."""
        form = {
            **envelopes.command_form(
                command=command,
                text=text,
                user=user,
                channel=channel,
                response_url=response_url,
                trigger=trigger_id,
            ),
            **extra,
        }
        body = urllib.parse.urlencode(form).encode()
        return self.send(body, "application/x-www-form-urlencoded")

    def interaction(self, payload: dict[str, Any]) -> HttpAnswer:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return self.send(body, "application/x-www-form-urlencoded")

    def event(self, event: dict[str, Any], *, event_id: str = "Ev0001", **headers: str) -> HttpAnswer:
        """`event` in the Events API envelope Slack wraps it in."""
        envelope = envelopes.event_callback(event, event_id=event_id)
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
        self.server = make_http_server(
            runtime.app,
            signing_secret=runtime.deps.settings.slack_signing_secret,
            host="127.0.0.1",
            port=0,
            threads=4,
        )
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
    return envelopes.view_submission(
        callback_id=callback_id, values=values, user=user, view_id=view_id, private_metadata=private_metadata
    )


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
    response_url: str | None = None,
    channel: str | None = "C0BILLING",
    message_ts: str = "1.0",
    home: bool = False,
    selected_option: dict[str, Any] | None = None,
    modal: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A click on a card's button or menu (or, with `home`, in App Home; with `modal`, in that open
    modal), as Slack sends it: a click in a message always comes with a response_url (a fake
    Slack's), one in App Home or a modal never."""
    if not home and modal is None and not response_url:
        raise ValueError("a click in a message comes with a response_url: pass fake.response_url(...)")
    action = (
        envelopes.overflow(action_id, selected_option)
        if selected_option is not None
        else envelopes.button(action_id, value)
    )
    return envelopes.block_actions(
        action=action,
        user=user,
        channel=channel,
        message_ts=message_ts,
        response_url=response_url or "",
        home=home,
        modal=modal,
    )


def file_stale_alarm(database_url: str, routes_file: Path, *, at: datetime) -> None:
    """Into a database no bot is running on yet: migrate it, import the routes, and file an alarm
    for billing (owner U0BILLING) three days before `at`, so that a nag sweep at `at` finds it."""
    engine = make_engine(database_url)
    try:
        migrate(engine)
        import_routes_file(engine, routes_file, clock=lambda: at)
        with transaction(make_session_factory(engine)) as session:
            stale = Submission(kind=ItemKind.ALARM, text="The refund never came", raiser_id="U0RAISER")
            file_item(
                session=session,
                submission=stale,
                triage=Triage(TRIAGE, ADMINS),
                now=at - timedelta(days=3),
            )
    finally:
        engine.dispose()
