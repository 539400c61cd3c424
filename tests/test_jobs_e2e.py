"""Jobs end to end: the sweep's DMs and escalation as Slack sees them, the digest post and preview,
the scheduler's jobs on two replicas, catching up after downtime, and `cxbot jobs run`."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from bot.jobs import schedule
from bot.jobs.schedule import catch_up, digest_trigger, last_fire_time, make_scheduler
from bot.sandbox.fake_slack import FakeSlack
from bot.sandbox.slack_limits import SlackLimits
from bot.settings import Settings
from storage import jobs as job_queries
from storage.db import transaction
from storage.models import Event, Item, ItemKind, ItemStatus
from storage.routes import route_by_area
from tests.support import BotUnderTest, FakeClock, block_action, file_stale_alarm

OWNER = "U0BILLING"


def file_alarms(bot: BotUnderTest, *texts: str) -> None:
    for text in texts:
        bot.command("/cx-alarm", text)
    bot.settle()


def nags(fake: FakeSlack, user: str) -> list[dict[str, object]]:
    channel = "D" + user[1:]
    return [
        c.args
        for c in fake.calls_to("chat.postMessage")
        if (c.response or {}).get("channel") == channel and "waiting on you" in c.args["text"]
    ]


def test_one_dm_per_owner_listing_every_stale_item(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    fake_slack.set_user(OWNER, tz="Europe/London")
    file_alarms(bot, "refund one", "refund two", "invoice three")
    clock.advance(hours=24)
    result = schedule.sweep(bot.runtime.deps)
    bot.runtime.dispatcher.drain()
    assert (result.nagged_items, result.dms) == (3, 1)
    [dm] = nags(fake_slack, OWNER)
    shown = json.dumps(dm["blocks"])
    assert all(f"*#{n}*" in shown for n in (1, 2, 3))
    assert "24 h" in shown and "Snooze 1 day" in shown and "item_acknowledge" in shown
    assert [c.args["user"] for c in fake_slack.calls_to("users.info")] == [OWNER]

    schedule.sweep(bot.runtime.deps)  # the same period
    clock.advance(minutes=15)
    schedule.sweep(bot.runtime.deps)  # a new period, but nagged less than 24 h ago
    bot.runtime.dispatcher.drain()
    assert len(nags(fake_slack, OWNER)) == 1
    assert len(fake_slack.calls_to("users.info")) == 1  # the time zone is cached


def test_owner_in_another_time_zone_is_nagged_in_their_hours(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    fake_slack.set_user(OWNER, tz="America/Los_Angeles")
    file_alarms(bot, "refund one")
    clock.advance(hours=24)  # Tuesday 10:00 UTC is 02:00 in Los Angeles
    assert schedule.sweep(bot.runtime.deps).waiting_for_working_hours == 1
    clock.advance(hours=7)  # 17:00 UTC is 09:00 there
    assert schedule.sweep(bot.runtime.deps).nagged_items == 1
    bot.runtime.dispatcher.drain()
    assert len(nags(fake_slack, OWNER)) == 1


def test_snooze_from_the_nag_and_escalation_after_three(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    fake_slack.set_user(OWNER, tz="Europe/London")
    file_alarms(bot, "refund one")
    for _ in range(3):
        clock.advance(hours=24)
        schedule.sweep(bot.runtime.deps)
    bot.runtime.dispatcher.drain()
    assert len(nags(fake_slack, OWNER)) == 3
    clock.advance(hours=24)  # Friday: a 4th due sweep escalates
    assert schedule.sweep(bot.runtime.deps).escalated == 1
    bot.runtime.dispatcher.drain()
    [escalation] = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "U0CFO"]
    assert "hasn't answered 3 reminders" in escalation.all_text()
    card = fake_slack.calls_to("chat.postMessage")[0]
    [note] = [
        c for c in fake_slack.calls_to("chat.postMessage") if c.args.get("thread_ts") == card.response["ts"]
    ]
    assert "escalated to <@U0CFO>" in note.all_text()

    for expected in ("1 snooze left", "0 snoozes left", "snoozed 2 times already"):
        payload = block_action(
            action_id="item_snooze",
            value="1",
            user=OWNER,
            channel="D0BILLING",
            response_url=fake_slack.response_url("snooze"),
        )
        bot.interaction(payload)
        bot.settle()
        assert expected in fake_slack.calls_to("response_url")[-1].all_text()


def test_digest_posts_to_its_channel_and_admins_can_preview(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    file_alarms(bot, "refund one")
    clock.advance(hours=1)
    assert schedule.post_digest(bot.runtime.deps)
    assert not schedule.post_digest(bot.runtime.deps)
    bot.runtime.dispatcher.drain()
    [posted] = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0DIGEST"]
    assert "Weekly CX digest" in posted.all_text() and "1 raised" in posted.all_text()

    bot.command("/cx-digest", "", user="U0ADMIN1", response_url=fake_slack.response_url("preview"))
    bot.settle()
    [preview] = fake_slack.calls_to("response_url")[-1:]
    assert preview.args["response_type"] == "ephemeral" and "Weekly CX digest" in preview.all_text()
    refused = bot.command("/cx-digest", "", user="U0RAISER")
    assert "for the CX leads" in refused.json()["text"]


def test_a_missed_digest_runs_once_after_downtime(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    deps = bot.runtime.deps
    assert not catch_up(deps)  # a fresh install waits for its first scheduled time
    last_monday = last_fire_time(digest_trigger(deps), clock())
    assert last_monday is not None
    schedule.post_digest(deps, at=last_monday - timedelta(days=7))  # the week before: it did run then
    clock.advance(days=14)  # down for two Mondays
    assert catch_up(deps)
    assert not catch_up(deps)
    bot.runtime.dispatcher.drain()
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0DIGEST"]) == 2


def test_two_schedulers_on_postgres_fire_each_job_once(
    postgres_url: str,
    settings: Settings,
    fake_slack: FakeSlack,
    clock: FakeClock,
    start_bot: Callable[..., BotUnderTest],
) -> None:
    fake_slack.set_user(OWNER, tz="Europe/London")
    first, second = start_bot(database_url=postgres_url), start_bot(database_url=postgres_url)
    file_alarms(first, "refund one")
    clock.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 09:00: digest time, and the alarm is stale
    schedulers = [make_scheduler(first.runtime.deps), make_scheduler(second.runtime.deps)]
    fired = [job for scheduler in schedulers for job in scheduler.get_jobs()]
    assert sorted(job.id for job in fired) == ["digest", "digest", "nag", "nag", "roundup", "roundup"]
    barrier = threading.Barrier(len(fired))

    def fire(job: object) -> None:
        barrier.wait()
        job.func(*job.args)  # type: ignore[attr-defined]

    threads = [threading.Thread(target=fire, args=(job,)) for job in fired]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    first.runtime.dispatcher.drain()
    second.runtime.dispatcher.drain()
    assert len(nags(fake_slack, OWNER)) == 1
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0DIGEST"]) == 1
    roundups = [c for c in fake_slack.calls_to("chat.postMessage") if "You said, we did" in c.args["text"]]
    assert len(roundups) == 1
    with first.runtime.deps.session_factory() as session:
        assert job_queries.last_period(session=session, job="digest") is not None
        assert job_queries.last_period(session=session, job="roundup") is not None


def test_cxbot_jobs_run_with_at(
    fake_slack: FakeSlack,
    settings: Settings,
    routes_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    for name, value in {
        "SLACK_BOT_TOKEN": settings.slack_bot_token,
        "SLACK_API_URL": fake_slack.base_url,
        "DATABASE_URL": settings.database_url,
        "CX_ROUTES_FILE": str(routes_file),
        "CX_TRIAGE_CHANNEL": "C0TRIAGE",
        "CX_ADMINS": "U0ADMIN1",
        "CX_DIGEST_CHANNEL": "C0DIGEST",
        "CX_TIMEZONE": "Europe/London",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["jobs", "run", "digest", "--at", "2026-11-23T09:00"]) == 0
    assert "Digest queued." in capsys.readouterr().out
    assert main(["jobs", "run", "digest", "--at", "2026-11-23T09:00:00+00:00"]) == 0
    assert "already ran" in capsys.readouterr().out
    assert main(["jobs", "run", "nag", "--at", "2019-01-07T10:00"]) == 0
    assert "items nagged" in capsys.readouterr().out
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0DIGEST"]) == 1
    with pytest.raises(SystemExit):
        main(["jobs", "run", "digest", "--at", "next monday"])


def test_cxbot_run_schedules_its_jobs_on_round_times(bot: BotUnderTest) -> None:
    from bot.jobs.schedule import start_scheduler

    scheduler = start_scheduler(bot.runtime.deps)
    try:
        jobs_by_id = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs_by_id) == {"nag", "digest", "roundup"}
        nag_next = jobs_by_id["nag"].next_run_time
        assert nag_next.minute % 15 == 0 and nag_next.second == 0
        digest_next = jobs_by_id["digest"].next_run_time.astimezone(bot.runtime.deps.settings.zone)
        assert (digest_next.weekday(), digest_next.hour, digest_next.minute) == (0, 9, 0)
        roundup_next = jobs_by_id["roundup"].next_run_time.astimezone(bot.runtime.deps.settings.zone)
        assert (roundup_next.day, roundup_next.hour, roundup_next.minute) == (1, 10, 0)
        assert all(job.coalesce and job.max_instances == 1 for job in jobs_by_id.values())
    finally:
        scheduler.shutdown(wait=False)


@pytest.mark.parametrize("job", ["digest", "nag"])
def test_a_job_killed_between_its_claim_and_its_work_still_runs_once(
    job: str, postgres_url: str, fake_slack: FakeSlack, routes_file: Path, tmp_path: Path
) -> None:
    """`cxbot jobs run` is SIGKILLed after claiming its period and before its messages are
    queued (it waits for a lock this test holds on the outbox): the claim dies with it, and the
    next run does the job, once."""
    import os
    import subprocess
    import sys

    import psycopg

    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-1-test",
        "SLACK_API_URL": fake_slack.base_url,
        "DATABASE_URL": postgres_url,
        "CX_ROUTES_FILE": str(routes_file),
        "CX_TRIAGE_CHANNEL": "C0TRIAGE",
        "CX_ADMINS": "U0ADMIN1",
        "CX_DIGEST_CHANNEL": "C0DIGEST",
        "CX_TIMEZONE": "Europe/London",
    }
    at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # Monday 10:00 in London: working hours
    argv = [sys.executable, "-m", "bot.cli", "jobs", "run", job, "--at", at.isoformat()]
    fake_slack.set_user(OWNER, tz="Europe/London")
    file_stale_alarm(postgres_url, routes_file, at=at)  # so that the sweep has a nag to queue
    database = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(database) as holder, psycopg.connect(database, autocommit=True) as watcher:
        holder.execute("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE")
        killed = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            for _ in range(300):  # until it waits for the lock, its claim made
                waiting = watcher.execute(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'outbox'::regclass"
                ).fetchone()
                if waiting and waiting[0]:
                    break
                assert killed.poll() is None, killed.communicate()
                threading.Event().wait(0.1)
            else:
                raise AssertionError("the job never reached the outbox")
            claimed = watcher.execute("SELECT count(*) FROM job_runs").fetchone()
            assert claimed == (0,)  # its claim isn't committed: nobody else sees it
        finally:
            killed.kill()
            killed.wait(10)
        holder.rollback()
    rerun = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert "already ran" not in rerun.stdout
    again = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert "already ran" in again.stdout
    if job == "digest":
        posted = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"] == "C0DIGEST"]
    else:
        posted = nags(fake_slack, OWNER)
    assert len(posted) == 1


# A deactivated owner, and many owners under Slack's limits --------------------------------------------------


def card_updates(fake: FakeSlack) -> list[str]:
    card = fake.calls_to("chat.postMessage")[0]
    return [c.all_text() for c in fake.calls_to("chat.update") if c.args["ts"] == card.response["ts"]]


def test_a_deactivated_owners_alarm_goes_to_escalate_to_and_so_do_its_nags(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    fake_slack.set_user(OWNER, tz="Europe/London", deleted=True)
    fake_slack.set_user("U0CFO", tz="Europe/London")
    file_alarms(bot, "refund one")
    clock.advance(hours=24)
    result = schedule.sweep(bot.runtime.deps)
    bot.runtime.dispatcher.drain()
    assert (result.handed_over, result.dms) == (1, 1)
    [update] = card_updates(fake_slack)
    assert "*Owner*\n<@U0CFO>" in update
    assert len(nags(fake_slack, "U0CFO")) == 1
    assert nags(fake_slack, OWNER) == []
    with bot.runtime.deps.session_factory() as session:
        [event] = session.scalars(select(Event).where(Event.kind == "reassigned")).all()
    assert (event.actor, event.data["to_owner"], event.data["why"]) == ("cxbot", "U0CFO", "owner_deactivated")


def test_the_card_says_why_its_owner_changed(
    bot: BotUnderTest, fake_slack: FakeSlack, clock: FakeClock
) -> None:
    fake_slack.set_user(OWNER, tz="Europe/London", deleted=True)
    file_alarms(bot, "refund one")
    clock.advance(hours=24)
    schedule.sweep(bot.runtime.deps)
    bot.runtime.dispatcher.drain()
    [update] = card_updates(fake_slack)
    assert f"Reassigned to <@U0CFO>: <@{OWNER}>'s Slack account is deactivated." in update


def insert_stale_alarms(bot: BotUnderTest, owners: list[str], *, route: str) -> None:
    at = bot.runtime.deps.clock() - timedelta(days=3)
    with transaction(bot.runtime.deps.session_factory) as session:
        found = route_by_area(session=session, area=route)
        assert found is not None
        rows = [
            {
                "kind": ItemKind.ALARM,
                "status": ItemStatus.NEW,
                "text": f"refund problem for {owner}",
                "raiser_id": "U0RAISER",
                "anonymous": False,
                "route_id": found.id,
                "area": found.area,
                "grey_area": False,
                "routed_by": "keywords",
                "owner": owner,
                "channel": found.channel,
                "created_at": at,
                "updated_at": at,
            }
            for owner in owners
        ]
        session.execute(insert(Item), rows)


# What Slack is asked doesn't depend on the database; waiting out users.list's limit takes ~20 s.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_cold_sweep_over_2000_owners_asks_slack_15_times_at_most_under_its_limits(
    bot: BotUnderTest, fake_slack: FakeSlack
) -> None:
    owners = [f"U0OWN{n:05d}" for n in range(2000)]
    for owner in owners:
        fake_slack.set_user(owner, tz="Europe/London")
    fake_slack.set_usergroup("S0ONBOARD", ["U0OWN00001", "U0OWN00002"])
    insert_stale_alarms(bot, owners, route="billing")
    insert_stale_alarms(bot, ["S0ONBOARD"], route="onboarding")
    fake_slack.limits = SlackLimits()  # from here on, Slack's rate limits apply

    result = schedule.sweep(bot.runtime.deps)

    assert (result.nagged_items, result.dms) == (2001, 2000)
    directory = ("users.list", "users.info", "usergroups.users.list")
    asked = [c for c in fake_slack.calls if c.method in directory]
    assert len(asked) <= 15  # every call counts, refused or not
    assert fake_slack.calls_to("users.info") == []
    # users.list is Tier 2 (a burst of 5, then one every 3 s): the directory keeps to its pace,
    # so no page is refused with 429.
    assert {c.fault for c in asked} == {None}
