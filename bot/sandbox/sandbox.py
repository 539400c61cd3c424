"""`cxbot try`: the real app, built as `cxbot run --http` builds it, against an embedded fake Slack,
with a cast of people and channels, a clock the page can move, and what each person sees.

Every Web API call the app makes goes to the fake Slack, which checks it against Slack's published
spec and records it; `Workspace` rebuilds from those calls what each person would see. What people
do in the page comes to the app as Slack would send it: signed HTTP requests carrying Slack's
payloads (bot/sandbox/envelopes.py).
"""

from __future__ import annotations

import itertools
import json
import logging
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import inspect
from sqlalchemy import text as sql_text

from bot.app import Runtime, build_runtime
from bot.jobs import schedule
from bot.sandbox import envelopes
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.signing import signature
from bot.sandbox.workspace import Workspace, dm_channel, response_url_name, trigger_id
from bot.server import make_http_server
from bot.settings import Settings
from bot.slack.health import REQUIRED_SCOPES
from storage.db import make_engine

log = logging.getLogger(__name__)

SIGNING_SECRET = "sandbox-signing-secret-not-a-real-one"
BOT_TOKEN = "xoxb-sandbox-not-a-real-token"
ROUTES_FILE = Path(__file__).with_name("routes.toml")


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str
    role: str


@dataclass(frozen=True)
class Channel:
    channel_id: str
    name: str
    about: str


EMPLOYEE = Person("U0ANA", "Ana", "employee, front desk")
OWNER = Person("U0123ABCD", "Ben", "owner of billing")
LEAD = Person("U0CLEO", "Cleo", "CX lead")
CAST = (
    EMPLOYEE,
    OWNER,
    LEAD,
    Person("U0999ZZZZ", "Dana", "head of finance (billing escalates to her)"),
    Person("U0EVE", "Eve", "onboarding team"),
)
TRIAGE = Channel("C0TRIAGE", "cx-triage", "grey areas wait here for the CX leads")
CHANNELS = (
    Channel("C0GENERAL", "general", "anyone can raise from here"),
    TRIAGE,
    Channel("C0123ABCD", "billing", "the billing route's channel"),
    Channel("C0456EFGH", "onboarding", "the onboarding route's channel"),
    Channel("C0KUDOS", "cx-kudos", "public thanks"),
    Channel("C0DIGEST", "cx-digest", "the weekly digest"),
)
ONBOARDING_GROUP = ("S0456EFGH", "onboarding-team", ("U0EVE",))


class NotASandboxDatabase(Exception):
    """DATABASE_URL points at a database with routes or items of a real workspace."""


def refuse_a_real_database(url: str) -> None:
    """`cxbot try` moves its clock on and routes by its own file: never on a real cxbot's database
    (DATABASE_URL from a .env beside a real deployment, say). An empty one, or a sandbox's, is fine."""
    ours = {channel.channel_id for channel in CHANNELS}
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            channels: set[str] = set()
            for table in sorted({"routes", "items"} & tables):
                query = sql_text(f"SELECT DISTINCT channel FROM {table}")  # our own table names
                channels |= {str(row[0]) for row in connection.execute(query)}
    finally:
        engine.dispose()
    theirs = sorted(channels - ours)
    if theirs:
        raise NotASandboxDatabase(
            f"DATABASE_URL holds a real workspace's routes or items (channels {', '.join(theirs[:3])}). "
            "cxbot try moves time on and replaces routes, so it won't use it: unset DATABASE_URL "
            "(a temporary database is used), or point it at an empty one."
        )


def serve_in_background(server: Any, *, name: str, stopping: threading.Event) -> threading.Thread:
    """Run a waitress server on a thread of its own until it is closed. Closing its sockets under
    waitress's select() ends `run()` with OSError or ValueError: expected once `stopping` is set."""

    def run() -> None:
        try:
            server.run()
        except (OSError, ValueError):
            if not stopping.is_set():
                raise

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def stop_server(server: Any) -> None:
    """Close a waitress server and end its worker threads (close() alone leaves them waiting)."""
    server.close()
    server.task_dispatcher.shutdown()


class OffsetClock:
    """The app's clock: the wall clock moved on by however far the page has advanced it."""

    def __init__(self, start: datetime) -> None:
        self._offset = start - datetime.now(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, by: timedelta) -> None:
        with self._lock:
            self._offset += by


def first_moment(now: datetime) -> datetime:
    """Where the sandbox's time starts: the next weekday at 10:00 UTC, in everyone's working hours."""
    moment = now.astimezone(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    if moment <= now:
        moment += timedelta(days=1)
    while moment.weekday() >= 5:
        moment += timedelta(days=1)
    return moment


@dataclass
class Sandbox:
    """One running sandbox: start() it, drive it, stop() it."""

    database_url: str | None = None
    demo_data: bool = False
    fake: FakeSlack = field(init=False)
    runtime: Runtime = field(init=False)
    clock: OffsetClock = field(init=False)
    workspace: Workspace = field(default_factory=Workspace, init=False)
    app_url: str = field(default="", init=False)
    _server: Any = field(default=None, init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)
    _seen: int = field(default=0, init=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)
    _numbers: Iterator[int] = field(default_factory=itertools.count, init=False)
    # Event and view IDs differ from run to run: a database kept between runs (DATABASE_URL)
    # remembers the ones it acted on, and would take a new run's as retries.
    _run: str = field(default_factory=lambda: uuid.uuid4().hex[:6].upper(), init=False)
    _folder: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False)

    def start(self) -> Sandbox:
        if self.database_url:
            refuse_a_real_database(self.database_url)
        self.fake = FakeSlack(scopes=list(REQUIRED_SCOPES))  # as the manifest installs it
        self.fake.view_id_prefix = f"V{self._run}"
        self.fake.start()
        for person in CAST:
            self.fake.set_user(person.user_id, tz="UTC")
        group_id, handle, members = ONBOARDING_GROUP
        self.fake.set_usergroup(group_id, list(members), name=handle)
        self.clock = OffsetClock(first_moment(datetime.now(UTC)))
        self.runtime = build_runtime(self._settings(), clock=self.clock)
        self.runtime.dispatcher.start()
        self._server = make_http_server(
            self.runtime.app, signing_secret=SIGNING_SECRET, host="127.0.0.1", port=0
        )
        self.app_url = f"http://127.0.0.1:{self._server.effective_port}/slack/events"
        self._threads.append(serve_in_background(self._server, name="sandbox-app", stopping=self._stopping))
        self._spawn(self._follow_slack, "sandbox-follow")
        if self.demo_data:
            self._seed_demo()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            stop_server(self._server)
        for thread in self._threads:
            thread.join(timeout=5)
        self.runtime.close()
        self.fake.stop()
        if self._folder is not None:
            self._folder.cleanup()

    # Names the page shows -----------------------------------------------------------------------
    @staticmethod
    def names() -> dict[str, str]:
        found = {person.user_id: person.name for person in CAST}
        found |= {channel.channel_id: channel.name for channel in CHANNELS}
        found[ONBOARDING_GROUP[0]] = ONBOARDING_GROUP[1]
        found["U0BOT"] = "cxbot"
        return found

    # What people do -------------------------------------------------------------------------------
    def command(self, *, user: str, channel: str, command: str, text: str) -> Any:
        """A slash command typed in `channel`: the app's answer to it, if it answered in the ack."""
        form = envelopes.command_form(
            command=command,
            text=text,
            user=user,
            channel=channel,
            response_url=self.fake.response_url(response_url_name(channel=channel, user=user)),
            trigger=self._trigger(user),
            channel_name=self.names().get(channel, channel),
            user_name=self.names().get(user, user).lower(),
        )
        answer = self._send(urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded")
        if isinstance(answer, dict) and (answer.get("text") or answer.get("blocks")):
            self.workspace.apply("response_url", answer, {}, response_url_name(channel=channel, user=user))
        return answer

    def say(self, *, user: str, channel: str, text: str, thread_ts: str | None = None) -> None:
        """A plain message (a reply in a card's thread with `thread_ts`): the app hears it as an event."""
        message = self.workspace.say(channel=channel, user=user, text=text, thread_ts=thread_ts)
        event = envelopes.message_event(
            channel=channel, user=user, text=text, ts=message.ts, thread_ts=thread_ts
        )
        self._event(event)

    def click(
        self,
        *,
        user: str,
        action: dict[str, Any],
        channel: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        home: bool = False,
    ) -> None:
        """A button, menu or select: in a message, in the open modal (`view_id`), or in App Home."""
        modal = None
        if view_id:
            shown = self.workspace.modal(user)
            if shown is not None and shown.view_id == view_id:
                modal = self._view_payload(shown.view, view_id)
        clicked = self._slack_message(channel, message_ts, user) if channel and message_ts else None
        payload = envelopes.block_actions(
            action={**action, "action_ts": f"{time.time():.6f}"},
            user=user,
            channel=channel,
            message_ts=message_ts or "",
            message=clicked,
            channel_name=self.names().get(channel or "", channel or ""),
            response_url=self.fake.response_url(
                response_url_name(channel=channel or dm_channel(user), user=user, message_ts=message_ts)
            ),
            home=home,
            modal=modal,
            trigger=self._trigger(user),
        )
        self._interact(payload)

    def submit(self, *, user: str, view_id: str, values: dict[str, Any]) -> Any:
        """The open modal, submitted with `values` (its state, as Slack builds it)."""
        shown = self.workspace.modal(user)
        if shown is None or shown.view_id != view_id:
            return None
        view = self._view_payload(shown.view, view_id, values=values)
        payload = envelopes.view_submission_of(view=view, user=user, trigger=self._trigger(user))
        answer = self._interact(payload)
        action = answer.get("response_action") if isinstance(answer, dict) else None
        if action == "errors":
            return answer
        if action == "update" and isinstance(answer, dict):
            self.workspace.replace_view(view_id, dict(answer["view"]))
        elif action == "push" and isinstance(answer, dict):
            self.workspace.push_view(user, dict(answer["view"]))
        else:
            self.workspace.close_modal(user, everything=action == "clear")
        return answer

    def shortcut(self, *, user: str, channel: str, message_ts: str) -> None:
        """⋯ > Raise as CX alarm, on a message."""
        said = next(m for m in self.workspace.messages(channel, viewer=user) if m.ts == message_ts)
        payload = envelopes.message_action(
            callback_id="cx_raise_from_message",
            user=user,
            channel=channel,
            message=envelopes.message(user=said.user, text=said.text, ts=said.ts),
            response_url=self.fake.response_url(response_url_name(channel=channel, user=user)),
            trigger=self._trigger(user),
        )
        self._interact(payload)

    def open_home(self, *, user: str) -> None:
        self._event(envelopes.app_home_opened(user))

    def advance(self, by: timedelta) -> list[str]:
        """Move time on, then run what would have run, as `cxbot jobs run --at` does: the nag
        sweep (and "did this fix it?"), and the digest and roundup if their time came. Returns
        what ran, for the page to say."""
        before = self.clock()
        self.clock.advance(by)
        now = self.clock()
        deps = self.runtime.deps
        ran = []
        result = schedule.sweep(deps)
        if result.ran:
            ran.append(f"the nag sweep ({result.dms} DMs, {result.escalated} escalated)")
        digest_at = schedule.last_fire_time(schedule.digest_trigger(deps), now)
        if digest_at is not None and digest_at > before and schedule.post_digest(deps, at=digest_at):
            ran.append("the weekly digest")
        roundup = CronTrigger.from_crontab(deps.settings.roundup_cron, timezone=deps.settings.zone)
        roundup_at = schedule.last_fire_time(roundup, now)
        if roundup_at is not None and roundup_at > before and schedule.post_roundup(deps, at=roundup_at):
            ran.append('the monthly "you said, we did"')
        return ran

    # Plumbing -------------------------------------------------------------------------------------
    def _settings(self) -> Settings:
        url = self.database_url
        if not url:
            self._folder = tempfile.TemporaryDirectory(prefix="cxbot-try-")
            url = f"sqlite:///{self._folder.name}/cxbot.db"
        return Settings(
            database_url=url,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=self.fake.base_url,
            routes_file=ROUTES_FILE,
            triage_channel=TRIAGE.channel_id,
            kudos_channel="C0KUDOS",
            digest_channel="C0DIGEST",
            roundup_channel="C0KUDOS",
            admins=(LEAD.user_id,),
            timezone="UTC",
        )

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _follow_slack(self) -> None:
        """Feed each call the app made to the fake Slack into the workspace, as it happens."""
        while not self._stopping.is_set():
            calls = self.fake.calls
            for call in calls[self._seen :]:
                if call.fault is None:
                    self.workspace.apply(call.method, call.args, call.response, call.path)
            self._seen = len(calls)
            time.sleep(0.05)

    def _trigger(self, user: str) -> str:
        return trigger_id(user=user, number=next(self._numbers))

    def _event(self, event: dict[str, Any]) -> None:
        body = envelopes.event_callback(event, event_id=f"Ev{self._run}{next(self._numbers):06d}")
        self._send(json.dumps(body).encode(), "application/json")

    def _interact(self, payload: dict[str, Any]) -> Any:
        body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
        return self._send(body, "application/x-www-form-urlencoded")

    def _send(self, body: bytes, content_type: str) -> Any:
        stamp = int(time.time())
        request = urllib.request.Request(
            self.app_url,
            data=body,
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": str(stamp),
                "X-Slack-Signature": signature(body, stamp, SIGNING_SECRET),
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        try:
            answer: Any = json.loads(raw) if raw else None
        except ValueError:
            return None
        return answer

    def _slack_message(self, channel: str, ts: str, viewer: str) -> dict[str, Any] | None:
        """The message clicked on, as Slack echoes it back in the click's payload."""
        for message in self.workspace.messages(channel, viewer=viewer):
            if message.ts == ts:
                return {
                    "user": message.user,
                    "type": "message",
                    "ts": message.ts,
                    "bot_id": envelopes.BOT if message.user == envelopes.BOT_USER else None,
                    "app_id": envelopes.APP if message.user == envelopes.BOT_USER else None,
                    "text": message.text,
                    "team": envelopes.TEAM,
                    "blocks": message.blocks,
                }
        return None

    def _view_payload(
        self, view: dict[str, Any], view_id: str, *, values: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return envelopes.view(
            view_id=view_id,
            callback_id=str(view.get("callback_id") or ""),
            private_metadata=str(view.get("private_metadata") or ""),
            values=values,
            shown=view,
        )

    def _seed_demo(self) -> None:
        """A few items to look at: an alarm for billing, an idea, and a grey area."""
        for user, command, text in (
            (EMPLOYEE.user_id, "/cx-alarm", "A customer was charged twice for their March invoice"),
            (EMPLOYEE.user_id, "/cx-idea", "Send a welcome email with a setup checklist after signup"),
            (OWNER.user_id, "/cx-alarm", "The lobby screen shows last week's opening hours"),
        ):
            self.command(user=user, channel="C0GENERAL", command=command, text=text)
