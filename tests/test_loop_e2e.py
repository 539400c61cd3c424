"""The owner's loop end to end: buttons, thread replies, modals, DMs, card updates, kudos, votes,
App Home and anonymity, as the fake Slack server sees them."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from bot.sandbox import envelopes
from bot.sandbox.fake_slack import Call, FakeSlack
from storage.models import CreditState, Event, Item, ItemStatus
from tests.support import BotUnderTest, FakeClock, block_action, modal_values, view_submission

OWNER = "U0BILLING"
RAISER = "U0RAISER"
STRANGER = "U0STRANGER"
ADMIN = "U0ADMIN1"


def file(bot: BotUnderTest, fake: FakeSlack, text: str = "Refund never arrived", **form: Any) -> Item:
    if form:
        payload = view_submission(
            callback_id="cx_file_alarm",
            values=modal_values(text, **form),
            user=form.pop("user", RAISER) if "user" in form else RAISER,
            view_id=f"VFILE{len(fake.calls)}",
        )
        bot.interaction(payload)
    else:
        bot.command("/cx-alarm", text, response_url=fake.response_url("file"))
    bot.settle()
    with bot.runtime.deps.session_factory() as session:
        return session.scalars(select(Item).order_by(Item.id.desc())).first()  # type: ignore[return-value]


def reload(bot: BotUnderTest, item_id: int) -> Item:
    with bot.runtime.deps.session_factory() as session:
        item = session.get(Item, item_id)
        assert item is not None
        return item


def events(bot: BotUnderTest, item_id: int) -> list[tuple[str, str]]:
    with bot.runtime.deps.session_factory() as session:
        rows = session.scalars(select(Event).where(Event.item_id == item_id).order_by(Event.id))
        return [(event.kind, event.actor) for event in rows]


def click(bot: BotUnderTest, fake: FakeSlack, action_id: str, item_id: int, user: str, **extra: Any) -> None:
    payload = block_action(
        action_id=action_id,
        value=str(item_id),
        user=user,
        response_url=fake.response_url(f"{action_id}-{user}"),
        **extra,
    )
    assert bot.interaction(payload).status == 200
    bot.settle()


def submit(
    bot: BotUnderTest, callback: str, item_id: int, values: dict[str, Any], user: str, view_id: str
) -> Any:
    payload = view_submission(
        callback_id=callback, values=values, user=user, view_id=view_id, private_metadata=str(item_id)
    )
    answer = bot.interaction(payload)
    bot.settle()
    return answer.json() if answer.body else None


def dms_to(fake: FakeSlack, user: str) -> list[Call]:
    channel = "D" + user[1:]
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.fault is None and (c.response or {}).get("channel") == channel  # a DM by the person's ID
    ]


def card_updates(fake: FakeSlack) -> list[Call]:
    return fake.calls_to("chat.update")


def told(fake: FakeSlack, action_id: str, user: str) -> str:
    return json.dumps(
        [c.args for c in fake.calls_to("response_url") if c.path.endswith(f"{action_id}-{user}")]
    )


def actioned_values(what: str = "Refunded and fixed the billing job", led: str = "yes") -> dict[str, Any]:
    return {
        "what_was_done": {"what_was_done": {"type": "plain_text_input", "value": what}},
        "led_to_action": {"led_to_action": {"type": "radio_buttons", "selected_option": {"value": led}}},
    }


# Acknowledging ---------------------------------------------------------------------------------------------


def test_owner_acknowledges_with_the_button(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack)
    click(bot, fake_slack, "item_acknowledge", item.id, OWNER)
    assert reload(bot, item.id).status is ItemStatus.ACKNOWLEDGED
    [update] = card_updates(fake_slack)
    assert update.args["ts"] == item.card_ts and update.args["channel"] == "C0BILLING"
    assert "Acknowledged" in json.dumps(update.args["blocks"])
    [dm] = dms_to(fake_slack, RAISER)
    assert "acknowledged" in dm.all_text() and f"#{item.id}" in dm.all_text()
    assert f"archives/C0BILLING/p{item.card_ts.replace('.', '')}" in dm.all_text()  # a link to the card


def test_stranger_is_told_why_not_and_nothing_changes(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack)
    click(bot, fake_slack, "item_acknowledge", item.id, STRANGER)
    assert reload(bot, item.id).status is ItemStatus.NEW
    assert "Only" in told(fake_slack, "item_acknowledge", STRANGER)
    assert card_updates(fake_slack) == [] and events(bot, item.id) == [("filed", RAISER)]
    click(bot, fake_slack, "item_mark_actioned", item.id, STRANGER)
    assert fake_slack.calls_to("views.open") == []
    assert "Only" in told(fake_slack, "item_mark_actioned", STRANGER)


def test_double_clicked_acknowledge_acts_once(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack)
    payload = block_action(
        action_id="item_acknowledge", value=str(item.id), user=OWNER, response_url=fake_slack.response_url()
    )
    bot.interaction(payload)
    bot.interaction(payload)
    bot.settle()
    assert events(bot, item.id).count(("acknowledged", OWNER)) == 1
    assert len(dms_to(fake_slack, RAISER)) == 1


def test_group_member_and_admin_may_act(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    fake_slack.set_usergroup("S0ONBOARD", ["U0ONB1"])
    item = file(bot, fake_slack, "Signup email never came")
    assert item.owner == "S0ONBOARD"
    click(bot, fake_slack, "item_acknowledge", item.id, "U0ONB1")
    assert reload(bot, item.id).status is ItemStatus.ACKNOWLEDGED
    click(bot, fake_slack, "item_reopen", item.id, ADMIN)  # not closed: refused kindly
    assert "can't be reopened" in told(fake_slack, "item_reopen", ADMIN)


# Thread replies -------------------------------------------------------------------------------------------


def reply(bot: BotUnderTest, item: Item, user: str, text: str, event_id: str, **headers: str) -> None:
    event = envelopes.message_event(
        channel=item.channel or "", user=user, text=text, ts=f"{event_id}.1", thread_ts=item.card_ts
    )
    assert bot.event(event, event_id=event_id, **headers).status == 200
    bot.settle()


def test_a_reply_from_the_owner_acknowledges(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack)
    reply(bot, item, OWNER, "On it, checking with finance", "Ev1")
    assert reload(bot, item.id).status is ItemStatus.ACKNOWLEDGED
    assert ("acknowledged", OWNER) in events(bot, item.id)
    assert len(card_updates(fake_slack)) == 1 and len(dms_to(fake_slack, RAISER)) == 1


def test_a_reply_from_anyone_else_is_a_comment(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack)
    reply(bot, item, STRANGER, "Same happened to ACME", "Ev2")
    reply(
        bot,
        item,
        STRANGER,
        "Same happened to ACME",
        "Ev2",
        **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert reload(bot, item.id).status is ItemStatus.NEW
    assert events(bot, item.id) == [("filed", RAISER), ("comment", STRANGER)]
    assert card_updates(fake_slack) == []


def test_a_retried_reply_acknowledges_once(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack)
    reply(bot, item, OWNER, "Looking", "Ev3")
    reply(bot, item, OWNER, "Looking", "Ev3", **{"X-Slack-Retry-Num": "1"})
    assert events(bot, item.id).count(("acknowledged", OWNER)) == 1
    assert len(dms_to(fake_slack, RAISER)) == 1


def test_bot_messages_and_other_threads_are_ignored(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack)
    bot.event(
        {
            "type": "message",
            "channel": item.channel,
            "bot_id": "B0BOT",
            "text": "x",
            "ts": "9.1",
            "thread_ts": item.card_ts,
        }
    )
    bot.event(
        {
            "type": "message",
            "channel": item.channel,
            "user": OWNER,
            "text": "x",
            "ts": "9.2",
            "thread_ts": "123.456",
        },
        event_id="Ev9",
    )
    bot.settle()
    assert events(bot, item.id) == [("filed", RAISER)]


# Actioned, declined, kudos ---------------------------------------------------------------------------------


def test_mark_actioned_closes_the_loop_and_credits_in_public(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    item = file(bot, fake_slack)
    click(bot, fake_slack, "item_mark_actioned", item.id, OWNER)
    [opened] = fake_slack.calls_to("views.open")
    assert opened.args["view"]["callback_id"] == "cx_mark_actioned"
    assert opened.args["view"]["private_metadata"] == str(item.id)

    answer = submit(bot, "cx_mark_actioned", item.id, actioned_values(), OWNER, "VACT1")
    assert answer in (None, {})
    submit(bot, "cx_mark_actioned", item.id, actioned_values(), OWNER, "VACT1")  # double submit
    stored = reload(bot, item.id)
    assert stored.status is ItemStatus.ACTIONED and stored.led_to_action and stored.acted_by == OWNER
    assert events(bot, item.id).count(("actioned", OWNER)) == 1

    [dm] = dms_to(fake_slack, RAISER)
    assert "Refunded and fixed the billing job" in dm.all_text()
    [kudos] = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0KUDOS"]
    text = kudos.all_text()
    assert f"<@{RAISER}>" in text and f"<@{OWNER}>" in text and "Refund never arrived" in text
    assert "Refunded and fixed" in text and "https://cxbot-test.slack.com/archives/C0BILLING" in text
    assert "Actioned" in json.dumps(card_updates(fake_slack)[-1].args["blocks"])

    click(bot, fake_slack, "item_reopen", item.id, OWNER)
    assert reload(bot, item.id).status is ItemStatus.ACKNOWLEDGED
    submit(bot, "cx_mark_actioned", item.id, actioned_values("Again"), OWNER, "VACT2")
    assert reload(bot, item.id).status is ItemStatus.ACTIONED
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0KUDOS"]) == 1


def test_actioned_without_a_change_is_not_credited(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack)
    submit(bot, "cx_mark_actioned", item.id, actioned_values("Explained the policy", led="no"), OWNER, "VA")
    assert reload(bot, item.id).led_to_action is False
    assert [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0KUDOS"] == []


def test_empty_what_was_done_is_flagged_in_the_form(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack)
    answer = submit(bot, "cx_mark_actioned", item.id, actioned_values("   "), OWNER, "VA")
    assert answer["response_action"] == "errors" and "what_was_done" in answer["errors"]
    assert reload(bot, item.id).status is ItemStatus.NEW


def test_stranger_submitting_a_form_is_refused(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack)
    answer = submit(bot, "cx_mark_actioned", item.id, actioned_values(), STRANGER, "VA")
    assert answer["response_action"] == "errors" and "Only" in answer["errors"]["what_was_done"]
    assert reload(bot, item.id).status is ItemStatus.NEW


def test_decline_tells_the_raiser_why(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack)
    click(bot, fake_slack, "item_decline", item.id, OWNER)
    assert fake_slack.calls_to("views.open")[0].args["view"]["callback_id"] == "cx_decline"
    why = {"why": {"why": {"type": "plain_text_input", "value": "Refunds take 10 days by policy <!here>"}}}
    submit(bot, "cx_decline", item.id, why, OWNER, "VD")
    assert reload(bot, item.id).status is ItemStatus.DECLINED
    [dm] = dms_to(fake_slack, RAISER)
    assert "Refunds take 10 days by policy" in dm.all_text()
    assert "Thank you for raising it" in dm.all_text()
    assert "<!here>" not in dm.all_text()


# Reassigning, duplicates, withdrawing ---------------------------------------------------------------------------


def test_reassigning_a_grey_area_moves_it_out_of_triage(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack, "The lobby is freezing")
    assert item.grey_area and item.channel == "C0TRIAGE"
    click(bot, fake_slack, "item_reassign", item.id, ADMIN)
    view = fake_slack.calls_to("views.open")[0].args["view"]
    assert view["callback_id"] == "cx_reassign"
    values = {"new_area": {"new_area": {"type": "static_select", "selected_option": {"value": "billing"}}}}
    submit(bot, "cx_reassign", item.id, values, ADMIN, "VR")
    moved = reload(bot, item.id)
    assert (moved.area, moved.owner, moved.channel, moved.grey_area) == ("billing", OWNER, "C0BILLING", False)
    [new_card] = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0BILLING"]
    assert moved.card_ts == new_card.response["ts"]
    [retired] = card_updates(fake_slack)
    assert retired.args["channel"] == "C0TRIAGE" and "reassigned" in retired.all_text()
    assert len(dms_to(fake_slack, OWNER)) == 1
    with bot.runtime.deps.session_factory() as session:
        event = session.scalars(select(Event).where(Event.kind == "reassigned")).one()
    assert event.data["from_grey_area"] is True and event.actor == ADMIN


def test_reassigning_to_a_person_updates_the_card_and_tells_them(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    item = file(bot, fake_slack)
    values = {"new_person": {"new_person": {"type": "users_select", "selected_user": "U0NEWBIE"}}}
    submit(bot, "cx_reassign", item.id, values, OWNER, "VR")
    assert reload(bot, item.id).owner == "U0NEWBIE"
    assert "<@U0NEWBIE>" in json.dumps(card_updates(fake_slack)[0].args["blocks"])
    [notice] = dms_to(fake_slack, "U0NEWBIE")
    assert "handed you" in notice.all_text()
    click(bot, fake_slack, "item_acknowledge", item.id, OWNER)  # the old owner can no longer act
    assert "Only" in told(fake_slack, "item_acknowledge", OWNER)


def test_duplicate_raiser_shares_the_original_credit(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    original = file(bot, fake_slack, "Refund missing for ACME")
    bot.command("/cx-alarm", "ACME still has no refund", user="U0SECOND")
    bot.settle()
    duplicate = reload(bot, original.id + 1)
    more = {"action_id": "item_more", "value": "", "user": OWNER, "response_url": fake_slack.response_url()}
    payload = block_action(**more, selected_option={"value": f"duplicate:{duplicate.id}"})
    bot.interaction(payload)
    bot.settle()
    assert fake_slack.calls_to("views.open")[0].args["view"]["callback_id"] == "cx_duplicate"
    number = {"original": {"original": {"type": "plain_text_input", "value": f"#{original.id}"}}}
    submit(bot, "cx_duplicate", duplicate.id, number, OWNER, "VDUP")
    assert reload(bot, duplicate.id).status is ItemStatus.DUPLICATE
    assert reload(bot, duplicate.id).duplicate_of_id == original.id
    assert any(f"#{original.id}" in dm.all_text() for dm in dms_to(fake_slack, "U0SECOND"))
    submit(bot, "cx_mark_actioned", original.id, actioned_values(), OWNER, "VACT")
    [kudos] = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0KUDOS"]
    assert f"<@{RAISER}>" in kudos.all_text() and "<@U0SECOND>" in kudos.all_text()


def test_a_closed_item_opens_no_form_until_reopened(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack)
    submit(bot, "cx_mark_actioned", item.id, actioned_values(), OWNER, "VACT")
    click(bot, fake_slack, "item_decline", item.id, OWNER)
    more = block_action(
        action_id="item_more",
        value="",
        user=OWNER,
        response_url=fake_slack.response_url(f"item_more-{OWNER}"),
        selected_option={"value": f"duplicate:{item.id}"},
    )
    bot.interaction(more)
    bot.settle()
    assert fake_slack.calls_to("views.open") == []
    for action_id in ("item_decline", "item_more"):
        assert "reopen it first" in told(fake_slack, action_id, OWNER)


def test_raiser_may_withdraw_while_new_only(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack)
    payload = block_action(
        action_id="item_more",
        value="",
        user=STRANGER,
        selected_option={"value": f"withdraw:{item.id}"},
        response_url=fake_slack.response_url("w-stranger"),
    )
    bot.interaction(payload)
    bot.settle()
    assert reload(bot, item.id).status is ItemStatus.NEW
    payload = block_action(
        action_id="item_more",
        value="",
        user=RAISER,
        selected_option={"value": f"withdraw:{item.id}"},
        response_url=fake_slack.response_url("w-raiser"),
    )
    bot.interaction(payload)
    bot.settle()
    assert reload(bot, item.id).status is ItemStatus.WITHDRAWN


# Anonymity ---------------------------------------------------------------------------------------------------


def test_anonymous_raiser_is_asked_before_any_credit_and_never_leaks(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    item = file(bot, fake_slack, "Refund page lies about timing", anonymous=True, severity="high")
    assert item.anonymous
    click(bot, fake_slack, "item_acknowledge", item.id, OWNER)
    submit(bot, "cx_mark_actioned", item.id, actioned_values(), OWNER, "VACT")
    assert reload(bot, item.id).credit is CreditState.ASKED
    assert [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0KUDOS"] == []
    question = dms_to(fake_slack, RAISER)[-1]
    buttons = next(b for b in question.args["blocks"] if b["type"] == "actions")["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Credit me publicly", "Stay anonymous"]

    bot.event({"type": "app_home_opened", "user": OWNER, "tab": "home"}, event_id="EvHome")
    bot.settle()
    raiser_dm = "D" + RAISER[1:]
    for call in fake_slack.calls:
        is_dm_to_raiser = call.args.get("channel") in (raiser_dm, RAISER) or call.args.get("users") == RAISER
        if not is_dm_to_raiser:
            assert RAISER not in call.all_text(), f"{call.method} leaked the anonymous raiser"

    click(bot, fake_slack, "stay_anonymous", item.id, RAISER)
    assert reload(bot, item.id).credit is CreditState.DECLINED
    click(bot, fake_slack, "credit_me", item.id, RAISER)  # too late: the choice was made
    assert [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0KUDOS"] == []


def test_anonymous_raiser_who_says_yes_is_credited(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack, "Refund page lies about timing", anonymous=True)
    submit(bot, "cx_mark_actioned", item.id, actioned_values(), OWNER, "VACT")
    click(bot, fake_slack, "credit_me", item.id, STRANGER)
    assert "Only the person who raised" in told(fake_slack, "credit_me", STRANGER)
    click(bot, fake_slack, "credit_me", item.id, RAISER)
    [kudos] = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0KUDOS"]
    assert f"<@{RAISER}>" in kudos.all_text()
    assert reload(bot, item.id).credit is CreditState.POSTED


# Ideas -----------------------------------------------------------------------------------------------------------


def test_ideas_take_one_vote_per_person_and_a_second_click_takes_it_back(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    bot.command("/cx-idea", "Weekend live chat")
    bot.settle()
    item = reload(bot, 1)
    card = next(c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0TRIAGE")
    assert "Upvote · 0" in json.dumps(card.args["blocks"], ensure_ascii=False)
    click(bot, fake_slack, "item_upvote", item.id, "U0A")
    click(bot, fake_slack, "item_upvote", item.id, "U0A")  # a double click counts once
    click(bot, fake_slack, "item_upvote", item.id, "U0CEO")  # a title buys no extra weight
    assert "Upvote · 2" in json.dumps(card_updates(fake_slack)[-1].args["blocks"], ensure_ascii=False)
    clock.advance(seconds=5)
    click(bot, fake_slack, "item_upvote", item.id, "U0A")
    assert "Upvote · 1" in json.dumps(card_updates(fake_slack)[-1].args["blocks"], ensure_ascii=False)


def test_adopted_idea_is_credited_like_an_alarm(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    bot.command("/cx-idea", "Refund status page for customers")
    bot.settle()
    submit(bot, "cx_mark_actioned", 1, actioned_values("Shipped the status page"), OWNER, "VIDEA")
    [kudos] = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0KUDOS"]
    assert "suggested" in kudos.all_text() and "Shipped the status page" in kudos.all_text()


# App Home ---------------------------------------------------------------------------------------------------------


def home_of(bot: BotUnderTest, fake: FakeSlack, user: str) -> str:
    bot.event({"type": "app_home_opened", "user": user, "tab": "home"}, event_id=f"EvHome{len(fake.calls)}")
    bot.settle()
    published = [c for c in fake.calls_to("views.publish") if c.args["user_id"] == user]
    return json.dumps(published[-1].args["view"])


def test_app_home_shows_raised_waiting_and_the_board(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    first = file(bot, fake_slack, "Refund one")
    clock.advance(minutes=1)
    second = file(bot, fake_slack, "Invoice two")
    submit(bot, "cx_mark_actioned", first.id, actioned_values(), OWNER, "VA1")

    raiser_home = home_of(bot, fake_slack, RAISER)
    assert "What you raised" in raiser_home and "Refund one" in raiser_home and "Invoice two" in raiser_home
    assert f"<@{RAISER}>: 1 item" in raiser_home  # the recognition board

    owner_home = home_of(bot, fake_slack, OWNER)
    assert "Waiting on you" in owner_home
    assert f"#{second.id}" in owner_home and "item_acknowledge" in owner_home
    waiting = owner_home.split("Waiting on you", 1)[1]
    assert f"#{first.id}" not in waiting.split("Recognition board")[0]  # actioned: no longer waiting

    admin_home = home_of(bot, fake_slack, ADMIN)
    assert "Nothing is waiting on you" in admin_home


def test_acting_from_app_home_refreshes_it(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack)
    payload = block_action(action_id="item_acknowledge", value=str(item.id), user=OWNER, home=True)
    bot.interaction(payload)
    bot.settle()
    assert reload(bot, item.id).status is ItemStatus.ACKNOWLEDGED
    assert [c.args["user_id"] for c in fake_slack.calls_to("views.publish")] == [OWNER]
    payload = block_action(action_id="item_acknowledge", value=str(item.id), user=STRANGER, home=True)
    bot.interaction(payload)
    bot.settle()
    assert "Only" in fake_slack.calls_to("views.open")[-1].all_text()


def test_home_never_names_someone_elses_anonymous_raiser(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    item = file(bot, fake_slack, "Refund lies", anonymous=True)
    owner_home = home_of(bot, fake_slack, OWNER)
    assert "Refund lies" in owner_home and "Anonymous" not in owner_home.split("Recognition")[1]
    assert RAISER not in owner_home
    submit(bot, "cx_mark_actioned", item.id, actioned_values(), OWNER, "VA")  # led to action; no consent yet
    for user in (OWNER, ADMIN, STRANGER):
        assert RAISER not in home_of(bot, fake_slack, user)
