"""`cxbot export items|events`, in-process on SQLite and PostgreSQL: both formats, the window, stdout
or a file, anonymous raisers left blank everywhere, and text that round-trips through a CSV reader."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.capture.filing import file_item
from bot.capture.submission import Submission
from bot.items import lifecycle, metoo
from bot.items.permissions import Actor
from bot.ops.export import EVENT_COLUMNS, ITEM_COLUMNS, Progress, progress_bar
from bot.routing.routes_file import parse_routes
from bot.routing.rules import Triage
from storage import export as rows
from storage import routes as route_queries
from storage.db import transaction
from storage.export import Window
from storage.models import Item, ItemKind
from tests.support import ROUTES_TOML, FakeClock
from tests.test_cli import run_cli

TRIAGE = Triage(channel="C0TRIAGE", admins=("U0ADMIN1",))
# Said by a named raiser: quotes, commas, both line ends, a tab, NUL, accents and an emoji.
TRICKY = 'Refund "failed", twice\nsecond line\r\nthird\ttab \x00 NUL, café 🎉'
SECRETS = ("U0SECRET1", "U0SECRET2", "U0SECRET3", "U0SECRET4")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
README = Path(__file__).resolve().parents[1] / "README.md"


def _actor(user_id: str) -> Actor:
    return Actor(user_id=user_id, admins=TRIAGE.admins, members_of=lambda _group: frozenset())


def _file(session: Session, clock: FakeClock, raiser: str, text: str, **fields: Any) -> Item:
    kind = fields.pop("kind", ItemKind.ALARM)
    submission = Submission(kind=kind, text=text, raiser_id=raiser, **fields)
    number = file_item(session=session, submission=submission, triage=TRIAGE, now=clock())
    session.flush()
    item = session.get(Item, number)
    assert item is not None
    return item


def _seed(factory: sessionmaker[Session], clock: FakeClock) -> None:
    """Five items, a day apart from 2026-11-16 10:00 UTC (#1 to #5):
    #1 anonymous, actioned, its raiser declining public credit;
    #2 named, with tricky text, joined by an anonymous co-raiser and a named one;
    #3 anonymous, withdrawn by its raiser;
    #4 anonymous, folded into #2 by its raiser (who joins #2 anonymously);
    #5 a named idea with one upvote."""
    owner = _actor("U0BILLING")
    with transaction(factory) as session:
        specs = parse_routes(ROUTES_TOML, path="routes.toml")
        route_queries.import_routes(session=session, specs=specs, now=clock())
        first = _file(session, clock, "U0SECRET1", "refund failed again", anonymous=True)
        lifecycle.mark_actioned(
            session=session, item=first, actor=owner, now=clock(), what_was_done="Fixed", led_to_action=True
        )
        lifecycle.set_credit_consent(
            session=session, item=first, actor=_actor("U0SECRET1"), now=clock(), credit_me=False
        )
        clock.advance(days=1)
        second = _file(session, clock, "U0NAMED", TRICKY, customers="ACME, Inc.")
        for person, anonymous in (("U0SECRET2", True), ("U0METOO", False)):
            metoo.join(
                session=session,
                item=second,
                actor=_actor(person),
                now=clock(),
                via="card",
                anonymous=anonymous,
            )
        clock.advance(days=1)
        third = _file(session, clock, "U0SECRET3", "refund page blank", anonymous=True)
        lifecycle.withdraw(session=session, item=third, actor=_actor("U0SECRET3"), now=clock())
        clock.advance(days=1)
        fourth = _file(session, clock, "U0SECRET4", "charged twice for a refund", anonymous=True)
        metoo.join_instead(
            session=session,
            item=fourth,
            target=second,
            actor=_actor("U0SECRET4"),
            now=clock(),
            storm_joiners=5,
        )
        clock.advance(days=1)
        idea = _file(session, clock, "U0NAMED", "a refund button", kind=ItemKind.IDEA)
        lifecycle.toggle_vote(session=session, item=idea, voter="U0VOTER", now=clock())


@pytest.fixture
def seeded(
    session_factory: sessionmaker[Session],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    clock: FakeClock,
) -> sessionmaker[Session]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("CX_TIMEZONE", "Europe/London")
    _seed(session_factory, clock)
    return session_factory


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def _export(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run_cli(capsys, "export", *argv)
    assert (code, err) == (0, "")
    return out


def test_items_csv_has_the_documented_columns_and_round_trips_text(
    seeded: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    out = _export(capsys, "items")
    assert out.startswith(",".join(ITEM_COLUMNS) + "\r\n")
    items = {int(row["id"]): row for row in _csv(out)}
    assert list(items) == [1, 2, 3, 4, 5]
    named = items[2]
    assert named["text"] == TRICKY.replace("\x00", "\ufffd")
    assert named["customers"] == "ACME, Inc."
    assert (named["raiser"], named["anonymous"], named["co_raisers"], named["votes"]) == (
        "U0NAMED",
        "false",
        "3",
        "",
    )
    assert (named["severity"], named["acknowledged_at"], named["resolution"]) == ("", "", "")
    assert named["created_at"] == "2026-11-17T10:00:00.000Z"
    actioned = items[1]
    assert (actioned["status"], actioned["led_to_action"], actioned["credit"]) == (
        "actioned",
        "true",
        "declined",
    )
    assert (actioned["raiser"], actioned["anonymous"], actioned["acted_by"]) == ("", "true", "U0BILLING")
    assert (items[4]["status"], items[4]["duplicate_of"], items[4]["acted_by"]) == ("duplicate", "2", "")
    assert (items[5]["kind"], items[5]["votes"]) == ("idea", "1")
    for row in items.values():
        assert all(TIMESTAMP.fullmatch(row[name]) for name in ("created_at", "updated_at"))


def test_jsonl_items_and_events_parse_line_by_line(
    seeded: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    items = _jsonl(_export(capsys, "items", "--format", "jsonl"))
    assert [list(item) for item in items] == [list(ITEM_COLUMNS)] * 5
    assert items[1]["text"] == TRICKY.replace("\x00", "\ufffd")
    assert (items[1]["severity"], items[1]["anonymous"], items[1]["votes"]) == (None, False, None)
    events = _jsonl(_export(capsys, "events", "--format", "jsonl"))
    assert all(list(event) == list(EVENT_COLUMNS) for event in events)
    assert [event["id"] for event in events] == sorted(event["id"] for event in events)
    filed = [event for event in events if event["kind"] == "filed"]
    assert [event["item_id"] for event in filed] == [1, 2, 3, 4, 5]
    assert filed[1]["actor"] == "U0NAMED" and filed[1]["data"]["area"] == "billing"
    vote = next(event for event in events if event["kind"] == "vote")
    assert (vote["actor"], vote["item_id"], vote["data"]) == ("U0VOTER", 5, {})


def test_events_csv_holds_data_as_json_text(
    seeded: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    out = _export(capsys, "events")
    assert out.startswith("id,item_id,kind,actor,at,data\r\n")
    actioned = next(row for row in _csv(out) if row["kind"] == "actioned")
    assert json.loads(actioned["data"]) == {"what_was_done": "Fixed", "led_to_action": True}
    assert actioned["actor"] == "U0BILLING" and TIMESTAMP.fullmatch(actioned["at"])


def test_no_anonymous_raiser_appears_anywhere(
    seeded: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    """Not as raiser, acted_by, an event's actor (filed, credit_consent, withdrawn, duplicate,
    co_raised) nor in an event's data, in either table or format."""
    for table in ("items", "events"):
        for output_format in ("csv", "jsonl"):
            out = _export(capsys, table, "--format", output_format)
            assert "U0NAMED" in out or table == "events"
            assert not [secret for secret in SECRETS if secret in out], (table, output_format)
    events = _jsonl(_export(capsys, "events", "--format", "jsonl"))
    blank = {(event["item_id"], event["kind"]) for event in events if event["actor"] is None}
    assert blank == {
        (1, "filed"),
        (1, "credit_consent"),
        (2, "co_raised"),  # U0SECRET2 and U0SECRET4, both anonymous there
        (3, "filed"),
        (3, "withdrawn"),
        (4, "filed"),
        (4, "duplicate"),
    }
    named_join = [e for e in events if e["kind"] == "co_raised" and e["actor"] == "U0METOO"]
    assert len(named_join) == 1


def test_since_and_until_pick_a_window(
    seeded: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    """Since is inclusive, until exclusive; a bare date is midnight in CX_TIMEZONE (London, GMT)."""
    out = _export(capsys, "items", "--since", "2026-11-17T10:00:00Z", "--until", "2026-11-19T10:00:00Z")
    assert [row["id"] for row in _csv(out)] == ["2", "3"]
    out = _export(capsys, "items", "--since", "2026-11-18", "--format", "jsonl")
    assert [item["id"] for item in _jsonl(out)] == [3, 4, 5]
    events = _jsonl(_export(capsys, "events", "--until", "2026-11-17", "--format", "jsonl"))
    assert {event["item_id"] for event in events} == {1}
    assert {event["kind"] for event in events} == {"filed", "actioned", "credit_consent"}


def test_out_writes_the_same_rows_to_a_file(
    seeded: sessionmaker[Session], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "events.jsonl"
    code, out, err = run_cli(capsys, "export", "events", "--format", "jsonl", "--out", str(target))
    assert (code, err) == (0, "")
    written = target.read_text(encoding="utf-8")
    assert out == f"Wrote {len(written.splitlines())} events to {target}.\n"
    assert written == _export(capsys, "events", "--format", "jsonl")
    assert list(tmp_path.glob("*.part")) == []


def test_until_before_since_is_refused(
    seeded: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "export", "items", "--since", "2026-11-18", "--until", "2026-11-17")
    assert (code, out) == (2, "")
    assert err == "cxbot: --until must be later than --since\n"


def test_keyset_pages_cover_every_row_once(seeded: sessionmaker[Session]) -> None:
    window = Window(since=datetime(2026, 11, 17, tzinfo=UTC))
    seen: list[int] = []
    with seeded() as session:
        page = rows.items_page(session=session, window=window, after=0, limit=2)
        while page:
            seen += [record.id for record in page]
            page = rows.items_page(session=session, window=window, after=page[-1].id, limit=2)
        assert seen == [2, 3, 4, 5] and rows.count_items(session=session, window=window) == 4
        events = rows.events_page(session=session, window=Window(), after=0, limit=10_000)
        assert rows.count_events(session=session, window=Window()) == len(events)
        assert [record.id for record in events] == sorted({record.id for record in events})


class _Stream(io.StringIO):
    def __init__(self, *, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_progress_only_on_a_terminal_that_isnt_getting_the_rows() -> None:
    def shown(*, to_file: bool, stdout_tty: bool, stderr_tty: bool) -> bool:
        bar = progress_bar(
            "Exporting items", to_file=to_file, stdout=_Stream(tty=stdout_tty), stderr=_Stream(tty=stderr_tty)
        )
        return bar is not None

    assert shown(to_file=True, stdout_tty=True, stderr_tty=True)
    assert shown(to_file=False, stdout_tty=False, stderr_tty=True)  # rows piped on
    assert not shown(to_file=False, stdout_tty=True, stderr_tty=True)  # rows on the terminal
    assert not shown(to_file=True, stdout_tty=True, stderr_tty=False)  # stderr piped or logged


def test_progress_redraws_one_line() -> None:
    stream, ticks = _Stream(tty=True), iter([0.0, 0.1, 0.5])
    bar = Progress(stream, label="Exporting items", total=3000, clock=lambda: next(ticks))
    for _ in range(3):
        bar.advance(1000)
    bar.finish()
    assert stream.getvalue() == (
        "\rExporting items: 1,000 of 3,000 (33 %)"
        "\rExporting items: 3,000 of 3,000 (100 %)"
        "\rExporting items: 3,000 of 3,000 (100 %)\n"
    )


def test_no_progress_when_not_a_terminal(
    seeded: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "export", "items", "--out", "items.csv")
    assert (code, err) == (0, "")


def _readme_columns(heading: str) -> dict[str, str]:
    """The | `name` | meaning | rows of the table under README's `heading` line."""
    section = README.read_text(encoding="utf-8").split(heading, 1)[1]
    table = re.search(r"\| Column \| Meaning \|\n\| --- \| --- \|\n((?:\|.*\|\n)+)", section)
    assert table is not None, f"no column table after {heading!r} in README.md"
    found = {}
    for line in table.group(1).splitlines():
        name, meaning = (cell.strip() for cell in line.strip("|").split("|", 1))
        found[name.strip("`")] = meaning
    return found


def test_readme_documents_every_column_as_the_code_names_them() -> None:
    assert _readme_columns("**Items**") == dict(ITEM_COLUMNS)
    assert _readme_columns("**Events**") == dict(EVENT_COLUMNS)


def test_the_export_benchmark_runs_at_a_small_size(tmp_path: Path) -> None:
    """benchmarks/export.py end to end at 2,000 items on SQLite, and the page section it writes."""
    from benchmarks import export as benchmark

    results = benchmark.run_export(databases=["sqlite"], sizes=(2_000,))
    figures = results["databases"]["sqlite"]["2000"]
    assert figures["items"]["rows"] == 2_000 and figures["events"]["rows"] > 2_000
    assert all(0 < figures[table]["peak_rss_mb"] < 1_000 for table in ("items", "events"))
    section = benchmark.render(results, {"date": "today", "commit": "abc"}, "python -m benchmarks.export")
    page = benchmark.with_section("# Benchmarks\n\n## 3. Under Slack's limits\n", section)
    assert page.endswith(section) and benchmark.with_section(page, section) == page
    (tmp_path / "benchmarks.md").write_text(page, encoding="utf-8")
    assert benchmark.kept_section(tmp_path / "benchmarks.md") == section
