"""The fake Slack server itself: it must refuse what Slack would refuse, so that tests can fail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_limits import BURST_SECONDS, WORKSPACE_POSTS_PER_MINUTE, SlackLimits


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


def test_users_list_pages_everyone_as_users_info_describes_them(fake: FakeSlack, client: WebClient) -> None:
    for n in range(5):
        fake.set_user(f"U{n}", deleted=n == 3)
    pages, cursor = [], ""
    while True:
        page = client.users_list(limit=2, cursor=cursor or None)
        pages.append([member["id"] for member in page["members"]])
        assert isinstance(page["cache_ts"], int)
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert pages == [["U0", "U1"], ["U2", "U3"], ["U4"]]
    everyone = client.users_list()["members"]  # no limit: everyone at once
    assert everyone == [client.users_info(user=f"U{n}")["user"] for n in range(5)]
    assert everyone[3]["deleted"] is True
    with pytest.raises(SlackApiError, match="invalid_cursor"):
        client.users_list(cursor="not a cursor")
    fake.assert_no_violations()


# Rate limits ------------------------------------------------------------------------------------


class TickingClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_tier_holds_a_burst_then_lets_calls_through_at_its_rate() -> None:
    clock = TickingClock()
    limits = SlackLimits(clock=clock)
    burst = int(20 / 60 * BURST_SECONDS)  # usergroups.users.list is Tier 2: 20 a minute
    assert [limits.retry_after("usergroups.users.list", {}) for _ in range(burst)] == [None] * burst
    assert limits.retry_after("usergroups.users.list", {}) == 3  # one more token in 3 s
    assert limits.retry_after("users.info", {}) is None  # Tier 4, a bucket of its own
    clock.now += 3
    assert limits.retry_after("usergroups.users.list", {}) is None
    assert limits.retry_after("usergroups.users.list", {}) == 3


def test_posts_are_limited_per_channel_with_a_short_burst() -> None:
    clock = TickingClock()
    limits = SlackLimits(clock=clock)
    assert [limits.retry_after("chat.postMessage", {"channel": "C1"}) for _ in range(3)] == [None] * 3
    assert limits.retry_after("chat.postMessage", {"channel": "C1"}) == 1
    assert limits.retry_after("chat.postMessage", {"channel": "C2"}) is None  # another channel
    clock.now += 1
    assert limits.retry_after("chat.postMessage", {"channel": "C1"}) is None


@pytest.mark.parametrize("per_minute", [WORKSPACE_POSTS_PER_MINUTE, WORKSPACE_POSTS_PER_MINUTE / 10])
def test_posts_across_channels_meet_the_workspace_cap(per_minute: float) -> None:
    """Each post to a channel of its own: only the workspace-wide cap can refuse them."""
    clock = TickingClock()
    limits = SlackLimits(clock=clock, workspace_posts_per_minute=per_minute)
    burst = int(per_minute / 60 * BURST_SECONDS)
    taken = [limits.retry_after("chat.postMessage", {"channel": f"C{n}"}) for n in range(burst)]
    assert taken == [None] * burst
    assert limits.retry_after("chat.postMessage", {"channel": "Cnew"}) == 1
    clock.now += 60  # a minute later, the cap's rate is let through again
    let_through = sum(
        limits.retry_after("chat.postMessage", {"channel": f"D{n}"}) is None for n in range(int(per_minute))
    )
    assert let_through == burst  # a full bucket: a burst's worth, not more
    # A refused post takes no token from its channel: that channel can post once the cap allows.
    clock.now += 60 / per_minute + 0.001
    assert limits.retry_after("chat.postMessage", {"channel": "Cnew"}) is None


def test_over_a_limit_slack_answers_429_with_retry_after() -> None:
    with FakeSlack(limits=SlackLimits()) as fake:
        client = WebClient(token="xoxb-test", base_url=fake.base_url, timeout=5)
        client.retry_handlers.clear()
        for _ in range(3):
            client.chat_postMessage(channel="C1", text="hi")
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel="C1", text="one too many")
        assert refused.value.response.status_code == 429
        assert refused.value.response.headers.get("Retry-After") == "1"
        assert refused.value.response["error"] == "ratelimited"
        assert [call.fault for call in fake.calls_to("chat.postMessage")] == [None, None, None, "http_429"]
        client.chat_postMessage(channel="C2", text="another channel is fine")
        fake.assert_no_violations()


def test_without_limits_the_fake_answers_every_call() -> None:
    with FakeSlack() as fake:
        client = WebClient(token="xoxb-test", base_url=fake.base_url, timeout=5)
        client.retry_handlers.clear()
        for _ in range(10):
            client.chat_postMessage(channel="C1", text="hi")
        assert all(call.fault is None for call in fake.calls_to("chat.postMessage"))
