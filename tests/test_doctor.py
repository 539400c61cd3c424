"""`cxbot doctor` against the fake Slack: a healthy setup, and one with each problem an admin meets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.sandbox.fake_slack import FakeSlack
from storage import outbox as outbox_queries
from storage.db import make_engine, make_session_factory, transaction
from tests.support import ADMINS, BOT_TOKEN, TRIAGE

Doctor = Callable[[], tuple[int, list[str]]]


@pytest.fixture
def healthy(
    fake_slack: FakeSlack, database_url: str, routes_file: Path, monkeypatch: pytest.MonkeyPatch
) -> FakeSlack:
    """A workspace where everything the settings and routes name is there."""
    for channel in (TRIAGE, "C0KUDOS", "C0DIGEST", "C0BILLING", "C0ONBOARD"):
        fake_slack.set_channel(channel)
    for person in (*ADMINS, "U0BILLING", "U0CFO"):
        fake_slack.set_user(person)
    fake_slack.set_usergroup("S0ONBOARD", ["U0ONB1"])
    for name, value in {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": fake_slack.base_url,
        "DATABASE_URL": database_url,
        "CX_TRIAGE_CHANNEL": TRIAGE,
        "CX_KUDOS_CHANNEL": "C0KUDOS",
        "CX_DIGEST_CHANNEL": "C0DIGEST",
        "CX_ADMINS": ",".join(ADMINS),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(routes_file.parent)
    assert main(["routes", "import", str(routes_file)]) == 0
    return fake_slack


@pytest.fixture
def doctor(healthy: FakeSlack, capsys: pytest.CaptureFixture[str]) -> Doctor:
    def run() -> tuple[int, list[str]]:
        capsys.readouterr()
        code = main(["doctor"])
        return code, capsys.readouterr().out.splitlines()

    return run


def crossed(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("✗")]


def test_a_healthy_setup_is_all_ticks(doctor: Doctor) -> None:
    code, lines = doctor()
    assert code == 0, lines
    assert crossed(lines) == []
    subjects = [line.split(":")[0] for line in lines]
    assert subjects[:3] == ["✓ Settings", "✓ Database", "✓ Slack token (workspace Test)"]
    assert "✓ Route 'billing'" in subjects and "✓ Route 'onboarding'" in subjects
    assert "✓ CX_TRIAGE_CHANNEL (C0TRIAGE)" in subjects
    assert lines[-1] == "All is well."


@pytest.mark.parametrize(
    ("break_it", "subject", "says"),
    [
        (
            lambda fake: fake.set_channel("C0BILLING", name="billing", archived=True),
            "Route 'billing'",
            "#billing is archived",
        ),
        (
            lambda fake: fake.set_channel("C0ONBOARD", private=True, member=False),
            "Route 'onboarding'",
            "`/invite @cxbot`",
        ),
        (
            lambda fake: fake._channels.pop("C0DIGEST"),
            "CX_DIGEST_CHANNEL (C0DIGEST)",
            "there is no channel C0DIGEST",
        ),
        (
            lambda fake: fake.set_user("U0BILLING", deleted=True),
            "Route 'billing'",
            "U0BILLING has been deactivated",
        ),
        (lambda fake: fake.set_user("U0CFO", deleted=True), "Route 'billing'", "U0CFO has been deactivated"),
        (lambda fake: fake._groups.pop("S0ONBOARD"), "Route 'onboarding'", "no user group S0ONBOARD"),
        (lambda fake: fake._users.pop("U0ADMIN2"), "CX lead (CX_ADMINS) U0ADMIN2", "no user U0ADMIN2"),
        (
            lambda fake: setattr(fake, "scopes", ["commands", "chat:write"]),
            "Slack token (workspace Test)",
            "missing the scopes chat:write.public",
        ),
        (
            lambda fake: fake.fail_next("auth.test", status=200, error="invalid_auth"),
            "Slack token",
            "Slack refused it (invalid_auth)",
        ),
    ],
)
def test_each_problem_is_named_with_its_fix(
    doctor: Doctor, healthy: FakeSlack, break_it: Callable[[FakeSlack], object], subject: str, says: str
) -> None:
    break_it(healthy)
    code, lines = doctor()
    assert code == 1
    [problem] = crossed(lines)
    assert problem.startswith(f"✗ {subject}:") and says in problem, problem
    assert lines[-1] == "Fix what is marked ✗, then run `cxbot doctor` again."


def test_failed_outbox_messages_are_reported(doctor: Doctor, database_url: str) -> None:
    engine = make_engine(database_url)
    with transaction(make_session_factory(engine)) as session:
        card = outbox_queries.NewMessage(kind="post_card", payload={}, item_id=None)
        message = outbox_queries.enqueue(session=session, message=card, now=datetime(2026, 12, 1, tzinfo=UTC))
        session.flush()
        outbox_queries.mark_failed(session=session, message_id=message.id, error="channel_not_found")
    engine.dispose()
    code, lines = doctor()
    assert code == 1
    [problem] = crossed(lines)
    assert problem.startswith("✗ Outbox: 1 message Slack refused") and "cxbot outbox retry" in problem


def test_a_database_not_yet_migrated(doctor: Doctor, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    code, lines = doctor()
    assert code == 1
    [problem] = crossed(lines)
    assert problem.startswith("✗ Database:") and "run `cxbot migrate`" in problem


def test_missing_settings_stop_at_once(doctor: Doctor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CX_TRIAGE_CHANNEL")
    code, lines = doctor()
    assert code == 1
    assert lines[0].startswith("✗ Settings:") and "CX_TRIAGE_CHANNEL" in lines[0]
    assert len(lines) == 2  # nothing else can be checked without them
