"""The digest's chart and the loop's numbers (issue 21): the 12-week series on SQLite and
PostgreSQL, the chart drawn from empty and full figures, the two-step upload into the digest's
thread against the fake Slack, a chart that can't be drawn, a retry after an uncertain upload,
the private preview, `cxbot digest chart`, the loop numbers and the headline's choice."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.charts import weekly
from bot.jobs import schedule
from bot.jobs.digest import _outside, build_digest, chart_series
from bot.jobs.headline import choose_headline
from bot.outbox.deliveries import DeliveryContext, post_digest_chart
from bot.sandbox.fake_slack import FakeSlack
from storage import digest as numbers
from storage.db import transaction
from storage.figures import CreditedFix, PastSla, Series, Verification, Week
from storage.models import Event, Item, ItemKind, ItemStatus, JourneyStage, OutboxMessage, Severity
from tests.support import BotUnderTest, FakeClock

END = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n"


def add(session: Session, created: datetime, **fields: object) -> Item:
    values: dict[str, object] = {
        "kind": ItemKind.ALARM,
        "status": ItemStatus.NEW,
        "text": "double charge on renewal",
        "raiser_id": "U0RAISER",
        "area": "billing",
        "routed_by": "keyword",
        "grey_area": False,
        "owner": "S0BILLING",
        "channel": "C0BILLING",
        "created_at": created,
        "updated_at": created,
    }
    values.update(fields)
    item = Item(**values)
    session.add(item)
    session.flush()
    return item


def event(session: Session, item: Item, kind: str, at: datetime) -> None:
    session.add(Event(item_id=item.id, kind=kind, actor="U0OWNER", at=at, data={}))


def test_the_series_counts_each_week_and_open_items_by_stage(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        last_week = END - timedelta(days=3)
        first = add(session, last_week, journey_stage=JourneyStage.BUY)
        event(session, first, "acknowledged", last_week + timedelta(hours=2))
        event(session, first, "actioned", last_week + timedelta(hours=10))
        add(session, last_week, grey_area=True, area=None, journey_stage=JourneyStage.BUY)
        add(session, END - timedelta(weeks=11, days=1))  # the oldest week
        add(session, END - timedelta(weeks=13))  # before the 12 weeks
        add(session, END + timedelta(hours=1))  # after
        add(session, END - timedelta(weeks=12))  # the first moment of the oldest week: in it
        add(session, END - timedelta(weeks=1))  # the first moment of the last week: in it
    with session_factory() as session:
        series = numbers.weekly_series(session=session, end=END)
    assert [w.raised for w in series.weeks] == [2] + [0] * 10 + [3]
    assert series.weeks[-1].actioned == 1 and series.weeks[0].start == END - timedelta(weeks=12)
    assert series.weeks[-1].ack_hours == pytest.approx(2) and series.weeks[-1].action_hours == pytest.approx(
        10
    )
    assert series.weeks[5].ack_hours is None
    assert sorted(series.open_by_stage, key=lambda row: row[0] or "") == [(None, 5, 0), ("buy", 1, 1)]


def _series(raised: list[int], actioned: list[int]) -> Series:
    weeks = [
        Week(start=END - timedelta(weeks=12 - i), raised=r, actioned=a, ack_hours=3.0, action_hours=30.0)
        for i, (r, a) in enumerate(zip(raised, actioned, strict=True))
    ]
    return Series(weeks=weeks, open_by_stage=[("buy", 5, 2), (None, 1, 0)])


def test_the_chart_is_a_png_of_sane_size_and_its_title_says_what_to_notice() -> None:
    empty = Series(weeks=[Week(start=END - timedelta(weeks=12 - i)) for i in range(12)], open_by_stage=[])
    full = _series([10] * 12, [10] * 9 + [4, 5, 6])
    for series in (empty, full):
        png = weekly.draw(series)
        assert png.startswith(PNG) and 20_000 < len(png) < 1_000_000
    assert weekly.title_of(empty) == "Nothing raised in the last 12 weeks"
    assert weekly.title_of(full) == "Actioned fell behind raised for 3 weeks running"
    assert weekly.title_of(_series([10] * 12, [12] * 12)) == "Actioned kept pace with raised last week"
    assert "Open now: 8, of them 2 grey areas" in weekly.alt_text(full)


def test_loop_numbers_on_known_data(session_factory: sessionmaker[Session]) -> None:
    start = END - timedelta(days=7)
    with transaction(session_factory) as session:
        quick = add(session, start + timedelta(hours=1))  # heard in 2 h: within 24 h
        event(session, quick, "acknowledged", start + timedelta(hours=3))
        slow = add(session, start + timedelta(hours=1))  # heard in 30 h: past 24 h
        event(session, slow, "declined", start + timedelta(hours=31))
        critical = add(session, start + timedelta(days=1), severity=Severity.CRITICAL)  # 2 h SLA, unheard
        add(session, END - timedelta(hours=1))  # unheard, SLA not run out: undecided
        idea = add(
            session, start + timedelta(hours=5), kind=ItemKind.IDEA, owner="U0OWNER", raiser_id="U0OWNER"
        )
        event(session, idea, "actioned", start + timedelta(days=2, hours=5))  # 2 days: within 7 days
        assert critical.id
    with session_factory() as session:
        digest = build_digest(session, end=END, members_of=lambda group: frozenset({"U0TEAM"}))
    loop = digest.loop
    assert loop.heard.median == timedelta(hours=30) and loop.heard.p90 == timedelta(hours=48)
    assert (loop.within_sla, loop.decided) == (2, 4)
    assert (loop.outside, loop.countable) == (4, 4)  # the idea isn't an alarm
    # The chart plots the same share for each week: here, the last.
    with session_factory() as session:
        series = chart_series(session, end=END)
    assert series.weeks[-1].heard_within_sla == pytest.approx(2 / 4)
    assert series.weeks[0].heard_within_sla is None  # nobody to count
    assert "50% of raisers heard within the SLA" in weekly.alt_text(series)


def test_outside_the_owning_team_counts_only_what_can_be_known() -> None:
    rows = [("S0TEAM", "U0IN", 2), ("S0TEAM", "U0OUT", 3), ("U0ME", "U0ME", 1), ("U0A,U0B", "U0X", 5)]
    assert _outside(rows, lambda group: frozenset({"U0IN"})) == (3, 6)
    assert _outside(rows, None) == (0, 1)


def test_the_headline_puts_two_problems_before_the_good_news() -> None:
    with_nothing = _digest_like()
    assert choose_headline(with_nothing) == ()
    everything = replace(
        with_nothing,
        past_sla_by_area=[PastSla(area="billing", count=4, oldest=timedelta(days=5))],
        verification=Verification(reopened=1),
        grey_unowned=2,
        credited_fix=CreditedFix(item_id=7, raiser_id="U0ANA", text="double charges"),
    )
    assert choose_headline(everything) == ("past_sla", "reopened", "fix")
    assert choose_headline(replace(everything, credited_fix=None)) == ("past_sla", "reopened", "grey")
    assert choose_headline(replace(everything, past_sla_by_area=[])) == ("reopened", "grey", "fix")


def _digest_like():  # type: ignore[no-untyped-def]
    from storage.figures import Digest, Flow, Speed, Window

    window = Window(
        flow={kind: Flow() for kind in ItemKind},
        to_acknowledge=Speed(None, None),
        to_action=Speed(None, None),
    )
    return Digest(
        start=END - timedelta(days=7),
        end=END,
        this_week=window,
        last_week=window,
        past_sla=0,
        oldest_past_sla=[],
        grey_came_in=0,
        grey_resolved=0,
        grey_unowned=0,
        by_area=[],
        by_stage=[],
        credited=[],
        top_ideas=[],
    )


def _digest_thread(fake: FakeSlack) -> str:
    [posted] = [c for c in fake.calls_to("chat.postMessage") if c.args["channel"] == "C0DIGEST"]
    return str(posted.response["ts"])


def test_the_chart_follows_the_digest_in_its_thread_by_the_two_step_upload(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    bot.command("/cx-alarm", "refund failed twice")
    bot.settle()
    clock.advance(hours=1)
    assert schedule.post_digest(bot.runtime.deps)
    bot.runtime.dispatcher.drain()
    thread = _digest_thread(fake_slack)
    posted = next(c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0DIGEST")
    assert "Nothing needs you this week" in posted.all_text() and "Does the loop close?" in posted.all_text()
    [ask] = fake_slack.calls_to("files.getUploadURLExternal")
    [upload] = fake_slack.uploads.values()
    assert int(ask.args["length"]) == len(upload.data or b"") and (upload.data or b"").startswith(PNG)
    assert "Chart of the last 12 weeks" in str(ask.args["alt_txt"])
    [done] = fake_slack.calls_to("files.completeUploadExternal")
    assert done.args["channel_id"] == "C0DIGEST" and done.args["thread_ts"] == thread
    assert done.args["files"][0]["id"] == upload.file_id and done.args["files"][0]["title"]
    fake_slack.assert_no_violations()


def test_a_chart_that_cannot_be_drawn_leaves_the_digest_posted_and_says_so(
    bot: BotUnderTest,
    fake_slack: FakeSlack,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(series: Series) -> bytes:
        raise RuntimeError("no fonts")

    monkeypatch.setattr(weekly, "draw", broken)
    assert schedule.post_digest(bot.runtime.deps)
    with caplog.at_level(logging.INFO):
        bot.runtime.dispatcher.drain()
    assert _digest_thread(fake_slack)
    assert not fake_slack.calls_to("files.getUploadURLExternal")
    assert "couldn't draw the digest's chart" in caplog.text


def test_a_retry_after_an_uncertain_upload_does_not_upload_twice(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    assert schedule.post_digest(bot.runtime.deps)
    bot.runtime.dispatcher.drain()
    factory = bot.runtime.deps.session_factory
    with factory() as session:
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "post_digest_chart")
        ).one()
    message.outcome_uncertain = True  # as if the share's answer never came
    client = bot.runtime.app.client
    delivered = post_digest_chart(DeliveryContext(client=client, session_factory=factory), message)
    assert delivered.result["file"] == next(iter(fake_slack.uploads))
    assert len(fake_slack.calls_to("files.getUploadURLExternal")) == 1
    assert fake_slack.calls_to("conversations.replies")


def test_the_preview_shows_the_chart_privately(bot: BotUnderTest, fake_slack: FakeSlack) -> None:
    bot.command("/cx-digest", "", user="U0ADMIN1", response_url=fake_slack.response_url("preview"))
    bot.settle()
    [preview] = fake_slack.calls_to("response_url")[-1:]
    [image] = [b for b in preview.args["blocks"] if b["type"] == "image"]
    [upload] = fake_slack.uploads.values()
    assert image["slack_file"] == {"id": upload.file_id} and image["alt_text"]
    assert upload.completed and upload.channel is None  # private to cxbot: shared nowhere
    assert not fake_slack.calls_to("chat.postMessage")
    fake_slack.assert_no_violations()


def test_a_preview_whose_chart_slack_refuses_comes_again_without_it(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    """Slack may refuse an image of a file it hasn't finished processing (400, invalid_blocks):
    the lead still gets the preview, with a line where the chart would be."""
    fake_slack.fail_next("response_url", status=400)
    bot.command("/cx-digest", "", user="U0ADMIN1", response_url=fake_slack.response_url("preview"))
    bot.settle()
    refused, shown = fake_slack.calls_to("response_url")[-2:]
    assert refused.fault == "http_400" and shown.fault is None
    assert "image" not in [b["type"] for b in shown.args["blocks"]]
    assert "The chart couldn't be made just now" in shown.all_text()
    assert "Weekly CX digest" in shown.all_text()


def test_cli_writes_the_chart(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main
    from storage.db import make_engine
    from storage.schema import migrate

    engine = make_engine(database_url)
    migrate(engine)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", database_url)
    out = tmp_path / "chart.png"
    assert main(["digest", "chart", "--out", str(out), "--at", "2026-11-16T09:00"]) == 0
    assert out.read_bytes().startswith(PNG)
    assert "Nothing raised in the last 12 weeks" in capsys.readouterr().out
    assert json.dumps  # keep the import used
