"""The outbox against a misbehaving Slack: 5xx, 429, timeouts, refusals, restarts and crashes.

No test sleeps to wait for time: the dispatcher's clock is a FakeClock that the test advances.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from bot.outbox.deliveries import DELIVERIES
from bot.outbox.dispatcher import LEASE
from bot.sandbox.fake_slack import FakeSlack
from storage import outbox as queue
from storage.db import transaction
from storage.models import Item, OutboxMessage, OutboxStatus
from tests.support import BotUnderTest, FakeClock


def outbox(bot: BotUnderTest) -> list[OutboxMessage]:
    with bot.runtime.deps.session_factory() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def the_item(bot: BotUnderTest) -> Item:
    with bot.runtime.deps.session_factory() as session:
        return session.scalars(select(Item)).one()


def posts_to(fake: FakeSlack, channel: str) -> list[str]:
    """The ts of each message Slack actually accepted in `channel`."""
    return [
        str(call.response["ts"])
        for call in fake.calls_to("chat.postMessage")
        if call.args.get("channel") == channel and call.fault is None
    ]


def file_alarm(bot: BotUnderTest, fake: FakeSlack, text: str = "refund not received") -> None:
    bot.command("/cx-alarm", text, response_url=fake.response_url("confirm"))
    bot.executor.wait_idle()


def test_slack_500_is_retried_with_backoff_and_posted_once(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    fake_slack.fail_next("chat.postMessage", status=500, times=2)
    file_alarm(bot, fake_slack)
    bot.runtime.dispatcher.drain()
    card = outbox(bot)[0]
    assert card.status is OutboxStatus.PENDING and card.attempts == 1 and card.outcome_uncertain
    assert "500" in (card.last_error or "")
    assert the_item(bot).card_ts is None  # stored all the same

    bot.runtime.dispatcher.drain()  # not due yet: nothing is sent
    assert len(fake_slack.calls_to("chat.postMessage")) == 1

    clock.advance(seconds=1.2)  # first backoff: 1 s (+ up to 20 %)
    bot.runtime.dispatcher.drain()
    assert outbox(bot)[0].attempts == 2
    clock.advance(seconds=2.4)  # second backoff: 2 s (+ up to 20 %)
    bot.runtime.dispatcher.drain()

    assert len(posts_to(fake_slack, "C0BILLING")) == 1
    assert [m.status for m in outbox(bot)] == [OutboxStatus.SENT, OutboxStatus.SENT]
    assert the_item(bot).card_ts == posts_to(fake_slack, "C0BILLING")[0]
    assert len(fake_slack.calls_to("response_url")) == 1


def test_429_waits_for_retry_after_and_holds_back_nothing_else(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=30)
    file_alarm(bot, fake_slack)
    file_alarm(bot, fake_slack, "invoice is wrong")
    bot.runtime.dispatcher.drain()
    assert len(posts_to(fake_slack, "C0BILLING")) == 1  # the second card went; the first waits

    clock.advance(seconds=29)
    bot.runtime.dispatcher.drain()
    assert len(posts_to(fake_slack, "C0BILLING")) == 1

    clock.advance(seconds=1)
    bot.runtime.dispatcher.drain()
    assert len(posts_to(fake_slack, "C0BILLING")) == 2
    assert all(m.status is OutboxStatus.SENT for m in outbox(bot))
    rate_limited = outbox(bot)[0]
    assert not rate_limited.outcome_uncertain and rate_limited.attempts == 2


def test_refused_post_is_failed_not_retried_and_the_raiser_is_told(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    fake_slack.fail_next("chat.postMessage", status=200, error="restricted_action")
    file_alarm(bot, fake_slack)
    bot.runtime.dispatcher.drain()
    card, confirm = outbox(bot)
    assert card.status is OutboxStatus.FAILED and card.last_error == "restricted_action"
    assert confirm.status is OutboxStatus.SENT
    [told] = fake_slack.calls_to("response_url")
    assert "couldn't post it" in str(told.args)
    clock.advance(hours=1)
    bot.runtime.dispatcher.drain()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_not_in_channel_joins_then_posts(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", status=200, error="not_in_channel")
    file_alarm(bot, fake_slack)
    bot.runtime.dispatcher.drain()
    # joined before the first post, and again when Slack said the bot wasn't in (say, it was removed)
    assert [c.args["channel"] for c in fake_slack.calls_to("conversations.join")] == [
        "C0BILLING",
        "C0BILLING",
    ]
    assert len(posts_to(fake_slack, "C0BILLING")) == 1


def test_expired_response_url_falls_back_to_a_dm(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("response_url", status=404)
    file_alarm(bot, fake_slack)
    bot.runtime.dispatcher.drain()
    assert len(posts_to(fake_slack, "U0RAISER")) == 1  # Slack puts it in the person's DM with the app
    assert fake_slack.calls_to("conversations.open") == []
    assert all(m.status is OutboxStatus.SENT for m in outbox(bot))


def test_restart_with_deliveries_pending_delivers_each_once(
    start_bot: Callable[..., BotUnderTest], fake_slack: FakeSlack
) -> None:
    first = start_bot()
    file_alarm(first, fake_slack)
    file_alarm(first, fake_slack, "lobby is cold")
    assert fake_slack.calls_to("chat.postMessage") == []
    first_url = first.url
    first.runtime.close()

    second = start_bot()
    assert second.url != first_url
    second.runtime.dispatcher.drain()
    assert len(posts_to(fake_slack, "C0BILLING")) == 1
    assert len(posts_to(fake_slack, "C0TRIAGE")) == 1
    assert len(fake_slack.calls_to("response_url")) == 2
    second.runtime.dispatcher.drain()
    assert len(fake_slack.calls_to("chat.postMessage")) == 2


def test_crash_after_slack_accepted_does_not_post_twice(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """A dispatcher dies after Slack posted the card but before it recorded that. After its lease
    runs out another dispatcher finds the card by its outbox metadata instead of posting again."""
    file_alarm(bot, fake_slack)
    factory = bot.runtime.deps.session_factory
    with transaction(factory) as session:
        [claimed] = queue.claim_due(session=session, now=clock(), lease=LEASE, limit=1)
    DELIVERIES[claimed.kind](bot.runtime.dispatcher.context, claimed)  # ...and then the process dies
    [first_post] = posts_to(fake_slack, "C0BILLING")

    bot.runtime.dispatcher.drain()
    assert len(fake_slack.calls_to("chat.postMessage")) == 1  # still leased to the dead dispatcher

    clock.advance(seconds=LEASE.total_seconds() + 1)
    bot.runtime.dispatcher.drain()
    assert posts_to(fake_slack, "C0BILLING") == [first_post]
    assert fake_slack.calls_to("conversations.history")
    assert the_item(bot).card_ts == first_post
    assert all(m.status is OutboxStatus.SENT for m in outbox(bot))


def test_timeout_after_slack_accepted_does_not_post_twice(
    start_bot: Callable[..., BotUnderTest], fake_slack: FakeSlack, clock: FakeClock
) -> None:
    bot = start_bot()
    bot.runtime.dispatcher.context.client.timeout = 1
    fake_slack.fail_next("chat.postMessage", status=200, delay=2.0)  # posts, but answers too late
    file_alarm(bot, fake_slack)
    bot.runtime.dispatcher.drain()
    card = outbox(bot)[0]
    assert card.status is OutboxStatus.PENDING and card.outcome_uncertain

    clock.advance(seconds=5)
    bot.runtime.dispatcher.drain()
    assert (
        len([c for c in fake_slack.calls_to("chat.postMessage") if c.args.get("channel") == "C0BILLING"]) == 1
    )
    assert outbox(bot)[0].status is OutboxStatus.SENT
    assert the_item(bot).card_ts is not None


def test_timed_out_look_up_leaves_the_outcome_certain(
    start_bot: Callable[..., BotUnderTest], fake_slack: FakeSlack, clock: FakeClock
) -> None:
    """The confirmation first looks up the workspace's address for the card's link (auth.test,
    once). If that look-up times out, nothing was posted: the retry still answers by response_url
    (where an uncertain outcome would turn to a DM, so as not to answer twice)."""
    bot = start_bot()
    bot.runtime.dispatcher.context.client.timeout = 1
    file_alarm(bot, fake_slack)
    fake_slack.fail_next("auth.test", status=200, delay=2.0)
    bot.runtime.dispatcher.drain()
    card, confirmation = outbox(bot)
    assert card.status is OutboxStatus.SENT
    assert confirmation.status is OutboxStatus.PENDING and confirmation.attempts == 1
    assert "timed out" in (confirmation.last_error or "") and not confirmation.outcome_uncertain

    clock.advance(seconds=5)
    bot.runtime.dispatcher.drain()
    assert outbox(bot)[1].status is OutboxStatus.SENT
    [confirmed] = fake_slack.calls_to("response_url")
    assert the_item(bot).card_ts is not None and "archives" in str(confirmed.args)
    assert fake_slack.calls_to("conversations.open") == []


def test_rate_limited_look_up_keeps_its_retry_after(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    file_alarm(bot, fake_slack)
    fake_slack.fail_next("auth.test", status=429, retry_after=7)
    bot.runtime.dispatcher.drain()
    confirmation = outbox(bot)[1]
    assert confirmation.status is OutboxStatus.PENDING and not confirmation.outcome_uncertain
    assert confirmation.next_attempt_at == clock() + timedelta(seconds=7)


def test_timed_out_thread_reply_is_found_among_the_replies_not_posted_twice(
    start_bot: Callable[..., BotUnderTest], fake_slack: FakeSlack, clock: FakeClock
) -> None:
    bot = start_bot()
    bot.runtime.dispatcher.context.client.timeout = 1
    file_alarm(bot, fake_slack)
    bot.runtime.dispatcher.drain()
    item = the_item(bot)
    with transaction(bot.runtime.deps.session_factory) as session:
        note = queue.NewMessage(kind="thread_note", payload={"to": ["U0CFO"], "nags": 3}, item_id=item.id)
        queue.enqueue(session=session, message=note, now=clock())
    fake_slack.fail_next("chat.postMessage", status=200, delay=2.0)  # posted in the thread, answered too late
    bot.runtime.dispatcher.drain()
    clock.advance(seconds=5)
    bot.runtime.dispatcher.drain()
    replies = [c for c in fake_slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == item.card_ts]
    assert len(replies) == 1
    assert [c.args["ts"] for c in fake_slack.calls_to("conversations.replies")] == [item.card_ts]
    assert all(m.status is OutboxStatus.SENT for m in outbox(bot))
