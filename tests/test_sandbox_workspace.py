"""What each person sees in the sandbox, rebuilt from the real app's calls to the fake Slack: the
card in its channel and its update, an ephemeral confirmation only its raiser sees, DMs, a modal
opened for whoever clicked, and App Home."""

from __future__ import annotations

import urllib.parse

from bot.blocks.ids import ItemAction
from bot.sandbox import envelopes
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.workspace import Workspace, dm_channel, response_url_name, trigger_id, user_of_trigger
from tests.support import BotUnderTest

ANA, OWNER = "U0ANA", "U0BILLING"


def replay(fake: FakeSlack, workspace: Workspace) -> None:
    for call in fake.calls:
        if call.fault is None:
            workspace.apply(call.method, call.args, call.response, call.path)


def texts(workspace: Workspace, channel: str, viewer: str) -> list[str]:
    return [m.text for m in workspace.messages(channel, viewer=viewer)]


def test_a_filed_alarm_its_card_the_private_confirmation_and_the_raisers_dm(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    where = response_url_name(channel="C0GENERAL", user=ANA)
    answer = bot.command(
        "/cx-alarm", "Refund never arrived", user=ANA, response_url=fake_slack.response_url(where)
    )
    assert answer.status == 200
    bot.settle()
    workspace = Workspace()
    replay(fake_slack, workspace)

    [card] = workspace.messages("C0BILLING", viewer=OWNER)
    assert "Refund never arrived" in card.text and card.blocks and card.user == "U0BOT"
    mine = workspace.messages("C0GENERAL", viewer=ANA)
    assert len(mine) == 1 and mine[0].ephemeral_to == ANA and "#1" in mine[0].text
    assert workspace.messages("C0GENERAL", viewer=OWNER) == []  # ephemeral: only Ana sees it

    # The owner acknowledges from the card: the card changes in place, and Ana hears by DM.
    click = envelopes.block_actions(
        action=envelopes.button(ItemAction.ACKNOWLEDGE, "1"),
        user=OWNER,
        channel="C0BILLING",
        message_ts=card.ts,
        response_url=fake_slack.response_url(
            response_url_name(channel="C0BILLING", user=OWNER, message_ts=card.ts)
        ),
    )
    assert bot.interaction(click).status == 200
    bot.settle()
    workspace = Workspace()
    replay(fake_slack, workspace)
    [card] = workspace.messages("C0BILLING", viewer=OWNER)
    assert card.edited and "Acknowledged" in str(card.blocks)
    [news] = workspace.messages(dm_channel(ANA), viewer=ANA)
    assert news.text == "News on your alarm #1" and "acknowledged" in str(news.blocks)
    assert workspace.channels_with_messages() == ["C0BILLING", "C0GENERAL", dm_channel(ANA)]


def test_a_modal_opens_for_whoever_clicked_and_app_home_is_each_persons_own(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    trigger = trigger_id(user=ANA, number=1)
    form = envelopes.command_form(
        command="/cx-alarm",
        text="",
        user=ANA,
        channel="C0GENERAL",
        response_url=fake_slack.response_url(response_url_name(channel="C0GENERAL", user=ANA)),
        trigger=trigger,
    )
    body = urllib.parse.urlencode(form).encode()
    assert bot.send(body, "application/x-www-form-urlencoded").status == 200
    bot.settle()
    assert bot.event(envelopes.app_home_opened(OWNER), event_id="EvHome1").status == 200
    bot.settle()
    workspace = Workspace()
    replay(fake_slack, workspace)
    modal = workspace.modal(ANA)
    assert modal is not None and modal.view["callback_id"] == "cx_file_alarm" and modal.view_id
    assert workspace.modal(OWNER) is None
    home = workspace.home(OWNER)
    assert home is not None and home["type"] == "home" and workspace.home(ANA) is None
    workspace.close_modal(ANA)
    assert workspace.modal(ANA) is None
    assert user_of_trigger(trigger) == ANA and user_of_trigger("12345.678") is None


def test_people_talk_in_threads_and_replies_stay_in_them() -> None:
    workspace = Workspace()
    top = workspace.say(channel="C0BILLING", user=OWNER, text="Looking at the refunds")
    workspace.say(channel="C0BILLING", user=ANA, text="Thanks!", thread_ts=top.ts)
    assert texts(workspace, "C0BILLING", ANA) == ["Looking at the refunds"]
    replies = workspace.messages("C0BILLING", viewer=ANA, thread_ts=top.ts)
    assert [m.text for m in replies] == ["Thanks!"] and workspace.replies_to("C0BILLING", top.ts) == 1
