"""What the admin sees: JSON log lines with LOG_FORMAT=json, and Prometheus metrics at /metrics."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from bot.ops.logs import JsonFormatter
from bot.sandbox.fake_slack import FakeSlack
from tests.support import BotUnderTest

REPO = Path(__file__).resolve().parents[1]


def test_a_json_line_has_the_fields_and_the_ids_a_pipeline_indexes() -> None:
    record = logging.LogRecord(
        "bot.outbox.dispatcher", logging.INFO, __file__, 1, "outbox #%s sent", (7,), None
    )
    record.outbox_id, record.item_id = 7, 3
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "INFO" and line["logger"] == "bot.outbox.dispatcher"
    assert line["message"] == "outbox #7 sent"
    assert (line["outbox_id"], line["item_id"]) == (7, 3)
    assert line["time"].endswith("+00:00")


def test_a_traceback_is_one_field_of_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("bot", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    formatted = JsonFormatter().format(record)
    assert "\n" not in formatted
    assert "ValueError: boom" in json.loads(formatted)["traceback"]


def cxbot(*argv: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cxbot.db'}", **env}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *argv],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cxbot_logs_json_lines_with_log_format_json(tmp_path: Path) -> None:
    migrated = cxbot("migrate", tmp_path=tmp_path, LOG_FORMAT="json")
    assert migrated.returncode == 0, migrated.stderr
    lines = [json.loads(line) for line in migrated.stderr.splitlines()]
    assert any("database schema migrated" in line["message"] for line in lines)
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)


def test_a_bad_log_format_or_level_is_one_clear_line(tmp_path: Path) -> None:
    for name, value in (("LOG_FORMAT", "yaml"), ("LOG_LEVEL", "loud")):
        refused = cxbot("migrate", tmp_path=tmp_path, **{name: value})
        assert refused.returncode == 2
        [line] = refused.stderr.strip().splitlines()
        assert (
            line.startswith(f"cxbot: {name} must be ")
            and repr(value.upper() if name == "LOG_LEVEL" else value) in line
        )


def scrape(bot: BotUnderTest) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample at /metrics, by name and labels."""
    url = bot.url.replace("/slack/events", "/metrics")
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_what_happened(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    before = scrape(bot)
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=0)
    assert bot.command("/cx-alarm", "Refund missing", response_url=fake_slack.response_url("m")).status == 200
    bot.settle()
    bot.runtime.dispatcher.drain()
    after = scrape(bot)

    def grew(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("cxbot_requests_total", kind="/cx-alarm") == 1
    assert grew("cxbot_filings_total", kind="alarm") == 1
    assert grew("cxbot_ack_seconds_count") >= 1
    assert grew("cxbot_slack_calls_total", method="chat.postMessage", outcome="ratelimited") == 1
    assert grew("cxbot_slack_calls_total", method="chat.postMessage", outcome="ok") >= 1
    assert grew("cxbot_deliveries_total", kind="post_card", outcome="retried") == 1
    assert grew("cxbot_deliveries_total", kind="post_card", outcome="sent") == 1
    assert grew("cxbot_deliveries_total", kind="confirm_raiser", outcome="sent") == 1
    assert after[("cxbot_outbox_messages", (("status", "sent"),))] == 2  # this bot's own database


def test_metrics_show_what_waits_by_priority(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    fake_slack.refuse_token("token_revoked")  # nothing goes out: everything waits
    bot.command("/cx-alarm", "Refund missing", response_url=fake_slack.response_url("w"))
    bot.event({"type": "app_home_opened", "user": "U0RAISER", "tab": "home"}, event_id="EvHomeW")
    bot.settle()
    waiting = {
        labels: value for (name, labels), value in scrape(bot).items() if name == "cxbot_outbox_waiting"
    }
    assert waiting == {(("priority", "first"),): 2.0, (("priority", "can_wait"),): 1.0}
