"""Benchmarks under Slack's limits: the fake Slack answers 429 as Slack would
(bot/sandbox/slack_limits.py) and cxbot paces itself (bot/outbox/pacing.py).

- Storm: 1,000 alarms in 60 s, 70 % of them routed to one channel, at `cxbot run --http`.
  Targets: every card posted; 429s under 1 % of cxbot's Web API calls; the busy channel's last
  card within 10 % of the earliest the per-channel limit allows; p95 from filing to the raiser's
  confirmation under 5 s, for every raiser, those whose cards wait included.
- Nag sweep for 2,000 owners, each with a stale alarm, by `cxbot jobs run nag` on a cold directory
  cache. Targets: at most 15 directory calls; every DM delivered; the DMs' delivery within 10 % of
  the least time the fake's workspace-wide cap allows.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import REPO_ROOT, log, percentile
from benchmarks.storm import count_items, database, send_storm, served_cxbot
from bot.sandbox.fake_slack import Call, FakeSlack
from bot.sandbox.slack_limits import (
    CHANNEL_BURST,
    CHANNEL_PER_SECOND,
    WORKSPACE_POSTS_PER_MINUTE,
    SlackLimits,
)
from tests.support import ADMINS, BOT_TOKEN, TRIAGE

STORM_ALARMS = 1_000
STORM_SECONDS = 60.0
BUSY_CHANNEL = "C0BILLING"
# 7 in 10 route to billing, 2 to onboarding, 1 to no area (triage).
STORM_TEXTS = (
    *(["Refund never arrived for order {n}"] * 7),
    *(["The signup welcome email never came ({n})"] * 2),
    "Live chat widget is down for customer {n}",
)
CONFIRM_P95_TARGET_S = 5.0
RATELIMITED_SHARE_TARGET = 0.01
WITHIN = 1.10
DIRECTORY_METHODS = ("users.list", "users.info", "usergroups.users.list")
DIRECTORY_CALLS_TARGET = 15
NAG_OWNERS = 2_000
# A Tuesday, 10:00 in London: every owner's working hours.
NAG_AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def run_paced(*, databases: list[str], parts: tuple[str, ...] = ("storm", "nag")) -> dict[str, Any]:
    results: dict[str, Any] = {part: {} for part in parts}
    for name in databases:
        if "storm" in parts:
            results["storm"][name] = paced_storm(name)
        if "nag" in parts:
            results["nag"][name] = paced_nag_sweep(name)
    return results


# The storm ------------------------------------------------------------------------------------------------


def paced_storm(name: str, *, alarms: int = STORM_ALARMS, seconds: float = STORM_SECONDS) -> dict[str, Any]:
    with (
        FakeSlack(limits=SlackLimits()) as fake,
        database(name) as url,
        tempfile.TemporaryDirectory() as folder,
        served_cxbot(fake, url, Path(folder)) as (events_url, _pid),
    ):
        log(f"paced storm on {name}: {alarms} alarms over {seconds:.0f} s, 70 % to one channel")
        started = time.monotonic()
        load = send_storm(
            events_url, fake=fake, requests=alarms, seconds=seconds, clients=16, texts=STORM_TEXTS
        )
        busy = sum(1 for n in range(alarms) if "Refund" in STORM_TEXTS[n % len(STORM_TEXTS)])
        cards = _wait_for_cards(fake, alarms, timeout=busy / CHANNEL_PER_SECOND * 1.5 + 120)
        stored = count_items(url)
        result = _storm_figures(fake, load.sent_at, started=started, alarms=alarms, busy=busy, cards=cards)
        result |= {"sent": load.sent, "acked": len(load.latencies), "stored": stored}
        result["p99_ack_ms"] = percentile(load.latencies, 0.99)
    log(f"paced storm on {name}: {result}")
    return result


def _wait_for_cards(fake: FakeSlack, alarms: int, *, timeout: float) -> list[Call]:
    deadline = time.monotonic() + timeout
    while True:
        cards = [c for c in fake.calls_to("chat.postMessage") if c.fault is None and c.response.get("ok")]
        if len(cards) >= alarms or time.monotonic() > deadline:
            return cards
        time.sleep(1.0)


def _storm_figures(
    fake: FakeSlack, sent_at: dict[int, float], *, started: float, alarms: int, busy: int, cards: list[Call]
) -> dict[str, Any]:
    web_api = [c for c in fake.calls if c.method != "response_url"]
    ratelimited = sum(1 for c in web_api if c.fault == "http_429")
    busy_cards = [c for c in cards if c.args["channel"] == BUSY_CHANNEL]
    last_busy = max((c.at for c in busy_cards), default=float("nan")) - started
    # The fake lets CHANNEL_BURST through at once, then one a second.
    least_busy = (busy - CHANNEL_BURST) / CHANNEL_PER_SECOND
    confirmations = {c.path.rsplit("/", 1)[1]: c.at for c in fake.calls_to("response_url") if c.fault is None}
    waits = [
        confirmations[f"storm-{n}"] - sent for n, sent in sent_at.items() if f"storm-{n}" in confirmations
    ]
    return {
        "alarms": alarms,
        "cards": len(cards),
        "busy_cards": len(busy_cards),
        "web_api_calls": len(web_api),
        "ratelimited": ratelimited,
        "ratelimited_share": ratelimited / len(web_api) if web_api else 0.0,
        "last_busy_card_s": last_busy,
        "least_busy_s": least_busy,
        "busy_ratio": last_busy / least_busy if least_busy > 0 else float("nan"),
        "confirmed": len(waits),
        "confirm_p50_s": percentile(waits, 0.50),
        "confirm_p95_s": percentile(waits, 0.95),
        "confirm_max_s": max(waits, default=float("nan")),
        "calls_by_method": dict(Counter(c.method for c in web_api)),
    }


# The nag sweep ---------------------------------------------------------------------------------------------


def paced_nag_sweep(name: str, *, owners: int = NAG_OWNERS) -> dict[str, Any]:
    with (
        FakeSlack(limits=SlackLimits()) as fake,
        database(name) as url,
        tempfile.TemporaryDirectory() as folder,
    ):
        people = [f"U0OWN{n:05d}" for n in range(owners)]
        for person in (*people, *ADMINS):
            fake.set_user(person, tz="Europe/London")
        _seed_stale_alarms(url, people)
        log(f"paced nag sweep on {name}: {owners:,} owners with a stale alarm each")
        started = time.monotonic()
        done = _run_nag(url, fake, Path(folder))
        finished = time.monotonic()
        dms = [
            c
            for c in fake.calls_to("chat.postMessage")
            if c.fault is None and c.response.get("ok") and "waiting on you" in c.args.get("text", "")
        ]
        directory = [c for c in fake.calls if c.method in DIRECTORY_METHODS]
        first_dm = min((c.at for c in dms), default=float("nan"))
        last_dm = max((c.at for c in dms), default=float("nan"))
        workspace_rate = WORKSPACE_POSTS_PER_MINUTE / 60.0
        least = (len(dms) - workspace_rate * 15.0) / workspace_rate  # the fake's burst: 15 s of its rate
        result = {
            "owners": owners,
            "dms": len(dms),
            "dm_recipients": len({c.args["channel"] for c in dms}),
            "directory_calls": len(directory),
            "directory_by_method": dict(Counter(c.method for c in directory)),
            "ratelimited": sum(1 for c in fake.calls if c.fault == "http_429"),
            "sweep_to_first_dm_s": first_dm - started,
            "dm_delivery_s": last_dm - first_dm,
            "to_last_dm_s": last_dm - started,
            "least_delivery_s": least,
            "delivery_ratio": (last_dm - first_dm) / least if least > 0 else float("nan"),
            "command_s": finished - started,
            "exit_code": done.returncode,
        }
    log(f"paced nag sweep on {name}: {result}")
    return result


def _seed_stale_alarms(database_url: str, people: list[str]) -> None:
    from storage.db import make_engine, make_session_factory, transaction
    from storage.items import insert_item
    from storage.models import ItemKind, ItemStatus
    from storage.schema import migrate

    engine = make_engine(database_url)
    try:
        migrate(engine)
        filed = NAG_AT - timedelta(days=3)
        with transaction(make_session_factory(engine)) as session:
            for n, person in enumerate(people):
                insert_item(
                    session=session,
                    row={
                        "kind": ItemKind.ALARM,
                        "status": ItemStatus.NEW,
                        "text": f"Customer {n} can't log in",
                        "raiser_id": "U0RAISER",
                        "anonymous": False,
                        "grey_area": False,
                        "routed_by": "keywords",
                        "area": "accounts",
                        "owner": person,
                        "channel": BUSY_CHANNEL,
                        "card_ts": f"1764000000.{n:06d}",
                        "intake_key": f"bench:{n}",
                        "created_at": filed,
                        "updated_at": filed,
                    },
                )
    finally:
        engine.dispose()


def _run_nag(database_url: str, fake: FakeSlack, folder: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": fake.base_url,
        "DATABASE_URL": database_url,
        "CX_TRIAGE_CHANNEL": TRIAGE,
        "CX_ADMINS": ",".join(ADMINS),
        "CX_TIMEZONE": "Europe/London",
        "LOG_LEVEL": "WARNING",
    }
    argv = [sys.executable, "-m", "bot.cli", "jobs", "run", "nag", "--at", NAG_AT.isoformat()]
    done = subprocess.run(
        argv, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800, check=False
    )
    with contextlib.suppress(OSError):
        (folder / "nag.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        raise RuntimeError(f"cxbot jobs run nag failed:\n{done.stderr[-3000:]}")
    return done


TARGETS = (
    "every card",
    "429s < 1 %",
    "busy channel within 10 %",
    "confirmation p95 < 5 s",
    "≤ 15 directory calls",
    "every DM",
    "DMs within 10 %",
)


def verdicts(paced: dict[str, Any]) -> dict[str, dict[str, bool]]:
    out: dict[str, dict[str, bool]] = {}
    for name, storm in paced["storm"].items():
        nag = paced["nag"][name]
        out[name] = {
            "every card": storm["cards"] == storm["alarms"] == storm["stored"],
            "429s < 1 %": storm["ratelimited_share"] < RATELIMITED_SHARE_TARGET,
            "busy channel within 10 %": storm["busy_ratio"] <= WITHIN,
            "confirmation p95 < 5 s": storm["confirm_p95_s"] < CONFIRM_P95_TARGET_S
            and storm["confirmed"] == storm["alarms"],
            "≤ 15 directory calls": nag["directory_calls"] <= DIRECTORY_CALLS_TARGET,
            "every DM": nag["dms"] == nag["owners"],
            "DMs within 10 %": nag["delivery_ratio"] <= WITHIN,
        }
    return out
