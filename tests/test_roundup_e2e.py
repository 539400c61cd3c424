""" "You said, we did": the monthly roundup over HTTP against the fake Slack, and its preview."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.blocks.ids import ItemAction
from bot.items import flows, lifecycle
from bot.jobs import schedule
from bot.jobs.roundup import period_start
from bot.sandbox.fake_slack import Call, FakeSlack
from storage.models import Item
from tests.support import ADMINS, TRIAGE, BotUnderTest, FakeClock, block_action, modal_values, view_submission

ANA, SHY, CARL, LEAD = "U0ANA", "U0SHY", "U0CARL", ADMINS[0]


def item_by_text(bot: BotUnderTest, text: str) -> Item:
    with bot.runtime.deps.session_factory() as session:
        found = session.scalars(select(Item).where(Item.text == text)).one()
        session.expunge(found)
        return found


def act(bot: BotUnderTest, item_id: int, user: str, apply: Any) -> None:
    flows.change_item(bot.runtime.deps, item_id=item_id, user_id=user, key=None, apply=apply)
    bot.settle()


def actioned(bot: BotUnderTest, item_id: int, what: str) -> None:
    now = bot.runtime.deps.clock()
    act(
        bot,
        item_id,
        LEAD,
        lambda session, it, who: lifecycle.mark_actioned(
            session=session, item=it, actor=who, now=now, what_was_done=what, led_to_action=True
        ),
    )


def roundups(fake: FakeSlack) -> list[Call]:
    return [c for c in fake.calls_to("chat.postMessage") if "You said, we did" in c.all_text()]


def test_the_roundup_says_what_changed_who_raised_it_and_who_took_on_a_grey_area(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    bot.command("/cx-alarm", "Refund page shows a blank screen", user=ANA)
    bot.settle()
    anonymous = view_submission(
        callback_id="cx_file_alarm", values=modal_values("Invoice totals are wrong", anonymous=True), user=SHY
    )
    assert bot.interaction(anonymous).status == 200
    bot.command("/cx-alarm", "The lobby plant is wilting", user=CARL)
    bot.settle()
    refund, invoice, plant = (
        item_by_text(bot, text)
        for text in (
            "Refund page shows a blank screen",
            "Invoice totals are wrong",
            "The lobby plant is wilting",
        )
    )
    assert plant.grey_area and plant.channel == TRIAGE
    me_too = block_action(
        action_id=ItemAction.ME_TOO,
        value=str(refund.id),
        user=CARL,
        response_url=fake_slack.response_url("c"),
    )
    bot.interaction(me_too)
    bot.settle()
    now = bot.runtime.deps.clock()
    act(
        bot,
        plant.id,
        LEAD,
        lambda session, it, who: lifecycle.reassign(
            session=session,
            item=it,
            actor=who,
            now=now,
            to_area="billing",
            to_person=None,
            triage=bot.runtime.deps.triage,
        ),
    )
    actioned(bot, refund.id, "Fixed the page's cache")
    actioned(bot, invoice.id, "Corrected the VAT rounding")
    stay = block_action(
        action_id="stay_anonymous", value=str(invoice.id), user=SHY, response_url=fake_slack.response_url("s")
    )
    bot.interaction(stay)
    bot.settle()

    at = bot.runtime.deps.clock() + timedelta(hours=1)
    assert schedule.post_roundup(bot.runtime.deps, at=at)
    assert not schedule.post_roundup(bot.runtime.deps, at=at)  # once per period, whoever asks again
    bot.settle()
    [posted] = roundups(fake_slack)
    shown = posted.all_text()
    assert posted.args["channel"] == "C0KUDOS"
    assert "2 alarms led to a fix" in shown and "thanks to 3 people" in shown
    assert "<@U0ANA> and 1 other" in shown and "Fixed the page's cache" in shown
    assert "a colleague" in shown and "Corrected the VAT rounding" in shown and SHY not in shown
    assert f"<@{LEAD}> took on #{plant.id}" in shown and "for *billing*" in shown
    assert "1 grey area found an owner" in shown


def test_a_quiet_month_says_so_kindly(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    assert schedule.post_roundup(bot.runtime.deps, at=bot.runtime.deps.clock())
    bot.settle()
    [posted] = roundups(fake_slack)
    assert "nothing closed the loop this time" in posted.all_text()


def test_cx_leads_preview_the_roundup_privately(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    bot.command("/cx-alarm", "Refund page shows a blank screen", user=ANA)
    bot.settle()
    actioned(bot, item_by_text(bot, "Refund page shows a blank screen").id, "Fixed it")
    clock.advance(minutes=5)
    answer = bot.command("/cx-digest", "roundup", user=LEAD, response_url=fake_slack.response_url("preview"))
    assert answer.status == 200
    bot.settle()
    [preview] = [c for c in fake_slack.calls_to("response_url") if c.path.endswith("/preview")]
    assert preview.args["response_type"] == "ephemeral" and "You said, we did" in preview.all_text()
    assert "1 alarm led to a fix" in json.dumps(preview.args)
    assert roundups(fake_slack) == []  # a preview posts nothing


def test_the_period_is_the_month_before() -> None:
    assert period_start(datetime(2026, 3, 31, 10, tzinfo=UTC)) == datetime(2026, 2, 28, 10, tzinfo=UTC)
    assert period_start(datetime(2026, 1, 1, 10, tzinfo=UTC)) == datetime(2025, 12, 1, 10, tzinfo=UTC)
