"""Filing (bot/capture/filing.py) on SQLite and PostgreSQL: an item is stored with its event and
outbox messages, verbatim, once per intake key however many attempts race, and not at all when
its transaction fails."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.capture.filing import file_item
from bot.capture.submission import ReplyTarget, Submission
from bot.errors import InvalidSubmission
from bot.routing.routes_file import parse_routes
from bot.routing.rules import Triage
from storage import routes as route_queries
from storage.db import transaction
from storage.models import Event, Item, ItemKind, JourneyStage, OutboxMessage, Severity

NOW = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
AWKWARD = "NUL \x00, escape \ue000\ue001\ue002, emoji 🚨, quote \" \\ ', <!channel> & \r\n" * 3
TRIAGE = Triage(channel="C0TRIAGE", admins=("U0ADMIN1", "U0ADMIN2"))
ROUTES = """
[[routes]]
area = "billing"
owner = "U0BILLING"
channel = "C0BILLING"
keywords = ["refund"]
"""


@pytest.fixture
def routed(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with transaction(session_factory) as session:
        route_queries.import_routes(session=session, specs=parse_routes(ROUTES, path="r"), now=NOW)
    return session_factory


def submission(
    text: str = "The refund never came", key: str | None = "command:t1", **extra: object
) -> Submission:
    return Submission(
        kind=ItemKind.ALARM,
        text=text,
        raiser_id="U0RAISER",
        intake_key=key,
        reply=ReplyTarget(response_url="https://hooks.example/r?a=1&b=ü", channel_id="C0HERE"),
        **extra,  # type: ignore[arg-type]
    )


def count(factory: sessionmaker[Session], model: type[Item] | type[Event] | type[OutboxMessage]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_an_item_is_stored_verbatim_with_its_event_and_messages(routed: sessionmaker[Session]) -> None:
    filed = submission(
        AWKWARD + " refund",
        customers="Acme \x00 Ltd",
        journey_stage=JourneyStage.GET_HELP,
        severity=Severity.HIGH,
        anonymous=True,
        source_channel="C0SOURCE",
        source_ts="1700000000.000100",
    )
    with transaction(routed) as session:
        number = file_item(session=session, submission=filed, triage=TRIAGE, now=NOW)
    with routed() as session:
        item = session.get(Item, number)
        assert item is not None
        assert (item.text, item.customers) == (AWKWARD + " refund", "Acme \x00 Ltd")
        assert (item.area, item.owner, item.channel, item.routed_by) == (
            "billing",
            "U0BILLING",
            "C0BILLING",
            "keywords",
        )
        assert (item.journey_stage, item.severity, item.anonymous) == (
            JourneyStage.GET_HELP,
            Severity.HIGH,
            True,
        )
        assert item.created_at == NOW and item.intake_key == "command:t1"
        [event] = session.scalars(select(Event).where(Event.item_id == number)).all()
        assert (event.kind, event.actor, event.data["matched_keywords"]) == ("filed", "U0RAISER", ["refund"])
        messages = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(m.kind, m.item_id) for m in messages] == [("post_card", number), ("confirm_raiser", number)]
        assert messages[1].payload == {
            "response_url": "https://hooks.example/r?a=1&b=ü",
            "channel_id": "C0HERE",
        }


def test_a_grey_area_goes_to_triage(routed: sessionmaker[Session]) -> None:
    with transaction(routed) as session:
        number = file_item(
            session=session, submission=submission("Chat widget is slow"), triage=TRIAGE, now=NOW
        )
    with routed() as session:
        item = session.get(Item, number)
        assert item is not None and item.grey_area
        assert (item.channel, item.owner) == ("C0TRIAGE", "U0ADMIN1,U0ADMIN2")


def test_the_same_intake_key_is_filed_once(routed: sessionmaker[Session]) -> None:
    numbers = []
    for _ in range(3):
        with transaction(routed) as session:
            numbers.append(file_item(session=session, submission=submission(), triage=TRIAGE, now=NOW))
    assert len(set(numbers)) == 1
    assert (count(routed, Item), count(routed, Event), count(routed, OutboxMessage)) == (1, 1, 2)


def test_without_an_intake_key_each_submission_is_its_own_item(routed: sessionmaker[Session]) -> None:
    for _ in range(2):
        with transaction(routed) as session:
            file_item(session=session, submission=submission(key=None), triage=TRIAGE, now=NOW)
    assert count(routed, Item) == 2


def test_attempts_racing_with_one_intake_key_file_it_once(routed: sessionmaker[Session]) -> None:
    """Two transactions (two replicas, or a retry beside a slow first attempt) at once."""
    start = threading.Barrier(4)
    numbers: list[int] = []

    def attempt() -> None:
        start.wait()
        with transaction(routed) as session:
            numbers.append(file_item(session=session, submission=submission(), triage=TRIAGE, now=NOW))

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(numbers) == 4 and len(set(numbers)) == 1
    assert (count(routed, Item), count(routed, Event), count(routed, OutboxMessage)) == (1, 1, 2)


def test_a_failed_transaction_stores_nothing(routed: sessionmaker[Session]) -> None:
    def file_then_die() -> None:
        with transaction(routed) as session:
            file_item(session=session, submission=submission(), triage=TRIAGE, now=NOW)
            raise RuntimeError("the request died before commit")

    with pytest.raises(RuntimeError):
        file_then_die()
    assert (count(routed, Item), count(routed, Event), count(routed, OutboxMessage)) == (0, 0, 0)


@pytest.mark.parametrize("text", ["", "   \n", "x" * 100_001])
def test_a_submission_that_cant_be_filed_is_refused_when_made(text: str) -> None:
    with pytest.raises(InvalidSubmission):
        submission(text)
