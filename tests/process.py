"""`cxbot run --http` as a real process: start, sign requests to it, kill it, start it again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from bot.sandbox import envelopes
from bot.sandbox.fake_slack import FakeSlack
from tests.support import ADMINS, BOT_TOKEN, SIGNING_SECRET, TRIAGE, signature

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BotProcess:
    def __init__(
        self,
        *,
        fake: FakeSlack,
        database_url: str,
        routes_file: Path,
        log: Path,
        scheduler: bool = False,
        **extra: str,
    ) -> None:
        self.port = free_port()
        self.scheduler = scheduler
        self.log = log
        self.env: Mapping[str, str] = {
            **os.environ,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_APP_TOKEN": "",
            "SLACK_API_URL": fake.base_url,
            "DATABASE_URL": database_url,
            "CX_ROUTES_FILE": str(routes_file),
            "CX_TRIAGE_CHANNEL": TRIAGE,
            "CX_ADMINS": ",".join(ADMINS),
            **extra,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> BotProcess:
        argv = [
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            "--http",
            *([] if self.scheduler else ["--no-scheduler"]),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(argv, env=dict(self.env), cwd=REPO, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"cxbot exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"cxbot didn't start in {timeout} s:\n{self.log.read_text()[-3000:]}")

    def command(self, text: str, *, response_url: str, trigger: str) -> int:
        """Send /cx-alarm `text` as Slack would; returns the HTTP status of the answer."""
        return self.command_answer(text, response_url=response_url, trigger=trigger)[0]

    def command_answer(self, text: str, *, response_url: str, trigger: str) -> tuple[int, str]:
        """Send /cx-alarm `text` as Slack would; returns the answer's HTTP status and body (an
        immediate ack has an empty body; a slow save says so in it)."""
        body = urllib.parse.urlencode(
            envelopes.command_form(
                command="/cx-alarm",
                text=text,
                user="U0RAISER",
                channel="C0GENERAL",
                response_url=response_url,
                trigger=trigger,
            )
        ).encode()
        stamp = int(time.time())
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/slack/events",
            data=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": str(stamp),
                "X-Slack-Signature": signature(body, stamp),
            },
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(answer.status), answer.read().decode("utf-8")

    def kill(self) -> None:
        """SIGKILL the bot: no chance to finish anything."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
