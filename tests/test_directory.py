"""bot/slack/directory.py against the fake Slack: many people at once come from users.list pages,
a few from users.info, and nobody seen is asked about again within a day; a 429 is waited out;
any other failure logs one WARNING and falls back to what is known, else the default zone."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.app import make_web_client
from bot.sandbox.fake_slack import Call, FakeSlack
from bot.sandbox.slack_limits import SlackLimits
from bot.slack.directory import LIST_EVERYONE_OVER, PAGE_SIZE, PEOPLE_CACHE_SECONDS, Directory, Person
from tests.support import BOT_TOKEN

DEFAULT_ZONE = "Europe/London"


class SteppingClock:
    """The time for the fake's rate limits and the directory's cache alike; the directory's waits
    move it on instead of sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
def fake(clock: SteppingClock) -> Iterator[FakeSlack]:
    with FakeSlack(limits=SlackLimits(clock=clock)) as fake:
        yield fake
        fake.assert_no_violations()


@pytest.fixture
def directory(fake: FakeSlack, clock: SteppingClock) -> Directory:
    client = make_web_client(BOT_TOKEN, fake.base_url, retries=True)
    return Directory(client, default_zone=DEFAULT_ZONE, monotonic=clock, sleep=clock.sleep)


def workspace(fake: FakeSlack, count: int) -> list[str]:
    """`count` people: every 7th in Tokyo, every 50th deactivated, every 100th a bot."""
    people = [f"U0P{n:05d}" for n in range(count)]
    for n, user in enumerate(people):
        zone = "Asia/Tokyo" if n % 7 == 0 else "America/New_York"
        fake.set_user(user, tz=zone, deleted=n % 50 == 0, is_bot=n % 100 == 0)
    return people


def answered(fake: FakeSlack, method: str) -> list[Call]:
    return [call for call in fake.calls_to(method) if call.fault is None]


def test_a_cold_look_up_of_2000_people_pages_through_users_list_once(
    fake: FakeSlack, directory: Directory
) -> None:
    people = workspace(fake, 2000)
    found = directory.people(people)
    pages = answered(fake, "users.list")
    assert len(pages) <= 11
    assert fake.calls_to("users.info") == []
    assert all(int(page.args["limit"]) == PAGE_SIZE for page in pages)
    # users.list is Tier 2 (the fake: a burst of 5, then one every 3 s): after 3 pages at once the
    # directory keeps to one every 3 s, so Slack never has to say 429.
    assert [call for call in fake.calls_to("users.list") if call.fault == "http_429"] == []
    assert found["U0P00000"] == Person(zone="Asia/Tokyo", deleted=True, is_bot=True)
    assert found["U0P00001"] == Person(zone="America/New_York")
    assert sum(person.deleted for person in found.values()) == 40
    assert len(found) == 2000

    before = len(fake.calls)
    assert directory.people(people) == found  # all cached
    assert len(fake.calls) == before


def test_a_429_while_paging_is_waited_out(fake: FakeSlack, directory: Directory) -> None:
    people = workspace(fake, 450)
    fake.fail_next("users.list", status=429, retry_after=2)
    found = directory.people(people)
    assert len(found) == 450
    assert [call.fault for call in fake.calls_to("users.list")] == ["http_429", None, None, None]


def test_an_unseen_person_is_asked_about_once(fake: FakeSlack, directory: Directory) -> None:
    fake.set_user("U0ANN", tz="Asia/Tokyo", deleted=True)
    assert directory.people(["U0ANN"]) == {"U0ANN": Person(zone="Asia/Tokyo", deleted=True)}
    assert [call.args["user"] for call in fake.calls_to("users.info")] == ["U0ANN"]
    directory.people(["U0ANN"])
    assert len(fake.calls_to("users.info")) == 1
    assert fake.calls_to("users.list") == []


def test_a_few_unseen_people_are_asked_one_by_one_and_many_all_at_once(
    fake: FakeSlack, directory: Directory
) -> None:
    people = workspace(fake, 300)
    few = people[:LIST_EVERYONE_OVER]
    directory.people(few)
    assert sorted(call.args["user"] for call in fake.calls_to("users.info")) == few
    directory.people(people)  # 290 unseen: users.list, two pages
    assert len(answered(fake, "users.list")) == 2
    assert len(fake.calls_to("users.info")) == LIST_EVERYONE_OVER  # nobody seen is asked again


def test_nobody_seen_is_asked_again_within_a_day(
    fake: FakeSlack, directory: Directory, clock: SteppingClock
) -> None:
    people = workspace(fake, 20)
    directory.people(people)  # users.list
    directory.people(people[:3])
    assert fake.calls_to("users.info") == []
    assert len(answered(fake, "users.list")) == 1
    clock.now += PEOPLE_CACHE_SECONDS
    directory.people(people[:3])
    assert len(fake.calls_to("users.info")) == 3


def test_someone_slack_doesnt_know_has_the_default_zone_and_is_asked_once(
    fake: FakeSlack, directory: Directory
) -> None:
    assert directory.people(["U0NOBODY"]) == {"U0NOBODY": Person(zone=DEFAULT_ZONE)}
    directory.people(["U0NOBODY"])
    assert len(fake.calls_to("users.info")) == 1
    people = workspace(fake, 20)
    strangers = [f"U0STRANGER{n}" for n in range(5)]
    found = directory.people(people + strangers)  # not in users.list: remembered as such
    assert {found[stranger] for stranger in strangers} == {Person(zone=DEFAULT_ZONE)}
    directory.people(strangers)
    assert len(fake.calls_to("users.info")) == 1


def test_when_slack_fails_one_warning_and_what_is_known_else_the_default(
    fake: FakeSlack, directory: Directory, clock: SteppingClock, caplog: pytest.LogCaptureFixture
) -> None:
    fake.set_user("U0ANN", tz="Asia/Tokyo")
    fake.set_user("U0BOB", tz="Asia/Tokyo")
    directory.people(["U0ANN"])
    clock.now += PEOPLE_CACHE_SECONDS  # Ann's answer is a day old: she is asked again
    fake.fail_next("users.info", status=200, error="internal_error", times=2)
    with caplog.at_level(logging.WARNING, logger="bot.slack.directory"):
        found = directory.people(["U0ANN", "U0BOB"])
    assert found == {"U0ANN": Person(zone="Asia/Tokyo"), "U0BOB": Person(zone=DEFAULT_ZONE)}
    assert [record.levelname for record in caplog.records] == ["WARNING"]
    assert "internal_error" in caplog.records[0].getMessage()


def test_a_page_that_fails_keeps_the_pages_before_it(
    fake: FakeSlack, directory: Directory, caplog: pytest.LogCaptureFixture
) -> None:
    people = workspace(fake, 300)
    fake.fail_next("users.list", status=200)  # the first page is answered
    fake.fail_next("users.list", status=500)
    with caplog.at_level(logging.WARNING, logger="bot.slack.directory"):
        found = directory.people(people)
    assert [r.getMessage() for r in caplog.records if r.name == "bot.slack.directory"] == [
        f"can't look up 300 people (http_500); using what is known of them, else {DEFAULT_ZONE}"
    ]
    assert found[people[7]] == Person(zone="Asia/Tokyo")  # on the first page
    assert found[people[PAGE_SIZE + 3]] == Person(zone=DEFAULT_ZONE)  # on the second
    # Those on the second page are still unseen: the next question asks for them (100 of them,
    # so users.list again), and nobody is asked about with users.info.
    assert directory.people(people)[people[PAGE_SIZE + 3]] == Person(zone="Asia/Tokyo")
    assert len(answered(fake, "users.list")) == 3
    assert fake.calls_to("users.info") == []
