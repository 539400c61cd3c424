"""A fake Slack Web API on loopback: records the bot's calls, answers them, and checks each against
Slack's published OpenAPI spec (slack_spec/web_api_openapi_v2.json, beside this file and shipped
with the package) and Block Kit limits. The tests use it, and `cxbot try` is to embed it.

An unknown method, a missing required argument, or a block Slack would reject is recorded as a
violation, answered as Slack would ({"ok": false, "error": ...}), and fails the test at teardown.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.sandbox.slack_limits import SlackLimits

# Package data ([tool.setuptools.package-data]), so found in a checkout, an editable install and a
# wheel alike; CXBOT_SLACK_SPEC, or FakeSlack's spec_path, points at another copy.
SPEC_PATH: Traversable = files("bot.sandbox") / "slack_spec" / "web_api_openapi_v2.json"

# Methods the bot may call that the spec lacks (they came after it), with their required arguments.
EXTRA_METHODS: dict[str, frozenset[str]] = {
    "apps.connections.open": frozenset(),
    # The two-step upload that replaced files.upload (slack_sdk's files_upload_v2 wraps it).
    "files.getUploadURLExternal": frozenset({"filename", "length"}),
    "files.completeUploadExternal": frozenset({"files"}),
}
# Arguments slack_sdk sends as JSON strings in form bodies; decoded for assertions.
_JSON_ARGUMENTS = ("blocks", "attachments", "view", "metadata", "files")
ALT_TXT_LIMIT = 1000  # files.getUploadURLExternal: alt_txt_too_large past it


@dataclass
class Upload:
    """A file between files.getUploadURLExternal and files.completeUploadExternal, and after."""

    file_id: str
    filename: str
    length: int
    alt_txt: str | None
    data: bytes | None = None  # what was POSTed to the upload URL
    completed: bool = False
    title: str | None = None
    channel: str | None = None  # where it was shared; None: private to the app
    thread_ts: str | None = None


@dataclass(frozen=True)
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    path: str
    fault: str | None = None
    response: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # when it arrived (time.monotonic)

    def all_text(self) -> str:
        """Every string in the call's arguments, joined: what a reader (or a ping) could see."""
        return "\n".join(_strings(self.args))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@dataclass
class _Fault:
    status: int
    retry_after: int | None
    error: str | None
    delay: float
    hold: Hold | None = None  # answer only once the test releases it (the call is done first)
    label: str | None = None  # what the call is recorded as, instead of http_<status>


# How long a held call waits for release() at most, so that a test that forgets can't hang a thread.
HOLD_LIMIT_SECONDS = 300.0


class Hold:
    """One call that the fake does (a post is posted) and then doesn't answer until the test calls
    release(): to the bot, the call is in flight for as long as the test likes, say while it kills
    the bot or stops its database. From FakeSlack.hold_next()."""

    def __init__(self, method: str) -> None:
        self.method = method
        self._reached = threading.Event()
        self._released = threading.Event()
        self._call: Call | None = None

    def wait_reached(self, timeout: float = 20.0) -> Call:
        """Wait until the held call has arrived (and been done); returns it."""
        if not self._reached.wait(timeout):
            raise AssertionError(f"waited {timeout} s for a {self.method} call to hold")
        assert self._call is not None
        return self._call

    @property
    def reached(self) -> bool:
        return self._reached.is_set()

    def release(self) -> None:
        self._released.set()

    def _hold(self, call: Call) -> None:
        self._call = call
        self._reached.set()
        self._released.wait(HOLD_LIMIT_SECONDS)


# Each spec read, by where it was found: a spec is read once, however many fakes start.
_SPECS_READ: dict[str, dict[str, frozenset[str]]] = {}


def _required_arguments(spec_path: Traversable) -> dict[str, frozenset[str]]:
    key = str(spec_path)
    if key not in _SPECS_READ:
        _SPECS_READ[key] = _read_spec(spec_path)
    return _SPECS_READ[key]


def _read_spec(spec_path: Traversable) -> dict[str, frozenset[str]]:
    if not spec_path.is_file():
        raise FileNotFoundError(
            f"Slack's Web API spec is not at {spec_path}: it ships with cxbot as "
            "bot/sandbox/slack_spec/web_api_openapi_v2.json (restore it with git, or reinstall), "
            "or point CXBOT_SLACK_SPEC at a copy of web_api_openapi_v2.json"
        )
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    methods: dict[str, frozenset[str]] = {}
    for path, operations in spec["paths"].items():
        required: set[str] = set()
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("required"):
                    required.add(parameter["name"])
        methods[path.lstrip("/")] = frozenset(required)
    return methods


class FakeSlack:
    """`limits`: enforce Slack's rate limits (slack_limits.py), answering 429 with Retry-After over
    them; off (None) for tests about something else. `scopes`: the token's scopes, which auth.test
    lists; None lists none."""

    def __init__(
        self,
        spec_path: Path | None = None,
        *,
        limits: SlackLimits | None = None,
        scopes: Iterable[str] | None = None,
    ) -> None:
        self.limits = limits
        from_env = os.environ.get("CXBOT_SLACK_SPEC")
        path = spec_path or (Path(from_env) if from_env else SPEC_PATH)
        self.methods = {**_required_arguments(path), **EXTRA_METHODS}
        self._calls: list[Call] = []
        self._violations: list[str] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._groups: dict[str, list[str]] = {}
        self._group_names: dict[str, str] = {}
        self._history: dict[str, list[dict[str, Any]]] = {}
        self._last_ts = 0.0
        self._views = itertools.count(1)
        # What view IDs start with: a sandbox makes them differ from run to run.
        self.view_id_prefix = "V"
        self._changed = threading.Condition()
        self._outage: tuple[str, float, int, float] | None = None
        self._response_url_outage: tuple[str, float, int, float] | None = None
        self._holds: list[Hold] = []
        self._uploads: dict[str, Upload] = {}
        self._file_ids = itertools.count(1)
        self.socket_mode_url: str | None = None  # what apps.connections.open hands out
        # The Enterprise Grid org of the workspace the token belongs to (auth.test says), if any.
        self.enterprise_id: str | None = None
        # The token's scopes, which Slack lists in every answer's X-OAuth-Scopes header (here,
        # auth.test's). The tests give the bot scopes manifest.yaml asks for (tests/conftest.py).
        self.scopes: list[str] | None = list(scopes) if scopes is not None else None
        # What conversations.info knows: channel id -> its name, is_archived, is_private, is_member.
        self._channels: dict[str, dict[str, Any]] = {}
        self._token_refused: str | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle ----------------------------------------------------------------------------------
    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-slack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        for hold in self._holds:  # let held calls answer: their threads end
            hold.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.root}/api/"

    def response_url(self, name: str = "r") -> str:
        return f"{self.root}/response/{urllib.parse.quote(name)}"

    # What tests read and set ----------------------------------------------------------------------
    @property
    def calls(self) -> list[Call]:
        with self._changed:
            return list(self._calls)

    @property
    def uploads(self) -> dict[str, Upload]:
        """Files by ID, from files.getUploadURLExternal on."""
        with self._changed:
            return dict(self._uploads)

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    @property
    def violations(self) -> list[str]:
        with self._changed:
            return list(self._violations)

    def assert_no_violations(self) -> None:
        if self.violations:
            raise AssertionError("calls Slack would reject:\n" + "\n".join(self.violations))

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [call for call in self._calls if call.method == method]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [call.method for call in self._calls]
                    raise AssertionError(f"waited {timeout} s for {count} {method} call(s); saw {seen}")
                self._changed.wait(remaining)

    def fail_next(
        self,
        method: str,
        *,
        status: int = 500,
        times: int = 1,
        retry_after: int | None = None,
        error: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Make the next `times` calls to `method` fail. `status=200` with `error` answers
        {"ok": false, "error": error}; `status=200` with only `delay` does the call (a post is
        posted) but answers late, to provoke a client timeout after Slack acted."""
        with self._changed:
            queue = self._faults.setdefault(method, deque())
            for _ in range(times):
                queue.append(_Fault(status, retry_after, error, delay))

    def hold_next(self, method: str) -> Hold:
        """Do the next call to `method` (a post is posted), and answer it only once the returned
        Hold is released: the client sees a call in flight until then. `method` may be
        "response_url"."""
        hold = Hold(method)
        with self._changed:
            self._holds.append(hold)
            self._faults.setdefault(method, deque()).append(_Fault(200, None, None, 0.0, hold=hold))
        return hold

    def set_user(
        self, user_id: str, *, tz: str = "America/New_York", is_bot: bool = False, deleted: bool = False
    ) -> None:
        self._users[user_id] = {"tz": tz, "is_bot": is_bot, "deleted": deleted}

    def outage(
        self,
        mode: str,
        *,
        seconds: float,
        retry_after: int = 5,
        delay: float = 3.0,
        web_api: bool = True,
        response_urls: bool = False,
    ) -> None:
        """From now on, for `seconds`, every Web API call fails: mode "500" or "503" answers that
        status, "429" answers rate-limited with Retry-After, "timeout" does the call (a post is
        posted) but answers after `delay` seconds, so the client gives up without knowing.

        With `response_urls`, posts to response URLs fail the same way for that time (replacing
        any earlier response_url outage), except that in "timeout" mode the post is not made: it
        hangs for `delay` seconds and is answered 504, recorded as fault "timeout". (An ephemeral
        reply can't be looked up afterwards, so a client can't tell "posted, answered late" from
        "not posted"; this fake stands for the second.) With `web_api=False`, the Web API is left
        as it is."""
        outage = (mode, time.monotonic() + seconds, retry_after, delay)
        with self._changed:
            if web_api:
                self._outage = outage
            if response_urls:
                self._response_url_outage = outage

    def end_outage(self, *, web_api: bool = True, response_urls: bool = True) -> None:
        """End the outage now, whatever outage() said: of the Web API, of response URLs, or both."""
        with self._changed:
            if web_api:
                self._outage = None
            if response_urls:
                self._response_url_outage = None

    def _outage_fault(self, *, response_url: bool = False) -> _Fault | None:
        with self._changed:
            outage = self._response_url_outage if response_url else self._outage
            if outage is None:
                return None
            mode, until, retry_after, delay = outage
            if time.monotonic() >= until:
                if response_url:
                    self._response_url_outage = None
                else:
                    self._outage = None
                return None
        if mode == "timeout":
            if response_url:
                return _Fault(504, None, None, delay, label="timeout")
            return _Fault(200, None, None, delay)
        return _Fault(int(mode), retry_after if mode == "429" else None, None, 0.0)

    def set_channel(
        self,
        channel_id: str,
        *,
        name: str = "",
        archived: bool = False,
        private: bool = False,
        member: bool = True,
    ) -> None:
        """A channel conversations.info knows; it answers channel_not_found for any other, and, as
        Slack does, for a private channel cxbot isn't in."""
        self._channels[channel_id] = {
            "id": channel_id,
            "name": name or channel_id.lower(),
            "is_archived": archived,
            "is_private": private,
            "is_member": member,
        }

    def refuse_token(self, error: str | None = "token_revoked") -> None:
        """From now on every Web API call answers {"ok": false, "error": error}, as Slack does once
        a token is revoked or the app uninstalled; None accepts the token again."""
        with self._changed:
            self._token_refused = error

    def set_usergroup(self, group_id: str, users: list[str], *, name: str | None = None) -> None:
        self._groups[group_id] = list(users)
        self._group_names[group_id] = name or group_id.lower()

    # Serving --------------------------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        try:
            path = urllib.parse.urlsplit(request.path).path
            if path.startswith("/upload/"):  # raw bytes, not form arguments
                self._answer_upload(request, path)
                return
            args, token = self._arguments(request)
            if path.startswith("/response/"):
                self._answer_response_url(request, path, args)
            elif path.startswith("/api/"):
                self._answer_method(request, path, path[len("/api/") :], args, token)
            else:
                _send(request, 404, b"not found", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up waiting (a timeout the test provoked)
        except Exception as error:  # the fake must never take a test down with it
            with self._changed:
                self._violations.append(f"fake Slack crashed on {request.path}: {error!r}")
            _send(request, 500, b"fake crashed", "text/plain")

    def _answer_upload(self, request: BaseHTTPRequestHandler, path: str) -> None:
        """The upload URL files.getUploadURLExternal hands out: takes the file's bytes, which must
        be as many as it was told (`length`), once."""
        length = int(request.headers.get("Content-Length") or 0)
        data = request.rfile.read(length) if length else b""
        file_id = path.removeprefix("/upload/")
        with self._changed:
            upload = self._uploads.get(file_id)
            problem = None
            if upload is None:
                problem = "no such upload URL"
            elif upload.data is not None:
                problem = "bytes uploaded twice"
            elif len(data) != upload.length:
                problem = f"{len(data)} bytes uploaded; files.getUploadURLExternal was told {upload.length}"
            else:
                upload.data = data
            self._calls.append(
                Call("upload", {"file_id": file_id, "bytes": len(data)}, None, path, fault=problem)
            )
            self._changed.notify_all()
        if problem is not None:
            self._violation(f"upload {file_id}: {problem}")
            _send(request, 400, b"bad upload", "text/plain")
            return
        _send(request, 200, f"OK - {len(data)}".encode(), "text/plain")

    def _upload_problem(self, method: str, args: dict[str, Any]) -> tuple[str, str] | None:
        """What Slack would refuse of the two-step upload. (Error names Slack doesn't document
        for these cases are the fake's own.)"""
        if method == "files.getUploadURLExternal":
            length = str(args.get("length"))
            if not length.isdigit() or int(length) <= 0:
                return "missing_argument", f"length must be a positive number of bytes, got {length!r}"
            if len(str(args.get("alt_txt") or "")) > ALT_TXT_LIMIT:
                return "alt_txt_too_large", "alt_txt is over 1,000 characters"
            return None
        files = args.get("files")
        if not isinstance(files, list) or not files:
            return "invalid_arguments", "files must be a JSON array of {id, title}"
        if args.get("thread_ts") and not args.get("channel_id") and not args.get("channels"):
            return "invalid_arguments", "thread_ts without a channel"
        with self._changed:
            for entry in files:
                upload = self._uploads.get(str(entry.get("id"))) if isinstance(entry, dict) else None
                if upload is None:
                    return "file_not_found", f"no file {entry!r} from files.getUploadURLExternal"
                if upload.data is None:
                    return "file_not_found", f"{upload.file_id}: nothing was uploaded to its URL"
                if upload.completed:
                    return "file_not_found", f"{upload.file_id}: completed already"
        return None

    def _image_problem(self, blocks: Any) -> str | None:
        """An image block showing a Slack file (slack_file.id) needs a file cxbot uploaded."""
        for block in blocks if isinstance(blocks, list) else []:
            slack_file = block.get("slack_file") if isinstance(block, dict) else None
            if isinstance(slack_file, dict) and slack_file.get("id"):
                with self._changed:
                    upload = self._uploads.get(str(slack_file["id"]))
                if upload is None or not upload.completed:
                    return f"image block: no uploaded file {slack_file['id']}"
        return None

    def _arguments(self, request: BaseHTTPRequestHandler) -> tuple[dict[str, Any], str | None]:
        query = urllib.parse.urlsplit(request.path).query
        args: dict[str, Any] = dict(urllib.parse.parse_qsl(query))
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        content_type = request.headers.get("Content-Type", "")
        if raw and "json" in content_type:
            body = json.loads(raw)
            if isinstance(body, dict):
                args.update(body)
        elif raw:
            args.update(dict(urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True)))
        for name in _JSON_ARGUMENTS:
            if isinstance(args.get(name), str):
                with contextlib.suppress(ValueError):
                    args[name] = json.loads(args[name])
        authorization = request.headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ").strip() or args.get("token")
        return args, token or None

    def _next_fault(self, method: str) -> _Fault | None:
        with self._changed:
            queue = self._faults.get(method)
            return queue.popleft() if queue else None

    def _record(self, call: Call) -> None:
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()

    def _violation(self, text: str) -> None:
        with self._changed:
            self._violations.append(text)

    def _answer_response_url(self, request: BaseHTTPRequestHandler, path: str, args: dict[str, Any]) -> None:
        fault = self._outage_fault(response_url=True) or self._next_fault("response_url")
        name = "response_url"
        if fault is not None and fault.status != 200:
            self._record(Call(name, args, None, path, fault=fault.label or f"http_{fault.status}"))
            if fault.delay:
                time.sleep(fault.delay)
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            body = b"expired_url" if fault.status == 404 else b"error"
            _send(request, fault.status, body, "text/plain", headers)
            return
        problem = _message_problem(args, limit=50) or self._image_problem(args.get("blocks"))
        if problem:
            self._violation(f"response_url: {problem}")
        call = Call(name, args, None, path)
        self._record(call)
        if fault is not None and fault.hold is not None:
            fault.hold._hold(call)
        _send(request, 200, b"ok", "text/plain")

    def _answer_method(
        self, request: BaseHTTPRequestHandler, path: str, method: str, args: dict[str, Any], token: str | None
    ) -> None:
        problem = self._check(method, args, token)
        if problem is not None:
            error, text = problem
            self._violation(f"{method}: {text}")
            answer = {"ok": False, "error": error}
            self._record(Call(method, args, token, path, fault=error, response=answer))
            _send_json(request, 200, answer)
            return
        if self._token_refused is not None:
            answer = {"ok": False, "error": self._token_refused}
            self._record(Call(method, args, token, path, fault=self._token_refused, response=answer))
            _send_json(request, 200, answer)
            return
        retry_after = self.limits.retry_after(method, args) if self.limits is not None else None
        if retry_after is not None:
            self._answer_fault(request, path, method, args, token, _Fault(429, retry_after, None, 0.0))
            return
        fault = self._outage_fault() if method != "auth.test" else None
        fault = fault or self._next_fault(method)
        if fault is not None and (fault.status != 200 or fault.error):
            self._answer_fault(request, path, method, args, token, fault)
            return
        answer = self._respond(method, args)
        call = Call(method, args, token, path, response=answer)
        headers = {"X-OAuth-Scopes": ",".join(self.scopes)} if self.scopes is not None else {}
        self._record(call)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.hold is not None:
            fault.hold._hold(call)
        _send_json(request, 200, answer, headers)

    def _answer_fault(
        self,
        request: BaseHTTPRequestHandler,
        path: str,
        method: str,
        args: dict[str, Any],
        token: str | None,
        fault: _Fault,
    ) -> None:
        if fault.delay:
            time.sleep(fault.delay)
        if fault.status == 200:
            answer = {"ok": False, "error": fault.error}
            self._record(Call(method, args, token, path, fault=fault.error, response=answer))
            _send_json(request, 200, answer)
        elif fault.status == 429:
            answer = {"ok": False, "error": "ratelimited"}
            self._record(Call(method, args, token, path, fault="http_429", response=answer))
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            _send_json(request, 429, answer, headers)
        else:
            self._record(Call(method, args, token, path, fault=f"http_{fault.status}"))
            _send(request, fault.status, b"error", "text/plain")

    # Validation -----------------------------------------------------------------------------------
    def _check(self, method: str, args: dict[str, Any], token: str | None) -> tuple[str, str] | None:
        if method not in self.methods:
            return "unknown_method", "no such method in Slack's Web API"
        if not token:
            return "not_authed", "no token"
        missing = sorted(
            name for name in self.methods[method] if name != "token" and args.get(name) in (None, "")
        )
        if missing:
            return "invalid_arguments", f"missing required argument(s) {', '.join(missing)}"
        if method in {"chat.postMessage", "chat.update", "chat.postEphemeral"}:
            problem = _message_problem(args, limit=50) or self._image_problem(args.get("blocks"))
            if problem:
                return "invalid_blocks", problem
        if method in {"files.getUploadURLExternal", "files.completeUploadExternal"}:
            return self._upload_problem(method, args)
        if method in {"views.open", "views.update", "views.push", "views.publish"}:
            problem = _view_problem(args.get("view"))
            if problem:
                return "invalid_arguments", problem
        return None

    # Answers --------------------------------------------------------------------------------------
    def _respond(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            answer = {
                "ok": True,
                "url": "https://cxbot-test.slack.com/",
                "team": "Test",
                "user": "cxbot",
                "team_id": "T0TEST",
                "user_id": "U0BOT",
                "bot_id": "B0BOT",
                "is_enterprise_install": False,
            }
            if self.enterprise_id:
                answer["enterprise_id"] = self.enterprise_id
            return answer
        if method == "apps.connections.open":
            if not self.socket_mode_url:
                return {"ok": False, "error": "invalid_auth"}
            return {"ok": True, "url": self.socket_mode_url}
        if method == "chat.postMessage":
            return self._post(args)
        if method == "files.getUploadURLExternal":
            return self._start_upload(args)
        if method == "files.completeUploadExternal":
            return self._complete_upload(args)
        if method == "chat.update":
            return {"ok": True, "channel": args["channel"], "ts": args["ts"], "text": args.get("text", "")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "chat.getPermalink":
            channel, ts = str(args["channel"]), str(args["message_ts"])
            permalink = f"https://cxbot-test.slack.com/archives/{channel}/p{ts.replace('.', '')}"
            return {"ok": True, "channel": channel, "permalink": permalink}
        if method == "conversations.open":
            users = str(args.get("users") or "")
            return {"ok": True, "channel": {"id": _dm_channel(users.split(",")[0])}}
        if method == "conversations.info":
            found = self._channels.get(str(args["channel"]))
            if found is None or (found["is_private"] and not found["is_member"]):
                return {"ok": False, "error": "channel_not_found"}
            return {"ok": True, "channel": dict(found)}
        if method == "conversations.join":
            refused = self._channel_refuses(str(args["channel"]), joining=True)
            return refused or {"ok": True, "channel": {"id": args["channel"]}}
        if method == "conversations.history":
            return self._history_answer(args, thread=False)
        if method == "conversations.replies":
            return self._history_answer(args, thread=True)
        if method.startswith("views."):
            view = dict(args.get("view") or {})
            view_id = f"{self.view_id_prefix}{next(self._views):08d}"
            view.update({"id": view_id, "hash": f"h{time.monotonic_ns()}"})
            return {"ok": True, "view": view}
        if method == "users.info":
            return self._user(str(args.get("user") or ""))
        if method == "users.list":
            return self._users_page(args)
        if method == "usergroups.users.list":
            group = str(args["usergroup"])
            if group not in self._groups:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": self._groups[group]}
        if method == "usergroups.list":
            return {"ok": True, "usergroups": [self._group_object(group) for group in self._groups]}
        return {"ok": True}

    def _next_ts(self) -> str:
        """Unique, increasing, and near the wall clock, like Slack's."""
        with self._changed:
            self._last_ts = max(time.time(), self._last_ts + 0.000001)
            return f"{self._last_ts:.6f}"

    def _channel_refuses(self, channel: str, *, joining: bool = False) -> dict[str, Any] | None:
        """Slack's answer where a channel set with set_channel can't take a post (or a join)."""
        found = self._channels.get(channel)
        if found is None:
            return None
        if found["is_archived"]:
            return {"ok": False, "error": "is_archived"}
        if found["is_private"] and not found["is_member"]:
            return {
                "ok": False,
                "error": "method_not_supported_for_channel_type" if joining else "not_in_channel",
            }
        return None

    def _post(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args["channel"])
        refused = self._channel_refuses(channel)
        if refused is not None:
            return refused
        if channel[:1] in {"U", "W"}:
            channel = _dm_channel(channel)
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "text": args.get("text", ""),
            "ts": ts,
            "user": "U0BOT",
            "bot_id": "B0BOT",
        }
        for key in ("blocks", "thread_ts", "metadata"):
            if args.get(key) is not None:
                message[key] = args[key]
        with self._changed:
            self._history.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _start_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._file_ids):08d}"
        upload = Upload(file_id, str(args["filename"]), int(args["length"]), args.get("alt_txt"))
        with self._changed:
            self._uploads[file_id] = upload
        return {"ok": True, "upload_url": f"{self.root}/upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        """Finish the files; with channel_id, share them there (in thread_ts's thread) in a message
        that conversations.history/replies list, as Slack does."""
        channel = str(args.get("channel_id") or "") or None
        thread_ts = str(args.get("thread_ts") or "") or None
        done = []
        with self._changed:
            for entry in args["files"]:
                upload = self._uploads[str(entry["id"])]
                upload.completed, upload.title = True, entry.get("title") or upload.filename
                upload.channel, upload.thread_ts = channel, thread_ts
                done.append({"id": upload.file_id, "name": upload.filename, "title": upload.title})
        if channel is not None:
            message: dict[str, Any] = {
                "type": "message",
                "text": str(args.get("initial_comment") or ""),
                "ts": self._next_ts(),
                "user": "U0BOT",
                "bot_id": "B0BOT",
                "files": done,
            }
            if thread_ts:
                message["thread_ts"] = thread_ts
            with self._changed:
                self._history.setdefault(channel, []).append(message)
        return {"ok": True, "files": done}

    def _history_answer(self, args: dict[str, Any], *, thread: bool) -> dict[str, Any]:
        """Like Slack: history lists top-level messages; replies lists a thread's parent and replies."""
        channel = str(args["channel"])
        oldest = float(args.get("oldest") or 0)
        latest = float(args.get("latest") or 1e12)
        limit = int(args.get("limit") or 100)
        with self._changed:
            posted = list(self._history.get(channel, []))
        if thread:
            parent = str(args.get("ts"))
            posted = [m for m in posted if m["ts"] == parent or m.get("thread_ts") == parent]
        else:
            posted = [m for m in posted if "thread_ts" not in m]
        kept = [m for m in posted if oldest <= float(m["ts"]) <= latest]
        kept.reverse()
        return {"ok": True, "messages": kept[:limit], "has_more": len(kept) > limit}

    def _group_object(self, group_id: str) -> dict[str, Any]:
        """A user group as usergroups.list gives it (the fields cxbot reads, and their neighbours)."""
        name = self._group_names.get(group_id, group_id.lower())
        return {
            "id": group_id,
            "team_id": "T0TEST",
            "is_usergroup": True,
            "name": name,
            "description": "",
            "handle": name.lower().replace(" ", "-"),
            "is_external": False,
            "date_create": 1700000000,
            "date_update": 1700000000,
            "date_delete": 0,
            "auto_type": None,
            "created_by": "U0ADMIN1",
            "updated_by": "U0ADMIN1",
            "deleted_by": None,
            "prefs": {"channels": [], "groups": []},
            "user_count": len(self._groups.get(group_id, [])),
        }

    def _user(self, user_id: str) -> dict[str, Any]:
        if user_id not in self._users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": self._user_object(user_id)}

    def _users_page(self, args: dict[str, Any]) -> dict[str, Any]:
        """users.list as Slack pages it: `limit` people from where `cursor` points (an opaque
        string: here, an offset in base64), and the cursor of the next page, "" after the last."""
        with self._changed:
            everyone = list(self._users)
        cursor = str(args.get("cursor") or "")
        try:
            start = int(base64.b64decode(cursor).decode().removeprefix("offset:")) if cursor else 0
        except ValueError:
            return {"ok": False, "error": "invalid_cursor"}
        limit = int(args.get("limit") or 0) or len(everyone) or 1
        page = everyone[start : start + limit]
        end = start + len(page)
        next_cursor = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(everyone) else ""
        return {
            "ok": True,
            "members": [self._user_object(user_id) for user_id in page],
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _user_object(self, user_id: str) -> dict[str, Any]:
        """A user as users.info and users.list describe one."""
        user = self._users[user_id]
        offset = datetime.now(UTC).astimezone(ZoneInfo(user["tz"])).utcoffset()
        return {
            "id": user_id,
            "team_id": "T0TEST",
            "name": user_id.lower(),
            "tz": user["tz"],
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "is_bot": user["is_bot"],
            "deleted": user["deleted"],
            "real_name": f"User {user_id}",
            "profile": {"display_name": user_id.lower()},
        }


def _dm_channel(user_id: str) -> str:
    return "D" + user_id[1:]


def _send(
    request: BaseHTTPRequestHandler,
    status: int,
    body: bytes,
    content_type: str,
    headers: dict[str, str] | None = None,
) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(body)


def _send_json(
    request: BaseHTTPRequestHandler,
    status: int,
    answer: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    _send(request, status, json.dumps(answer).encode(), "application/json; charset=utf-8", headers)


# Block Kit limits Slack enforces -----------------------------------------------------------------------


def _message_problem(args: dict[str, Any], *, limit: int) -> str | None:
    text, blocks = args.get("text"), args.get("blocks")
    if not text and not blocks:
        return "a message needs text or blocks"
    if isinstance(text, str) and len(text) > 40000:
        return f"text is {len(text)} characters; the limit is 40,000"
    if blocks is not None:
        return _blocks_problem(blocks, limit)
    return None


def _view_problem(view: Any) -> str | None:
    if not isinstance(view, dict):
        return "view must be a JSON object"
    for key, most in (("title", 24), ("submit", 24), ("close", 24)):
        part = view.get(key)
        if part is not None:
            problem = _text_problem(part, most, f"view {key}", plain_only=True)
            if problem:
                return problem
    if view.get("type") == "modal" and view.get("title") is None:
        return "a modal needs a title"
    if len(str(view.get("private_metadata") or "")) > 3000:
        return "private_metadata is over 3,000 characters"
    if len(str(view.get("callback_id") or "")) > 255:
        return "callback_id is over 255 characters"
    return _blocks_problem(view.get("blocks"), 100)


def _blocks_problem(blocks: Any, limit: int) -> str | None:
    if not isinstance(blocks, list):
        return "blocks must be a list"
    if len(blocks) > limit:
        return f"{len(blocks)} blocks; the limit is {limit}"
    for index, block in enumerate(blocks):
        problem = _block_problem(block)
        if problem:
            return f"block {index}: {problem}"
    return None


def _block_problem(block: Any) -> str | None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return "each block must be an object with a type"
    if len(str(block.get("block_id") or "")) > 255:
        return "block_id over 255 characters"
    kind = block["type"]
    checks: list[str | None] = []
    if kind == "section":
        if block.get("text") is None and not block.get("fields"):
            return "a section needs text or fields"
        if block.get("text") is not None:
            checks.append(_text_problem(block["text"], 3000, "section text"))
        fields = block.get("fields") or []
        if len(fields) > 10:
            return "more than 10 fields"
        checks += [_text_problem(f, 2000, "section field") for f in fields]
        if block.get("accessory") is not None:
            checks.append(_element_problem(block["accessory"]))
    elif kind == "header":
        checks.append(_text_problem(block.get("text"), 150, "header", plain_only=True))
    elif kind == "context":
        elements = block.get("elements") or []
        if not elements or len(elements) > 10:
            return "a context block needs 1 to 10 elements"
        checks += [_text_problem(e, 3000, "context element") for e in elements if e.get("type") != "image"]
    elif kind == "actions":
        elements = block.get("elements") or []
        if not elements or len(elements) > 25:
            return "an actions block needs 1 to 25 elements"
        checks += [_element_problem(e) for e in elements]
    elif kind == "input":
        checks.append(_text_problem(block.get("label"), 2000, "input label", plain_only=True))
        checks.append(_element_problem(block.get("element")))
    elif kind == "image":
        sources = [key for key in ("image_url", "slack_file") if block.get(key)]
        if len(sources) != 1:
            return "an image block needs one of image_url or slack_file"
        slack_file = block.get("slack_file")
        if isinstance(slack_file, dict) and bool(slack_file.get("id")) == bool(slack_file.get("url")):
            return "slack_file needs one of id or url"
        if not block.get("alt_text") or len(str(block["alt_text"])) > 2000:
            return "an image block needs alt_text of 1 to 2,000 characters"
    elif kind not in {"divider", "rich_text", "markdown", "video", "file"}:
        return f"unknown block type {kind!r}"
    return next((problem for problem in checks if problem), None)


def _element_problem(element: Any) -> str | None:
    if not isinstance(element, dict):
        return "an element must be an object"
    if len(str(element.get("action_id") or "")) > 255:
        return "action_id over 255 characters"
    kind = element.get("type")
    if kind == "button":
        if len(str(element.get("value") or "")) > 2000:
            return "button value over 2,000 characters"
        return _text_problem(element.get("text"), 75, "button text", plain_only=True)
    if kind in {"static_select", "checkboxes", "radio_buttons", "multi_static_select"}:
        options = element.get("options") or []
        if not options or len(options) > 100:
            return f"{kind} needs 1 to 100 options"
        for option in options:
            problem = _text_problem(option.get("text"), 75, "option text")
            if problem:
                return problem
            if len(str(option.get("value") or "")) > 150:
                return "option value over 150 characters"
        return None
    if kind == "overflow":
        options = element.get("options") or []
        if not 2 <= len(options) <= 5:
            return "an overflow menu needs 2 to 5 options"
        return next(
            (p for p in (_text_problem(o.get("text"), 75, "option text") for o in options) if p), None
        )
    if kind == "plain_text_input":
        if int(element.get("max_length") or 0) > 3000:
            return "plain_text_input max_length over 3,000"
        if len(str(element.get("initial_value") or "")) > int(element.get("max_length") or 3000):
            return "initial_value longer than max_length"
    return None


def _text_problem(text: Any, limit: int, where: str, *, plain_only: bool = False) -> str | None:
    if not isinstance(text, dict) or text.get("type") not in {"plain_text", "mrkdwn"}:
        return f"{where} must be a plain_text or mrkdwn text object"
    if plain_only and text["type"] != "plain_text":
        return f"{where} must be plain_text"
    value = text.get("text")
    if not isinstance(value, str) or not value:
        return f"{where} is empty"
    if len(value) > limit:
        return f"{where} is {len(value)} characters; the limit is {limit}"
    return None
