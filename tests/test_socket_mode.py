"""`cxbot run` over Socket Mode: a real process, a WebSocket server standing in for Slack's, and the
fake Web API behind it."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import Server, ServerConnection, serve

from tests.fake_slack import FakeSlack
from tests.support import ADMINS, BOT_TOKEN, TRIAGE

REPO = Path(__file__).resolve().parents[1]


class SocketModeSlack:
    """Says hello, sends one slash command envelope, and records what the bot sends back."""

    def __init__(self, envelope: dict[str, Any]) -> None:
        self.envelope = envelope
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self.server: Server = serve(self._session, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link"

    def _session(self, connection: ServerConnection) -> None:
        connection.send(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0CXBOT"}})
        )
        connection.send(json.dumps(self.envelope))
        for message in connection:
            self.received.put(json.loads(message))


@pytest.fixture
def socket_slack() -> Iterator[SocketModeSlack]:
    envelope = {
        "envelope_id": "env-1",
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": {
            "team_id": "T0TEST",
            "channel_id": "C0GENERAL",
            "user_id": "U0RAISER",
            "command": "/cx-alarm",
            "text": "refund is missing",
            "trigger_id": "trig-sm",
            "api_app_id": "A0CXBOT",
            "response_url": "",
        },
    }
    server = SocketModeSlack(envelope)
    server.thread.start()
    yield server
    server.server.shutdown()


def test_socket_mode_acks_the_envelope_and_files_the_alarm(
    fake_slack: FakeSlack, socket_slack: SocketModeSlack, routes_file: Path, tmp_path: Path
) -> None:
    fake_slack.socket_mode_url = socket_slack.url
    environment = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": "xapp-1-test",
        "SLACK_SIGNING_SECRET": "",
        "SLACK_API_URL": fake_slack.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cxbot.db'}",
        "CX_TRIAGE_CHANNEL": TRIAGE,
        "CX_ADMINS": ",".join(ADMINS),
        "CX_ROUTES_FILE": str(routes_file),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"], env=environment, cwd=tmp_path, stderr=subprocess.PIPE
    )
    try:
        ack = socket_slack.received.get(timeout=30)
        assert ack["envelope_id"] == "env-1"
        [card] = fake_slack.wait_for("chat.postMessage", timeout=30)
        assert card.args["channel"] == "C0BILLING"
        assert fake_slack.calls_to("apps.connections.open")[0].token == "xapp-1-test"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    assert process.returncode == 0, process.stderr.read() if process.stderr else b""
