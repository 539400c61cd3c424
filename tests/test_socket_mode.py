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
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import Server, ServerConnection, serve

from bot.sandbox import envelopes
from bot.sandbox.fake_slack import FakeSlack
from tests.process import free_port
from tests.support import ADMINS, BOT_TOKEN, TRIAGE

REPO = Path(__file__).resolve().parents[1]


class SocketModeSlack:
    """Says hello, sends one slash command envelope, and records what the bot sends back; the test
    may send further envelopes with send()."""

    def __init__(self, envelope: dict[str, Any]) -> None:
        self.envelope = envelope
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self.server: Server = serve(self._session, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._connections: queue.Queue[ServerConnection] = queue.Queue()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link"

    def send(self, envelope: dict[str, Any]) -> None:
        connection = self._connections.get(timeout=10)
        self._connections.put(connection)
        connection.send(json.dumps(envelope))

    def _session(self, connection: ServerConnection) -> None:
        connection.send(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0CXBOT"}})
        )
        connection.send(json.dumps(self.envelope))
        self._connections.put(connection)
        for message in connection:
            self.received.put(json.loads(message))


@pytest.fixture
def socket_slack(fake_slack: FakeSlack) -> Iterator[SocketModeSlack]:
    envelope = {
        "envelope_id": "env-1",
        "type": "slash_commands",
        "accepts_response_payload": True,
        "payload": envelopes.command_form(
            command="/cx-alarm",
            text="refund is missing",
            user="U0RAISER",
            channel="C0GENERAL",
            response_url=fake_slack.response_url("sm-command"),
            trigger="trig-sm",
        ),
    }
    server = SocketModeSlack(envelope)
    server.thread.start()
    yield server
    server.server.shutdown()


def test_socket_mode_acks_the_envelope_and_files_the_alarm(
    fake_slack: FakeSlack, socket_slack: SocketModeSlack, routes_file: Path, tmp_path: Path
) -> None:
    fake_slack.socket_mode_url = socket_slack.url
    metrics_port = free_port()
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
        "CX_METRICS_PORT": str(metrics_port),
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

        # The owner clicks Acknowledge on the card: Slack's interactive envelope, with
        # "enterprise": null as outside Enterprise Grid.
        click = envelopes.block_actions(
            action=envelopes.button("item_acknowledge", "1"),
            user="U0BILLING",
            channel="C0BILLING",
            message_ts=card.response["ts"],
            response_url=fake_slack.response_url("sm-click"),
        )
        assert click["enterprise"] is None
        socket_slack.send(
            {
                "envelope_id": "env-2",
                "payload": click,
                "type": "interactive",
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        assert socket_slack.received.get(timeout=30)["envelope_id"] == "env-2"
        [update] = fake_slack.wait_for("chat.update", timeout=30)
        assert update.args["ts"] == card.response["ts"]
        assert "Acknowledged" in update.all_text()

        # Prometheus metrics, on CX_METRICS_PORT under Socket Mode.
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as answer:
            exposition = answer.read().decode()
        assert 'cxbot_requests_total{kind="/cx-alarm"} 1.0' in exposition
        assert 'cxbot_requests_total{kind="block_actions"} 1.0' in exposition
        assert 'cxbot_filings_total{kind="alarm"} 1.0' in exposition
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    assert process.returncode == 0, process.stderr.read() if process.stderr else b""
