"""The `cxbot` command, in-process for its answers and as a real process for `run --http`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from bot.cli import main
from bot.sandbox.fake_slack import FakeSlack
from storage.db import make_engine, make_session_factory
from storage.models import Route
from tests.process import BotProcess
from tests.support import ADMINS, BOT_TOKEN, SIGNING_SECRET, TRIAGE

SETTING_NAMES = [
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "DATABASE_URL",
    "CX_ROUTES_FILE",
    "CX_TRIAGE_CHANNEL",
    "CX_KUDOS_CHANNEL",
    "CX_DIGEST_CHANNEL",
    "CX_ADMINS",
    "CX_TIMEZONE",
    "PORT",
]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Iterator[dict[str, str]]:
    """A clean environment in an empty directory, with only DATABASE_URL set."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    return {"DATABASE_URL": database_url}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_migrate_then_up_to_date(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "migrate")
    assert code == 0 and "Migrated the database schema from empty to" in out
    code, out, _ = run_cli(capsys, "migrate")
    assert code == 0 and "up to date" in out


def test_routes_import_and_list(
    env: dict[str, str], routes_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "routes", "list")
    assert code == 0 and "No routes yet" in out
    code, out, _ = run_cli(capsys, "routes", "import", str(routes_file))
    assert code == 0
    assert "added: billing, onboarding" in out and "2 active routes" in out
    code, out, _ = run_cli(capsys, "routes", "list")
    assert "billing" in out and "U0BILLING" in out and "refund, invoice, charged twice" in out

    routes_file.write_text(routes_file.read_text().split('[[routes]]\narea = "onboarding"')[0])
    code, out, _ = run_cli(capsys, "routes", "import", str(routes_file))
    assert "retired: onboarding" in out and "unchanged: billing" in out
    code, out, _ = run_cli(capsys, "routes", "list")
    assert "onboarding" not in out


def test_routes_export_round_trips(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `routes export` writes, `routes import` reads back unchanged: quotes, accents, every
    field and the stale_after periods and verify_after included."""
    original = tmp_path / "routes.toml"
    original.write_text(
        '[[routes]]\narea = "billing \\"EU\\""\nowner = "U0BILLING"\nchannel = "C0BILLING"\n'
        'keywords = ["refund", "facturé", "charged twice"]\nescalate_to = "S0FINANCE"\n'
        'stale_after = { alarm = "12h", idea = "7d", critical = "90m" }\nverify_after = 1.5\n\n'
        '[[routes]]\narea = "onboarding"\nowner = "S0ONBOARD"\nchannel = "C0ONBOARD"\nkeywords = []\n'
        "verify_after = 0\n",
        encoding="utf-8",
    )
    assert run_cli(capsys, "routes", "import", str(original))[0] == 0
    exported = tmp_path / "exported.toml"
    code, out, _ = run_cli(capsys, "routes", "export", str(exported))
    assert code == 0 and "Wrote 2 routes" in out
    code, out, _ = run_cli(capsys, "routes", "import", str(exported))
    assert code == 0 and 'unchanged: billing "EU", onboarding' in out
    assert "added" not in out and "changed:" not in out.replace("unchanged:", "") and "retired" not in out
    code, out, _ = run_cli(capsys, "routes", "export")
    assert out == exported.read_text(encoding="utf-8")


def test_bad_routes_file_is_refused_with_file_line_and_problem(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[routes]]\narea = "billing"\nowner = "alice"\nchannel = "C0X1"\n')
    code, _, err = run_cli(capsys, "routes", "import", str(bad))
    assert code == 2
    assert (
        err.strip()
        == f"cxbot: {bad}:3: 'owner' must be a user ID (U...) or user group ID (S...), got 'alice'"
    )
    code, _out, err = run_cli(capsys, "routes", "import", str(tmp_path / "missing.toml"))
    assert code == 2 and "no such file" in err


def test_run_names_the_first_missing_setting(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "run", "--http")
    assert code == 2
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith("cxbot: CX_TRIAGE_CHANNEL is not set")


def test_run_without_app_token_or_http_says_what_to_do(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("CX_TRIAGE_CHANNEL", TRIAGE)
    monkeypatch.setenv("CX_ADMINS", ",".join(ADMINS))
    code, _, err = run_cli(capsys, "run")
    assert code == 2 and "SLACK_APP_TOKEN is not set" in err and "--http" in err
    monkeypatch.setenv("PORT", "http")
    code, _, err = run_cli(capsys, "run", "--http")
    assert code == 2 and "SLACK_SIGNING_SECRET is not set" in err
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    code, _, err = run_cli(capsys, "run", "--http")
    assert code == 2 and err.startswith("cxbot: PORT must be a number")


def test_run_refuses_a_schema_from_a_newer_cxbot(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "migrate")[0] == 0
    engine = make_engine(env["DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    engine.dispose()
    code, _, err = run_cli(capsys, "migrate")
    assert code == 2 and "9999_future" in err and "newer cxbot" in err


def test_cxbot_run_http_serves_slack_and_delivers(
    env: dict[str, str], fake_slack: FakeSlack, routes_file: Path, tmp_path: Path
) -> None:
    bot = BotProcess(
        fake=fake_slack,
        database_url=env["DATABASE_URL"],
        routes_file=routes_file,
        log=tmp_path / "cxbot.log",
        scheduler=True,
    ).start()
    try:
        assert bot.command("refund missing", response_url=fake_slack.response_url("cli"), trigger="t1") == 200
        [card] = fake_slack.wait_for("chat.postMessage", timeout=20)
        assert card.args["channel"] == "C0BILLING"
        fake_slack.wait_for("response_url", timeout=20)
    finally:
        bot.stop()
    assert bot.process is not None and bot.process.returncode == 0


def test_dotenv_in_the_working_directory_is_loaded(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL")
    other = tmp_path / "from-dotenv.db"
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{other}\n")
    assert run_cli(capsys, "migrate")[0] == 0
    assert other.is_file()


def test_outbox_status_and_retry(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    from storage import outbox as queue
    from storage.db import make_session_factory, transaction
    from storage.schema import migrate as migrate_schema
    from tests.support import FakeClock

    clock = FakeClock()
    engine = make_engine(env["DATABASE_URL"])
    migrate_schema(engine)
    with transaction(make_session_factory(engine)) as session:
        card = queue.NewMessage(kind="post_card", payload={}, item_id=None)
        message = queue.enqueue(session=session, message=card, now=clock())
        session.flush()
        queue.mark_failed(session=session, message_id=message.id, error="channel_not_found")
    engine.dispose()
    code, out, _ = run_cli(capsys, "outbox")
    assert code == 0
    assert "0 pending, 0 sending, 0 sent, 1 failed" in out and "channel_not_found" in out
    code, out, _ = run_cli(capsys, "outbox", "retry")
    assert out.startswith("1 failed message queued again")
    assert "1 pending" in run_cli(capsys, "outbox")[1]


def test_routes_claimed_in_slack_are_kept_by_import_unless_replace(
    env: dict[str, str], routes_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The database is where routes live: a route claimed from a grey-area card survives an import
    of a file that lacks it, and the output says so; --replace retires it; export writes it, and
    importing the export changes nothing."""
    assert run_cli(capsys, "routes", "import", str(routes_file))[0] == 0
    engine = make_engine(env["DATABASE_URL"])
    try:
        with make_session_factory(engine)() as session, session.begin():
            claim_a_route(session, area="Gift cards", claimer="U0CARL")
    finally:
        engine.dispose()

    code, out, _ = run_cli(capsys, "routes", "import", str(routes_file))
    assert code == 0 and "kept: Gift cards (claimed in Slack by U0CARL)" in out
    assert "retired" not in out and "run this again with --replace" in out
    assert "Gift cards" in run_cli(capsys, "routes", "list")[1]

    exported = tmp_path / "exported.toml"
    assert run_cli(capsys, "routes", "export", str(exported))[0] == 0
    assert "# claimed in Slack by U0CARL" in exported.read_text(encoding="utf-8")
    code, out, _ = run_cli(capsys, "routes", "import", str(exported))
    assert "unchanged: billing, onboarding, Gift cards (claimed in Slack by U0CARL)" in out
    assert "kept" not in out and "retired" not in out and "added" not in out

    code, out, _ = run_cli(capsys, "routes", "import", "--replace", str(routes_file))
    assert code == 0 and "retired: Gift cards (claimed in Slack by U0CARL)" in out
    assert "Gift cards" not in run_cli(capsys, "routes", "list")[1]


def claim_a_route(session: Session, *, area: str, claimer: str) -> None:
    now = datetime.now(UTC)
    session.add(
        Route(
            area=area,
            owner=claimer,
            channel="C0GIFTS",
            keywords=["gift card"],
            position=9,
            active=True,
            updated_at=now,
            claimed_by=claimer,
            claimed_at=now,
        )
    )


def test_kept_claimed_routes_must_fit_slacks_area_menu(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """99 routes in the file and one claimed in Slack would be 100 areas and "not sure": more than
    a Slack menu holds. The import says so, names the claimed route, and changes nothing."""
    full = tmp_path / "full.toml"
    full.write_text(
        "".join(
            f'[[routes]]\narea = "area {n}"\nowner = "U0OWNER"\nchannel = "C0AREA{n:03d}"\n\n'
            for n in range(99)
        ),
        encoding="utf-8",
    )
    assert run_cli(capsys, "migrate")[0] == 0
    engine = make_engine(env["DATABASE_URL"])
    try:
        with make_session_factory(engine)() as session, session.begin():
            claim_a_route(session, area="Gift cards", claimer="U0CARL")
    finally:
        engine.dispose()
    code, _, err = run_cli(capsys, "routes", "import", str(full))
    assert code != 0 and "Gift cards" in err and "--replace" in err
    assert "area 1" not in run_cli(capsys, "routes", "list")[1]
    assert run_cli(capsys, "routes", "import", "--replace", str(full))[0] == 0
