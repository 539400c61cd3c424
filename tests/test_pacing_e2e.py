"""The bot against a fake Slack that limits as Slack does, pacing itself: the real app over HTTP,
its outbox running on the real clock (Slack counts in real time)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.clock import Clock, system_clock
from bot.sandbox.fake_slack import Call, FakeSlack
from bot.sandbox.slack_limits import SlackLimits
from storage.models import SlackPace
from tests.conftest import serve_fake_slack
from tests.support import TRIAGE, BotUnderTest


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    yield from serve_fake_slack(SlackLimits())


@pytest.fixture
def clock() -> Clock:
    return system_clock


@pytest.fixture
def paced_bot(start_bot: object) -> Iterator[BotUnderTest]:
    bot: BotUnderTest = start_bot(slack_pacing=True)  # type: ignore[operator]
    bot.runtime.dispatcher.start()
    yield bot
    bot.runtime.dispatcher.stop()


def accepted(fake: FakeSlack, method: str) -> list[Call]:
    return [c for c in fake.calls_to(method) if c.fault is None and c.response.get("ok", True)]


def test_a_burst_for_one_channel_is_paced_and_nobody_waits_for_their_confirmation(
    paced_bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    for n in range(8):
        answer = paced_bot.command(
            "/cx-alarm", f"Refund missing for order {n}", response_url=fake_slack.response_url(f"c{n}")
        )
        assert answer.status == 200
    paced_bot.command("/cx-alarm", "The lobby plant is wilting", response_url=fake_slack.response_url("grey"))
    fake_slack.wait_for("chat.postMessage", count=9, timeout=30)

    cards = accepted(fake_slack, "chat.postMessage")
    billing = [c for c in cards if c.args["channel"] == "C0BILLING"]
    confirmations = accepted(fake_slack, "response_url")
    assert len(billing) == 8 and len(confirmations) == 9
    # Every raiser heard before the busy channel's last card went; the triage card didn't queue
    # behind the billing ones.
    assert max(c.at for c in confirmations) < billing[-1].at
    [grey] = [c for c in cards if c.args["channel"] == TRIAGE]
    assert grey.at < billing[-1].at
    # One a second, after a short burst: Slack never had to say 429.
    assert [c for c in fake_slack.calls if c.fault == "http_429"] == []
    with paced_bot.runtime.deps.session_factory() as session:
        assert session.get(SlackPace, "post:C0BILLING") is not None


def test_a_429_holds_only_its_channel(paced_bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=3)
    paced_bot.command("/cx-alarm", "Refund missing", response_url=fake_slack.response_url("held"))
    fake_slack.wait_for("response_url", count=1, timeout=10)
    paced_bot.command("/cx-alarm", "The lobby plant is wilting", response_url=fake_slack.response_url("free"))
    fake_slack.wait_for("chat.postMessage", count=3, timeout=30)
    cards = accepted(fake_slack, "chat.postMessage")
    assert [c.args["channel"] for c in cards] == [TRIAGE, "C0BILLING"]  # triage didn't wait
    refused = [c for c in fake_slack.calls if c.fault == "http_429"]
    assert len(refused) == 1 and cards[1].at - refused[0].at >= 3  # held for its Retry-After
