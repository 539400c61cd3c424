"""`cxbot export items|events`: every item or event as CSV or JSON Lines, for a BI tool.

Rows are read a page at a time (storage/export.py) and written as they come, so memory stays flat
whatever the size. The columns below are the export's contract: README's tables list them, and a
test holds the two together. Anonymous raisers and co-raisers are blank wherever their item's rows
would name them: the raiser column, acted_by, an event's actor, and values in an event's data.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal, TextIO, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from storage import export as rows
from storage.export import EventRecord, ItemRecord, Window

Table = Literal["items", "events"]
Format = Literal["csv", "jsonl"]
_Record = TypeVar("_Record", ItemRecord, EventRecord)

ITEM_COLUMNS: Mapping[str, str] = {
    "id": "the item's number, as in #12",
    "kind": "`alarm` or `idea`",
    "status": "`new`, `acknowledged`, `actioned`, `declined`, `duplicate` or `withdrawn`",
    "severity": "`low`, `medium`, `high` or `critical`; empty for ideas and alarms filed without one",
    "journey_stage": "`discover`, `buy`, `onboard`, `use`, `get_help`, `renew` or `leave`; empty if none",
    "area": "the route's area; empty while it is a grey area",
    "grey_area": "`true` while it waits in triage with no owner",
    "routed_by": "how it was first routed: `picked` (by the raiser), `keywords` or `grey_area`",
    "owner": "the owner's user ID, or user group ID (`S…`); the CX leads, comma-separated, for a grey area",
    "channel": "the channel ID its card is in",
    "raiser": "the raiser's user ID; empty if they filed anonymously",
    "anonymous": "`true` if it was filed anonymously",
    "co_raisers": 'how many people said "me too" (anonymous ones included)',
    "votes": "upvotes now, for an idea; empty for an alarm",
    "created_at": "when it was raised",
    "updated_at": "when it last changed",
    "acknowledged_at": "when it was first acknowledged; empty if not yet",
    "closed_at": "when it was actioned, declined, marked a duplicate or withdrawn; empty while open",
    "acted_by": "who actioned, declined or merged it (user ID); "
    "empty otherwise, or if an anonymous raiser did",
    "led_to_action": "for an actioned item, whether raising it led to action; empty otherwise",
    "credit": "public thanks: `none`, `asked` (an anonymous raiser, who hasn't answered), "
    "`declined` or `posted`",
    "duplicate_of": "the item it was folded into, for a duplicate",
    "text": "what was raised, as typed",
    "customers": "which customers are affected, as typed; empty if not given",
    "resolution": "what was done, or why it was declined, as the owner wrote it",
}

EVENT_COLUMNS: Mapping[str, str] = {
    "id": "the event's number; events happened in this order",
    "item_id": "the item it is about (`id` in the items export)",
    "kind": "what happened: `filed`, `acknowledged`, `actioned`, `declined`, `reopened`, `reassigned`, "
    "`co_raised`, `vote`, `nagged`, `comment`…",
    "actor": "who did it (user ID), or `cxbot`; empty if it was the item's anonymous raiser or co-raiser",
    "at": "when it happened",
    "data": "the details, a JSON object (in CSV, as JSON text); its keys depend on `kind`",
}

COLUMNS: Mapping[Table, Mapping[str, str]] = {"items": ITEM_COLUMNS, "events": EVENT_COLUMNS}

# No BI tool loads NUL, and UTF-8 can't hold a lone surrogate: both are written as U+FFFD.
_UNLOADABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class Request:
    table: Table
    format: Format
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    @property
    def window(self) -> Window:
        return Window(since=self.since, until=self.until)


def item_row(record: ItemRecord) -> dict[str, Any]:
    item, hidden = record.item, record.anonymous_people
    return {
        **{name: item[name] for name in ITEM_COLUMNS if name in item},
        "raiser": None if item["anonymous"] else item["raiser_id"],
        "acted_by": None if item["acted_by"] in hidden else item["acted_by"],
        "co_raisers": record.co_raisers,
        "votes": record.votes if item["kind"] == "idea" else None,
        "duplicate_of": item["duplicate_of_id"],
    }


def event_row(record: EventRecord) -> dict[str, Any]:
    event, hidden = record.event, record.anonymous_people
    return {
        **event,
        "actor": None if event["actor"] in hidden else event["actor"],
        "data": _without(event["data"] or {}, hidden),
    }


def _without(value: Any, hidden: frozenset[str]) -> Any:
    """The event's data with every value that is one of `hidden` made null."""
    if isinstance(value, dict):
        return {key: _without(inner, hidden) for key, inner in value.items()}
    if isinstance(value, list):
        return [_without(inner, hidden) for inner in value]
    if isinstance(value, str) and value in hidden:
        return None
    return value


def _text(value: str) -> str:
    return _UNLOADABLE.sub(REPLACEMENT, value)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _timestamp(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {_text(key): _json_value(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_json_value(inner) for inner in value]
    return value


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return _json_dumps(value)
    return str(_json_value(value))


def _json_dumps(value: Any) -> str:
    return json.dumps(_json_value(value), ensure_ascii=False, separators=(",", ":"))


class Writer:
    """Rows out as CSV (RFC 4180: a header, CRLF line ends, quoted where needed) or JSON Lines."""

    def __init__(self, out: TextIO, *, columns: Mapping[str, str], output_format: Format) -> None:
        self._out = out
        self._names = list(columns)
        self._csv = csv.writer(out) if output_format == "csv" else None
        if self._csv is not None:
            self._csv.writerow(self._names)

    def write(self, row: Mapping[str, Any]) -> None:
        if self._csv is not None:
            self._csv.writerow([_csv_cell(row[name]) for name in self._names])
        else:
            self._out.write(_json_dumps({name: row[name] for name in self._names}) + "\n")


class Progress:
    """A one-line count on a terminal, redrawn at most every `every` seconds."""

    def __init__(
        self,
        stream: TextIO,
        *,
        label: str,
        total: int,
        every: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream, self._label, self._total = stream, label, total
        self._every, self._clock = every, clock
        self._done = 0
        self._shown_at = float("-inf")

    def advance(self, rows: int) -> None:
        self._done += rows
        now = self._clock()
        if now - self._shown_at >= self._every:
            self._shown_at = now
            self._show()

    def finish(self) -> None:
        self._show()
        self._stream.write("\n")
        self._stream.flush()

    def _show(self) -> None:
        share = 100 * self._done // self._total if self._total else 100
        self._stream.write(f"\r{self._label}: {self._done:,} of {self._total:,} ({share} %)")
        self._stream.flush()


def progress_bar(
    label: str, *, to_file: bool, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> Callable[[int], Progress] | None:
    """A bar on stderr, only when it is a terminal and the rows aren't going to a terminal too."""
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    if not stderr.isatty() or not (to_file or not stdout.isatty()):
        return None
    return partial(Progress, stderr, label=label)


def export(
    *,
    session_factory: sessionmaker[Session],
    request: Request,
    out: TextIO,
    progress: Callable[[int], Progress] | None = None,
) -> int:
    """Write the rows; returns how many. `progress` makes a bar for the total, if one is wanted."""
    writer = Writer(out, columns=COLUMNS[request.table], output_format=request.format)
    bar = progress(_count(session_factory, request)) if progress is not None else None
    written = 0
    for page in _pages(session_factory, request):
        for row in page:
            writer.write(row)
        written += len(page)
        if bar is not None:
            bar.advance(len(page))
    if bar is not None:
        bar.finish()
    return written


def _count(session_factory: sessionmaker[Session], request: Request) -> int:
    count = rows.count_items if request.table == "items" else rows.count_events
    with session_factory() as session:
        return count(session=session, window=request.window)


def _pages(session_factory: sessionmaker[Session], request: Request) -> Iterator[list[dict[str, Any]]]:
    if request.table == "items":
        return _paged(session_factory, request.window, rows.items_page, item_row)
    return _paged(session_factory, request.window, rows.events_page, event_row)


def _paged(
    session_factory: sessionmaker[Session],
    window: Window,
    fetch: Callable[..., list[_Record]],
    convert: Callable[[_Record], dict[str, Any]],
) -> Iterator[list[dict[str, Any]]]:
    """Page after page, each read in a session of its own, until there are no more."""
    after = 0
    while True:
        with session_factory() as session:
            records = fetch(session=session, window=window, after=after)
        if not records:
            return
        after = records[-1].id
        yield [convert(record) for record in records]


@contextmanager
def output(path: Path | None) -> Iterator[TextIO]:
    """UTF-8 text to `path` (written to PATH.part and renamed once whole), else to stdout."""
    if path is None:
        with _stdout() as stream:
            yield stream
        return
    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def _stdout() -> Iterator[TextIO]:
    """stdout as UTF-8 with no newline translation, whatever the locale says. A reader that stops
    early (`| head`) ends the export quietly."""
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:
        yield sys.stdout
        return
    sys.stdout.flush()
    stream = io.TextIOWrapper(binary, encoding="utf-8", newline="")
    try:
        yield stream
        stream.flush()
    except BrokenPipeError:
        # Nothing more can reach the reader; leave Python nothing to flush to it at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        stream.detach()
