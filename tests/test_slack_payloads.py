"""Real payloads, as Slack's own SDKs record them, replayed at the bot over HTTP.

The samples are in tests/slack_payloads/ (each with its source path; MIT, see the LICENSE there),
adapted only in IDs: the sample's workspace is ours, and each test points the sample's action,
callback, channel and thread at an item of ours. Each is asserted on its HTTP status and on what
it did. Runs on SQLite and on PostgreSQL (the `bot` fixture).
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.sandbox import envelopes
from bot.sandbox.fake_slack import FakeSlack
from storage.models import Event, Item, ItemStatus
from tests.support import BotUnderTest, modal_values

SAMPLES = Path(__file__).parent / "slack_payloads"
FORM = "application/x-www-form-urlencoded"
OWNER = "U0BILLING"


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    assert loaded["source"].startswith("slackapi/"), "each sample names where it came from"
    return loaded


def send(bot: BotUnderTest, name: str, body: dict[str, Any]) -> Any:
    """POST `body` the way Slack sends a sample of this kind, signed."""
    transport = sample(name)["transport"]
    if transport == "json":
        return bot.send(json.dumps(body).encode(), "application/json")
    if transport == "form-payload":
        return bot.interaction(body)
    return bot.send(urllib.parse.urlencode(body).encode(), FORM)


def grid(fake: FakeSlack, body: dict[str, Any]) -> None:
    """A sample from an Enterprise Grid workspace: the token's workspace is in that org too."""
    if "E0GRID" in json.dumps(body):
        fake.enterprise_id = "E0GRID"


def filed(bot: BotUnderTest, fake: FakeSlack, text: str = "Refund never arrived") -> Item:
    """An alarm routed to billing (owner U0BILLING), its card posted."""
    assert bot.command("/cx-alarm", text, response_url=fake.response_url("file")).status == 200
    bot.settle()
    return latest(bot)


def latest(bot: BotUnderTest) -> Item:
    with bot.runtime.deps.session_factory() as session:
        item = session.scalars(select(Item).order_by(Item.id.desc())).first()
    assert item is not None
    return item


def history(bot: BotUnderTest, item: Item) -> list[tuple[str, str]]:
    with bot.runtime.deps.session_factory() as session:
        rows = session.scalars(select(Event).where(Event.item_id == item.id).order_by(Event.id))
        return [(event.kind, event.actor) for event in rows]


def status(bot: BotUnderTest, item: Item) -> ItemStatus:
    with bot.runtime.deps.session_factory() as session:
        found = session.get(Item, item.id)
        assert found is not None
        return found.status


# Requests with no workspace ------------------------------------------------------------------------------


def test_url_verification_is_answered_with_its_challenge(bot: BotUnderTest) -> None:
    body = sample("url_verification")["body"]
    answer = send(bot, "url_verification", body)
    assert answer.status == 200
    assert body["challenge"] in answer.body.decode()


def test_ssl_check_is_answered_and_does_nothing(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    answer = send(bot, "ssl_check", sample("ssl_check")["body"])
    assert answer.status == 200
    bot.settle()
    assert [call.method for call in fake_slack.calls if call.method != "auth.test"] == []


# Slash commands ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text", "Refund API returns an empty payload"),
        ("channel_name", "payload-team"),
        ("user_name", "payload"),
        ("team_domain", "payload"),
    ],
)
def test_a_command_with_every_field_files_the_alarm(
    bot: BotUnderTest, fake_slack: FakeSlack, field: str, value: str
) -> None:
    """Also: the word "payload" anywhere in the form (slack_bolt 1.30.0 took any such body for an
    interactivity payload and read it as empty: bot/guard/edge.py)."""
    body = dict(sample("command_full")["body"])
    grid(fake_slack, body)
    body.update(
        command="/cx-alarm",
        text="Refund missing for ACME",
        response_url=fake_slack.response_url("sample-command"),
        trigger_id="111.222.sample",
    )
    body[field] = value
    answer = send(bot, "command_full", body)
    assert answer.status == 200, answer.body
    bot.settle()
    item = latest(bot)
    assert item.text == body["text"] and item.raiser_id == "U0RAISER"
    [card] = fake_slack.calls_to("chat.postMessage")
    assert card.args["channel"] == "C0BILLING"
    [confirmation] = fake_slack.calls_to("response_url")
    assert f"#{item.id}" in confirmation.all_text()


# Clicks --------------------------------------------------------------------------------------------------


def acknowledge_click(body: dict[str, Any], item: Item, fake: FakeSlack) -> dict[str, Any]:
    """The sample's click, on the Acknowledge button of `item`'s card, by its owner."""
    body = json.loads(json.dumps(body))
    body["user"]["id"] = OWNER
    action = body["actions"][0]
    action.update(action_id="item_acknowledge", value=str(item.id))
    if "response_url" in body:
        body["response_url"] = fake.response_url("sample-click")
    if body.get("channel"):
        body["channel"]["id"] = item.channel
    container = body["container"]
    if container.get("type") == "message" and "channel_id" in container:
        container.update(channel_id=item.channel, message_ts=item.card_ts)
    if body.get("message"):
        body["message"]["ts"] = item.card_ts
    return body


@pytest.mark.parametrize(
    "name",
    [
        "block_actions_message_non_grid",  # "enterprise": null, "is_enterprise_install": false
        "block_actions_message",
        "block_actions_message_grid_workspace",  # team.enterprise_id and an enterprise object
        "block_actions_home",  # from App Home: a view, no channel, no response_url
    ],
)
def test_a_real_click_acknowledges_the_item(bot: BotUnderTest, fake_slack: FakeSlack, name: str) -> None:
    body = sample(name)["body"]
    grid(fake_slack, body)
    item = filed(bot, fake_slack)
    answer = send(bot, name, acknowledge_click(body, item, fake_slack))
    assert answer.status == 200, answer.body
    bot.settle()
    assert status(bot, item) is ItemStatus.ACKNOWLEDGED
    assert ("acknowledged", OWNER) in history(bot, item)


@pytest.mark.parametrize("name", ["message_action", "message_action_grid", "message_action_bot_message"])
def test_raise_as_cx_alarm_opens_the_form_with_the_message(
    bot: BotUnderTest, fake_slack: FakeSlack, name: str
) -> None:
    body = json.loads(json.dumps(sample(name)["body"]))
    grid(fake_slack, body)
    body.update(callback_id="cx_raise_from_message", response_url=fake_slack.response_url("shortcut"))
    answer = send(bot, name, body)
    assert answer.status == 200, answer.body
    bot.settle()
    [opened] = fake_slack.calls_to("views.open")
    assert opened.args["trigger_id"] == body["trigger_id"]
    assert opened.args["view"]["callback_id"] == "cx_file_alarm"


@pytest.mark.parametrize("name", ["view_submission", "view_submission_response_urls"])
def test_a_real_form_submission_files_the_alarm(bot: BotUnderTest, fake_slack: FakeSlack, name: str) -> None:
    body = json.loads(json.dumps(sample(name)["body"]))
    grid(fake_slack, body)
    body["view"].update(
        callback_id="cx_file_alarm",
        private_metadata="",
        state={"values": modal_values("Invoices show the wrong VAT", area="billing")},
    )
    for entry in body["response_urls"]:  # nothing here may reach out to Slack's real hosts
        entry["response_url"] = fake_slack.response_url("sample-form")
    answer = send(bot, name, body)
    assert answer.status == 200, answer.body
    bot.settle()
    item = latest(bot)
    assert item.text == "Invoices show the wrong VAT" and item.area == "billing"
    assert fake_slack.calls_to("chat.postMessage")[0].args["channel"] == "C0BILLING"


# Events --------------------------------------------------------------------------------------------------


def in_thread_of(body: dict[str, Any], item: Item, *, user: str = OWNER) -> dict[str, Any]:
    """The sample's message event, as a reply by `user` in the thread of `item`'s card."""
    body = json.loads(json.dumps(body))
    event = body["event"]
    event.update(channel=item.channel, thread_ts=item.card_ts, ts="1800000000.000100")
    if "user" in event:
        event["user"] = user
    for inner in ("message", "previous_message", "root"):
        if isinstance(event.get(inner), dict):
            event[inner]["thread_ts"] = item.card_ts
    return body


@pytest.mark.parametrize("name", ["event_message_thread_reply", "event_thread_broadcast", "event_file_share"])
def test_an_owners_reply_in_the_thread_acknowledges(
    bot: BotUnderTest, fake_slack: FakeSlack, name: str
) -> None:
    """A plain reply, one also sent to the channel (thread_broadcast), and one with a file."""
    body = sample(name)["body"]
    grid(fake_slack, body)
    item = filed(bot, fake_slack)
    answer = send(bot, name, in_thread_of(body, item))
    assert answer.status == 200, answer.body
    bot.settle()
    assert status(bot, item) is ItemStatus.ACKNOWLEDGED
    assert ("acknowledged", OWNER) in history(bot, item)


@pytest.mark.parametrize(
    "name",
    ["event_message_changed", "event_message_deleted", "event_bot_message", "event_bot_message_modern"],
)
def test_edits_deletions_and_bot_posts_in_the_thread_do_nothing(
    bot: BotUnderTest, fake_slack: FakeSlack, name: str
) -> None:
    body = sample(name)["body"]
    grid(fake_slack, body)
    item = filed(bot, fake_slack)
    answer = send(bot, name, in_thread_of(body, item))
    assert answer.status == 200, answer.body
    bot.settle()
    assert status(bot, item) is ItemStatus.NEW
    assert history(bot, item) == [("filed", "U0RAISER")]


def test_opening_app_home_publishes_it(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    body = sample("event_app_home_opened_home")["body"]
    answer = send(bot, "event_app_home_opened_home", body)
    assert answer.status == 200
    bot.settle()
    [published] = fake_slack.calls_to("views.publish")
    assert published.args["user_id"] == "U0RAISER"


def test_opening_the_messages_tab_publishes_nothing(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    body = sample("event_app_home_opened_messages")["body"]
    grid(fake_slack, body)
    answer = send(bot, "event_app_home_opened_messages", body)
    assert answer.status == 200
    bot.settle()
    assert fake_slack.calls_to("views.publish") == []


# Requests for another workspace ----------------------------------------------------------------------------


def test_an_event_authorised_for_another_workspace_is_ignored(
    bot: BotUnderTest, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    item = filed(bot, fake_slack)
    event = envelopes.message_event(
        channel=item.channel or "", user=OWNER, text="On it", ts="1800000000.000200", thread_ts=item.card_ts
    )
    elsewhere = envelopes.event_callback(event, event_id="EvElsewhere", team="T0ELSEWHERE")
    with caplog.at_level(logging.INFO, logger="bot.guard.workspace"):
        answer = bot.send(json.dumps(elsewhere).encode(), "application/json")
    assert answer.status == 200
    bot.settle()
    assert status(bot, item) is ItemStatus.NEW
    assert [r.levelno for r in caplog.records if "T0ELSEWHERE" in r.getMessage()] == [logging.INFO]


def test_a_click_from_another_enterprise_is_ignored(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = filed(bot, fake_slack)
    click = acknowledge_click(sample("block_actions_message_grid_workspace")["body"], item, fake_slack)
    assert send(bot, "block_actions_message_grid_workspace", click).status == 200
    bot.settle()
    assert status(bot, item) is ItemStatus.NEW  # the token's workspace is in no Grid org


# The edge: unsigned, malformed, oversized ----------------------------------------------------------------


@pytest.mark.parametrize("body", [b"payload={not-json", b"payload=[]", b"payload=%7B%7D", b"\xff\xfe"])
def test_unsigned_junk_is_refused_before_it_is_read(
    bot: BotUnderTest, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        answer = bot.send(body, FORM, headers={"X-Slack-Signature": "v0=" + "0" * 64})
    assert answer.status == 401
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"payload={not-json", "the payload field is not JSON"),
        (b"payload=[]", "the payload field is not a JSON object"),
        (b"\xff\xfe", "the body is not UTF-8"),
    ],
)
def test_a_signed_malformed_body_gets_400_and_one_warning(
    bot: BotUnderTest, body: bytes, problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        answer = bot.send(body, FORM)
    assert answer.status == 400
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert problem in warning.getMessage() and warning.exc_info is None


def test_a_body_larger_than_slack_sends_is_refused_unread(bot: BotUnderTest) -> None:
    """A 30 MB body is answered 413 from its Content-Length, after a few kilobytes of it."""
    address = urllib.parse.urlsplit(bot.url)
    with socket.create_connection((address.hostname or "", address.port or 80), timeout=10) as connection:
        connection.sendall(
            f"POST {address.path} HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\n"
            f"Content-Length: {30 * 1024 * 1024}\r\n\r\n".encode()
            + b"x" * 4096
        )
        answer = connection.recv(200)
    assert answer.startswith(b"HTTP/1.1 413"), answer


# Every sample, as it is ------------------------------------------------------------------------------------


def _local_response_urls(value: Any, fake: FakeSlack) -> Any:
    """`value` with every response_url pointed at the fake: nothing may reach Slack's real hosts."""
    if isinstance(value, dict):
        return {
            key: fake.response_url("sample") if key == "response_url" else _local_response_urls(item, fake)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_local_response_urls(item, fake) for item in value]
    return value


@pytest.mark.parametrize("name", sorted(path.stem for path in SAMPLES.glob("*.json")))
def test_every_sample_as_it_is_is_answered_without_error(
    bot: BotUnderTest, fake_slack: FakeSlack, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Unadapted (the samples' own callback and action IDs are none of ours): answered 200, or 404
    for what no listener handles, with nothing logged as an error, from Grid and org-wide
    workspaces too."""
    body = _local_response_urls(sample(name)["body"], fake_slack)
    grid(fake_slack, body)
    with caplog.at_level(logging.WARNING):
        answer = send(bot, name, body)
        bot.settle()
    assert answer.status in (200, 404), (answer.status, answer.body)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
