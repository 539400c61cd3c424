"""Attack and abuse: forged, stale and replayed requests; malformed payloads; and property tests that
any text a raiser types is stored verbatim, shown escaped and pings nobody."""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.blocks.card import card_text
from bot.blocks.text import SECTION_TEXT_LIMIT, escape, preview, shown
from bot.jobs import schedule
from bot.sandbox.fake_slack import FakeSlack
from storage.models import Item, Vote
from tests.support import BotUnderTest, block_action, modal_values, view_submission

FORM = "application/x-www-form-urlencoded"
# Mentions cxbot itself writes on a card; anything else in angle brackets came from user text.
OURS = re.compile(
    r"<(@U0RAISER|@U0BILLING|@U0ADMIN1|@U0ADMIN2|!subteam\^S0ONBOARD|!date\^[^>]*|#C0[A-Z]+|https://[^>|]*\|[^>]*)>"
)
PINGS = re.compile(r"<[!@#][^>]*>|(?<![\w\u2060])@(channel|here|everyone)\b", re.IGNORECASE)


def last_item(bot: BotUnderTest) -> Item | None:
    with bot.runtime.deps.session_factory() as session:
        return session.scalars(select(Item).order_by(Item.id.desc())).first()


def command_body(text: str, *, response_url: str = "") -> bytes:
    return urllib.parse.urlencode(
        {
            "command": "/cx-alarm",
            "text": text,
            "user_id": "U0RAISER",
            "channel_id": "C0X",
            "team_id": "T0TEST",
            "trigger_id": f"t{time.monotonic_ns()}",
            "response_url": response_url,
        }
    ).encode()


# Signatures -------------------------------------------------------------------------------------------------


def test_forged_stale_future_and_replayed_requests_are_refused(bot: BotUnderTest) -> None:
    body = command_body("refund missing")
    # Bolt refuses a timestamp more than 300 s from its clock. Each offset is taken from the clock
    # at the moment of sending, with a margin, so a slow machine can't bring one back inside.
    assert bot.send(body, FORM, secret="f" * 32).status == 401
    assert bot.send(body, FORM, timestamp=int(time.time()) - 330).status == 401
    assert bot.send(body, FORM, timestamp=int(time.time()) + 330).status == 401
    now = int(time.time())
    assert bot.send(body, FORM, timestamp=now).status == 200
    assert bot.send(body, FORM, timestamp=now).status == 401  # the same signed request again
    bot.settle()
    assert last_item(bot) is not None and last_item(bot).id == 1  # type: ignore[union-attr]


def test_tampered_body_is_refused(bot: BotUnderTest) -> None:
    import hashlib
    import hmac

    from tests.support import SIGNING_SECRET

    now = int(time.time())
    signed = command_body("refund missing")
    signature = (
        "v0=" + hmac.new(SIGNING_SECRET.encode(), f"v0:{now}:".encode() + signed, hashlib.sha256).hexdigest()
    )
    tampered = signed.replace(b"refund", b"REFUND")
    answer = bot.send(tampered, FORM, timestamp=now, headers={"X-Slack-Signature": signature})
    assert answer.status == 401


def test_slack_retries_are_not_taken_for_replays(bot: BotUnderTest) -> None:
    event = json.dumps(
        {
            "type": "event_callback",
            "event_id": "Ev1",
            "team_id": "T0TEST",
            "event": {"type": "app_home_opened", "user": "U0RAISER", "tab": "messages"},
        }
    ).encode()
    now = int(time.time())
    assert bot.send(event, "application/json", timestamp=now).status == 200
    retry = bot.send(event, "application/json", timestamp=now, headers={"X-Slack-Retry-Num": "1"})
    assert retry.status == 200


def test_a_retry_header_does_not_let_a_command_or_a_click_be_replayed(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    """Slack retries only events, and X-Slack-Retry-Num isn't signed: anyone replaying a captured
    command or click could add it, so on those it earns no second hearing."""
    bot.command("/cx-idea", "Weekend live chat")
    bot.settle()
    click = urllib.parse.urlencode(
        {
            "payload": json.dumps(
                block_action(
                    action_id="item_upvote", value="1", user="U0A", response_url=fake_slack.response_url()
                )
            )
        }
    ).encode()
    for body in (command_body("refund missing"), click):
        now = int(time.time())
        assert bot.send(body, FORM, timestamp=now).status == 200
        replay = bot.send(body, FORM, timestamp=now, headers={"X-Slack-Retry-Num": "1"})
        assert replay.status == 401
    bot.settle()
    with bot.runtime.deps.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 2
        assert session.scalar(select(func.count()).select_from(Vote)) == 1, (
            "the replayed click undid the vote"
        )


def test_requests_without_a_signature_are_refused(bot: BotUnderTest) -> None:
    body = command_body("refund missing")
    request = urllib.request.Request(bot.url, data=body, method="POST", headers={"Content-Type": FORM})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    stamp_only = {"X-Slack-Request-Timestamp": str(int(time.time()))}
    request = urllib.request.Request(
        bot.url, data=body, method="POST", headers={"Content-Type": FORM, **stamp_only}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    assert last_item(bot) is None


# Anonymity ---------------------------------------------------------------------------------------------------

WHISTLEBLOWER = "U0WHISTLE"


@pytest.fixture
def every_log_line() -> Iterator[list[str]]:
    """Every line cxbot's own code logs, down to DEBUG, formatted with any traceback, and whatever
    Bolt, the Slack SDK and the rest log at the default level (INFO)."""
    lines: list[str] = []
    formatter = logging.Formatter("%(name)s %(message)s")
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = lambda record: lines.append(formatter.format(record))  # type: ignore[method-assign]
    ours = [logging.getLogger(name) for name in ("bot", "handlers", "storage", "cxbot")]
    levels = [logger.level for logger in ours]
    root = logging.getLogger()
    root_level = root.level
    root.setLevel(logging.INFO)
    for logger in ours:
        logger.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(root_level)
        for logger, level in zip(ours, levels, strict=True):
            logger.setLevel(level)


def test_an_anonymous_raiser_is_named_only_to_themselves(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: Any, every_log_line: list[str]
) -> None:
    """The whole life of an anonymous alarm, in every place it is shown: the card, its thread, the
    owner's nag, the digest and its preview, App Home, the close-out and the credit question. Only
    the raiser's own DMs may carry their ID; no other Slack call and no log line does."""
    filing = view_submission(
        callback_id="cx_file_alarm",
        values=modal_values("The refund page lies about timing", anonymous=True, severity="high"),
        user=WHISTLEBLOWER,
        view_id="VWHISTLE",
    )
    assert bot.interaction(filing).status == 200
    bot.settle()
    item = last_item(bot)
    assert item is not None and item.anonymous and item.raiser_id == WHISTLEBLOWER
    owner, admin = "U0BILLING", "U0ADMIN1"
    bot.interaction(
        block_action(
            action_id="item_acknowledge",
            value=str(item.id),
            user=owner,
            response_url=fake_slack.response_url(),
        )
    )
    thread_reply = {
        "type": "message",
        "channel": "C0BILLING",
        "user": owner,
        "text": "On it",
        "ts": "1700000002.000100",
        "thread_ts": item.card_ts,
    }
    bot.event(thread_reply, event_id="EvReply")
    clock.advance(days=8)
    bot.settle()
    schedule.sweep(bot.runtime.deps)
    schedule.post_digest(bot.runtime.deps)
    bot.command("/cx-digest", "", user=admin, response_url=fake_slack.response_url("preview"))
    for who in (owner, admin):
        bot.event({"type": "app_home_opened", "user": who, "tab": "home"}, event_id=f"EvHome{who}")
    closing = view_submission(
        callback_id="cx_mark_actioned",
        values={
            "what_was_done": {"what_was_done": {"type": "plain_text_input", "value": "Fixed the page"}},
            "led_to_action": {
                "led_to_action": {"type": "radio_buttons", "selected_option": {"value": "yes"}}
            },
        },
        user=owner,
        view_id="VCLOSE",
        private_metadata=str(item.id),
    )
    bot.interaction(closing)
    bot.settle()
    bot.interaction(
        block_action(
            action_id="stay_anonymous",
            value=str(item.id),
            user=WHISTLEBLOWER,
            channel="D0WHISTLE",
            response_url=fake_slack.response_url("stay"),
        )
    )
    bot.settle()

    raisers_dm = "D" + WHISTLEBLOWER[1:]
    to_raiser = [
        c
        for c in fake_slack.calls
        if c.args.get("channel") in (raisers_dm, WHISTLEBLOWER) or c.args.get("users") == WHISTLEBLOWER
    ]
    assert len(to_raiser) >= 3, "the raiser should hear of filing, closing and the credit question"
    seen = {c.method for c in fake_slack.calls}
    assert {"chat.postMessage", "chat.update", "views.publish"} <= seen
    for call in fake_slack.calls:
        if call not in to_raiser:
            assert WHISTLEBLOWER not in call.all_text(), f"{call.method} named the anonymous raiser"
    assert len(every_log_line) > 10, "cxbot should have logged what it did"
    assert [line for line in every_log_line if WHISTLEBLOWER in line] == []
    with bot.runtime.deps.session_factory() as session:
        assert session.get(Item, item.id).credit.value == "declined"  # type: ignore[union-attr]


def test_an_anonymous_co_raiser_is_named_only_to_themselves(
    bot: BotUnderTest, fake_slack: FakeSlack, every_log_line: list[str]
) -> None:
    """Someone who files anonymously and then joins a similar open alarm ("me too") stays anonymous
    there: the card counts them, the kudos leaves them out, and only their own DMs name them."""
    bot.command("/cx-alarm", "Refund page shows a blank screen", user="U0ANA")
    bot.settle()
    original = last_item(bot)
    assert original is not None
    filing = view_submission(
        callback_id="cx_file_alarm",
        values=modal_values("refund page shows blank screen again", anonymous=True),
        user=WHISTLEBLOWER,
        view_id="VWHISTLE2",
    )
    assert bot.interaction(filing).status == 200
    bot.settle()
    mine = last_item(bot)
    assert mine is not None and mine.anonymous and mine.id != original.id
    # No response_url with a form: the confirmation, and its suggestion, came by DM.
    [confirmed] = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == WHISTLEBLOWER]
    assert f"Me too: join #{original.id}" in confirmed.all_text()
    join = block_action(
        action_id="metoo_join_instead",
        value=f"{mine.id}:{original.id}",
        user=WHISTLEBLOWER,
        channel="D0WHISTLE",
        response_url=fake_slack.response_url("join"),
    )
    assert bot.interaction(join).status == 200
    bot.settle()
    closing = view_submission(
        callback_id="cx_mark_actioned",
        values={
            "what_was_done": {"what_was_done": {"type": "plain_text_input", "value": "Fixed the page"}},
            "led_to_action": {
                "led_to_action": {"type": "radio_buttons", "selected_option": {"value": "yes"}}
            },
        },
        user="U0BILLING",
        view_id="VCLOSE2",
        private_metadata=str(original.id),
    )
    bot.interaction(closing)
    bot.settle()

    to_them = [
        c
        for c in fake_slack.calls
        if c.args.get("channel") in ("D0WHISTLE", WHISTLEBLOWER) or c.path.endswith("/join")
    ]
    assert any("you raised too" in c.all_text() for c in to_them), "they should hear it was actioned"
    [kudos] = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0KUDOS"]
    assert "<@U0ANA>" in kudos.all_text()
    cards = [c for c in fake_slack.calls_to("chat.update") if c.args["channel"] == "C0BILLING"]
    assert any("and 1 other" in c.all_text() for c in cards)
    for call in fake_slack.calls:
        if call not in to_them:
            assert WHISTLEBLOWER not in call.all_text(), f"{call.method} named the anonymous co-raiser"
    assert [line for line in every_log_line if WHISTLEBLOWER in line] == []


# Malformed payloads --------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(
        ["block_actions", "view_submission", "message_action", "shortcut", "view_closed", "nonsense"]
    ),
    extra=st.dictionaries(
        st.sampled_from(
            ["user", "actions", "view", "trigger_id", "callback_id", "message", "channel", "container"]
        ),
        json_values,
        max_size=6,
    ),
)
def test_malformed_interactions_never_get_a_server_error(
    bot: BotUnderTest, kind: str, extra: dict[str, Any]
) -> None:
    payload = {"type": kind, "team": {"id": "T0TEST"}, **extra}
    answer = bot.interaction(payload)
    assert answer.status < 500


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"payload=",
        b"payload=%7B%7D",
        b"payload=%5B1%2C2%5D",
        b"payload=null",
        b"command=%2Fcx-alarm",
        b"command=%2Fcx-alarm&text=" + b"%FF%FE" * 10,
        b"\xff\xfe\x00garbage",
    ],
)
def test_odd_bodies_never_get_a_server_error(bot: BotUnderTest, body: bytes) -> None:
    assert bot.send(body, FORM).status < 500
    assert bot.send(body, "application/json").status < 500


# Every listener's own payload, one field broken ----------------------------------------------------------------

BROKEN = (None, 7, -1, 2.5, True, "", "x" * 5, [], {}, ["x"], {"a": 1})
DROPPED = object()


def _valid_payloads(fake: FakeSlack) -> list[tuple[str, dict[str, Any]]]:
    """A well-formed payload for each listener: every button, every form, the shortcut, the events."""
    answer_to = fake.response_url("mutated")
    clicks = [
        block_action(action_id=action, value="1", user="U0BILLING", response_url=answer_to)
        for action in (
            "item_acknowledge",
            "item_mark_actioned",
            "item_decline",
            "item_reassign",
            "item_reopen",
            "item_snooze",
            "credit_me",
            "stay_anonymous",
        )
    ] + [
        block_action(action_id="item_upvote", value="2", user="U0A", response_url=answer_to),
        block_action(
            action_id="item_more",
            value="",
            user="U0BILLING",
            response_url=answer_to,
            selected_option={"text": {"type": "plain_text", "text": "x"}, "value": "duplicate:1"},
        ),
    ]
    text = {"type": "plain_text_input", "value": "Refunded"}
    forms = [
        view_submission(callback_id="cx_file_alarm", values=modal_values("refund missing", customers="ACME")),
        view_submission(callback_id="cx_file_idea", values=modal_values("weekend chat", severity=None)),
        view_submission(
            callback_id="cx_mark_actioned",
            values={
                "what_was_done": {"what_was_done": text},
                "led_to_action": {
                    "led_to_action": {"type": "radio_buttons", "selected_option": {"value": "yes"}}
                },
            },
            user="U0BILLING",
            private_metadata="1",
        ),
        view_submission(
            callback_id="cx_decline", values={"why": {"why": text}}, user="U0BILLING", private_metadata="1"
        ),
        view_submission(
            callback_id="cx_reassign",
            values={
                "new_area": {"new_area": {"type": "static_select", "selected_option": {"value": "billing"}}},
                "new_person": {"new_person": {"type": "users_select", "selected_user": "U0NEWBIE"}},
            },
            user="U0BILLING",
            private_metadata="1",
        ),
        view_submission(
            callback_id="cx_duplicate",
            values={"original": {"original": {"type": "plain_text_input", "value": "#2"}}},
            user="U0BILLING",
            private_metadata="1",
        ),
    ]
    shortcut = {
        "type": "message_action",
        "callback_id": "cx_raise_from_message",
        "trigger_id": "trig-shortcut",
        "team": {"id": "T0TEST"},
        "user": {"id": "U0SUPPORT"},
        "channel": {"id": "C0SUPPORT"},
        "message_ts": "1700000000.000200",
        "message": {
            "type": "message",
            "user": "U0CUSTOMER",
            "ts": "1700000000.000200",
            "text": "charged twice",
        },
        "response_url": answer_to,
    }
    events = [
        {
            "type": "event_callback",
            "team_id": "T0TEST",
            "event_id": "Ev1",
            "event": {
                "type": "message",
                "channel": "C0BILLING",
                "user": "U0BILLING",
                "text": "ack",
                "ts": "1700000001.000100",
                "thread_ts": "1.0",
            },
        },
        {
            "type": "event_callback",
            "team_id": "T0TEST",
            "event_id": "Ev2",
            "event": {"type": "app_home_opened", "user": "U0BILLING", "tab": "home"},
        },
    ]
    return [
        *(("interaction", payload) for payload in [*clicks, *forms, shortcut]),
        *(("event", envelope) for envelope in events),
    ]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a payload (object keys and list positions, four levels deep)."""
    found: list[tuple[Any, ...]] = []
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    )
    for key, child in children:
        found.append((*prefix, key))
        if len(prefix) < 3:
            found += _paths(child, (*prefix, key))
    return found


def _broken(payload: dict[str, Any], path: tuple[Any, ...], replacement: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(payload))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    if replacement is DROPPED:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    return copy


@pytest.fixture
def filed(bot: BotUnderTest) -> BotUnderTest:
    """An alarm (#1, billing's, its card posted) and an idea (#2) for the payloads to act on."""
    bot.command("/cx-alarm", "refund never arrived")
    bot.command("/cx-idea", "weekend live chat")
    bot.settle()
    return bot


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_listener_with_a_field_missing_or_of_the_wrong_type_answers_without_failing(
    filed: BotUnderTest, fake_slack: FakeSlack, errors_logged: list[logging.LogRecord], data: st.DataObject
) -> None:
    """Each listener's real payload with one field, at any depth, dropped or given another type:
    refused with 400, ignored (404) or handled (200), never a 500 and never a listener that raised; and whatever
    it leads cxbot to call, Slack would accept (the fake fails the test otherwise)."""
    logged_before = len(errors_logged)
    kind, payload = data.draw(st.sampled_from(_valid_payloads(fake_slack)), label="payload")
    path = data.draw(st.sampled_from(_paths(payload)), label="path")
    replacement = data.draw(st.sampled_from((DROPPED, *BROKEN)), label="replacement")
    broken = _broken(payload, path, replacement)
    if kind == "event":
        answer = filed.send(json.dumps(broken).encode(), "application/json")
    else:
        answer = filed.interaction(broken)
    filed.settle()
    # 404 is Bolt's "no listener for this" (a type or callback_id broken): ignored, as it should be.
    assert answer.status in (200, 400, 404), (answer.status, answer.body[:200])
    assert _described(errors_logged[logged_before:]) == []


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    command=st.sampled_from(["/cx-alarm", "/cx-idea", "/cx-digest"]),
    text=st.sampled_from(["refund missing", "", "help", "-anon refund missing"]),
    field=st.sampled_from(
        ["user_id", "channel_id", "team_id", "trigger_id", "response_url", "text", "command", "user_name"]
    ),
    value=st.sampled_from([None, "", "x" * 5, "U0BILLING", "0"]),
)
def test_any_command_with_a_field_missing_or_odd_answers_without_failing(
    bot: BotUnderTest,
    fake_slack: FakeSlack,
    errors_logged: list[logging.LogRecord],
    command: str,
    text: str,
    field: str,
    value: str | None,
) -> None:
    logged_before = len(errors_logged)
    form = {
        "command": command,
        "text": text,
        "user_id": "U0ADMIN1",
        "user_name": "admin",
        "channel_id": "C0X",
        "team_id": "T0TEST",
        "trigger_id": f"t{time.monotonic_ns()}",
        "response_url": fake_slack.response_url("odd-command"),
    }
    if value is None:
        del form[field]
    else:
        form[field] = value
    answer = bot.send(urllib.parse.urlencode(form).encode(), FORM)
    bot.settle()
    assert answer.status in (200, 400, 404), (answer.status, answer.body[:200])
    assert _described(errors_logged[logged_before:]) == []


# Text property tests ------------------------------------------------------------------------------------------

any_text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=400) | st.builds(
    lambda unit, n: unit * n,
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=8),
    st.integers(1, 6500),
)


@settings(max_examples=300, deadline=None)
@given(text=any_text)
def test_shown_text_is_escaped_bounded_and_pings_nobody(text: str) -> None:
    for rendered in (shown(text, SECTION_TEXT_LIMIT, item_number=1), preview(text), escape(text)):
        assert "<" not in rendered and ">" not in rendered
        assert not PINGS.search(rendered)
        assert not re.search(r"&(?!amp;|lt;|gt;)", rendered)
    assert len(shown(text, SECTION_TEXT_LIMIT, item_number=1)) <= SECTION_TEXT_LIMIT


@pytest.fixture
def errors_logged() -> Iterator[list[logging.LogRecord]]:
    """Every ERROR the bot logs during a test: a listener that raised shows up here (Bolt's error
    handler logs it and still answers 200, so the status alone can't tell)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.ERROR)
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger().addHandler(handler)
    try:
        yield records
    finally:
        logging.getLogger().removeHandler(handler)


def _described(records: list[logging.LogRecord]) -> list[str]:
    """Logged errors, each with the last line of its exception: what a failing test shows."""
    described = []
    for record in records:
        error = record.exc_info[1] if record.exc_info else None
        described.append(f"{record.getMessage()}: {error!r}" if error else record.getMessage())
    return described


def _card_of(fake: FakeSlack, item: Item) -> Any:
    """The one card posted for `item` (not an earlier example's)."""
    cards = [
        call
        for call in fake.calls_to("chat.postMessage")
        if call.fault is None
        and str(call.args["channel"]).startswith("C")
        and call.args.get("text") == card_text(item)
    ]
    assert len(cards) == 1, f"{len(cards)} cards for #{item.id}"
    return cards[0]


def _assert_pings_nobody(*texts: str) -> None:
    for text in texts:
        leftover = OURS.sub("", text)
        assert not PINGS.search(leftover), leftover[:200]


def _assert_card_shows(fake: FakeSlack, item: Item) -> None:
    """The card carries the text escaped (section 2), its notification text is the escaped
    preview, and nothing on it pings anyone cxbot didn't mean to."""
    card = _card_of(fake, item)
    section = card.args["blocks"][1]["text"]["text"]
    assert section == shown(item.text, SECTION_TEXT_LIMIT, item_number=item.id)
    assert "<" not in section and ">" not in section
    _assert_pings_nobody(card.all_text())


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    text=any_text.filter(
        lambda t: (
            t.strip()
            and t.split(maxsplit=1)[0].casefold() not in {"help", "?", "usage"}
            and not t.lstrip().startswith("-")
        )
    )
)
def test_command_text_is_stored_verbatim_and_shown_safely(
    bot: BotUnderTest, fake_slack: FakeSlack, errors_logged: list[logging.LogRecord], text: str
) -> None:
    # (Text starting with "help" or "-" asks for help or an option, tested in test_commands.py.)
    answer_to = f"r{time.monotonic_ns()}"
    body = command_body(text, response_url=fake_slack.response_url(answer_to))
    assert bot.send(body, FORM).status == 200
    bot.settle()
    item = last_item(bot)
    assert item is not None and item.text == text
    _assert_card_shows(fake_slack, item)
    [confirmation] = [c for c in fake_slack.calls_to("response_url") if c.path.endswith(answer_to)]
    _assert_pings_nobody(confirmation.all_text())
    assert _described(errors_logged) == []


modal_text = st.text(st.characters(codec="utf-8"), min_size=1, max_size=3000).filter(str.strip)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=modal_text, customers=st.text(st.characters(codec="utf-8"), max_size=500))
def test_filing_form_inputs_are_stored_verbatim_and_shown_safely(
    bot: BotUnderTest,
    fake_slack: FakeSlack,
    errors_logged: list[logging.LogRecord],
    text: str,
    customers: str,
) -> None:
    payload = view_submission(
        callback_id="cx_file_alarm",
        values=modal_values(text, customers=customers),
        view_id=f"V{time.monotonic_ns()}",
    )
    assert bot.interaction(payload).status == 200
    bot.settle()
    item = last_item(bot)
    assert item is not None and item.text == text
    assert item.customers == (customers if customers.strip() else None)
    _assert_card_shows(fake_slack, item)
    assert _described(errors_logged) == []


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(callback=st.sampled_from(["cx_mark_actioned", "cx_decline"]), said=modal_text)
def test_owner_form_inputs_are_stored_verbatim_and_shown_safely(
    bot: BotUnderTest,
    fake_slack: FakeSlack,
    errors_logged: list[logging.LogRecord],
    callback: str,
    said: str,
) -> None:
    """What an owner types when closing an item (what was done, why not) reaches the card, the
    raiser and the kudos channel: stored as typed, shown escaped, pinging nobody."""
    bot.command("/cx-alarm", "refund never arrived")
    bot.settle()
    item = last_item(bot)
    assert item is not None
    before = len(fake_slack.calls)
    if callback == "cx_mark_actioned":
        values = {
            "what_was_done": {"what_was_done": {"type": "plain_text_input", "value": said}},
            "led_to_action": {
                "led_to_action": {"type": "radio_buttons", "selected_option": {"value": "yes"}}
            },
        }
    else:
        values = {"why": {"why": {"type": "plain_text_input", "value": said}}}
    payload = view_submission(
        callback_id=callback,
        values=values,
        user="U0BILLING",
        view_id=f"V{time.monotonic_ns()}",
        private_metadata=str(item.id),
    )
    answer = bot.interaction(payload)
    assert answer.status == 200 and not answer.body, answer.body[:300]
    bot.settle()
    item = last_item(bot)
    assert item is not None and item.resolution == said
    after = fake_slack.calls[before:]
    updates = [c for c in after if c.method == "chat.update"]
    assert any(shown(said, SECTION_TEXT_LIMIT - 60, item_number=item.id) in c.all_text() for c in updates)
    told = [c for c in after if c.method in ("chat.postMessage", "chat.postEphemeral", "response_url")]
    assert told, "nobody was told"
    _assert_pings_nobody(*(c.all_text() for c in after))
    assert _described(errors_logged) == []


def test_fifty_kilobytes_with_control_characters(
    bot: BotUnderTest, fake_slack: FakeSlack, errors_logged: list[logging.LogRecord]
) -> None:
    text = ("\x00\x01\x07\x1b[31m <!channel> \u202e\ue000\ue001 émoji 🚨 & <@U0CEO> \r\n" * 1200)[:50_000]
    assert bot.send(command_body(text), FORM).status == 200
    bot.settle()
    item = last_item(bot)
    assert item is not None and item.text == text
    card = _card_of(fake_slack, item)
    section = card.args["blocks"][1]["text"]["text"]
    assert len(section) <= SECTION_TEXT_LIMIT and "50,000 characters" in section
    assert section == shown(text, SECTION_TEXT_LIMIT, item_number=item.id)
    _assert_pings_nobody(card.all_text())
    assert _described(errors_logged) == []


def test_fifty_kilobytes_in_the_filing_form(
    bot: BotUnderTest, fake_slack: FakeSlack, errors_logged: list[logging.LogRecord]
) -> None:
    """Slack caps the form's box at 3,000 characters, but a submission is only a payload: a longer
    one is stored whole all the same, and shown trimmed."""
    text = ("<!here> \u0000\u200b\u202e 🚨 *bold* `code` &amp; <https://evil.example|click> \n" * 800)[
        :50_000
    ]
    payload = view_submission(
        callback_id="cx_file_alarm", values=modal_values(text), view_id=f"V{time.monotonic_ns()}"
    )
    assert bot.interaction(payload).status == 200
    bot.settle()
    item = last_item(bot)
    assert item is not None and item.text == text
    _assert_card_shows(fake_slack, item)
    assert _described(errors_logged) == []
