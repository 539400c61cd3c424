""" "Did this fix it?" end to end over HTTP against the fake Slack: when raisers and co-raisers are
asked (working days, their working hours, once), Fixed and Still happening (with its form), who may
answer, the items that are never asked, unconfirmed after 7 days, anonymity, and the digest."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.blocks.ids import Callback, Field, ItemAction, VerifyAction
from bot.items import flows, lifecycle
from bot.jobs import schedule
from bot.jobs.digest import build_digest
from bot.sandbox.fake_slack import Call, FakeSlack
from storage.models import Event, Item, ItemStatus, VerifyAnswer, VerifyAsk
from tests.support import ROUTES_TOML, BotUnderTest, block_action, modal_values, view_submission

OWNER, ANA, BEN, STRANGER = "U0BILLING", "U0ANA", "U0BEN", "U0STRANGER"
MONDAY = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)  # the fake clock's start
THURSDAY = MONDAY + timedelta(days=3)  # 3 working days after Monday


def people(fake: FakeSlack) -> None:
    fake.set_user(ANA, tz="Europe/London")
    fake.set_user(BEN, tz="America/Los_Angeles")  # 8 hours behind London
    fake.set_user(OWNER, tz="Europe/London")
    fake.set_user(STRANGER, tz="Europe/London")


def file(bot: BotUnderTest, fake: FakeSlack, text: str, *, user: str = ANA, anonymous: bool = False) -> int:
    if anonymous:
        form = view_submission(
            callback_id=Callback.FILE_ALARM,
            values=modal_values(text, anonymous=True),
            user=user,
            view_id="VANON",
        )
        assert bot.interaction(form).status == 200
    else:
        assert (
            bot.command("/cx-alarm", text, user=user, response_url=fake.response_url("filed")).status == 200
        )
    bot.settle()
    with bot.runtime.deps.session_factory() as session:
        return session.scalars(select(Item.id).where(Item.text == text)).one()


def act(bot: BotUnderTest, item_id: int, change: Callable[..., Any], **kwargs: Any) -> None:
    """The owner changes the item through the core (what the card's forms submit)."""
    now = bot.runtime.deps.clock()
    flows.change_item(
        bot.runtime.deps,
        item_id=item_id,
        user_id=OWNER,
        key=None,
        apply=lambda session, it, who: change(session=session, item=it, actor=who, now=now, **kwargs),
    )
    bot.settle()


def actioned(bot: BotUnderTest, item_id: int) -> None:
    act(bot, item_id, lifecycle.mark_actioned, what_was_done="Fixed the refund job", led_to_action=True)


def sweep_at(bot: BotUnderTest, moment: datetime) -> None:
    bot.runtime.deps.clock.now = moment  # type: ignore[attr-defined]
    schedule.sweep(bot.runtime.deps)
    bot.settle()


def questions(fake: FakeSlack, user: str) -> list[Call]:
    return [
        c
        for c in fake.calls_to("chat.postMessage")
        if c.args["channel"] == user and c.fault is None and "Did it fix things" in c.all_text()
    ]


def click(bot: BotUnderTest, fake: FakeSlack, action: str, item_id: int, user: str, name: str) -> str:
    payload = block_action(
        action_id=action, value=str(item_id), user=user, response_url=fake.response_url(name), channel="D0DM"
    )
    assert bot.interaction(payload).status == 200
    bot.settle()
    said = [c.all_text() for c in fake.calls_to("response_url") if c.path.endswith(f"/{name}")]
    return said[-1] if said else ""


def still_happening(bot: BotUnderTest, item_id: int, user: str, note: str, view_id: str) -> dict[str, Any]:
    values = {Field.STILL_SEEING: {Field.STILL_SEEING: {"type": "plain_text_input", "value": note}}}
    form = view_submission(
        callback_id=Callback.STILL_HAPPENING,
        values=values,
        user=user,
        view_id=view_id,
        private_metadata=str(item_id),
    )
    answer = bot.interaction(form)
    bot.settle()
    assert answer.status == 200
    return answer.json() or {}


def item(bot: BotUnderTest, item_id: int) -> Item:
    with bot.runtime.deps.session_factory() as session:
        found = session.get(Item, item_id)
        assert found is not None
        return found


def events(bot: BotUnderTest, item_id: int, kind: str) -> list[Event]:
    with bot.runtime.deps.session_factory() as session:
        return list(session.scalars(select(Event).where(Event.item_id == item_id, Event.kind == kind)))


def card(fake: FakeSlack, bot: BotUnderTest, item_id: int) -> str:
    ts = item(bot, item_id).card_ts
    return json.dumps([c.args["blocks"] for c in fake.calls_to("chat.update") if c.args["ts"] == ts][-1])


def actioned_with_a_co_raiser(bot: BotUnderTest, fake: FakeSlack) -> int:
    """Ana's alarm, which Ben says "me too" to, marked actioned on Monday 10:00."""
    people(fake)
    refund = file(bot, fake, "Refund never arrived")
    click(bot, fake, ItemAction.ME_TOO, refund, BEN, "ben-too")
    actioned(bot, refund)
    return refund


def test_raiser_and_co_raiser_are_each_asked_once_after_3_working_days_in_their_working_hours(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    refund = actioned_with_a_co_raiser(bot, fake_slack)

    sweep_at(bot, MONDAY + timedelta(days=2, hours=23))  # Wednesday night: not yet due
    assert questions(fake_slack, ANA) == [] and questions(fake_slack, BEN) == []
    sweep_at(bot, THURSDAY)  # 10:00 in London, 02:00 in Los Angeles
    [asked] = questions(fake_slack, ANA)
    assert questions(fake_slack, BEN) == []
    text = asked.all_text()
    assert f"your alarm *#{refund}*" in text and "Fixed the refund job" in text and "<@U0BILLING>" in text
    buttons = [e for b in asked.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (VerifyAction.FIXED, str(refund)),
        (VerifyAction.STILL_HAPPENING, str(refund)),
    ]
    assert asked.args["text"].startswith(f"Did this fix it? #{refund}")

    sweep_at(bot, THURSDAY + timedelta(hours=8))  # 10:00 in Los Angeles, 18:00 in London
    [asked_ben] = questions(fake_slack, BEN)
    assert f"the alarm you raised too *#{refund}*" in asked_ben.all_text()
    for later in (1, 2, 6):  # nobody is asked twice
        sweep_at(bot, THURSDAY + timedelta(days=later))
    assert len(questions(fake_slack, ANA)) == 1 and len(questions(fake_slack, BEN)) == 1
    assert {e.data["user"] for e in events(bot, refund, "verify_asked")} == {ANA, BEN}


def test_working_days_skip_the_weekend(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    people(fake_slack)
    bot.runtime.deps.clock.now = MONDAY + timedelta(days=2)  # type: ignore[attr-defined]
    refund = file(bot, fake_slack, "Refund never arrived")
    actioned(bot, refund)  # Wednesday 10:00: Thursday, Friday, Monday
    sweep_at(bot, MONDAY + timedelta(days=5))  # Saturday 10:00
    sweep_at(bot, MONDAY + timedelta(days=6, hours=12))  # Sunday 12:00
    assert questions(fake_slack, ANA) == []
    sweep_at(bot, MONDAY + timedelta(days=7, hours=-1))  # Monday 09:00: not quite three days
    assert questions(fake_slack, ANA) == []
    sweep_at(bot, MONDAY + timedelta(days=7))
    assert len(questions(fake_slack, ANA)) == 1


def test_fixed_marks_it_verified_once_and_only_the_person_asked_may_answer(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    people(fake_slack)
    refund = file(bot, fake_slack, "Refund never arrived")
    actioned(bot, refund)
    sweep_at(bot, THURSDAY)

    refused = click(bot, fake_slack, VerifyAction.FIXED, refund, STRANGER, "stranger")
    assert "Only the people who raised" in refused and events(bot, refund, "verified") == []
    refused = click(bot, fake_slack, VerifyAction.STILL_HAPPENING, refund, OWNER, "owner")
    assert "Only the people who raised" in refused and fake_slack.calls_to("views.open") == []

    said = click(bot, fake_slack, VerifyAction.FIXED, refund, ANA, "ana")
    assert "confirmed fixed for customers" in said
    # The DM's buttons give way to the answer.
    [settled] = [c for c in fake_slack.calls_to("response_url") if c.path.endswith("/ana")]
    assert settled.args["replace_original"] is True
    assert [b["type"] for b in settled.args["blocks"]][-1] == "context"
    assert "actions" not in [b["type"] for b in settled.args["blocks"]]
    [verified] = events(bot, refund, "verified")
    assert verified.actor == ANA and item(bot, refund).status is ItemStatus.ACTIONED
    assert "Confirmed fixed for customers by the person who raised it" in card(fake_slack, bot, refund)

    again = click(bot, fake_slack, VerifyAction.FIXED, refund, ANA, "ana-again")
    assert "You already told me that it's fixed for customers" in again
    instead = click(bot, fake_slack, VerifyAction.STILL_HAPPENING, refund, ANA, "ana-changes-mind")
    assert "already told me" in instead and fake_slack.calls_to("views.open") == []
    assert len(events(bot, refund, "verified")) == 1


def test_still_happening_asks_what_they_see_then_reopens_it_tells_the_owner_and_updates_the_card(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    refund = actioned_with_a_co_raiser(bot, fake_slack)
    sweep_at(bot, THURSDAY + timedelta(hours=7))  # 17:00 in London, 09:00 in Los Angeles

    assert click(bot, fake_slack, VerifyAction.STILL_HAPPENING, refund, ANA, "ana") == ""
    [opened] = fake_slack.calls_to("views.open")
    assert opened.args["trigger_id"] and opened.args["view"]["callback_id"] == Callback.STILL_HAPPENING
    assert opened.args["view"]["private_metadata"] == str(refund)

    answer = still_happening(bot, refund, ANA, "Charged twice again <!channel>", "VSTILL1")
    assert answer["response_action"] == "update" and "I reopened" in json.dumps(answer["view"])
    assert item(bot, refund).status is ItemStatus.ACKNOWLEDGED
    [reopened] = events(bot, refund, "reopened")
    assert reopened.actor == ANA
    assert reopened.data == {"was": "actioned", "by_raiser": True, "note": "Charged twice again <!channel>"}
    [told] = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == OWNER]
    assert "<@U0ANA> says" in told.all_text() and "so I reopened it" in told.all_text()
    assert "Charged twice again &lt;!channel&gt;" in told.all_text()
    shown = card(fake_slack, bot, refund)
    assert "Reopened by someone who raised it" in shown and "Charged twice again" in shown
    assert "item_mark_actioned" in shown  # the owner's buttons are back

    # Ben says so too, without a note: it is open already, so it isn't reopened twice.
    answer = still_happening(bot, refund, BEN, "", "VSTILL2")
    assert "already open again" in json.dumps(answer["view"])
    assert len(events(bot, refund, "reopened")) == 1
    [noted] = events(bot, refund, "verify_answered")
    assert noted.data == {"answer": "still_happening", "note": None}
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == OWNER]) == 2
    # The same form sent twice acts once.
    still_happening(bot, refund, BEN, "", "VSTILL2")
    assert len(events(bot, refund, "verify_answered")) == 1


def test_a_click_after_the_item_moved_on_is_answered_kindly(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    people(fake_slack)
    refund = file(bot, fake_slack, "Refund never arrived")
    actioned(bot, refund)
    sweep_at(bot, THURSDAY)
    act(bot, refund, lifecycle.reopen)
    said = click(bot, fake_slack, VerifyAction.FIXED, refund, ANA, "ana")
    assert "was reopened since" in said and events(bot, refund, "verified") == []
    assert [e.data for e in events(bot, refund, "verify_answered")] == [{"answer": "fixed"}]


def test_declined_items_reopened_ones_and_verify_after_0_routes_are_not_asked(
    start_bot: Callable[..., BotUnderTest], fake_slack: FakeSlack, tmp_path: Path
) -> None:
    people(fake_slack)
    routes = tmp_path / "routes.toml"
    routes.write_text(ROUTES_TOML.replace('area = "onboarding"', 'area = "onboarding"\nverify_after = 0'))
    fake_slack.set_usergroup("S0ONBOARD", [OWNER])
    bot = start_bot(routes_file=routes)
    declined = file(bot, fake_slack, "Refund policy is too strict")
    act(bot, declined, lifecycle.decline, why="It's the law")
    reopened = file(bot, fake_slack, "Refund button is grey")
    actioned(bot, reopened)
    act(bot, reopened, lifecycle.reopen)  # before the question is due
    off = file(bot, fake_slack, "The signup page hangs")
    assert item(bot, off).area == "onboarding"
    actioned(bot, off)
    for day in range(3, 12):
        sweep_at(bot, MONDAY + timedelta(days=day))
    assert questions(fake_slack, ANA) == []
    with bot.runtime.deps.session_factory() as session:
        assert [a.item_id for a in session.scalars(select(VerifyAsk))] == [reopened]  # waits, unasked

    actioned(bot, reopened)  # actioned again: asked 3 working days from now
    sweep_at(bot, MONDAY + timedelta(days=15))  # Tuesday, 2 working days later
    assert questions(fake_slack, ANA) == []
    sweep_at(bot, MONDAY + timedelta(days=16))
    assert len(questions(fake_slack, ANA)) == 1


def test_no_answer_in_7_days_is_unconfirmed_and_nobody_is_asked_twice(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    people(fake_slack)
    refund = file(bot, fake_slack, "Refund never arrived")
    actioned(bot, refund)
    sweep_at(bot, THURSDAY)
    sweep_at(bot, THURSDAY + timedelta(days=6, hours=23))
    assert events(bot, refund, "unconfirmed") == []
    sweep_at(bot, THURSDAY + timedelta(days=7))
    [unconfirmed] = events(bot, refund, "unconfirmed")
    assert unconfirmed.actor == "cxbot" and item(bot, refund).status is ItemStatus.ACTIONED
    with bot.runtime.deps.session_factory() as session:
        [ask] = session.scalars(select(VerifyAsk))
    assert ask.answer is VerifyAnswer.UNCONFIRMED
    for later in (8, 9, 14):
        sweep_at(bot, THURSDAY + timedelta(days=later))
    assert len(questions(fake_slack, ANA)) == 1 and len(events(bot, refund, "unconfirmed")) == 1


def test_an_anonymous_raiser_is_asked_privately_and_never_named(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    people(fake_slack)
    refund = file(bot, fake_slack, "Refund never arrived", anonymous=True)
    actioned(bot, refund)
    sweep_at(bot, THURSDAY)
    [asked] = questions(fake_slack, ANA)
    assert "You raised this anonymously; only you see this question" in asked.all_text()
    click(bot, fake_slack, VerifyAction.STILL_HAPPENING, refund, ANA, "ana")
    still_happening(bot, refund, ANA, "Still charged twice", "VANON2")
    [told] = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == OWNER]
    assert "Someone who raised it anonymously" in told.all_text()
    elsewhere = [c for c in fake_slack.calls if c.args.get("channel") != ANA and c.method != "users.info"]
    assert all(ANA not in json.dumps(c.args) for c in elsewhere if c.method != "users.list")


def test_the_digest_counts_confirmed_fixed_reopened_by_the_raiser_and_unconfirmed(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    people(fake_slack)
    fixed, still, quiet = (file(bot, fake_slack, f"Refund problem {n}") for n in (1, 2, 3))
    for item_id in (fixed, still, quiet):
        actioned(bot, item_id)
    sweep_at(bot, THURSDAY)
    sweep_at(bot, THURSDAY + timedelta(days=1))  # they answer on Friday
    click(bot, fake_slack, VerifyAction.FIXED, fixed, ANA, "fixed")
    still_happening(bot, still, ANA, "", "VDIGEST")
    sweep_at(bot, THURSDAY + timedelta(days=7))
    with bot.runtime.deps.session_factory() as session:
        said = build_digest(session, end=THURSDAY + timedelta(days=7, hours=1)).verification
    assert (said.fixed, said.reopened, said.unconfirmed, said.fixed_share) == (1, 1, 1, 1 / 3)
    assert schedule.post_digest(bot.runtime.deps, at=THURSDAY + timedelta(days=7, hours=1))
    bot.settle()
    [posted] = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0DIGEST"]
    assert (
        "Raisers had their say on 3 actioned items this week: *33% confirmed fixed* (1) · 1 reopened by "
        "the raiser as still happening · 1 unconfirmed" in posted.all_text()
    )
