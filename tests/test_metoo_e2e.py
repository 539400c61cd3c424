""" "Me too" end to end over HTTP against the fake Slack: suggestions at filing, joining from the
confirmation and from the card, what co-raisers hear and the credit they share, and storms."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.blocks.ids import Callback, Field, ItemAction, MeTooAction
from bot.items import flows, lifecycle
from bot.jobs.digest import build_digest
from bot.sandbox import envelopes
from bot.sandbox.fake_slack import Call, FakeSlack
from storage.models import CoRaiser, Event, Item, ItemStatus, Severity
from tests.support import BotUnderTest, block_action, modal_values, view_submission

OWNER = "U0BILLING"


def file(bot: BotUnderTest, fake: FakeSlack, text: str, *, user: str, name: str) -> Item:
    assert bot.command("/cx-alarm", text, user=user, response_url=fake.response_url(name)).status == 200
    bot.settle()
    with bot.runtime.deps.session_factory() as session:
        item = session.scalars(select(Item).where(Item.text == text)).one()
        session.expunge(item)
        return item


def confirmation(fake: FakeSlack, name: str) -> Call:
    [told] = [c for c in fake.calls_to("response_url") if c.path.endswith(f"/{name}") and c.fault is None]
    return told


def join_buttons(call: Call) -> list[dict[str, Any]]:
    accessories = [block.get("accessory") or {} for block in call.args["blocks"]]
    return [a for a in accessories if a.get("action_id") == MeTooAction.JOIN_INSTEAD]


def click(bot: BotUnderTest, fake: FakeSlack, action_id: str, value: str, user: str, name: str) -> None:
    payload = block_action(action_id=action_id, value=value, user=user, response_url=fake.response_url(name))
    assert bot.interaction(payload).status == 200
    bot.settle()


def item(bot: BotUnderTest, item_id: int) -> Item:
    with bot.runtime.deps.session_factory() as session:
        found = session.get(Item, item_id)
        assert found is not None
        session.expunge(found)
        return found


def co_raisers(bot: BotUnderTest, item_id: int) -> list[tuple[str, str]]:
    with bot.runtime.deps.session_factory() as session:
        rows = session.scalars(
            select(CoRaiser).where(CoRaiser.item_id == item_id).order_by(CoRaiser.joined_at)
        )
        return [(row.user_id, row.via) for row in rows]


def dms_to(fake: FakeSlack, user: str) -> list[Call]:
    return [c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == user and c.fault is None]


def mark_actioned(bot: BotUnderTest, item_id: int, what_was_done: str) -> None:
    """The owner marks it actioned (the form's submission, without the form)."""
    now = bot.runtime.deps.clock()

    def apply(session: Any, it: Item, who: Any) -> Any:
        return lifecycle.mark_actioned(
            session=session, item=it, actor=who, now=now, what_was_done=what_was_done, led_to_action=True
        )

    flows.change_item(bot.runtime.deps, item_id=item_id, user_id=OWNER, key=None, apply=apply)
    bot.settle()


def last_card(fake: FakeSlack, card_ts: str | None) -> str:
    updates = [c for c in fake.calls_to("chat.update") if c.args["ts"] == card_ts]
    return json.dumps(updates[-1].args["blocks"])


def test_a_similar_open_alarm_is_suggested_and_joining_folds_the_new_one_into_it(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    first = file(bot, fake_slack, "Refund not received after 10 days", user="U0ANA", name="ana")
    assert join_buttons(confirmation(fake_slack, "ana")) == []  # nothing like it yet
    second = file(bot, fake_slack, "customer says refund still not received", user="U0BEN", name="ben")
    told = confirmation(fake_slack, "ben")
    [button] = join_buttons(told)
    assert (
        button["value"] == f"{second.id}:{first.id}" and button["text"]["text"] == f"Me too: join #{first.id}"
    )
    assert "raised by 1 person" in told.all_text() and "billing" in told.all_text()

    click(bot, fake_slack, MeTooAction.JOIN_INSTEAD, button["value"], "U0BEN", "ben-joins")
    assert item(bot, second.id).status is ItemStatus.DUPLICATE
    assert item(bot, second.id).duplicate_of_id == first.id
    assert co_raisers(bot, first.id) == [("U0BEN", "filing")]
    [reply] = [c for c in fake_slack.calls_to("response_url") if c.path.endswith("/ben-joins")]
    assert f"You're on #{first.id} now" in reply.all_text()
    assert "Raised by*\\n<@U0ANA> and 1 other" in last_card(fake_slack, item(bot, first.id).card_ts)

    # Both hear what its owner does.
    click(bot, fake_slack, ItemAction.ACKNOWLEDGE, str(first.id), OWNER, "ack")
    [to_ana] = [c for c in dms_to(fake_slack, "U0ANA") if "acknowledged" in c.all_text()]
    [to_ben] = [c for c in dms_to(fake_slack, "U0BEN") if "acknowledged" in c.all_text()]
    assert "your alarm" in to_ana.all_text() and "you raised too" in to_ben.all_text()


def test_ignoring_the_suggestion_leaves_both_items_as_they_are(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    first = file(bot, fake_slack, "Refund not received after 10 days", user="U0ANA", name="ana")
    second = file(bot, fake_slack, "refund not recieved after ten days", user="U0BEN", name="ben")
    assert join_buttons(confirmation(fake_slack, "ben"))
    assert item(bot, first.id).status is ItemStatus.NEW and item(bot, second.id).status is ItemStatus.NEW
    assert co_raisers(bot, first.id) == []


def test_anyone_but_its_raiser_says_me_too_on_the_card_and_shares_the_credit(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    first = file(bot, fake_slack, "Customers charged twice at checkout", user="U0ANA", name="ana")
    click(bot, fake_slack, ItemAction.ME_TOO, str(first.id), "U0CARL", "carl")
    click(bot, fake_slack, ItemAction.ME_TOO, str(first.id), "U0CARL", "carl-again")
    click(bot, fake_slack, ItemAction.ME_TOO, str(first.id), "U0ANA", "ana-too")
    assert co_raisers(bot, first.id) == [("U0CARL", "card")]
    said = {c.path.rsplit("/", 1)[1]: c.all_text() for c in fake_slack.calls_to("response_url")}
    assert (
        "You're on" in said["carl"] and "already on" in said["carl-again"] and "yourself" in said["ana-too"]
    )

    mark_actioned(bot, first.id, "Fixed the gateway")
    [kudos] = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0KUDOS"]
    assert "<@U0ANA> and <@U0CARL>" in kudos.all_text()
    assert [c for c in dms_to(fake_slack, "U0CARL") if "acted on" in c.all_text()]


def test_a_storm_raises_the_severity_once_and_tells_the_owner_once(
    start_bot: Any, fake_slack: FakeSlack
) -> None:
    bot: BotUnderTest = start_bot(storm_joiners=3)
    first = file(bot, fake_slack, "Refund page is down for everyone", user="U0ANA", name="ana")
    assert item(bot, first.id).severity is None
    for n in range(5):
        click(bot, fake_slack, ItemAction.ME_TOO, str(first.id), f"U0JOIN{n}", f"join{n}")
    assert item(bot, first.id).severity is Severity.HIGH  # from unset, up one level, once
    with bot.runtime.deps.session_factory() as session:
        storms = session.scalars(select(Event).where(Event.kind == "storm")).all()
    assert [s.data["joined"] for s in storms] == [3]
    notices = [c for c in dms_to(fake_slack, OWNER) if "said “me too”" in c.all_text()]
    assert len(notices) == 1 and "Its severity is now *:large_orange_circle: High*" in notices[0].all_text()


def test_the_digest_counts_each_person_who_spoke_up_once(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    first = file(bot, fake_slack, "Refund page is down", user="U0ANA", name="ana")
    file(bot, fake_slack, "Invoice totals are wrong", user="U0ANA", name="ana2")
    file(bot, fake_slack, "Checkout shows a blank page", user="U0BEN", name="ben")
    click(bot, fake_slack, ItemAction.ME_TOO, str(first.id), "U0CARL", "carl")
    click(bot, fake_slack, ItemAction.ME_TOO, str(first.id), "U0BEN", "ben-too")
    with bot.runtime.deps.session_factory() as session:
        digest = build_digest(session, end=bot.runtime.deps.clock() + timedelta(hours=1))
    assert digest.this_week.people == 3  # Ana, Ben and Carl: Ana's two items and Ben's join count once


def test_app_homes_search_finds_open_items_and_joins_one_in_place(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    first = file(bot, fake_slack, "Refund not received after 10 days", user="U0ANA", name="ana")
    file(bot, fake_slack, "Live chat widget is down", user="U0ANA", name="ana2")

    assert (
        bot.interaction(block_action(action_id=MeTooAction.FIND, value="", user="U0DAN", home=True)).status
        == 200
    )
    bot.settle()
    [opened] = fake_slack.calls_to("views.open")
    assert opened.args["view"]["callback_id"] == Callback.FIND

    searched = view_submission(
        callback_id=Callback.FIND,
        values={
            Field.LOOKING_FOR: {
                Field.LOOKING_FOR: {"type": "plain_text_input", "value": "refund not received"}
            }
        },
        user="U0DAN",
    )
    answer = bot.interaction(searched).json()
    assert answer["response_action"] == "update"
    shown = answer["view"]
    buttons = [
        b["accessory"]
        for b in shown["blocks"]
        if (b.get("accessory") or {}).get("action_id") == "metoo_join_found"
    ]
    assert [b["value"] for b in buttons] == [str(first.id)]  # the chat widget doesn't match
    assert shown["private_metadata"] == "refund not received"

    modal = envelopes.view(
        view_id="VSEARCH", callback_id=Callback.FIND, private_metadata=shown["private_metadata"]
    )
    click_in_modal = block_action(
        action_id=MeTooAction.JOIN_FOUND, value=str(first.id), user="U0DAN", modal=modal
    )
    assert bot.interaction(click_in_modal).status == 200
    bot.settle()
    assert co_raisers(bot, first.id) == [("U0DAN", "home")]
    [updated] = fake_slack.calls_to("views.update")
    assert updated.args["view_id"] == "VSEARCH" and "You're on it" in updated.all_text()


def test_an_empty_search_is_answered_in_the_form(bot: BotUnderTest) -> None:
    blank = view_submission(
        callback_id=Callback.FIND,
        values={Field.LOOKING_FOR: {Field.LOOKING_FOR: {"type": "plain_text_input", "value": "   "}}},
    )
    answer = bot.interaction(blank).json()
    assert answer["response_action"] == "errors" and Field.LOOKING_FOR in answer["errors"]


def test_an_anonymous_co_raiser_is_thanked_by_name_only_if_they_say_yes(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    first = file(bot, fake_slack, "Refund page shows a blank screen", user="U0ANA", name="ana")
    for person, view_id in (("U0SHY", "VSHY"), ("U0BOLD", "VBOLD")):
        filing = view_submission(
            callback_id=Callback.FILE_ALARM,
            values=modal_values("refund page shows blank screen again", anonymous=True),
            user=person,
            view_id=view_id,
        )
        assert bot.interaction(filing).status == 200
        bot.settle()
        with bot.runtime.deps.session_factory() as session:
            mine = session.scalars(select(Item).where(Item.raiser_id == person)).one()
        click(bot, fake_slack, MeTooAction.JOIN_INSTEAD, f"{mine.id}:{first.id}", person, f"join-{person}")
    mark_actioned(bot, first.id, "Fixed the page")
    [kudos] = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0KUDOS"]
    assert "<@U0ANA>" in kudos.all_text()
    assert "U0SHY" not in kudos.all_text() and "U0BOLD" not in kudos.all_text()
    for person in ("U0SHY", "U0BOLD"):
        [asked] = [c for c in dms_to(fake_slack, person) if "May we thank you by name" in c.all_text()]
        assert "you raised too, anonymously" in asked.all_text()

    click(bot, fake_slack, "stay_anonymous", str(first.id), "U0SHY", "shy")
    click(bot, fake_slack, "credit_me", str(first.id), "U0BOLD", "bold")
    thanks = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0KUDOS"][1:]
    assert len(thanks) == 1 and "Thank you too, <@U0BOLD>" in thanks[0].all_text()
    assert all(
        "U0SHY" not in c.all_text()
        for c in fake_slack.calls_to("chat.postMessage")
        if c.args["channel"] != "U0SHY"
    )
