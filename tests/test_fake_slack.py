"""The fake Slack server itself: it must refuse what Slack would refuse, so that tests can fail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from tests.fake_slack import FakeSlack


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    client = WebClient(token="xoxb-test", base_url=fake.base_url, timeout=5)
    client.retry_handlers.clear()
    return client


def test_valid_post_is_recorded_with_decoded_blocks(fake: FakeSlack, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    answer = client.chat_postMessage(channel="C1", text="hi", blocks=blocks)
    [call] = fake.calls_to("chat.postMessage")
    assert call.args["blocks"] == blocks and call.token == "xoxb-test"
    assert call.response["ts"] == answer["ts"]
    fake.assert_no_violations()


def test_unknown_method_is_a_violation(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        client.api_call("chat.postMessages", json={"channel": "C1", "text": "x"})
    assert caught.value.response["error"] == "unknown_method"
    assert "chat.postMessages" in fake.violations[0]
    with pytest.raises(AssertionError, match="Slack would reject"):
        fake.assert_no_violations()


def test_missing_required_argument_is_a_violation(fake: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError):
        client.api_call("chat.postMessage", json={"text": "no channel"})
    with pytest.raises(SlackApiError):
        client.api_call("chat.getPermalink", params={"channel": "C1"})
    assert "missing required argument(s) channel" in fake.violations[0]
    assert "message_ts" in fake.violations[1]


def test_missing_token_is_a_violation(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError):
        WebClient(base_url=fake.base_url).chat_postMessage(channel="C1", text="x")
    assert "no token" in fake.violations[0]


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
        [
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b" * 76}}],
            }
        ],
        [{"type": "section", "text": {"type": "mrkdwn", "text": ""}}],
        [{"type": "divider"}] * 51,
        [{"type": "mystery"}],
    ],
)
def test_blocks_slack_would_reject_are_violations(
    fake: FakeSlack, client: WebClient, blocks: list[dict]
) -> None:  # type: ignore[type-arg]
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="C1", text="x", blocks=blocks)
    assert caught.value.response["error"] == "invalid_blocks"
    assert fake.violations


def test_view_limits(fake: FakeSlack, client: WebClient) -> None:
    view = {"type": "modal", "title": {"type": "plain_text", "text": "t" * 25}, "blocks": []}
    with pytest.raises(SlackApiError):
        client.views_open(trigger_id="t", view=view)
    assert "view title" in fake.violations[0]


def test_429_and_500_reach_the_client(fake: FakeSlack, client: WebClient) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=7)
    fake.fail_next("chat.postMessage", status=500)
    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="C1", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    with pytest.raises(SlackApiError) as broken:
        client.chat_postMessage(channel="C1", text="x")
    assert broken.value.response.status_code == 500
    client.chat_postMessage(channel="C1", text="x")
    assert [c.fault for c in fake.calls_to("chat.postMessage")] == ["http_429", "http_500", None]
    fake.assert_no_violations()


def test_history_returns_posts_with_metadata(fake: FakeSlack, client: WebClient) -> None:
    metadata = {"event_type": "cxbot_outbox", "event_payload": {"outbox_id": 3}}
    posted = client.chat_postMessage(channel="C1", text="x", metadata=metadata)
    client.chat_postMessage(channel="C2", text="elsewhere")
    history = client.conversations_history(channel="C1", oldest="0", include_all_metadata=True)
    assert [m["ts"] for m in history["messages"]] == [posted["ts"]]
    assert history["messages"][0]["metadata"] == metadata


def test_response_url_posts_are_recorded(fake: FakeSlack) -> None:
    url = fake.response_url("cmd")
    assert WebhookClient(url).send(text="hello", response_type="ephemeral").status_code == 200
    fake.fail_next("response_url", status=404)
    assert WebhookClient(url).send(text="again").status_code == 404
    assert [c.args.get("text") for c in fake.calls_to("response_url")] == ["hello", "again"]


def test_wait_for_times_out_clearly(fake: FakeSlack) -> None:
    with pytest.raises(AssertionError, match=r"waited 0\.2 s for 1 chat\.update"):
        fake.wait_for("chat.update", timeout=0.2)


def test_users_and_groups(fake: FakeSlack, client: WebClient) -> None:
    fake.set_user("U1", tz="Asia/Tokyo")
    fake.set_usergroup("S1", ["U1", "U2"])
    assert client.users_info(user="U1")["user"]["tz_offset"] == 9 * 3600
    assert client.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]
    with pytest.raises(SlackApiError):
        client.users_info(user="U404")
