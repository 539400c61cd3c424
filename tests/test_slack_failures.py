"""Slack's real failures, each with its defined outcome (README, "When Slack says no")."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.sandbox.fake_slack import Call, FakeSlack
from storage.models import Event, Item, OutboxMessage, OutboxStatus
from tests.support import ADMINS, TRIAGE, BotUnderTest, FakeClock, block_action


def the_item(bot: BotUnderTest) -> Item:
    with bot.runtime.deps.session_factory() as session:
        [item] = session.scalars(select(Item)).all()
        return item


def outbox(bot: BotUnderTest) -> list[OutboxMessage]:
    with bot.runtime.deps.session_factory() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def posts_to(fake: FakeSlack, channel: str) -> list[Call]:
    return [
        c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == channel and c.response.get("ok")
    ]


def file_billing_alarm(bot: BotUnderTest, fake: FakeSlack, text: str = "refund never arrived") -> None:
    bot.command("/cx-alarm", text, response_url=fake.response_url("confirm"))
    bot.settle()


# A route's channel can't take cards ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "problem", "fix"),
    [
        ({"archived": True}, "is_archived", "Unarchive the channel"),
        ({"private": True, "member": False}, "not_in_channel", "/invite @cxbot"),
    ],
    ids=["archived", "private-without-cxbot"],
)
def test_a_card_its_route_channel_refuses_goes_to_triage_and_the_leads_hear_which_route(
    bot: BotUnderTest, fake_slack: FakeSlack, channel: dict[str, bool], problem: str, fix: str
) -> None:
    fake_slack.set_channel("C0BILLING", name="billing", **channel)
    file_billing_alarm(bot, fake_slack)
    file_billing_alarm(bot, fake_slack, "invoice is wrong")  # the leads are told once, not per card

    with bot.runtime.deps.session_factory() as session:
        items = session.scalars(select(Item).order_by(Item.id)).all()
        rerouted = session.scalars(select(Event).where(Event.kind == "card_rerouted")).all()
    assert [item.channel for item in items] == [TRIAGE, TRIAGE]
    assert all(item.card_ts for item in items)
    assert [(e.data["channel"], e.data["problem"], e.data["area"]) for e in rerouted] == [
        ("C0BILLING", problem, "billing")
    ] * 2
    cards = posts_to(fake_slack, TRIAGE)
    assert len(cards) == 2
    for card in cards:
        assert "Meant for <#C0BILLING> (the *billing* route)" in card.all_text()
    for lead in ADMINS:
        [dm] = posts_to(fake_slack, lead)
        assert "couldn't go to <#C0BILLING>" in dm.all_text() and "billing" in dm.all_text()
        assert fix in dm.all_text()
    assert all(m.status is OutboxStatus.SENT for m in outbox(bot))

    # The card keeps saying why when it changes.
    item = items[0]
    click = block_action(
        action_id="item_acknowledge",
        value=str(item.id),
        user="U0BILLING",
        response_url=fake_slack.response_url("ack"),
        channel=TRIAGE,
        message_ts=str(item.card_ts),
    )
    assert bot.interaction(click).status == 200
    bot.settle()
    [update] = [c for c in fake_slack.calls_to("chat.update") if c.args["ts"] == item.card_ts]
    assert update.args["channel"] == TRIAGE and "Meant for <#C0BILLING>" in json.dumps(update.args["blocks"])


def test_a_route_channel_that_is_gone_sends_cards_to_triage(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("chat.postMessage", status=200, error="channel_not_found")
    file_billing_alarm(bot, fake_slack)
    item = the_item(bot)
    assert item.channel == TRIAGE and item.card_ts is not None
    [card] = posts_to(fake_slack, TRIAGE)
    assert "doesn't exist" in card.all_text()
    [confirmation] = [c for c in fake_slack.calls_to("response_url") if c.fault is None]
    assert f"archives/{TRIAGE}/p" in confirmation.all_text()  # the link goes where the card is


# The token is refused ------------------------------------------------------------------------------------


def test_a_revoked_token_stops_deliveries_loses_nothing_and_resumes_after_a_restart(
    start_bot: Callable[..., BotUnderTest],
    fake_slack: FakeSlack,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = start_bot()
    fake_slack.refuse_token("token_revoked")
    with caplog.at_level(logging.ERROR, logger="bot.outbox.dispatcher"):
        for text in ("refund never arrived", "invoice is wrong", "charged twice"):
            first.command("/cx-alarm", text, response_url=fake_slack.response_url(text[:6]))
        first.settle()
        first.settle()
    statuses = [m.status for m in outbox(first)]
    assert OutboxStatus.FAILED not in statuses and statuses.count(OutboxStatus.PENDING) >= 3
    assert all(m.attempts == 0 for m in outbox(first) if m.status is OutboxStatus.PENDING)
    refusals = [r for r in caplog.records if "refuses cxbot's token" in r.getMessage()]
    assert len(refusals) == 1  # one line, not one per message
    assert "token_revoked" in refusals[0].getMessage() and "SLACK_BOT_TOKEN" in refusals[0].getMessage()
    assert first.runtime.dispatcher.token_refused == "token_revoked"
    first.runtime.close()

    fake_slack.refuse_token(None)  # a new token is set...
    second = start_bot()  # ...and cxbot restarts
    second.settle()
    assert all(m.status is OutboxStatus.SENT for m in outbox(second))
    assert len(posts_to(fake_slack, "C0BILLING")) == 3


@pytest.mark.parametrize("event_type", ["tokens_revoked", "app_uninstalled"])
def test_slacks_own_events_about_the_token_stop_deliveries(
    bot: BotUnderTest, fake_slack: FakeSlack, event_type: str
) -> None:
    event = {"type": event_type, "event_ts": "1700000000.000100"}
    if event_type == "tokens_revoked":
        event["tokens"] = {"oauth": [], "bot": ["U0BOT"]}  # type: ignore[assignment]
    assert bot.event(event, event_id=f"Ev{event_type}").status == 200
    bot.settle()
    assert bot.runtime.dispatcher.token_refused == event_type
    bot.command("/cx-alarm", "refund never arrived")
    bot.settle()
    assert fake_slack.calls_to("chat.postMessage") == []
    assert all(m.status is OutboxStatus.PENDING for m in outbox(bot))


# Slack is slow -------------------------------------------------------------------------------------------


def test_a_slow_slack_never_delays_an_ack(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    """Acks never wait on the Web API: with a card post stuck in Slack, commands are still answered."""
    bot.runtime.dispatcher.start()
    try:
        stuck = fake_slack.hold_next("chat.postMessage")
        assert bot.command("/cx-alarm", "refund never arrived").status == 200
        stuck.wait_reached()
        for n in range(5):
            answer = bot.command("/cx-alarm", f"invoice {n} is wrong")
            assert answer.status == 200 and stuck.reached  # answered while the post is in flight
        stuck.release()
    finally:
        bot.runtime.dispatcher.stop()
