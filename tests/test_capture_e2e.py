"""End to end: signed requests to the real app over HTTP; the fake Slack server sees the results."""

from __future__ import annotations

import json
import threading
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.sandbox import envelopes
from bot.sandbox.fake_slack import Call, FakeSlack
from storage.models import Event, Item, ItemKind, ItemStatus, JourneyStage, OutboxMessage, Severity
from tests.support import ADMINS, TRIAGE, BotUnderTest, modal_values, view_submission


def items(bot: BotUnderTest) -> list[Item]:
    with bot.runtime.deps.session_factory() as session:
        return list(session.scalars(select(Item).order_by(Item.id)))


def card_calls(fake: FakeSlack, channel: str) -> list[Call]:
    return [call for call in fake.calls_to("chat.postMessage") if call.args.get("channel") == channel]


def block_text(call: Call) -> str:
    return json.dumps(call.args.get("blocks"))


def confirmations(fake: FakeSlack) -> list[Call]:
    return fake.calls_to("response_url")


# /cx-alarm with text ---------------------------------------------------------------------------


def test_alarm_with_text_is_filed_routed_posted_and_confirmed(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    answer = bot.command(
        "/cx-alarm", "Customer was charged twice for March", response_url=fake_slack.response_url("c1")
    )
    assert answer.status == 200
    bot.settle()

    [item] = items(bot)
    assert (item.kind, item.area, item.owner, item.channel) == (
        ItemKind.ALARM,
        "billing",
        "U0BILLING",
        "C0BILLING",
    )
    assert item.raiser_id == "U0RAISER" and not item.grey_area and item.routed_by == "keywords"
    assert item.status is ItemStatus.NEW

    [card] = card_calls(fake_slack, "C0BILLING")
    shown = block_text(card)
    for expected in (
        f"CX alarm #{item.id}",
        "billing",
        "<@U0BILLING>",
        "<@U0RAISER>",
        "New",
        "charged twice for March",
    ):
        assert expected in shown
    actions = next(b for b in card.args["blocks"] if b["type"] == "actions")
    assert [e["text"]["text"] for e in actions["elements"] if e["type"] == "button"] == [
        "Acknowledge",
        "Mark actioned",
        "Decline",
        "Reassign",
        ":raised_hand: Me too",
    ]
    assert item.card_ts == fake_slack.calls_to("chat.postMessage")[0].response["ts"]

    [confirmation] = confirmations(fake_slack)
    assert confirmation.args["response_type"] == "ephemeral"
    confirmed = json.dumps(confirmation.args)
    assert f"#{item.id}" in confirmed
    # The card's link, made from the workspace's address as Slack makes it: no chat.getPermalink.
    assert f"https://cxbot-test.slack.com/archives/C0BILLING/p{item.card_ts.replace('.', '')}" in confirmed
    assert fake_slack.calls_to("chat.getPermalink") == []


def test_every_state_change_is_an_event(bot: BotUnderTest) -> None:
    bot.command("/cx-alarm", "refund never arrived")
    bot.settle()
    with bot.runtime.deps.session_factory() as session:
        [event] = session.scalars(select(Event)).all()
    assert (event.kind, event.actor) == ("filed", "U0RAISER")
    assert event.data["routed_by"] == "keywords" and event.data["matched_keywords"] == ["refund"]
    assert event.at is not None


def test_no_route_fits_so_it_is_a_grey_area_in_triage(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    bot.command("/cx-alarm", "The lobby music is far too loud", response_url=fake_slack.response_url("c1"))
    bot.settle()
    [item] = items(bot)
    assert item.grey_area and item.area is None
    assert (item.channel, item.owner) == (TRIAGE, ",".join(ADMINS))
    [card] = card_calls(fake_slack, TRIAGE)
    assert "Grey area" in block_text(card)
    assert all(f"<@{admin}>" in block_text(card) for admin in ADMINS)
    assert "CX leads" in json.dumps(confirmations(fake_slack)[0].args)


def test_idea_with_text(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    bot.command("/cx-idea", "Send a welcome email in Spanish too")
    bot.settle()
    [item] = items(bot)
    assert item.kind is ItemKind.IDEA and item.area == "onboarding" and item.owner == "S0ONBOARD"
    [card] = card_calls(fake_slack, "C0ONBOARD")
    assert "CX idea" in block_text(card) and "<!subteam^S0ONBOARD>" in block_text(card)


def test_help_and_unknown_subcommands_get_usage_and_file_nothing(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    for text, extra in (("help", None), ("--list", "--list")):
        answer = bot.command("/cx-alarm", text)
        assert answer.status == 200
        body = answer.json()
        assert body["response_type"] == "ephemeral"
        assert "/cx-alarm" in json.dumps(body["blocks"])
        if extra:
            assert f"I don't know the option `{extra}`" in json.dumps(body["blocks"])
    bot.settle()
    assert items(bot) == []
    assert fake_slack.calls_to("chat.postMessage") == []


def test_too_long_text_gets_a_kind_ephemeral_answer(bot: BotUnderTest) -> None:
    answer = bot.command("/cx-alarm", "x" * 100_001)
    assert answer.status == 200
    assert answer.json()["response_type"] == "ephemeral"
    assert "shorten" in answer.json()["text"]
    bot.settle()
    assert items(bot) == []


# The modal ---------------------------------------------------------------------------------------


def test_alarm_without_text_opens_the_form(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    answer = bot.command("/cx-alarm", "   ", trigger_id="trig-1")
    assert answer.status == 200 and answer.body == b""
    bot.settle()
    [opened] = fake_slack.calls_to("views.open")
    assert opened.args["trigger_id"] == "trig-1"
    view = opened.args["view"]
    assert view["callback_id"] == "cx_file_alarm"
    block_ids = [block["block_id"] for block in view["blocks"]]
    assert block_ids == ["what_happened", "customers", "journey_stage", "severity", "area", "anonymous"]
    area = next(b for b in view["blocks"] if b["block_id"] == "area")
    assert [o["value"] for o in area["element"]["options"]] == ["billing", "onboarding", "not sure"]
    stages = next(b for b in view["blocks"] if b["block_id"] == "journey_stage")
    assert len(stages["element"]["options"]) == 7
    severity = next(b for b in view["blocks"] if b["block_id"] == "severity")
    assert [o["value"] for o in severity["element"]["options"]] == ["low", "medium", "high", "critical"]
    assert items(bot) == []


def test_idea_form_has_no_severity(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    bot.command("/cx-idea", "")
    bot.settle()
    view = fake_slack.calls_to("views.open")[0].args["view"]
    assert view["callback_id"] == "cx_file_idea"
    assert "severity" not in [block["block_id"] for block in view["blocks"]]


def _submit_form(bot: BotUnderTest, fake: FakeSlack, **values: Any) -> None:
    bot.command("/cx-alarm", "", response_url=fake.response_url("form"))
    bot.settle()
    metadata = fake.calls_to("views.open")[-1].args["view"]["private_metadata"]
    callback = values.pop("callback_id", "cx_file_alarm")
    view_id = values.pop("view_id", "V0FORM1")
    text = values.pop("text")
    answer = bot.interaction(
        view_submission(
            callback_id=callback,
            values=modal_values(text, **values),
            private_metadata=metadata,
            view_id=view_id,
        )
    )
    assert answer.status == 200
    assert answer.body in (b"", b"{}") or answer.json() == {}
    bot.settle()


def test_form_submission_stores_every_field(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    _submit_form(
        bot,
        fake_slack,
        text="Invoices show the wrong VAT",
        customers="All EU customers",
        stage="renew",
        severity="critical",
        area="onboarding",
    )
    [item] = items(bot)
    assert item.text == "Invoices show the wrong VAT"
    assert item.customers == "All EU customers"
    assert item.journey_stage is JourneyStage.RENEW and item.severity is Severity.CRITICAL
    assert item.area == "onboarding" and item.routed_by == "picked"  # the pick beats the "invoice" keyword
    [card] = card_calls(fake_slack, "C0ONBOARD")
    for expected in ("Critical", "Renew", "All EU customers"):
        assert expected in block_text(card)
    assert f"#{item.id}" in json.dumps(confirmations(fake_slack)[0].args)


def test_anonymous_alarm_hides_the_raiser(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    _submit_form(bot, fake_slack, text="Refund policy page is wrong", anonymous=True)
    [item] = items(bot)
    assert item.anonymous and item.raiser_id == "U0RAISER"
    [card] = card_calls(fake_slack, "C0BILLING")
    assert "U0RAISER" not in card.all_text()
    assert "Anonymous" in block_text(card)
    assert "anonymously" in json.dumps(confirmations(fake_slack)[0].args)


def test_empty_form_text_is_flagged_in_the_form(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    answer = bot.interaction(view_submission(callback_id="cx_file_alarm", values=modal_values("  \n ")))
    assert answer.status == 200
    assert answer.json()["response_action"] == "errors"
    assert "what_happened" in answer.json()["errors"]
    bot.settle()
    assert items(bot) == []


def test_double_submitted_form_files_once(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    payload = view_submission(
        callback_id="cx_file_idea", values=modal_values("Live chat on weekends", severity=None)
    )
    assert bot.interaction(payload).status == 200
    assert bot.interaction(payload).status == 200
    bot.settle()
    assert len(items(bot)) == 1
    assert len(card_calls(fake_slack, TRIAGE)) == 1
    dms = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "U0RAISER"]
    assert len(dms) == 1  # one confirmation, by DM: no response_url


def test_malformed_form_values_read_as_unset(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    values = modal_values(
        "Checkout page timed out", stage="nonsense", severity="apocalyptic", area="no-such-area"
    )
    values["anonymous"] = {"anonymous": {"selected_options": "yes"}}
    assert bot.interaction(view_submission(callback_id="cx_file_alarm", values=values)).status == 200
    bot.settle()
    [item] = items(bot)
    assert item.journey_stage is None and item.severity is None and not item.anonymous
    assert item.grey_area  # unknown area, no keyword: triage


# The message shortcut -----------------------------------------------------------------------------


def shortcut_payload(fake: FakeSlack) -> dict[str, Any]:
    return envelopes.message_action(
        callback_id="cx_raise_from_message",
        user="U0SUPPORT",
        channel="C0SUPPORT",
        message=envelopes.message(
            user="U0CUSTOMER",
            ts="1700000000.000200",
            text="I was charged twice and nobody answers my emails <!channel>",
        ),
        response_url=fake.response_url("shortcut"),
        trigger="trig-shortcut",
    )


def test_message_shortcut_raises_an_alarm_that_links_to_the_message(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    assert bot.interaction(shortcut_payload(fake_slack)).status == 200
    bot.settle()
    [opened] = fake_slack.calls_to("views.open")
    view = opened.args["view"]
    what = next(b for b in view["blocks"] if b.get("block_id") == "what_happened")
    assert what["element"]["initial_value"].startswith("I was charged twice")
    assert "<#C0SUPPORT>" in json.dumps(view["blocks"][0])

    submitted = view_submission(
        callback_id=view["callback_id"],
        values=modal_values(what["element"]["initial_value"], severity="high"),
        user="U0SUPPORT",
        private_metadata=view["private_metadata"],
    )
    assert bot.interaction(submitted).status == 200
    bot.settle()
    [item] = items(bot)
    assert item.raiser_id == "U0SUPPORT"  # credited to whoever raised it, not the message's author
    assert (item.source_channel, item.source_ts) == ("C0SUPPORT", "1700000000.000200")
    source_link = next(
        c.response["permalink"]
        for c in fake_slack.calls_to("chat.getPermalink")
        if c.args["channel"] == "C0SUPPORT"
    )
    assert item.source_permalink == source_link
    [card] = card_calls(fake_slack, "C0BILLING")
    assert source_link in block_text(card)
    assert "<!channel>" not in card.all_text()
    assert len(confirmations(fake_slack)) == 1


# Nothing leaked into a ping ------------------------------------------------------------------------------


def test_user_markup_never_pings(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    text = "Refund <!channel> <!here> <!everyone> @here @channel <!subteam^S0ALL> <@U0CEO> <https://evil|click> & more"
    bot.command("/cx-alarm", text, response_url=fake_slack.response_url("c"))
    bot.settle()
    [item] = items(bot)
    assert item.text == text  # stored verbatim
    [card] = card_calls(fake_slack, "C0BILLING")
    everything = card.all_text()
    for ping in (
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<!subteam^S0ALL>",
        "<@U0CEO>",
        "<https://evil",
        "@here",
        "@channel",
    ):
        assert ping not in everything
    assert "&lt;!channel&gt;" in everything and "&amp; more" in everything
    user_section = card.args["blocks"][1]["text"]
    assert user_section["type"] == "mrkdwn" and user_section["verbatim"] is True


def test_long_text_is_stored_whole_and_shown_trimmed(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    text = "refund " + "é<>&" * 1500
    bot.command("/cx-alarm", text)
    bot.settle()
    [item] = items(bot)
    assert item.text == text
    [card] = card_calls(fake_slack, "C0BILLING")
    section = card.args["blocks"][1]["text"]["text"]
    assert len(section) <= 3000
    assert f"{len(text):,} characters" in section and f"#{item.id}" in section


# Signatures -------------------------------------------------------------------------------------------------


def test_bad_signature_and_stale_timestamp_are_refused(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    import time
    import urllib.parse

    body = urllib.parse.urlencode(
        {"command": "/cx-alarm", "text": "refund", "user_id": "U1", "trigger_id": "t"}
    ).encode()
    wrong = bot.send(body, "application/x-www-form-urlencoded", secret="0" * 32)
    stale = bot.send(body, "application/x-www-form-urlencoded", timestamp=int(time.time()) - 301)
    assert (wrong.status, stale.status) == (401, 401)
    bot.settle()
    assert items(bot) == []
    assert fake_slack.calls_to("chat.postMessage") == []


# Events ----------------------------------------------------------------------------------------------------


def test_url_verification_and_events_are_answered(bot: BotUnderTest) -> None:
    challenge = bot.send(
        json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"}).encode(),
        "application/json",
    )
    assert challenge.status == 200 and b"abc123" in challenge.body
    reply = {
        "type": "message",
        "channel": "C0BILLING",
        "user": "U0BILLING",
        "text": "on it",
        "ts": "2.0",
        "thread_ts": "1.0",
    }
    assert bot.event(reply).status == 200
    assert bot.event({"type": "app_home_opened", "user": "U0RAISER", "tab": "home"}).status == 200


def _count(factory: sessionmaker[Session], model: type[Any]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_item_and_outbox_rows_commit_together(bot: BotUnderTest) -> None:
    bot.command("/cx-idea", "Quarterly check-in calls")
    bot.executor.wait_idle()
    factory = bot.runtime.deps.session_factory
    assert _count(factory, Item) == 1
    assert _count(factory, OutboxMessage) == 2  # the card and the raiser's confirmation


# Bad input is never a 500 ---------------------------------------------------------------------------------


def test_malformed_requests_are_never_a_server_error(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    form = "application/x-www-form-urlencoded"
    answers = [
        bot.send(b"payload=not-json", form),
        bot.send(b"{not json", "application/json"),
        bot.send(b"command=%2Fcx-alarm&text=refund", form),  # no user, no trigger
        bot.send(b"command=%2Fcx-alarm&text=", form),
        bot.send(b"command=%2Fcx-unknown&text=x", form),
        bot.interaction({"type": "block_actions", "actions": [{"action_id": "item_acknowledge"}]}),
        bot.interaction({"type": "message_action", "callback_id": "cx_raise_from_message"}),
        bot.interaction({**view_submission(callback_id="cx_file_alarm", values={}), "user": None}),
        bot.interaction(view_submission(callback_id="cx_file_alarm", values={"what_happened": "x"})),
    ]
    bot.settle()
    assert [a.status for a in answers if a.status >= 500] == []
    assert items(bot) == []


# Stored before the ack -------------------------------------------------------------------------------


def test_the_item_is_stored_before_the_command_is_acknowledged(bot: BotUnderTest) -> None:
    answer = bot.command("/cx-alarm", "Customer was charged twice")
    assert answer.status == 200 and not answer.body  # a plain ack: the confirmation follows
    assert [item.text for item in items(bot)] == ["Customer was charged twice"]  # no waiting


def test_a_database_too_slow_for_the_ack_is_said_and_the_save_still_lands(
    bot: BotUnderTest, fake_slack: FakeSlack, monkeypatch: Any
) -> None:
    from sqlalchemy.exc import OperationalError

    from bot.capture import filing

    file_now = filing.file_now
    attempts: list[str] = []

    def down_once(deps: Any, submission: Any) -> int:
        attempts.append(submission.intake_key)
        if len(attempts) > 1:
            return file_now(deps, submission)
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(filing, "file_now", down_once)
    answer = bot.command("/cx-alarm", "Refund never arrived", response_url=fake_slack.response_url("slow"))
    assert answer.status == 200
    ack = answer.json()
    assert ack["response_type"] == "ephemeral" and "taking longer than usual" in ack["text"]
    bot.settle()
    assert [item.text for item in items(bot)] == ["Refund never arrived"]
    assert len(attempts) == 2 and attempts[0] == attempts[1]  # retried with the same intake key
    [confirmation] = [c for c in fake_slack.calls_to("response_url") if c.path.endswith("slow")]
    assert f"#{items(bot)[0].id}" in json.dumps(confirmation.args)


def test_a_save_that_never_lands_gives_the_raiser_their_words_back(
    bot: BotUnderTest, fake_slack: FakeSlack, monkeypatch: Any
) -> None:
    from sqlalchemy.exc import OperationalError

    from bot.capture import filing

    answered = threading.Event()
    attempts: list[str] = []

    def down(deps: Any, submission: Any) -> int:
        attempts.append(submission.intake_key)
        if len(attempts) > 1:
            assert answered.wait(10)  # the retries go on after Slack has its answer
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(filing, "file_now", down)
    monkeypatch.setattr(filing, "PATIENCE_SECONDS", 1.0)
    answer = bot.command("/cx-alarm", "Refund <never> arrived", response_url=fake_slack.response_url("lost"))
    answered.set()
    assert "taking longer than usual" in answer.json()["text"]
    bot.settle()
    assert len(attempts) > 1
    assert items(bot) == []
    [apology] = [c for c in fake_slack.calls_to("response_url") if c.path.endswith("lost")]
    said = json.dumps(apology.args)
    assert "something went wrong" in said and "Refund &lt;never&gt; arrived" in said
